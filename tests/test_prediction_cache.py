"""mmcse.prediction_cache: one model pass gives what the separate functions give, results round-trip through
safetensors files (no pickle) named by what they depend on, and background jobs run once per key."""

from __future__ import annotations

import json
import os
import sys
import threading
import time

import numpy as np
import pytest
from helpers.app_fixture import TINY_FEATURES, build_app_fixture, save_random_checkpoint
from helpers.splits import split_of

from mmcse import analysis, inference, prediction_cache
from mmcse.analysis import STAGES


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    return build_app_fixture(tmp_path_factory.mktemp("cache_fixture"))


@pytest.fixture(scope="module")
def parser(fx):
    return inference.Parser.from_checkpoint(fx.mmcse_checkpoint, device="cpu")


@pytest.fixture(scope="module")
def split(fx):
    return split_of(fx.data, "test", TINY_FEATURES)


@pytest.fixture(scope="module")
def computed(parser, split):
    return prediction_cache.compute(parser, split, batch_size=64)


def test_two_workers_give_the_same_results_in_split_order(parser, split):
    one = prediction_cache.compute(parser, split, batch_size=3, workers=1)
    preds, maps, pools = prediction_cache.compute(parser, split, batch_size=3, workers=2)  # 6 batches, 2 threads
    for field in prediction_cache.PROB_FIELDS:
        np.testing.assert_array_equal(getattr(preds, field), getattr(one[0], field))
    np.testing.assert_array_equal(maps["active"]["av"], one[1]["active"]["av"])
    for stage in STAGES:
        np.testing.assert_array_equal(pools[stage].features, one[2][stage].features)
        np.testing.assert_array_equal(pools[stage].clip, one[2][stage].clip)


def test_one_pass_equals_the_separate_functions(parser, split, computed):
    preds, maps, pools = computed
    direct = parser.predict_split(split)
    for field in prediction_cache.PROB_FIELDS:
        np.testing.assert_array_equal(getattr(preds, field), getattr(direct, field))
    assert preds.filenames == split.filenames
    for variant, only_active in (("active", True), ("all", False)):
        expected = analysis.cooccurrence_maps(parser, split, only_active=only_active)
        for name in analysis.MAP_NAMES:
            np.testing.assert_allclose(maps[variant][name], expected[name], equal_nan=True, rtol=1e-12)
    for stage in STAGES:
        for modalities, classes in ((("audio", "visual"), None), (("visual",), [0, 3, 5, 11, 20])):
            feats, table = analysis.class_feature_samples(parser, split, stage=stage, modalities=modalities,
                                                          classes=classes, max_points=150, seed=4)  # fmt: skip
            pool = pools[stage]
            chosen = pool.select(modalities, classes, True, True)
            got, got_table = analysis.subsample(pool, chosen, split.filenames, 150, 4)
            np.testing.assert_array_equal(got, feats)
            assert got_table == table


