"""PCM device statistics, the behavioural crossbar and the drift study.

Statistics are checked on >= 100 000 devices per target level against the
formulas of shared/reference/pcm-model.md, restated here independently of
imcc.sim.pcm; bounds are the ones of issue 9 (3 %, 5 %, 1 %)."""

import json
import math
import time

import numpy as np
import pytest

from imcc.gen.cli import main
from imcc.gen.config import ClusterConfig, ConfigError
from imcc.sim import pcm
from imcc.sim.crossbar import Crossbar
from imcc.sim.drift_study import StudyRow, format_table, plot, run_study
from imcc.sim.golden import ima_pointwise

GMAX, T0, T_READ = 25.0, 20.0, 250e-9
DAY, YEAR = 86400.0, 365 * 86400.0
PCM = ClusterConfig().replace(crossbar={"model": "pcm"})
QUIET = {"prog_noise_scale": 0.0, "read_noise_scale": 0.0, "drift_scale": 0.0,
         "adc_noise_lsb": 0.0, "adc_offset_lsb": 0.0}
LEVELS = range(1, 8)


# -- the reference formulas, restated ---------------------------------------------------------------
def ref_sigma_p(g):
    x = g / GMAX
    return (0.26348 + 1.9650 * x - 1.1731 * x * x) * GMAX / 25


def ref_nu_mu_s(g):
    lx = math.log(max(abs(g / GMAX), 1e-7))
    return min(max(-0.0155 * lx + 0.0244, 0.049), 0.1), min(max(-0.0125 * lx - 0.0059, 0.008), 0.045)


def ref_q(g_prog):
    return np.minimum(0.0088 / np.maximum((g_prog / GMAX) ** 0.65, 1e-3), 0.2)


def folded_normal(mu, s):
    """Mean and std of |N(mu, s^2)|."""
    mean = (s * math.sqrt(2 / math.pi) * math.exp(-mu * mu / (2 * s * s))
            + mu * math.erf(mu / (s * math.sqrt(2))))
    return mean, math.sqrt(mu * mu + s * s - mean * mean)


def within(measured, expected, rel):
    return abs(measured / expected - 1) <= rel


@pytest.fixture(scope="module")
def level_arrays():
    """One programmed PCM array per weight level 0..7 (400 x 256 = 102 400 cells each):
    G+ devices sit at level k, G- devices at level 0 - the crossbar's own programming path."""
    cfg = PCM.replace(ima={"rows": 400, "cols": 256})
    out = {}
    for k in range(8):
        xb = Crossbar(cfg, seed=100 + k)
        xb.load(np.full((400, 256), k, np.int8))
        out[k] = xb.pcm
    return out


def test_programming_noise_std(level_arrays):
    for k in LEVELS:
        a = level_arrays[k]
        g_t = k * GMAX / 7
        dev = a.g_prog[0, 0] - g_t
        assert dev.size >= 100_000
        assert within(dev.std(), ref_sigma_p(g_t), 0.03), k
        assert abs(dev.mean()) < 5 * ref_sigma_p(g_t) / math.sqrt(dev.size), k   # unbiased
    # level 0 is clipped at 0 S: max(N(0, s), 0) has std s * sqrt(1/2 - 1/(2 pi))
    g0 = level_arrays[3].g_prog[0, 1]
    assert within(g0.std(), ref_sigma_p(0.0) * math.sqrt(0.5 - 1 / (2 * math.pi)), 0.03)
    # the reference's quoted peak: about 1.09 uS near x = 0.84
    x = np.linspace(0, 1, 10001)
    s = pcm.prog_sigma(x * GMAX, pcm.PcmParams())
    assert within(s.max(), 1.09, 0.01) and abs(x[s.argmax()] - 0.84) < 0.01


def test_drift_exponent_mean_and_spread(level_arrays):
    for k in range(8):
        side = 0 if k else 1               # level 0: take the G- devices of another array
        nu = (level_arrays[k] if k else level_arrays[5]).nu[0, side]
        mean, std = folded_normal(*ref_nu_mu_s(k * GMAX / 7))
        assert within(nu.mean(), mean, 0.03) and within(nu.std(), std, 0.03), k


def test_drift_factor():
    p = pcm.PcmParams()
    # quoted in pcm-model.md for nu = 0.049: 0.66 after a day, 0.50 after a year
    assert within(float(pcm.drift_factor(0.049, DAY, p)), 0.66, 0.01)
    assert within(float(pcm.drift_factor(0.049, YEAR, p)), 0.50, 0.01)


