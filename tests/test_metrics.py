"""mmcse.metrics against the official AVVP evaluation loop (tests/official_avvp_eval.py), hand-computed
cases, the protocol's reference figures on the real test split, prediction gating and event export."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mmcse.benchmarks.official_avvp_eval import (
    event_wise_metric,
    extract_event,
    official_dense_gt,
    official_per_video,
    official_scores,
)
from mmcse.classes import LLP_CLASSES, class_index
from mmcse.metrics import (
    SCORE_KEYS,
    Event,
    _event_counts,
    avvp_scores,
    events_to_tsv_rows,
    extract_events,
    per_class_f,
    per_video_scores,
    predict,
    reference_predictions,
)

SPEECH, DOG, CAR = class_index("Speech"), class_index("Dog"), class_index("Car")


def grid(n: int = 1) -> np.ndarray:
    return np.zeros((n, 10, 25), dtype=np.uint8)


def assert_scores_close(ours: dict, official: dict, tol: float = 1e-9) -> None:
    assert list(ours) == list(SCORE_KEYS)
    for k in SCORE_KEYS:
        assert abs(ours[k] - official[k]) <= tol, (k, ours[k], official[k])


# ------------------------------------------------------------------------------- random inputs


def random_rows(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Binary (..., 10) rows from a mix of generators: empty, full, i.i.d. at a random density, a few
    random runs (single segments, runs touching segment 0 or 9, adjacent-by-one-gap runs)."""
    rows = np.zeros((*shape, 10), dtype=np.uint8)
    flat = rows.reshape(-1, 10)
    kind = rng.integers(0, 6, size=flat.shape[0])
    for i, k in enumerate(kind):
        if k == 1:
            flat[i] = 1
        elif k == 2:
            flat[i] = rng.random(10) < rng.random()
        elif k >= 3:
            for _ in range(rng.integers(1, 4)):
                s = int(rng.integers(0, 10))
                e = int(rng.integers(s + 1, 11)) if k != 4 else s + 1  # k == 4: single-segment runs
                flat[i, s:e] = 1
            if k == 5:
                flat[i, 9] = 1  # touch the last segment
    return rows


def random_grids(rng: np.random.Generator, n: int) -> list[np.ndarray]:
    """pred_a, pred_v, gt_a, gt_v (n, 10, 25); each class present in a clip with a random probability so
    densities vary from near-empty to near-full between calls."""
    out = []
    for _ in range(4):
        rows = random_rows(rng, (n, 25))  # (n, 25, 10)
        present = rng.random((n, 25, 1)) < rng.choice([0.02, 0.1, 0.3, 0.7, 1.0])
        out.append(np.ascontiguousarray((rows * present).transpose(0, 2, 1)))
    return out


@pytest.mark.parametrize("seed", range(12))
def test_random_inputs_equal_official_loop(seed):
    rng = np.random.default_rng(seed)
    grids = random_grids(rng, int(rng.integers(1, 60)))
    assert_scores_close(avvp_scores(*grids), official_scores(*grids))


def test_correlated_predictions_equal_official_loop():
    # predictions that are noisy copies of the GT exercise partial run overlaps (IoU near 0.5)
    rng = np.random.default_rng(123)
    gt_a, gt_v = random_grids(rng, 80)[:2]
    flip = lambda g, p: np.where(rng.random(g.shape) < p, 1 - g, g).astype(np.uint8)  # noqa: E731
    shift = lambda g: np.roll(g, int(rng.integers(-2, 3)), axis=1)  # noqa: E731
    pred_a, pred_v = flip(shift(gt_a), 0.05), flip(gt_v, 0.1)
    assert_scores_close(avvp_scores(pred_a, pred_v, gt_a, gt_v), official_scores(pred_a, pred_v, gt_a, gt_v))


