"""Uncertainty for the official AVVP numbers: bootstrap intervals, paired tests, and a threshold-free view.

AVVP papers report one run on the ~1,200 LLP test clips, while methods often differ by 1-2 points. This
module puts error bars on the 10 official numbers of `mmcse.metrics.avvp_scores` without changing them:

- `bootstrap_intervals` / `bootstrap_scores`: percentile bootstrap over clips. Every official number is
  100 x a mean over videos of a per-video value (`metrics.per_video_scores`; Type@AV = (A + V + AV) / 3 of
  the three means), so a resample of clips is a count vector c (N,) and its score is c @ values / N; all
  resamples are one (R, N) @ (N, 8) product, no rescoring. The point estimate is computed with the very
  arithmetic of `avvp_scores`, so it equals it exactly.
- `paired_comparison` / `paired_scores`: two checkpoints on the same clips. delta = B - A with a paired
  bootstrap CI (the same resampled clips for both) and a two-sided p-value from a paired sign-flip
  permutation test (see `paired_comparison` for why); `paired_class_comparison` does the same for the
  pooled per-class F of `metrics.per_class_f` from per-video TP/FP/FN counts.
- `segment_scores` / `segment_average_precision`: per-class average precision of continuous segment
  scores (scikit-learn's `average_precision_score`). This is an ADDITION to the official protocol (which only scores thresholded predictions), useful
  to see whether a difference survives a change of threshold; it is not comparable to published numbers.

Random numbers come from `np.random.default_rng(seed)`: the same seed gives the same intervals. The clip
indices of all R resamples are drawn by ONE call `rng.integers(0, N, size=(R, N))` (row r = resample r),
so a plain loop over those rows calling `avvp_scores` reproduces the intervals (tests/test_stats.py does).
Memory: about 16 x R x N bytes (R = 1000, N = 1200: 19 MB).

Why not scipy.stats.bootstrap / permutation_test: they take one statistic per call, so the 10 numbers
would not share their resampled clips, and at R = 1000, N = 1200 they are 12-18x (intervals) and 37-40x
(paired CI + p) slower than the one matrix product here (`python -m mmcse.benchmarks.bootstrap` times both). tests/test_stats.py checks that both agree with scipy
(intervals within Monte-Carlo error, sign-flip p-values against scipy's exact permutation test).
"""

from __future__ import annotations

import warnings

import numpy as np

from mmcse.classes import NUM_CLASSES, NUM_SEGMENTS
from mmcse.metrics import (
    SCORE_KEYS,
    _as_binary_grid,
    _check_grids,
    _event_counts,
    _segment_counts,
    _to_numpy,
    per_video_scores,
)

# The 8 per-video values whose means make the 10 numbers; *_type is (a + v + av) / 3 of the means.
MEAN_KEYS = ("seg_a", "seg_v", "seg_av", "seg_event", "evt_a", "evt_v", "evt_av", "evt_event")
CLASS_MODALITIES = ("a", "v", "av")  # as metrics.per_class_f
_TIE_TOL = 1e-9  # percent points (scores) / F units (classes): |T*| >= |T| - tol counts as a tie


# ----------------------------------------------------------------------------- helpers


def _per_video_matrix(per_video: dict[str, np.ndarray], name: str) -> np.ndarray:
    """dict of per-video values (N,) with at least MEAN_KEYS -> (N, 8) float64 in MEAN_KEYS order."""
    missing = [k for k in MEAN_KEYS if k not in per_video]
    if missing:
        raise ValueError(f"{name} lacks keys {missing}; pass metrics.per_video_scores(...) output")
    cols = [np.asarray(per_video[k], dtype=np.float64) for k in MEAN_KEYS]
    n = {c.shape for c in cols}
    if len(n) != 1 or cols[0].ndim != 1 or cols[0].shape[0] == 0:
        raise ValueError(f"{name}: every value must be a non-empty (N,) array; got shapes {sorted(n)}")
    return np.stack(cols, axis=1)


