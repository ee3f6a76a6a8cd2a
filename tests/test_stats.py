"""mmcse.stats: bootstrap intervals against a plain loop over `avvp_scores`, paired comparisons (identity,
calibration under a true null, power under a true difference), per-class paired deltas, agreement with
scipy.stats.bootstrap / permutation_test, and segment AP."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from mmcse.metrics import SCORE_KEYS, avvp_scores, per_class_f, per_video_scores, predict
from mmcse.stats import (
    average_precision,
    bootstrap_intervals,
    bootstrap_scores,
    paired_class_comparison,
    paired_comparison,
    paired_scores,
    per_video_class_counts,
    segment_average_precision,
    segment_scores,
)


def make_gt(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Run-like GT (n, 10, 25) x2: each class present in a clip's audio with prob 0.1 as one run; the
    visual track copies the audio run with prob 0.5 (audio-visual events) else draws its own."""
    t = np.arange(10)[None, :, None]

    def one_run_per_class() -> np.ndarray:
        present = rng.random((n, 1, 25)) < 0.1
        start = rng.integers(0, 10, size=(n, 1, 25))
        length = rng.integers(1, 11, size=(n, 1, 25))
        return (present & (t >= start) & (t < start + length)).astype(np.uint8)

    gt_a, own_v = one_run_per_class(), one_run_per_class()
    gt_v = np.where(rng.random((n, 1, 25)) < 0.5, gt_a, own_v)
    return gt_a, gt_v


def noisy(rng: np.random.Generator, gt: np.ndarray, miss: float, false_pos: float) -> np.ndarray:
    """Predictions from GT: each positive segment missed with prob `miss`, each negative one switched on
    with prob `false_pos` (independent per segment)."""
    u = rng.random(gt.shape)
    return np.where(gt == 1, u >= miss, u < false_pos).astype(np.uint8)


def make_data(seed: int, n: int):
    rng = np.random.default_rng(seed)
    gt_a, gt_v = make_gt(rng, n)
    return noisy(rng, gt_a, 0.3, 0.02), noisy(rng, gt_v, 0.3, 0.02), gt_a, gt_v


def loop_intervals(pred_a, pred_v, gt_a, gt_v, n_resamples, confidence, seed):
    """Reference: the same index draws, then avvp_scores on each resampled set of clips."""
    n = pred_a.shape[0]
    idx = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
    boot = {k: [] for k in SCORE_KEYS}
    for row in idx:
        scores = avvp_scores(pred_a[row], pred_v[row], gt_a[row], gt_v[row])
        for k in SCORE_KEYS:
            boot[k].append(scores[k])
    q = [100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2]
    return {k: np.percentile(np.array(boot[k]), q) for k in SCORE_KEYS}


# ----------------------------------------------------------------------------- bootstrap_intervals


def test_point_estimate_equals_avvp_scores_exactly():
    data = make_data(1, 300)
    official = avvp_scores(*data)
    boot = bootstrap_scores(*data, n_resamples=50, seed=0)
    assert list(boot) == list(SCORE_KEYS)
    for k in SCORE_KEYS:
        assert boot[k]["value"] == official[k], k  # bit-for-bit, not approximately
        assert boot[k]["ci_low"] <= boot[k]["value"] <= boot[k]["ci_high"], k


def test_bootstrap_equals_python_loop_reference():
    data = make_data(2, 80)
    ours = bootstrap_scores(*data, n_resamples=150, confidence=0.9, seed=7)
    ref = loop_intervals(*data, n_resamples=150, confidence=0.9, seed=7)
    for k in SCORE_KEYS:
        assert ours[k]["ci_low"] == pytest.approx(ref[k][0], abs=1e-9), k
        assert ours[k]["ci_high"] == pytest.approx(ref[k][1], abs=1e-9), k
        assert ours[k]["ci_low"] < ours[k]["ci_high"], k  # a real interval on this data


def test_bootstrap_seeded_reproducible_and_seed_dependent():
    per_video = per_video_scores(*make_data(3, 200))
    first = bootstrap_intervals(per_video, n_resamples=200, seed=11)
    again = bootstrap_intervals(per_video, n_resamples=200, seed=11)
    other = bootstrap_intervals(per_video, n_resamples=200, seed=12)
    assert first == again
    for k in SCORE_KEYS:
        assert first[k]["value"] == other[k]["value"]
        assert (first[k]["ci_low"], first[k]["ci_high"]) != (other[k]["ci_low"], other[k]["ci_high"]), k


