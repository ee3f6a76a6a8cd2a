"""The documentation is tested: every bash block of README.md and docs/*.md carries a marker (see
CONTRIBUTING.md, "Documentation tests"). Runnable blocks are run on the shipped demo from a temporary folder
and their output is compared with the ```text block that follows them; the others have each
`python -m mmcse COMMAND --flag ...` line checked against the command's --help."""

from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC_FILES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
MARKER = re.compile(r"<!--\s*docs-test:\s*(run|run slow|skip [a-z-]+)\s*-->")
SKIP_REASONS = {"llp", "gpu", "full-demo", "backbones", "install", "app", "long"}
LINKED_INTO_CWD = ("assets", "examples")  # what runnable blocks read, reachable from their temporary folder
BLOCK_TIMEOUT_S = 600


@dataclass
class Block:
    file: Path
    line: int  # 1-based line of the opening fence
    marker: str | None
    code: str
    expected: str | None  # the ```text block right after it, if any

    @property
    def id(self) -> str:
        return f"{self.file.relative_to(REPO)}:{self.line}"


def _fences(lines: list[str]):
    """(language, first line index, body lines) of every fenced block; fences start at column 0."""
    i = 0
    while i < len(lines):
        if lines[i].startswith("```"):
            lang, start, body = lines[i][3:].strip(), i, []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            yield lang, start, body
        i += 1


def doc_blocks(path: Path) -> list[Block]:
    lines = path.read_text().split("\n")
    fences = list(_fences(lines))
    blocks = []
    for k, (lang, start, body) in enumerate(fences):
        if lang not in ("bash", "sh", "shell", "console"):
            continue
        before = next((lines[j] for j in range(start - 1, -1, -1) if lines[j].strip()), "")
        found = MARKER.fullmatch(before.strip())
        expected = None
        if k + 1 < len(fences) and fences[k + 1][0] == "text":
            end = start + len(body) + 1  # the closing fence
            between = lines[end + 1 : fences[k + 1][1]]
            if all(not line.strip() for line in between):
                expected = "\n".join(fences[k + 1][2])
        blocks.append(Block(path, start + 1, found.group(1) if found else None, "\n".join(body), expected))
    return blocks


ALL_BLOCKS = [b for f in DOC_FILES for b in doc_blocks(f)]
RUNNABLE = [b for b in ALL_BLOCKS if b.marker in ("run", "run slow")]


# ----------------------------------------------------------------------------- output comparison


def output_matches(expected: str, actual: str) -> tuple[bool, str]:
    """Whether ``actual`` holds the expected lines in order, each exactly (trailing spaces aside); a line
    ``...`` in ``expected`` stands for any number of lines, and lines before the first and after the last
    expected line are allowed. Returns (ok, a short explanation)."""
    want = [line.rstrip() for line in expected.strip("\n").split("\n")]
    got = [line.rstrip() for line in actual.split("\n")]
    groups: list[list[str]] = [[]]
    for line in want:
        if line == "...":
            groups.append([])
        else:
            groups[-1].append(line)
    groups = [g for g in groups if g]
    pos = 0
    for group in groups:
        for start in range(pos, len(got) - len(group) + 1):
            if got[start : start + len(group)] == group:
                pos = start + len(group)
                break
        else:
            return False, f"not found in order (from output line {pos + 1}):\n" + "\n".join(group)
    return True, ""


def test_output_matching_is_exact_to_the_printed_digits():
    out = "warning: x\nSegment      92.15     91.10\nEvent        89.65\ntimings 3 s\n"
    assert output_matches("Segment      92.15     91.10\nEvent        89.65", out)[0]
    assert output_matches("Segment      92.15     91.10\n...\ntimings 3 s", out)[0]
    assert not output_matches("Segment      92.15     91.11", out)[0]  # one digit off
    assert not output_matches("Segment      92.1      91.10", out)[0]
    assert not output_matches("Event        89.65\nSegment      92.15     91.10", out)[0]  # order
    assert not output_matches("Segment      92.15     91.10\ntimings 3 s", out)[0]  # a line left out needs ...


def test_blocks_are_found_with_their_markers_and_outputs(tmp_path):
    doc = tmp_path / "x.md"
    doc.write_text("<!-- docs-test: run -->\n```bash\necho 1\n```\n\n```text\n1\n```\n\n```bash\nls\n```\n")
    first, second = doc_blocks(doc)
    assert (first.marker, first.code, first.expected) == ("run", "echo 1", "1")
    assert (second.marker, second.expected) == (None, None)


# ----------------------------------------------------------------------------- every block is marked


def test_every_bash_block_is_marked():
    unmarked = [b.id for b in ALL_BLOCKS if b.marker is None]
    assert not unmarked, f"bash blocks without a <!-- docs-test: ... --> marker: {unmarked}"
    bad = [(b.id, b.marker) for b in ALL_BLOCKS if b.marker.startswith("skip") and b.marker[5:] not in SKIP_REASONS]
    assert not bad, f"unknown skip reasons (known: {sorted(SKIP_REASONS)}): {bad}"


