"""The cluster top: TCDM banks behind the logarithmic interconnect.

Master ports (cores, accelerator data ports, SoC lanes) and the peripheral
windows appear on the top level as their blocks are not yet inside; each
later block moves its ports inside without touching the interconnect, since
the master and slave lists come from the configuration.
"""

from amaranth.hdl import Module, Signal, Cat
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from imcc.gen.config import ClusterConfig
from .interconnect import Interconnect, TcdmSignature, TargetSignature
from .tcdm import TcdmBank

__all__ = ["Cluster"]


class Cluster(wiring.Component):
    """``port_checker``: optional factory ``f(name) -> checker`` (testbenches pass
    the protocol checker of tb/monitors); each master port then gets one, and
    the top level gains a sticky report of the first violation: ``chk_fail``
    rises, ``chk_who`` has one bit per failing master and ``chk_kind`` the
    rule code, so a testbench waits on one edge instead of sampling every cycle.

    ``sram_macros=False`` inlines the bank SRAMs (for amaranth.sim)."""

    def __init__(self, cfg: ClusterConfig, *, port_checker=None, sram_macros: bool = True):
        self.cfg = cfg
        self.sram_macros = sram_macros
        self.port_checker = port_checker
        self.master_names = cfg.tcdm_masters()
        members = {name: In(TcdmSignature()) for name in self.master_names}
        window_bits = (cfg.interconnect.periph_window_kib * 1024).bit_length() - 1
        for s in cfg.periph_slaves():
            members[f"periph_{s}"] = Out(TargetSignature(window_bits))
        if port_checker is not None:
            members["chk_fail"] = Out(1)
            members["chk_who"] = Out(len(self.master_names))
            members["chk_kind"] = Out(port_checker.KIND_WIDTH)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        m.submodules.interconnect = ic = Interconnect(cfg)
        for k in range(cfg.tcdm.banks):
            bank = TcdmBank(cfg.tcdm.bank_words, macro=self.sram_macros)
            m.submodules[f"bank{k}"] = bank
            wiring.connect(m, ic.banks[k], bank.port)
        for name in self.master_names:
            wiring.connect(m, wiring.flipped(getattr(self, name)), getattr(ic, name))
        for s in cfg.periph_slaves():
            wiring.connect(m, getattr(ic, f"periph_{s}"),
                           wiring.flipped(getattr(self, f"periph_{s}")))
        if self.port_checker is not None:
            errors, kinds = [], []
            for name in self.master_names:
                chk = self.port_checker(name)
                m.submodules[f"chk_{name}"] = chk
                chk.observe(m, getattr(self, name))
                errors.append(chk.error)
                kinds.append(chk.kind)
            kind = Signal.like(self.chk_kind, name="chk_kind_now")
            for err, k in reversed(list(zip(errors, kinds))):
                with m.If(err):
                    m.d.comb += kind.eq(k)   # the lowest failing master's rule
            with m.If(~self.chk_fail & Cat(errors).any()):
                m.d.sync += [self.chk_fail.eq(1), self.chk_who.eq(Cat(errors)),
                             self.chk_kind.eq(kind)]
        return m
