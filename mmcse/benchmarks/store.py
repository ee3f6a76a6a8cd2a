"""Feature loading (`python -m mmcse bench-store`): per-clip official layout vs packed store, loading a whole epoch.

Writes random features of a preset's shapes (han: vggish 10x128, res152 80x2048, r2plus1d_18 10x512) for
``--clips`` clips into ``--dir`` (removed afterwards unless ``--keep``), packs them, then reads every clip
the way training consumes them (batches of ``--batch-size`` in a seeded random order, through
``FeatureStore.load_batch``, i.e. what LLPSplit/make_loader do) from both layouts, and prints the times and
the ratios. The per-clip files are the official ones as users have them (han: 80 ResNet-152 frames); the
packed store is made as `python -m mmcse pack` makes it, i.e. with the frames pooled (the mean of each
group of 8: the same model outputs, 8x fewer res152 bytes); ``--no-pool-frames`` packs every frame. A third pass times the loader pattern of the authors' training code on the per-clip files (a
Dataset that np.loads one clip per __getitem__ and a DataLoader stacking 64 of them with default collate).

Page cache: ``--cache cold`` asks the kernel to drop each layout's file pages before its pass
(fsync + posix_fadvise DONTNEED; no root needed, but a VM's host may still cache the disk); ``warm`` reads
every file once just before the pass so all reads come from RAM; ``both`` (default) times cold then warm.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from mmcse.benchmarks import STORE_SCRATCH_MARK as SCRATCH_MARK
from mmcse.commands._common import UserError
from mmcse.config import feature_preset
from mmcse.data.features import FeatureStore, frame_pool_factor, mean_frame_groups, pack_features

PER_CLIP = "per-clip (FeatureStore.load_batch)"
AUTHORS = "per-clip (authors' loader: np.load + collate)"
PACKED = "packed"  # printed with "(pooled: mean of 8 frames)" or "(all frames)"


def _files(folder):
    return [p for p in folder.rglob("*.npy") if p.is_file()]


def _drop_cache(files) -> None:
    """Ask the kernel to evict these files from the page cache (clean pages only, hence the fsync)."""

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


def _epoch_seconds(store, video_ids, args, epoch: int = 0) -> float:
    """Read every clip once, in batches of a seeded random permutation, into float32 torch tensors."""


    order = np.random.default_rng([args.seed, epoch]).permutation(len(video_ids))
    start = time.perf_counter()
    for b in range(0, len(order), args.batch_size):
        batch = store.load_batch([video_ids[i] for i in order[b : b + args.batch_size]])
        tensors = {k: torch.from_numpy(v) for k, v in batch.items()}  # (B, L, D) each
    del tensors
    return time.perf_counter() - start


def _authors_loader_seconds(root, spec, video_ids, args) -> float:
    """The pattern of the authors' (and HAN's) training code: __getitem__ np.loads one clip's files, a
    DataLoader(batch_size, shuffle=True) stacks them with the default collate (no validation)."""


    class PerClip(Dataset):
        def __len__(self):
            return len(video_ids)

        def __getitem__(self, i):
            vid = video_ids[i]
            return {
                k: torch.from_numpy(np.load(root / s.name / f"{vid}.npy")) for k, s in spec.streams.items()
            }

    generator = torch.Generator().manual_seed(args.seed)
    loader = DataLoader(PerClip(), batch_size=args.batch_size, shuffle=True, generator=generator)
    start = time.perf_counter()
    batches = sum(1 for _ in loader)
    assert batches == len(loader)
    return time.perf_counter() - start


def _write_official(root, spec, video_ids, seed) -> None:

    rng = np.random.default_rng(seed)
    for stream in spec.streams.values():
        (root / stream.name).mkdir(parents=True, exist_ok=True)
    for vid in tqdm(video_ids, desc="write per-clip .npy", unit="clip"):
        for stream in spec.streams.values():
            np.save(root / stream.name / f"{vid}.npy", rng.standard_normal(stream.shape, dtype=np.float32))


def _reusable(packed, spec, video_ids, pooled: bool) -> bool:
    """True when ``packed`` is a complete store of exactly these clips, pooled as asked (--keep run)."""

    try:
        store = FeatureStore.open(packed, spec, pseudo=False)
    except (OSError, ValueError, KeyError):
        return False
    return store.ids == video_ids and bool(store.pooled) == pooled


def _official_complete(root, spec, video_ids) -> bool:
    """True when every stream folder of ``root`` holds exactly these clips' files (an earlier --keep run)."""

    want = {f"{v}.npy" for v in video_ids}
    return all(
        (root / s.name).is_dir() and set(os.listdir(root / s.name)) == want for s in spec.streams.values()
    )