def test_the_readme_quickstart_runs_and_shows_its_output():
    readme = [b for b in RUNNABLE if b.file.name == "README.md"]
    assert len(readme) >= 3 and all(b.expected for b in readme)


# ----------------------------------------------------------------------------- flags exist


@functools.cache
def _help(command: str) -> str:
    result = subprocess.run([sys.executable, "-m", "mmcse", *([command] if command else []), "--help"],
                            capture_output=True, text=True, cwd=REPO, env=_env())  # fmt: skip
    assert result.returncode == 0, f"`python -m mmcse {command} --help` failed: {result.stderr}"
    return result.stdout


def _logical_lines(code: str):
    joined = re.sub(r"\\\n\s*", " ", code)
    for line in joined.split("\n"):
        line = line.split(" # ")[0].strip()
        if line and not line.startswith("#"):
            yield line


def mmcse_calls(code: str) -> list[tuple[str, list[str]]]:
    """(command, its --flags) of every `python -m mmcse COMMAND ...` / `-m mmcse COMMAND` in the block."""
    calls = []
    for line in _logical_lines(code):
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        for k in range(len(words) - 2):
            if words[k] == "-m" and words[k + 1] == "mmcse":
                rest = words[k + 2 :]
                calls.append((rest[0], [w.split("=")[0] for w in rest[1:] if w.startswith("--")]))
    return calls


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=lambda b: b.id)
def test_commands_and_flags_exist(block):
    commands = _help("")
    for command, flags in mmcse_calls(block.code):
        assert re.search(rf"^\s+{re.escape(command)}\b", commands, re.M), f"{block.id}: no command {command!r}"
        text = _help(command)
        missing = [f for f in flags if not re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", text)]
        assert not missing, f"{block.id}: `mmcse {command}` has no {missing} (see `python -m mmcse {command} --help`)"


def test_the_flag_check_can_fail():
    calls = mmcse_calls("python -m mmcse evaluate --checkpoint x \\\n  --no-such-flag 1  # comment --nope")
    assert calls == [("evaluate", ["--checkpoint", "--no-such-flag"])]
    assert "--no-such-flag" not in _help("evaluate")


# ----------------------------------------------------------------------------- runnable blocks


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"  # stdout and stderr interleaved as printed
    env.setdefault("OMP_NUM_THREADS", "1")
    env.setdefault("MKL_NUM_THREADS", "1")
    return env


def _snapshot(folder: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime for p in folder.rglob("*")}


def _params() -> list:
    return [pytest.param(b, id=b.id, marks=[pytest.mark.slow] if b.marker == "run slow" else [])
            for b in RUNNABLE]  # fmt: skip


@pytest.mark.parametrize("block", _params())
def test_runnable_block(block, tmp_path):
    for name in LINKED_INTO_CWD:
        (tmp_path / name).symlink_to(REPO / name)
    bin_dir = tmp_path / ".bin"  # `python` in a block is the interpreter running the tests
    bin_dir.mkdir()
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    (bin_dir / "python").chmod(0o755)
    env = _env()
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["MMCSE_CACHE"] = str(tmp_path / ".cache")
    env["MMCSE_FEATURE_CACHE"] = str(tmp_path / ".cache" / "features")
    before = _snapshot(REPO / "assets")
    result = subprocess.run(["bash", "-c", "set -eo pipefail\n" + block.code], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            timeout=BLOCK_TIMEOUT_S)  # fmt: skip
    assert result.returncode == 0, f"{block.id} exited {result.returncode}:\n{result.stdout[-3000:]}"
    if block.expected is not None:
        ok, why = output_matches(block.expected, result.stdout)
        assert ok, f"{block.id}: the documented output is {why}\n--- printed ---\n{result.stdout[-4000:]}"
    assert _snapshot(REPO / "assets") == before, f"{block.id} wrote into the repository's assets/"


# ----------------------------------------------------------------------------- the README's set-up and links


def test_the_readme_opens_with_the_two_setup_commands_that_ci_runs():
    first = ALL_BLOCKS[0]
    assert first.file.name == "README.md" and first.line < 10
    app_line, test_line = [line for line in first.code.split("\n") if line.startswith("python3 -m venv")]
    assert app_line.endswith('pip install -e ".[app]" && streamlit run app.py')
    assert test_line.endswith('pip install -e ".[dev]" && python -m pytest -q')
    ci = (REPO / ".ci" / "run").read_text()
    assert 'pip install -q -e ".[dev]"' in ci and "python -m pytest -q" in ci  # keep the two in step


@pytest.mark.parametrize("doc", [*DOC_FILES, REPO / "CONTRIBUTING.md"], ids=lambda p: p.name)
def test_local_links_resolve(doc):
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
        if not re.match(r"[a-z]+://", target):
            assert (doc.parent / target).exists(), f"{doc.name} links to {target}, which does not exist"
