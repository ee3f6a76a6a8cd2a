"""`python -m mmcse.benchmarks.tsne`: mmcse.analysis.tsne_embed speed and embedding quality, against
scikit-learn's 2-thread gradient as the baseline."""

from __future__ import annotations

import os
import resource
import time

import numpy as np

from mmcse.analysis import TSNE_ITERATIONS, TSNE_THREADS, embedding_quality, tsne_embed
from mmcse.classes import NUM_CLASSES


def benchmark(points: int = 5000, dim: int = 128) -> None:
    """Print wall / CPU seconds and embedding quality of ``tsne_embed`` on clustered random features, with
    the default settings and the baseline (2 OpenMP threads for the gradient), on well separated clusters
    and on overlapping ones."""
    def timed(x, iterations, threads):
        usage = resource.getrusage(resource.RUSAGE_SELF)
        start = time.perf_counter()
        embedding = tsne_embed(x, iterations=iterations, threads=threads)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_SELF)
        return embedding, wall, after.ru_utime - usage.ru_utime + after.ru_stime - usage.ru_stime

    print(
        f"t-SNE of {points} x {dim} features (limit: 15 s on 2 cores); load average {os.getloadavg()[0]:.1f}"
    )
    for name, spread in (("separated clusters", 2.0), ("overlapping clusters", 0.35)):
        rng = np.random.default_rng(0)
        labels = rng.integers(0, NUM_CLASSES, points)
        centres = rng.normal(size=(NUM_CLASSES, dim)) * spread
        x = (rng.normal(size=(points, dim)) + centres[labels]).astype(np.float32)  # (points, dim)
        walls = {}
        for setting, iterations, threads in (("baseline: 2 OpenMP threads", 500, 2),
                                             (f"default: {TSNE_THREADS} OpenMP thread(s)",
                                              TSNE_ITERATIONS, TSNE_THREADS)):  # fmt: skip
            embedding, wall, cpu = timed(x, iterations, threads)
            quality = embedding_quality(x, embedding, labels)
            walls[setting] = wall
            print(f"  {name:21s} {setting:32s} {wall:5.1f} s wall {cpu:5.1f} s CPU  trustworthiness "
                  f"{quality['trustworthiness']:.4f}  kNN class agreement {quality['knn_agreement']:.4f}")  # fmt: skip
        base, new = walls.values()
        print(f"  {name:21s} speed-up {base / new:.2f}x (load average now {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    benchmark()
