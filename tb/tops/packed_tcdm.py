"""TCDM and interconnect with every master port packed into wide vectors.

The cluster's memory system alone (``Cluster`` with no blocks), so every
master of the configuration is driven by the testbench, whatever blocks the
full cluster puts inside later.

A cocotb testbench driving 14 masters then touches 9 handles per cycle
instead of 126: ``m_req`` has bit i for master i, ``m_addr`` bits
[32i, 32i+32) and so on, in ``compose(cfg).masters`` order.  Each peripheral
window is backed by a scratch RAM (a :class:`TcdmSram`) until its real
slave exists, so address decoding and routing into the windows are tested.
The protocol checker of tb/monitors sits on every master port.
"""

from amaranth.hdl import Cat, DomainRenamer, Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from imcc.gen.config import ClusterConfig
from imcc.rtl.cluster import Cluster
from imcc.rtl.tcdm import TcdmSram
from imcc.tb.monitors.tcdm import TcdmPortChecker
from imcc.tb.tops import CLOCK_PORTS, drive_cluster_clock
from imcc.rtl.registry import compose

__all__ = ["PackedTcdm"]

_MASTER_IN = ("req", "addr", "we", "be", "wdata")
_MASTER_OUT = ("gnt", "r_valid", "r_err", "rdata")


class PackedTcdm(wiring.Component):
    def __init__(self, cfg: ClusterConfig):
        self.cfg = cfg
        self._cluster = Cluster(cfg, port_checker=TcdmPortChecker, blocks={})
        n = len(compose(cfg).masters)
        proto = getattr(self._cluster, compose(cfg).masters[0])
        members = dict(CLOCK_PORTS)
        members.update({f"m_{k}": In(len(getattr(proto, k)) * n) for k in _MASTER_IN})
        members.update({f"m_{k}": Out(len(getattr(proto, k)) * n) for k in _MASTER_OUT})
        members.update(chk_fail=Out(1), chk_who=Out(n), chk_kind=Out(TcdmPortChecker.KIND_WIDTH))
        super().__init__(members)

    def wave_groups(self, scope: str, module_ports=None):
        inner = module_ports and (lambda p: module_ports(f"cluster.{p}"))
        return self._cluster.wave_groups(f"{scope}.cluster", inner)

    def elaborate(self, platform):
        m = Module()
        m.submodules.cluster = c = self._cluster
        tb = drive_cluster_clock(m, self, c)
        ports = [getattr(c, name) for name in compose(self.cfg).masters]
        for k in _MASTER_IN:
            w = len(getattr(ports[0], k))
            m.d.comb += [getattr(p, k).eq(getattr(self, f"m_{k}")[i * w:(i + 1) * w])
                         for i, p in enumerate(ports)]
        for k in _MASTER_OUT:
            m.d.comb += getattr(self, f"m_{k}").eq(Cat(getattr(p, k) for p in ports))
        m.d.comb += [self.chk_fail.eq(c.chk_fail), self.chk_who.eq(c.chk_who),
                     self.chk_kind.eq(c.chk_kind)]
        words = self.cfg.interconnect.periph_window_kib * 1024 // 4
        windows = [(f"periph_{s}", words) for s in compose(self.cfg).periph_slaves]
        windows += [(f"mem_{w.name}", w.size // 4) for w in compose(self.cfg).memory_windows]
        for name, words in windows:
            tgt = getattr(c, name)
            ram = TcdmSram(words)
            m.submodules[f"scratch_{name}"] = DomainRenamer(tb)(ram)
            m.d.comb += [ram.req.eq(tgt.req), ram.we.eq(tgt.we), ram.addr.eq(tgt.addr[2:]),
                         ram.be.eq(tgt.be), ram.wdata.eq(tgt.wdata),
                         tgt.rdata.eq(ram.rdata), tgt.r_err.eq(0)]
        return m
