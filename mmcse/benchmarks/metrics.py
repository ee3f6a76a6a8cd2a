"""`python -m mmcse.benchmarks.metrics`: mmcse.metrics.avvp_scores against the official loop code."""

from __future__ import annotations

import argparse
import time

import numpy as np

from mmcse.benchmarks.official_avvp_eval import official_scores
from mmcse.classes import NUM_CLASSES, NUM_SEGMENTS
from mmcse.metrics import SCORE_KEYS, avvp_scores


def benchmark(n_videos: int = 1200, repeats: int = 5, seed: int = 0) -> None:
    """Time avvp_scores on random (N, 10, 25) data the size of the LLP test split, against the official
    loop code (the baseline, mmcse.benchmarks.official_avvp_eval)."""

    rng = np.random.default_rng(seed)
    # run-like data: each class on in a clip with prob 0.1, then ~80% of its segments
    on = rng.random((4, n_videos, 1, NUM_CLASSES)) < 0.1
    grids = (on & (rng.random((4, n_videos, NUM_SEGMENTS, NUM_CLASSES)) < 0.8)).astype(np.uint8)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        scores = avvp_scores(*grids)
        times.append(time.perf_counter() - t0)
    best = min(times)
    print(f"avvp_scores on {n_videos} clips: best {best * 1e3:.1f} ms, median "
          f"{sorted(times)[len(times) // 2] * 1e3:.1f} ms over {repeats} runs")  # fmt: skip
    print("  " + " ".join(f"{k}={v:.2f}" for k, v in scores.items()))
    t0 = time.perf_counter()
    official = official_scores(*grids)
    t_official = time.perf_counter() - t0
    diff = max(abs(official[k] - scores[k]) for k in SCORE_KEYS)
    print(f"official loop code (baseline): {t_official * 1e3:.0f} ms -> {t_official / best:.0f}x faster, "
          f"max |difference| {diff:.1e}")  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Benchmark mmcse.metrics.avvp_scores on random data")
    parser.add_argument(
        "--clips", type=int, default=1200, help="number of clips (default: 1200, the test split)"
    )
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    benchmark(args.clips, args.repeats)


if __name__ == "__main__":
    main()
