"""Whole-split results of a checkpoint, computed once per (checkpoint sha256, split, feature files) in one
model pass and kept on disk, shared by every page, session and server process: the probabilities
(`inference.Predictions`), the learned co-occurrence maps (both averages the app shows) and the class-wise
feature points a t-SNE view takes (`analysis.FeaturePool`, CAFD and FGSE).

    key = cache_key(file_sha256(checkpoint), split)          # names the results, see ``cache_key``
    results = load(key)                                      # SplitResults, or None when not on disk
    job = background(key, len(split), lambda progress: compute_and_store(parser, split, key, progress))
    job.wait(0.5); job.done, job.total                       # a real progress bar: clips done
    results.predictions, results.maps["active"], results.pool("cafd")
    results, computed = checkpoint_results(path, split)     # the same, in this thread (``evaluate``)

Files, in ``cache_folder()`` ($MMCSE_CACHE, default ~/.cache/mmcse): ``<key>.safetensors`` (probabilities,
maps, the clip names and what made them in the metadata) and ``<key>.features.safetensors`` (the feature
points, read only when a t-SNE view asks). safetensors only, nothing is pickled; each file is written to a
temporary name and renamed (mmcse.utils.files.atomic_path), the features first, so a reader sees whole
files or none. A file of another format version, or one that does not read, is computed again. Deleting
the folder only costs the recomputation; the results in it take at most $MMCSE_CACHE_GB (default 10) GB, the
least recently used deleted first (``prune``, after each store).

The key is the sha256 of: this format's version, the checkpoint file's sha256, the split's clip names, weak
labels and dense GT, the feature spec, and every feature file's path, size and modification time (the
files themselves are not read: 10,000 clips are stat-ed in a fraction of a second). torch is imported only
by ``compute``; nothing here imports streamlit.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import numpy as np

from mmcse.analysis import MAP_NAMES, STAGES, FeaturePool
from mmcse.utils.files import atomic_path

if TYPE_CHECKING:
    from mmcse.data.dataset import LLPSplit
    from mmcse.inference import Parser, Predictions

CACHE_ENV = "MMCSE_CACHE"
CACHE_GB_ENV = "MMCSE_CACHE_GB"  # the results kept in the cache folder, at most this many GB (default 10)
DEFAULT_CACHE_GB = 10.0
FORMAT = "mmcse-split-results"
FORMAT_VERSION = 1
FEATURE_CLIPS = 2000  # class-wise feature points are kept for at most this many clips (evenly spaced)
PROB_FIELDS = ("video_prob", "audio_prob", "visual_prob", "segment_prob")
POOL_FIELDS = ("features", "clip", "segment", "cls", "modality", "active")
INFO_KEYS = ("checkpoint_sha256", "split", "created", "device")  # what made stored results (SplitResults.info)
Progress = Callable[[int, int], None]


def cache_folder() -> Path:
    """$MMCSE_CACHE, else ~/.cache/mmcse."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "mmcse").expanduser()


_SHA_MEMO: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | Path) -> str:
    """The full sha256 (64 hex digits) of a file, remembered per (path, size, modification time)."""
    path = Path(path)
    stat = path.stat()
    memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if memo not in _SHA_MEMO:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        _SHA_MEMO[memo] = digest.hexdigest()
    return _SHA_MEMO[memo]


def _feature_files(split: LLPSplit) -> list[str]:
    """The split's feature files, absolute (a relative --data-root and the app's absolute one name the same
    results), as strings (30,000 of them, so not as Path objects)."""
    store = split.store
    if getattr(store, "packed", False):  # a packed store: its few array files and index
        return sorted(str(p) for p in Path(os.path.abspath(str(store.root))).iterdir() if p.is_file())
    return store.paths(split.video_ids)


