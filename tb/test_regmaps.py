"""Register descriptions are the single source: the committed docs tables and
the generated C headers / Python constants agree with them."""

from pathlib import Path

import pytest

from imcc.gen.config import ClusterConfig
from imcc.gen.regmap import outputs, register_maps

DOCS = Path(__file__).resolve().parent.parent / "docs"
CFG = ClusterConfig()


@pytest.mark.parametrize("rm, base", register_maps(CFG), ids=lambda x: getattr(x, "name", ""))
def test_docs_table_is_generated(rm, base):
    doc = DOCS / f"{rm.name}-registers.md"
    assert doc.exists(), f"missing {doc}: write it with scripts/update_register_docs.py"
    assert doc.read_text() == rm.markdown(base), (
        f"{doc.name} differs from the register description: run scripts/update_register_docs.py")


@pytest.mark.parametrize("rm, base", register_maps(CFG), ids=lambda x: getattr(x, "name", ""))
def test_header_and_constants_agree(rm, base):
    files = outputs(CFG)
    header = files[f"imcc_{rm.name}.h"]
    consts = rm.namespace(base)
    for r in rm.registers:
        assert getattr(consts, r.name) == r.offset
        assert f"IMCC_{rm.name.upper()}_{r.name}" in header