def test_drift_factor_population(level_arrays):
    """Mean g(t)/g_prog of full-scale devices vs E[((t+t0)/t0)^-|nu|] by quadrature."""
    a = level_arrays[7]
    mu, s = ref_nu_mu_s(GMAX)
    z = np.linspace(-8, 8, 20001)
    w = np.exp(-z * z / 2)
    w /= w.sum()
    for t in (DAY, YEAR):
        expected = float(np.sum(w * ((t + T0) / T0) ** -np.abs(mu + s * z)))
        st = a.state(t)
        ratio = st.g[0, 0] / a.g_prog[0, 0]
        assert within(ratio.mean(), expected, 0.01), t
        assert np.allclose(ratio, ((t + T0) / T0) ** -a.nu[0, 0])


def test_read_noise_spread(level_arrays):
    rng = np.random.default_rng(7)
    p = pcm.PcmParams()
    for t in (0.0, 3600.0, YEAR):
        scale = math.sqrt(math.log((t + T0 + T_READ) / (2 * T_READ)))
        for k in LEVELS:
            a = level_arrays[k]
            g_prog = a.g_prog[0, 0]
            g_t = a.state(t).g[0, 0]
            sigma = pcm.read_sigma(g_t, g_prog, t, p)
            reads = pcm.read(g_t, sigma, rng.standard_normal(g_t.shape))
            zs = (reads - g_t) / (np.abs(g_t) * ref_q(g_prog) * scale)
            assert within(zs.std(), 1.0, 0.05), (t, k)
    # quoted: about 3.7 % at full conductance right after programming, 5.0 % after a year
    assert within(float(pcm.read_sigma(GMAX, GMAX, 0.0, p)) / GMAX, 0.037, 0.03)
    assert within(float(pcm.read_sigma(GMAX, GMAX, YEAR, p)) / GMAX, 0.050, 0.03)


def test_crossbar_read_noise_per_mvm_and_column_sampling():
    """Device sampling (every device, every MVM) and column sampling (one Gaussian per
    output with the censored mean/variance) agree: per-column mean within 0.1 std,
    std within 5 %; the std matches sum_r x_r^2 sum(coef^2 sigma^2) where nothing clips."""
    rng = np.random.default_rng(3)
    w = rng.integers(-7, 8, (64, 48)).astype(np.int8)
    x = rng.integers(-128, 128, (1, 64)).astype(np.int8)
    xs = np.repeat(x, 4000, axis=0)
    acc = {}
    for mode in ("device", "column"):
        xb = Crossbar(PCM.replace(ima={"rows": 64, "cols": 48},
                                  crossbar={"read_noise_sampling": mode, "t_inference": "1y"}),
                      seed=11)
        xb.load(w)
        acc[mode] = xb.analog_acc(xs, 0, 64, 0, 48)
        st = xb._drift_state()
    d, c = acc["device"], acc["column"]
    sd = d.std(axis=0)
    assert np.all(np.abs(d.mean(axis=0) - c.mean(axis=0)) < 0.1 * sd)
    assert within(np.mean(c.std(axis=0) / sd), 1.0, 0.05)
    assert np.all(np.abs(c.std(axis=0) / sd - 1) < 0.12)
    # Gaussian prediction of the read noise (the clip only trims level-0 devices)
    coef = xb.pcm.coef[0]
    var = coef ** 2 * (st.sigma[0, 0] ** 2 + st.sigma[0, 1] ** 2)
    pred = np.sqrt((x[0].astype(float) ** 2) @ var)
    assert within(np.mean(sd / pred), 1.0, 0.05)


# -- crossbar behaviour ----------------------------------------------------------------------------
def _random_job(rng, xb):
    nr, nc = int(rng.integers(1, xb.rows + 1)), int(rng.integers(1, xb.cols + 1))
    r0, c0 = int(rng.integers(0, xb.rows - nr + 1)), int(rng.integers(0, xb.cols - nc + 1))
    lo = int(rng.choice([-128, 0, -20]))
    hi = int(rng.integers(max(lo, 6), 128))
    return r0, nr, c0, nc, int(rng.integers(0, 400)), int(rng.integers(0, 14)), lo, hi


