"""`imcc sw build`: the target software compiles with the ziglang clang for
the configuration, and bad input exits 2 with one line."""

from imcc.gen import cli, sw
from imcc.gen.config import ClusterConfig
from imcc.tb.bus.elf import Elf
from imcc.rtl.registry import compose


def test_every_app_builds_and_links_where_the_address_map_says(tmp_path, capsys):
    assert cli.main(["sw", "build", "-o", str(tmp_path)]) == 0
    cfg = ClusterConfig()
    for app in sw.apps():
        elf = Elf(tmp_path / f"{app}.elf")
        assert elf.entry == cfg.cores.imem_base
        text = [s for s in elf.segments if s.addr == cfg.cores.imem_base]
        assert text and len(text[0].data) <= cfg.cores.imem_bytes
        for s in elf.segments:
            inside = [w for w in compose(cfg).address_map() if w.contains(s.addr)]
            assert inside and inside[0].name in ("imem", "tcdm"), hex(s.addr)


def test_bad_input_exits_2(tmp_path, capsys):
    assert cli.main(["sw", "build", "-o", str(tmp_path), "nope"]) == 2
    assert cli.main(["sw", "build", "-o", str(tmp_path), "-D", "1x=2", "hello"]) == 2
    assert cli.main(["sw", "build", "--set", "cores.count=0", "-o", str(tmp_path), "hello"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("imcc: error:") for line in err)
