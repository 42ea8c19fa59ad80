"""Logarithmic interconnect: N named masters onto the TCDM banks and the
peripheral windows, one cycle, per-target round-robin, bus errors for holes.

Every master decodes its address into one target: a bank (word-interleaved:
word address modulo the number of banks), a peripheral slave (one window
each, in configuration order) or nothing.  Each target has its own
round-robin arbiter, so a master's grant is combinational; the granted
target answers one cycle later and the response is steered back by the
target index registered at grant time.  An address that decodes to nothing
is granted at once and answered with ``r_err`` one cycle later, so an
unmapped access never hangs.
"""

from amaranth.hdl import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2, exact_log2

from imcc.gen.config import ClusterConfig
from .arbiter import RoundRobinArbiter
from .protocol import TcdmSignature, TargetSignature

__all__ = ["Interconnect", "in_window"]


class Interconnect(wiring.Component):
    """Members: one ``In(TcdmSignature())`` per master name (``core0``, ``hwpe0``,
    ``soc0``, ...), ``banks`` (``Out(TargetSignature)`` array), one
    ``periph_<name>`` target per peripheral slave and one ``mem_<name>`` target
    per memory window (e.g. the instruction memory).

    ``comp``: the cluster's :class:`~imcc.rtl.registry.Composition` (masters,
    peripheral slaves, memory windows); ``masters`` replaces its master list."""

    def __init__(self, cfg: ClusterConfig, comp, masters: list[str] | None = None):
        self.cfg = cfg
        self.master_names = list(comp.masters if masters is None else masters)
        self.slave_names = list(comp.periph_slaves)
        self.mem_windows = list(comp.memory_windows)
        t, ic = cfg.tcdm, cfg.interconnect
        self.bank_bits = exact_log2(t.banks)
        self.bank_addr_width = max(1, ceil_log2(t.bank_words))
        self.window_bytes = ic.periph_window_kib * 1024
        members = {name: In(TcdmSignature()) for name in self.master_names}
        members["banks"] = Out(TargetSignature(self.bank_addr_width)).array(t.banks)
        for s in self.slave_names:
            members[f"periph_{s}"] = Out(TargetSignature(exact_log2(self.window_bytes)))
        for w in self.mem_windows:
            members[f"mem_{w.name}"] = Out(TargetSignature(exact_log2(w.size)))
        members["quiet"] = Out(1)       # no master requests (the cluster's clock gate)
        super().__init__(members)

    @property
    def targets(self):
        return (list(self.banks) + [getattr(self, f"periph_{s}") for s in self.slave_names]
                + [getattr(self, f"mem_{w.name}") for w in self.mem_windows])

    def elaborate(self, platform):
        m = Module()
        cfg = self.cfg
        t, ic = cfg.tcdm, cfg.interconnect
        masters = [getattr(self, n) for n in self.master_names]
        targets = self.targets
        n_m, n_t = len(masters), len(targets)
        n_banks = t.banks

        # ---- decode: one-hot target request per master -----------------------------
        sel = []          # sel[i][k]: master i requests target k
        hole = []         # master i requests an unmapped address
        local_bank = []   # bank-local word index of master i's address
        local_periph = []
        local_mem = [[] for _ in self.mem_windows]
        n_periph = len(self.slave_names)
        for i, (name, p) in enumerate(zip(self.master_names, masters)):
            in_tcdm = Signal(name=f"{name}_in_tcdm")
            m.d.comb += in_tcdm.eq(in_window(p.addr, t.base, t.size_bytes))
            offset = Signal(32, name=f"{name}_tcdm_offset")
            m.d.comb += offset.eq(p.addr - t.base)
            bank = p.addr[2:2 + self.bank_bits] if self.bank_bits else Const(0, 1)
            lb = Signal(self.bank_addr_width, name=f"{name}_bank_word")
            m.d.comb += lb.eq(offset[2 + self.bank_bits:])
            local_bank.append(lb)

            win_bits = exact_log2(self.window_bytes)
            poff = Signal(32, name=f"{name}_periph_offset")
            m.d.comb += poff.eq(p.addr - ic.periph_base)
            in_periph = Signal(name=f"{name}_in_periph")
            span = len(self.slave_names) * self.window_bytes
            m.d.comb += in_periph.eq(_at_or_above(p.addr, ic.periph_base) & (poff < span))
            slave = poff[win_bits:]
            local_periph.append(poff[:win_bits])

            in_mem = []
            for j, w in enumerate(self.mem_windows):
                moff = Signal(32, name=f"{name}_{w.name}_offset")
                hit = Signal(name=f"{name}_in_{w.name}")
                m.d.comb += [moff.eq(p.addr - w.base), hit.eq(_at_or_above(p.addr, w.base) & (moff < w.size))]
                local_mem[j].append(moff[:exact_log2(w.size)])
                in_mem.append(hit)

            row = Signal(n_t, name=f"{name}_target")
            for k in range(n_t):
                if k < n_banks:
                    m.d.comb += row[k].eq(p.req & in_tcdm & (bank == k))
                elif k < n_banks + n_periph:
                    m.d.comb += row[k].eq(p.req & in_periph & (slave == k - n_banks))
                else:
                    m.d.comb += row[k].eq(p.req & in_mem[k - n_banks - n_periph])
            h = Signal(name=f"{name}_unmapped")
            m.d.comb += h.eq(p.req & ~in_tcdm & ~in_periph & ~Cat(*in_mem).any())
            sel.append(row)
            hole.append(h)

        m.d.comb += self.quiet.eq(~Cat(p.req for p in masters).any())

        # ---- per-target arbitration and payload mux ----------------------------------
        m_idx = max(1, ceil_log2(n_m))
        grant = [[None] * n_t for _ in range(n_m)]
        for k, tgt in enumerate(targets):
            tname = (f"bank{k}" if k < n_banks else f"periph_{self.slave_names[k - n_banks]}"
                     if k < n_banks + n_periph
                     else f"mem_{self.mem_windows[k - n_banks - n_periph].name}")
            arb = RoundRobinArbiter(n_m)
            m.submodules[f"arb_{tname}"] = arb
            m.d.comb += arb.requests.eq(Cat(sel[i][k] for i in range(n_m)))
            tgrant = Signal(n_m, name=f"{tname}_grant")
            winner = Signal(m_idx, name=f"{tname}_winner")
            m.d.comb += tgrant.eq(arb.grant)
            for i in range(n_m):
                grant[i][k] = tgrant[i]
            m.d.comb += winner.eq(_encode_onehot(tgrant))
            local = (local_bank if k < n_banks else local_periph if k < n_banks + n_periph
                     else local_mem[k - n_banks - n_periph])
            m.d.comb += [
                tgt.req.eq(tgrant.any()),
                tgt.addr.eq(_select(local, winner)),
                tgt.we.eq(_select([p.we for p in masters], winner)),
                tgt.be.eq(_select([p.be for p in masters], winner)),
                tgt.wdata.eq(_select([p.wdata for p in masters], winner)),
            ]

        # ---- grant and response per master -------------------------------------------
        idx_width = max(1, ceil_log2(n_t))
        for i, (name, p) in enumerate(zip(self.master_names, masters)):
            g = Cat(grant[i][k] for k in range(n_t))
            m.d.comb += p.gnt.eq(g.any() | hole[i])
            # Registered at grant time: who answers next cycle.
            resp_valid = Signal(name=f"{name}_resp_valid")
            resp_hole = Signal(name=f"{name}_resp_unmapped")
            resp_target = Signal(idx_width, name=f"{name}_resp_target")
            m.d.sync += [resp_valid.eq(g.any() | hole[i]), resp_hole.eq(hole[i])]
            with m.If(g.any()):
                m.d.sync += resp_target.eq(_encode_onehot(g))
            m.d.comb += [
                p.r_valid.eq(resp_valid),
                p.r_err.eq(resp_valid & (resp_hole | (~resp_hole & _select([tg.r_err for tg in targets], resp_target)))),
                p.rdata.eq(Mux(resp_valid & ~resp_hole, _select([tg.rdata for tg in targets], resp_target), 0)),
            ]
        return m



def _select(values, index):
    """``values[index]`` as a mux whose case list is complete: the list is padded
    to a power of two with its last value, so no index leaves it undefined."""
    values = list(values)
    values += [values[-1]] * ((1 << len(index)) - len(values))
    return Array(values)[index]


def _encode_onehot(onehot):
    """Index of the set bit of a one-hot vector as an OR tree per index bit
    (logarithmic depth, unlike a priority chain)."""
    n = len(onehot)
    width = max(1, ceil_log2(n))
    return Cat(Cat(onehot[i] for i in range(n) if i >> b & 1).any() if any(i >> b & 1 for i in range(n))
               else Const(0, 1) for b in range(width))


# A window at address 0 or ending at 4 GiB: the bound holds for every address,
# and Verilog's constant comparison (addr >= 0) fails lint (UNSIGNED).
def _at_or_above(addr, base: int):
    return addr >= base if base else Const(1, 1)


def _below(addr, end: int):
    return addr < end if end < 2 ** len(addr) else Const(1, 1)


def in_window(addr, base: int, size: int):
    """``base <= addr < base + size``, without comparisons that always hold."""
    return _at_or_above(addr, base) & _below(addr, base + size)
