"""`evaluate` and the app's results cache: the first evaluate of a checkpoint on a split stores the model's
results where the app reads them, a later one reads them, and the numbers never depend on which happened."""

from __future__ import annotations

import json
import os
import stat

import pytest
from helpers.app_fixture import build_app_fixture

from mmcse import prediction_cache
from mmcse.checkpoint import read_checkpoint_meta
from mmcse.cli import main
from mmcse.config import FeatureSpec
from mmcse.data.paths import DataPaths
from mmcse.data.splits import open_split


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    return build_app_fixture(tmp_path_factory.mktemp("evaluate_cache"), n_train=4, n_val=6, n_test=10)


def evaluate(fx, capsys, *extra: str) -> tuple[dict, list[str], str]:
    """Run evaluate on the fixture's test split from its parent folder with a RELATIVE --data-root ->
    (the 10 numbers, the output's lines, stderr)."""
    cwd = os.getcwd()
    os.chdir(fx.data.parent)
    try:
        code = main(["evaluate", "--checkpoint", str(fx.mmcse_checkpoint), "--data-root", fx.data.name,
                     "--split", "test", "--segment-threshold", "0.3", *extra])  # fmt: skip
    finally:
        os.chdir(cwd)
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert code == 0, err
    return json.loads(next(line for line in lines if line.startswith("{"))), lines, err


def cache_line(lines: list[str]) -> str:
    return next(line for line in lines if line.startswith("predictions: "))


def test_the_first_evaluate_stores_what_the_app_reads_and_the_next_reads_it(fx, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv(prediction_cache.CACHE_ENV, str(tmp_path / "cache"))
    first, lines, _ = evaluate(fx, capsys)
    assert cache_line(lines).startswith("predictions: computed on cpu (")
    # the key the app computes for this checkpoint and split (absolute data root) names the stored file
    spec = FeatureSpec.from_dict(read_checkpoint_meta(fx.mmcse_checkpoint)["feature_spec"])
    split = open_split(DataPaths.from_root(fx.data.resolve(), spec, use_pseudo_labels=False), "test")
    key = prediction_cache.cache_key(prediction_cache.file_sha256(fx.mmcse_checkpoint), split)
    stored = prediction_cache.load(key)
    assert stored is not None and stored.info["split"] == "test" and stored.maps is not None
    assert str(prediction_cache.results_path(key)) in cache_line(lines)
    inode = prediction_cache.results_path(key).stat().st_ino  # an atomic rewrite would make a new file

    second, lines, _ = evaluate(fx, capsys)
    assert cache_line(lines).startswith(f"predictions: read from {prediction_cache.results_path(key)}")
    assert prediction_cache.results_path(key).stat().st_ino == inode  # read, not written again
    assert second == first  # the same floats, to the last digit

    fresh, lines, _ = evaluate(fx, capsys, "--no-results-cache")
    assert fresh == first
    assert not any(line.startswith("predictions: ") for line in lines)


def test_a_cache_folder_that_cannot_be_written_costs_only_a_warning(fx, capsys, tmp_path, monkeypatch):
    if os.geteuid() == 0:
        blocked = tmp_path / "a_file"  # root writes anywhere: a file where the folder should be
        blocked.write_text("not a folder\n")
    else:
        blocked = tmp_path / "locked"
        blocked.mkdir()
        blocked.chmod(stat.S_IRUSR | stat.S_IXUSR)
    monkeypatch.setenv(prediction_cache.CACHE_ENV, str(blocked))
    scores, lines, err = evaluate(fx, capsys)
    assert f"the results were not kept in {blocked}" in err  # one warning line, no traceback
    assert "Traceback" not in err
    assert "not kept" in cache_line(lines)
    fresh, _, _ = evaluate(fx, capsys, "--no-results-cache")
    assert scores == fresh


def test_compare_and_the_bootstrap_read_what_evaluate_stored(fx, capsys, tmp_path, monkeypatch):
    """compare reads both checkpoints' stored results (the numbers equal a fresh pass), and evaluate
    --bootstrap's second pass over the split reads them too instead of running the model again."""
    monkeypatch.setenv(prediction_cache.CACHE_ENV, str(tmp_path / "cache"))
    _, lines, _ = evaluate(fx, capsys, "--bootstrap", "50")
    notes = [line for line in lines if line.startswith("predictions: ")]
    assert len(notes) == 1 and notes[0].startswith("predictions: computed on cpu (")  # one pass, said once
    args = ["compare", str(fx.mmcse_checkpoint), str(fx.han_checkpoint), "--data-root", str(fx.data),
            "--split", "test", "--bootstrap", "50", "--json"]  # fmt: skip
    assert main([*args, str(tmp_path / "cached.json")]) == 0
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("predictions: ")]
    assert [n.split(" ")[1] for n in notes] == ["read", "computed"]  # A from evaluate's pass, B new
    assert main([*args, str(tmp_path / "fresh.json"), "--no-results-cache"]) == 0
    capsys.readouterr()
    cached, fresh = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("cached", "fresh"))
    assert cached["scores"] == fresh["scores"]


def test_an_explicit_device_other_than_the_stored_one_computes_again(fx, capsys, tmp_path, monkeypatch):
    """Results another device made (here: stored as from a GPU) serve --device auto, while --device cpu gets
    its own pass, stored in their place."""
    monkeypatch.setenv(prediction_cache.CACHE_ENV, str(tmp_path / "cache"))
    evaluate(fx, capsys)
    spec = FeatureSpec.from_dict(read_checkpoint_meta(fx.mmcse_checkpoint)["feature_spec"])
    split = open_split(DataPaths.from_root(fx.data.resolve(), spec, use_pseudo_labels=False), "test")
    key = prediction_cache.cache_key(prediction_cache.file_sha256(fx.mmcse_checkpoint), split)
    ours = prediction_cache.load(key)
    prediction_cache.store(key, ours.predictions, ours.maps, {s: ours.pool(s) for s in ("cafd", "fgse")}, 1.0,
                           {**ours.info, "device": "cuda:0"})  # fmt: skip
    _, lines, _ = evaluate(fx, capsys)
    assert cache_line(lines).startswith("predictions: read from ") and "computed on cuda:0" in cache_line(lines)
    _, lines, _ = evaluate(fx, capsys, "--device", "cpu")
    assert cache_line(lines).startswith("predictions: computed on cpu (")
    assert prediction_cache.load(key).info["device"] == "cpu"


def test_results_that_cannot_be_kept_serve_the_bootstrap_pass_too(fx, capsys, tmp_path, monkeypatch):
    blocked = tmp_path / "a_file"
    blocked.write_text("not a folder\n")
    monkeypatch.setenv(prediction_cache.CACHE_ENV, str(blocked))
    _, lines, err = evaluate(fx, capsys, "--bootstrap", "20")
    assert err.count("the results were not kept") == 1  # one model pass, one warning
    assert len([line for line in lines if line.startswith("predictions: ")]) == 1