def test_results_round_trip_through_safetensors_without_pickle(tmp_path, split, computed):
    preds, maps, pools = computed
    stored = prediction_cache.store("k" * 32, preds, maps, pools, 1.5, {"split": "test"}, folder=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k" * 32 + ".features.safetensors", "k" * 32 + ".safetensors"]
    for path in tmp_path.iterdir():  # a safetensors header (JSON), no pickle opcodes
        head = path.read_bytes()
        header = json.loads(head[8 : 8 + int.from_bytes(head[:8], "little")])
        assert "segment_prob" in header or "cafd.features" in header
        assert not head.startswith(b"\x80")
    loaded = prediction_cache.load("k" * 32, folder=tmp_path)
    assert loaded is not None and loaded.feature_clips == len(split) == stored.feature_clips
    assert loaded.predictions.filenames == split.filenames and loaded.seconds == 1.5
    for field in prediction_cache.PROB_FIELDS:
        np.testing.assert_array_equal(getattr(loaded.predictions, field), getattr(preds, field))
    np.testing.assert_array_equal(loaded.maps["active"]["av"], maps["active"]["av"])
    for stage in STAGES:
        for field in prediction_cache.POOL_FIELDS:
            np.testing.assert_array_equal(getattr(loaded.pool(stage), field), getattr(pools[stage], field))
    assert prediction_cache.load("x" * 32, folder=tmp_path) is None  # another key: not there
    (tmp_path / ("k" * 32 + ".safetensors")).write_bytes(b"\x00garbage")
    assert prediction_cache.load("k" * 32, folder=tmp_path) is None  # unreadable: computed again


def test_the_key_follows_the_checkpoint_and_the_feature_files(fx, split, tmp_path):
    sha = prediction_cache.file_sha256(fx.mmcse_checkpoint)
    assert len(sha) == 64
    key = prediction_cache.cache_key(sha, split)
    assert prediction_cache.cache_key(sha, split) == key  # the same inputs, the same name
    other = save_random_checkpoint(tmp_path / "other.safetensors", TINY_FEATURES, "mmcse", 9)
    assert prediction_cache.cache_key(prediction_cache.file_sha256(other), split) != key
    feature = split.store.path("audio", split.video_ids[3])
    stat = feature.stat()
    try:
        os.utime(feature, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a feature file rewritten
        assert prediction_cache.cache_key(sha, split) != key
    finally:
        os.utime(feature, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert prediction_cache.cache_key(sha, split) == key


def test_the_cache_folder_and_the_feature_clip_limit(monkeypatch, tmp_path):
    monkeypatch.setenv("MMCSE_CACHE", str(tmp_path / "c"))
    assert prediction_cache.cache_folder() == tmp_path / "c"
    monkeypatch.delenv("MMCSE_CACHE")
    assert str(prediction_cache.cache_folder()).endswith(os.path.join(".cache", "mmcse"))
    keep = prediction_cache.feature_rows(10_000, 2_000)
    assert keep.sum() == 2_000 and keep[0] and keep[-1]
    assert prediction_cache.feature_rows(16, 2_000).all()


def test_a_background_job_runs_once_per_key_and_reports_progress():
    calls, release = [], threading.Event()

    def work(progress):
        calls.append(1)
        progress(3, 10)
        release.wait(10)
        return "done"

    key = f"test-{time.time()}"
    job = prediction_cache.background(key, 10, work)
    assert prediction_cache.background(key, 10, work) is job  # a second page / session joins it
    deadline = time.time() + 10
    while job.done != 3 and time.time() < deadline:
        time.sleep(0.01)
    assert (job.done, job.total, job.finished) == (3, 10, False)
    release.set()
    assert job.wait(10) and job.result == "done" and calls == [1]
    assert prediction_cache.find_job(key) is job

    def failing(progress):
        raise ValueError("bad feature file")

    bad = prediction_cache.background(key + "-bad", 1, failing)
    bad.wait(10)
    assert isinstance(bad.error, ValueError) and prediction_cache.find_job(key + "-bad") is None
    again = prediction_cache.background(key + "-bad", 1, lambda progress: "ok")  # a failed job starts again
    assert again is not bad and again.wait(10) and again.result == "ok"


def test_the_cache_keeps_at_most_its_limit_dropping_the_least_recently_used(tmp_path, split, computed, monkeypatch):
    """Results beyond $MMCSE_CACHE_GB go, the least recently used (stored or read) first, all files of a key
    together; the key just stored, other files and the media folder stay."""
    preds, maps, pools = computed
    keys = [f"{i:032x}" for i in (1, 2, 3)]
    stamp = time.time() - 1000
    for i, key in enumerate(keys):
        prediction_cache.store(key, preds, maps, pools, 1.0, {"split": "test"}, folder=tmp_path)
        (tmp_path / f"{key}.errors.mmcse.0.5000.0.5000.parquet").write_bytes(b"x" * 10)
        for path in tmp_path.glob(f"{key}.*"):
            os.utime(path, (stamp + 10 * i, stamp + 10 * i))  # stored in the order 1, 2, 3
    (tmp_path / "notes.txt").write_text("mine\n")
    foreign = [tmp_path / f"{'d' * 32}.safetensors", tmp_path / f"{'e' * 32}.jpg"]  # named like ours, not ours
    for path in foreign:
        path.write_bytes(b"f" * 10_000)
        os.utime(path, (stamp - 100, stamp - 100))  # the oldest of all
    (tmp_path / "media").mkdir()
    (tmp_path / "media" / "clip.npz").write_bytes(b"m" * 100)
    one = sum(p.stat().st_size for p in tmp_path.glob(f"{keys[0]}.*"))
    assert prediction_cache.load(keys[0], folder=tmp_path) is not None  # key 1 read now: the most recent use
    assert prediction_cache.prune(tmp_path, limit=2 * one + 5) == [keys[1]]  # the least recently used went
    left = sorted(p.name for p in tmp_path.iterdir())
    assert not any(name.startswith(keys[1]) for name in left)
    assert {f"{keys[0]}.safetensors", f"{keys[2]}.features.safetensors", "notes.txt", "media"} <= set(left)
    assert prediction_cache.prune(tmp_path, limit=0, keep=keys[2]) == [keys[0]]  # what was just stored stays
    assert all(path.read_bytes() == b"f" * 10_000 for path in foreign)
    assert prediction_cache.load(keys[2], folder=tmp_path) is not None
    monkeypatch.setenv(prediction_cache.CACHE_GB_ENV, "1e-9")  # 1 byte: each store keeps only itself
    prediction_cache.store(keys[0], preds, maps, pools, 1.0, {"split": "test"}, folder=tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("0")) == [
        f"{keys[0]}.features.safetensors", f"{keys[0]}.safetensors"]  # fmt: skip
    for text, expected in (("2.5", 2_500_000_000), ("inf", sys.maxsize), ("", 10**10)):
        monkeypatch.setenv(prediction_cache.CACHE_GB_ENV, text)
        assert prediction_cache.cache_limit_bytes() == expected
    for text in ("nan", "-1", "0", "ten"):  # one warning naming the value, then the default
        monkeypatch.setenv(prediction_cache.CACHE_GB_ENV, text)
        with pytest.warns(UserWarning, match=f"MMCSE_CACHE_GB='{text}' is not a positive number"):
            assert prediction_cache.cache_limit_bytes() == 10**10


def test_feature_points_gone_from_the_cache_say_so_and_drop_the_job(tmp_path, computed):
    preds, maps, pools = computed
    key = f"{7:032x}"
    prediction_cache.store(key, preds, maps, pools, 1.0, {"split": "test"}, folder=tmp_path)
    loaded = prediction_cache.load(key, folder=tmp_path)
    job = prediction_cache.finished_job(key, loaded)  # as the app holds results in memory
    assert prediction_cache.find_job(key) is job
    prediction_cache.features_path(key, tmp_path).unlink()  # pruned by another process
    with pytest.raises(ValueError, match="no longer readable in .*reload the page"):
        loaded.pool("cafd")
    assert prediction_cache.find_job(key) is None  # the next run reads or computes them again
    assert prediction_cache.load(key, folder=tmp_path) is None  # results without their feature points: again
