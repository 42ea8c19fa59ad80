#!/usr/bin/env python3
"""Rewrite docs/<block>-registers.md from the register descriptions (default
configuration).  tb/test_regmaps.py fails when they drift apart."""

from pathlib import Path

from imcc.gen.config import ClusterConfig
from imcc.gen.regmap import register_maps

docs = Path(__file__).resolve().parent.parent / "docs"
for rm, base in register_maps(ClusterConfig()):
    path = docs / f"{rm.name}-registers.md"
    path.write_text(rm.markdown(base))
    print(f"wrote {path}")
