"""Feature stores: the official per-clip layout and a packed, memory-mapped layout with the same API.

Official layout (as released, loads as it is):
    <root>/<stream>/<id11>.npy           one array per clip and stream, e.g. <root>/vggish/BjCEufrlXm4.npy
Packed layout (made by `python -m mmcse pack`):
    <dir>/index.json                     {"version", "ids", "spec", "dtype", "pooled",
                                          "streams": {key: file, shape}}
    <dir>/<key>.npy                      (N, L, D) float32 per stream key (audio, visual, visual_st,
                                         pseudo_audio, pseudo_visual), read memory-mapped

Frame pooling (packed only, "pooled": {"visual": 8} in index.json): a frame-level visual stream (han's
ResNet-152, 80 frames) is stored as the mean of each group of 80/10 = 8 frames, (N, 10, 2048), and its
batches come back as (B, 10, 2048). Lossless for every model here: they all project the frames with a
plain Linear (fc_v) and then average groups of 8, and mean_i(W x_i + b) = W mean_i(x_i) + b, so the
outputs are the same up to float rounding (~1e-7) with 8x fewer visual bytes to read. The store keeps
the spec of the features it was made from (han, 80 x 2048), so a han checkpoint runs on it unchanged.

Stream keys are the batch keys: "audio", "visual", "visual_st" and, when the spec names them and they
exist, "pseudo_audio"/"pseudo_visual" (10, 25). Every array read from the official layout is validated
(shape, float dtype, finite values, pseudo labels in [0, 1]); packed arrays were validated when packed,
and every batch read from a packed store is checked again for NaN / inf and pseudo labels outside [0, 1]
(a file changed after packing), at the cost of one vectorised pass per stream. A file that is not a plain .npy
array (empty, an .npz archive, truncated, pickled objects) gets one error naming it and what it is.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np

from mmcse.classes import NUM_CLASSES, NUM_SEGMENTS
from mmcse.config import FeatureSpec
from mmcse.utils.files import atomic_folder

PACK_VERSION = 2  # 2: "pooled" in index.json; version-1 stores (never pooled) are still read
READABLE_VERSIONS = (1, 2)
INDEX_FILE = "index.json"
PSEUDO_SHAPE = (NUM_SEGMENTS, NUM_CLASSES)


PSEUDO_KEYS = ("pseudo_audio", "pseudo_visual")


_warned_half_pseudo: set[str] = set()  # one warning per feature root and process (train opens 2-3 splits)


def warn_half_pseudo(missing, present) -> None:
    """One UserWarning: only one of the two pseudo-label streams is there, so neither is used."""
    if str(missing) in _warned_half_pseudo:
        return
    _warned_half_pseudo.add(str(missing))
    warnings.warn(
        f"{missing} not found while {present} is there; pseudo labels need both, so none "
        "are used and training uses the weak-label recipe: add the missing one (or remove the other, or "
        "train with --no-pseudo) to silence this",
        UserWarning,
        stacklevel=3,
    )


def stream_names(spec: FeatureSpec, pseudo: bool = True) -> dict[str, tuple[str, tuple[int, int]]]:
    """Batch key -> (folder name under the feature root, per-clip shape)."""
    names = {key: (s.name, tuple(s.shape)) for key, s in spec.streams.items()}
    if pseudo and spec.pseudo_audio and spec.pseudo_visual:
        names["pseudo_audio"] = (spec.pseudo_audio, PSEUDO_SHAPE)
        names["pseudo_visual"] = (spec.pseudo_visual, PSEUDO_SHAPE)
    return names


def frame_pool_factor(spec: FeatureSpec) -> int:
    """Frames a pooled store averages into one segment: Lv / 10 for a frame-level visual stream
    (ResNet-152: 80 -> 10, factor 8), 1 (nothing to pool) when the visual stream has 10 steps."""
    frames = spec.visual.shape[0]
    return frames // NUM_SEGMENTS if frames > NUM_SEGMENTS and frames % NUM_SEGMENTS == 0 else 1


def mean_frame_groups(array: np.ndarray, factor: int) -> np.ndarray:
    """(..., L, D) -> (..., L / factor, D) float32: the mean of each group of ``factor`` consecutive
    frames, summed in float64 and rounded to float32 once."""
    *lead, frames, dim = array.shape
    groups = array.reshape(*lead, frames // factor, factor, dim)
    return groups.mean(axis=-2, dtype=np.float64).astype(np.float32)


NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"


def load_npy(
    path: Path, where: str, expected: str, mmap: bool = False, fix: str = "re-extract or re-copy it"
) -> np.ndarray:
    """``np.load`` of one .npy array (memory-mapped with ``mmap``), with one clear ValueError naming
    ``where`` for a file that is not one: empty, an .npz archive named .npy, truncated, not .npy at all,
    pickled objects. ``expected`` says what it should hold (e.g. "float (10, 128)"), ``fix`` what to do."""
    try:
        array = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise ValueError(f"{where}: {_npy_problem(path, exc)}; expected a .npy array of {expected}: {fix}") from None
    if not isinstance(array, np.ndarray):  # np.load opens an .npz archive whatever its name
        array.close()
        raise ValueError(
            f"{where}: an .npz archive named .npy; expected one .npy array of {expected} (save it with numpy.save)"
        )
    return array.view(np.ndarray) if mmap else array


def _npy_problem(path: Path, exc: Exception) -> str:
    """What is wrong with a .npy file np.load could not read, in words."""
    try:
        return _npy_file_problem(path, exc)
    except OSError as err:  # unreadable (permissions, a folder): say that
        return f"cannot be read ({err.strerror or err})"


def _npy_file_problem(path: Path, exc: Exception) -> str:
    size = path.stat().st_size
    if size == 0:
        return "an empty file (0 bytes), not a .npy array"
    with open(path, "rb") as f:
        head = f.read(len(NPY_MAGIC))
        if head.startswith(ZIP_MAGIC):
            return "a zip archive (.npz?) named .npy"
        if head != NPY_MAGIC:
            return f"not a .npy file (it starts with the bytes {head!r})"
        try:
            f.seek(0)
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = read_header(f)
            need = f.tell() + int(np.prod(shape)) * dtype.itemsize
        except ValueError:
            return f"a .npy file with a damaged header ({exc})"
    if not dtype.hasobject and size < need:
        return (f"a truncated .npy file ({size} bytes; its header promises {dtype} {tuple(shape)}, "
                f"{need} bytes)")  # fmt: skip
    return f"not a plain numeric .npy array ({exc})"


def validate_array(array: np.ndarray, shape: tuple[int, int], where: str, labels: bool = False) -> np.ndarray:
    """Check one clip's array (shape, float dtype, finite) -> float32. ``where`` names the file and clip.

    ``labels``: a 0/1 pseudo-label stream, which may also be stored as bool or integers.
    """
    if array.dtype.kind not in ("fbiu" if labels else "f"):
        raise ValueError(
            f"{where}: dtype {array.dtype}, expected a float array (float16/32/64) of shape {shape}"
        )
    if tuple(array.shape) != tuple(shape):
        raise ValueError(f"{where}: shape {tuple(array.shape)}, expected {tuple(shape)}")
    array = np.asarray(array, dtype=np.float32)
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0].tolist()
        raise ValueError(f"{where}: contains NaN or inf (first at index {bad}); expected finite values")
    if labels:
        check_label_range(array, where)
    return array


def check_label_range(array: np.ndarray, where: str) -> None:
    """Pseudo labels are probabilities or 0/1: one ValueError naming ``where`` for a value outside [0, 1]."""
    if array.size and (array.min() < 0 or array.max() > 1):
        bad = np.argwhere((array < 0) | (array > 1))[0]
        raise ValueError(
            f"{where}: pseudo label {float(array[tuple(bad)]):g} at index {bad.tolist()} is outside [0, 1]; "
            "pseudo labels are probabilities (or 0/1): fix or regenerate them"
        )


class FeatureStore:
    """Features of a FeatureSpec in the official per-clip layout ``<root>/<stream>/<id11>.npy``.

    ``pseudo``: None = include the spec's pseudo-label streams when their folders exist; True = require
    them; False = ignore them. Use ``FeatureStore.open(path, spec)`` to open either layout.
    """

    packed = False

    def __init__(self, root: str | Path, spec: FeatureSpec, pseudo: bool | None = None):
        self.root = Path(root)
        self.spec = spec
        self.pooled: dict[str, int] = {}  # stream key -> frames averaged per stored step (packed only)
        if not self.root.is_dir():
            raise FileNotFoundError(
                f"feature root {self.root} does not exist; check --feature-root (it should hold "
                f"{', '.join(n for n, _ in stream_names(spec).values())})"
            )
        self.streams = stream_names(spec, pseudo=pseudo is not False)
        if pseudo is None and "pseudo_audio" in self.streams:
            folders = {k: self.root / self.streams[k][0] for k in PSEUDO_KEYS}
            present = [k for k, folder in folders.items() if folder.is_dir()]
            if len(present) < 2:
                self.streams = stream_names(spec, pseudo=False)
            if len(present) == 1:
                (missing,) = set(PSEUDO_KEYS) - set(present)
                warn_half_pseudo(f"pseudo-label folder {folders[missing]}", folders[present[0]])
        for key, (name, _) in self.streams.items():
            if not (self.root / name).is_dir():
                found = sorted(p.name for p in self.root.iterdir() if p.is_dir())[:8]
                raise FileNotFoundError(
                    f"stream folder {self.root / name} ({key} of the {spec.name!r} features) not found; "
                    f"check --feature-root and the stream names (folders there: {found})"
                )

    @staticmethod
    def open(path: str | Path, spec: FeatureSpec, pseudo: bool | None = None) -> FeatureStore:
        """Open a packed store (``path/index.json`` exists) or the official per-clip layout."""
        if (Path(path) / INDEX_FILE).is_file():
            return PackedFeatureStore(path, spec, pseudo=pseudo)
        return FeatureStore(path, spec, pseudo=pseudo)

    @property
    def has_pseudo(self) -> bool:
        return "pseudo_audio" in self.streams

    def path(self, key: str, video_id: str) -> Path:
        return self.root / self.streams[key][0] / f"{video_id}.npy"

    def paths(self, video_ids: list[str], keys: tuple[str, ...] = ("audio", "visual", "visual_st")) -> list[str]:
        """``path`` of every clip, stream after stream, absolute, as strings (30,000 of them in a fraction of
        the time Path objects take)."""
        root = os.path.abspath(str(self.root))
        folders = [os.path.join(root, self.streams[key][0]) for key in keys]
        return [os.path.join(folder, f"{vid}.npy") for folder in folders for vid in video_ids]

    def missing(self, video_ids: list[str]) -> list[str]:
        """Ids with at least one stream file absent, in the given order."""
        present = {key: set(os.listdir(self.root / name)) for key, (name, _) in self.streams.items()}
        return [v for v in video_ids if any(f"{v}.npy" not in files for files in present.values())]

    def check_complete(self, video_ids: list[str], what: str = "split") -> None:
        """Raise one FileNotFoundError listing the first missing clips and how many, if any."""
        missing = self.missing(video_ids)
        if missing:
            absent = [] if self.packed else [n for key, (n, _) in self.streams.items()
                                             if not self.path(key, missing[0]).exists()]  # fmt: skip
            where = f"; {missing[0]} is absent from {', '.join(absent)}" if absent else ""
            raise FileNotFoundError(
                f"{len(missing)} of {len(video_ids)} clips of the {what} have no features in {self.root} "
                f"(first: {', '.join(missing[:5])}{where}); check --feature-root and the stream names "
                f"({', '.join(n for n, _ in self.streams.values())})"
            )

    def load_clip(self, video_id: str, key: str) -> np.ndarray:
        """One clip's validated float32 array for one stream key."""
        name, shape = self.streams[key]
        path = self.path(key, video_id)
        where = f"{path} (clip {video_id}, stream {name})"
        if not path.is_file():
            if path.is_dir():
                raise ValueError(
                    f"{where}: a folder, not a feature file; each clip's stream is one .npy file: "
                    "remove or rename the folder"
                )
            raise FileNotFoundError(f"{where}: file not found; check --feature-root and the stream names")
        array = load_npy(path, where, f"float {shape}")
        return validate_array(array, shape, where, labels=key.startswith("pseudo"))

    def load(self, video_id: str) -> dict[str, np.ndarray]:
        """One clip: {key: float32 array of the stream's shape}."""
        return {key: self.load_clip(video_id, key) for key in self.streams}

    def load_batch(self, video_ids: list[str]) -> dict[str, np.ndarray]:
        """A batch: {key: float32 (B, L, D)}."""
        out = {}
        for key, (_, shape) in self.streams.items():
            batch = np.empty((len(video_ids), *shape), dtype=np.float32)
            for i, vid in enumerate(video_ids):
                batch[i] = self.load_clip(vid, key)
            out[key] = batch
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.root)!r}, spec={self.spec.name!r}, streams={list(self.streams)})"


