"""Bad input never gets a traceback or a half-written output, by class of failure: output paths that
are folders or under files, same-named inputs, non-videos among good videos, out-of-range numbers, run
folders as checkpoints, files with the umask's permissions, arguments refused before torch loads."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import numpy as np
import pytest

from mmcse.cli import main
from mmcse.config import DEMO_FEATURES
from mmcse.demo.procedural import render_audio, render_frames, sample_clip


def _parse(*args) -> int:
    return main(["parse", *map(str, args), "--segment-threshold", "0.02", "--video-threshold", "0.02"])


def test_same_names_from_different_folders_get_distinct_outputs(tmp_path, run_dir, clips):
    assert _parse(clips["a"], clips["b"], "--checkpoint", run_dir, "--out", tmp_path / "o",
                  "--annotated", tmp_path / "ann") == 0  # fmt: skip
    outputs = sorted(p.name for p in (tmp_path / "o").iterdir())
    assert outputs == ["a__clip.json", "a__clip.tsv", "b__clip.json", "b__clip.tsv"]
    a, b = (json.loads((tmp_path / "o" / f"{k}__clip.json").read_text()) for k in ("a", "b"))
    assert a["segment_prob_audio"] != b["segment_prob_audio"]  # each file holds its own video
    assert sorted(p.name for p in (tmp_path / "ann").iterdir()) == ["a__clip.annotated.mp4", "b__clip.annotated.mp4"]


@pytest.mark.parametrize("name,seconds", [("short2", 2), ("short3", 3)])
def test_short_videos_report_only_their_real_seconds(tmp_path, run_dir, clips, name, seconds):
    assert _parse(clips[name], "--checkpoint", run_dir, "--out", tmp_path) == 0  # low thresholds: many events
    record = json.loads((tmp_path / f"{name}.json").read_text())
    assert record["segment_real"] == [True] * seconds + [False] * (10 - seconds)
    assert all(row is None for row in record["segment_prob_audio"][seconds:])
    assert record["events"] and all(0 <= ev["onset"] < ev["offset"] <= record["duration"] + 1e-6
                                    for ev in record["events"])  # fmt: skip
    tsv = (tmp_path / f"{name}.tsv").read_text().splitlines()
    assert tsv[0].startswith("# warning: ") and "only its first" in tsv[0]
    rows = [line.split("\t") for line in tsv[2:]]
    assert rows and all(float(r[1]) < float(r[2]) <= record["duration"] + 1e-6 for r in rows)


def test_a_short_window_is_read_looped_so_the_model_sees_only_the_video():
    """The features of a 2-s video equal those of the same 2 s repeated five times: no made-up frames or
    silence reach the model, so clip-level probabilities come from the video alone."""
    from mmcse.demo.features import DemoExtractor

    spec = sample_clip("test", 3, seed=7)
    frames, audio = render_frames(spec, 8)[:16], render_audio(spec)[:32000]  # 2 s
    looped = DemoExtractor().extract_arrays(np.concatenate([frames] * 5), np.concatenate([audio] * 5))
    short = DemoExtractor().extract_arrays(frames, audio)
    assert short.real_seconds == [2.0] and looped.real_seconds == [10.0]
    for key in ("audio", "visual", "visual_st"):
        np.testing.assert_allclose(short.windows[0][key], looped.windows[0][key], rtol=1e-5, atol=1e-6)


def test_bad_videos_are_reported_and_the_good_ones_still_parsed(tmp_path, run_dir, clips, capsys):
    rc = _parse(clips["empty"], clips["a"], clips["text"], clips["audio"], "--checkpoint", run_dir,
                "--out", tmp_path / "o")  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 1
    assert "empty.mp4: an empty file, not a video" in err
    assert "notes.mp4: not a video file (ffmpeg cannot read it" in err
    assert "tone.m4a: an audio file without a video stream; the model needs frames" in err
    assert "3 of 4 videos could not be parsed" in err and "Traceback" not in err
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["clip.json", "clip.tsv"]


@pytest.mark.parametrize("case", ["out_is_file", "annotated_under_file", "annotated_mkv", "annotated_two_videos",
                                  "checkpoint_folder_without_run", "empty_checkpoint", "threshold_nan"])  # fmt: skip
def test_parse_argument_errors_are_one_line_and_write_nothing(tmp_path, run_dir, clips, capsys, case):
    a_file = tmp_path / "taken.txt"
    a_file.write_text("x")
    (tmp_path / "empty.safetensors").write_bytes(b"")
    args = {
        "out_is_file": [clips["a"], "--checkpoint", run_dir, "--out", a_file],
        "annotated_under_file": [clips["a"], "--checkpoint", run_dir, "--out", tmp_path / "o",
                                 "--annotated", a_file / "x.mp4"],
        "annotated_mkv": [clips["a"], "--checkpoint", run_dir, "--out", tmp_path / "o", "--annotated", tmp_path / "c.mkv"],
        "annotated_two_videos": [clips["a"], clips["b"], "--checkpoint", run_dir, "--out", tmp_path / "o",
                                 "--annotated", tmp_path / "c.mp4"],
        "checkpoint_folder_without_run": [clips["a"], "--checkpoint", tmp_path, "--out", tmp_path / "o"],
        "empty_checkpoint": [clips["a"], "--checkpoint", tmp_path / "empty.safetensors", "--out", tmp_path / "o"],
        "threshold_nan": [clips["a"], "--checkpoint", run_dir, "--segment-threshold", "nan"],
    }[case]  # fmt: skip
    assert main(["parse", *map(str, args)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")
    assert not (tmp_path / "o").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["empty.safetensors", "taken.txt"]


def test_a_run_folder_is_accepted_as_checkpoint(tmp_path, run_dir, clips):
    assert _parse(clips["a"], "--checkpoint", run_dir, "--out", tmp_path) == 0
    record = json.loads((tmp_path / "clip.json").read_text())
    assert record["checkpoint"]["file"] == "best.safetensors" and len(record["checkpoint"]["sha256"]) == 64


@pytest.mark.parametrize("flag,value", [("--segment-threshold", "1.5"), ("--segment-threshold", "-1"),
                                        ("--video-threshold", "nan"), ("--batch-size", "0"), ("--batch-size", "-3")])  # fmt: skip
def test_evaluate_refuses_out_of_range_numbers_like_parse(tmp_path, run_dir, capsys, flag, value):
    assert main(["evaluate", "--checkpoint", str(run_dir), "--data-root", str(tmp_path), flag, value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and flag in err[0] and value in err[0]


def test_evaluate_json_into_a_folder_is_refused_without_leftovers(tmp_path, run_dir, capsys):
    target = tmp_path / "reports"
    target.mkdir()
    assert main(["evaluate", "--checkpoint", str(run_dir), "--data-root", str(tmp_path), "--json", str(target)]) == 2
    assert "--json" in capsys.readouterr().err and list(tmp_path.iterdir()) == [target]
    assert list(target.iterdir()) == []


def test_train_out_and_epoch_counts(tmp_path, capsys):
    a_file = tmp_path / "taken"
    a_file.write_text("x")
    assert main(["train", "--out", str(a_file), "--data-root", str(tmp_path), "--features", "demo"]) == 2
    assert "is a file" in capsys.readouterr().err
    assert main(["train", "--out", str(tmp_path / "r"), "--stop-after-epochs", "0", "--data-root", str(tmp_path)]) == 2
    assert "--stop-after-epochs" in capsys.readouterr().err and not (tmp_path / "r").exists()


def test_import_official_never_overwrites_silently(tmp_path, capsys):
    out = tmp_path / "model.safetensors"
    out.write_bytes(b"precious")
    (tmp_path / "x.pth").write_bytes(b"weights")
    assert main(["import-official", str(tmp_path / "x.pth"), "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err and out.read_bytes() == b"precious"


def test_written_files_get_the_umask_permissions(tmp_path, run_dir, clips):
    """Checkpoints, annotated videos, packed stores and parse outputs are temp files renamed into place:
    they must end up readable by teammates (0644 / 0755 under umask 022), not 0600 / 0700."""
    from mmcse.checkpoint import load_checkpoint, save_checkpoint
    from mmcse.data.features import pack_features
    from mmcse.data.synthetic import write_synthetic_dataset

    old = os.umask(0o022)
    try:
        loaded = load_checkpoint(run_dir / "best.safetensors")
        save_checkpoint(tmp_path / "ck.safetensors", loaded.model, model_config=loaded.model_config,
                        feature_spec=loaded.feature_spec)  # fmt: skip
        assert _parse(clips["a"], "--checkpoint", run_dir, "--out", tmp_path / "o", "--annotated", tmp_path / "a.mp4") == 0
        data = write_synthetic_dataset(tmp_path / "syn", DEMO_FEATURES, n_train=3, n_val=0, n_test=0)
        ids = [f[:11] for f in data.filenames["train"]]
        packed = pack_features(data.feature_root, DEMO_FEATURES, ids, tmp_path / "packed", progress=False)
    finally:
        os.umask(old)
    for path in (tmp_path / "ck.safetensors", tmp_path / "a.mp4", tmp_path / "o" / "clip.tsv", packed / "index.json"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    assert stat.S_IMODE(packed.stat().st_mode) == 0o755


def test_bad_arguments_are_refused_before_torch_is_imported(tmp_path, clips, run_dir):
    code = (
        "import sys; from mmcse.cli import main; "
        f"rc = main(['parse', {str(clips['empty'])!r}, '--checkpoint', {str(run_dir)!r}, '--out', {str(tmp_path / 'o')!r}]); "
        f"rc2 = main(['evaluate', '--checkpoint', {str(tmp_path)!r}, '--data-root', '.']); "
        "print(rc, rc2, 'torch' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.split() == ["1", "2", "False"], proc.stderr


def test_an_unexpected_error_is_still_one_line(monkeypatch, capsys):
    from mmcse.commands import pack

    def boom(args):
        raise RuntimeError("something\nbroke")

    monkeypatch.setattr(pack, "run", boom)
    assert main(["pack", "--features", "demo", "--feature-root", ".", "--out", "x", "--split-csv", "y"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unexpected RuntimeError: something broke" in err[0]


@pytest.mark.parametrize("flag,value", [("--workers", "99999999999999999999"), ("--workers", "65"), ("--workers", "0"),
                                        ("--epochs", "99999999999999999999"), ("--epochs", "nan")])  # fmt: skip
def test_demo_refuses_worker_and_epoch_counts_it_cannot_run(tmp_path, capsys, flag, value):
    """Every render worker is started at once (a huge --workers would fork until the machine gives out),
    and --epochs follows train's bound: one line naming the flag, exit 2, no --out folder."""
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--no-train", "--videos", "none", flag, value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: argument {flag}: ") and value in err[0], err
    assert not out.exists()


@pytest.mark.parametrize("command,flag", [("train", "--threads"), ("bench", "--threads"),
                                          ("bench-store", "--torch-threads")])  # fmt: skip
@pytest.mark.parametrize("value", ["99999999999999999999", "1025", "0"])
def test_thread_counts_torch_cannot_take_are_refused_by_name(capsys, command, flag, value):
    """torch.set_num_threads takes a C int ("Overflow when unpacking long long" after loading torch):
    refused at once, naming the flag and the range."""
    assert main([command, flag, value]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: argument {flag}: {value} is out of range; give 1 to 1,024 "
                   f"(see python -m mmcse {command} --help)"]  # fmt: skip