@pytest.mark.parametrize("over", [
    {"model": "ideal"},
    {"model": "pcm", **QUIET},
    {"model": "pcm", **QUIET, "drift_compensation": "column", "read_noise_sampling": "column",
     "t_inference": "10y"},
    {"model": "pcm", **QUIET, "devices_per_weight": 4, "drift_compensation": "none"},
    {"model": "pcm", **QUIET, "representation": "hybrid", "devices_per_weight": 4,
     "t_inference": "0"},
    {"model": "pcm", **QUIET, "representation": "hybrid", "devices_per_weight": 6,
     "hybrid_binary_pairs": 2, "hybrid_levels": 4, "hybrid_significance": 2, "gmin_us": 1.0},
], ids=["ideal", "pcm-quiet", "pcm-quiet-column", "pcm-quiet-4dev", "hybrid-quiet", "hybrid-3pair"])
def test_noise_off_is_bit_exact_with_golden(over):
    cfg = ClusterConfig().replace(crossbar=over)
    rng = np.random.default_rng(len(str(over)))
    w = rng.integers(-7, 8, (cfg.ima.rows, cfg.ima.cols)).astype(np.int8)
    xb = Crossbar(cfg)
    xb.load(w)
    for _ in range(40):
        r0, nr, c0, nc, gain, shift, lo, hi = _random_job(rng, xb)
        x = rng.integers(-128, 128, (5, nr)).astype(np.int8)
        want = ima_pointwise(x, w[r0:r0 + nr, c0:c0 + nc], gain, shift, lo, hi)
        assert np.array_equal(xb.mvm_batch(x, r0, nr, c0, nc, gain, shift, lo, hi), want)
        assert np.array_equal(xb.mvm(x[0], r0, nr, c0, nc, gain, shift, lo, hi), want[0])


def test_same_seed_same_result_different_seed_differs():
    rng = np.random.default_rng(0)
    w = rng.integers(-7, 8, (256, 256)).astype(np.int8)
    x = rng.integers(-128, 128, (8, 200)).astype(np.int8)
    cfg = PCM.replace(crossbar={"adc_noise_lsb": 0.5, "adc_offset_lsb": 0.3})
    outs = []
    for seed in (5, 5, 6):
        xb = Crossbar(cfg, seed=seed)
        xb.load(w)
        outs.append((xb.pcm.g_prog.copy(), xb.mvm_batch(x, 10, 200, 3, 250, 1, 8)))
    assert np.array_equal(outs[0][0], outs[1][0]) and np.array_equal(outs[0][1], outs[1][1])
    assert not np.array_equal(outs[0][0], outs[2][0]) and not np.array_equal(outs[0][1], outs[2][1])


@pytest.mark.parametrize("sampling", ["device", "column"])
def test_batch_draws_like_single_mvms(sampling):
    """A batch of N jobs equals the same N MVMs issued one by one (same seed, no ADC
    noise): what lets an RTL run that issues one MVM per job replay the golden path."""
    rng = np.random.default_rng(4)
    w = rng.integers(-7, 8, (64, 64)).astype(np.int8)
    x = rng.integers(-128, 128, (100, 40)).astype(np.int8)
    cfg = PCM.replace(ima={"rows": 64, "cols": 64},
                      crossbar={"read_noise_sampling": sampling, "adc_offset_lsb": 0.4})
    a, b = Crossbar(cfg, seed=2), Crossbar(cfg, seed=2)
    a.load(w)
    b.load(w)
    batch = a.mvm_batch(x, 3, 40, 5, 50, 3, 6)
    assert np.array_equal(batch, np.stack([b.mvm(v, 3, 40, 5, 50, 3, 6) for v in x]))


def test_programming_port_matches_backdoor_and_reads_back():
    cfg = PCM.replace(ima={"rows": 16, "cols": 24})
    rng = np.random.default_rng(9)
    w = rng.integers(-7, 8, (16, 24)).astype(np.int8)
    port, back = Crossbar(cfg, seed=1), Crossbar(cfg, seed=1)
    back.load(w)
    cycles = 0
    for r in range(16):
        for grp in range(3):
            word = sum((int(v) & 0xF) << (4 * i) for i, v in enumerate(w[r, grp * 8:grp * 8 + 8]))
            cycles += port.program(r, grp, word)
            assert port.read_word(r, grp) == word
    assert np.array_equal(port.pcm.g_prog, back.pcm.g_prog)
    assert np.array_equal(port.pcm.nu, back.pcm.nu)
    assert all(port.read_weight(r, c) == w[r, c] for r in range(16) for c in range(24))
    assert port.stats["writes"] == 48 and back.stats["writes"] == 0
    assert cycles == 48 * cfg.ns_to_cycles(cfg.ima.prog_ns) == port.stats["busy_cycles"]
    assert port.mvm_cycles == cfg.ns_to_cycles(cfg.ima.mvm_ns) == 65
    # reprogramming a cell draws new programming noise
    before = port.pcm.g_prog[..., 0, :8].copy()
    port.program(0, 0, port.read_word(0, 0))
    assert not np.array_equal(before, port.pcm.g_prog[..., 0, :8])


