"""The first-run demo builder reads the build's progress file (written by mmcse.demo.build.progress_file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmcse.demo.build import progress_file
from pages._demo_builder import read_progress


@pytest.mark.parametrize(
    "call, fraction, text",
    [
        ((240, 1950, "clips"), 240 / 1950, "Building the demo: rendering clips, 240 of 1,950..."),
        ((0, 30, "training mmcse"), 0.0, "Building the demo: training mmcse, 30 epochs (a few minutes)..."),
        ((10, 10, "training han"), 1.0, "Building the demo: training han, 10 epochs (done)..."),
        ((0, 1, "quality"), 0.0, "Building the demo: measuring what the demo MM-CSE learned..."),
    ],
)
def test_the_progress_shown_is_the_builds(tmp_path, call, fraction, text):
    progress_file(tmp_path / "p.json")(*call)
    assert read_progress(tmp_path / "p.json") == (pytest.approx(fraction), text)


def test_no_or_a_broken_progress_file_shows_a_start(tmp_path):
    assert read_progress(tmp_path / "none.json") == (0.0, "Building the demo: starting...")
    (tmp_path / "bad.json").write_text('{"done": "x"')
    assert read_progress(tmp_path / "bad.json") == (0.0, "Building the demo: starting...")


class RunningBuild:
    """Stands for the background `python -m mmcse demo` process: still running, or ended with ``code``."""

    def __init__(self, code: int | None = None):
        self.returncode = code

    def poll(self) -> int | None:
        return self.returncode


def _first_run_app(monkeypatch, tmp_path, build: RunningBuild, progress: tuple | None):
    from streamlit.testing.v1 import AppTest

    from pages import _demo_builder

    repo = Path(__file__).resolve().parents[2]
    for name in ("MMCSE_DATA_ROOT", "MMCSE_RUNS"):
        monkeypatch.setenv(name, str(tmp_path / "nothing"))
    monkeypatch.setenv("MMCSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(_demo_builder, "PROGRESS", tmp_path / "progress.json")
    monkeypatch.setattr(_demo_builder, "LOG", tmp_path / "build.log")
    monkeypatch.setattr(_demo_builder, "_builds", lambda: {"demo": build})
    if progress:
        progress_file(tmp_path / "progress.json")(*progress)
    (tmp_path / "build.log").write_text("rendering 1950 clips\nValueError: the disk is full\n")
    at = AppTest.from_file(str(repo / "app.py"), default_timeout=120)
    at.session_state["data_root"] = ""
    return at.run()


def test_the_first_run_page_shows_the_running_builds_progress(monkeypatch, tmp_path):
    at = _first_run_app(monkeypatch, tmp_path, RunningBuild(), (480, 1950, "clips"))
    assert not at.exception, [e.value for e in at.exception]
    bar = at.get("progress")[0].proto
    assert bar.value == int(100 * 480 / 1950) and bar.text == "Building the demo: rendering clips, 480 of 1,950..."
    from mmcse.commands._common import build_demo_advice

    assert any(build_demo_advice() in i.value for i in at.info)  # the words every command uses


def test_a_failed_build_shows_its_last_log_line(monkeypatch, tmp_path):
    at = _first_run_app(monkeypatch, tmp_path, RunningBuild(code=2), None)
    assert not at.exception, [e.value for e in at.exception]
    assert any("The demo build failed (exit 2): ValueError: the disk is full" in e.value for e in at.error)
