"""The dashboard's Streamlit settings (.streamlit/config.toml) that its speed relies on."""
from __future__ import annotations

import ast
import tomllib
from pathlib import Path

from streamlit.runtime.scriptrunner import magic

ROOT = Path(__file__).resolve().parent.parent


def test_no_file_watching_no_magic_and_no_collection_after_every_run():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["fileWatcherType"] == "none"
    assert config["runner"]["magicEnabled"] is False and config["runner"]["postScriptGC"] is False


def test_no_page_relies_on_magic():
    """With magic off, a bare expression on its own line would silently show nothing: no script
    has one (Streamlit's own rewriting finds none to display)."""
    scripts = [ROOT / "dashboard.py", *sorted((ROOT / "pages").glob("*.py"))]
    assert len(scripts) > 5
    for script in scripts:
        tree = magic.add_magic(script.read_text(encoding="utf-8"), str(script))
        shown = [ast.unparse(node) for node in ast.walk(tree)
                 if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "transparent_write"]
        assert shown == [], f"{script.name} relies on Streamlit magic: {shown}"
    # The check finds magic where there is some.
    tree = magic.add_magic("import streamlit as st\ntotal = 3\ntotal\n", "example.py")
    assert any(getattr(n.func, "attr", "") == "transparent_write" for n in ast.walk(tree) if isinstance(n, ast.Call))
