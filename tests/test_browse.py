"""mmcse.browse (the clip table, its filters, the showcase clip, a clip's export) and mmcse.demo.clips (a demo
clip's video rendered on demand), on small hand-made arrays and the shipped compact demo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mmcse import browse, metrics
from mmcse.classes import class_index

REPO = Path(__file__).resolve().parents[1]
DOG, CAR, SPEECH = class_index("Dog"), class_index("Car"), class_index("Speech")


def three_clips():
    """Clip a: Dog audio and visual, predicted right; b: Car audible, predicted visible (FP v + FN a);
    c: Speech audible only, not predicted (FN a)."""
    weak = np.zeros((3, 25), np.uint8)
    weak[0, DOG] = weak[1, CAR] = weak[2, SPEECH] = 1
    gt_a, gt_v = np.zeros((3, 10, 25), np.uint8), np.zeros((3, 10, 25), np.uint8)
    gt_a[0, 2:6, DOG] = gt_v[0, 2:6, DOG] = 1
    gt_a[1, :, CAR] = 1
    gt_a[2, 0:4, SPEECH] = 1
    pred_a, pred_v = gt_a.copy(), gt_v.copy()
    pred_a[1], pred_v[1, 0:3, CAR] = 0, 1
    pred_a[2] = 0
    return ["a_0_10", "b_0_10", "c_0_10"], weak, pred_a, pred_v, gt_a, gt_v


def test_clip_table_is_keyed_by_clip_id_with_scores_and_error_counts():
    names, weak, pred_a, pred_v, gt_a, gt_v = three_clips()
    table = browse.clip_table(names, weak, pred_a, pred_v, gt_a, gt_v, [True, False, True])
    assert list(table.index) == names and table.index.name == "clip"
    assert table.loc["a_0_10", "labels"] == "Dog" and table.loc["b_0_10", "predicted"] == "Car"
    assert table["video"].tolist() == [True, False, True]
    per_video = metrics.per_video_scores(pred_a, pred_v, gt_a, gt_v)
    np.testing.assert_allclose(table["seg Type@AV"], np.round(100 * per_video["seg_type"], 1))
    assert table.loc["a_0_10", "seg Type@AV"] == 100.0
    assert table.loc["b_0_10", ["FP audio", "FN audio", "FP visual", "FN visual"]].tolist() == [0, 10, 3, 0]
    assert table.loc["c_0_10", "FN audio"] == 4
    no_gt = browse.clip_table(names, weak, pred_a, pred_v)
    assert "seg Type@AV" not in no_gt and not no_gt["video"].any()


def test_filters_search_class_modality_and_error_type():
    names, weak, pred_a, pred_v, gt_a, gt_v = three_clips()
    table = browse.clip_table(names, weak, pred_a, pred_v, gt_a, gt_v)

    def ids(**kw):
        return browse.filter_clips(table, weak, pred_a, pred_v, gt_a, gt_v, **kw)

    assert ids() == names
    assert ids(query="DOG") == ["a_0_10"] and ids(query="c_0") == ["c_0_10"]
    assert ids(classes=[CAR, SPEECH]) == ["b_0_10", "c_0_10"]
    assert ids(modality="visual") == ["a_0_10"]  # annotated visual events: only Dog
    assert ids(modality="audio-visual") == ["a_0_10"]
    assert ids(modality="audio", classes=[SPEECH]) == ["c_0_10"]
    assert ids(error="false positives") == ["b_0_10"]
    assert ids(error="false negatives") == ["b_0_10", "c_0_10"]
    assert ids(error="no error") == ["a_0_10"]
    with pytest.raises(ValueError):
        ids(error="typo")


def test_showcase_prefers_both_modalities_then_score_and_step_clamps():
    names, weak, pred_a, pred_v, gt_a, gt_v = three_clips()
    table = browse.clip_table(names, weak, pred_a, pred_v, gt_a, gt_v)
    assert browse.showcase_clip(table, gt_a, gt_v) == "a_0_10"  # the only clip with audio and visual events
    with_video = browse.clip_table(names, weak, pred_a, pred_v, gt_a, gt_v, [False, True, False])
    assert browse.showcase_clip(with_video, gt_a, gt_v) == "b_0_10"  # a clip that can play comes first
    assert browse.showcase_clip(table.iloc[:0]) is None
    assert browse.step_clip(names, "a_0_10", +1) == "b_0_10"
    assert browse.step_clip(names, "c_0_10", +1) == "c_0_10" and browse.step_clip(names, "a_0_10", -1) == "a_0_10"
    assert browse.step_clip(names, "gone", +1) == "a_0_10" and browse.step_clip([], "a_0_10", 1) is None


def test_cooccurring_clips_follow_the_map_modalities():
    names, weak, pred_a, pred_v, gt_a, gt_v = three_clips()
    assert browse.cooccurring_clips("av", DOG, DOG, weak, gt_a, gt_v) == [0]
    assert browse.cooccurring_clips("va", CAR, CAR, weak, gt_a, gt_v) == []  # Car is never visible
    assert browse.cooccurring_clips("aa", CAR, CAR, weak, gt_a, gt_v) == [1]
    weak2 = weak.copy()
    weak2[1, DOG] = 1
    assert browse.cooccurring_clips("aa", CAR, DOG, weak2) == [1]  # without dense GT: weak labels


def test_clip_parse_and_record_match_the_split_thresholding():
    from mmcse.inference import Predictions

    rng = np.random.default_rng(0)
    preds = Predictions(video_prob=rng.random((4, 25)).astype(np.float32), audio_prob=rng.random((4, 25)).astype(np.float32),
                        visual_prob=rng.random((4, 25)).astype(np.float32),
                        segment_prob=rng.random((4, 10, 2, 25)).astype(np.float32), filenames=["w", "x", "y", "z"])  # fmt: skip
    pred_a, pred_v = preds.binary("fused", 0.4, 0.6)
    parse = browse.clip_parse(preds, 2, "fused", 0.4, 0.6)
    assert (parse.pred_a == pred_a[2]).all() and (parse.pred_v == pred_v[2]).all()
    assert {ev.filename for ev in parse.events} <= {"y"} and len(parse.events) > 0
    gt_a = np.zeros((10, 25), np.uint8)
    gt_a[0, DOG] = 1
    record = browse.clip_record(parse, {"file": "ck.safetensors", "sha256": "0123"}, "abc1234", np.eye(25)[DOG], gt_a, gt_a)
    back = json.loads(json.dumps(record))
    assert back["code_revision"] == "abc1234" and back["checkpoint"]["sha256"] == "0123"
    assert back["gating"] == "fused" and back["segment_threshold"] == 0.4 and back["video_threshold"] == 0.6
    assert back["ground_truth"]["weak_labels"] == ["Dog"] and back["ground_truth"]["audio"][0][DOG] == 1
    assert back["video_prob"][0][3] == pytest.approx(float(preds.video_prob[2, 3]), abs=1e-5)
    assert isinstance(back["events"][0]["onset"], float)


@pytest.mark.slow
def test_a_missing_demo_clip_renders_as_the_build_did(tmp_path):
    from mmcse.data.llp import read_weak_labels
    from mmcse.demo.clips import demo_video, read_demo_manifest

    demo = REPO / "assets" / "demo"
    manifest = read_demo_manifest(demo)
    if manifest is None or manifest.get("videos") is None:
        pytest.skip("no compact demo in assets/demo")
    names = read_weak_labels(demo / "AVVP_test_pd.csv")[0]
    shipped = next(n for n in names if (demo / "videos" / f"{n}.mp4").is_file())
    rendered = demo_video(demo, shipped, tmp_path)
    assert rendered.parent.parent == tmp_path
    assert rendered.read_bytes() == (demo / "videos" / f"{shipped}.mp4").read_bytes()  # the same mp4, byte for byte
    assert demo_video(demo, shipped, tmp_path) == rendered  # cached
    assert demo_video(demo, "demoe999999_0_10", tmp_path) is None  # not a clip of this seed
    assert demo_video(demo, "YouTubeId01_0_10", tmp_path) is None
    assert demo_video(tmp_path, shipped, tmp_path) is None  # not a demo folder: no invented video


def test_per_class_report_sweep_and_pr_curves_agree_with_the_metrics():
    from mmcse import analysis, stats
    from mmcse.inference import Predictions

    rng = np.random.default_rng(1)
    n = 12
    gt_a = (rng.random((n, 10, 25)) < 0.1).astype(np.uint8)
    gt_v = (rng.random((n, 10, 25)) < 0.1).astype(np.uint8)
    seg = np.clip(np.stack([gt_a, gt_v], 2) * 0.6 + rng.random((n, 10, 2, 25)) * 0.5, 0, 1).astype(np.float32)
    video = seg.max(axis=(1, 2))
    preds = Predictions(video_prob=video, audio_prob=seg[:, :, 0].max(1), visual_prob=seg[:, :, 1].max(1), segment_prob=seg)
    pred_a, pred_v = preds.binary("mmcse")
    report = analysis.per_class_report(pred_a, pred_v, gt_a, gt_v)
    assert len(report) == 2 * 3 * 25
    counts = metrics.per_class_f(pred_a, pred_v, gt_a, gt_v, level="event")
    rows = report[(report["level"] == "event") & (report["modality"] == "visual")]
    assert rows["TP"].tolist() == counts["tp_v"].astype(int).tolist()
    assert rows["support"].tolist() == (counts["tp_v"] + counts["fn_v"]).astype(int).tolist()
    tp, fp = counts["tp_v"], counts["fp_v"]
    precision = np.where(tp + fp > 0, 100 * tp / np.maximum(tp + fp, 1), np.nan)
    np.testing.assert_allclose(rows["precision"].to_numpy(float), precision, equal_nan=True)
    sweep = analysis.threshold_sweep(preds, gt_a, gt_v, "mmcse", thresholds=(0.3, 0.5))
    assert sweep.loc[1, "seg_type"] == pytest.approx(metrics.avvp_scores(pred_a, pred_v, gt_a, gt_v)["seg_type"])
    curves = analysis.pr_curves(preds, gt_a, gt_v, "mmcse", "audio", [DOG, CAR], current=(0.5, 0.5))
    score_a, _ = stats.segment_scores(seg, video, preds.audio_prob, preds.visual_prob, "mmcse")
    for c in (DOG, CAR):
        name = ["Dog", "Car"][[DOG, CAR].index(c)]
        if not gt_a[..., c].any():
            assert name not in curves
            continue
        curve = curves[name]
        assert curve["ap"] == pytest.approx(stats.average_precision(gt_a[..., c].ravel(), score_a[..., c].ravel()))
        assert curve["recall"][-1] == pytest.approx(1.0) and (np.diff(curve["recall"]) >= 0).all()
        if curve["point"] is not None:  # the current thresholds (tied at 0.5) lie on the curve
            r, p = curve["point"]
            assert any(abs(r - rr) < 1e-9 and abs(p - pp) < 1e-9 for rr, pp in zip(curve["recall"], curve["precision"]))


def test_showcase_never_opens_on_a_clip_without_a_prediction():
    names, weak, pred_a, pred_v, gt_a, gt_v = three_clips()
    with_video = browse.clip_table(names, weak, pred_a, pred_v, gt_a, gt_v, [False, False, True])
    assert with_video.loc["c_0_10", "predicted"] == ""  # the only clip with a video predicts nothing
    assert browse.showcase_clip(with_video, gt_a, gt_v) == "a_0_10"
    silent = browse.clip_table(names, weak, np.zeros_like(pred_a), np.zeros_like(pred_v), gt_a, gt_v)
    assert browse.showcase_clip(silent, gt_a, gt_v) == "a_0_10"  # a model predicting nothing: still a clip


def test_sort_clips_orders_the_shown_ids_and_keeps_ties():
    names, weak, pred_a, pred_v, gt_a, gt_v = three_clips()
    table = browse.clip_table(names, weak, pred_a, pred_v, gt_a, gt_v)
    assert browse.sort_clips(table, names) == names
    assert browse.sort_clips(table, names, "file order", descending=True) == names[::-1]
    assert browse.sort_clips(table, names, "FN audio", descending=True) == ["b_0_10", "c_0_10", "a_0_10"]
    assert browse.sort_clips(table, names, "FP audio") == names  # all 0: ties keep the given order
    assert browse.sort_clips(table, ["c_0_10", "a_0_10"], "clip") == ["a_0_10", "c_0_10"]
    assert browse.sort_clips(table, names, "seg Type@AV", descending=True)[0] == "a_0_10"
    j = browse.step_clip(browse.sort_clips(table, names, "FN audio", descending=True), "b_0_10", +1)
    assert j == "c_0_10"  # j / k walk the shown order
    with pytest.raises(ValueError):
        browse.sort_clips(table, names, "nonsense")


def test_export_names_the_checkpoint_by_its_full_sha256_and_explains_video_prob(tmp_path):
    import hashlib

    from mmcse import export

    path = tmp_path / "ck.safetensors"
    path.write_bytes(b"weights")
    identity = export.checkpoint_identity(path)
    assert identity["sha256"] == hashlib.sha256(b"weights").hexdigest() and len(identity["sha256"]) == 64
    assert "exceed 1" in export.FIELD_NOTES["video_prob"]


def test_an_uploads_looped_filler_is_never_shown():
    from mmcse.inference import VideoParse

    prob = np.full((10, 2, 25), 0.9)  # a 7-s video: seconds 7-9 repeat it to fill the window
    real = np.arange(10) < 7
    parse = VideoParse(path="short.mp4", duration=7.0, segment_prob=prob, video_prob=np.full((1, 25), 0.9),
                       audio_prob=np.full((1, 25), 0.9), visual_prob=np.full((1, 25), 0.9), pred_a=None, pred_v=None,
                       events=[], segment_real=real).rethreshold("mmcse", 0.5, 0.5)  # fmt: skip
    pred_a, pred_v, shown = browse.shown_seconds(parse)
    assert pred_a.shape == pred_v.shape == (7, 25) and shown.shape == (7, 2, 25)
    assert max(ev.offset for ev in parse.events) == 7.0


def test_error_kind_columns_and_filters_combine_with_classes():
    names, weak, pred_a, pred_v, gt_a, gt_v = three_clips()
    table = browse.clip_table(names, weak, pred_a, pred_v, gt_a, gt_v)
    # b: Car heard, predicted seen (the GT event and the prediction); c: Speech heard, not predicted
    assert table.loc["b_0_10", list(browse.KIND_COLUMNS)].to_dict() == {
        "boundary": 0, "split": 0, "merged": 0, "wrong modality": 2, "substitution": 0, "missed": 0, "inserted": 0}  # fmt: skip
    assert table.loc["c_0_10", "missed"] == 1 and table.loc["a_0_10", list(browse.KIND_COLUMNS)].sum() == 0

    def ids(**kw):
        return browse.filter_clips(table, weak, pred_a, pred_v, gt_a, gt_v, **kw)

    assert ids(error="missed") == ["c_0_10"]
    assert ids(error="wrong modality") == ["b_0_10"]
    assert ids(error="missed", classes=[SPEECH]) == ["c_0_10"]  # a missed Speech
    assert ids(error="missed", classes=[DOG, CAR]) == []  # Dog and Car are not missed anywhere
    assert ids(error="inserted") == []
    assert ids(error="missed", query="b_0") == []  # with the other filters
    assert browse.filter_clips(table, weak, pred_a, pred_v, error="missed") == []  # no GT: nothing to say
    assert browse.sort_clips(table, names, "missed", descending=True)[0] == "c_0_10"


def test_a_given_error_table_is_used_as_is():
    from mmcse.error_analysis import split_error_table

    names, weak, pred_a, pred_v, gt_a, gt_v = three_clips()
    events = split_error_table(pred_a, pred_v, gt_a, gt_v, names)
    table = browse.clip_table(names, weak, pred_a, pred_v, gt_a, gt_v, events=events)
    assert table.equals(browse.clip_table(names, weak, pred_a, pred_v, gt_a, gt_v))
    only_b = events[events["filename"] == "b_0_10"]
    assert browse.filter_clips(table, weak, pred_a, pred_v, gt_a, gt_v, error="missed", events=only_b) == []
    assert browse.filter_clips(table, weak, pred_a, pred_v, gt_a, gt_v, error="wrong modality", events=only_b) == ["b_0_10"]