def test_bootstrap_rejects_bad_input():
    per_video = per_video_scores(*make_data(4, 20))
    with pytest.raises(ValueError, match="lacks keys"):
        bootstrap_intervals({"seg_a": per_video["seg_a"]})
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_intervals(per_video, confidence=95)
    with pytest.raises(ValueError, match="same clips"):
        paired_comparison(per_video, {k: v[:10] for k, v in per_video.items()})


# ----------------------------------------------------------------------------- paired_comparison


def test_paired_identical_predictions_give_zero_delta_and_p_one():
    pred_a, pred_v, gt_a, gt_v = make_data(5, 150)
    out = paired_scores(pred_a, pred_v, pred_a.copy(), pred_v.copy(), gt_a, gt_v, n_resamples=300)
    official = avvp_scores(pred_a, pred_v, gt_a, gt_v)
    for k in SCORE_KEYS:
        r = out[k]
        assert r["a"] == r["b"] == official[k]
        assert r["delta"] == r["ci_low"] == r["ci_high"] == 0.0
        assert r["p"] == 1.0 and r["within_noise"] is True


def test_paired_matches_loop_reference():
    """CI: avvp_scores of B minus A on the same resampled clips; p: A and B swapped on the clips where the
    sign draw says so, |delta*| >= |delta| counted (with the +1 of a permutation p-value)."""
    pa1, pv1, gt_a, gt_v = make_data(6, 60)
    rng = np.random.default_rng(60)
    pa2, pv2 = noisy(rng, gt_a, 0.2, 0.02), noisy(rng, gt_v, 0.2, 0.02)
    R, seed = 100, 5
    ours = paired_scores(pa1, pv1, pa2, pv2, gt_a, gt_v, n_resamples=R, confidence=0.9, seed=seed)
    gen = np.random.default_rng(seed)
    idx = gen.integers(0, 60, size=(R, 60))
    swap = gen.integers(0, 2, size=(R, 60)).astype(bool)
    boot, flips = {k: [] for k in SCORE_KEYS}, {k: [] for k in SCORE_KEYS}
    for row, s in zip(idx, swap):
        a = avvp_scores(pa1[row], pv1[row], gt_a[row], gt_v[row])
        b = avvp_scores(pa2[row], pv2[row], gt_a[row], gt_v[row])
        m = s[:, None, None]
        fa = avvp_scores(np.where(m, pa2, pa1), np.where(m, pv2, pv1), gt_a, gt_v)
        fb = avvp_scores(np.where(m, pa1, pa2), np.where(m, pv1, pv2), gt_a, gt_v)
        for k in SCORE_KEYS:
            boot[k].append(b[k] - a[k])
            flips[k].append(fb[k] - fa[k])
    for k in SCORE_KEYS:
        low, high = np.percentile(boot[k], [5, 95])
        assert ours[k]["ci_low"] == pytest.approx(low, abs=1e-9), k
        assert ours[k]["ci_high"] == pytest.approx(high, abs=1e-9), k
        p = (1 + np.sum(np.abs(flips[k]) >= abs(ours[k]["delta"]) - 1e-9)) / (1 + R)
        assert ours[k]["p"] == pytest.approx(p, abs=1e-12), k
        assert ours[k]["within_noise"] == (low <= 0 <= high)


def _simulated_pvalues(n_sets: int, n_clips: int, miss_b: float, seed: int) -> dict[str, np.ndarray]:
    """p-values of n_sets simulated pairs on shared GT: A misses 30% of positive segments, B `miss_b`; both
    switch on 2% of negatives; A and B are independent draws. Scored in one call over all sets."""
    rng = np.random.default_rng(seed)
    gt_a, gt_v = make_gt(rng, n_sets * n_clips)
    pv_a = per_video_scores(noisy(rng, gt_a, 0.3, 0.02), noisy(rng, gt_v, 0.3, 0.02), gt_a, gt_v)
    pv_b = per_video_scores(noisy(rng, gt_a, miss_b, 0.02), noisy(rng, gt_v, miss_b, 0.02), gt_a, gt_v)
    ps = {k: np.empty(n_sets) for k in SCORE_KEYS}
    for i in range(n_sets):
        part = slice(i * n_clips, (i + 1) * n_clips)
        out = paired_comparison({k: v[part] for k, v in pv_a.items()}, {k: v[part] for k, v in pv_b.items()},
                                n_resamples=199, seed=i)  # fmt: skip
        for k in SCORE_KEYS:
            ps[k][i] = out[k]["p"]
    return ps