def test_per_video_scores_equal_official_lists():
    rng = np.random.default_rng(7)
    grids = random_grids(rng, 40)
    ours = per_video_scores(*grids)
    official = official_per_video(*grids)
    for key in official:
        np.testing.assert_allclose(ours[key], official[key], rtol=0, atol=1e-12)
    for level in ("seg", "evt"):
        expected = (official[f"{level}_a"] + official[f"{level}_v"] + official[f"{level}_av"]) / 3
        np.testing.assert_allclose(ours[f"{level}_type"], expected, rtol=0, atol=1e-12)
        assert ours[f"{level}_a"].shape == (40,)


@pytest.mark.parametrize(
    "fill",
    [
        (0, 0, 0, 0),  # nothing anywhere
        (1, 1, 1, 1),  # everything everywhere
        (1, 1, 0, 0),  # predict everything, GT empty
        (0, 0, 1, 1),  # predict nothing, GT full
        (1, 0, 1, 0),  # audio only
    ],
)
def test_constant_grids_equal_official_loop(fill):
    grids = [np.full((3, 10, 25), f, dtype=np.uint8) for f in fill]
    assert_scores_close(avvp_scores(*grids), official_scores(*grids))


EVERY_ROW = (np.arange(1024)[:, None] >> np.arange(10)) & 1  # (1024, 10) every 10-segment pattern
EDGE_ROWS = [0, 1023, 1, 512, 3, 768, 0b0101010101, 0b1010101010, 0b0000001111, 0b0000011111, 0b1111100000]


def check_every_pred_row_against(gt_ids: np.ndarray) -> None:
    """All 1024 predicted rows against the given GT rows: event TP/FP/FN per row equal the official."""
    pred_rows = np.repeat(EVERY_ROW, len(gt_ids), axis=0)  # (R, 10)
    gt_rows = np.tile(EVERY_ROW[gt_ids], (1024, 1))
    # one "video" per row pair, the row in class 0 -> counts (3, R, 25); read class 0
    to_grid = lambda rows: np.pad(rows[:, :, None], ((0, 0), (0, 0), (0, 24))).astype(np.float64)  # noqa: E731
    ours = _event_counts(to_grid(pred_rows), to_grid(gt_rows))[:, :, 0]  # (3, R)
    runs = {}  # pattern -> official run list (None when empty, as the official event_level passes it)
    for pattern in range(1024):
        row = EVERY_ROW[pattern].astype(np.float64)
        runs[pattern] = extract_event(row, 0) if row.sum() != 0 else None
    for r in range(pred_rows.shape[0]):
        p_id, g_id = r // len(gt_ids), int(gt_ids[r % len(gt_ids)])
        official = event_wise_metric(runs[p_id], runs[g_id])
        assert tuple(ours[:, r]) == official, (pred_rows[r], gt_rows[r], ours[:, r], official)


def test_event_counts_every_pred_row_vs_edge_gt_rows():
    rng = np.random.default_rng(5)
    check_every_pred_row_against(np.concatenate([EDGE_ROWS, rng.choice(1024, size=5, replace=False)]))


@pytest.mark.slow
def test_event_counts_every_pred_row_vs_many_gt_rows():
    rng = np.random.default_rng(6)
    check_every_pred_row_against(np.concatenate([EDGE_ROWS, rng.choice(1024, size=245, replace=False)]))


# ------------------------------------------------------------------------------- hand-computed cases


def test_video_with_nothing_active_scores_one():
    # no class active in pred or GT in any modality: every per-video F is 1.0 -> 100 for all 10 numbers
    assert avvp_scores(grid(), grid(), grid(), grid()) == dict.fromkeys(SCORE_KEYS, 100.0)


