"""Timing of mmcse.stats on random data the size of the LLP test split: `python -m mmcse.benchmarks.bootstrap`.

Figures: wall seconds (median and best of --repeats) to get the 10 bootstrap intervals of one checkpoint,
a paired comparison of two, and the per-class paired deltas, from per-video values scored once (the
scoring itself is timed on its own line). Baselines: the naive bootstrap that rescores every resample with
`metrics.avvp_scores`, timed on --baseline-resamples resamples and scaled linearly to --resamples; and
scipy.stats.bootstrap / permutation_test, one call per number (they take one statistic at a time, so the
numbers do not share their resampled clips), on the same per-video values.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

from mmcse.metrics import avvp_scores, per_video_scores
from mmcse.stats import (
    bootstrap_intervals,
    paired_class_comparison,
    paired_comparison,
    per_video_class_counts,
)


def make_checkpoints(n_clips: int, seed: int) -> tuple[np.ndarray, ...]:
    """Run-like GT and two noisy checkpoints: (pred_a_1, pred_v_1, pred_a_2, pred_v_2, gt_a, gt_v), each
    (n_clips, 10, 25) uint8. Checkpoint 2 misses fewer GT segments (25% vs 30%)."""
    rng = np.random.default_rng(seed)
    t = np.arange(10)[None, :, None]
    gts = []
    for _ in range(2):  # one run per present class (prob 0.1 per clip and class)
        present = rng.random((n_clips, 1, 25)) < 0.1
        start, length = rng.integers(0, 10, (n_clips, 1, 25)), rng.integers(1, 11, (n_clips, 1, 25))
        gts.append((present & (t >= start) & (t < start + length)).astype(np.uint8))
    preds = []
    for miss in (0.3, 0.25):
        for gt in gts:
            u = rng.random(gt.shape)
            preds.append(np.where(gt == 1, u >= miss, u < 0.02).astype(np.uint8))
    return (*preds, *gts)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _timed(fn, repeats: int) -> tuple[float, float, object]:
    """(median, best) wall seconds over `repeats` calls after one warm-up, and the last result."""
    result = fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), min(times), result


def _naive_bootstrap_seconds(data: tuple[np.ndarray, ...], n_resamples: int, seed: int) -> float:
    """Seconds for the baseline: avvp_scores on each resampled set of clips (checkpoint 1 only)."""
    pred_a, pred_v, _, _, gt_a, gt_v = data
    idx = np.random.default_rng(seed).integers(0, pred_a.shape[0], size=(n_resamples, pred_a.shape[0]))
    t0 = time.perf_counter()
    for row in idx:
        avvp_scores(pred_a[row], pred_v[row], gt_a[row], gt_v[row])
    return time.perf_counter() - t0


def _scipy_seconds(pv_1: dict, pv_2: dict, n_resamples: int, repeats: int) -> tuple[float, float]:
    """Median seconds of scipy.stats for the 10 intervals of one checkpoint and for the paired comparison
    (paired bootstrap CI + sign-flip permutation_test) of two, one scipy call per number."""
    from scipy import stats as sps

    def mean_pct(x, axis=-1):
        return 100 * np.mean(x, axis=axis)

    def type_av(a, v, av, axis=-1):
        return 100 * (np.mean(a, axis=axis) + np.mean(v, axis=axis) + np.mean(av, axis=axis)) / 3

    def delta(a, b, axis=-1):
        return 100 * (np.mean(b, axis=axis) - np.mean(a, axis=axis))

    def mean_diff(b, a, axis=-1):
        return np.mean(b - a, axis=axis)

    def type_delta(a1, v1, av1, a2, v2, av2, axis=-1):
        return type_av(a2, v2, av2, axis=axis) - type_av(a1, v1, av1, axis=axis)

    kw = dict(n_resamples=n_resamples, vectorized=True)
    streams = ("a", "v", "av")

    def intervals():
        for level in ("seg", "evt"):
            for m in (*streams, "event"):
                sps.bootstrap((pv_1[f"{level}_{m}"],), mean_pct, method="percentile", **kw)
            sps.bootstrap(tuple(pv_1[f"{level}_{m}"] for m in streams), type_av, method="percentile", paired=True, **kw)

    def paired():
        for level in ("seg", "evt"):
            for m in (*streams, "event"):
                a, b = pv_1[f"{level}_{m}"], pv_2[f"{level}_{m}"]
                sps.bootstrap((a, b), delta, method="percentile", paired=True, **kw)
                sps.permutation_test((b, a), mean_diff, permutation_type="samples", **kw)
            both = tuple(pv[f"{level}_{m}"] for pv in (pv_1, pv_2) for m in streams)
            sps.bootstrap(both, type_delta, method="percentile", paired=True, **kw)

    return _timed(intervals, repeats)[0], _timed(paired, repeats)[0]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=1200, help="clips (default 1200, the LLP test split)")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5, help="timed calls per figure (default 5)")
    parser.add_argument("--baseline-resamples", type=int, default=10,
                        help="resamples of the naive baseline actually run, then scaled (default 10)")  # fmt: skip
    args = parser.parse_args(argv)
    n, R = args.clips, args.resamples
    load = os.getloadavg()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else "?"
    print(f"{_cpu_model()}; os.cpu_count() = {os.cpu_count()}, usable {usable}; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    print(f"{n} clips, {R} resamples, seed {args.seed}, median (best) of {args.repeats} calls")
    data = make_checkpoints(n, args.seed)
    pa1, pv1, pa2, pv2, gt_a, gt_v = data
    med0, best, pv_1 = _timed(lambda: per_video_scores(pa1, pv1, gt_a, gt_v), args.repeats)
    pv_2 = per_video_scores(pa2, pv2, gt_a, gt_v)
    print(f"  scoring once (per_video_scores, one checkpoint):    {med0:7.3f} s ({best:.3f})")
    med1, best1, one = _timed(lambda: bootstrap_intervals(pv_1, R, seed=args.seed), args.repeats)
    print(f"  10 intervals, one checkpoint (bootstrap_intervals): {med1:7.3f} s ({best1:.3f})")
    med_pair, best, pair = _timed(lambda: paired_comparison(pv_1, pv_2, R, seed=args.seed), args.repeats)
    print(f"  paired comparison, 10 numbers (+ sign-flip p):      {med_pair:7.3f} s ({best:.3f})")
    counts = [per_video_class_counts(pa, pv, gt_a, gt_v, "event") for pa, pv in ((pa1, pv1), (pa2, pv2))]
    med, best, _ = _timed(lambda: paired_class_comparison(*counts, R, seed=args.seed), args.repeats)
    print(f"  per-class paired deltas, event level, 3 x 25 F:     {med:7.3f} s ({best:.3f})")
    base = _naive_bootstrap_seconds(data, args.baseline_resamples, args.seed) * R / args.baseline_resamples
    print(f"  baseline, avvp_scores per resample (scaled from {args.baseline_resamples}): {base:.1f} s; "
          f"scoring + 10 intervals {med0 + med1:.3f} s -> {base / (med0 + med1):.0f}x faster")  # fmt: skip
    sp_one, sp_pair = _scipy_seconds(pv_1, pv_2, R, max(1, args.repeats // 2))
    print(f"  scipy.stats, one call per number: 10 intervals {sp_one:.3f} s ({sp_one / med1:.0f}x slower); paired "
          f"CI + p {sp_pair:.3f} s ({sp_pair / med_pair:.0f}x slower; Type@AV without its p)")  # fmt: skip
    r = one["seg_type"]
    print(f"  e.g. Type@AV segment {r['value']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}]; paired delta "
          f"{pair['seg_type']['delta']:+.2f} [{pair['seg_type']['ci_low']:+.2f}, {pair['seg_type']['ci_high']:+.2f}]"
          f", p = {pair['seg_type']['p']:.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