def split_fingerprint(split: LLPSplit) -> str:
    """sha256 of what a split's results depend on besides the checkpoint: clip names, weak labels, dense GT,
    feature spec, and each feature file's path, size and modification time."""
    h = hashlib.sha256()
    h.update(json.dumps([split.name, list(split.filenames), split.feature_spec.to_dict()], sort_keys=True).encode())
    for array in (split.label, split.gt_audio, split.gt_visual):
        h.update(b"-" if array is None else np.ascontiguousarray(array).tobytes())
    for path in _feature_files(split):
        stat = os.stat(path)
        h.update(f"{path}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    return h.hexdigest()


def cache_key(checkpoint_sha256: str, split: LLPSplit) -> str:
    """The name of a checkpoint's results on a split (32 hex digits)."""
    text = f"{FORMAT}:{FORMAT_VERSION}:{checkpoint_sha256}:{split_fingerprint(split)}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def cache_limit_bytes() -> int:
    """$MMCSE_CACHE_GB (default 10) in bytes; "inf": no limit. A value that is not a positive number gets one
    warning and the default."""
    text = os.environ.get(CACHE_GB_ENV) or ""
    try:
        gb = float(text or DEFAULT_CACHE_GB)
    except ValueError:
        gb = float("nan")
    if gb == float("inf"):
        return sys.maxsize  # no limit
    if not gb > 0:  # NaN included
        import warnings

        warnings.warn(f"{CACHE_GB_ENV}={text!r} is not a positive number of GB; the results cache keeps the "
                      f"default {DEFAULT_CACHE_GB:g} GB (\"inf\": no limit)", UserWarning, stacklevel=2)  # fmt: skip
        gb = DEFAULT_CACHE_GB
    return int(gb * 1e9)


_RESULT_NAME = re.compile(r"([0-9a-f]{32})(\.safetensors|\.features\.safetensors|\.errors\.[a-z]+\.[0-9.]+\.parquet)")


def _key_of(name: str) -> str | None:
    """The results key a cache file is named for (``<key>.safetensors``, ``<key>.features.safetensors``,
    ``<key>.errors.<gating>.<t>.<t>.parquet``), else None."""
    match = _RESULT_NAME.fullmatch(name)
    return match.group(1) if match else None


def _is_results(path: Path) -> bool:
    """Whether ``path`` holds results of this module (its safetensors header names this format)."""
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="np") as f:
            return FORMAT in (f.metadata() or {})
    except Exception:  # noqa: BLE001 not safetensors, unreadable: not ours
        return False


def prune(folder: Path | None = None, limit: int | None = None, keep: str | None = None) -> list[str]:
    """Delete the least recently used results (all files of a key together) until the folder's results
    take at most ``limit`` bytes ($MMCSE_CACHE_GB); ``keep`` (the key just stored) stays. A key counts only
    when its ``<key>.safetensors`` holds this module's results; files of other names, other files named like
    ours, and the media/ sub-folder are never counted or deleted. -> the deleted keys."""
    folder = folder or cache_folder()
    limit = cache_limit_bytes() if limit is None else limit
    files: dict[str, list[os.DirEntry]] = {}
    for entry in os.scandir(folder):
        key = _key_of(entry.name)
        if key is not None and entry.is_file(follow_symlinks=False):
            files.setdefault(key, []).append(entry)
    files = {k: v for k, v in files.items() if _is_results(results_path(k, folder))}
    sizes = {k: sum(e.stat(follow_symlinks=False).st_size for e in v) for k, v in files.items()}
    used = {k: max(e.stat(follow_symlinks=False).st_mtime for e in v) for k, v in files.items()}
    total, deleted = sum(sizes.values()), []
    for key in sorted(used, key=used.get):  # oldest use first
        if total <= limit:
            break
        if key == keep:
            continue
        for entry in files[key]:
            Path(entry.path).unlink(missing_ok=True)
        total -= sizes[key]
        deleted.append(key)
    return deleted


def feature_rows(n_clips: int, limit: int = FEATURE_CLIPS) -> np.ndarray:
    """(N,) bool: the clips whose class-wise feature points are kept, all up to ``limit``, else ``limit``
    evenly spaced ones (a t-SNE view subsamples a few thousand points anyway)."""
    keep = np.zeros(n_clips, bool)
    keep[np.unique(np.linspace(0, n_clips - 1, min(n_clips, limit)).round().astype(int))] = True
    return keep


# ----------------------------------------------------------------------------- the results


@dataclass
class SplitResults:
    """A checkpoint's results on a split. ``maps``: {"active", "all"} -> {"aa","av","vv","va"}: (25, 25), None
    for a model without maps (HAN); ``pool(stage)``: the class-wise feature points (None without them)."""

    key: str
    predictions: Predictions
    maps: dict[str, dict[str, np.ndarray]] | None
    feature_clips: int  # clips whose class-wise feature points are kept (0: none)
    seconds: float  # how long the model pass took
    folder: Path
    info: dict[str, Any] = field(default_factory=dict)  # checkpoint sha256, split, created
    _pools: dict[str, FeaturePool] = field(default_factory=dict, repr=False)

    def pool(self, stage: str) -> FeaturePool | None:
        """The class-wise feature points of ``stage`` ("cafd" | "fgse"), read from disk on first use."""
        if self.feature_clips == 0:
            return None
        if stage not in self._pools:
            try:
                arrays = _read(features_path(self.key, self.folder))[0]
            except Exception:  # noqa: BLE001 gone (pruned, deleted) or damaged since these results were read
                with _JOBS_LOCK:
                    if _JOBS.get(self.key) is not None and _JOBS[self.key].result is self:
                        del _JOBS[self.key]  # the next page run reads or computes them again
                raise ValueError(f"the class-wise feature points of these results are no longer readable in "
                                 f"{self.folder} (the cache was pruned or cleared); reload the page to compute "
                                 "them again") from None  # fmt: skip
            for s in STAGES:
                self._pools[s] = FeaturePool(s, **{f: arrays[f"{s}.{f}"] for f in POOL_FIELDS})
        return self._pools[stage]


