"""A command pointed at the full demo (demo_data/) before it is built says what to do instead, in the
same words everywhere: use the compact demo shipped in assets/demo, or build the full one. The compact
demo's empty train split says why train and calibrate cannot use it."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmcse.cli import main
from mmcse.commands._common import build_demo_advice, missing_demo_advice

REPO = Path(__file__).resolve().parents[2]
COMPACT = REPO / "assets" / "demo"
ADVICE = missing_demo_advice("demo_data/runs/mmcse")  # demo_data is never built in the test's cwd


@pytest.fixture(autouse=True)
def _in_empty_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # demo_data/ does not exist here


def test_advice_names_the_compact_demo_and_the_build_command():
    assert ADVICE.startswith("; demo_data is the full demo, which is not built here")
    assert "--data-root assets/demo" in ADVICE and "assets/demo/runs/mmcse" in ADVICE
    assert build_demo_advice("demo_data") in ADVICE
    assert "`python -m mmcse demo --out demo_data`" in ADVICE


def test_no_advice_for_other_paths_or_a_built_demo(tmp_path):
    assert missing_demo_advice("runs/mmcse/best.safetensors") == ""
    assert missing_demo_advice("my_demo_data/x") == ""  # only a folder named exactly demo_data
    (tmp_path / "demo_data").mkdir()
    assert missing_demo_advice("demo_data/runs/mmcse") == ""


@pytest.mark.parametrize(
    "argv",
    [
        ["evaluate", "--checkpoint", "demo_data/runs/mmcse/best.safetensors", "--data-root", "demo_data"],
        ["compare", "demo_data/runs/mmcse", "demo_data/runs/han", "--data-root", "demo_data"],
        ["parse", "demo_data/videos/demoe000000_240_250.mp4", "--checkpoint", "demo_data/runs/mmcse", "--out", "p"],
        ["calibrate", "demo_data/runs/mmcse", "--data-root", "demo_data", "--out", "c.safetensors"],
        ["evaluate", "--checkpoint", str(COMPACT / "runs" / "mmcse"), "--data-root", "demo_data"],
    ],
    ids=["evaluate", "compare", "parse", "calibrate", "evaluate-data-root"],
)
def test_every_command_gives_the_same_advice(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err  # one line, no traceback
    assert err[0].startswith("error: ") and err[0].endswith(ADVICE), err[0]


def test_the_advice_runs_as_written(capsys):
    """What the advice says to use instead exists and works: the compact demo's checkpoint on its data."""
    assert main(["evaluate", "--checkpoint", str(COMPACT / "runs" / "mmcse"), "--data-root", str(COMPACT),
                 "--split", "val"]) == 0  # fmt: skip
    assert "split val (60 clips)" in capsys.readouterr().out


@pytest.mark.parametrize("command", ["train", "calibrate"])
def test_compact_demo_train_split_says_why_it_is_empty(command, capsys):
    argv = (["train", "--data-root", str(COMPACT), "--features", "demo", "--out", "run"] if command == "train"
            else ["calibrate", str(COMPACT / "runs" / "mmcse"), "--data-root", str(COMPACT), "--out", "c.safetensors"])  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "lists no clips" in err
    assert "is the compact demo, which ships the val and test clips only" in err
    assert err.endswith(f"to train, calibrate or ablate, {build_demo_advice()} and give --data-root demo_data")
    assert not Path("run").exists() and not Path("c.safetensors").exists()
