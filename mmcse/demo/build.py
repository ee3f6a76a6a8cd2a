"""Build the embedded demo: procedural clips in LLP's own formats, their features, an MM-CSE and a HAN.

    build_demo("demo_data", seed=0, sizes={"train": 1200, "val": 150, "test": 600})

Folder layout (what LLP ships, plus the trained runs):
    AVVP_train.csv AVVP_val_pd.csv AVVP_test_pd.csv           filename<TAB>event_labels
    AVVP_eval_audio.csv AVVP_eval_visual.csv                  filename<TAB>onset<TAB>offset<TAB>event_labels
    videos/<filename>.mp4                                     H.264 + AAC, 160x120, 16 fps, 16 kHz
    feats/demo_audio|demo_frames|demo_motion/<id11>.npy       DEMO_FEATURES, (10, D) float32
    feats/simulated_pseudo/audio|visual/<id11>.npy            SIMULATED segment pseudo labels (10, 25) 0/1
    runs/mmcse/ runs/han/                                     engine run folders (best.safetensors, ...)
    manifest.json                                             sizes, seed, timings, the 10 numbers per row,
                                                              test_map_agreement, test_class_separation

Whatever already exists and is valid (clip features, videos, checkpoints) is reused; ``force`` rebuilds.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from mmcse.classes import LLP_CLASSES, NUM_CLASSES, NUM_SEGMENTS
from mmcse.config import DEMO_FEATURES
from mmcse.data.llp import SPLIT_FILES, dense_csvs
from mmcse.data.paths import DataPaths
from mmcse.demo.features import DemoExtractor
from mmcse.demo.procedural import ClipSpec, render_audio, render_frames, sample_split
from mmcse.training.evaluation import evaluate
from mmcse.training.loop import train
from mmcse.training.runs import BEST_FILE
from mmcse.utils.files import atomic_folder, atomic_path, atomic_write_text

GENERATOR_VERSION = 2  # bump when clips or features change, so stale demo folders are rebuilt
# test is the largest split: the co-occurrence of its dense labels is what the learned maps are measured
# against (demo.quality), and with 200 clips that sample alone was too noisy (two independent samples of 150
# and 200 clips correlated only 0.53 for av); with 600 every map of the demo MM-CSE correlates >= 0.75
DEFAULT_SIZES = {"train": 1200, "val": 150, "test": 600}
VIDEO_FPS, VIDEO_SIZE = 16, (160, 120)
STREAM_DIRS = {
    "audio": DEMO_FEATURES.audio.name,
    "visual": DEMO_FEATURES.visual.name,
    "visual_st": DEMO_FEATURES.visual_st.name,
}
PSEUDO_DIRS = {"audio": DEMO_FEATURES.pseudo_audio, "visual": DEMO_FEATURES.pseudo_visual}

# on_progress(done, total, stage): what the build has done of its current stage. Stages, in order: "clips"
# (clips rendered), "training mmcse" / "training han" (epochs: 0 when it starts, all when it ends; reused runs
# report all at once) and "quality" (0 then 1).
Progress = Callable[[int, int, str], None]


def progress_bars() -> Progress:
    """An on_progress for a terminal: a tqdm bar for the clips (training draws its own bar of steps, and the
    quality stage takes seconds)."""
    from tqdm.auto import tqdm

    bars: list[tqdm] = []

    def show(done: int, total: int, stage: str) -> None:
        if stage != "clips":
            return
        if not bars:
            bars.append(tqdm(total=total, desc="clips", unit="clip"))
        bars[0].update(done - bars[0].n)
        if done >= total:
            bars[0].close()

    return show


def progress_file(path: str | Path) -> Progress:
    """An on_progress that keeps ``path`` holding the latest {"done", "total", "stage"} as JSON (written
    whole each time), for a process that watches the build from outside (the app)."""

    def write(done: int, total: int, stage: str) -> None:
        atomic_write_text(Path(path), json.dumps({"done": done, "total": total, "stage": stage}))

    return write


def all_of(*callbacks: Progress | None) -> Progress:
    """One on_progress that calls each of ``callbacks`` (None ones left out)."""
    chosen = [c for c in callbacks if c is not None]

    def call(done: int, total: int, stage: str) -> None:
        for callback in chosen:
            callback(done, total, stage)

    return call


# ------------------------------------------------------------------------------------ simulated pseudo labels


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) runs of ones of a (10,) 0/1 mask."""
    padded = np.r_[0, mask.astype(np.int8), 0]
    edges = np.diff(padded)
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def simulate_pseudo_labels(spec: ClipSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """SIMULATED VALOR-like segment pseudo labels (10, 25) 0/1 per modality, from the true dense labels with
    noise of the kind CLAP/CLIP labels have: a missed event (8%), an event hallucinated in a modality where the
    class is absent (audio 5%, visual 10%, mostly whole-clip), run borders off by one (25%), scattered segment
    flips (2%). Always restricted to the clip's weak labels, like the real ones."""
    out = []
    for truth, p_false in ((spec.audio, 0.05), (spec.visual, 0.10)):
        pseudo = np.zeros((NUM_SEGMENTS, NUM_CLASSES), np.uint8)
        for c in spec.labels:
            mask = truth[:, c].copy()
            if mask.any():
                if rng.random() < 0.08:
                    mask[:] = 0
                for s, e in _runs(mask):
                    if rng.random() < 0.25:
                        s2, e2 = np.clip([s + rng.integers(-1, 2), e + rng.integers(-1, 2)], 0, NUM_SEGMENTS)
                        mask[s:e] = 0
                        mask[s2 : max(e2, s2 + 1)] = 1
            elif rng.random() < p_false:
                s = 0 if rng.random() < 0.6 else int(rng.integers(0, NUM_SEGMENTS))
                mask[s : s + int(rng.integers(3, NUM_SEGMENTS + 1))] = 1
            flips = rng.random(NUM_SEGMENTS) < 0.02
            pseudo[:, c] = mask ^ flips
        out.append(pseudo)
    return out[0], out[1]


# ------------------------------------------------------------------------------------ one clip


def _save_npy(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.save(f, array)


def clip_files(root: Path, spec: ClipSpec, with_video: bool) -> list[Path]:
    feats = root / "feats"
    paths = [feats / d / f"{spec.video_id}.npy" for d in (*STREAM_DIRS.values(), *PSEUDO_DIRS.values())]
    if with_video:
        paths.append(root / "videos" / f"{spec.filename}.mp4")
    return paths


def build_clip(root: Path, spec: ClipSpec, with_video: bool) -> None:
    """Render one clip, write its features, simulated pseudo labels and (optionally) its mp4."""
    from mmcse.video.io import write_video

    audio = render_audio(spec)
    if with_video:
        frames = render_frames(spec, VIDEO_FPS, *VIDEO_SIZE)  # frame 2i is the 8-fps frame i
        write_video(root / "videos" / f"{spec.filename}.mp4", frames, VIDEO_FPS, audio)
        frames = frames[:: VIDEO_FPS // 8]
    else:
        frames = render_frames(spec, 8, *VIDEO_SIZE)
    feats = DemoExtractor().extract(frames, audio)
    for key, folder in STREAM_DIRS.items():
        _save_npy(root / "feats" / folder / f"{spec.video_id}.npy", feats[key])
    pa, pv = simulate_pseudo_labels(spec, np.random.default_rng([spec.seed, 9]))
    _save_npy(root / "feats" / PSEUDO_DIRS["audio"] / f"{spec.video_id}.npy", pa)
    _save_npy(root / "feats" / PSEUDO_DIRS["visual"] / f"{spec.video_id}.npy", pv)


# ------------------------------------------------------------------------------------ stopping cleanly

PR_SET_PDEATHSIG = 1  # linux/prctl.h


_clip_open = False  # a clip's files are being written (this process)
_stop_signal: int | None = None  # a SIGTERM that came meanwhile


def _exit_on_signal(signum, frame) -> None:
    """SIGTERM -> SystemExit, held back until the clip being written is whole (a second one is not)."""
    global _stop_signal
    if _clip_open and _stop_signal is None:
        _stop_signal = signum
        return
    raise SystemExit(128 + signum)


def _exit_on_parent_death(signum, frame) -> None:
    """SIGUSR1, sent by the kernel when the main process died (PR_SET_PDEATHSIG; possibly more than once,
    once per thread of the dying process): exit after the clip being written, never half-way."""
    global _stop_signal
    if _clip_open:
        _stop_signal = signal.SIGTERM
        return
    raise SystemExit(128 + signal.SIGTERM)


@contextlib.contextmanager
def _whole_clip():
    """Write one clip's files; a SIGTERM meanwhile ends the process after them, never half-way (a raise
    inside mkstemp / Popen / a rename could leave a temporary file no ``finally`` knows of)."""
    global _clip_open
    _clip_open = True
    try:
        yield
    finally:
        _clip_open = False
    if _stop_signal is not None:
        raise SystemExit(128 + _stop_signal)


@contextlib.contextmanager
def sigterm_as_exit():
    """While the block runs, SIGTERM raises SystemExit(143) in the main thread instead of ending the process
    at once (after the clip being written, when one is), so ``finally`` blocks run: the render workers are
    stopped, no file is left half-written. Left as it is off the main thread or where a handler other than
    the default is installed."""
    global _stop_signal
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _stop_signal = None


def _render_worker_init(parent: int) -> None:
    """A render worker: SIGTERM -> SystemExit once the clip it writes is whole (see _whole_clip);
    Ctrl-C is left to the main process, which stops the pool; on Linux the kernel signals it (SIGUSR1) when
    the main process dies, even by SIGKILL (PR_SET_PDEATHSIG), so no worker outlives it."""
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        signal.signal(signal.SIGUSR1, _exit_on_parent_death)
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGUSR1, 0, 0, 0)
    if os.getppid() != parent:  # the main process died before the line above took effect
        raise SystemExit(1)


def _build_many(args: tuple[str, list[ClipSpec], bool]) -> int:
    root, specs, with_video = args
    for spec in specs:
        with _whole_clip():
            build_clip(Path(root), spec, with_video)
    return len(specs)


# ------------------------------------------------------------------------------------ CSVs


def write_csvs(root: Path, splits: dict[str, list[ClipSpec]]) -> None:
    """The LLP annotation files (TAB-separated, LLP's columns) for the demo splits."""
    for split, specs in splits.items():
        rows = ["filename\tevent_labels"] + [f"{s.filename}\t{','.join(s.label_names)}" for s in specs]
        atomic_write_text(root / SPLIT_FILES[split], "\n".join(rows) + "\n")
    for modality, fname in zip(("audio", "visual"), (p.name for p in dense_csvs(root))):
        rows = ["filename\tonset\toffset\tevent_labels"]
        for split in ("val", "test"):
            for s in splits.get(split, []):
                grid = getattr(s, modality)
                for c in range(NUM_CLASSES):
                    rows += [f"{s.filename}\t{a}\t{b}\t{LLP_CLASSES[c]}" for a, b in _runs(grid[:, c])]
        atomic_write_text(root / fname, "\n".join(rows) + "\n")


# ------------------------------------------------------------------------------------ scoring and training


def reference_scores(specs: list[ClipSpec]) -> dict[str, dict[str, float]]:
    """Protocol §5's three reference rows on a demo split (true dense labels as GT)."""
    from mmcse.metrics import avvp_scores, reference_predictions

    gt_a = np.stack([s.audio for s in specs])
    gt_v = np.stack([s.visual for s in specs])
    weak = np.zeros((len(specs), NUM_CLASSES), np.uint8)
    for i, s in enumerate(specs):
        weak[i, s.labels] = 1
    nothing = np.zeros_like(gt_a)
    rows = {"predict nothing": avvp_scores(nothing, nothing, gt_a, gt_v)}
    rows["weak labels everywhere"] = avvp_scores(*reference_predictions(weak), gt_a, gt_v)
    rows["same, visual Speech removed"] = avvp_scores(*reference_predictions(weak, True), gt_a, gt_v)
    return rows


def demo_model_configs() -> dict:
    """The demo's MM-CSE and HAN recipes: about 3 minutes and 15 s of training on a 2-core CPU.

    MM-CSE: two FGSE layers, d_class 32 with 4 heads, L_ec weighted 10 and 30 epochs, so its learned maps carry
    the annotation structure the paper shows (demo.quality; docs/demo.md). The earlier recipe (the
    paper's 0.1, one layer, d_class 16, 10 epochs) left them flat: correlation 0.20-0.41 on 600 test clips."""
    from mmcse.config import ModelConfig, TrainConfig

    mmcse_model = ModelConfig.for_features(
        DEMO_FEATURES, arch="mmcse", d_model=64, d_class=32, num_layers=2, num_heads=4, w_ec=10.0
    )
    han_model = ModelConfig.for_features(DEMO_FEATURES, arch="han", d_model=128, num_layers=1, num_heads=1)
    common = dict(batch_size=32, lr=1e-3, weight_decay=1e-3, schedule="cosine", warmup_epochs=1, seed=87)
    return {
        "mmcse": (mmcse_model, TrainConfig(epochs=30, gating="mmcse", **common)),
        "han": (han_model, TrainConfig(epochs=10, gating="fused", betas=(0.9, 0.999), **common)),
    }


def train_models(
    root: Path, signature: dict, force: bool, log=print, epochs: int | None = None, progress: bool = True,
    on_progress: Progress | None = None,
) -> dict[str, dict]:  # fmt: skip
    """Train (or reuse) runs/mmcse and runs/han; return their test scores (best val checkpoint).

    A run is reused only when its demo_signature.json matches ``signature`` (seed, sizes, generator
    version) and its recipe, so a demo rebuilt with other data never keeps stale checkpoints.
    """
    import dataclasses
    import shutil

    results = {}
    data = DataPaths.from_root(root, features=DEMO_FEATURES)
    for name, (model_cfg, train_cfg) in demo_model_configs().items():
        if epochs is not None:
            train_cfg = dataclasses.replace(train_cfg, epochs=epochs)
        run_dir = root / "runs" / name
        best = run_dir / BEST_FILE
        sig_path = run_dir / "demo_signature.json"
        sig = {**signature, "model": model_cfg.to_dict(), "train": train_cfg.to_dict()}
        same = sig_path.is_file() and json.loads(sig_path.read_text()) == json.loads(json.dumps(sig))
        stage = f"training {name}"
        if force or not same or not _checkpoint_ok(best):
            shutil.rmtree(run_dir, ignore_errors=True)
            log(f"training {name} ({train_cfg.epochs} epochs) -> {run_dir}")
            if on_progress:
                on_progress(0, train_cfg.epochs, stage)
            train(run_dir, data, model_cfg, train_cfg, device="cpu", log=log, progress=progress)
            atomic_write_text(sig_path, json.dumps(sig, indent=1))
        else:
            log(f"reusing {best}")
        if on_progress:
            on_progress(train_cfg.epochs, train_cfg.epochs, stage)
        results[name] = evaluate(best, data, "test", device="cpu")
    return results


def _evaluate_runs(root: Path) -> dict[str, dict]:
    data = DataPaths.from_root(root, features=DEMO_FEATURES)
    return {
        name: evaluate(root / "runs" / name / BEST_FILE, data, "test", device="cpu")
        for name in ("mmcse", "han")
    }


def mmcse_quality(root: Path) -> dict:
    """What the demo MM-CSE shows on the test split of ``root`` (mmcse.demo.quality): the learned maps'
    correlation with the annotation co-occurrence and the class separation of its class-wise features."""
    from mmcse.demo.quality import model_quality

    data = DataPaths.from_root(root, features=DEMO_FEATURES)
    quality = model_quality(root / "runs" / "mmcse" / BEST_FILE, data, "test")
    return {"test_map_agreement": quality["map_agreement"], "test_class_separation": quality["class_separation"]}


def _checkpoint_ok(path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        from mmcse.checkpoint import read_checkpoint_meta

        read_checkpoint_meta(path)
        return True
    except (ValueError, OSError):
        return False


# ------------------------------------------------------------------------------------ the whole build


def _npy_shape(path: Path) -> tuple | None:
    """The shape in a .npy header (None when unreadable), without reading the data."""
    fmt = np.lib.format
    try:
        with open(path, "rb") as f:
            major, _ = fmt.read_magic(f)
            read = fmt.read_array_header_1_0 if major == 1 else fmt.read_array_header_2_0
            shape, _, _ = read(f)
        return tuple(shape)
    except (OSError, ValueError):
        return None


def _clip_ok(root: Path, spec: ClipSpec, with_video: bool) -> bool:
    """Every file of the clip exists, and each feature file holds an array of the expected shape."""
    files = clip_files(root, spec, with_video)
    shapes = [s.shape for s in DEMO_FEATURES.streams.values()] + [(NUM_SEGMENTS, NUM_CLASSES)] * 2
    if not all(p.is_file() and p.stat().st_size > 0 for p in files):
        return False
    return all(_npy_shape(p) == tuple(shape) for p, shape in zip(files, shapes))


@sigterm_as_exit()  # a SIGTERM stops the render workers and leaves no temporary file
def build_demo(
    out: str | Path = "demo_data",
    seed: int = 0,
    sizes: dict[str, int] | None = None,
    force: bool = False,
    videos: str = "all",
    workers: int | None = None,
    train: bool = True,
    epochs: int | None = None,
    log=print,
    progress: bool = True,
    on_progress: Progress | None = None,
) -> dict:
    """Build (or complete) the demo folder ``out``; returns the manifest dict (also written to manifest.json).

    ``videos``: "all" writes mp4s for every split, "eval" for val and test only, "none" for no split.
    ``progress``: tqdm bars on the terminal (a bar per stage, and training's step bar). ``on_progress``:
    called as (done, total, stage) as each stage advances (see Progress), besides the bars.
    """
    on_progress = all_of(progress_bars() if progress else None, on_progress)
    root = Path(out)
    sizes = {**DEFAULT_SIZES, **(sizes or {})}
    root.mkdir(parents=True, exist_ok=True)
    manifest_path = root / "manifest.json"
    old = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    if old and (old.get("generator_version") != GENERATOR_VERSION or old.get("seed") != seed):
        log(f"{root}: built with another seed or generator version; rebuilding everything")
        force = True
    t_start = time.perf_counter()
    splits = {split: sample_split(split, n, seed) for split, n in sizes.items()}
    write_csvs(root, splits)

    todo = []
    for split, specs in splits.items():
        with_video = videos == "all" or (videos == "eval" and split != "train")
        todo += [(s, with_video) for s in specs if force or not _clip_ok(root, s, with_video)]
    _render_clips(root, todo, workers or min(2, os.cpu_count() or 1), on_progress, log)
    t_clips = time.perf_counter() - t_start
    references = reference_scores(splits["test"])
    manifest = {
        "what": "mmcse embedded demo: procedural clips (not real videos), LLP formats, SIMULATED pseudo labels",
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "sizes": sizes,
        "videos": videos,
        "video_format": {
            "fps": VIDEO_FPS,
            "size": list(VIDEO_SIZE),
            "audio_sr": 16000,
            "codec": "H.264 + AAC",
        },
        "feature_spec": DEMO_FEATURES.to_dict(),
        "test_reference_rows": references,
        "seconds": {"clips": round(t_clips, 1)},
    }
    if train:
        t0 = time.perf_counter()
        signature = {"generator_version": GENERATOR_VERSION, "seed": seed, "sizes": sizes}
        manifest["test_models"] = train_models(
            root, signature, force, log=log, epochs=epochs, progress=progress, on_progress=on_progress
        )
        manifest["seconds"]["training"] = round(time.perf_counter() - t0, 1)
        t0 = time.perf_counter()
        on_progress(0, 1, "quality")
        manifest.update(mmcse_quality(root))
        on_progress(1, 1, "quality")
        manifest["seconds"]["quality"] = round(time.perf_counter() - t0, 1)
    manifest["seconds"]["total"] = round(time.perf_counter() - t_start, 1)
    # the timings of the call that rendered clips, kept when a later call only reused them
    manifest["build_seconds"] = manifest["seconds"] if todo else old.get("build_seconds", manifest["seconds"])
    atomic_write_text(manifest_path, json.dumps(manifest, indent=1))
    return manifest


def _render_clips(root: Path, todo: list, workers: int, on_progress: Progress, log) -> None:
    """Render ``todo`` [(ClipSpec, with_video)] in jobs of up to 8 clips that all do or all do not get an mp4;
    ``on_progress(clips done, clips to render, "clips")`` after each job."""
    if not todo:
        return
    log(f"rendering {len(todo)} clips with {workers} worker(s) -> {root}")
    jobs = [(str(root), [s for s, v in todo if v == wv], wv) for wv in (True, False)]
    jobs = [(r, specs[i : i + 8], wv) for r, specs, wv in jobs for i in range(0, len(specs), 8)]
    done = 0
    on_progress(done, len(todo), "clips")
    if workers > 1:
        # leaving the block, normally or by an exception (SystemExit from SIGTERM, Ctrl-C), terminates the
        # workers: none is left rendering on its own
        with multiprocessing.Pool(workers, initializer=_render_worker_init, initargs=(os.getpid(),)) as pool:
            for n in pool.imap_unordered(_build_many, jobs):
                done += n
                on_progress(done, len(todo), "clips")
    else:
        for job in jobs:
            done += _build_many(job)
            on_progress(done, len(todo), "clips")


def format_scores(rows: dict[str, dict[str, float]]) -> str:
    from mmcse.metrics import SCORE_KEYS

    head = f"{'':34s}" + " ".join(f"{k:>9s}" for k in SCORE_KEYS)
    return "\n".join(
        [head] + [f"{name:34s}" + " ".join(f"{r[k]:9.2f}" for k in SCORE_KEYS) for name, r in rows.items()]
    )


# ------------------------------------------------------------------------------------ compact copy for assets/


def _compact_checkpoint(src: Path, dst: Path) -> None:
    """Copy a checkpoint with float16 weights (same metadata); loading casts them back to float32."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(src), framework="pt") as f:
        meta = f.metadata()
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    tensors = {k: v.half() if v.is_floating_point() else v for k, v in tensors.items()}
    with atomic_path(dst) as tmp:
        save_file(tensors, str(tmp), metadata=meta)


@sigterm_as_exit()
def export_compact(
    src: str | Path, dst: str | Path, n_val: int = 60, n_test: int | None = None, n_videos: int = 6, log=print
) -> dict:
    """A few-MB copy of a built demo for assets/: the first ``n_val`` val and ``n_test`` test clips (CSVs,
    dense GT, float16 features; ``n_test`` defaults to the whole test split, so the copy is scored on the
    same clips as the full demo, its float16 checkpoints within a few hundredths), ``n_videos`` test mp4s and
    both best checkpoints in float16. ``dst`` is replaced only once the new copy is complete."""
    src, dst = Path(src), Path(dst)
    manifest = json.loads((src / "manifest.json").read_text())
    n_test = manifest["sizes"]["test"] if n_test is None else n_test
    n_val, n_test = min(n_val, manifest["sizes"]["val"]), min(n_test, manifest["sizes"]["test"])
    with atomic_folder(dst, replace=True) as tmp:
        compact = _write_compact(src, tmp, manifest, n_val, n_test, min(n_videos, n_test))
    size = sum(p.stat().st_size for p in dst.rglob("*") if p.is_file())
    log(f"wrote {dst} ({size / 1e6:.1f} MB)")
    return compact


def _write_compact(src: Path, tmp: Path, manifest: dict, n_val: int, n_test: int, n_videos: int) -> dict:
    import shutil

    seed = manifest["seed"]
    splits = {"val": sample_split("val", n_val, seed), "test": sample_split("test", n_test, seed)}
    splits["train"] = []  # the app never reads train; an empty CSV keeps the LLP layout complete
    write_csvs(tmp, splits)
    for split in ("val", "test"):
        for spec in splits[split]:
            for folder in STREAM_DIRS.values():
                array = np.load(src / "feats" / folder / f"{spec.video_id}.npy", allow_pickle=False)
                _save_npy(tmp / "feats" / folder / f"{spec.video_id}.npy", array.astype(np.float16))
    for spec in splits["test"][:n_videos]:
        if (src / "videos" / f"{spec.filename}.mp4").is_file():  # absent when built with --videos none
            (tmp / "videos").mkdir(exist_ok=True)
            shutil.copy2(src / "videos" / f"{spec.filename}.mp4", tmp / "videos" / f"{spec.filename}.mp4")
    for name in ("mmcse", "han"):
        _compact_checkpoint(
            src / "runs" / name / BEST_FILE, tmp / "runs" / name / BEST_FILE
        )
    compact = {
        **manifest,
        "compact": {"val": n_val, "test": n_test, "videos": n_videos, "feature_dtype": "float16",
                    "checkpoint_dtype": "float16"},
        "sizes": {"train": 0, "val": n_val, "test": n_test},
        "test_reference_rows_full_demo": manifest.get("test_reference_rows"),
        "test_reference_rows": reference_scores(splits["test"]),
    }  # fmt: skip
    compact["test_models_full_demo"] = compact.pop("test_models", None)
    compact["test_models"] = _evaluate_runs(tmp)  # the float16 checkpoints on the compact test split
    for key in ("test_map_agreement", "test_class_separation"):
        compact[f"{key}_full_demo"] = compact.pop(key, None)
    compact.update(mmcse_quality(tmp))
    atomic_write_text(tmp / "manifest.json", json.dumps(compact, indent=1))
    return compact