def run(args) -> int:
    """The benchmark as the command runs it (``args`` from ``python -m mmcse bench-store``)."""
    spec = feature_preset(args.features)
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    if args.clips < args.batch_size:
        raise UserError(f"--clips {args.clips} is smaller than --batch-size {args.batch_size}")
    factor = frame_pool_factor(spec) if args.pool_frames else 1
    video_ids = [f"clip{i:07d}" for i in range(args.clips)]  # 11 characters
    scratch = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="mmcse-bench-store-"))
    created = not scratch.exists() or not args.dir
    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / SCRATCH_MARK).write_text("written by python -m mmcse bench-store; its official/ and packed/ are scratch\n")
    packed_name = f"{PACKED} ({f'pooled: mean of {factor} frames' if factor > 1 else 'all frames'})"
    try:
        _check_space(args, spec, factor, scratch, video_ids, packed_name)
        root, packed = _prepare_stores(args, spec, factor, scratch, video_ids)
        results, open_s, passes, modes = _time_passes(args, spec, root, packed, video_ids, packed_name)
        _report(args, spec, results, open_s, passes, modes, packed_name)
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            # only what this command wrote: official/ and packed/, and the folder itself if it made it
            for sub in ("official", "packed"):
                shutil.rmtree(scratch / sub, ignore_errors=True)
            (scratch / SCRATCH_MARK).unlink(missing_ok=True)
            if created:
                shutil.rmtree(scratch, ignore_errors=True)
    return 0


def _check_space(args, spec, factor: int, scratch: Path, video_ids: list[str], packed_name: str) -> None:
    bytes_per_clip = sum(4 * s.shape[0] * s.shape[1] + 128 for s in spec.streams.values())
    packed_per_clip = sum(
        4 * s.shape[0] * s.shape[1] // (factor if k == "visual" else 1) for k, s in spec.streams.items()
    )
    need = args.clips * (bytes_per_clip + packed_per_clip)  # per-clip files + packed copy
    free = shutil.disk_usage(scratch).free
    if need > 0.9 * free and not _official_complete(scratch / "official", spec, video_ids):
        raise UserError(
            f"{args.clips} {spec.name} clips need {need / 1e9:.1f} GB in {scratch}, only {free / 1e9:.1f} GB free; "
            f"use fewer --clips or another --dir"
        )
    print(
        f"{args.clips} clips of {spec.name} features: per-clip {bytes_per_clip / 1e6:.3f} MB a clip, "
        f"{args.clips * bytes_per_clip / 1e9:.2f} GB; {packed_name} {packed_per_clip / 1e6:.3f} MB a clip, "
        f"{args.clips * packed_per_clip / 1e9:.2f} GB; in {scratch}"
    )