def test_iou_exactly_half_matches():
    # audio Dog: pred segments [0, 2), GT [0, 4). Visual empty everywhere, so AV is empty too.
    pred_a, gt_a = grid(), grid()
    pred_a[0, 0:2, DOG] = 1
    gt_a[0, 0:4, DOG] = 1
    s = avvp_scores(pred_a, grid(), gt_a, grid())
    # segment: TP 2, FP 0, FN 2 -> F = 4 / (4 + 2) = 2/3; V and AV: nothing active -> 1.0
    assert s["seg_a"] == pytest.approx(100 * 2 / 3)
    assert s["seg_v"] == s["seg_av"] == 100.0
    assert s["seg_type"] == pytest.approx((200 / 3 + 100 + 100) / 3)
    assert s["seg_event"] == pytest.approx(100 * 2 / 3)  # a + v counts = the audio counts
    # event: IoU = 2 / 4 = 0.5 >= 0.5 -> TP 1, FP 0, FN 0 -> F = 1
    assert s["evt_a"] == 100.0
    assert s["evt_event"] == 100.0


def test_iou_just_under_half_does_not_match():
    # audio Dog: pred [0, 2), GT [0, 5): IoU = 2 / 5 = 0.4 < 0.5 -> TP 0, FP 1, FN 1 -> event F = 0
    pred_a, gt_a = grid(), grid()
    pred_a[0, 0:2, DOG] = 1
    gt_a[0, 0:5, DOG] = 1
    s = avvp_scores(pred_a, grid(), gt_a, grid())
    assert s["evt_a"] == 0.0
    assert s["seg_a"] == pytest.approx(100 * 4 / 7)  # TP 2, FP 0, FN 3 -> 4 / 7


def test_one_long_prediction_against_two_gt_runs():
    # audio Speech: pred all 10 segments, GT [0, 5) and [7, 10)
    pred_a, gt_a = grid(), grid()
    pred_a[0, :, SPEECH] = 1
    gt_a[0, 0:5, SPEECH] = 1
    gt_a[0, 7:10, SPEECH] = 1
    s = avvp_scores(pred_a, grid(), gt_a, grid())
    # segment: TP 8, FP 2, FN 0 -> 16 / 18
    assert s["seg_a"] == pytest.approx(100 * 16 / 18)
    # event: the pred run [0,10) has IoU 5/10 with [0,5) -> TP 1, FP 0; GT [7,10) has IoU 3/10 -> FN 1
    # F = 2 / (2 + 1) = 2/3
    assert s["evt_a"] == pytest.approx(100 * 2 / 3)


def test_av_and_event_at_av_hand_computed():
    # Car: audio pred [0,10), audio GT [0,10); visual pred [0,4), visual GT [2,6).
    # AV pred = [0,4), AV GT = [2,6).
    pa, pv, ga, gv = grid(), grid(), grid(), grid()
    pa[0, :, CAR] = 1
    ga[0, :, CAR] = 1
    pv[0, 0:4, CAR] = 1
    gv[0, 2:6, CAR] = 1
    s = avvp_scores(pa, pv, ga, gv)
    # segment A: 20/20 = 1; V: TP 2, FP 2, FN 2 -> 4/8; AV: same as V -> 4/8
    assert (s["seg_a"], s["seg_v"], s["seg_av"]) == (100.0, 50.0, 50.0)
    assert s["seg_type"] == pytest.approx(200 / 3)
    # Event@AV segment: TP 10+2, FP 0+2, FN 0+2 -> 24 / 28
    assert s["seg_event"] == pytest.approx(100 * 24 / 28)
    # event: A TP 1 -> 1; V: IoU [0,4) vs [2,6) = 2/6 < 0.5 -> TP 0, FP 1, FN 1 -> 0; AV the same -> 0
    assert (s["evt_a"], s["evt_v"], s["evt_av"]) == (100.0, 0.0, 0.0)
    # Event@AV event: TP 1, FP 1, FN 1 -> 2 / 4
    assert s["evt_event"] == pytest.approx(50.0)


