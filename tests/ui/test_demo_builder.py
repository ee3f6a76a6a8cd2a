"""The first-run demo builder reads the build's progress file (written by mmcse.demo.build.progress_file)."""

from __future__ import annotations

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
