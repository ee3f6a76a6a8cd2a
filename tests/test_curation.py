"""Tags and notes of clips (mmcse.curation): a JSON file beside the dataset that survives restarts, merges
the edits of concurrent sessions, never overwrites a broken file, is written atomically; the exported clip
lists (CSV / JSON with provenance; the LLP split CSV that train / evaluate take as a split, end to end)."""

from __future__ import annotations

import io
import json
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mmcse import curation
from mmcse.classes import LLP_CLASSES
from mmcse.curation import CurationFileError, TagStore, export_clips
from mmcse.data.llp import read_weak_labels


def test_tags_and_notes_round_trip_through_the_file(tmp_path):
    store = TagStore.open(tmp_path)
    assert store.path == tmp_path / "mmcse_tags.json" and not store.path.exists() and store.tags("a") == []
    assert store.set_tags("clip_a", ["bad GT", " hard  case ", "Bad gt", ""]) == ["bad GT", "hard case"]
    note = 'dog barks off screen,\n\t"speech" is the TV'
    store.set_note("clip_a", note + "  \n")
    store.set_tags("clip_b", ["hard case"])
    again = TagStore.open(tmp_path)  # a new process (a restarted server) reads the same
    assert again.tags("clip_a") == ["bad GT", "hard case"] and again.note("clip_a") == note
    assert again.clips_with("HARD CASE") == ["clip_a", "clip_b"] and again.clips_with("bad GT") == ["clip_a"]
    assert again.all_tags() == ["bad GT", "hard case"]
    on_disk = json.loads(store.path.read_text())  # human-readable: the documented layout
    assert on_disk["format"] == "mmcse-tags" and on_disk["clips"]["clip_b"]["tags"] == ["hard case"]
    # clearing a clip's tags and note removes it; other clips (other splits') stay untouched
    again.set_tags("clip_b", [])
    assert set(TagStore.open(tmp_path).clips) == {"clip_a"}
    with pytest.raises(ValueError, match="keep tags under 60"):
        again.set_tags("clip_a", ["x" * 61])
    assert TagStore.open(tmp_path).tags("clip_a") == ["bad GT", "hard case"]


def test_two_sessions_editing_the_same_file_keep_each_others_edits(tmp_path):
    first, second = TagStore.open(tmp_path), TagStore.open(tmp_path)  # both loaded before any edit
    first.set_tags("clip_a", ["hard"])
    second.set_note("clip_a", "loud wind")  # second's copy is stale: the file is re-read under the lock
    second.set_tags("clip_b", ["bad GT"])
    first.set_tags("clip_c", ["hard"])
    final = TagStore.open(tmp_path)
    assert final.tags("clip_a") == ["hard"] and final.note("clip_a") == "loud wind"
    assert final.clips_with("hard") == ["clip_a", "clip_c"] and final.tags("clip_b") == ["bad GT"]
    assert first.clips == final.clips  # the editing store holds the merged content too


def _tag_many(args) -> None:
    path, worker, n = args
    store = TagStore.load(path)
    for i in range(n):
        store.set_tags(f"w{worker}_{i}", [f"worker {worker}"])


def test_concurrent_processes_lose_no_edit(tmp_path):
    path = tmp_path / curation.FILE_NAME
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pool.map(_tag_many, [(path, w, 15) for w in range(4)])
    store = TagStore.load(path)
    assert len(store.clips) == 60
    assert all(len(store.clips_with(f"worker {w}")) == 15 for w in range(4))
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize(
    "content, message",
    [
        ('{"format": "mmcse-tags", "version": 1, "clips": {"a": {"tags": ["x"],}}}', r"mmcse_tags.json:1: not valid JSON"),
        ('["a", "b"]', "not an mmcse tag file"),
        ('{"format": "mmcse-tags", "version": 1, "clips": {"a": {"tags": "hard"}}}', "clip 'a': \"tags\" must be a list"),
        ('{"format": "mmcse-tags", "version": 7, "clips": {}}', "version 7 is not one this mmcse reads"),
    ],
)
def test_a_broken_file_is_one_line_and_never_overwritten(tmp_path, content, message):
    store = TagStore.open(tmp_path)
    store.set_tags("a", ["hard"])
    store.set_tags("b", ["bad GT"])  # the second write keeps the first version as .bak
    store.path.write_text(content)  # a hand edit gone wrong
    with pytest.raises(CurationFileError, match=message) as err:
        TagStore.open(tmp_path)
    assert "\n" not in str(err.value) and "mmcse_tags.json.bak" in str(err.value)
    with pytest.raises(CurationFileError, match=message):  # a session that loaded it earlier cannot save
        store.set_note("c", "lost?")
    assert store.path.read_text() == content
    assert TagStore.load(store.path.with_name("mmcse_tags.json.bak")).tags("a") == ["hard"]