def test_mean_over_videos_and_active_classes():
    # video 0: nothing active -> 1.0. video 1: audio Dog perfect (F 1), audio Car predicted but absent
    # (F 0) -> audio mean 0.5. Split audio = (1.0 + 0.5) / 2 = 75%.
    pa, ga = grid(2), grid(2)
    pa[1, 3:6, DOG] = ga[1, 3:6, DOG] = 1
    pa[1, 0, CAR] = 1
    s = avvp_scores(pa, grid(2), ga, grid(2))
    assert s["seg_a"] == pytest.approx(75.0)
    assert s["evt_a"] == pytest.approx(75.0)
    pv = per_video_scores(pa, grid(2), ga, grid(2))
    np.testing.assert_allclose(pv["seg_a"], [1.0, 0.5])


def test_per_class_f_pooled_counts():
    # Dog audio: video 0 TP 3, FP 1; video 1 FN 2 -> pooled 2*3 / (6 + 1 + 2) = 6/9.
    pa, ga = grid(2), grid(2)
    pa[0, 0:4, DOG] = 1
    ga[0, 0:3, DOG] = 1
    ga[1, 5:7, DOG] = 1
    f = per_class_f(pa, grid(2), ga, grid(2))
    assert f["a"][DOG] == pytest.approx(6 / 9)
    assert (f["tp_a"][DOG], f["fp_a"][DOG], f["fn_a"][DOG]) == (3, 1, 2)
    assert np.isnan(f["a"][CAR]) and np.isnan(f["v"][DOG]) and np.isnan(f["av"][DOG])
    # event level: video 0 run [0,4) vs [0,3): IoU 3/4 -> TP; video 1 GT run unmatched -> FN: 2/3
    fe = per_class_f(pa, grid(2), ga, grid(2), level="event")
    assert fe["a"][DOG] == pytest.approx(2 / 3)
    assert set(f) >= {"a", "v", "av"} and f["a"].shape == (25,)


def test_per_class_f_counts_sum_to_split_totals():
    rng = np.random.default_rng(11)
    grids = random_grids(rng, 30)
    f = per_class_f(*grids)
    pa, pv, ga, gv = (g.astype(np.int64) for g in grids)
    assert f["tp_av"].sum() == np.sum(pa * pv * ga * gv)
    assert f["fp_a"].sum() == np.sum(pa * (1 - ga))


# ------------------------------------------------------------------------------- validation


def test_invalid_inputs_raise_clear_errors():
    g = grid(2)
    with pytest.raises(ValueError, match=r"pred_a has shape \(2, 25, 10\)"):
        avvp_scores(g.transpose(0, 2, 1), g, g, g)
    with pytest.raises(ValueError, match="same shape"):
        avvp_scores(grid(2), grid(3), grid(2), grid(2))
    bad = grid(2).astype(np.float32)
    bad[1, 4, 7] = 0.7
    with pytest.raises(ValueError, match=r"gt_v is not binary.*\(1, 4, 7\)"):
        avvp_scores(g, g, g, bad)
    with pytest.raises(ValueError, match="no videos"):
        avvp_scores(grid(0), grid(0), grid(0), grid(0))
    with pytest.raises(ValueError, match="level"):
        per_class_f(g, g, g, g, level="frame")


def test_bool_and_float_inputs_give_same_scores():
    rng = np.random.default_rng(3)
    grids = random_grids(rng, 10)
    as_uint8 = avvp_scores(*grids)
    assert avvp_scores(*(g.astype(bool) for g in grids)) == as_uint8
    assert avvp_scores(*(g.astype(np.float32) for g in grids)) == as_uint8


# ------------------------------------------------------------------------------- real test split


@pytest.fixture(scope="module")
def test_split(llp_dir):
    from mmcse.data.llp import dense_csvs, read_dense_labels, read_weak_labels, split_csv

    filenames, weak = read_weak_labels(split_csv(llp_dir, "test"))
    gt = {name: read_dense_labels(*dense_csvs(llp_dir, name), filenames) for name in ("fixed", "pre2024")}
    return filenames, weak, gt


