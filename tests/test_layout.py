"""The package layout rules a contributor relies on: no import cycles (lazy imports included), mmcse
never imports streamlit, and the demo's statistics ship as package data."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _checker():
    spec = importlib.util.spec_from_file_location("check_imports", REPO / "scripts" / "check_imports.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_no_import_cycles_even_through_lazy_imports():
    checker = _checker()
    known = checker.modules()
    assert "mmcse.training.loop" in known and "mmcse.models.official" in known
    for lazy in (False, True):
        graph = {name: checker.imports(__import__("ast").parse(p.read_text()), known, lazy) - {name}
                 for name, p in known.items()}  # fmt: skip
        assert checker.cycles(graph) == []
    # the checker does find a cycle when there is one
    assert checker.cycles({"a": {"b"}, "b": {"a"}}) == [["a", "b", "a"]]


def test_the_library_never_imports_streamlit():
    offenders = [p for p in (REPO / "mmcse").rglob("*.py") if "import streamlit" in p.read_text()]
    assert offenders == []


def test_llp_statistics_are_package_data():
    from mmcse.demo import procedural

    assert procedural.STATS_PATH.parent == Path(procedural.__file__).parent
    assert procedural.load_stats()["classes"]
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '"mmcse.demo" = ["llp_stats.json"]' in pyproject