def _point_scores(per_video: dict[str, np.ndarray]) -> dict[str, float]:
    """The 10 numbers with exactly the arithmetic of metrics.avvp_scores (bit-for-bit equal)."""
    out = {}
    for level in ("seg", "evt"):
        a, v, av = (100 * float(np.mean(np.asarray(per_video[f"{level}_{m}"], dtype=np.float64)))
                    for m in ("a", "v", "av"))  # fmt: skip
        out[f"{level}_a"], out[f"{level}_v"], out[f"{level}_av"] = a, v, av
        out[f"{level}_type"] = (av + a + v) / 3.0
        out[f"{level}_event"] = 100 * float(np.mean(np.asarray(per_video[f"{level}_event"], np.float64)))
    return {k: out[k] for k in SCORE_KEYS}


def _scores_from_means(means: np.ndarray) -> dict[str, np.ndarray]:
    """Means in MEAN_KEYS order (R, 8), fractions -> the 10 numbers in percent, each (R,)."""
    out = {k: 100 * means[:, i] for i, k in enumerate(MEAN_KEYS)}
    for level in ("seg", "evt"):
        out[f"{level}_type"] = (out[f"{level}_av"] + out[f"{level}_a"] + out[f"{level}_v"]) / 3.0
    return {k: out[k] for k in SCORE_KEYS}


def _check_resampling(n_resamples: int, confidence: float) -> None:
    if int(n_resamples) != n_resamples or n_resamples < 1:
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")


def _resample_counts(rng: np.random.Generator, n: int, n_resamples: int) -> np.ndarray:
    """How often each clip is drawn in each resample: (R, N) float64, rows summing to N.

    The indices come from ONE call rng.integers(0, n, size=(R, n)), row r being resample r."""
    idx = rng.integers(0, n, size=(n_resamples, n))  # (R, N)
    flat = idx + n * np.arange(n_resamples)[:, None]
    return np.bincount(flat.ravel(), minlength=n_resamples * n).reshape(n_resamples, n).astype(np.float64)


