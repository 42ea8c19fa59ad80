"""The cluster with the IMA inside, for the IMA testbenches.

Every block of the configuration except the cores, with the TCDM protocol
checker on every master port.  ``core0`` stays a master port on the top
level: the testbench's register-access master (tb/bus/tcdm_master.py).  The
other core ports are driven by hardware traffic generators (reads of random
TCDM words, switched on with ``noise_en``), so the IMA's data ports meet bank
conflicts without waking Python.  The macro port and the IMA events are
lifted; every other input of the cluster (the AXI port, windows no block
answers) is tied to zero.
"""

from amaranth.hdl import Cat, Const, DomainRenamer, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from imcc.gen.config import ClusterConfig
from imcc.rtl.cluster import Cluster
from imcc.rtl.registry import cluster_blocks
from imcc.rtl.interconnect.protocol import TcdmSignature
from imcc.tb.monitors.tcdm import TcdmPortChecker
from imcc.tb.tops import CLOCK_PORTS, drive_cluster_clock, pass_through

__all__ = ["ImaCluster", "TrafficNoise"]

KEEP = ("core0", "ima_macro", "ima_evt_done", "ima_evt_error", "chk_fail", "chk_who", "chk_kind")


class TrafficNoise(wiring.Component):
    """A TCDM master that reads LFSR-random words of the TCDM about half the
    cycles ``enable`` is high, holding each request until granted."""

    def __init__(self, cfg: ClusterConfig, seed: int):
        self.cfg, self.seed = cfg, seed
        super().__init__({"bus": Out(TcdmSignature()), "enable": In(1)})

    def elaborate(self, platform):
        m = Module()
        t = self.cfg.tcdm
        lfsr = Signal(32, init=(self.seed * 0x9E3779B1) & 0xFFFF_FFFF or 1)
        # Galois LFSR x^32 + x^22 + x^2 + x + 1
        m.d.sync += lfsr.eq(Cat(lfsr[1:], Const(0, 1)) ^ (lfsr[0].replicate(32) & 0x80200003))
        words = t.size_bytes // 4
        bits = (words - 1).bit_length()
        pending = Signal()
        addr = Signal(32)
        b = self.bus
        m.d.comb += [b.req.eq(pending), b.addr.eq(addr), b.we.eq(0), b.be.eq(0xF)]
        with m.If(pending & b.gnt):
            m.d.sync += pending.eq(0)
        with m.If((~pending | b.gnt) & self.enable & lfsr[31]):
            word = lfsr[:bits] if (1 << bits) == words else lfsr[:bits] % words
            m.d.sync += [pending.eq(1), addr.eq(t.base + (word << 2))]
        return m


class ImaCluster(wiring.Component):
    def __init__(self, cfg: ClusterConfig):
        self.cfg = cfg
        # The cores stay out: their master ports are driven from here.
        self._cluster = c = Cluster(cfg, port_checker=TcdmPortChecker,
                                    blocks=cluster_blocks(cfg, skip=("cores",)))
        self.noise_masters = [n for n in c.external_masters if n.startswith("core") and n != "core0"]
        members = dict(CLOCK_PORTS)
        members.update({k: c.signature.members[k] for k in KEEP})
        members["noise_en"] = In(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.cluster = c = self._cluster
        tb = drive_cluster_clock(m, self, c)
        pass_through(m, self, c, KEEP)
        for i, name in enumerate(self.noise_masters):
            gen = TrafficNoise(self.cfg, seed=i + 1)
            m.submodules[f"noise_{name}"] = DomainRenamer(tb)(gen)
            m.d.comb += gen.enable.eq(self.noise_en)
            wiring.connect(m, gen.bus, getattr(c, name))
        driven = set(KEEP) | set(self.noise_masters) | {"clk", "rst"}
        # flatten() gives members (In(1), ...), not flows: compare the member's flow.
        for path, member, value in c.signature.flatten(c):
            if path[0] not in driven and member.flow == In:
                m.d.comb += value.eq(0)
        return m
