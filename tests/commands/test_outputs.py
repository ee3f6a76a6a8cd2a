"""The one rule for outputs, command by command: an output never replaces an input (same path, hard link,
or a folder holding it), an existing output needs --overwrite, a failed write leaves nothing behind, and
a run folder has one writer at a time."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmcse.cli import main
from mmcse.training import runs


def _digest(path: Path) -> bytes:
    return path.read_bytes()


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


@pytest.fixture
def checkpoint(tmp_path, run_dir) -> Path:
    """A private copy of the tiny checkpoint (tests may try to destroy it)."""
    path = tmp_path / "model.safetensors"
    shutil.copy(run_dir / "best.safetensors", path)
    return path


# ------------------------------------------------------------------------------- outputs never touch inputs


def test_evaluate_json_onto_its_checkpoint_is_refused_even_with_overwrite(tmp_path, checkpoint, capsys):
    before = _digest(checkpoint)
    link = tmp_path / "link.json"
    os.link(checkpoint, link)  # a hard link: another name, the same file
    for args in (["--json", str(link)], ["--json", str(link), "--overwrite"]):
        assert main(["evaluate", "--checkpoint", str(checkpoint), "--data-root", str(tmp_path), *args]) == 2
        assert "is the checkpoint being scored" in _one_error_line(capsys)
    assert _digest(checkpoint) == before


def test_evaluate_json_must_be_a_json_file(tmp_path, checkpoint, capsys):
    before = _digest(checkpoint)
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--data-root", str(tmp_path),
                 "--json", str(checkpoint), "--overwrite"]) == 2  # fmt: skip
    assert "--json" in _one_error_line(capsys) and _digest(checkpoint) == before


def test_evaluate_json_onto_a_split_csv_is_refused(tmp_path, checkpoint, capsys):
    csv = tmp_path / "my_test.json"  # a CSV override that happens to carry the name asked for
    csv.write_text("filename\tevent_labels\n")
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--data-root", str(tmp_path), "--split-csv", str(csv),
                 "--json", str(csv), "--overwrite"]) == 2  # fmt: skip
    assert "is the test split CSV" in _one_error_line(capsys) and csv.read_text() == "filename\tevent_labels\n"


def test_evaluate_json_onto_an_existing_file_needs_overwrite(tmp_path, checkpoint, capsys):
    other = tmp_path / "report.json"
    other.write_text("{}")
    assert main(["evaluate", "--checkpoint", str(checkpoint), "--data-root", str(tmp_path), "--json", str(other)]) == 2
    line = _one_error_line(capsys)
    assert "already exists" in line and "--overwrite" in line and other.read_text() == "{}"


def test_compare_json_onto_checkpoint_a_is_refused(tmp_path, checkpoint, run_dir, capsys):
    before = _digest(checkpoint)
    alias = tmp_path / "a.json"
    os.link(checkpoint, alias)
    assert main(["compare", str(checkpoint), str(run_dir), "--data-root", str(tmp_path), "--json", str(alias),
                 "--overwrite"]) == 2  # fmt: skip
    assert "is checkpoint A" in _one_error_line(capsys) and _digest(checkpoint) == before


@pytest.mark.parametrize("flag,value", [("--top", "-1"), ("--min-clips", "-3"), ("--bootstrap", "0"),
                                        ("--bootstrap", "1000000000"), ("--batch-size", "0")])  # fmt: skip
def test_compare_refuses_out_of_range_counts_at_once(tmp_path, run_dir, capsys, flag, value):
    assert main(["compare", str(run_dir), str(run_dir), "--data-root", str(tmp_path), flag, value]) == 2
    line = _one_error_line(capsys)
    assert flag in line and value in line


def test_parse_annotated_onto_the_input_video_is_refused(tmp_path, run_dir, clips, capsys):
    video = tmp_path / "clip.mp4"
    shutil.copy(clips["a"], video)
    before = _digest(video)
    assert main(["parse", str(video), "--checkpoint", str(run_dir), "--out", str(tmp_path / "o"),
                 "--annotated", str(video), "--overwrite"]) == 2  # fmt: skip
    assert "is an input video" in _one_error_line(capsys) and _digest(video) == before
    assert not (tmp_path / "o").exists()


def test_parse_output_named_like_an_input_is_refused(tmp_path, run_dir, clips, capsys):
    """An mp4 named clip.json parsed into its own folder would be replaced by its own JSON record."""
    video = tmp_path / "clip.json"
    shutil.copy(clips["a"], video)
    before = _digest(video)
    assert main(["parse", str(video), "--checkpoint", str(run_dir), "--out", str(tmp_path), "--overwrite"]) == 2
    assert "is an input video" in _one_error_line(capsys) and _digest(video) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.json"]


def test_parse_twice_needs_overwrite(tmp_path, run_dir, clips, capsys):
    args = ["parse", str(clips["a"]), "--checkpoint", str(run_dir), "--out", str(tmp_path)]
    assert main(args) == 0
    first = (tmp_path / "clip.json").read_text()
    (tmp_path / "clip.json").write_text("edited by hand")
    capsys.readouterr()
    assert main(args) == 2
    line = _one_error_line(capsys)
    assert "clip.tsv already exists (and 1 more outputs)" in line and "--overwrite" in line
    assert (tmp_path / "clip.json").read_text() == "edited by hand"
    assert main([*args, "--overwrite"]) == 0
    assert json.loads((tmp_path / "clip.json").read_text()) == json.loads(first)


def test_a_write_that_fails_names_the_output_and_the_other_videos_are_parsed(tmp_path, run_dir, clips, capsys):
    long_stem = "x" * 251  # <stem>.mp4 and <stem>.tsv fit the 255-byte name limit, <stem>.json does not
    video = tmp_path / "in" / f"{long_stem}.mp4"
    video.parent.mkdir()
    shutil.copy(clips["a"], video)
    out = tmp_path / "o"
    assert main(["parse", str(video), str(clips["b"]), "--checkpoint", str(run_dir), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{long_stem}.json: File name too long" in err and ".tmp" not in err
    assert sorted(p.name for p in out.iterdir()) == ["clip.json", "clip.tsv"]  # nothing half written


def test_import_official_onto_its_input_is_refused(tmp_path, capsys):
    pth = tmp_path / "checkpoint_best.safetensors"
    pth.write_bytes(b"weights")
    assert main(["import-official", str(pth), "--out", str(pth), "--overwrite"]) == 2
    assert "is the checkpoint being imported" in _one_error_line(capsys) and pth.read_bytes() == b"weights"


def test_calibrate_out_onto_its_checkpoint_points_at_in_place(tmp_path, checkpoint, capsys):
    before = _digest(checkpoint)
    assert main(["calibrate", str(checkpoint), "--data-root", str(tmp_path), "--out", str(checkpoint),
                 "--overwrite"]) == 2  # fmt: skip
    assert "--in-place" in _one_error_line(capsys) and _digest(checkpoint) == before


@pytest.mark.parametrize("target", ["root", "stream", "parent"])
def test_pack_never_replaces_the_features_it_reads(tmp_path, capsys, target):
    root = tmp_path / "feats"
    (root / "demo_audio").mkdir(parents=True)
    (root / "demo_audio" / "aaaaaaaaaaa.npy").write_bytes(b"features")
    out = {"root": root, "stream": root / "demo_audio", "parent": tmp_path}[target]
    assert main(["pack", "--feature-root", str(root), "--features", "demo", "--out", str(out), "--overwrite"]) == 2
    assert "would replace an input" in _one_error_line(capsys)
    assert (root / "demo_audio" / "aaaaaaaaaaa.npy").read_bytes() == b"features"


def test_demo_never_builds_into_a_folder_of_other_files(tmp_path, capsys):
    data = tmp_path / "my_llp"
    data.mkdir()
    (data / "AVVP_train.csv").write_text("mine\n")
    assert main(["demo", "--out", str(data)]) == 2
    assert "no demo build" in _one_error_line(capsys) and (data / "AVVP_train.csv").read_text() == "mine\n"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["demo", "--out", str(a_file)]) == 2
    assert "is a file; give a folder" in _one_error_line(capsys)


def test_demo_compact_never_replaces_its_source(tmp_path, capsys):
    src = tmp_path / "demo"
    src.mkdir()
    (src / "manifest.json").write_text(json.dumps({"generator_version": 1}))
    (src / "runs" / "mmcse").mkdir(parents=True)
    (src / "runs" / "mmcse" / "best.safetensors").write_bytes(b"x")
    for out in (src, tmp_path):
        assert main(["demo", "--compact", "--from", str(src), "--out", str(out), "--overwrite"]) == 2
        assert "would replace an input" in _one_error_line(capsys)
    assert (src / "manifest.json").is_file()


def test_non_regular_paths_are_named_for_what_they_are(tmp_path, capsys):
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    assert main(["evaluate", "--checkpoint", str(fifo), "--data-root", str(tmp_path)]) == 2
    assert "not a regular file" in _one_error_line(capsys)
    assert main(["parse", "/dev/zero", "--checkpoint", str(fifo)]) == 2
    assert "/dev/zero is not a regular file" in _one_error_line(capsys)


def test_a_file_name_starting_with_a_dash_gets_the_double_dash_hint(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("-clip.mp4").write_bytes(b"x")
    assert main(["parse", "-clip.mp4", "--checkpoint", "ck"]) == 2
    assert "-- -clip.mp4" in _one_error_line(capsys)


# ------------------------------------------------------------------------------------------- run folders


def test_a_locked_run_folder_refuses_a_second_writer(tmp_path, capsys):
    run = tmp_path / "run"
    with runs.run_folder_lock(run):
        assert main(["train", "--out", str(run), "--data-root", str(tmp_path), "--features", "demo"]) == 2
        assert f"(pid {os.getpid()})" in _one_error_line(capsys)
        with pytest.raises(ValueError, match="another training process"):
            with runs.run_folder_lock(run):
                pass
    assert not (run / runs.LOCK_FILE).exists()
    with runs.run_folder_lock(run):  # free again
        pass


def test_a_run_folder_being_trained_is_refused_before_torch_loads(tmp_path):
    """train --overwrite / --resume / a symlink to a folder another process trains: the lock holder's pid
    in one line, exit 2, without loading torch (the refusal needs no model)."""
    run = tmp_path / "run"
    (tmp_path / "link").symlink_to(run)
    code = (f"from mmcse.training.runs import run_folder_lock; import time\n"
            f"with run_folder_lock({str(run)!r}):\n    print('locked', flush=True); time.sleep(60)")  # fmt: skip
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        argvs = [["--out", str(run), "--overwrite", "--data-root", "."], ["--out", str(run), "--resume"],
                 ["--out", str(tmp_path / "link"), "--overwrite", "--data-root", "."]]  # fmt: skip
        probe = ("import sys; from mmcse.cli import main; "
                 f"print([main(['train', *a]) for a in {argvs!r}], 'torch' in sys.modules)")  # fmt: skip
        proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    finally:
        holder.kill()
        holder.wait()
    assert proc.stdout.split() == ["[2,", "2,", "2]", "False"], proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 3 and all(f"is being written by another training process (pid {holder.pid})" in line
                                   for line in lines)  # fmt: skip
    assert sorted(p.name for p in run.iterdir()) == [runs.LOCK_FILE]


def test_a_killed_writer_leaves_the_folder_unlocked(tmp_path):
    run = tmp_path / "run"
    code = (f"from mmcse.training.runs import run_folder_lock; import time\n"
            f"with run_folder_lock({str(run)!r}):\n    print('locked', flush=True); time.sleep(60)")  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        with pytest.raises(ValueError, match=f"pid {proc.pid}"):
            with runs.run_folder_lock(run):
                pass
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 30
    while True:  # the kernel releases the lock with the process
        try:
            with runs.run_folder_lock(run):
                break
        except ValueError:
            assert time.monotonic() < deadline
            time.sleep(0.05)


def test_resume_refuses_the_flags_it_would_ignore(tmp_path, capsys):
    assert main(["train", "--out", str(tmp_path), "--resume", "--lr", "0.1", "--d-model", "64",
                 "--data-root", "/nonexistent"]) == 2  # fmt: skip
    line = _one_error_line(capsys)
    ignored = line.split(" so ")[1].split(" would be ignored")[0]
    assert sorted(ignored.split(", ")) == ["--d-model", "--data-root", "--lr"]
    assert main(["train", "--out", str(tmp_path), "--resume", "--overwrite"]) == 2
    assert "give one of them" in _one_error_line(capsys)


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    from mmcse.config import DEMO_FEATURES
    from mmcse.data.synthetic import write_synthetic_dataset

    root = tmp_path_factory.mktemp("syn")
    write_synthetic_dataset(root, DEMO_FEATURES, n_train=6, n_val=4, n_test=0)
    return root


TINY = ["--features", "demo", "--preset", "small", "--d-model", "16", "--d-class", "8", "--layers", "1",
        "--heads", "2", "--batch-size", "4", "--no-progress", "--threads", "1"]  # fmt: skip


def test_a_run_that_fails_before_its_first_epoch_is_saved_leaves_nothing(tmp_path, tiny_data, monkeypatch, capsys):
    from mmcse.training import loop

    def interrupted(self, epoch):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop.Trainer, "run_epoch", interrupted)
    run = tmp_path / "runs" / "r"
    assert main(["train", "--data-root", str(tiny_data), "--out", str(run), "--epochs", "1", *TINY]) == 130
    assert not run.exists() and (tmp_path / "runs").is_dir()


def test_an_unresumable_folder_says_the_same_from_both_sides(tmp_path, tiny_data, capsys):
    run = tmp_path / "r"
    assert main(["train", "--data-root", str(tiny_data), "--out", str(run), "--epochs", "1", *TINY]) == 0
    (run / runs.STATE_FILE).unlink()  # as if killed while its first epoch was being saved
    capsys.readouterr()
    assert main(["train", "--data-root", str(tiny_data), "--out", str(run), "--epochs", "1", *TINY]) == 2
    fresh = _one_error_line(capsys)
    assert main(["train", "--out", str(run), "--resume"]) == 2
    resumed = _one_error_line(capsys)
    for line in (fresh, resumed):
        assert "cannot be resumed" in line and "no train_state.safetensors" in line and "--overwrite" in line
    assert main(["train", "--data-root", str(tiny_data), "--out", str(run), "--epochs", "1", "--overwrite", *TINY]) == 0
    assert sorted(runs.existing_run_files(run)) == sorted(runs.RUN_FILES)
    capsys.readouterr()
    assert main(["train", "--data-root", str(tiny_data), "--out", str(run), "--epochs", "1", *TINY]) == 2
    assert "already holds a run; pass --resume" in _one_error_line(capsys)


def test_refusals_need_no_torch(tmp_path, run_dir, clips):
    """Refusals of the output rule and of --resume flags come before torch is imported."""
    ck = str(run_dir / "best.safetensors")
    code = (
        "import sys; from mmcse.cli import main; "
        f"r1 = main(['evaluate', '--checkpoint', {ck!r}, '--data-root', {str(tmp_path)!r}, '--json', {ck!r}]); "
        f"r2 = main(['parse', {str(clips['a'])!r}, '--checkpoint', {ck!r}, '--annotated', {str(clips['a'])!r}]); "
        f"r3 = main(['train', '--out', {str(tmp_path)!r}, '--resume', '--lr', '1']); "
        f"r4 = main(['compare', {ck!r}, {ck!r}, '--data-root', {str(tmp_path)!r}, '--bootstrap', '0']); "
        "print(r1, r2, r3, r4, 'torch' in sys.modules)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.split() == ["2", "2", "2", "2", "False"], proc.stderr


def test_an_interrupt_during_a_save_waits_for_the_save():
    import signal

    done = []
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, whatever ran before
    with pytest.raises(KeyboardInterrupt):
        with runs.interrupts_deferred():
            signal.raise_signal(signal.SIGINT)  # Ctrl-C in the middle of writing the epoch's files
            done.append("the rest of the save")
    assert done == ["the rest of the save"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    signal.signal(signal.SIGINT, previous)


@pytest.mark.parametrize("flags,named", [
    (["--lr", "nan"], "--lr"), (["--lr", "inf"], "--lr"), (["--w-ec", "nan"], "--w-ec"),
    (["--clip-grad-norm", "-1"], "--clip-grad-norm"), (["--dropout", "1.0"], "--dropout"),
    (["--d-model", "1"], "--d-model"), (["--layers", "100000"], "--layers"), (["--d-class", "99999999999"], "--d-class"),
    (["--heads", "3"], "--heads = 3"), (["--preset", "small", "--heads", "5"], "d_class (preset 'small') = 32"),
])  # fmt: skip
def test_train_numbers_are_range_checked_before_anything_is_written(tmp_path, capsys, flags, named):
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--data-root", str(tmp_path), "--features", "demo", *flags]) == 2
    assert named in _one_error_line(capsys) and not run.exists()


def test_a_refused_start_leaves_no_folder(tmp_path, tiny_data, capsys):
    run = tmp_path / "new" / "run"
    assert main(["train", "--data-root", str(tiny_data), "--out", str(run), "--features", "han", "--epochs", "1"]) == 2
    line = _one_error_line(capsys)
    assert "holds 'demo' features" in line and "--features demo" in line
    assert not run.exists()


def test_demo_compact_reads_its_source_and_never_builds_it(tmp_path, capsys):
    """--compact copies a finished build: a missing --from is not built, a compact copy is not completed
    (that rewrote the shipped demo's CSVs)."""
    assert main(["demo", "--compact", "--from", str(tmp_path / "missing"), "--out", str(tmp_path / "c")]) == 2
    line = _one_error_line(capsys)
    assert "holds no demo build; build the full demo with `python -m mmcse demo --out" in line
    assert not (tmp_path / "missing").exists()
    copy = tmp_path / "copy"
    shutil.copytree(Path(__file__).resolve().parents[2] / "assets" / "demo", copy,
                    ignore=shutil.ignore_patterns("videos", "feats"))  # fmt: skip
    before = {p.name: p.read_bytes() for p in copy.glob("*.csv")}
    assert main(["demo", "--compact", "--from", str(copy), "--out", str(tmp_path / "c")]) == 2
    assert "is a compact copy itself" in _one_error_line(capsys)
    assert {p.name: p.read_bytes() for p in copy.glob("*.csv")} == before and not (tmp_path / "c").exists()


def test_pack_overwrite_replaces_a_packed_store_never_other_files(tmp_path, capsys):
    out = tmp_path / "runs"
    (out / "r1").mkdir(parents=True)
    (out / "r1" / "best.safetensors").write_bytes(b"weights")
    (tmp_path / "feats" / "demo_audio").mkdir(parents=True)
    assert main(["pack", "--feature-root", str(tmp_path / "feats"), "--features", "demo", "--out", str(out),
                 "--overwrite"]) == 2  # fmt: skip
    assert "no packed store" in _one_error_line(capsys) and (out / "r1" / "best.safetensors").read_bytes() == b"weights"


def test_bench_store_never_removes_a_folder_it_did_not_write(tmp_path, capsys):
    scratch = tmp_path / "scratch"
    (scratch / "official").mkdir(parents=True)
    (scratch / "official" / "mine.txt").write_text("mine")
    assert main(["bench-store", "--clips", "8", "--batch-size", "4", "--features", "demo", "--dir", str(scratch)]) == 2
    assert "did not write" in _one_error_line(capsys) and (scratch / "official" / "mine.txt").read_text() == "mine"


@pytest.mark.parametrize("argv,named", [
    (["demo", "--seed", "-1"], "--seed"), (["demo", "--train", "99999999999"], "--train"),
    (["bench-store", "--clips", "100000000000"], "--clips"), (["bench-store", "--torch-threads", "-1"], "--torch-threads"),
    (["bench-store", "--seed", "-1"], "--seed"), (["bench", "--warmup", "-1"], "--warmup"),
    (["bench", "--batch", "100000000"], "--batch"), (["evaluate", "--checkpoint", "x", "--seed", "-1"], "--seed"),
    (["compare", "a", "b", "--seed", "-5"], "--seed"), (["ablate", "--seeds", "100000"], "--seeds"),
    (["ablate", "--seed", "-3"], "--seed"),
])  # fmt: skip
def test_counts_and_seeds_are_range_checked_by_every_command(argv, named, capsys):
    assert main(argv) == 2
    line = _one_error_line(capsys)
    assert named in line and "usage" not in line


@pytest.mark.parametrize("flags,named", [
    (["--schedule", "cosine", "--lr", "0.001", "--lr-min", "0.5"], "--lr-min = 0.5 is not below --lr"),
    (["--schedule", "cosine", "--warmup-epochs", "10", "--epochs", "2"], "would never reach lr"),
    (["--warmup-epochs", "5"], "set the cosine schedule, but the schedule is 'step'"),
    (["--lr-min", "1e-5"], "set the cosine schedule"),
    (["--model", "han", "--d-class", "8"], "--d-class: MM-CSE settings that do not apply to --model han"),
])  # fmt: skip
def test_schedule_settings_that_would_be_ignored_or_never_reached_are_refused(tmp_path, capsys, flags, named):
    assert main(["train", "--out", str(tmp_path / "r"), "--data-root", str(tmp_path), "--features", "demo", *flags]) == 2
    assert named in _one_error_line(capsys) and not (tmp_path / "r").exists()


def test_compare_warns_when_a_and_b_are_the_same_file(tmp_path, run_dir, capsys):
    ck = run_dir / "best.safetensors"
    main(["compare", str(ck), str(ck), "--data-root", str(tmp_path)])
    assert "A and B are the same file" in capsys.readouterr().err


def test_more_refusals_need_no_torch(tmp_path, run_dir, tiny_data):
    """The refusals the sweep found slow: each comes before torch is imported."""
    ck = str(run_dir / "best.safetensors")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    (run / "last.safetensors").write_bytes(b"x")
    (run / "train_state.safetensors").write_bytes(b"x")
    empty = tmp_path / "empty_test.csv"
    empty.write_text("filename\tevent_labels\n")
    link = tmp_path / "b.json"
    os.link(ck, link)
    calls = [
        ["train", "--out", str(run), "--data-root", str(tiny_data), "--features", "demo"],  # holds a run
        ["calibrate", ck, "--data-root", str(tiny_data), "--out", ck],
        ["compare", ck, str(link), "--data-root", str(tiny_data), "--json", str(link)],
        ["import-official", ck, "--out", str(tmp_path / "x.safetensors")],
        ["evaluate", "--checkpoint", ck, "--data-root", str(tiny_data), "--split-csv", str(empty)],
        ["evaluate", "--checkpoint", ck, "--data-root", str(tiny_data), "--split", "val", "--audio-gt", "pre2024"],
        ["ablate", "--data-root", str(tiny_data), "--features", "demo", "--seeds", "0", "--out", str(tmp_path / "a")],
        ["bench-store", "--clips", "8", "--batch-size", "16"],
    ]
    code = "import sys; from mmcse.cli import main; " + "; ".join(f"print(main({c!r}))" for c in calls)
    code += "; print('torch' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.split() == ["2"] * len(calls) + ["False"], proc.stderr
    err = proc.stderr
    for expected in ("already holds a run", "--in-place", "is checkpoint A", "already an mmcse checkpoint",
                     "lists no clips", "AVVP_eval_audio_pre2024.csv not found", "--seeds", "smaller than --batch-size"):
        assert expected in err, expected
