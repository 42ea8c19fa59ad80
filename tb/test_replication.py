"""Replication (issue 22): k copies of a layer inside its tile (one MVM serves k
pixels of a row) and copies on other IMA instances, within the arrays the
configuration has.  The replicated weight matrices against the golden layer,
the job lists of both schedules against the golden network (functional model),
the mapper's budget, and the utilisation the run reports.  The RTL checks of
replicated job lists are tb/test_network.py's fused RTL tests (the small
network replicates its early layers on the default run's cluster)."""

from __future__ import annotations

import numpy as np
import pytest

from imcc.gen.compiler.functional import run_functional
from imcc.gen.compiler.lower import matrices, place_network, rep_options, rep_shape, rep_weights, replicate
from imcc.gen.compiler.network import compile_network
from imcc.gen.compiler.utilisation import unit_work, utilisation
from imcc.gen.config import ClusterConfig
from imcc.sim import golden as G
from imcc.sim.network import mobilenetv2, randomize

ONE_IMA = ClusterConfig().replace(ima={"arrays": 6})
TWO_IMAS = ClusterConfig().replace(ima={"instances": 2, "arrays": 4})
# the paper's 34 arrays as two IMA instances of 17 (one bank macro port each)
TWO_x17 = ClusterConfig().replace(ima={"instances": 2, "arrays": 17, "macro_ports": "bank"})


def _net(res, width, seed=0):
    return randomize(mobilenetv2(res, width), seed)


