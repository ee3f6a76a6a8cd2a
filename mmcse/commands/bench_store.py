"""`python -m mmcse bench-store`: per-clip official layout vs packed store, loading a whole epoch.

Writes random features of a preset's shapes (han: vggish 10x128, res152 80x2048, r2plus1d_18 10x512) for
``--clips`` clips into ``--dir`` (removed afterwards unless ``--keep``), packs them, then reads every clip
the way training consumes them (batches of ``--batch-size`` in a seeded random order, through
``FeatureStore.load_batch``) from both layouts, and prints the times and the ratio.

Page cache: ``--cache cold`` asks the kernel to drop each layout's file pages before its pass
(fsync + posix_fadvise DONTNEED; no root needed, but a VM's host may still cache the disk); ``warm`` reads
everything once first so both passes come from RAM; ``both`` (default) times cold then warm.
"""

from __future__ import annotations


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "bench-store",
        help="time an epoch of feature loading: per-clip .npy files vs the packed store",
        description="Benchmark loading all clips from the official per-clip layout vs a packed store.",
    )
    p.add_argument("--clips", type=int, default=10_000, help="number of clips (default 10000, LLP train)")
    p.add_argument("--features", default="han", help="feature preset whose shapes to use (default han)")
    p.add_argument("--dir", default=None, help="scratch folder (default: a new temp folder)")
    p.add_argument("--keep", action="store_true", help="keep the scratch folder")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", choices=("cold", "warm", "both"), default="both")
    p.set_defaults(func=run)


def _files(folder):
    return [p for p in folder.rglob("*.npy") if p.is_file()]


def _drop_cache(files) -> None:
    """Ask the kernel to evict these files from the page cache (clean pages only, hence the fsync)."""
    import os

    for path in files:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def _warm(files) -> None:
    for path in files:
        with open(path, "rb") as f:
            while f.read(1 << 24):
                pass


def _epoch_seconds(store, video_ids, batch_size, seed) -> float:
    """Read every clip once, in batches of a seeded random permutation, into float32 torch tensors."""
    import time

    import numpy as np
    import torch

    order = np.random.default_rng(seed).permutation(len(video_ids))
    start = time.perf_counter()
    total = 0.0
    for b in range(0, len(order), batch_size):
        batch = store.load_batch([video_ids[i] for i in order[b : b + batch_size]])
        tensors = {k: torch.from_numpy(v) for k, v in batch.items()}
        total += float(tensors["audio"][:, 0, 0].sum())  # touch the result
    return time.perf_counter() - start


def run(args) -> int:
    import shutil
    import tempfile
    from pathlib import Path

    import numpy as np
    from tqdm import tqdm

    from mmcse.cli import UserError
    from mmcse.config import feature_preset
    from mmcse.data.features import FeatureStore, pack_features

    spec = feature_preset(args.features)
    if args.clips < args.batch_size:
        raise UserError(f"--clips {args.clips} is smaller than --batch-size {args.batch_size}")
    bytes_per_clip = sum(4 * s.shape[0] * s.shape[1] + 128 for s in spec.streams.values())
    need = 2 * args.clips * bytes_per_clip  # per-clip files + packed copy
    scratch = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="mmcse-bench-store-"))
    scratch.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(scratch).free
    if need > 0.9 * free:
        raise UserError(
            f"{args.clips} {spec.name} clips need {need / 1e9:.1f} GB in {scratch}, only {free / 1e9:.1f} GB free; "
            f"use fewer --clips or another --dir"
        )
    print(
        f"{args.clips} clips of {spec.name} features ({bytes_per_clip / 1e6:.2f} MB a clip, "
        f"{need / 2e9:.2f} GB a layout) in {scratch}"
    )
    try:
        # 1. per-clip official layout: <root>/<stream>/<id11>.npy
        root = scratch / "official"
        rng = np.random.default_rng(args.seed)
        video_ids = [f"clip{i:07d}" for i in range(args.clips)]  # 11 characters
        for stream in spec.streams.values():
            (root / stream.name).mkdir(parents=True, exist_ok=True)
        for vid in tqdm(video_ids, desc="write per-clip .npy", unit="clip"):
            for stream in spec.streams.values():
                np.save(
                    root / stream.name / f"{vid}.npy", rng.standard_normal(stream.shape, dtype=np.float32)
                )
        # 2. packed
        packed = pack_features(root, spec, video_ids, scratch / "packed", pseudo=False)
        per_clip_store = FeatureStore.open(root, spec, pseudo=False)
        packed_store = FeatureStore.open(packed, spec, pseudo=False)
        # the two layouts give identical batches
        probe = video_ids[:: max(1, args.clips // 7)][:7]
        a, b = per_clip_store.load_batch(probe), packed_store.load_batch(probe)
        assert all(np.array_equal(a[k], b[k]) for k in a), "packed and per-clip batches differ"

        # 3. time an epoch from each layout
        results = {}
        modes = ("cold", "warm") if args.cache == "both" else (args.cache,)
        for mode in modes:
            for name, store, folder in (("per-clip", per_clip_store, root), ("packed", packed_store, packed)):
                files = _files(folder)
                if mode == "cold":
                    _drop_cache(files)
                else:
                    _warm(files)
                results[mode, name] = _epoch_seconds(store, video_ids, args.batch_size, args.seed)
                print(
                    f"  {mode:4s} {name:8s}: {results[mode, name]:7.2f} s  "
                    f"({args.clips / results[mode, name]:8.0f} clips/s)"
                )
        print(f"\n{args.clips} clips, batches of {args.batch_size} in random order, float32 tensors:")
        for mode in modes:
            ratio = results[mode, "per-clip"] / results[mode, "packed"]
            print(
                f"  {mode} page cache: per-clip {results[mode, 'per-clip']:.2f} s, "
                f"packed {results[mode, 'packed']:.2f} s -> packed is {ratio:.1f}x faster"
            )
        if "cold" in modes:
            print(
                "  (cold = fsync + posix_fadvise(DONTNEED) on every file before the pass; a VM host may still cache)"
            )
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0