def test_paired_test_calibrated_under_true_null():
    """200 datasets with no true difference: each of the 10 tests rejects at p < 0.05 in 1%-10% of them
    (nominal 5%; Binomial(200, 0.05) lies in [2, 20] with probability > 0.99)."""
    ps = _simulated_pvalues(n_sets=200, n_clips=50, miss_b=0.3, seed=100)
    rates = {k: float(np.mean(ps[k] < 0.05)) for k in SCORE_KEYS}
    for k in SCORE_KEYS:
        assert 0.01 <= rates[k] <= 0.10, (k, rates)
    pooled = np.mean([rates[k] for k in SCORE_KEYS])
    assert 0.02 <= pooled <= 0.08, rates
    for k in SCORE_KEYS:  # p-values roughly uniform: about half below 0.5
        assert 0.35 <= np.mean(ps[k] < 0.5) <= 0.65, k


def test_paired_test_has_power_under_true_difference():
    """B misses 10% of positive segments instead of 30%: every number rejects in (nearly) every dataset."""
    ps = _simulated_pvalues(n_sets=50, n_clips=200, miss_b=0.1, seed=200)
    for k in SCORE_KEYS:
        assert np.mean(ps[k] < 0.05) >= 0.95, (k, np.mean(ps[k] < 0.05))


# ----------------------------------------------------------------------------- per-class F


@pytest.mark.parametrize("level", ["segment", "event"])
def test_per_class_point_values_equal_per_class_f(level):
    data = make_data(8, 200)
    pa2 = noisy(np.random.default_rng(80), data[2], 0.1, 0.01)
    out = paired_class_comparison(per_video_class_counts(*data, level=level),
                                  per_video_class_counts(pa2, *data[1:], level=level), n_resamples=100)  # fmt: skip
    f1 = per_class_f(*data, level=level)
    f2 = per_class_f(pa2, *data[1:], level=level)
    for m in ("a", "v", "av"):
        np.testing.assert_array_equal(out[m]["a"], f1[m])
        np.testing.assert_array_equal(out[m]["b"], f2[m])
        np.testing.assert_array_equal(out[m]["delta"], f2[m] - f1[m])
    np.testing.assert_array_equal(out["v"]["delta"][~np.isnan(f1["v"])], 0.0)  # visual unchanged
    assert np.nanmax(out["a"]["delta"]) > 0.05  # fewer misses -> higher audio F


def test_per_class_identical_gives_zero_delta_p_one():
    data = make_data(9, 200)
    counts = per_video_class_counts(*data, level="event")
    out = paired_class_comparison(counts, {m: c.copy() for m, c in counts.items()}, n_resamples=200)
    for m in ("a", "v", "av"):
        defined = ~np.isnan(out[m]["a"])
        assert defined.sum() >= 20
        for key in ("delta", "ci_low", "ci_high"):
            np.testing.assert_array_equal(out[m][key][defined], 0.0)
        np.testing.assert_array_equal(out[m]["p"][defined], 1.0)
        assert out[m]["within_noise"][defined].all()
        assert np.isnan(out[m]["p"][~defined]).all()