def _prepare_stores(args, spec, factor: int, scratch: Path, video_ids: list[str]) -> tuple[Path, Path]:
    """1. the per-clip official layout <root>/<stream>/<id11>.npy, 2. its packed copy (both reused when
    complete), checked to hold the same data (the visual frames: their means of ``factor``)."""
    root, packed = scratch / "official", scratch / "packed"
    if _official_complete(root, spec, video_ids):
        print(f"reusing the per-clip files already written in {root} (--keep of an earlier run)")
    else:
        _write_official(root, spec, video_ids, args.seed)
    if _reusable(packed, spec, video_ids, pooled=factor > 1):
        print(f"reusing the packed store in {packed}")
    else:
        pack_features(root, spec, video_ids, packed, pseudo=False, overwrite=True, pool_frames=factor > 1)
    probe = video_ids[:: max(1, args.clips // 7)][:7]
    a = FeatureStore.open(root, spec, pseudo=False).load_batch(probe)
    b = FeatureStore.open(packed, spec, pseudo=False).load_batch(probe)
    if factor > 1:
        a["visual"] = mean_frame_groups(a["visual"], factor)
    assert all(np.array_equal(a[k], b[k]) for k in a), "packed and per-clip batches differ"
    return root, packed


def _time_passes(args, spec, root: Path, packed: Path, video_ids: list[str], packed_name: str):
    """3. an epoch from each layout, cold and/or warm. Stores are opened fresh for every pass and dropped
    after it: pages still mapped by a live store could not be evicted for the next cold pass."""
    passes = {
        PER_CLIP: (root, lambda: _epoch_seconds(FeatureStore.open(root, spec, pseudo=False), video_ids, args)),
        AUTHORS: (root, lambda: _authors_loader_seconds(root, spec, video_ids, args)),
        packed_name: (packed, lambda: _epoch_seconds(FeatureStore.open(packed, spec, pseudo=False), video_ids, args)),
    }  # fmt: skip
    if args.skip_authors_loader:
        del passes[AUTHORS]
    results, open_s = {}, None
    modes = ("cold", "warm") if args.cache == "both" else (args.cache,)
    for mode in modes:
        for name, (folder, timed) in passes.items():
            files = _files(folder)
            _drop_cache(files) if mode == "cold" else _warm(files)
            results[mode, name] = seconds = timed()
            print(f"  {mode:4s} {name:46s} {seconds:8.3f} s ({args.clips / seconds:6.0f} clips/s)")
    if "warm" in modes:
        # training keeps its store open across epochs: from epoch 2 on, the file's pages are mapped
        # already (a fresh store pays the page-table set-up of the mapping in its first epoch)
        store = FeatureStore.open(packed, spec, pseudo=False)
        _epoch_seconds(store, video_ids, args, epoch=0)
        open_s = _epoch_seconds(store, video_ids, args, epoch=1)
        del store
        label = packed_name + ", 2nd epoch, store open"
        print(f"  warm {label:46s} {open_s:8.3f} s ({args.clips / open_s:6.0f} clips/s)")
    return results, open_s, passes, modes


def _report(args, spec, results: dict, open_s: float | None, passes: dict, modes: tuple, packed_name: str) -> None:
    print(
        f"\n{args.clips} clips of {spec.name} features, batches of {args.batch_size} in random order "
        f"(torch threads: {torch.get_num_threads()}, CPUs: {os.cpu_count()}, load average: {os.getloadavg()[0]:.1f}):"
    )
    others = [name for name in passes if name != packed_name]
    for mode in modes:
        packed_s = results[mode, packed_name]
        for name in others:
            print(f"  {mode} cache: {name} {results[mode, name]:.3f} s / {packed_name} {packed_s:.3f} s "
                  f"= {results[mode, name] / packed_s:.1f}x")  # fmt: skip
    if "warm" in modes:
        for name in others:
            print(f"  warm cache, packed store kept open (epochs 2.. of a training run): {name} "
                  f"{results['warm', name]:.3f} s / {open_s:.3f} s = {results['warm', name] / open_s:.1f}x")  # fmt: skip
    if "cold" in modes:
        print("  cold: fsync + posix_fadvise(DONTNEED) on every file before the pass (a VM host may still cache)")
    if "warm" in modes:
        print("  warm: every file read once just before the pass, so all reads come from the page cache")