def test_replicated_weights_compute_k_pixels_per_mvm():
    """A step of k pixels of a row times the replicated matrix gives the k pixels'
    outputs, for the 1x1 layers (block-diagonal) and the stride-2 3x3 convolution
    (shifted windows k_h x (k_w + (k-1)s)), before requantisation."""
    net, x = _net(32, 0.35)
    t = net.run(x)
    for name in ("conv1", "b1.project", "b2.expand"):
        L = net.layer(name)
        xin = t[L.inputs[0]].astype(np.int64)
        h, w, c = net.shapes[L.output]
        for k in rep_options(net, L, 256, 256):
            W = rep_weights(L, k).astype(np.int64)
            assert W.shape == rep_shape(net, L, k)
            if L.op == "conv":
                xp = np.pad(xin, ((L.pad, L.pad), (L.pad, L.pad), (0, 0)))
                s, kk = L.stride, L.k
                ww = kk + (k - 1) * s
                steps = np.stack([xp[oy * s:oy * s + kk, g * k * s:g * k * s + ww].reshape(-1)
                                  for oy in range(h) for g in range(w // k)])
                ref = G.im2col(xin, kk, s, L.pad) @ L.w.reshape(-1, c).astype(np.int64)
            else:
                steps = xin.reshape(-1, k * xin.shape[-1])
                ref = xin.reshape(-1, xin.shape[-1]) @ L.w.astype(np.int64)
            assert np.array_equal((steps @ W).reshape(-1, c), ref.reshape(-1, c)), (name, k)


def test_rep_options_fit_one_array_and_divide_the_row():
    net, _ = _net(224, 1.0)
    opts = {L.name: rep_options(net, L, 256, 256) for L in net.layers if L.op in ("pw", "conv")}
    assert max(opts["conv1"]) == 8                     # 153 rows x 256 columns
    assert max(opts["b1.project"]) == 8 and max(opts["b2.expand"]) == 2
    assert opts["b3.expand"] == [] and opts["b17.project"] == []
    for name, ks in opts.items():
        L = net.layer(name)
        for k in ks:
            r, c = rep_shape(net, L, k)
            assert r <= 256 and c <= 256 and net.shapes[L.output][1] % k == 0


@pytest.mark.parametrize("schedule", ["fused", "layer"])
@pytest.mark.parametrize("cfg", [ONE_IMA, TWO_IMAS], ids=["one_ima", "two_imas"])
def test_replicated_job_lists_compute_the_network(schedule, cfg):
    """Both schedules with replication leave every tensor equal to the golden
    network's (functional model), within the configuration's arrays."""
    net, x = _net(32, 0.35)
    c = compile_network(net, x, cfg, schedule=schedule, replicate=True)
    plain = compile_network(net, x, cfg, schedule=schedule, replicate=False)
    assert c.mapping.reps, "the small network has room to replicate"
    assert c.cfg.ima.arrays == plain.cfg.ima.arrays     # no array more than without
    mem = run_functional(c.program, c.x, c.image.arrays)
    for name, exp in c.golden.items():
        got = c.program.read_tensor(name, mem.read)
        assert np.array_equal(got, exp), f"{name}: {(got != exp).sum()} of {exp.size} differ"


def test_224_replication_fits_34_arrays():
    """MobileNetV2 224/1.0 fused on 2 x 17 arrays: the early layers replicated
    (inside their tiles and on both instances) in 34 arrays, the model's
    latency lower than without (the job list's tensors: tb/test_network.py's
    fused functional test at 224, which replicates the same way)."""
    net, x = _net(224, 1.0)
    # (every block a segment of its own: merging gains more without copies)
    c = compile_network(net, x, TWO_x17, schedule="fused", merge=False)
    plain = compile_network(net, x, TWO_x17, schedule="fused", replicate=False, merge=False)
    assert c.cfg.ima.arrays == 17 and c.mapping.total_arrays <= 34
    assert c.mapping.rep("conv1") >= 2 and len(c.mapping.instances("conv1")) == 2
    assert c.program.model["cycles"] < 0.6 * plain.program.model["cycles"]
    for i, m in c.mapping.maps.items():
        assert m.arrays_used <= 17
        for t in m.tiles:                            # every tile inside its array
            assert t.arow + t.rows <= 256 and t.acol + t.cols <= 256 and t.array < 17


def test_replication_keeps_the_array_budget():
    """replicate() never gives an instance more arrays than the budget."""
    net, _ = _net(48, 0.5)
    cfg = ClusterConfig().replace(ima={"instances": 2})
    base = place_network(net, cfg, ["ima", "ima1"])
    for budget in (base.arrays_used + 1,):
        r = replicate(net, cfg, base, budget)
        assert all(m.arrays_used <= budget for m in r.maps.values())
        for L in matrices(net, r.reps):
            assert L.rows <= 256 or r.rep(L.name) == 1


def test_utilisation_counts_the_job_lists_work():
    """The IMA's busy cycles are its MVMs x the macro latency (the network's
    pixels x tiles / copies), the DMA's its bytes at the AXI width."""
    net, x = _net(32, 0.35)
    c = compile_network(net, x, ONE_IMA, schedule="layer")
    busy, arrays = unit_work(c.program)
    mvm = c.cfg.ns_to_cycles(c.cfg.ima.mvm_ns)
    mvms = sum(c.lowered.net.shapes[L.output][0] * c.lowered.net.shapes[L.output][1]
               * len([t for t in c.mapping.of(c.lowered.origin[L.name])
                      if L.cin is None or t.row0 == L.cin[0]])
               for L in c.lowered.net.layers if L.op in ("pw", "conv"))
    assert busy["ima"] == mvms * mvm == sum(arrays.values())
    assert busy["dma"] == c.program.l2_traffic / (c.cfg.dma.data_width // 8)
    u = utilisation(c.program, int(busy["ima"] * 2))
    assert u["units"]["ima"] == 0.5 and u["bound"] == "ima"
    assert u["floor_cycles"] == round(busy["ima"]) and u["busiest"] == "ima"


def test_model_what_ifs_scale_and_name_the_bound():
    """perf.predict's what-ifs: every unit and the walker twice as fast halves
    the run exactly (the model is linear in its times); one unit twice as fast
    saves between nothing and half; sensitivity names the unit that saves most."""
    from imcc.gen.compiler.perf import WALKER, predict, sensitivity
    net, x = _net(32, 0.35)
    c = compile_network(net, x, TWO_IMAS, schedule="fused")
    base = predict(c.program)["cycles"]
    fast = predict(c.program, speed=dict.fromkeys([*c.program.units, WALKER], 2.0))["cycles"]
    assert abs(fast - base / 2) <= 1
    s = sensitivity(c.program)
    assert s["cycles"] == base and set(s["saving"]) == {*c.program.units, WALKER, "ima*"}
    assert all(-0.05 <= v <= 0.5 for v in s["saving"].values())
    assert s["saving"][s["bound"]] == max(s["saving"].values())


def test_model_bank_load_slows_the_dw_dma_and_walker():
    """perf.predict's second pass: each DW and DMA job and core 0's walking are
    slowed by the words per cycle and bank the other units' jobs move meanwhile
    (the TCDM's bank conflicts).  Without the load constants the model is its
    first pass; with them it is slower, and less so on twice the banks (the same
    job list: the loads halve); an IMA job's words are its steps' input and
    output words."""
    import dataclasses

    from imcc.gen.compiler.perf import CONSTANTS, _loads, _simulate, job_words, predict
    from imcc.sim.ima_perf import words
    net, x = _net(32, 0.35)
    pool = ClusterConfig().replace(ima={"instances": 2, "arrays": 8, "macro_ports": "pool"},
                                   dw={"instances": 2, "ports": "own"})
    # (every block a segment of its own: the merged list's model is no slower with
    # the loads, its walker finding a better order around a slower job)
    c = compile_network(net, x, pool, schedule="fused", merge=False)
    prog = c.program
    free = dataclasses.replace(CONSTANTS, bank_load=0.0, dma_load=0.0, core_load=0.0)
    assert CONSTANTS.bank_load > 0 and CONSTANTS.core_load > 0
    alone = predict(prog, free)["cycles"]
    assert alone == _simulate(prog, free, None, None, {})[0]["cycles"]
    loaded = predict(prog)["cycles"]
    prog.cfg = pool.replace(tcdm={"banks": 64})
    wide = predict(prog)["cycles"]
    prog.cfg = pool
    assert alone < wide < loaded, (alone, wide, loaded)
    _, spans = _simulate(prog, CONSTANTS, None, None, {})
    loads = _loads(prog, spans)
    dws = [i for i, u, *_ in spans if u.startswith("dw")]
    assert dws and set(dws) <= set(loads) and all(0 <= loads[i] < 1 for i in dws)
    from imcc.gen.compiler.functional import _fields
    from imcc.rtl.ima.regs import IMA_REGS
    j = next(e for e in prog.entries if getattr(e, "unit", "").startswith("ima"))
    r = _fields(IMA_REGS, j.regs)
    assert job_words(prog, j) == (r["STEPS"]["INNER"] * r["STEPS"]["OUTER"]
                                  * (words(r["ROWS"]["COUNT"]) + words(r["COLS"]["COUNT"])))


def test_config_arrays_place_over_instances():
    """--arrays config on several instances: the layers spread over the instances
    when one instance cannot hold them all (it used to stop at the first try)."""
    net, x = _net(224, 1.0)
    cfg = TWO_x17.replace(dw={"ports": "own"}, l2={"size_kib": 8192})
    c = compile_network(net, x, cfg, schedule="fused", arrays="config", merge=False)
    assert c.cfg.ima.arrays == 17
    assert all(m.arrays_used <= 17 for m in c.mapping.maps.values())


@pytest.mark.parametrize("cfg", [ONE_IMA, TWO_IMAS], ids=["one_ima", "two_imas"])
def test_min_mvms_is_a_floor(cfg):
    """utilisation.min_mvms (every layer at its largest replication, space
    unbounded) is below the MVMs of every job list, replicated or not; a job
    list's MVMs are its layers' pixels x tiles (counted apart)."""
    from imcc.gen.compiler.utilisation import job_list_mvms, min_mvms
    net, x = _net(32, 0.35)
    floor = min_mvms(net, 256, 256)
    for rep in (True, False):
        c = compile_network(net, x, cfg, schedule="fused", replicate=rep)
        assert job_list_mvms(c.program) >= floor
    c = compile_network(net, x, cfg, schedule="fused", replicate=False)
    plain = sum(c.lowered.net.shapes[L.output][0] * c.lowered.net.shapes[L.output][1]
                * len([t for t in c.mapping.of(c.lowered.origin[L.name])
                       if L.cin is None or t.row0 == L.cin[0]])
                for L in c.lowered.net.layers if L.op in ("pw", "conv"))
    assert job_list_mvms(c.program) == plain


def test_part_writes_run_together_and_their_reader_waits_for_all():
    """Column tiles write disjoint bytes of the same rows (program._Hazards): they
    do not wait for each other, a reader waits for every one of them, and the next
    whole write waits for the parts and the reader."""
    from imcc.gen.compiler.program import _Hazards
    h = _Hazards()
    h.add("w0", [], ["k"])
    assert h.deps([], [], ["k"]) == ["w0"]
    h.add("p1", [], [], ["k"])
    assert h.deps([], [], ["k"]) == ["w0"], "a second part waits for the first"
    h.add("p2", [], [], ["k"])
    assert sorted(h.deps(["k"], [])) == ["p1", "p2"]
    h.add("r", ["k"], [])
    assert sorted(h.deps([], ["k"])) == ["p1", "p2", "r"]
    # parts after a read: a new group, after the reader and the parts before it
    assert sorted(h.deps([], [], ["k"])) == ["p1", "p2", "r"]


def test_pool_copies_spread_the_hot_layers_over_arrays():
    """On a pool (4 IMAs, 34 arrays) the mapper gives the hot layers copies on other
    arrays within the 34, every copy whole and apart from the layer's others; the
    first-order cost falls against no copies; a job of a layer with copies names
    one of its copies' arrays."""
    net, x = _net(224, 1.0)
    cfg = ClusterConfig().replace(ima={"instances": 4, "arrays": 34, "macro_ports": "pool"},
                                  dw={"instances": 2, "ports": "own"})
    imas = ["ima", "ima1", "ima2", "ima3"]
    base = place_network(net, cfg, imas, max_arrays=34)
    assert base.pool and base.total_arrays <= 34 and not base.copies
    logs = []
    r = replicate(net, cfg, base, 34, log=logs.append)
    assert r.pool and r.total_arrays <= 34 and r.copies, logs
    for layer, n in r.copies.items():
        tiles = [t for k in range(n) for t in r.copy_of(layer, k)]
        assert len(tiles) == n and len({t.array for t in tiles}) == n, layer
        assert all((t.rows, t.cols) == rep_shape(net, net.layer(layer), r.rep(layer))
                   for t in tiles), layer
    c = compile_network(net, x, cfg.replace(l2={"size_kib": 8192}), schedule="fused",
                        arrays="config")
    from imcc.gen.compiler.functional import _fields
    from imcc.rtl.ima.regs import IMA_REGS
    m = c.mapping       # (the placement the compiler kept: a layout of bands kept free)
    assert m.copies
    layer = max(m.copies, key=m.copies.get)
    allowed = {t.array for k in range(m.copies[layer]) for t in m.copy_of(layer, k)}
    used = {_fields(IMA_REGS, j.regs)["ARRAY"]["INDEX"] for j in c.program.jobs
            if j.unit.startswith("ima") and j.what.split(" ")[0] == layer}
    assert used and used <= allowed and len(used) > 1, (layer, used, allowed)


def test_pool_bands_kept_free_and_the_fastest_placement_kept(monkeypatch):
    """On a pool the cold layers may be packed around full-width bands kept free
    (lower.RESERVE_LAYOUTS): the placement is valid (no two tiles share a cell,
    within the 34 arrays) and says so; a layout whose bands do not fit gives
    None; the exchanges keep it valid and cost no more; compile_network compiles
    every layout's placement and keeps the one the model finds fastest (before
    any blocks are merged, which it decides on the placement kept)."""
    import imcc.gen.compiler.network as network
    from imcc.gen.compiler.lower import RESERVE_LAYOUTS, replicate_pool
    net, x = _net(224, 1.0)
    cfg = ClusterConfig().replace(ima={"instances": 4, "arrays": 34, "macro_ports": "pool"},
                                  dw={"instances": 2, "ports": "own"}, l2={"size_kib": 8192})
    imas = ["ima", "ima1", "ima2", "ima3"]
    base = place_network(net, cfg, imas, max_arrays=34)
    layout = next(r for r in RESERVE_LAYOUTS if r)
    r = replicate_pool(net, cfg, base, 34, reserve=layout)
    assert r is not None and r.pool and r.total_arrays <= 34 and "bands kept free" in r.method
    m = r.maps["ima"]
    busy = np.zeros((34, 256, 256), int)
    for t in m.tiles:
        busy[t.array, t.arow:t.arow + t.rows, t.acol:t.acol + t.cols] += 1
    assert busy.max() == 1
    assert replicate_pool(net, cfg, base, 34, reserve=((1.0, 3),)) is None   # 3 arrays more: no fit
    # the exchanges and swaps: still a valid packing, every copy apart from the
    # layer's others, and a first-order cost no higher than without them
    costs = {}
    for exchange in (False, True):
        logs = []
        r = replicate_pool(net, cfg, base, 34, reserve=layout, exchange=exchange, log=logs.append)
        costs[exchange] = float(logs[-1].split(": ")[1].split(" cycles")[0])
        busy = np.zeros((34, 256, 256), int)
        for t in r.maps["ima"].tiles:
            busy[t.array, t.arow:t.arow + t.rows, t.acol:t.acol + t.cols] += 1
        assert busy.max() == 1, exchange
        for layer, n in r.copies.items():
            assert len({t.array for k in range(n) for t in r.copy_of(layer, k)}) == n, layer
    assert costs[True] <= costs[False], costs
    # (the placement kept listed once more, without the orders tried again: the time;
    # and no blocks merged, which the compiler decides on the placement kept)
    for name, value in (("DW_COSTS", (1.0,)), ("ORDER_SEEDS", ()), ("OVERLAPS", ()),
                        ("_merges", lambda *a, **k: frozenset())):
        monkeypatch.setattr(network, name, value)
    c = compile_network(net, x, cfg, schedule="fused", arrays="config")
    # (each layout's search with and without the exchanges, the same placements once)
    assert len(RESERVE_LAYOUTS) <= c.program.model["placements_tried"] <= 2 * len(RESERVE_LAYOUTS)
    for only in RESERVE_LAYOUTS:
        monkeypatch.setattr(network, "RESERVE_LAYOUTS", (only,))
        one = compile_network(net, x, cfg, schedule="fused", arrays="config")
        assert c.program.model["cycles"] <= one.program.model["cycles"], only
