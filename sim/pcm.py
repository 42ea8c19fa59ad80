"""Statistical PCM device model and a programmed PCM array.

Equations and constants are those of shared/reference/pcm-model.md (IBM's
``PCMLikeNoiseModel``; Joshi et al. 2020, Nandakumar et al. 2019); docs/models.md
restates them.  Conductances are in uS, times in s.  Each function takes its
standard-normal draws ``z`` as an argument, so the statistics can be tested on
their own and every draw comes from the one seeded generator of the caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from imcc.gen.config import IMA_WEIGHT_MAX, CrossbarConfig

__all__ = [
    "T0_S", "T_READ_S", "PcmParams", "prog_sigma", "program", "drift_mu_sigma",
    "drift_exponent", "drift_factor", "read_q", "read_sigma", "read", "censored_moments",
    "Representation", "DriftState", "PcmArray",
]

T0_S = 20.0                              # drift reference time t0
T_READ_S = 250e-9                        # read duration in the 1/f noise term
PROG_COEFF = (0.26348, 1.9650, -1.1731)  # sigma_p polynomial in x = g_T / gmax (at gmax = 25)
NU_MU = (-0.0155, 0.0244, 0.049, 0.1)    # mu = clip(a ln x + b, lo, hi)
NU_S = (-0.0125, -0.0059, 0.008, 0.045)  # s  = clip(a ln x + b, lo, hi)
X_MIN = 1e-7                             # floor of x in the drift-exponent logarithm
READ_Q = (0.0088, 0.65, 1e-3, 0.2)       # Q_s = min(c / max(x^e, floor), cap)


@dataclass(frozen=True)
class PcmParams:
    gmax: float = 25.0
    gmin: float = 0.0
    prog_noise_scale: float = 1.0
    read_noise_scale: float = 1.0
    drift_scale: float = 1.0
    t0: float = T0_S
    t_read: float = T_READ_S

    @classmethod
    def from_config(cls, xc: CrossbarConfig) -> "PcmParams":
        return cls(xc.gmax_us, xc.gmin_us, xc.prog_noise_scale, xc.read_noise_scale,
                   xc.drift_scale)


def prog_sigma(g_target, p: PcmParams) -> np.ndarray:
    """sigma_p = (c0 + c1 x + c2 x^2) * gmax / 25, x = g_T / gmax (times prog_noise_scale)."""
    x = np.asarray(g_target, np.float64) / p.gmax
    c0, c1, c2 = PROG_COEFF
    return (c0 + c1 * x + c2 * x * x) * (p.gmax / 25.0) * p.prog_noise_scale


def program(g_target, z, p: PcmParams) -> np.ndarray:
    """g_prog = max(g_T + sigma_p z, 0): programming noise, drawn once per device."""
    return np.maximum(g_target + prog_sigma(g_target, p) * z, 0.0)


def drift_mu_sigma(g_target, p: PcmParams):
    """Mean and spread of the drift exponent for target conductance g_T."""
    lx = np.log(np.maximum(np.abs(np.asarray(g_target, np.float64) / p.gmax), X_MIN))
    mu = np.clip(NU_MU[0] * lx + NU_MU[1], NU_MU[2], NU_MU[3])
    s = np.clip(NU_S[0] * lx + NU_S[1], NU_S[2], NU_S[3])
    return mu, s


def drift_exponent(g_target, z, p: PcmParams) -> np.ndarray:
    """nu = |mu + s z| (times drift_scale), drawn once per device at programming."""
    mu, s = drift_mu_sigma(g_target, p)
    return np.abs(mu + s * z) * p.drift_scale


def drift_factor(nu, t_inference: float, p: PcmParams) -> np.ndarray:
    """g(t) / g_prog = (t / t0)^-nu with t = t_inference + t0."""
    return np.exp(-np.asarray(nu, np.float64) * math.log((t_inference + p.t0) / p.t0))


def read_q(g_prog, p: PcmParams) -> np.ndarray:
    """Q_s = min(0.0088 / max((g_prog / gmax)^0.65, 1e-3), 0.2)."""
    c, e, floor, cap = READ_Q
    return np.minimum(c / np.maximum((np.asarray(g_prog, np.float64) / p.gmax) ** e, floor), cap)


def read_sigma(g_drift, g_prog, t_inference: float, p: PcmParams, q=None) -> np.ndarray:
    """Std of the 1/f read noise: |g(t)| Q_s sqrt(ln((t + t_read) / (2 t_read))), t = t_inf + t0.
    ``q`` passes a precomputed :func:`read_q` of ``g_prog``."""
    t = t_inference + p.t0
    q = read_q(g_prog, p) if q is None else q
    return np.abs(g_drift) * q * (math.sqrt(math.log((t + p.t_read) / (2 * p.t_read)))
                                  * p.read_noise_scale)


def read(g_drift, sigma, z) -> np.ndarray:
    """g_read = max(g(t) + sigma z, 0): one read, fresh noise every time."""
    return np.maximum(g_drift + sigma * z, 0.0)


_ERFC_C = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807,
           -1.13520398, 1.48851587, -0.82215223, 0.17087277)


def _erfc(x: np.ndarray) -> np.ndarray:
    """erfc for x >= 0, Chebyshev fit with relative error < 1.2e-7 (Numerical Recipes'
    erfcc): vectorised, as numpy has no erfc."""
    t = 1.0 / (1.0 + 0.5 * x)
    poly = np.full_like(t, _ERFC_C[-1])
    for c in _ERFC_C[-2::-1]:
        poly = poly * t + c
    return t * np.exp(-x * x + poly)


def censored_moments(g, sigma):
    """Mean and variance of d = max(sigma z, -g) = read(g, sigma, z) - g, z ~ N(0, 1).

    With a = g / sigma: E d = sigma (phi(a) - a Phi(-a)),
    E d^2 = sigma^2 (a^2 Phi(-a) - a phi(a) + Phi(a)).  Exact moments of the
    per-device read deviation, used by the per-column sampling."""
    g, sigma = np.broadcast_arrays(np.asarray(g, np.float64), np.asarray(sigma, np.float64))
    mean, var = np.zeros(g.shape), np.array(sigma * sigma)
    near = (sigma > 0) & (g < 8.0 * sigma)          # beyond 8 sigma the clip is below 1e-15
    if near.any():
        s, a = sigma[near], g[near] / sigma[near]
        tail = 0.5 * _erfc(a / math.sqrt(2.0))                     # Phi(-a)
        pdf = np.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
        m1 = pdf - a * tail
        m2 = a * a * tail - a * pdf + (1.0 - tail)
        mean[near] = s * m1
        var[near] = s * s * np.maximum(m2 - m1 * m1, 0.0)
    return mean, var


@dataclass(frozen=True)
class Representation:
    """How one integer weight maps onto differential pairs of PCM devices.

    Pair k (most significant first) stores a signed digit d_k in
    -(levels_k - 1)..(levels_k - 1) (positive part on G+, negative part on G-,
    device level j at gmin + j * (gmax - gmin) / (levels_k - 1)); the periphery
    weighs pair k by ``significance[k]``, so w = sum_k significance_k * d_k."""

    kind: str
    levels: tuple[int, ...]
    significance: tuple[float, ...]

    @classmethod
    def from_config(cls, xc: CrossbarConfig) -> "Representation":
        n = xc.pairs
        if xc.representation == "differential":
            # every pair holds the whole weight; the pairs' currents are averaged
            return cls("differential", (IMA_WEIGHT_MAX + 1,) * n, (1.0 / n,) * n)
        nb = xc.hybrid_binary_pairs
        return cls("hybrid", (2,) * nb + (xc.hybrid_levels,) * (n - nb),
                   (float(xc.hybrid_significance),) * nb + (1.0,) * (n - nb))

    @property
    def pairs(self) -> int:
        return len(self.levels)

    @property
    def devices_per_weight(self) -> int:
        return 2 * self.pairs

    def digits(self, w) -> np.ndarray:
        """Signed digits (pairs, *w.shape); hybrid: binary pairs first, as many as fit."""
        w = np.asarray(w, np.int64)
        if self.kind == "differential":
            return np.broadcast_to(w, (self.pairs,) + w.shape).copy()
        sign, rest = np.sign(w), np.abs(w)
        out = np.empty((self.pairs,) + w.shape, np.int64)
        for k, (lv, sig) in enumerate(zip(self.levels, self.significance)):
            step = int(sig)
            take = np.minimum(rest // step, lv - 1)
            rest = rest - take * step
            out[k] = sign * take
        if np.any(rest):
            raise ValueError(f"{self} cannot represent weights {np.unique(w[rest != 0])}")
        return out

    def steps(self, p: PcmParams) -> np.ndarray:
        """Conductance per digit step of each pair (uS): (gmax - gmin) / (levels - 1)."""
        return (p.gmax - p.gmin) / (np.asarray(self.levels, np.float64) - 1)

    def coef(self, p: PcmParams) -> np.ndarray:
        """Weight units per uS of (G+ - G-) for each pair: significance / step."""
        return np.asarray(self.significance) / self.steps(p)

    def targets(self, w, p: PcmParams) -> np.ndarray:
        """Target conductances (pairs, 2, *w.shape): [:, 0] is G+, [:, 1] is G-."""
        d = self.digits(w)
        step = self.steps(p).reshape((-1,) + (1,) * np.ndim(w))
        return p.gmin + step[:, None] * np.stack([np.maximum(d, 0), np.maximum(-d, 0)], axis=1)


@dataclass
class DriftState:
    """The array at one inference time: drifted conductances, read-noise stds and the
    static deviation of each cell from its ideal weight (weight units)."""

    t_inference: float
    g: np.ndarray        # (pairs, 2, rows, cols) drifted conductance g(t)
    sigma: np.ndarray    # (pairs, 2, rows, cols) read-noise std
    static: np.ndarray   # (rows, cols) programming + drift error, weight units
    moments: tuple | None = None   # per-cell read-noise mean and variance (column sampling)


class PcmArray:
    """Device state of a rows x cols array of weights, each on ``rep`` pairs of devices.

    The programming and drift-exponent draws of every device are taken from the
    generator when the array is built, so programming a cell word by word or
    through a backdoor yields the same devices; reprogramming a cell draws anew."""

    def __init__(self, rows: int, cols: int, rep: Representation, params: PcmParams,
                 rng: np.random.Generator):
        self.rows, self.cols, self.rep, self.p, self.rng = rows, cols, rep, params, rng
        shape = (rep.pairs, 2, rows, cols)
        self.g_target = np.full(shape, params.gmin)
        self.g_prog = self.g_target.copy()
        self.nu = np.zeros(shape)
        self.programmed = np.zeros((rows, cols), bool)   # never-programmed cells stay ideal
        self.coef = rep.coef(params)
        self._z_prog = rng.standard_normal(shape)
        self._z_nu = rng.standard_normal(shape)
        self._fresh = np.ones((rows, cols), bool)
        self._q = None                                   # read_q(g_prog), per programming

    def _combine(self, dev: np.ndarray) -> np.ndarray:
        """sum_k coef_k (dev+_k - dev-_k): device deviations (.., pairs, 2, r, c) in uS ->
        weight units (.., r, c)."""
        diff = dev[..., 0, :, :] - dev[..., 1, :, :]
        return np.einsum("k,...krc->...rc", self.coef, diff)

    def program(self, w: np.ndarray, r0: int, c0: int):
        """Program the integer weights ``w`` (h, w) at (r0, c0)."""
        win = (slice(r0, r0 + w.shape[0]), slice(c0, c0 + w.shape[1]))
        cells = (Ellipsis,) + win
        g_t = self.rep.targets(w, self.p)
        zp, zn = self._z_prog[cells].copy(), self._z_nu[cells].copy()
        stale = ~self._fresh[win]
        if stale.any():
            n = (self.rep.pairs, 2, int(stale.sum()))
            zp[..., stale] = self.rng.standard_normal(n)
            zn[..., stale] = self.rng.standard_normal(n)
        self._fresh[win] = False
        self.g_target[cells] = g_t
        self.g_prog[cells] = program(g_t, zp, self.p)
        self.nu[cells] = drift_exponent(g_t, zn, self.p)
        self.programmed[win] = True
        self._q = None

    def state(self, t_inference: float) -> DriftState:
        g = self.g_prog * drift_factor(self.nu, t_inference, self.p)
        if self._q is None:
            self._q = read_q(self.g_prog, self.p) * self.programmed   # unprogrammed: no noise
        sigma = read_sigma(g, self.g_prog, t_inference, self.p, self._q)
        return DriftState(t_inference, g, sigma, self._combine(g - self.g_target))

    def read_cells(self, st: DriftState, r0: int, nr: int, c0: int, nc: int) -> np.ndarray:
        """One read of every cell's deviation from its ideal weight (weight units), as a
        one-hot input per row would measure it: static error + fresh read noise."""
        win = (Ellipsis, slice(r0, r0 + nr), slice(c0, c0 + nc))
        dev = st.static[win[1:]].copy()
        sig = st.sigma[win]
        if sig.any():
            z = self.rng.standard_normal(sig.shape)
            dev += self._combine(np.maximum(sig * z, -st.g[win]))
        return dev

    def _moments(self, st: DriftState):
        if st.moments is None:
            m, v = censored_moments(st.g, st.sigma)
            var = np.einsum("k,krc->rc", self.coef ** 2, v[:, 0] + v[:, 1])
            st.moments = (self._combine(m), var)
        return st.moments

    def analog_error(self, st: DriftState, x: np.ndarray, r0: int, nr: int, c0: int, nc: int,
                     sampling: str = "device", chunk_elems: int = 1 << 22) -> np.ndarray:
        """Analog accumulator minus the exact integer one for inputs x (N, nr): (N, nc).

        'device' draws every device's read noise for every input vector;
        'column' draws one Gaussian per output with the exact mean and variance of
        the sum of the per-device (censored) read deviations."""
        rs, cs = slice(r0, r0 + nr), slice(c0, c0 + nc)
        err = x @ st.static[rs, cs]
        sig = st.sigma[..., rs, cs]
        if not sig.any():
            return err
        if sampling == "column":
            mean, var = self._moments(st)
            z = self.rng.standard_normal(err.shape)
            return err + x @ mean[rs, cs] + np.sqrt((x * x) @ var[rs, cs]) * z
        if sampling != "device":
            raise ValueError(f"read-noise sampling must be 'device' or 'column', got {sampling!r}")
        neg_g = -st.g[..., rs, cs]
        step = max(1, chunk_elems // sig.size)
        for i in range(0, x.shape[0], step):
            z = self.rng.standard_normal((min(step, x.shape[0] - i),) + sig.shape)
            e = self._combine(np.maximum(sig * z, neg_g))          # (n, nr, nc)
            err[i:i + step] += np.einsum("nr,nrc->nc", x[i:i + step], e)
        return err
