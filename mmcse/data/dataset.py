"""LLPSplit: one LLP split (weak labels, dense GT when present) joined with a FeatureStore; batching.

The one reader of a split on disk; everything opens it through ``mmcse.data.splits.open_split``
(training, evaluation, the Parser, the app and scripts alike), which checks the folder first.

Batch contract (consumed by engine, losses, inference), B clips:
    "audio"       (B, La, Da) float32        "visual"        (B, Lv, Dv) float32
    "visual_st"   (B, 10, Dst) float32       "label"         (B, 25) float32 weak labels
    "pseudo_audio"/"pseudo_visual" (B, 10, 25) float32   only when the store has pseudo labels
    "gt_audio"/"gt_visual"         (B, 10, 25) uint8     only when dense GT exists (val/test)
    "filename"    list[str] full LLP filename       "video_id" list[str] 11-character id

``LLPSplit.batches`` (what the engine iterates) and ``make_loader`` (a DataLoader, e.g. with a
DistributedSampler) fetch whole batches (``LLPSplit.get_batch``), so a packed store gathers a batch with one
fancy index per stream and training pays no per-clip Python overhead; ``batches`` reads the next batch on a
thread while the model works on the current one. ``feature_batches`` gives inference the three input
arrays (numpy) in split order.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mmcse.config import FeatureSpec
from mmcse.data import llp
from mmcse.data.features import FeatureStore

if TYPE_CHECKING:  # torch loads when batches are made, not when a split is opened (the app reads splits)
    import torch
    from torch.utils.data import DataLoader, Sampler


class LLPSplit:
    """Clips of one split CSV with their features (``store``) and, when given, dense GT.

    Every clip's features must exist: a split with missing clips raises up front, listing the first few.
    """

    def __init__(
        self,
        split_csv: str | Path,
        store: FeatureStore,
        audio_csv: str | Path | None = None,
        visual_csv: str | Path | None = None,
        name: str | None = None,
    ):
        self.split_csv = Path(split_csv)
        self.root = self.split_csv.parent  # the folder holding the split CSVs
        self.name = name or self.split_csv.stem
        self.store = store
        self.feature_spec: FeatureSpec = store.spec
        with warnings.catch_warnings(record=True) as caught:  # kept for the app, then passed on
            warnings.simplefilter("always", llp.LLPDataWarning)
            self.filenames, labels, lines = llp.read_weak_rows(self.split_csv)
            self.gt_audio = self.gt_visual = None  # (N, 10, 25) uint8 when dense GT is given
            if audio_csv is not None and visual_csv is not None and self.filenames:
                self.gt_audio, self.gt_visual = llp.read_dense_labels(
                    audio_csv, visual_csv, self.filenames, self.split_csv, lines
                )
        self.data_warnings = [str(w.message) for w in caught if issubclass(w.category, llp.LLPDataWarning)]
        for w in caught:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        if not self.filenames:
            raise ValueError(f"{self.split_csv} lists no clips; expected at least one row under the header")
        self.video_ids = [llp.video_id(f) for f in self.filenames]
        self.label = labels.astype(np.float32)  # (N, 25)
        self.audio_csv = Path(audio_csv) if audio_csv is not None else None  # the audio GT scored against
        store.check_complete(self.video_ids, what=f"{self.name} split ({self.split_csv})")

    @property
    def has_dense(self) -> bool:
        return self.gt_audio is not None

    @property
    def has_pseudo(self) -> bool:
        return self.store.has_pseudo

    def __len__(self) -> int:
        return len(self.filenames)

    def __getitem__(self, index: int) -> dict:
        """One clip: numpy arrays of the contract's per-clip shapes (no batch dimension)."""
        vid = self.video_ids[index]
        item = {"filename": self.filenames[index], "video_id": vid, "label": self.label[index]}
        if self.has_dense:
            item["gt_audio"], item["gt_visual"] = self.gt_audio[index], self.gt_visual[index]
        item.update(self.store.load(vid))
        return item

    def get_batch(self, indices) -> dict:
        """A batch of the contract (torch tensors) for split positions ``indices``, fetched at once."""
        import torch

        indices = np.asarray(indices, dtype=np.int64)
        batch = {
            k: torch.from_numpy(v)
            for k, v in self.store.load_batch([self.video_ids[i] for i in indices]).items()
        }
        batch["label"] = torch.from_numpy(self.label[indices])  # (B, 25) float32
        if self.has_dense:
            batch["gt_audio"] = torch.from_numpy(self.gt_audio[indices])  # (B, 10, 25) uint8
            batch["gt_visual"] = torch.from_numpy(self.gt_visual[indices])
        batch["filename"] = [self.filenames[i] for i in indices]
        batch["video_id"] = [self.video_ids[i] for i in indices]
        return batch

    def arrays(self) -> dict:
        """The whole split as one batch (torch tensors), e.g. to keep a small split in memory."""
        return self.get_batch(np.arange(len(self)))

    def batches(
        self, order: Sequence[int], batch_size: int, prefetch: bool = True, pin_memory: bool = False
    ) -> Iterator[dict[str, Any]]:
        """Contract batches of ``batch_size`` clips in ``order`` (the last may be smaller), the next one
        read on a thread while the caller works. ``pin_memory``: pinned tensors for non-blocking GPU copies."""
        chunks = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]

        def load(chunk):
            import torch

            batch = self.get_batch(chunk)
            if pin_memory:
                batch = {k: v.pin_memory() if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
            return batch

        if not prefetch or len(chunks) < 2:
            yield from (load(c) for c in chunks)
            return
        yield from _prefetched(load, chunks)

    def feature_batches(
        self, batch_size: int = 64, index: Sequence[int] | None = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(audio, visual, visual_st) float32 numpy batches in split order (or over ``index``)."""
        rows = list(range(len(self))) if index is None else list(index)
        for i in range(0, len(rows), batch_size):
            feats = self.store.load_batch([self.video_ids[r] for r in rows[i : i + batch_size]])
            yield feats["audio"], feats["visual"], feats["visual_st"]

    def clip_features(self, row: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """One clip's (audio, visual, visual_st) with a batch axis of 1."""
        return next(self.feature_batches(1, [row]))

    def __repr__(self) -> str:
        return f"LLPSplit({self.name!r}, clips={len(self)}, dense={self.has_dense}, store={self.store!r})"


def _prefetched(load, chunks: list) -> Iterator[Any]:
    """``load(chunk)`` for each chunk, the next one read on a thread while the caller uses the current."""
    result: dict[str, Any] = {}

    def work(chunk) -> None:
        try:
            result["value"] = load(chunk)
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=work, args=(chunks[0],), daemon=True)
    thread.start()
    for i in range(len(chunks)):
        thread.join()
        if "error" in result:
            raise result.pop("error")
        value = result.pop("value")
        if i + 1 < len(chunks):
            thread = threading.Thread(target=work, args=(chunks[i + 1],), daemon=True)
            thread.start()
        yield value


def collate(items: list[dict]) -> dict:
    """Per-clip dicts (``LLPSplit[i]``) -> a batch dict of the contract (torch tensors, lists of names)."""
    import torch

    batch = {}
    for key in items[0]:
        values = [item[key] for item in items]
        if key in ("filename", "video_id"):
            batch[key] = list(values)
        else:
            stacked = np.stack(values)
            batch[key] = torch.from_numpy(
                stacked if key.startswith("gt_") else stacked.astype(np.float32, copy=False)
            )
    return batch


class _Batches:
    """A map-style dataset whose items are whole batches: the loader hands it lists of indices."""

    def __init__(self, split: LLPSplit):
        self.split = split

    def __len__(self) -> int:
        return len(self.split)

    def __getitem__(self, indices) -> dict:
        return self.split.get_batch(indices)


def _keep(batch):
    return batch


def make_loader(
    split: LLPSplit,
    batch_size: int,
    shuffle: bool = False,
    seed: int = 0,
    sampler: Sampler | None = None,
    num_workers: int = 0,
    drop_last: bool = False,
) -> DataLoader:
    """DataLoader yielding contract batches. ``sampler`` (e.g. a DistributedSampler) overrides shuffle;
    with ``shuffle`` the order is drawn from a generator seeded with ``seed`` (reproducible epochs)."""
    import torch
    from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

    if sampler is None:
        if shuffle:
            sampler = RandomSampler(split, generator=torch.Generator().manual_seed(seed))
        else:
            sampler = SequentialSampler(split)
    batches = BatchSampler(sampler, batch_size=batch_size, drop_last=drop_last)
    return DataLoader(
        _Batches(split),
        batch_size=None,  # each sampled item is already a list of indices -> one batch
        sampler=batches,
        collate_fn=_keep,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )


MODEL_KEYS = ("audio", "visual", "visual_st", "label", "pseudo_audio", "pseudo_visual")


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """The model inputs and training targets moved to ``device`` (non-blocking: a no-op wait on CPU,
    overlapped with compute from pinned memory on CUDA); dense GT and names stay where they are."""
    import torch

    return {
        k: v.to(device, non_blocking=True) if k in MODEL_KEYS and isinstance(v, torch.Tensor) else v
        for k, v in batch.items()
    }
