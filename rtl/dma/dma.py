"""The cluster DMA as a cluster block: the register front-end (after PULP's
iDMA: source, destination, length, 2-D strides and repetitions, a read to
launch that returns a transfer id), a queue of checked transfers and the
:class:`~imcc.rtl.dma.mover.Mover` with its TCDM masters and its AXI4 manager
port to the SoC's L2, which the cluster lifts to its top (``dma_axi__*``).

docs/dma.md describes the programming model; docs/dma-registers.md (generated
from :data:`DMA_REGS`) the registers.
"""

from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFO
from amaranth.lib.wiring import In, Out

from imcc.gen.config import ClusterConfig
from ..block import ClusterBlock
from ..interconnect.protocol import TargetSignature, TcdmSignature
from ..soc.axi import AxiSignature
from .mover import Descriptor, Mover
from .regs import DMA_REGS

__all__ = ["Dma"]

ERR = {n: v for n, v, _ in DMA_REGS.constants["ERR"]}


class Dma(wiring.Component, ClusterBlock):
    """Parameters
    ----------
    cfg : ClusterConfig
    name : str
        The instance name (its window and events).
    masters : list of str
        Its TCDM master names (``dma0..``).

    Members
    -------
    ctrl : In(TargetSignature)
        The register window.
    axi : Out(AxiSignature)
        The AXI4 manager port to L2 (lifted as ``<name>_axi``).
    evt_done, evt_error : Out(1)
        A transfer ended (``evt_error`` with it when it failed), or a launch
        was refused (both).
    """

    external = ("axi", "evt_done", "evt_error")
    wave_parts = {"mover": "mover", "byte queue": "mover.fifo"}

    def __init__(self, cfg: ClusterConfig, name: str = "dma", masters: list[str] | None = None):
        self.cfg, self.name, self.ctrl_window = cfg, name, name
        dma = cfg.dma
        self.master_names = masters or [f"dma{i}" for i in range(dma.ports)]
        self.window_bits = (cfg.interconnect.periph_window_kib * 1024).bit_length() - 1
        members = {"ctrl": In(TargetSignature(self.window_bits)),
                   "axi": Out(AxiSignature(data_width=dma.data_width, id_width=dma.id_width)),
                   "evt_done": Out(1), "evt_error": Out(1)}
        members.update({n: Out(TcdmSignature()) for n in self.master_names})
        super().__init__(members)
        self._quiet = Signal(name=f"{name}_quiet")
        self._act = {"busy": Signal(name=f"{name}_act_busy"),
                     "bytes": Signal(8, name=f"{name}_act_bytes")}
        self._count = Signal(16, name=f"{name}_job_count")

    def tcdm_masters(self) -> dict:
        return {n: getattr(self, n) for n in self.master_names}

    def events(self) -> dict:
        return {f"{self.name}_done": self.evt_done, f"{self.name}_error": self.evt_error}

    def quiet(self):
        return self._quiet

    def job_count(self):
        """DONE_ID: HWPE job waits on a transfer compare against its id."""
        return self._count

    def activity(self) -> dict:
        return self._act

    def _check(self, m, src, dst, nbytes, two_d, reps, sstr, dstr):
        """(error code, to_l2, rows, strides) of a launch: the first and the last
        row of each side (rows move linearly) inside the TCDM or L2, computed
        wide so that no address wraps past 4 GiB."""
        cfg = self.cfg
        rows = Signal(16, name="chk_rows")
        m.d.comb += rows.eq(Mux(two_d, reps, 1))
        zero = (nbytes == 0) | (two_d & (reps == 0))

        def inside(base, size, first, stride, name):
            last = Signal(range(-2**50, 2**50), name=f"chk_{name}_last")
            m.d.comb += last.eq(first + (rows - 1) * Mux(two_d, stride, 0))
            lo = Mux(last < first, last, first)
            hi = Mux(last < first, first, last)
            return (lo >= base) & (hi + nbytes <= base + size)

        t, l2 = cfg.tcdm, cfg.l2
        src_tcdm = inside(t.base, t.size_bytes, src, sstr.as_signed(), "src_tcdm")
        src_l2 = inside(l2.base, l2.size_bytes, src, sstr.as_signed(), "src_l2")
        dst_tcdm = inside(t.base, t.size_bytes, dst, dstr.as_signed(), "dst_tcdm")
        dst_l2 = inside(l2.base, l2.size_bytes, dst, dstr.as_signed(), "dst_l2")
        to_l2 = Signal(name="chk_to_l2")
        m.d.comb += to_l2.eq(src_tcdm & dst_l2)
        ok_dir = (src_tcdm & dst_l2) | (src_l2 & dst_tcdm)
        err = Signal(8, name="chk_error")
        m.d.comb += err.eq(Mux(zero, ERR["ZERO"], Mux(ok_dir, ERR["OK"], ERR["ADDRESS"])))
        return err, to_l2, rows

    def elaborate(self, platform):
        m = Module()
        cfg, rm, c = self.cfg, DMA_REGS, self.ctrl
        dma = cfg.dma
        m.submodules.mover = mover = Mover(ports=dma.ports, data_width=dma.data_width,
                                           id_width=dma.id_width, max_burst=dma.max_burst,
                                           outstanding=dma.outstanding)
        m.submodules.queue = queue = SyncFIFO(width=Descriptor.as_shape().size, depth=dma.queue)
        wiring.connect(m, mover.axi, wiring.flipped(self.axi))
        for i, n in enumerate(self.master_names):
            wiring.connect(m, mover.ports[i], wiring.flipped(getattr(self, n)))

        # -- registers ---------------------------------------------------------------------------
        regs = {r.name: Signal(32, name=r.name.lower()) for r in rm.registers if r.access == "rw"}
        next_id = Signal(16, init=1, name="next_id")
        done_id = Signal(16, name="done_id")
        error = Signal(8, name="error")
        error_id = Signal(16, name="error_id")
        two_d = regs["CONF"][rm["CONF"].field("TWO_D").lsb]
        reps = regs["NUM_REPS"][:16]
        err, to_l2, rows = self._check(m, regs["SRC_ADDR"], regs["DST_ADDR"], regs["NUM_BYTES"],
                                       two_d, reps, regs["SRC_STRIDE"], regs["DST_STRIDE"])
        full = Signal(name="queue_full")
        m.d.comb += full.eq(~queue.w_rdy)
        running = mover.busy
        queued = Signal(range(dma.queue + 2), name="queued")
        m.d.comb += queued.eq(queue.r_level + running)

        rdata = Signal(32, name="rdata_next")
        bus_err = Signal(name="err_next")
        be_mask = Cat(c.be[i].replicate(8) for i in range(4))
        launch = Signal(name="launch")
        refuse = Signal(name="refuse")      # a bad transfer (not a full queue)
        offset = Signal(len(c.addr) - 2, name="word_offset")
        m.d.comb += offset.eq(c.addr[2:])
        with m.Switch(offset):
            for r in rm.registers:
                with m.Case(r.offset // 4):
                    if r.access == "rw":
                        reg = regs[r.name]
                        m.d.comb += rdata.eq(reg)
                        with m.If(c.req & c.we):
                            m.d.sync += reg.eq((reg & ~be_mask) | (c.wdata & be_mask))
                    else:
                        m.d.comb += bus_err.eq(c.we)
                    if r.name == "NEXT_ID":
                        with m.If(c.req & ~c.we):
                            with m.If(err != ERR["OK"]):
                                m.d.comb += refuse.eq(1)
                            with m.Elif(~full):
                                m.d.comb += [launch.eq(1), rdata.eq(next_id)]
                    elif r.name == "DONE_ID":
                        m.d.comb += rdata.eq(done_id)
                    elif r.name == "STATUS":
                        st = rm["STATUS"]
                        fields = {"BUSY": queued != 0, "QUEUED": queued, "FULL": full,
                                  "ERROR": error, "ERROR_ID": error_id}
                        m.d.comb += rdata.eq(sum((v.as_unsigned() if hasattr(v, "as_unsigned")
                                                  else v) << st.field(k).lsb
                                                 for k, v in fields.items()))
            with m.Default():
                m.d.comb += bus_err.eq(1)
        resp_data, resp_err = Signal(32, name="resp_rdata"), Signal(name="resp_err")
        m.d.sync += [resp_data.eq(Mux(c.req, rdata, 0)), resp_err.eq(c.req & bus_err)]
        m.d.comb += [c.rdata.eq(resp_data), c.r_err.eq(resp_err)]

        # -- launch: a checked descriptor into the queue -----------------------------------------
        desc = Signal(Descriptor, name="launch_desc")
        m.d.comb += [desc.id.eq(next_id), desc.to_l2.eq(to_l2), desc.src.eq(regs["SRC_ADDR"]),
                     desc.dst.eq(regs["DST_ADDR"]), desc.nbytes.eq(regs["NUM_BYTES"]),
                     desc.rows.eq(rows),
                     desc.src_stride.eq(Mux(two_d, regs["SRC_STRIDE"], 0)),
                     desc.dst_stride.eq(Mux(two_d, regs["DST_STRIDE"], 0)),
                     queue.w_data.eq(desc), queue.w_en.eq(launch)]
        with m.If(launch):
            m.d.sync += next_id.eq(Mux(next_id == 0xFFFF, 1, next_id + 1))
        with m.If(refuse):
            m.d.sync += [error.eq(err), error_id.eq(0)]

        # -- the queue feeds the mover ------------------------------------------------------------
        m.d.comb += [mover.desc.eq(queue.r_data), mover.start.eq(queue.r_rdy & ~running),
                     queue.r_en.eq(queue.r_rdy & ~running)]
        run_id = Signal(16, name="running_id")
        with m.If(mover.start):
            m.d.sync += run_id.eq(mover.desc.id)
        with m.If(mover.done):
            m.d.sync += done_id.eq(run_id)
            with m.If(mover.error & ~refuse):
                m.d.sync += [error.eq(ERR["AXI"]), error_id.eq(run_id)]

        # Events: a registered pulse per transfer end or refused launch.
        m.d.sync += [self.evt_done.eq(mover.done | refuse),
                     self.evt_error.eq((mover.done & mover.error) | refuse)]
        m.d.comb += [self._act["busy"].eq(queued != 0), self._act["bytes"].eq(mover.moved)]
        m.d.comb += self._quiet.eq(~running & ~queue.r_rdy & ~self.evt_done)
        m.d.comb += self._count.eq(done_id)
        return m
