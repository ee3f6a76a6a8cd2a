"""The package layout rules a contributor relies on, as import-linter contracts in pyproject.toml: the
layers (nothing below imports what sits above it), no import cycle inside a subpackage, mmcse never
imports streamlit and only mmcse.viz draws; and the demo's statistics ship as package data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINT = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"


def lint_imports(*args: str) -> subprocess.CompletedProcess:
    """`lint-imports` on this checkout's mmcse (not an installed copy elsewhere)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-c", LINT, "--no-cache", "--no-logo", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)  # fmt: skip


def test_import_contracts_are_kept():
    run = lint_imports(str(REPO / "pyproject.toml"))
    assert run.returncode == 0, run.stdout + run.stderr
    for contract in ("Data flows one way", "No import cycle", "never imports streamlit", "Only mmcse.viz draws"):
        assert contract in run.stdout
    assert "4 kept, 0 broken" in run.stdout and "BROKEN" not in run.stdout


def test_a_broken_contract_is_reported(tmp_path):
    # mmcse.metrics imports mmcse.classes: a layer contract with classes on top must fail
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "mmcse"\n\n[[tool.importlinter.contracts]]\n'
        'name = "inverted"\ntype = "layers"\nlayers = ["mmcse.classes", "mmcse.metrics"]\n'
    )
    run = lint_imports(str(config))
    assert run.returncode == 1
    assert "inverted BROKEN" in run.stdout and "mmcse.metrics -> mmcse.classes" in run.stdout


def test_every_module_but_viz_is_held_to_the_no_plotting_contract():
    import pkgutil

    import mmcse

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    no_plots = next(c for c in contracts if c["id"] == "core-without-plots")
    top_level = {f"mmcse.{m.name}" for m in pkgutil.iter_modules(mmcse.__path__)} - {"mmcse.__main__"}
    assert set(no_plots["source_modules"]) == top_level - {"mmcse.viz"}
    assert {"plotly", "matplotlib", "streamlit", "mmcse.viz"} <= set(no_plots["forbidden_modules"])


def test_llp_statistics_are_package_data():
    from mmcse.demo import procedural

    assert procedural.STATS_PATH.parent == Path(procedural.__file__).parent
    assert procedural.load_stats()["classes"]
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '"mmcse.demo" = ["llp_stats.json"]' in pyproject