class PackedFeatureStore(FeatureStore):
    """One memory-mapped (N, L, D) float32 array per stream + index.json; batch reads gather rows.

    ``pooled`` ({"visual": 8} for a pooled han store, else {}): the visual stream is stored and returned
    as the mean of each group of 8 frames, (B, 10, 2048); ``streams`` holds the shapes as stored.
    """

    packed = True

    def __init__(self, root: str | Path, spec: FeatureSpec, pseudo: bool | None = None):
        self.root = Path(root)
        self.spec = spec
        index_path = self.root / INDEX_FILE
        try:
            self.index = json.loads(index_path.read_text())
        except FileNotFoundError:
            raise FileNotFoundError(
                f"{index_path} not found; make a packed store with `python -m mmcse pack`"
            ) from None
        except json.JSONDecodeError as exc:
            raise ValueError(f"{index_path}: not valid JSON ({exc}); re-run `python -m mmcse pack`") from None
        _check_index_fields(self.index, index_path)
        if self.index.get("version") not in READABLE_VERSIONS:
            raise ValueError(
                f"{index_path}: pack version {self.index.get('version')}, expected {PACK_VERSION}; re-pack"
            )
        try:
            packed_spec = FeatureSpec.from_dict(self.index["spec"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{index_path}: 'spec' is not a feature spec ({exc}); re-pack") from None
        if not packed_spec.same_inputs(spec):
            raise ValueError(
                f"{self.root} was packed for features {packed_spec.name!r} "
                f"({', '.join(f'{s.name} {tuple(s.shape)}' for s in packed_spec.streams.values())}), "
                f"expected {spec.name!r} ({', '.join(f'{s.name} {tuple(s.shape)}' for s in spec.streams.values())})"
            )
        self.pooled = {k: int(f) for k, f in self.index.get("pooled", {}).items()}
        if set(self.pooled) - {"visual"} or self.pooled.get("visual", 1) not in (1, frame_pool_factor(spec)):
            raise ValueError(
                f"{index_path}: pooled {self.pooled}, expected {{}} or {{'visual': {frame_pool_factor(spec)}}} "
                f"for {spec.name!r} features; re-pack"
            )
        self.ids: list[str] = list(self.index["ids"])
        self.row = {v: i for i, v in enumerate(self.ids)}
        if len(self.row) != len(self.ids):
            dup = next(v for i, v in enumerate(self.ids) if self.row[v] != i)
            raise ValueError(
                f"{index_path}: clip {dup} is listed twice in 'ids' (rows {self.ids.index(dup)} and "
                f"{self.row[dup]}), so its rows cannot be told apart; re-pack with `python -m mmcse pack`"
            )
        wanted = stream_names(spec, pseudo=pseudo is not False)
        available = self.index["streams"]
        if pseudo is None:
            present = [k for k in PSEUDO_KEYS if k in wanted and k in available]
            if len(present) == 1:
                (missing,) = set(PSEUDO_KEYS) - set(present)
                warn_half_pseudo(f"the packed {missing} stream of {self.root}", f"its {present[0]} stream")
            wanted = {k: v for k, v in wanted.items() if not k.startswith("pseudo") or len(present) == 2}
        self.streams = {}
        self.arrays: dict[str, np.ndarray] = {}
        for key, (name, shape) in wanted.items():
            if key in self.pooled:
                shape = (shape[0] // self.pooled[key], shape[1])  # stored pooled: (10, Dv)
            if key not in available:
                raise FileNotFoundError(f"{self.root} has no packed {key} stream ({name}); re-pack with it")
            path = self.root / available[key]["file"]
            expected = (len(self.ids), *shape)
            # (N, L, D), not read yet; a plain ndarray view of the map (np.memmap's Python overhead avoided)
            array = load_npy(path, f"{path} (packed {key} stream)", f"float32 {expected}", mmap=True,
                             fix="re-pack with `python -m mmcse pack`")  # fmt: skip
            if array.shape != expected or array.dtype != np.float32:
                raise ValueError(
                    f"{path}: {array.dtype} {array.shape}, expected float32 {expected} ({len(self.ids)} clips "
                    f"in {INDEX_FILE}); the index does not match the rows: re-pack with `python -m mmcse pack`"
                )
            recorded = available[key].get("shape")
            if recorded is not None and tuple(recorded) != array.shape:
                raise ValueError(
                    f"{index_path}: says {key} is {tuple(recorded)}, {path.name} holds {array.shape}; the index "
                    "does not match the rows: re-pack with `python -m mmcse pack`"
                )
            self.streams[key] = (name, shape)
            self.arrays[key] = array

    def __getstate__(self) -> dict:  # DataLoader workers: re-map the files instead of pickling their data
        state = self.__dict__.copy()
        state.pop("arrays")
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.arrays = {k: load_npy(self.path(k, ""), str(self.path(k, "")), "float32", mmap=True, fix="re-pack")
                       for k in self.streams}  # fmt: skip

    def path(self, key: str, video_id: str) -> Path:
        return self.root / self.index["streams"][key]["file"]

    def missing(self, video_ids: list[str]) -> list[str]:
        return [v for v in video_ids if v not in self.row]

    def rows(self, video_ids: list[str]) -> np.ndarray:
        try:
            return np.fromiter((self.row[v] for v in video_ids), dtype=np.int64, count=len(video_ids))
        except KeyError as exc:
            raise FileNotFoundError(
                f"clip {exc.args[0]} is not in the packed store {self.root}; re-pack"
            ) from None

    def load_clip(self, video_id: str, key: str) -> np.ndarray:
        """One clip's stream as stored (a pooled visual stream: (10, Dv))."""
        rows = self.rows([video_id])
        return self._checked(key, self.arrays[key][rows], rows, [video_id])[0]

    def load_batch(self, video_ids: list[str]) -> dict[str, np.ndarray]:
        rows = self.rows(video_ids)
        # one gather per stream straight from the mapped file: (N, L, D)[rows] -> (B, L, D), a single copy
        return {key: self._checked(key, array[rows], rows, video_ids) for key, array in self.arrays.items()}

    def _checked(self, key: str, batch: np.ndarray, rows: np.ndarray, video_ids: list[str]) -> np.ndarray:
        """``batch`` (B, L, D) of stream ``key``, refused when a value is NaN / inf (or, for pseudo labels,
        outside [0, 1]): the store was changed after it was packed. One vectorised pass per batch (~0.2 ms
        for 64 x 10 x 2048 floats, a fraction of the gather itself)."""
        if not np.isfinite(batch).all():
            i, *index = np.argwhere(~np.isfinite(batch))[0].tolist()
            raise ValueError(
                f"{self.path(key, '')}: clip {video_ids[i]} (row {int(rows[i])}) contains NaN or inf (first at "
                f"index {index}); the packed store was changed after packing: re-pack it with `python -m mmcse pack`"
            )
        if key.startswith("pseudo") and batch.size and (batch.min() < 0 or batch.max() > 1):
            i = int(np.argwhere((batch < 0) | (batch > 1))[0][0])
            check_label_range(batch[i], f"{self.path(key, '')}: clip {video_ids[i]} (row {int(rows[i])})")
        return batch


def _check_index_fields(index, index_path: Path) -> None:
    """One ValueError naming index.json for a file that is JSON but not a packed store's index."""
    streams = index.get("streams") if isinstance(index, dict) else None
    problem = None
    if not isinstance(index, dict):
        problem = f"a JSON {type(index).__name__}, not an object"
    elif not isinstance(index.get("ids"), list) or not all(isinstance(v, str) for v in index["ids"]):
        problem = "'ids' is not a list of clip ids"
    elif not isinstance(index.get("spec"), dict):
        problem = "'spec' is missing"
    elif not isinstance(streams, dict) or not all(isinstance(v, dict) and isinstance(v.get("file"), str)
                                                   for v in streams.values()):  # fmt: skip
        problem = "'streams' is not {key: {\"file\": ...}}"
    if problem:
        raise ValueError(f"{index_path}: {problem}; not the index of a packed store: re-pack with `python -m mmcse pack`")


# ----------------------------------------------------------------------------------------------------------
# packing


def pack_features(
    feature_root: str | Path,
    spec: FeatureSpec,
    video_ids: list[str],
    out: str | Path,
    pseudo: bool | None = None,
    overwrite: bool = False,
    progress: bool = True,
    pool_frames: bool | None = None,
) -> Path:
    """Validate and copy ``video_ids`` from the official layout into a packed store at ``out`` (atomic).

    ``pool_frames``: store a frame-level visual stream (80 frames) as the mean of each group of 8 (see the
    module docstring). None (default) = pool when the spec's visual stream has more than 10 steps; False =
    keep every frame; True = pool where there is something to pool.
    """
    from tqdm import tqdm

    out = Path(out)
    if out.exists() and not overwrite:
        raise FileExistsError(f"{out} already exists; choose another --out or pass --overwrite")
    video_ids = list(dict.fromkeys(video_ids))  # de-duplicate, keep order
    if not video_ids:
        raise ValueError("no clips to pack; check --split-csv")
    store = FeatureStore(feature_root, spec, pseudo=pseudo)
    store.check_complete(video_ids, what="clips to pack")
    factor = frame_pool_factor(spec) if pool_frames is not False else 1
    pooled = {"visual": factor} if factor > 1 else {}
    with atomic_folder(out, replace=overwrite) as tmp:
        index = {
            "version": PACK_VERSION,
            "ids": video_ids,
            "spec": spec.to_dict(),
            "dtype": "float32",
            "pooled": pooled,
            "streams": {},
        }
        for key, (name, shape) in store.streams.items():
            f = pooled.get(key, 1)
            shape = (shape[0] // f, shape[1])  # as stored: (10, Dv) for a pooled visual stream
            array = np.lib.format.open_memmap(
                tmp / f"{key}.npy", mode="w+", dtype=np.float32, shape=(len(video_ids), *shape)
            )
            for i, vid in enumerate(tqdm(video_ids, desc=f"pack {name}", unit="clip", disable=not progress)):
                clip = store.load_clip(vid, key)  # validated float32, the spec's shape
                array[i] = mean_frame_groups(clip, f) if f > 1 else clip
            array.flush()
            del array
            index["streams"][key] = {"name": name, "file": f"{key}.npy", "shape": [len(video_ids), *shape]}
        (tmp / INDEX_FILE).write_text(json.dumps(index, indent=1))
    return out