def test_per_class_bootstrap_equals_loop_over_per_class_f():
    data = make_data(10, 50)
    pa2 = noisy(np.random.default_rng(100), data[2], 0.1, 0.01)
    R = 60
    out = paired_class_comparison(per_video_class_counts(*data),
                                  per_video_class_counts(pa2, *data[1:]), n_resamples=R, seed=3)  # fmt: skip
    idx = np.random.default_rng(3).integers(0, 50, size=(R, 50))
    boot = np.array([per_class_f(pa2[r], *(x[r] for x in data[1:]))["a"] - per_class_f(*(x[r] for x in data))["a"]
                     for r in idx])  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # classes absent from a resample
        low, high = np.nanpercentile(boot, [2.5, 97.5], axis=0)
    np.testing.assert_allclose(out["a"]["ci_low"], low, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(out["a"]["ci_high"], high, atol=1e-12, equal_nan=True)


# ----------------------------------------------------------------------------- average precision


def test_average_precision_by_hand_ties_step_and_no_positive():
    # ranks 0.9 (+), 0.8 (-), 0.7 (+), 0.1 (-): recall steps 1/2 at precision 1 and 1/2 at precision 2/3
    assert average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(0.5 + 0.5 * 2 / 3, abs=1e-15)
    # tied scores form one threshold (precision 1/2 at recall 1/2), no interpolation of precision
    assert average_precision([1, 0, 1], [0.5, 0.5, 0.2]) == pytest.approx(0.5 * 0.5 + 0.5 * 2 / 3, abs=1e-15)
    assert np.isnan(average_precision(np.zeros(5), np.arange(5.0)))


def test_average_precision_is_the_step_area_under_the_pr_curve_the_app_draws():
    from mmcse.analysis import _pr_curve

    rng = np.random.default_rng(11)
    for _ in range(20):
        y = (rng.random(500) < 0.1).astype(int)
        y[0] = 1
        s = np.round(rng.random(500) + 0.3 * y, 1)  # coarse scores: many ties
        precision, recall = _pr_curve(y, s)  # (K,) along decreasing thresholds, one point per distinct score
        assert len(precision) == len(np.unique(s)) and recall[-1] == 1.0
        np.testing.assert_allclose(precision[-1], y.mean())  # the lowest threshold takes every segment
        assert average_precision(y, s) == pytest.approx(np.sum(np.diff(recall, prepend=0.0) * precision), abs=1e-12)


def test_segment_average_precision_per_class_equals_sklearn():
    rng = np.random.default_rng(12)
    gt_a, gt_v = make_gt(rng, 150)
    gt_v[:, :, 3] = 0  # a class with no positive segment -> NaN, left out of the mean
    sa = np.clip(gt_a * 0.4 + rng.random(gt_a.shape) * 0.8, 0, 1)
    sv = np.round(gt_v * 0.3 + rng.random(gt_v.shape) * 0.8, 2)
    out = segment_average_precision(sa, sv, gt_a, gt_v)
    for m, s, g in (("a", sa, gt_a), ("v", sv, gt_v)):
        s2, g2 = s.reshape(-1, 25), g.reshape(-1, 25)
        expected = np.array([average_precision_score(g2[:, c], s2[:, c]) if g2[:, c].any() else np.nan
                             for c in range(25)])  # fmt: skip
        np.testing.assert_allclose(out[f"ap_{m}"], expected, atol=1e-12, equal_nan=True)
        assert out[f"map_{m}"] == pytest.approx(np.nanmean(expected), abs=1e-12)
        np.testing.assert_array_equal(out[f"n_pos_{m}"], g2.sum(axis=0))
    assert np.isnan(out["ap_v"][3]) and not np.isnan(out["ap_a"]).any()
    assert out["map_mean"] == pytest.approx((out["map_a"] + out["map_v"]) / 2)
    assert 0.3 < out["map_a"] < 1


def test_perfect_scorer_has_ap_one():
    gt_a, gt_v = make_gt(np.random.default_rng(13), 100)
    out = segment_average_precision(gt_a * 0.9 + 0.05, gt_v.astype(float), gt_a, gt_v)
    assert out["map_a"] == out["map_v"] == out["map_mean"] == 1.0
    assert np.all(out["ap_a"][~np.isnan(out["ap_a"])] == 1.0)


@pytest.mark.parametrize("gating", ["fused", "mmcse", "modality"])
def test_segment_scores_min_thresholds_like_predict(gating):
    rng = np.random.default_rng(14)
    seg = rng.random((40, 10, 2, 25)).astype(np.float32)
    video, audio, visual = (rng.random((40, 25)).astype(np.float32) for _ in range(3))
    score_a, score_v = segment_scores(seg, video, audio, visual, gating=gating)
    assert score_a.shape == score_v.shape == (40, 10, 25)
    for t in (0.1, 0.3, 0.5, 0.77, float(seg[0, 0, 0, 0]), float(video[1, 2])):  # incl. exact ties
        pred_a, pred_v = predict(
            seg, video, audio, visual, gating=gating, segment_threshold=t, video_threshold=t
        )
        np.testing.assert_array_equal(score_a >= t, pred_a.astype(bool))
        np.testing.assert_array_equal(score_v >= t, pred_v.astype(bool))
    gate_a = {"fused": video, "mmcse": video, "modality": audio}[gating]
    prod_a, _ = segment_scores(seg, video, audio, visual, gating=gating, combine="product")
    np.testing.assert_allclose(prod_a, seg[:, :, 0] * gate_a[:, None, :])
    with pytest.raises(ValueError, match="required"):
        segment_scores(seg, None, None, None, gating=gating)


# ----------------------------------------------------------------------------- against scipy.stats
# scipy resamples with its own random numbers, so the intervals agree within Monte-Carlo error: with R
# resamples a 2.5% percentile has a standard error of about sqrt(0.025 * 0.975 / R) / pdf(1.96) = 0.011
# interval widths at R = 4000, and the difference of two such estimates about 0.015 widths; the tolerance
# of 0.06 widths is four of those.


def _scipy_bootstrap(data, statistic, n_resamples: int):
    from scipy import stats as sps

    res = sps.bootstrap(data, statistic, n_resamples=n_resamples, confidence_level=0.95, method="percentile",
                        paired=True, vectorized=True, rng=np.random.default_rng(99))  # fmt: skip
    return res.confidence_interval.low, res.confidence_interval.high


def test_bootstrap_intervals_agree_with_scipy_bootstrap():
    per_video = per_video_scores(*make_data(21, 400))
    ours = bootstrap_intervals(per_video, n_resamples=4000, seed=3)

    def mean_pct(x, axis=-1):
        return 100 * np.mean(x, axis=axis)

    def type_av(a, v, av, axis=-1):  # the whole metric recomputed on the resampled clips
        return 100 * (np.mean(a, axis=axis) + np.mean(v, axis=axis) + np.mean(av, axis=axis)) / 3

    cases = {"seg_a": ((per_video["seg_a"],), mean_pct), "evt_event": ((per_video["evt_event"],), mean_pct),
             "seg_type": ((per_video["seg_a"], per_video["seg_v"], per_video["seg_av"]), type_av)}  # fmt: skip
    for key, (data, statistic) in cases.items():
        low, high = _scipy_bootstrap(data, statistic, 4000)
        width = high - low
        assert width > 1, key  # a real interval on this data
        assert ours[key]["ci_low"] == pytest.approx(low, abs=0.06 * width), key
        assert ours[key]["ci_high"] == pytest.approx(high, abs=0.06 * width), key


def test_paired_interval_agrees_with_scipy_paired_bootstrap():
    pred_a, pred_v, gt_a, gt_v = make_data(22, 400)
    rng = np.random.default_rng(23)
    better_a, better_v = noisy(rng, gt_a, 0.2, 0.02), noisy(rng, gt_v, 0.2, 0.02)
    pa, pb = per_video_scores(pred_a, pred_v, gt_a, gt_v), per_video_scores(better_a, better_v, gt_a, gt_v)
    ours = paired_comparison(pa, pb, n_resamples=4000, seed=5)["seg_a"]

    def delta(a, b, axis=-1):
        return 100 * (np.mean(b, axis=axis) - np.mean(a, axis=axis))

    low, high = _scipy_bootstrap((pa["seg_a"], pb["seg_a"]), delta, 4000)
    width = high - low
    assert low > 0  # B is better on these clips, and both methods see it
    assert ours["ci_low"] == pytest.approx(low, abs=0.06 * width)
    assert ours["ci_high"] == pytest.approx(high, abs=0.06 * width)


def test_sign_flip_p_value_agrees_with_scipy_exact_permutation_test():
    from scipy import stats as sps

    # 14 clips: scipy enumerates all 2^14 sign patterns (its exact test); ours draws 40000 at random, so the
    # two p-values differ by Monte-Carlo error only, sd = sqrt(p (1 - p) / 40000) <= 0.0025
    pred_a, pred_v, gt_a, gt_v = make_data(24, 14)
    rng = np.random.default_rng(25)
    other_a, other_v = noisy(rng, gt_a, 0.15, 0.02), noisy(rng, gt_v, 0.15, 0.02)
    pa, pb = per_video_scores(pred_a, pred_v, gt_a, gt_v), per_video_scores(other_a, other_v, gt_a, gt_v)
    ours = paired_comparison(pa, pb, n_resamples=40000, seed=6)
    checked = 0
    for key in ("seg_a", "seg_v", "evt_a", "evt_event"):
        exact = sps.permutation_test((pb[key], pa[key]), lambda b, a, axis=-1: np.mean(b - a, axis=axis),
                                     permutation_type="samples", vectorized=True, n_resamples=np.inf,
                                     alternative="two-sided").pvalue  # fmt: skip
        assert ours[key]["p"] == pytest.approx(exact, abs=0.012), key
        checked += 0.001 < exact < 0.5  # p-values in the range where a test decides something
    assert checked >= 2