def test_crossbar_rejects_bad_port_values():
    xb = Crossbar(ClusterConfig())
    with pytest.raises(ValueError, match="-8"):
        xb.program(0, 0, 0x8 << 12)
    with pytest.raises(ValueError, match="outside"):
        xb.program(256, 0, 0)
    with pytest.raises(ValueError, match="outside"):
        xb.mvm(np.zeros(10, np.int8), 250, 10, 0, 4, 1, 0)
    with pytest.raises(ValueError, match="shape"):
        xb.mvm(np.zeros(9, np.int8), 0, 10, 0, 4, 1, 0)
    with pytest.raises(ValueError, match="int8"):
        xb.mvm(np.full(10, 300), 0, 10, 0, 4, 1, 0)
    with pytest.raises(ValueError, match="lo <= hi"):
        xb.mvm(np.zeros(10, np.int8), 0, 10, 0, 4, 1, 0, 5, 4)
    with pytest.raises(ValueError, match="-8"):
        xb.load(np.full((2, 2), -8))


def test_drift_compensation_restores_the_scale():
    """Drift only (no programming/read noise): stated bounds - alpha is within 1 % of the
    inverse mean drift factor, and compensation cuts the output RMS error by > 4x at 1 y."""
    cfg = PCM.replace(crossbar={"prog_noise_scale": 0.0, "read_noise_scale": 0.0, "t_inference": "1y"})
    rng = np.random.default_rng(2)
    w = rng.integers(-7, 8, (256, 256)).astype(np.int8)
    x = rng.integers(-128, 128, (64, 256)).astype(np.int8)
    ideal = ima_pointwise(x, w, 1, 8)
    rms = {}
    for comp in ("none", "global", "column"):
        xb = Crossbar(cfg.replace(crossbar={"drift_compensation": comp}))
        xb.load(w)
        y = xb.mvm_batch(x, 0, 256, 0, 256, 1, 8)
        rms[comp] = np.sqrt(np.mean((y.astype(float) - ideal) ** 2))
        if comp == "global":
            on = xb.pcm.g_target > 0
            fac = xb._drift_state().g[on] / xb.pcm.g_prog[on]
            assert within(xb.alpha[0], 1 / np.average(fac, weights=xb.pcm.g_target[on]), 0.01)
    assert rms["global"] < rms["none"] / 4 and rms["column"] < rms["none"] / 4


def test_program_and_mvm_are_fast():
    """Vectorised: program 256 x 256 (backdoor) + calibrate + one MVM well below 1 s
    (a few ms measured; the bound only catches a per-element Python loop)."""
    rng = np.random.default_rng(0)
    w = rng.integers(-7, 8, (256, 256)).astype(np.int8)
    x = rng.integers(-128, 128, 256).astype(np.int8)
    xb = Crossbar(PCM)
    t0 = time.perf_counter()
    xb.load(w)
    xb.mvm(x, 0, 256, 0, 256, 1, 8)
    assert time.perf_counter() - t0 < 1.0


@pytest.mark.parametrize("override, field", [
    ("crossbar.model=analog", "crossbar.model"),
    ("crossbar.t_inference=soon", "crossbar.t_inference"),
    ("crossbar.t_inference=-5", "crossbar.t_inference"),
    ("crossbar.seed=-1", "crossbar.seed"),
    ("crossbar.gmax_us=0", "crossbar.gmax_us"),
    ("crossbar.gmin_us=30", "crossbar.gmin_us"),
    ("crossbar.prog_noise_scale=-1", "crossbar.prog_noise_scale"),
    ("crossbar.read_noise_scale=nan", "crossbar.read_noise_scale"),
    ("crossbar.adc_noise_lsb=-0.1", "crossbar.adc_noise_lsb"),
    ("crossbar.drift_compensation=always", "crossbar.drift_compensation"),
    ("crossbar.read_noise_sampling=pixel", "crossbar.read_noise_sampling"),
    ("crossbar.representation=ternary", "crossbar.representation"),
    ("crossbar.devices_per_weight=3", "crossbar.devices_per_weight"),
    ("crossbar.hybrid_levels=1", "crossbar.hybrid_levels"),
    ("crossbar.drift_scale=x", "crossbar.drift_scale"),
])
def test_config_errors_name_the_field(override, field):
    with pytest.raises(ConfigError) as e:
        ClusterConfig.load(None, [override])
    assert e.value.field == field and str(e.value).startswith(field)