def results_path(key: str, folder: Path | None = None) -> Path:
    return (folder or cache_folder()) / f"{key}.safetensors"


def features_path(key: str, folder: Path | None = None) -> Path:
    return (folder or cache_folder()) / f"{key}.features.safetensors"


def _read(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, dict(f.metadata() or {})


def load(key: str, folder: Path | None = None) -> SplitResults | None:
    """The stored results named ``key``, or None when there are none (or they do not read as this format)."""
    from mmcse.predictions import Predictions

    folder = folder or cache_folder()
    path = results_path(key, folder)
    if not path.is_file():
        return None
    try:
        arrays, meta = _read(path)
        info = json.loads(meta.get(FORMAT, "{}"))
        if info.get("version") != FORMAT_VERSION or info.get("key") != key:
            return None
        feature_clips = int(info.get("feature_clips", 0))
        if feature_clips and not features_path(key, folder).is_file():
            return None
        preds = Predictions(**{f: arrays[f] for f in PROB_FIELDS}, filenames=list(info["filenames"]))
    except Exception:  # noqa: BLE001 a file that does not read as these results (truncated, foreign): computed again
        return None
    try:
        os.utime(path)  # used now: the last to go when the cache is pruned (prune)
    except OSError:  # a read-only cache
        pass
    maps = None
    if info.get("has_maps"):
        maps = {v: {k: arrays[f"maps.{v}.{k}"] for k in MAP_NAMES} for v in ("active", "all")}
    return SplitResults(key, preds, maps, feature_clips, float(info.get("seconds", 0.0)), folder,
                        {k: info.get(k) for k in INFO_KEYS})  # fmt: skip


# ----------------------------------------------------------------------------- the one model pass


def _forward(parser: Parser, audio, visual, visual_st, keep_attn: bool, keep_slots: bool) -> SimpleNamespace:
    """One batch through the model (on a worker thread: grad mode is per thread) -> numpy outputs."""
    import torch

    def numpy(x):
        return None if x is None else x.detach().float().cpu().numpy()

    with torch.no_grad():
        out = parser.forward(audio, visual, visual_st)
    return SimpleNamespace(
        **{f: numpy(getattr(out, f)) for f in PROB_FIELDS},
        attn={k: numpy(v) for k, v in out.attn.items()} if keep_attn and out.attn else {},
        class_features=numpy(out.class_features) if keep_slots else None,  # (B, 10, 2, 26, d_c)
        enhanced_features=numpy(out.enhanced_features) if keep_slots else None,  # (B, 10, 2, 25, d_c)
    )


def compute(parser: Parser, split: LLPSplit, progress: Progress | None = None, batch_size: int = 64,
            feature_limit: int = FEATURE_CLIPS, workers: int = 1) -> tuple[Predictions, dict | None, dict[str, FeaturePool]]:  # fmt: skip
    """One pass of the model over the split -> (predictions, maps {"active", "all"} or None, feature pools
    {"cafd", "fgse"} (empty without class-wise features)). The same numbers as ``parser.predict_split``,
    ``analysis.cooccurrence_maps`` and ``analysis.class_feature_samples`` (up to ``feature_limit`` clips).
    ``workers`` threads run the model on consecutive batches (each op single-threaded, so two workers use two
    cores without OpenMP threads spinning at barriers); this thread reads the next features meanwhile and
    gathers the results in split order."""
    from collections import deque
    from concurrent.futures import ThreadPoolExecutor

    from mmcse.analysis import FeaturePoolBuilder, MapAccumulator, active_segments
    from mmcse.predictions import Predictions

    parser.check_split(split)
    n = len(split)
    maps = MapAccumulator() if parser.arch == "mmcse" else None
    keep = feature_rows(n, feature_limit)
    builders = {s: FeaturePoolBuilder(s, keep) for s in STAGES} if parser.has_class_features else {}
    parts: dict[str, list[np.ndarray]] = {f: [] for f in PROB_FIELDS}
    state = {"start": 0, "d_class": 1}

    def gather(out: SimpleNamespace) -> None:
        start = state["start"]
        b = len(out.video_prob)
        rows = slice(start, start + b)
        for f in PROB_FIELDS:
            parts[f].append(getattr(out, f))
        if maps is not None and out.attn:
            maps.add(out.attn, active_segments(parser, split, rows, out))  # attn (B, 10, 25, 25)
        gt = (None, None) if split.gt_audio is None else (split.gt_audio[rows], split.gt_visual[rows])
        for stage, builder in builders.items():
            slots = out.class_features if stage == "cafd" else out.enhanced_features  # (B, 10, 2, S, d_c)
            if slots is not None:
                builder.add(slots, start, split.label[rows], *gt)
                state["d_class"] = slots.shape[-1]
        state["start"] = start + b
        if progress is not None:
            progress(start + b, n)

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: deque = deque()
        for audio, visual, visual_st in split.feature_batches(batch_size):
            pending.append(pool.submit(_forward, parser, audio, visual, visual_st, maps is not None, bool(builders)))
            while len(pending) > max(1, workers):
                gather(pending.popleft().result())
        while pending:
            gather(pending.popleft().result())
    preds = Predictions(**{f: np.concatenate(v) for f, v in parts.items()}, filenames=list(split.filenames))
    pools = {s: b.build(state["d_class"]) for s, b in builders.items()}
    return preds, None if maps is None else {v: maps.maps(v == "active") for v in ("active", "all")}, pools


def store(key: str, preds: Predictions, maps: dict | None, pools: dict[str, FeaturePool], seconds: float,
          info: dict[str, Any], folder: Path | None = None) -> SplitResults:  # fmt: skip
    """Write the results atomically (the feature points first) and return them as loaded."""
    from safetensors.numpy import save_file

    folder = folder or cache_folder()
    folder.mkdir(parents=True, exist_ok=True)
    clips = int(len(np.unique(pools["cafd"].clip))) if pools and len(pools["cafd"]) else 0
    if clips:
        tensors = {f"{s}.{f}": np.ascontiguousarray(getattr(p, f)) for s, p in pools.items() for f in POOL_FIELDS}
        with atomic_path(features_path(key, folder), suffix=".safetensors") as tmp:
            save_file(tensors, str(tmp))
    tensors = {f: np.ascontiguousarray(getattr(preds, f), np.float32) for f in PROB_FIELDS}
    for variant, per_map in (maps or {}).items():
        tensors.update({f"maps.{variant}.{k}": np.ascontiguousarray(v) for k, v in per_map.items()})
    meta = {"version": FORMAT_VERSION, "key": key, "filenames": list(preds.filenames or []), "has_maps": maps is not None,
            "feature_clips": clips, "seconds": round(seconds, 3),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **info}  # fmt: skip
    with atomic_path(results_path(key, folder), suffix=".safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={FORMAT: json.dumps(meta)})
    results = SplitResults(key, preds, maps, clips, seconds, folder,
                           {k: meta.get(k) for k in INFO_KEYS})  # fmt: skip
    results._pools.update(pools if clips else {})
    try:
        prune(folder, keep=key)
    except OSError:  # a folder that cannot be listed or cleaned: the results are stored all the same
        pass
    return results


def compute_and_store(parser: Parser, split: LLPSplit, key: str, progress: Progress | None = None,
                      folder: Path | None = None, info: dict[str, Any] | None = None, workers: int = 1) -> SplitResults:  # fmt: skip
    """``compute`` then ``store``: what a background job runs."""
    started = time.perf_counter()
    preds, maps, pools = compute(parser, split, progress, workers=workers)
    return store(key, preds, maps, pools, time.perf_counter() - started, info or {"split": split.name}, folder)


def predict_workers(device_type: str = "cpu") -> int:
    """Threads that run the model over a split: $MMCSE_PREDICT_WORKERS, default 2 on a CPU with two or more
    cores (each thread's ops on one core: two use both cores without OpenMP threads spinning at barriers on
    busy ones; the split's pass takes about half as long on two free cores), 1 on a GPU."""
    if device_type != "cpu":
        return 1
    default = min(2, os.cpu_count() or 1)
    try:
        return max(1, min(64, int(os.environ.get("MMCSE_PREDICT_WORKERS") or default)))
    except ValueError:  # not a whole number: the default
        return default


def checkpoint_results(checkpoint: str | Path, split: LLPSplit, device: str = "auto", folder: Path | None = None,
                       unstored: dict[str, SplitResults] | None = None) -> tuple[SplitResults, bool]:  # fmt: skip
    """A checkpoint's results on a split as the app keeps them -> (results, computed): read from the cache
    folder when stored (``computed`` False), else one model pass on ``device`` (on a CPU ``predict_workers``
    threads sharing torch's threads), stored there for the app and the next call. Results another device made
    count only for ``device`` "auto" (an explicit device gets its own pass, stored in their place). A cache
    folder that cannot be written gets one warning; the results are still returned, and kept in ``unstored``
    (by key) when given, so that a second pass of the same caller reads them."""
    import warnings

    import torch

    from mmcse.inference import Parser
    from mmcse.utils.device import resolve_device

    sha = file_sha256(checkpoint)
    key = cache_key(sha, split)
    stored = (unstored or {}).get(key) or load(key, folder)
    if stored is not None and (device == "auto" or _device_type(stored) == resolve_device(device).type):
        return stored, False
    parser = Parser.from_checkpoint(checkpoint, device=device)
    info = {"checkpoint_sha256": sha, "split": split.name, "device": str(parser.device)}
    workers, threads = predict_workers(parser.device.type), torch.get_num_threads()
    started = time.perf_counter()
    try:
        torch.set_num_threads(max(1, threads // workers))  # two workers on 2 cores: one thread each
        preds, maps, pools = compute(parser, split, workers=workers)
    finally:
        torch.set_num_threads(threads)
    seconds = time.perf_counter() - started
    try:
        return store(key, preds, maps, pools, seconds, info, folder), True
    except OSError as exc:
        warnings.warn(f"the results were not kept in {folder or cache_folder()} ({exc}); set {CACHE_ENV} to a "
                      "writable folder to keep them", UserWarning, stacklevel=2)  # fmt: skip
        results = SplitResults(key, preds, maps, 0, seconds, folder or cache_folder(), info)
        if unstored is not None:
            unstored[key] = results
        return results, True


def _device_type(results: SplitResults) -> str:
    """"cpu" / "cuda" of the device that made ``results`` ("cpu" for results stored without one)."""
    return str(results.info.get("device") or "cpu").split(":")[0]


# ----------------------------------------------------------------------------- background jobs


class Job:
    """One computation on a background thread: ``done`` / ``total`` for a progress bar, then ``result`` or
    ``error``. Shared: every session that asks for the same key gets the same job."""

    def __init__(self, key: str, total: int) -> None:
        self.key, self.total, self.done = key, total, 0
        self.result: Any = None
        self.error: BaseException | None = None
        self.started = time.perf_counter()
        self._finished = threading.Event()

    @property
    def finished(self) -> bool:
        return self._finished.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._finished.wait(timeout)

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, total

    def _run(self, work: Callable[[Progress], Any]) -> None:
        try:
            self.result = work(self.progress)
        except BaseException as exc:  # noqa: BLE001 kept for the page that waits on it
            self.error = exc
        finally:
            self._finished.set()


_JOBS: dict[str, Job] = {}
_JOBS_LOCK = threading.Lock()
KEEP_FINISHED = 8  # finished jobs (their results in memory) kept per process


def finished_job(key: str, result: Any) -> Job:
    """Register ``result`` (e.g. loaded from disk) as the finished job of ``key``."""
    job = Job(key, 0)
    job.result = result
    job._finished.set()
    with _JOBS_LOCK:
        _JOBS[key] = job
        _trim()
    return job


def find_job(key: str) -> Job | None:
    """The running or successfully finished job of ``key``, if any."""
    job = _JOBS.get(key)
    return None if job is None or job.error is not None else job


def background(key: str, total: int, work: Callable[[Progress], Any]) -> Job:
    """The job of ``key``: the one already running or finished, else ``work(progress)`` started on a
    daemon thread (a failed job is started again)."""
    with _JOBS_LOCK:
        job = _JOBS.get(key)
        if job is None or job.error is not None:
            job = Job(key, total)
            _JOBS[key] = job
            threading.Thread(target=job._run, args=(work,), daemon=True, name=f"mmcse-results-{key[:8]}").start()
            _trim()
        return job


def _trim() -> None:
    finished = [k for k, j in _JOBS.items() if j.finished]
    for k in finished[: max(0, len(finished) - KEEP_FINISHED)]:
        del _JOBS[k]
