"""GTKWave layouts point at signals that exist: every name of every group is
declared, with its width, in the module instance it names in the generated
Verilog (so it is in the FST)."""

import re

from imcc.gen.elaborate import generate
from imcc.tb.configs import NO_CORES
from imcc.tb.tops.cluster_tb import cluster_tb
from imcc.tb.waves import module_ports, write_gtkw


def test_wave_groups_name_real_ports(tmp_path):
    top = "imcc_cluster_tb"
    comp = cluster_tb(NO_CORES)
    gen = generate(NO_CORES, tmp_path / "rtl", component=comp, name=top)
    text = gen.sources[-1].read_text()
    groups = comp.wave_groups(top, lambda p: module_ports(text, f"{top}.{p}"))
    for g in ("SoC port", "ima/macro port", "ima/controller", "ima/streamer", "ima/engine",
              "dw/controller", "dw/engine", "interconnect/hwpe0", "protocol checkers",
              "clock gate"):
        assert groups.get(g), g
    decls = {}
    for name, sigs in groups.items():
        for sig, width in sigs:
            inst, _, port = sig.rpartition(".")
            if inst not in decls:
                decls[inst] = declared(text, inst, top)
            assert decls[inst].get(port) == width, f"{name}: {sig} ({width} bits)"
    write_gtkw(tmp_path / "dump.gtkw", tmp_path / "dump.fst", groups)
    assert "ima" in (tmp_path / "dump.gtkw").read_text()


def declared(text: str, inst: str, top: str) -> dict[str, int]:
    head = f"module {top}(" if inst == top else f"module \\{inst} ("
    i = text.index(head)
    body = text[i:text.index("endmodule", i)]
    return {m[2]: int(m[1]) + 1 if m[1] else 1 for m in re.finditer(
        r"^\s+(?:input|output|wire|reg)\s+(?:\[(\d+):0\]\s+)?\\?([^\s;]+)", body, re.M)}
