"""The package layout rules a contributor relies on, as import-linter contracts in pyproject.toml: the
layers (nothing below imports what sits above it), no import cycle inside a subpackage, mmcse never
imports streamlit and only mmcse.viz draws; and the demo's statistics ship as package data."""

from __future__ import annotations

import functools
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


# ----------------------------------------------------------------------------- declared dependencies


def _third_party_imports(path: Path) -> dict[str, bool]:
    """Top-level names of third-party modules that ``path`` imports -> whether some import of it runs when
    the module is imported (module level, not inside a function or an ``if TYPE_CHECKING:`` block)."""
    import ast

    found: dict[str, bool] = {}

    def visit(node: ast.AST, eager: bool) -> None:
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            local = (path.parent / f"{top}.py").exists()  # a sibling script (scripts/measure_app.py)
            if top not in sys.stdlib_module_names and top not in ("mmcse", "pages", "__future__") and not top.startswith("_") and not local:
                found[top] = found.get(top, False) or eager
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            eager = False
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            eager = False
        for child in ast.iter_child_nodes(node):
            visit(child, eager)

    visit(ast.parse(path.read_text()), True)
    return found


def _declared() -> dict[str, set[str]]:
    """pyproject's requirement names by group: "core" and each extra (normalised as pip does)."""
    import re

    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]

    def names(reqs: list[str]) -> set[str]:
        return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in reqs}

    return {"core": names(project["dependencies"]),
            **{k: names(v) for k, v in project["optional-dependencies"].items()}}  # fmt: skip


@functools.cache
def _providers() -> dict[str, list[str]]:
    from importlib.metadata import packages_distributions

    return packages_distributions()


def _distribution(module: str) -> str:
    """The pip name that provides an importable top-level module (PIL -> pillow)."""
    dists = _providers().get(module) or [module]
    return dists[0].lower().replace("_", "-")


def test_every_third_party_import_is_declared_where_it_is_needed():
    declared = _declared()
    anywhere = set().union(*declared.values())
    problems = []
    sources = [*(REPO / "mmcse").rglob("*.py"), *(REPO / "pages").rglob("*.py"), REPO / "app.py",
               *(REPO / "scripts").rglob("*.py")]  # fmt: skip
    for path in sources:
        rel = path.relative_to(REPO).as_posix()
        for module, eager in _third_party_imports(path).items():
            dist = _distribution(module)
            if dist not in anywhere:
                problems.append(f"{rel}: imports {module} ({dist}), declared nowhere in pyproject.toml")
            elif rel.startswith("mmcse/viz/") and eager and dist not in declared["core"] | declared["viz"]:
                problems.append(f"{rel}: imports {module} ({dist}) at module level, not in the core or viz extra")
            elif rel.startswith("mmcse/") and not rel.startswith("mmcse/viz/") and eager and dist not in declared["core"]:
                problems.append(f"{rel}: imports {module} ({dist}) at module level, not a core dependency")
    assert problems == []
    # the library and the CLI install without the app's packages
    assert not {"streamlit", "plotly", "matplotlib"} & declared["core"]


def test_the_dependency_check_sees_imports_and_their_timing(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\nimport numpy as np\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n"
        "def f():\n    from PIL import Image\n    import numpy.linalg\n"
    )
    assert _third_party_imports(sample) == {"numpy": True, "torch": False, "PIL": False}
    assert _distribution("PIL") == "pillow" and _distribution("sklearn") == "scikit-learn"


BLOCK_APP_PACKAGES = "import sys\nfor name in ('streamlit', 'plotly', 'matplotlib'):\n    sys.modules[name] = None\n"


def test_every_library_module_imports_without_the_app_packages():
    # sys.modules[name] = None makes `import name` fail, as in an install without the viz / app extras
    code = BLOCK_APP_PACKAGES + (
        "import importlib, pkgutil, mmcse\n"
        "names = [m.name for m in pkgutil.walk_packages(mmcse.__path__, 'mmcse.')\n"
        "         if not m.name.startswith('mmcse.viz') and m.name != 'mmcse.__main__']\n"
        "for name in names:\n    importlib.import_module(name)\n"
        "print(len(names))\n"
        "try:\n    import mmcse.viz\nexcept ModuleNotFoundError as e:\n    print(e)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    count, message = run.stdout.splitlines()
    assert int(count) > 80  # the whole library, commands and benchmarks included
    assert message == ("mmcse.viz needs plotly and matplotlib, which are not installed: pip install -e .[viz] "
                       "(or .[app] for the app)")  # fmt: skip