# avvp_protocol.md §5 (official code, fixed audio GT): Seg A V AV Type Event | Evt A V AV Type Event
REFERENCE_FIGURES = {
    "nothing": (0.50, 10.08, 14.50, 8.36, 0.00, 0.50, 10.08, 14.50, 8.36, 0.00),
    "weak": (76.12, 60.35, 52.61, 63.03, 71.73, 63.03, 55.75, 44.69, 54.49, 61.60),
    "weak_no_visual_speech": (76.12, 72.50, 61.52, 70.05, 75.40, 63.03, 68.55, 52.56, 61.38, 62.98),
}


def baseline(name: str, weak: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if name == "nothing":
        return grid(len(weak)), grid(len(weak))
    return reference_predictions(weak, drop_visual_speech=name == "weak_no_visual_speech")


@pytest.mark.parametrize("name", list(REFERENCE_FIGURES))
def test_reference_figures_on_test_split(test_split, name):
    filenames, weak, gt = test_split
    assert len(filenames) == 1200
    gt_a, gt_v = gt["fixed"]
    scores = avvp_scores(*baseline(name, weak), gt_a, gt_v)
    for key, expected in zip(SCORE_KEYS, REFERENCE_FIGURES[name], strict=True):
        assert abs(scores[key] - expected) <= 0.01, (name, key, scores[key], expected)
    # and the loop oracle agrees to the last digit on the real data
    assert_scores_close(scores, official_scores(*baseline(name, weak), gt_a, gt_v))


def test_official_gt_loop_gives_the_same_grids(test_split, llp_dir):
    # the GT the official eval loop builds from the CSVs (per clip, pandas filter) is what we score against
    import pandas as pd

    from mmcse.data.llp import dense_csvs

    filenames, _, gt = test_split
    audio_csv, visual_csv = dense_csvs(llp_dir, "fixed")
    df_a, df_v = pd.read_csv(audio_csv, sep="\t"), pd.read_csv(visual_csv, sep="\t")
    gt_a, gt_v = gt["fixed"]
    for i in range(0, len(filenames), 3):  # every third clip keeps this fast
        official_a, official_v = official_dense_gt(df_a, df_v, filenames[i])
        assert np.array_equal(official_a, gt_a[i]) and np.array_equal(official_v, gt_v[i]), filenames[i]


def test_pre2024_audio_gt_moves_numbers_by_at_most_004(test_split):
    _, weak, gt = test_split
    for name in REFERENCE_FIGURES:
        pred = baseline(name, weak)
        fixed, old = avvp_scores(*pred, *gt["fixed"]), avvp_scores(*pred, *gt["pre2024"])
        assert max(abs(fixed[k] - old[k]) for k in SCORE_KEYS) <= 0.04
    # the fix does change the audio numbers of the weak-label baseline
    pred = baseline("weak", weak)
    assert avvp_scores(*pred, *gt["fixed"])["seg_a"] != avvp_scores(*pred, *gt["pre2024"])["seg_a"]


def test_reference_predictions_shape_and_speech():
    weak = np.zeros((2, 25), dtype=np.uint8)
    weak[0, [SPEECH, DOG]] = 1
    pa, pv = reference_predictions(weak, drop_visual_speech=True)
    assert pa.shape == pv.shape == (2, 10, 25) and pa.dtype == np.uint8
    assert pa[0, :, SPEECH].all() and pa[0, :, DOG].all() and pa.sum() == 20
    assert not pv[:, :, SPEECH].any() and pv[0, :, DOG].all() and pv.sum() == 10


# ------------------------------------------------------------------------------- predict


def gating_example():
    # one clip, all segment probabilities 0.9. Class Dog: P=0.9, P_a=0.1, P_v=0.2.
    # Class Car: P=0.1, P_a=0.9, P_v=0.9.
    seg = np.full((1, 10, 2, 25), 0.9)
    video, audio, visual = (np.zeros((1, 25)) for _ in range(3))
    video[0, DOG], audio[0, DOG], visual[0, DOG] = 0.9, 0.1, 0.2
    video[0, CAR], audio[0, CAR], visual[0, CAR] = 0.1, 0.9, 0.9
    return seg, video, audio, visual


@pytest.mark.parametrize(
    "gating, dog_av, car_av",
    [
        ("fused", (1, 1), (0, 0)),  # both gated by P: Dog on, Car off
        ("mmcse", (1, 0), (0, 1)),  # audio by P, visual by P_v
        ("modality", (0, 0), (1, 1)),  # audio by P_a, visual by P_v
    ],
)
def test_predict_gating_variants(gating, dog_av, car_av):
    pred_a, pred_v = predict(*gating_example(), gating=gating)
    assert pred_a.dtype == pred_v.dtype == np.uint8 and pred_a.shape == (1, 10, 25)
    assert (pred_a[0, :, DOG].all(), pred_v[0, :, DOG].all()) == tuple(bool(x) for x in dog_av)
    assert (pred_a[0, :, CAR].all(), pred_v[0, :, CAR].all()) == tuple(bool(x) for x in car_av)
    assert pred_a.sum() == 10 * (dog_av[0] + car_av[0])  # nothing else switched on


def test_predict_thresholds_use_greater_or_equal():
    seg = np.zeros((1, 10, 2, 25), dtype=np.float32)
    seg[0, 0, 0, DOG] = 0.5  # exactly at the threshold: on
    seg[0, 1, 0, DOG] = np.nextafter(np.float32(0.5), np.float32(0))  # just under: off
    seg[0, 2, 1, DOG] = 0.5
    video = np.zeros((1, 25), dtype=np.float32)
    video[0, DOG] = 0.5  # gate exactly at the threshold: open
    pred_a, pred_v = predict(seg, video, video, video, gating="mmcse")
    assert pred_a[0, :, DOG].tolist() == [1] + [0] * 9
    assert pred_v[0, :, DOG].tolist() == [0, 0, 1] + [0] * 7
    video[0, DOG] = np.nextafter(np.float32(0.5), np.float32(0))  # gate just under: closed
    pred_a, pred_v = predict(seg, video, video, video, gating="fused")
    assert pred_a.sum() == pred_v.sum() == 0


def test_predict_custom_thresholds_and_errors():
    seg, video, audio, visual = gating_example()
    pred_a, _ = predict(seg, video, audio, visual, gating="fused", segment_threshold=0.95)
    assert pred_a.sum() == 0
    pred_a, _ = predict(seg, video, audio, visual, gating="modality", video_threshold=0.05)
    assert pred_a[0, :, DOG].all() and pred_a[0, :, CAR].all()
    with pytest.raises(ValueError, match="gating"):
        predict(seg, video, audio, visual, gating="han")
    with pytest.raises(ValueError, match="visual_prob is required"):
        predict(seg, video, gating="mmcse")
    with pytest.raises(ValueError, match="segment_prob has shape"):
        predict(seg[:, :, 0], video, audio, visual)


def test_predict_accepts_torch_tensors():
    torch = pytest.importorskip("torch")
    seg, video, audio, visual = gating_example()
    expected = predict(seg, video, audio, visual)
    got = predict(*(torch.from_numpy(x).float() for x in (seg, video, audio, visual)))
    assert all(np.array_equal(e, g) for e, g in zip(expected, got, strict=True))


# ------------------------------------------------------------------------------- events


def test_extract_events_hand_made_grid():
    # clip 0: audio Dog on segments 0-2 and 9; visual Dog on 2-4 -> AV Dog on segment 2 only.
    # clip 1: visual Speech on 0-9.
    pa, pv = grid(2), grid(2)
    pa[0, 0:3, DOG] = 1
    pa[0, 9, DOG] = 1
    pv[0, 2:5, DOG] = 1
    pv[1, :, SPEECH] = 1
    prob = np.zeros((2, 10, 2, 25))
    prob[0, 0:3, 0, DOG] = [0.6, 0.8, 1.0]  # audio run [0,3): mean 0.8
    prob[0, 9, 0, DOG] = 0.55
    prob[0, 2:5, 1, DOG] = [0.7, 0.9, 0.5]  # visual run [2,5): mean 0.7; AV [2,3): min(1.0, 0.7) = 0.7
    prob[1, :, 1, SPEECH] = 0.9
    events = extract_events(pa, pv, prob, filenames=["a_0_10", "b_0_10"])
    got = [(e.clip, e.filename, e.onset, e.offset, e.label, e.modality) for e in events]
    assert got == [
        (0, "a_0_10", 0.0, 3.0, "Dog", "audio"),
        (0, "a_0_10", 9.0, 10.0, "Dog", "audio"),
        (0, "a_0_10", 2.0, 5.0, "Dog", "visual"),
        (0, "a_0_10", 2.0, 3.0, "Dog", "audio-visual"),
        (1, "b_0_10", 0.0, 10.0, "Speech", "visual"),
    ]
    np.testing.assert_allclose([e.score for e in events], [0.8, 0.55, 0.7, 0.7, 0.9])
    # without probabilities: no score; a single clip (10, 25) is accepted
    single = extract_events(pa[0], pv[0], modalities=("audio",))
    assert [(e.clip, e.onset, e.offset, e.score) for e in single] == [
        (0, 0.0, 3.0, None),
        (0, 9.0, 10.0, None),
    ]


def test_events_to_tsv_rows():
    events = [
        Event(clip=0, filename="AP0061o0Nvk_101.8_111.8", onset=0.0, offset=3.0, label="Dog", modality="audio", score=0.8),
        Event(clip=1, filename=None, onset=2.0, offset=5.0, label="Speech", modality="audio-visual"),
    ]  # fmt: skip
    rows = events_to_tsv_rows(events)
    assert rows == [
        ("filename", "onset", "offset", "event_label", "modality", "score"),
        ("AP0061o0Nvk_101.8_111.8", "0.000", "3.000", "Dog", "audio", "0.8000"),
        ("1", "2.000", "5.000", "Speech", "audio-visual", ""),
    ]
    assert events_to_tsv_rows(events, header=False) == rows[1:]
    assert LLP_CLASSES[DOG] == "Dog"


@pytest.mark.parametrize("name", ["segment_threshold", "video_threshold"])
@pytest.mark.parametrize("value", [5, -1, float("nan"), float("inf"), "0.5", None])
def test_predict_refuses_a_threshold_that_is_not_a_probability(name, value):
    if value == "0.5":
        predict(*gating_example(), **{name: value})  # a number as text is still a number
        return
    with pytest.raises(ValueError, match=rf"^{name} must be a probability in \[0, 1\]; got "):
        predict(*gating_example(), **{name: value})
    for edge in (0, 1.0):  # the ends of the range are valid: all on / only p = 1
        assert predict(*gating_example(), **{name: edge})[0].shape == (1, 10, 25)


@pytest.mark.parametrize(
    "argument, index, value",
    [
        ("segment_prob", (0, 3, 1, 7), 7.0),
        ("segment_prob", (0, 0, 0, 2), float("nan")),
        ("video_prob", (0, 4), -0.25),
        ("visual_prob", (0, 24), float("inf")),
    ],
)
def test_predict_refuses_probabilities_outside_0_1_or_not_finite(argument, index, value):
    seg, video, audio, visual = gating_example()
    arrays = {"segment_prob": seg, "video_prob": video, "visual_prob": visual}
    arrays[argument][index] = value
    with pytest.raises(ValueError, match=rf"^{argument} holds {value!r} at .* {re.escape(str(index))}, "):
        predict(seg, video, audio, visual, gating="mmcse")


def test_predict_takes_the_fused_score_up_to_2():
    """P (video_prob) sums weighted probabilities over two modalities: 1.14 is a real model output (the
    shipped demo MM-CSE gives it), 2.5 is not."""
    seg, video, audio, visual = gating_example()
    video[0, DOG] = 1.14
    pred_a, _ = predict(seg, video, audio, visual, gating="fused")
    assert pred_a[0, :, DOG].any()
    video[0, DOG] = 2.5
    with pytest.raises(ValueError, match=r"video_prob holds 2.5 .* outside \[0, 2\]"):
        predict(seg, video, audio, visual, gating="fused")
    audio[0, DOG] = 1.14
    with pytest.raises(ValueError, match=r"audio_prob holds 1.14 .* outside \[0, 1\]"):
        predict(seg, np.clip(video, 0, 1), audio, visual, gating="modality")


def test_predict_accepts_the_ends_of_the_probability_range():
    seg, video, audio, visual = gating_example()
    seg[0, 0, 0, :] = 0.0
    seg[0, 1, 0, :] = 1.0
    video[0, DOG] = 1.0
    pred_a, _ = predict(seg, video, audio, visual, gating="fused")
    assert pred_a[0, :, DOG].tolist() == [0] + [1] * 9


def test_extract_events_refuses_bad_probabilities():
    pa = grid(1)
    pa[0, 0:2, DOG] = 1
    prob = np.zeros((1, 10, 2, 25))
    prob[0, 5, 1, CAR] = 1.5
    with pytest.raises(ValueError, match=r"^prob holds 1.5 at .* \(0, 5, 1, 1\), outside \[0, 1\]"):
        extract_events(pa, grid(1), prob)


@pytest.mark.parametrize("seconds", [0, -1.0, float("nan"), float("inf"), None, True])
def test_extract_events_refuses_segment_seconds_not_finite_positive(seconds):
    pa = grid(1)
    pa[0, 0:2, DOG] = 1
    with pytest.raises(ValueError, match=r"^segment_seconds must be a finite number of seconds > 0; got "):
        extract_events(pa, grid(1), segment_seconds=seconds)
    half = extract_events(pa, grid(1), segment_seconds=0.5, modalities=("audio",))
    assert [(e.onset, e.offset) for e in half] == [(0.0, 1.0)]


def test_predict_clips_rounding_slop_of_pooled_probabilities():
    # HAN's attentive pooling sums weighted sigmoids: float32 gives 1 + 3.6e-7 for p ~ 1; that is no error
    seg, video, audio, visual = gating_example()
    video[0, DOG] = np.float32(1) + np.float32(3.6e-7)
    seg[0, 0, 0, CAR] = -1e-7
    pred_a, _ = predict(seg, video, audio, visual, gating="fused", video_threshold=1.0)
    assert pred_a[0, :, DOG].all() and pred_a.sum() == 10  # 1 + 3.6e-7 counts as 1: only Dog's gate open
    pred_a, _ = predict(seg, video, audio, visual, gating="fused", segment_threshold=0.0, video_threshold=0.0)
    assert pred_a[0, 0, CAR] == 1  # -1e-7 counts as 0, at the threshold 0: on


def test_predict_nan_as_off_for_model_outputs():
    seg, video, audio, visual = gating_example()
    seg[0, 2, 0, DOG] = np.nan  # a model output that overflowed: off, the rest as without it
    video[0, CAR] = np.nan
    pred_a, pred_v = predict(seg, video, audio, visual, gating="fused", nan_as_off=True)
    assert pred_a[0, :, DOG].tolist() == [1, 1, 0] + [1] * 7 and pred_a[0, :, CAR].sum() == 0
    seg[0, 3, 1, DOG] = 7.0  # out of range is refused all the same
    with pytest.raises(ValueError, match=r"^segment_prob holds 7.0 at .* \(0, 3, 1, \d+\)"):
        predict(seg, video, audio, visual, gating="fused", nan_as_off=True)
