"""``imcc partition NETWORK --arrays N --batch B``: a network larger than the
chip split into groups that each fit N arrays, reprogrammed between groups
(gen/compiler/partition.py): per method, the groups, programming and compute
cycles, latency per batch, throughput and device writes per inference."""

from __future__ import annotations

from .cli import UsageError, add_config_args, load_config, print_json

NETWORKS = ("mobilenetv2", "resnet18")


def register(sub):
    p = sub.add_parser("partition", help="split a network larger than the chip into groups "
                       "reprogrammed in turn; compare the partitioning methods")
    p.add_argument("network", choices=NETWORKS, help="the network")
    p.add_argument("--arrays", type=int, required=True, help="crossbar arrays of the chip")
    p.add_argument("--batch", type=int, default=1, help="inputs per batch (default 1)")
    p.add_argument("--method", choices=("all", "dp", "ga", "greedy", "layerwise"), default="all",
                   help="partitioning method (default all)")
    p.add_argument("--fast-write", action="store_true",
                   help="SRAM-like arrays: a write takes the macro's shortest operation "
                        "(2 cycles) instead of ima.prog_ns")
    p.add_argument("--input", type=int, default=224, help="mobilenetv2: input resolution, "
                   "32..224 (default 224)")
    p.add_argument("--width", type=float, default=1.0, help="mobilenetv2: width multiplier, "
                   "0.35..1.0 (default 1.0)")
    p.add_argument("--groups", action="store_true", help="list each plan's groups")
    add_config_args(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.set_defaults(run=run_partition)


def _network(args):
    from imcc.sim.network import mobilenetv2
    from imcc.sim.resnet import resnet18
    if args.network == "mobilenetv2":
        try:
            return mobilenetv2(args.input, args.width)
        except ValueError as e:
            raise UsageError(f"--input/--width: {e}") from None
    if args.input != 224 or args.width != 1.0:
        raise UsageError("--input/--width: only for mobilenetv2 (resnet18 is 224 x 224)")
    return resnet18()


def run_partition(args) -> int:
    from imcc.gen.compiler.partition import METHODS, Partitioner, run_method
    from imcc.gen.mapping import MappingError
    if args.arrays < 1 or args.arrays > 4096:
        raise UsageError(f"--arrays {args.arrays}: an integer from 1 to 4096 is needed")
    if args.batch < 1 or args.batch > 10**6:
        raise UsageError(f"--batch {args.batch}: an integer from 1 to 1000000 is needed")
    cfg = load_config(args)
    net = _network(args)
    try:
        P = Partitioner(net, cfg, args.arrays)
        methods = METHODS if args.method == "all" else (args.method,)
        plans = {m: run_method(P, m, args.batch, args.fast_write) for m in methods}
    except MappingError as e:
        raise UsageError(str(e)) from None
    whole = P.group(0, len(P) - 1)
    r = {"network": net.name, "meta": net.meta, "arrays": args.arrays, "batch": args.batch,
         "fast_write": args.fast_write, "clock_mhz": cfg.clock.freq_mhz,
         "array": [cfg.ima.rows, cfg.ima.cols],
         "prog_cycles_per_write": P.prog_cycles(args.fast_write),
         "fits_whole": whole is not None, "units": len(P),
         "methods": {m: (p.to_json() if args.json else p.summary()) for m, p in plans.items()}}
    if args.json:
        print_json(r)
        return 0
    _table(r, plans, args.groups)
    return 0


def _table(r, plans, groups: bool):
    kind = "fast writes" if r["fast_write"] else "PCM writes"
    print(f"{r['network']} on {r['arrays']} arrays of {r['array'][0]}x{r['array'][1]}, batch "
          f"{r['batch']}, {kind} ({r['prog_cycles_per_write']} cycles per 32-bit write), "
          f"{r['clock_mhz']:g} MHz; {'fits the chip' if r['fits_whole'] else 'does not fit'}")
    print(f"{'method':<10} {'groups':>6} {'program cyc':>14} {'compute cyc':>14} "
          f"{'latency ms':>11} {'inf/s':>9} {'writes/dev/inf':>14} {'L2 MiB':>8} {'s':>6}")
    for m, p in plans.items():
        s = p.summary()
        print(f"{m:<10} {s['groups']:>6} {s['program_cycles']:>14,} {s['compute_cycles']:>14,} "
              f"{s['latency_ms']:>11.3f} {s['throughput_ips']:>9.2f} "
              f"{s['writes_per_device_per_inference']:>14.4g} {s['l2_peak_bytes'] / 2**20:>8.2f} "
              f"{s['seconds']:>6.2f}")
    if groups:
        for m, p in plans.items():
            print(f"{m}:")
            for k, g in enumerate(p.groups):
                print(f"  {k}: {g[0]} .. {g[-1]} ({len(g)} units, {p.costs[k].arrays_used} arrays)")
