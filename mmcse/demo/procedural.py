"""Deterministic procedural 10-s audio-visual clips for the 25 LLP classes (the embedded demo).

A clip is described by a small ``ClipSpec`` (labels, per-modality 10x25 on/off grids, scene, seed),
sampled from the LLP statistics in mmcse/demo/llp_stats.json: label sets, whether each label is audible
only / visible only / both / neither, and its 10-segment on/off pattern. ``render_frames`` and
``render_audio`` turn a spec into pixels (drawn sprites over a scene, ``sprites.py``) and sound
(class signatures over scene ambience, ``sounds.py``). Everything is a pure function of the spec, so
the same seed gives identical frames and audio at any frame rate (frame i is drawn at t = i / fps).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from mmcse.classes import LLP_CLASSES, NUM_CLASSES, NUM_SEGMENTS, class_index
from mmcse.demo import draw
from mmcse.demo.sounds import SOUNDS, ambient, box_smooth
from mmcse.demo.sprites import SPRITES, sprite_params

STATS_PATH = Path(__file__).with_name("llp_stats.json")  # package data, derived by scripts/derive_llp_stats.py
CLIP_SECONDS = 10
SPLIT_CODES = {"train": "r", "val": "v", "test": "e"}

# Scenes: name, ambience (spectral tilt dB/oct, low Hz, high Hz), and the classes that tend to occur there.
SCENES = {
    "room": ((-3.0, 50, 4000), ("Speech", "Cat", "Dog", "Vacuum_cleaner", "Baby_laughter", "Baby_cry_infant_cry", "Telephone_bell_ringing", "Fire_alarm", "Acoustic_guitar")),
    "street": ((-6.0, 30, 3000), ("Car", "Motorcycle", "Speech")),
    "park": ((-2.0, 200, 7000), ("Dog", "Lawn_mower", "Basketball_bounce", "Chainsaw", "Cheering", "Helicopter")),
    "kitchen": ((-1.0, 100, 6000), ("Frying_(food)", "Blender", "Fire_alarm", "Speech")),
    "stage": ((-4.0, 60, 5000), ("Singing", "Cheering", "Clapping", "Cello", "Violin_fiddle", "Banjo", "Accordion", "Acoustic_guitar")),
    "field": ((-5.0, 40, 2500), ("Chicken_rooster", "Helicopter", "Lawn_mower", "Chainsaw")),
}  # fmt: skip
SCENE_NAMES = tuple(SCENES)
# vertical anchor (fraction of the frame height) per class: things that drive sit low, helicopters fly high
_Y = {
    "Car": 0.72,
    "Motorcycle": 0.72,
    "Lawn_mower": 0.72,
    "Helicopter": 0.3,
    "Basketball_bounce": 0.55,
    "Fire_alarm": 0.35,
}
_SLOTS_X = (0.3, 0.7, 0.5, 0.15, 0.85)


@dataclass
class ClipSpec:
    """Everything needed to render one clip; ``audio``/``visual`` are the true dense labels."""

    video_id: str  # 11 characters, e.g. "demoe000042"
    filename: str  # LLP style "<id>_<start>_<end>"
    seed: int
    labels: list[int]  # weak labels (class indices, official order)
    audio: np.ndarray = field(repr=False)  # (10, 25) uint8 audible per segment
    visual: np.ndarray = field(repr=False)  # (10, 25) uint8 visible per segment
    scene: str = "room"

    @property
    def label_names(self) -> list[str]:
        return [LLP_CLASSES[c] for c in self.labels]


@lru_cache(maxsize=4)
def load_stats(path: str | None = None) -> dict:
    p = Path(path) if path else STATS_PATH
    if not p.exists():
        raise FileNotFoundError(f"{p} not found; regenerate it with: python scripts/derive_llp_stats.py")
    return json.loads(p.read_text())


def _pick(rng: np.random.Generator, hist: dict[str, int] | list[dict]) -> str | tuple:
    if isinstance(hist, list):  # label-set histogram
        counts = np.array([h["count"] for h in hist], np.float64)
        return tuple(hist[rng.choice(len(hist), p=counts / counts.sum())]["labels"])
    keys = list(hist)
    counts = np.array([hist[k] for k in keys], np.float64)
    return keys[rng.choice(len(keys), p=counts / counts.sum())]


def _mask(bits: str) -> np.ndarray:
    return np.array([b == "1" for b in bits], np.uint8)


def sample_clip(split: str, index: int, seed: int = 0, stats: dict | None = None) -> ClipSpec:
    """The ``index``-th clip of a demo split: labels, modalities and event extents drawn from LLP stats.

    train clips take label sets from LLP train (1 to 3 labels), val/test from LLP val+test; each label is
    audible only / visible only / both / neither with its class's LLP frequency, with an on/off pattern
    drawn from that class's LLP patterns.
    """
    stats = stats or load_stats()
    code = SPLIT_CODES[split]
    clip_seed = int(np.random.default_rng([seed, ord(code), index]).integers(1 << 31))
    rng = np.random.default_rng(clip_seed)
    labels = sorted(
        class_index(c) for c in _pick(rng, stats["train" if split == "train" else "valtest"]["label_sets"])
    )
    audio = np.zeros((NUM_SEGMENTS, NUM_CLASSES), np.uint8)
    visual = np.zeros((NUM_SEGMENTS, NUM_CLASSES), np.uint8)
    for c in labels:
        pc = stats["per_class"][LLP_CLASSES[c]]
        kinds = pc["modality_fraction"]
        kind = _pick(rng, {k: v for k, v in kinds.items() if v > 0})
        if kind == "both" and pc["both_patterns"]:
            a, v = _pick(rng, pc["both_patterns"]).split("|")
            audio[:, c], visual[:, c] = _mask(a), _mask(v)
        elif kind == "audio_only" and pc["audio_only_patterns"]:
            audio[:, c] = _mask(_pick(rng, pc["audio_only_patterns"]))
        elif kind == "visual_only" and pc["visual_only_patterns"]:
            visual[:, c] = _mask(_pick(rng, pc["visual_only_patterns"]))
        # "neither": a weak label with no event in either modality (as in LLP's annotations)
    anchor = LLP_CLASSES[labels[int(rng.integers(len(labels)))]]
    likely = [s for s, (_, classes) in SCENES.items() if anchor in classes]
    scene = str(rng.choice(likely)) if likely and rng.random() < 0.7 else str(rng.choice(SCENE_NAMES))
    start = int(rng.integers(0, 30)) * 10
    video_id = f"demo{code}{index:06d}"
    return ClipSpec(
        video_id, f"{video_id}_{start}_{start + CLIP_SECONDS}", clip_seed, labels, audio, visual, scene
    )


def sample_split(split: str, n: int, seed: int = 0) -> list[ClipSpec]:
    stats = load_stats()
    return [sample_clip(split, i, seed, stats) for i in range(n)]


# ----------------------------------------------------------------------------------------------- pixels


def _background(scene: str, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Static scene picture (H, W, 3) float32: gradients and simple shapes."""
    h, w = height, width
    y = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img = np.zeros((h, w, 3), np.float32)
    jitter = rng.uniform(-0.06, 0.06, size=3).astype(np.float32)
    horizon = int(h * rng.uniform(0.55, 0.65))
    if scene in ("street", "park", "field"):
        sky = np.array([0.45, 0.65, 0.95], np.float32) + jitter
        img[:] = sky * (0.75 + 0.35 * y)
    if scene == "street":
        for _ in range(6):
            x0 = rng.uniform(-0.1, 1.0) * w
            draw.rect(
                img,
                x0,
                horizon - rng.uniform(0.2, 0.45) * h,
                x0 + rng.uniform(0.12, 0.25) * w,
                horizon,
                np.full(3, rng.uniform(0.35, 0.6)),
            )
        img[horizon:] = np.array([0.3, 0.3, 0.32], np.float32) + jitter / 2
        for x0 in range(0, w, w // 6):
            draw.rect(img, x0, int(h * 0.86), x0 + w // 12, int(h * 0.88), (0.95, 0.95, 0.9))
    elif scene == "park":
        img[horizon:] = np.array([0.25, 0.6, 0.2], np.float32) + jitter / 2
        for _ in range(4):
            x0 = rng.uniform(0, 1) * w
            draw.rect(img, x0 - 2, horizon - 0.15 * h, x0 + 2, horizon, (0.4, 0.25, 0.1))
            draw.disc(img, x0, horizon - 0.2 * h, rng.uniform(0.08, 0.14) * h, (0.1, 0.45, 0.15))
    elif scene == "field":
        img[horizon:] = np.array([0.6, 0.5, 0.25], np.float32) + jitter / 2
        for yy in range(horizon + 3, h, 6):
            draw.rect(img, 0, yy, w, yy + 2, (0.5, 0.4, 0.2))
        draw.disc(img, rng.uniform(0.1, 0.9) * w, 0.15 * h, 0.08 * h, (1.0, 0.95, 0.6))
    elif scene == "room":
        wall = np.array([0.8, 0.75, 0.65], np.float32) + jitter
        img[:] = wall * (0.9 + 0.15 * y)
        img[horizon:] = np.array([0.5, 0.35, 0.2], np.float32) + jitter / 2
        for x0 in range(0, w, 10):
            draw.rect(img, x0, horizon, x0 + 1, h, (0.4, 0.27, 0.15))
        x0 = rng.uniform(0.05, 0.6) * w
        draw.rect(img, x0, 0.12 * h, x0 + 0.3 * w, 0.4 * h, (0.7, 0.85, 1.0))
    elif scene == "kitchen":
        img[:] = np.array([0.9, 0.9, 0.88], np.float32) + jitter / 2
        tile = max(h // 12, 4)
        img[::tile, :] = 0.65
        img[:, ::tile] = 0.65
        img[horizon:] = np.array([0.45, 0.45, 0.5], np.float32) + jitter
    elif scene == "stage":
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        cx = rng.uniform(0.3, 0.7) * w
        spot = np.exp(-(((xx - cx) / (0.35 * w)) ** 2 + ((yy - 0.5 * h) / (0.5 * h)) ** 2))
        img[:] = 0.08 + 0.6 * spot[..., None] * (np.array([1.0, 0.95, 0.8], np.float32) + jitter)
        img[:, : w // 10] = (0.5, 0.05, 0.08)
        img[:, -w // 10 :] = (0.5, 0.05, 0.08)
    return np.clip(img, 0, 1)


def _sprite_layout(spec: ClipSpec, width: int, height: int) -> list[tuple[int, dict]]:
    """(class, params) for each class visible somewhere in the clip, in distinct horizontal slots."""
    rng = np.random.default_rng([spec.seed, 1])
    visible = [c for c in spec.labels if spec.visual[:, c].any()]
    order = rng.permutation(len(_SLOTS_X))
    out = []
    for k, c in enumerate(visible):
        slot = (_SLOTS_X[order[k % len(order)]], _Y.get(LLP_CLASSES[c], 0.5))
        out.append((c, sprite_params(np.random.default_rng([spec.seed, 2, c]), width, height, slot)))
    return out


def render_frames(spec: ClipSpec, fps: float = 8, width: int = 160, height: int = 120) -> np.ndarray:
    """(F, H, W, 3) uint8 frames, F = 10 * fps, frame i drawn at t = i / fps."""
    background = _background(spec.scene, width, height, np.random.default_rng([spec.seed, 0]))
    layout = _sprite_layout(spec, width, height)
    n = int(round(CLIP_SECONDS * fps))
    frames = np.empty((n, height, width, 3), np.uint8)
    light = 1.0 + 0.04 * np.sin(2 * math.pi * 0.13 * np.arange(n) / fps + spec.seed % 7)  # slow light drift
    for i in range(n):
        t = i / fps
        img = background.copy()
        seg = min(int(t), NUM_SEGMENTS - 1)
        for c, params in layout:
            if spec.visual[seg, c]:
                SPRITES[c](img, t, params)
        frames[i] = np.clip(img * (255.0 * light[i]), 0, 255).astype(np.uint8)
    return frames


# ----------------------------------------------------------------------------------------------- sound


def _envelope(mask: np.ndarray, sr: int, ramp_s: float = 0.03) -> np.ndarray:
    """(10,) on/off per second -> (10 * sr,) envelope with short linear ramps at the switches."""
    return box_smooth(np.repeat(mask.astype(np.float32), sr), int(ramp_s * sr))


def render_audio(spec: ClipSpec, sr: int = 16000) -> np.ndarray:
    """(10 * sr,) float32 mono in [-1, 1]: each audible class's signature gated by its segments, plus ambience."""
    n = CLIP_SECONDS * sr
    rng = np.random.default_rng([spec.seed, 3])
    tilt, lo, hi = SCENES[spec.scene][0]
    mix = rng.uniform(0.04, 0.12) * ambient(n, sr, rng, tilt, lo, hi)
    for c in spec.labels:
        if spec.audio[:, c].any():
            crng = np.random.default_rng([spec.seed, 4, c])
            mix += crng.uniform(0.35, 0.8) * SOUNDS[c](n, sr, crng) * _envelope(spec.audio[:, c], sr)
    peak = float(np.abs(mix).max())
    return (mix * (0.9 / peak) if peak > 0.9 else mix).astype(np.float32)