def test_a_failed_write_leaves_the_previous_file_whole(tmp_path, monkeypatch):
    store = TagStore.open(tmp_path)
    store.set_tags("a", ["hard"])
    before = store.path.read_bytes()

    def crash(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(curation.os, "replace", crash)
    with pytest.raises(OSError, match="No space"):
        store.set_tags("b", ["bad GT"])
    assert store.path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_read_only_data_root_keeps_the_tags_beside_the_run(tmp_path, monkeypatch):
    data, run = tmp_path / "data", tmp_path / "run"
    data.mkdir(), run.mkdir()
    real_access = os.access  # a read-only folder as os.access reports it (also when the tests run as root)
    monkeypatch.setattr(curation.os, "access", lambda p, mode: Path(p) != data and real_access(p, mode))
    assert curation.store_path(data, run) == run / "mmcse_tags.json"
    assert curation.store_path(data) == data / "mmcse_tags.json"
    with pytest.raises(CurationFileError, match="read-only; make it writable"):
        TagStore.open(data).set_tags("a", ["x"])
    assert not (data / "mmcse_tags.json").exists()
    TagStore.open(data, run).set_tags("a", ["x"])
    assert TagStore.open(data, run).tags("a") == ["x"]


def test_an_existing_file_in_the_data_root_wins(tmp_path):
    data, run = tmp_path / "data", tmp_path / "run"
    data.mkdir(), run.mkdir()
    TagStore.load(run / "mmcse_tags.json").set_tags("a", ["from run"])
    assert curation.store_path(data, run) == run / "mmcse_tags.json"  # found beside the run
    TagStore.load(data / "mmcse_tags.json").set_tags("a", ["from data"])
    assert TagStore.open(data, run).tags("a") == ["from data"]


LABELS = {"clip_a": ["Speech", "Dog"], "clip_b": ["Car"], "clip_c": ["Cat"]}
PROVENANCE = {"dataset": "/data/llp", "split": "test", "checkpoint": "runs/m/best.safetensors", "gating": "mmcse",
              "segment_threshold": "0.50", "video_threshold": "0.50"}  # fmt: skip


def test_exports_carry_tags_notes_and_provenance(tmp_path):
    store = TagStore.open(tmp_path)
    store.set_tags("clip_a", ["bad GT", "hard"])
    store.set_note("clip_a", "line one\nline, two")
    text = export_clips(store, ["clip_c", "clip_a"], "csv", LABELS, PROVENANCE)
    assert text.startswith("# dataset: /data/llp\n# split: test\n# checkpoint: runs/m/best.safetensors\n")
    table = pd.read_csv(io.StringIO(text), comment="#", keep_default_na=False)
    assert table["clip"].tolist() == ["clip_c", "clip_a"]
    assert table.loc[1, "tags"] == "bad GT; hard" and table.loc[1, "note"] == "line one\nline, two"
    assert table.loc[1, "labels"] == "Speech,Dog" and table.loc[0, "tags"] == ""
    record = json.loads(store.export(["clip_a"], "json", LABELS, PROVENANCE))
    assert record["provenance"] == PROVENANCE
    assert record["clips"] == [{"clip": "clip_a", "labels": ["Speech", "Dog"], "tags": ["bad GT", "hard"],
                                "note": "line one\nline, two"}]  # fmt: skip
    split = tmp_path / "hard.csv"
    split.write_text(export_clips(store, ["clip_a", "clip_b"], "llp", LABELS))
    names, weak = read_weak_labels(split)  # the official reader takes it
    assert names == ["clip_a", "clip_b"] and weak.sum() == 3
    with pytest.raises(ValueError, match="clip 'nope' has no weak labels"):
        export_clips(store, ["nope"], "llp", LABELS)
    with pytest.raises(ValueError, match="csv, json, llp"):
        export_clips(store, [], "xlsx")


@pytest.fixture
def tagged_data(tmp_path):
    """A tiny LLP-layout dataset (8 train, 4 val, 4 test clips) with two train clips and one test clip tagged."""
    from helpers.app_fixture import TINY_FEATURES

    from mmcse.data.synthetic import write_synthetic_dataset

    root = tmp_path / "data"
    write_synthetic_dataset(root, TINY_FEATURES, 8, 4, 4, seed=0, pseudo_labels=False)
    train, test = (read_weak_labels(root / f)[0] for f in ("AVVP_train.csv", "AVVP_test_pd.csv"))
    store = TagStore.open(root)
    store.set_tags(train[0], ["bad GT", "hard"])
    store.set_tags(train[3], ["hard"])
    store.set_tags(test[1], ["bad GT"])
    return root, train, test


def test_the_tags_command_lists_tags_and_writes_a_split_chosen_by_tag(tagged_data, tmp_path, capsys):
    from mmcse.cli import main

    root, train, test = tagged_data
    assert main(["tags", "--data-root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "bad GT: 2 clips (train 1, val 0, test 1)" in out and "hard: 2 clips (train 2, val 0, test 0)" in out
    hard = tmp_path / "hard.csv"
    assert main(["tags", "--data-root", str(root), "--tag", "hard", "--exclude-tag", "bad GT", "--out", str(hard)]) == 0
    assert read_weak_labels(hard)[0] == [train[3]] and "1 of 8 train clips" in capsys.readouterr().out
    listing = tmp_path / "test.json"
    assert main(["tags", "--data-root", str(root), "--split", "test", "--tag", "bad GT", "--format", "json",
                 "--out", str(listing)]) == 0  # fmt: skip
    record = json.loads(listing.read_text())
    assert [c["clip"] for c in record["clips"]] == [test[1]] and record["provenance"]["split"] == "test"
    capsys.readouterr()
    for argv, message in (
        (["--tag", "hrad", "--out", str(tmp_path / "x.csv")], "no clip is tagged 'hrad'"),
        (["--tag", "hard", "--out", str(hard)], "already exists; pass --overwrite"),
        (["--tag", "hard"], "give --out FILE too"),
        (["--split", "val", "--tag", "hard", "--out", str(tmp_path / "v.csv")], "no clip of the val split is left"),
        (["--out", str(root / "mmcse_tags.json"), "--overwrite"], "is the tag file"),
    ):
        assert main(["tags", "--data-root", str(root), *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "x.csv").exists() and TagStore.open(root).tags(train[0]) == ["bad GT", "hard"]


TINY_RUN = ["--features", "tiny-spec", "--preset", "small", "--epochs", "1", "--batch-size", "4", "--d-model", "16",
            "--d-class", "8", "--layers", "1", "--heads", "2", "--device", "cpu", "--no-progress", "--threads", "1"]  # fmt: skip


@pytest.mark.slow
def test_an_exported_clip_list_is_a_split_that_train_and_evaluate_take(tmp_path, capsys):
    """Tag clips; `tags --exclude-tag` writes the train split without them, which train takes (--train-csv);
    the tagged test clips exported as an LLP split CSV are what evaluate scores (--split-csv); a list naming a
    clip the dataset lacks is one line, exit 2."""
    from helpers.app_fixture import TINY_FEATURES, build_app_fixture

    from mmcse.cli import main

    fx = build_app_fixture(tmp_path / "fx", n_train=10, n_val=4, n_test=6)
    spec = tmp_path / "tiny.json"
    spec.write_text(json.dumps(TINY_FEATURES.to_dict()))
    run_flags = [spec if f == "tiny-spec" else f for f in TINY_RUN]
    store = TagStore.open(fx.data)
    labels, names = {}, {}
    for split, file in (("train", "AVVP_train.csv"), ("test", "AVVP_test_pd.csv")):
        names[split], weak = read_weak_labels(fx.data / file)
        labels.update({n: [LLP_CLASSES[c] for c in np.flatnonzero(weak[i])] for i, n in enumerate(names[split])})
        for clip in names[split][1::2]:
            store.set_tags(clip, ["hard"])
    train_clips = [c for c in store.clips_with("hard") if c in names["train"]]
    test_clips = [c for c in store.clips_with("hard") if c in names["test"]]
    assert len(train_clips) == 5 and len(test_clips) == 3
    clean = tmp_path / "clean_train.csv"  # the train split without the clips tagged "hard"
    assert main(["tags", "--data-root", str(fx.data), "--split", "train", "--exclude-tag", "hard", "--out", str(clean)]) == 0
    assert read_weak_labels(clean)[0] == [c for c in names["train"] if c not in train_clips]
    (tmp_path / "hard_test.csv").write_text(export_clips(store, test_clips, "llp", labels))

    run = tmp_path / "run"
    assert main(["train", "--data-root", str(fx.data), "--train-csv", str(clean), "--out", str(run),
                 *map(str, run_flags)]) == 0  # fmt: skip
    assert "5 train clips" in capsys.readouterr().out
    report = tmp_path / "eval.json"
    assert main(["evaluate", "--checkpoint", str(run / "best.safetensors"), "--data-root", str(fx.data), "--split",
                 "test", "--split-csv", str(tmp_path / "hard_test.csv"), "--device", "cpu", "--json", str(report)]) == 0  # fmt: skip
    assert json.loads(report.read_text())["n_clips"] == 3
    capsys.readouterr()

    stray = tmp_path / "stray.csv"
    stray.write_text(export_clips(store, test_clips, "llp", labels) + "zzzzzzzzzzz_0_10\tDog\n")
    assert main(["evaluate", "--checkpoint", str(run / "best.safetensors"), "--data-root", str(fx.data), "--split",
                 "test", "--split-csv", str(stray), "--device", "cpu"]) == 2  # fmt: skip
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "have no features" in errors[0] and "zzzzzzzzzzz" in errors[0], err
    assert "Traceback" not in err
