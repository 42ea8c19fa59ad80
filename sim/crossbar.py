"""Behavioural model of the IMA's analog crossbar macro (system contract, "Analog
crossbar macro boundary").  The RTL's macro port is answered by one instance:

* programming write: ``program(row, col_group, word)`` - 8 x 4-bit weights, busy
  for :attr:`Crossbar.prog_cycles`;
* MVM: ``mvm(x, row_off, n_rows, col_off, n_cols, gain, shift, lo, hi)`` - DAC
  vector in, ADC vector out after :attr:`Crossbar.mvm_cycles`;
* read-back: ``read_word`` / ``read_weight``.

Ideal mode is the golden IMA arithmetic bit for bit (:func:`imcc.sim.golden.ima_pointwise`).
PCM mode computes the same dot product with the devices of :mod:`imcc.sim.pcm`,
expressed on the ideal accumulator's scale, and converts it with the same
ADC rule (drift compensation folded into the gain, optional ADC noise/offset)::

    v = acc_analog * gain * alpha / 2^shift + adc_noise + adc_offset
    y = clip(floor(v + 1/2), lo, hi)

For an exact integer acc_analog, alpha = 1 and no ADC noise this equals
golden requant (floor((acc*gain + 2^(shift-1)) / 2^shift), or acc*gain at shift 0)
exactly in float64, so PCM mode with every noise at zero is bit-exact too.
"""

from __future__ import annotations

import numpy as np

from imcc.gen.config import IMA_WEIGHT_BITS, IMA_WEIGHT_MAX, WORD_BYTES, ClusterConfig, parse_duration
from imcc.sim.golden import INT8, check_ima_weights, requant
from imcc.sim.pcm import PcmArray, PcmParams, Representation

__all__ = ["Crossbar"]

_MASK = (1 << IMA_WEIGHT_BITS) - 1


