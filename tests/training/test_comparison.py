"""Checkpoints with error bars (mmcse.training.comparison, `evaluate --bootstrap`, `compare`): the point
estimates are the official numbers, the intervals those of mmcse.stats on the checkpoint's own predictions,
identical checkpoints differ by 0 with p = 1, each checkpoint keeps its gating, and other features are refused."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch
from test_loop import TINY  # the loop tests' tiny feature spec (same folder)

from mmcse.checkpoint import save_checkpoint
from mmcse.classes import LLP_CLASSES
from mmcse.cli import main as cli_main
from mmcse.config import ModelConfig, StreamSpec, TrainConfig
from mmcse.data.paths import DataPaths
from mmcse.data.splits import open_split
from mmcse.metrics import SCORE_KEYS
from mmcse.models import create_model
from mmcse.stats import bootstrap_scores, segment_average_precision, segment_scores
from mmcse.training.comparison import (
    checkpoint_predictions,
    compare_checkpoints,
    interval_report,
    threshold_free_report,
)
from mmcse.training.evaluation import evaluate


def _checkpoint(path, arch: str, seed: int, gating: str, spec=TINY):
    """An untrained tiny model: enough to exercise every path (its predictions are far from trivial)."""
    torch.manual_seed(seed)
    cfg = ModelConfig.for_features(spec, arch=arch, d_model=16, d_class=8, num_layers=1, num_heads=2)
    model = create_model(cfg).eval()
    save_checkpoint(path, model, model_config=cfg, feature_spec=spec, train_config=TrainConfig(gating=gating))
    return path


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from mmcse.data.synthetic import write_synthetic_dataset

    root = tmp_path_factory.mktemp("compare")
    write_synthetic_dataset(root / "data", TINY, n_train=4, n_val=4, n_test=40, seed=7)
    data = DataPaths.from_root(root / "data", TINY)
    ck_a = _checkpoint(root / "a.safetensors", "mmcse", 1, "mmcse")
    ck_b = _checkpoint(root / "b.safetensors", "han", 2, "fused")
    return data, ck_a, ck_b, root


@pytest.fixture(scope="module")
def official(setup):
    """The official numbers of A and B on test, by evaluate (the path every other command uses)."""
    data, ck_a, ck_b, _ = setup
    return evaluate(ck_a, data, "test", device="cpu"), evaluate(ck_b, data, "test", device="cpu")


@pytest.fixture(scope="module")
def preds_a(setup):
    data, ck_a, _, _ = setup
    return checkpoint_predictions(ck_a, data, "test", device="cpu")


def test_predictions_score_exactly_as_evaluate_and_intervals_are_those_of_stats(setup, official, preds_a):
    data = setup[0]
    preds = preds_a
    split = open_split(data, "test")
    assert preds.filenames == split.filenames and preds.gating == "mmcse" and preds.arch == "mmcse"
    assert preds.probs["segment_prob"].shape == (40, 10, 2, 25) and preds.pred_a.shape == (40, 10, 25)
    assert preds.scores() == official[0]  # bit for bit
    report = interval_report(preds, n_resamples=200, seed=5)
    assert report["scores"] == official[0]
    expected = bootstrap_scores(preds.pred_a, preds.pred_v, split.gt_audio, split.gt_visual, 200, seed=5)
    for k in SCORE_KEYS:
        assert report["ci"][k] == {"ci_low": expected[k]["ci_low"], "ci_high": expected[k]["ci_high"]}
    assert interval_report(preds, n_resamples=200, seed=5) == report  # same seed, same intervals
    assert interval_report(preds, n_resamples=200, seed=6)["ci"] != report["ci"]
    assert report["bootstrap"]["n_resamples"] == 200 and report["bootstrap"]["n_clips"] == 40


def test_the_threshold_free_view_is_segment_ap_of_the_gated_scores_in_percent(preds_a):
    preds = dataclasses.replace(preds_a, gating="modality")  # the gating chooses the gate probabilities
    free = threshold_free_report(preds)
    p = preds.probs
    sa, sv = segment_scores(
        p["segment_prob"], p["video_prob"], p["audio_prob"], p["visual_prob"], gating="modality"
    )
    ap = segment_average_precision(sa, sv, preds.gt_a, preds.gt_v)
    assert free["map_a"] == pytest.approx(100 * ap["map_a"]) and free["map_mean"] == pytest.approx(
        100 * ap["map_mean"]
    )
    assert "ADDITION to the official AVVP protocol" in free["note"] and free["gating"] == "modality"
    absent = [name for c, name in enumerate(LLP_CLASSES) if ap["n_pos_v"][c] == 0]
    assert absent and all(free["per_class"][name]["ap_v"] is None for name in absent)  # NaN -> null in JSON
    assert free["n_classes_v"] == 25 - len(absent)


def test_identical_checkpoints_differ_by_zero_with_p_one(setup):
    data, ck_a, _, root = setup
    twin = root / "twin.safetensors"
    shutil.copy(ck_a, twin)
    result = compare_checkpoints(ck_a, twin, data, "test", n_resamples=300, seed=1, device="cpu")
    for k in SCORE_KEYS:
        r = result["scores"][k]
        assert r["a"] == r["b"] and r["delta"] == 0.0 and r["p"] == 1.0 and r["within_noise"]
        assert r["ci_low"] == r["ci_high"] == 0.0
    for row in result["per_class"]["rows"]:
        assert row["delta"] in (0.0, None) and row["p"] in (1.0, None)


def test_each_checkpoint_keeps_its_gating_and_its_official_numbers(setup, official, preds_a):
    data, ck_a, ck_b, _ = setup
    result = compare_checkpoints(ck_a, ck_b, data, "test", n_resamples=200, seed=0, device="cpu")
    assert (result["a"]["gating"], result["b"]["gating"]) == ("mmcse", "fused")
    score_a, score_b = official
    for k in SCORE_KEYS:
        r = result["scores"][k]
        assert (r["a"], r["b"]) == (score_a[k], score_b[k]) and r["delta"] == score_b[k] - score_a[k]
        assert r["ci_low"] <= r["ci_high"] and 0 < r["p"] <= 1
    forced = compare_checkpoints(ck_a, ck_b, data, "test", gating="modality", n_resamples=50, device="cpu")
    assert (forced["a"]["gating"], forced["b"]["gating"]) == ("modality", "modality")
    # per-class rows: sorted by |delta|, with the clips each F depends on
    rows = result["per_class"]["rows"]
    deltas = [abs(r["delta"]) for r in rows if r["delta"] is not None]
    assert deltas == sorted(deltas, reverse=True) and len(rows) == 75
    preds = [preds_a, checkpoint_predictions(ck_b, data, "test", device="cpu")]
    speech_v = next(r for r in rows if (r["class"], r["modality"]) == ("Speech", "v"))
    involved = np.zeros(40, bool)
    for p in preds:
        involved |= (p.pred_v[:, :, 0] | p.gt_v[:, :, 0]).any(axis=1)  # Speech is class 0
    assert speech_v["n_clips"] == int(involved.sum())


def test_checkpoints_of_other_features_are_refused(setup):
    data, ck_a, _, root = setup
    wider = dataclasses.replace(TINY, name="wider", visual=StreamSpec("vis", (10, 32)))
    ck_w = _checkpoint(root / "wider.safetensors", "mmcse", 3, "mmcse", spec=wider)
    with pytest.raises(ValueError, match="trained on 'tiny' features .* on 'wider' features"):
        compare_checkpoints(ck_a, ck_w, data, "test", device="cpu")


def test_evaluate_bootstrap_adds_intervals_next_to_the_unchanged_scores(setup, official, preds_a, capsys):
    data, ck_a, _, root = setup
    argv = ["evaluate", "--checkpoint", str(ck_a), "--data-root", data.llp_dir, "--device", "cpu",
            "--bootstrap", "100", "--seed", "3"]  # fmt: skip
    reports = []
    for name in ("one", "two"):
        assert cli_main([*argv, "--json", str(root / f"{name}.json")]) == 0
        reports.append(json.loads((root / f"{name}.json").read_text()))
    out = capsys.readouterr().out
    report = reports[0]
    assert report["scores"] == official[0]
    assert set(report["ci"]) == set(SCORE_KEYS) and report["ci"] == reports[1]["ci"]
    assert report["ci"] == interval_report(preds_a, n_resamples=100, seed=3)["ci"]
    assert report["bootstrap"]["n_resamples"] == 100 and report["bootstrap"]["seed"] == 3
    assert "ADDITION" in report["threshold_free"]["note"]
    assert "95% percentile-bootstrap intervals over the 40 clips (100 resamples, seed 3)" in out
    assert "NOT part of the official protocol" in out
    seg_type = report["ci"]["seg_type"]
    assert (
        f"{report['scores']['seg_type']:8.2f} [{seg_type['ci_low']:6.2f}, {seg_type['ci_high']:6.2f}]" in out
    )
    assert cli_main([*argv[:-4], "--bootstrap", "0"]) == 2
    assert "--bootstrap 0: give the number of resamples" in capsys.readouterr().err


def test_compare_command_prints_and_writes_the_paired_table(setup, capsys):
    data, ck_a, ck_b, root = setup
    out_json = root / "cmp.json"
    rc = cli_main(["compare", str(ck_a), str(ck_b), "--data-root", data.llp_dir, "--device", "cpu",
                   "--bootstrap", "200", "--json", str(out_json), "--top", "3", "--min-clips", "1"])  # fmt: skip
    assert rc == 0
    text = capsys.readouterr().out
    result = json.loads(out_json.read_text())
    for k in SCORE_KEYS:
        assert set(result["scores"][k]) >= {"a", "b", "delta", "ci_low", "ci_high", "p"}
    r = result["scores"]["seg_type"]
    line = next(ln for ln in text.splitlines() if ln.startswith("Seg Type@AV"))
    assert (
        f"{r['a']:8.2f}{r['b']:8.2f}{r['delta']:+8.2f}" in line
        and f"[{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]" in line
    )
    assert line.endswith("within noise") == r["within_noise"]
    assert "A: " in text and "gating mmcse" in text and "gating fused" in text
    assert "the 3 largest |B - A|" in text and "NOT part of the official protocol" in text
    assert "not seed-to-seed training variance" in text
    top = result["per_class"]["rows"][0]
    assert f"{top['class']:22s}" in text.split("per-class F")[1]

    wider = dataclasses.replace(TINY, name="wider", visual=StreamSpec("vis", (10, 32)))
    ck_w = _checkpoint(root / "wider2.safetensors", "mmcse", 3, "mmcse", spec=wider)
    assert cli_main(["compare", str(ck_a), str(ck_w), "--data-root", data.llp_dir]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "same features" in err
