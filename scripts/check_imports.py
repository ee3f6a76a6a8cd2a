"""Import-cycle check of the mmcse package: prints every cycle among its modules, counting imports at
module level and, separately, also those inside functions (a lazy import must not hide a cycle).

    python scripts/check_imports.py        # exit 1 when there is a cycle
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "mmcse"


def modules() -> dict[str, Path]:
    out = {}
    for path in ROOT.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT.parent).with_suffix("").parts)
        out[name.removesuffix(".__init__")] = path
    return out


def imports(tree: ast.AST, known: dict[str, Path], lazy: bool) -> set[str]:
    """Modules of mmcse that ``tree`` imports (``from pkg import sub`` counts as the submodule only)."""
    nodes = ast.walk(tree) if lazy else tree.body
    found = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mmcse"):
            subs = [f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in known]
            found |= set(subs) if len(subs) == len(node.names) else {node.module, *subs}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("mmcse")}
    return {m for m in found if m in known}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}
    stack: list[str] = []
    out = []

    def visit(u: str) -> None:
        state[u] = 1
        stack.append(u)
        for v in sorted(graph[u]):
            if state.get(v) == 1:
                out.append(stack[stack.index(v):] + [v])
            elif v not in state:
                visit(v)
        stack.pop()
        state[u] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    return out


def main() -> int:
    known = modules()
    bad = 0
    for lazy in (False, True):
        graph = {}
        for name, path in known.items():
            tree = ast.parse(path.read_text())
            graph[name] = imports(tree, known, lazy) - {name}
            parent = name.rsplit(".", 1)[0]
            # importing a.b.c runs a/__init__ and a/b/__init__ first
            graph[name] |= {m for m in graph[name] for p in [m.rsplit(".", 1)[0]] if p in known and p != parent and not name.startswith(p + ".")}
        found = cycles(graph)
        print(f"{'with' if lazy else 'without'} imports inside functions: {len(known)} modules, {len(found)} cycles")
        for c in found:
            print("  " + " -> ".join(c))
        bad += len(found)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