class Crossbar:
    """One rows x cols crossbar (``cfg.ima``) with the model of ``cfg.crossbar``.

    ``seed``, ``model`` and ``t_inference`` override the configuration.  All random
    draws come from one ``numpy.random.Generator`` seeded once, so the same calls
    with the same seed give the same results."""

    def __init__(self, cfg: ClusterConfig, *, seed: int | None = None, model: str | None = None,
                 t_inference: float | str | None = None):
        xc = cfg.crossbar
        self.cfg = cfg
        self.rows, self.cols = cfg.ima.rows, cfg.ima.cols
        self.model = xc.model if model is None else model
        if self.model not in ("ideal", "pcm"):
            raise ValueError(f"crossbar model must be 'ideal' or 'pcm', got {self.model!r}")
        self.weights_per_write = WORD_BYTES * 8 // IMA_WEIGHT_BITS
        self.mvm_cycles = cfg.macro_cycles(cfg.ima.mvm_ns)
        self.prog_cycles = cfg.macro_cycles(cfg.ima.prog_ns)
        self.w = np.zeros((self.rows, self.cols), np.int8)
        self.stats = {"writes": 0, "mvms": 0, "busy_cycles": 0}
        self.rng = np.random.default_rng(xc.seed if seed is None else seed)
        self.sampling = xc.read_noise_sampling
        self.adc_noise_lsb = xc.adc_noise_lsb
        self.compensation = "none"
        self.t_inference = 0.0
        self.pcm = None
        if self.model == "pcm":
            self.adc_offset = xc.adc_offset_lsb * self.rng.standard_normal(self.cols)
            self.pcm = PcmArray(self.rows, self.cols, Representation.from_config(xc),
                                PcmParams.from_config(xc), self.rng)
        self._state = self._ref = self._alpha = None
        self.set_compensation(xc.drift_compensation)
        self.set_time(xc.t_inference_s if t_inference is None else t_inference)

    # -- programming -------------------------------------------------------------------
    def program(self, row: int, col_group: int, word: int) -> int:
        """Programming write: ``word`` packs the weights of columns col_group*8 .. +7,
        column col_group*8 + i in bits [4i+3:4i] (two's complement).  Returns the
        busy time in cycles."""
        groups = self.cols // self.weights_per_write
        if not (0 <= row < self.rows and 0 <= col_group < groups):
            raise ValueError(f"program at row {row}, column group {col_group} is outside the "
                             f"{self.rows} rows x {groups} groups")
        if not (isinstance(word, (int, np.integer)) and 0 <= word < 1 << (WORD_BYTES * 8)):
            raise ValueError(f"programming word must be an unsigned 32-bit integer, got {word!r}")
        nib = (int(word) >> (IMA_WEIGHT_BITS * np.arange(self.weights_per_write))) & _MASK
        vals = np.where(nib > IMA_WEIGHT_MAX, nib - (1 << IMA_WEIGHT_BITS), nib)
        self._write(check_ima_weights(vals[None, :]), row, col_group * self.weights_per_write)
        self.stats["writes"] += 1
        self.stats["busy_cycles"] += self.prog_cycles
        return self.prog_cycles

    def load(self, weights, row_off: int = 0, col_off: int = 0):
        """BACKDOOR: place ``weights`` (h, w) in -7..7 at (row_off, col_off) at once,
        with the same device draws as programming them word by word, but no
        programming writes and no busy time."""
        w = check_ima_weights(weights)
        if w.ndim != 2:
            raise ValueError(f"weights must be a 2-D array, got shape {w.shape}")
        self._window(row_off, w.shape[0], col_off, w.shape[1])
        self._write(w, row_off, col_off)

    def _write(self, w: np.ndarray, r0: int, c0: int):
        self.w[r0:r0 + w.shape[0], c0:c0 + w.shape[1]] = w
        if self.pcm is not None:
            self.pcm.program(w, r0, c0)
            self._state = self._ref = self._alpha = None   # recalibrate after programming

    def read_weight(self, row: int, col: int) -> int:
        """The level a cell was programmed to (program-and-verify read-back)."""
        self._window(row, 1, col, 1)
        return int(self.w[row, col])

    def read_word(self, row: int, col_group: int) -> int:
        """Read-back in the programming word's packing."""
        c0 = col_group * self.weights_per_write
        self._window(row, 1, c0, self.weights_per_write)
        nib = self.w[row, c0:c0 + self.weights_per_write].astype(np.int64) & _MASK
        return int(np.sum(nib << (IMA_WEIGHT_BITS * np.arange(nib.size))))

    # -- inference-time settings -----------------------------------------------------------
    def set_time(self, t_inference: float | str):
        """Time since programming (seconds, or a string such as '1d')."""
        t = parse_duration("t_inference", t_inference) if isinstance(t_inference, str) \
            else float(t_inference)
        if not (np.isfinite(t) and t >= 0):
            raise ValueError(f"t_inference must be >= 0 seconds, got {t_inference!r}")
        self.t_inference = t
        self._state = self._alpha = None

    def set_compensation(self, mode: str):
        if mode not in ("none", "global", "column"):
            raise ValueError(f"drift compensation must be 'none', 'global' or 'column', got {mode!r}")
        self.compensation = mode
        self._alpha = None

    def _drift_state(self):
        if self._state is None:
            self._state = self.pcm.state(self.t_inference)
        return self._state

    @property
    def alpha(self) -> np.ndarray:
        """Drift-compensation factor per column (folded into the ADC gain).

        Calibration reads every cell once (one-hot rows) right after programming
        (t_inference = 0) and again at the current time; alpha = sum |ref| / sum |now|
        over the programmed cells of the array ('global') or of each column ('column')."""
        if self._alpha is None:
            self._alpha = np.ones(self.cols)
            if self.pcm is not None and self.compensation != "none":
                full = (0, self.rows, 0, self.cols)
                mask = self.pcm.programmed
                if self._ref is None:
                    self._ref = np.abs(self.w + self.pcm.read_cells(self.pcm.state(0.0), *full)) * mask
                now = np.abs(self.w + self.pcm.read_cells(self._drift_state(), *full)) * mask
                ref_sum, now_sum = self._ref.sum(axis=0), now.sum(axis=0)
                if self.compensation == "global":
                    ref_sum, now_sum = ref_sum.sum(keepdims=True), now_sum.sum(keepdims=True)
                ok = now_sum > 0
                self._alpha = np.broadcast_to(
                    np.where(ok, ref_sum / np.where(ok, now_sum, 1.0), 1.0), (self.cols,)).copy()
        return self._alpha

    # -- MVM -------------------------------------------------------------------------------
    def _window(self, r0, nr, c0, nc):
        for name, v in (("row_off", r0), ("n_rows", nr), ("col_off", c0), ("n_cols", nc)):
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool):
                raise ValueError(f"{name} must be an integer, got {v!r}")
        if nr < 1 or nc < 1 or r0 < 0 or c0 < 0 or r0 + nr > self.rows or c0 + nc > self.cols:
            raise ValueError(f"window rows [{r0}, {r0 + nr}) x cols [{c0}, {c0 + nc}) is empty or "
                             f"outside the {self.rows} x {self.cols} crossbar")

    def _inputs(self, x, nr) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind not in "iu" or x.ndim != 2 or x.shape[1] != nr:
            raise ValueError(f"inputs must be integers of shape (N, {nr}), got {x.dtype} {x.shape}")
        if x.size and (x.min() < INT8[0] or x.max() > INT8[1]):
            raise ValueError("DAC inputs must be int8 (-128..127)")
        return x.astype(np.int64)

    def analog_acc(self, x, row_off, n_rows, col_off, n_cols) -> np.ndarray:
        """Accumulators before the ADC, (N, n_cols), in units of the ideal integer one:
        exact int64 in ideal mode, the noisy analog value (float) in PCM mode."""
        self._window(row_off, n_rows, col_off, n_cols)
        x = self._inputs(x, n_rows)
        acc = x @ self.w[row_off:row_off + n_rows, col_off:col_off + n_cols].astype(np.int64)
        if self.pcm is None:
            return acc
        return acc + self.pcm.analog_error(self._drift_state(), x.astype(np.float64), row_off,
                                           n_rows, col_off, n_cols, self.sampling)

    def mvm_batch(self, x, row_off, n_rows, col_off, n_cols, gain, shift, lo=INT8[0],
                  hi=INT8[1]) -> np.ndarray:
        """N MVMs, one per row of x (N, n_rows) int8 -> (N, n_cols) int8; each draws its
        own read and ADC noise."""
        if not (isinstance(gain, (int, np.integer)) and 0 <= gain < 1 << 32):
            raise ValueError(f"gain must be an unsigned 32-bit integer, got {gain!r}")
        if not (isinstance(shift, (int, np.integer)) and 0 <= shift <= 31):
            raise ValueError(f"shift must be an integer from 0 to 31, got {shift!r}")
        if not (INT8[0] <= lo <= hi <= INT8[1]):
            raise ValueError(f"ADC clip range needs -128 <= lo <= hi <= 127, got lo={lo}, hi={hi}")
        alpha = self.alpha   # calibrate first, so a batch draws like the same MVMs one by one
        acc = self.analog_acc(x, row_off, n_rows, col_off, n_cols)
        n = acc.shape[0]
        self.stats["mvms"] += n
        self.stats["busy_cycles"] += n * self.mvm_cycles
        if self.pcm is None:
            return requant(acc, gain, shift, lo, hi).astype(np.int8)
        cols = slice(col_off, col_off + n_cols)
        v = acc * (gain * alpha[cols]) * 2.0 ** -int(shift) + self.adc_offset[cols]
        if self.adc_noise_lsb > 0:
            v += self.adc_noise_lsb * self.rng.standard_normal(v.shape)
        return np.clip(np.floor(v + 0.5), lo, hi).astype(np.int8)

    def mvm(self, x, row_off, n_rows, col_off, n_cols, gain, shift, lo=INT8[0],
            hi=INT8[1]) -> np.ndarray:
        """One analog MVM: x int8 (n_rows,) -> ADC outputs int8 (n_cols,), taking
        :attr:`mvm_cycles` cycles."""
        return self.mvm_batch(np.asarray(x)[None, :], row_off, n_rows, col_off, n_cols, gain,
                              shift, lo, hi)[0]