def test_config_hybrid_split_must_cover_every_weight():
    with pytest.raises(ConfigError) as e:   # one binary pair alone cannot hold 1..3, 5..7
        ClusterConfig.load(None, ["crossbar.representation=hybrid", "crossbar.devices_per_weight=2"])
    assert e.value.field == "crossbar.devices_per_weight" and "1, 2, 3" in str(e.value)
    with pytest.raises(ConfigError) as e:
        ClusterConfig.load(None, ["crossbar.representation=hybrid", "crossbar.devices_per_weight=4",
                                  "crossbar.hybrid_binary_pairs=3"])
    assert e.value.field == "crossbar.hybrid_binary_pairs"
    c = ClusterConfig.load(None, ["crossbar.t_inference=1mo"]).crossbar
    assert c.t_inference_s == 365 * 86400 / 12
    assert ClusterConfig.load(None, ["crossbar.t_inference=3600"]).crossbar.t_inference_s == 3600


# -- the drift study ---------------------------------------------------------------------------------
def test_drift_study_trends():
    """Stated trends on a reduced point set (14x14 block, three times):
    uncompensated error grows from 25 s to 10 y by > 2x; global compensation lowers
    the error at every time from 1 d on; errors stay finite and > 0 (noise is on)."""
    rows = run_study(PCM, times=("25s", "1d", "10y"), shape=(14, 14, 32, 6, 32, 1), seed=3)
    table = format_table(rows)
    assert "hybrid" in table and "10y" in table
    for rep, dev in {(r.representation, r.devices) for r in rows}:
        sel = {(r.compensation, r.t): r for r in rows if (r.representation, r.devices) == (rep, dev)}
        assert sel["none", "10y"].rms_lsb > 2 * sel["none", "25s"].rms_lsb, (rep, dev)
        assert sel["none", "1d"].rms_lsb > sel["none", "25s"].rms_lsb, (rep, dev)
        for t in ("1d", "10y"):
            assert sel["global", t].rms_lsb < sel["none", t].rms_lsb, (rep, dev, t)
            assert sel["global", t].snr_db > sel["none", t].snr_db
        assert all(0 < r.rms_lsb < 128 and 0 <= r.over_1lsb <= 1 for r in sel.values())


def test_study_json_and_plot_axes(tmp_path, capsys):
    """--json prints the rows alone on stdout; the plot's time axis is ticked
    in the units the command took, and both panels have a legend."""
    out = tmp_path / "d.png"
    assert main(["study", "drift", "-o", str(out), "--times", "25s,1h,1y", "--seed", "1",
                 "--compensation", "none,global", "--json"]) == 0
    cap = capsys.readouterr()
    report = json.loads(cap.out)
    assert report["plot"] == str(out) and out.stat().st_size > 1000
    rows = [StudyRow(**r) for r in report["rows"]]
    assert {r.t for r in rows} == {"25s", "1h", "1y"} and len(rows) == 3 * 2 * len(
        {(r.representation, r.devices) for r in rows})
    fig = plot(rows, tmp_path / "e.png")
    for ax in fig.axes:
        assert [t.get_text() for t in ax.get_xticklabels()] == ["25s", "1h", "1y"]
        assert ax.get_legend() is not None and len(ax.get_legend().get_texts()) == len(rows) // 3


def test_study_cli(tmp_path, capsys):
    out = tmp_path / "d.png"
    assert main(["study", "drift", "-o", str(out), "--times", "25s,1y", "--seed", "1",
                 "--set", "ima.rows=256"]) == 0
    assert out.stat().st_size > 1000 and "SNR" in capsys.readouterr().out
    assert main(["study", "drift", "-o", str(out), "--times", "25s,later"]) == 2
    assert "--times" in capsys.readouterr().err
    assert main(["study", "drift", "-o", str(out), "--compensation", "magic"]) == 2
    capsys.readouterr()
    assert main(["study", "drift", "-o", str(out), "--rtl", "1d:magic"]) == 2
    assert main(["study", "drift", "-o", str(out), "--rtl", "soon"]) == 2
    assert all(line.startswith("imcc: error:") for line in capsys.readouterr().err.splitlines())
    assert main(["study", "drift", "-o", str(tmp_path / "no" / "d.png"), "--times", "1h",
                 "--compensation", "none"]) == 2