def _percentiles(samples: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval over axis 0 (NaN samples ignored): (R, ...) -> low, high (...)."""
    q = [100 * (1 - confidence) / 2, 100 * (1 + confidence) / 2]
    if not np.isnan(samples).any():
        return tuple(np.percentile(samples, q, axis=0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns (classes never seen) stay NaN
        return tuple(np.nanpercentile(samples, q, axis=0))


def _sign_flip_p(observed: np.ndarray, flipped: np.ndarray, tol: float) -> np.ndarray:
    """Two-sided permutation p-value (1 + #{|T*| >= |T| - tol}) / (1 + R); NaN T* count as extreme.

    observed (...), flipped (R, ...) -> p (...); NaN where observed is NaN."""
    not_extreme = np.abs(flipped) < np.abs(observed) - tol  # False for NaN -> counted as extreme
    p = (1 + flipped.shape[0] - not_extreme.sum(axis=0)) / (1 + flipped.shape[0])
    return np.where(np.isnan(observed), np.nan, p)


# ----------------------------------------------------------------------------- the 10 numbers


def bootstrap_intervals(
    per_video: dict[str, np.ndarray], n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Percentile-bootstrap intervals over clips for the 10 official numbers.

    per_video: `metrics.per_video_scores(...)` output (values (N,), fractions). Each resample draws N
    clips with replacement (the same clips for all 10 numbers). Returns, per key of `SCORE_KEYS`,
    {"value": the point estimate, exactly `avvp_scores`, "ci_low", "ci_high"} in percent.
    """
    _check_resampling(n_resamples, confidence)
    values = _per_video_matrix(per_video, "per_video")  # (N, 8)
    n = values.shape[0]
    counts = _resample_counts(np.random.default_rng(seed), n, n_resamples)  # (R, N)
    boot = _scores_from_means(counts @ values / n)  # key -> (R,)
    point = _point_scores(per_video)
    out = {}
    for k in SCORE_KEYS:
        low, high = _percentiles(boot[k], confidence)
        out[k] = {"value": point[k], "ci_low": float(low), "ci_high": float(high)}
    return out


def bootstrap_scores(
    pred_a, pred_v, gt_a, gt_v, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> dict[str, dict[str, float]]:
    """`bootstrap_intervals` of binary predictions and GT (N, 10, 25), as for `avvp_scores`."""
    return bootstrap_intervals(per_video_scores(pred_a, pred_v, gt_a, gt_v), n_resamples, confidence, seed)


def paired_comparison(
    per_video_a: dict[str, np.ndarray],
    per_video_b: dict[str, np.ndarray],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, dict]:
    """Checkpoint A vs B scored on the same clips (`per_video_scores` of each, same clip order).

    Per key of `SCORE_KEYS`: "a", "b" (the official numbers, percent), "delta" = b - a, "ci_low" /
    "ci_high" (paired percentile bootstrap: each resample takes the same clips for A and B), "p"
    (two-sided) and "within_noise" (the CI contains 0).

    p-value: paired sign-flip permutation test on the per-video differences d_i = B_i - A_i. Under the
    null "A and B are interchangeable on every clip" each d_i is as likely to be -d_i, so flipping signs at
    random gives the exact null distribution of mean(d) (for Type@AV, of the mean of the A, V, AV deltas)
    and p = (1 + #{|T*| >= |T|}) / (1 + n_resamples) is valid at any N, not only asymptotically as the
    shifted bootstrap is (which is anti-conservative for skewed per-video F). It is a test on these clips
    (is B better than A here?); the CI is the clip-population view. Identical predictions give d = 0,
    every T* = 0 = T, hence p = 1 exactly. The signs come from the same Generator, after the bootstrap.
    """
    _check_resampling(n_resamples, confidence)
    xa = _per_video_matrix(per_video_a, "per_video_a")  # (N, 8)
    xb = _per_video_matrix(per_video_b, "per_video_b")
    if xa.shape != xb.shape:
        raise ValueError(f"A and B must score the same clips; got {xa.shape[0]} and {xb.shape[0]} videos")
    n = xa.shape[0]
    diff = xb - xa  # (N, 8) per-video differences
    rng = np.random.default_rng(seed)
    counts = _resample_counts(rng, n, n_resamples)  # (R, N)
    boot = _scores_from_means(counts @ diff / n)  # paired bootstrap deltas, key -> (R,)
    signs = 1.0 - 2.0 * rng.integers(0, 2, size=(n_resamples, n))  # (R, N) of +-1
    flipped = _scores_from_means(signs @ diff / n)  # key -> (R,)
    observed = _scores_from_means(diff.sum(axis=0, keepdims=True) / n)  # same arithmetic, (1,)
    pa, pb = _point_scores(per_video_a), _point_scores(per_video_b)
    out = {}
    for k in SCORE_KEYS:
        low, high = _percentiles(boot[k], confidence)
        p = _sign_flip_p(observed[k][0], flipped[k], _TIE_TOL)
        out[k] = {
            "a": pa[k], "b": pb[k], "delta": pb[k] - pa[k], "ci_low": float(low), "ci_high": float(high),
            "p": float(p), "within_noise": bool(low <= 0.0 <= high),
        }  # fmt: skip
    return out


def paired_scores(
    pred_a_1, pred_v_1, pred_a_2, pred_v_2, gt_a, gt_v,
    n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0,
) -> dict[str, dict]:  # fmt: skip
    """`paired_comparison` of checkpoint 1 (A) and 2 (B) from binary predictions and the shared GT."""
    pv1 = per_video_scores(pred_a_1, pred_v_1, gt_a, gt_v)
    pv2 = per_video_scores(pred_a_2, pred_v_2, gt_a, gt_v)
    return paired_comparison(pv1, pv2, n_resamples, confidence, seed)


# ----------------------------------------------------------------------------- per-class F


def per_video_class_counts(pred_a, pred_v, gt_a, gt_v, level: str = "segment") -> dict[str, np.ndarray]:
    """TP, FP, FN per video and class, counted as `metrics.per_class_f` counts them.

    Binary (N, 10, 25) inputs -> {"a", "v", "av"}: (3, N, 25) float64 (TP, FP, FN); summing over videos
    (axis 1) gives the pooled counts of `per_class_f` at that level ("segment" or "event")."""
    levels = {"segment": _segment_counts, "event": _event_counts}
    if level not in levels:
        raise ValueError(f"level must be one of {sorted(levels)}, got {level!r}")
    pa, pv, ga, gv = _check_grids(pred_a, pred_v, gt_a, gt_v)
    count = levels[level]
    return {"a": count(pa, ga), "v": count(pv, gv), "av": count(pa * pv, ga * gv)}


def _pooled_f(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """F = 2TP / (2TP + FP + FN), NaN where the denominator is 0 (as per_class_f); any shape."""
    denom = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denom > 0, 2 * tp / denom, np.nan)


def _paired_class_one(ca: np.ndarray, cb: np.ndarray, counts: np.ndarray, signs: np.ndarray,
                      confidence: float) -> dict[str, np.ndarray]:  # fmt: skip
    """One modality. ca, cb (3, N, 25) counts; counts (R, N) resample counts; signs (R, N) 0/1 swaps."""
    n_cls = ca.shape[2]
    fa, fb = _pooled_f(*ca.sum(axis=1)), _pooled_f(*cb.sum(axis=1))  # (25,) each, as per_class_f
    flat_a = ca.transpose(1, 0, 2).reshape(ca.shape[1], -1)  # (N, 75): TP | FP | FN per class
    flat_b = cb.transpose(1, 0, 2).reshape(cb.shape[1], -1)
    boot_a = (counts @ flat_a).reshape(-1, 3, n_cls)  # (R, 3, 25) resampled pooled counts
    boot_b = (counts @ flat_b).reshape(-1, 3, n_cls)
    boot = _pooled_f(*boot_b.transpose(1, 0, 2)) - _pooled_f(*boot_a.transpose(1, 0, 2))  # (R, 25)
    moved = (signs @ (flat_b - flat_a)).reshape(-1, 3, n_cls)  # counts moved from B to A by the swaps
    tot_a, tot_b = flat_a.sum(axis=0).reshape(3, n_cls), flat_b.sum(axis=0).reshape(3, n_cls)
    swapped = _pooled_f(*(tot_b - moved).transpose(1, 0, 2)) - _pooled_f(*(tot_a + moved).transpose(1, 0, 2))
    delta = fb - fa
    low, high = _percentiles(boot, confidence)
    return {
        "a": fa, "b": fb, "delta": delta, "ci_low": low, "ci_high": high,
        "p": _sign_flip_p(delta, swapped, _TIE_TOL * 1e-2), "within_noise": (low <= 0) & (high >= 0),
    }  # fmt: skip


def paired_class_comparison(
    counts_a: dict[str, np.ndarray],
    counts_b: dict[str, np.ndarray],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> dict[str, dict[str, np.ndarray]]:
    """Per-class pooled F of A vs B (`per_video_class_counts` of each, same clips and level).

    Returns, per modality "a", "v", "av", arrays (25,): "a", "b" (F as `metrics.per_class_f`, fractions,
    NaN where a class is absent from predictions and GT), "delta" = b - a, "ci_low" / "ci_high" (paired
    bootstrap of videos, TP/FP/FN summed over the resampled videos; resamples where F is undefined are
    left out), "p" (two-sided, swapping A and B per video as the sign flip of `paired_comparison`; exact
    1 for identical inputs) and "within_noise" (bool, False where the CI is NaN). One resample/swap
    matrix serves all modalities.
    """
    _check_resampling(n_resamples, confidence)
    for m in CLASS_MODALITIES:
        if counts_a[m].shape != counts_b[m].shape or counts_a[m].ndim != 3:
            raise ValueError(f"counts of {m!r} differ in shape: {counts_a[m].shape} vs {counts_b[m].shape}")
    n = counts_a["a"].shape[1]
    rng = np.random.default_rng(seed)
    counts = _resample_counts(rng, n, n_resamples)  # (R, N)
    signs = rng.integers(0, 2, size=(n_resamples, n)).astype(np.float64)  # (R, N): 1 = swap this video
    return {
        m: _paired_class_one(counts_a[m], counts_b[m], counts, signs, confidence) for m in CLASS_MODALITIES
    }


# ----------------------------------------------------------------------------- threshold-free (addition)


def segment_scores(
    segment_prob, video_prob, audio_prob=None, visual_prob=None, gating: str = "mmcse", combine: str = "min"
) -> tuple[np.ndarray, np.ndarray]:
    """Continuous audio and visual segment scores (N, 10, 25) whose thresholding is `metrics.predict`.

    Inputs as `predict`: segment_prob (N, 10, 2, 25), video / audio / visual probabilities (N, 25), gating
    "fused" | "mmcse" | "modality" choosing each modality's gate. predict switches a segment on when
    p_seg >= t_s AND p_gate >= t_v. combine="min" (default) returns min(p_seg, p_gate): since
    {min >= t} = {p_seg >= t} AND {p_gate >= t}, thresholding it at t is predict(t, t) exactly, for every
    t, so its PR curve is the curve of predict with tied thresholds (the default 0.5 / 0.5 lies on it). With
    unequal thresholds no single score of this kind reproduces predict along the whole sweep. "product"
    (p_seg * p_gate, also common) ranks by a soft AND but matches no predict operating point exactly.
    The dtype of the inputs is kept for "min" so that comparisons round as in predict.
    """
    if combine not in ("min", "product"):
        raise ValueError(f"combine must be 'min' or 'product', got {combine!r}")
    gates = {"fused": ("video", "video"), "mmcse": ("video", "visual"), "modality": ("audio", "visual")}
    if gating not in gates:
        raise ValueError(f"gating must be one of {', '.join(gates)}; got {gating!r}")
    seg = _to_numpy(segment_prob)
    if seg.ndim != 4 or seg.shape[1:] != (NUM_SEGMENTS, 2, NUM_CLASSES):
        raise ValueError(
            f"segment_prob has shape {seg.shape}; expected (N, {NUM_SEGMENTS}, 2, {NUM_CLASSES})"
        )
    probs = {"video": video_prob, "audio": audio_prob, "visual": visual_prob}
    out = []
    for m, name in enumerate(gates[gating]):
        if probs[name] is None:
            raise ValueError(f"{name}_prob is required for gating {gating!r}")
        gate = _to_numpy(probs[name])
        if gate.shape != (seg.shape[0], NUM_CLASSES):
            raise ValueError(f"{name}_prob has shape {gate.shape}; expected {(seg.shape[0], NUM_CLASSES)}")
        p = seg[:, :, m, :]  # (N, 10, 25)
        out.append(np.minimum(p, gate[:, None, :]) if combine == "min" else p * gate[:, None, :])
    return out[0], out[1]


def average_precision(y_true: np.ndarray, score: np.ndarray) -> float:
    """AP of one binary ranking problem: sklearn's `average_precision_score` (sum over distinct score
    thresholds, descending, of (R_k - R_{k-1}) P_k). y_true, score (M,); NaN when y_true has no positive
    (sklearn would warn and return 0)."""
    from sklearn.metrics import average_precision_score

    y = np.asarray(y_true, dtype=np.float64).ravel()
    if not y.any():
        return float("nan")
    return float(average_precision_score(y, np.asarray(score, dtype=np.float64).ravel()))


def segment_average_precision(segment_scores_a, segment_scores_v, gt_a, gt_v) -> dict:
    """Segment-level per-class AP (threshold-free; an ADDITION to the official AVVP protocol).

    segment_scores_a / _v: continuous scores (N, 10, 25) (e.g. from `segment_scores`); gt_a / gt_v binary
    (N, 10, 25). Each class ranks all N x 10 segments of its modality. Returns "ap_a", "ap_v" (25,) (NaN
    where the class has no positive segment), "n_pos_a", "n_pos_v" (25,), "map_a", "map_v" (mean AP over
    the classes with positives) and "map_mean" = (map_a + map_v) / 2.
    """
    ga, gv = _as_binary_grid(gt_a, "gt_a"), _as_binary_grid(gt_v, "gt_v")
    out: dict = {}
    for m, scores, gt in (("a", segment_scores_a, ga), ("v", segment_scores_v, gv)):
        s = _to_numpy(scores).astype(np.float64)
        if s.shape != gt.shape:
            raise ValueError(f"segment_scores_{m} has shape {s.shape}; expected {gt.shape} as gt_{m}")
        if not np.isfinite(s).all():
            raise ValueError(f"segment_scores_{m} holds NaN or infinite values")
        s2, g2 = s.reshape(-1, NUM_CLASSES), gt.reshape(-1, NUM_CLASSES)  # (N*10, 25)
        out[f"ap_{m}"] = np.array([average_precision(g2[:, c], s2[:, c]) for c in range(NUM_CLASSES)])
        out[f"n_pos_{m}"] = g2.sum(axis=0)
        ap = out[f"ap_{m}"]
        out[f"map_{m}"] = float(np.mean(ap[~np.isnan(ap)])) if (~np.isnan(ap)).any() else float("nan")
    out["map_mean"] = (out["map_a"] + out["map_v"]) / 2
    return out
