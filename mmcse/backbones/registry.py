"""Which extractor makes a feature spec's features: a registry keyed by each stream's (folder, shape).

    extractor = extractor_for_spec(HAN_FEATURES, weights_dir="~/weights")   # vggish + res152 + r2plus1d_18
    extractor = extractor_for_spec(VALOR_FEATURES)      # CLAP map + CLIP + r2plus1d_18 ($MMCSE_WEIGHTS / caches)
    result = extractor.extract_file("clip.mp4")          # ExtractionResult: one feature dict per 10-s window

A spec whose three streams are all registered gets a ``BackboneExtractor`` (so a spec file mixing known
streams works too); the demo spec gets the demo's extractor; anything else is one clear ValueError naming
the stream that has no extractor. Weight files are found when the extractor is made (a missing one fails
before any video is decoded) and loaded on first use. Extracted features are cached per (video content,
spec, weight files) in mmcse.backbones.cache, so parsing a video again skips the backbones.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mmcse.backbones.cache import FeatureCache
from mmcse.backbones.weights import WEIGHT_FILES, find_weight, load_state_dict
from mmcse.config import DEMO_FEATURES, FeatureSpec
from mmcse.video.extractor import WINDOW_S, ExtractionResult, WindowedExtractor, fit_window

CLAP_SR = 48000  # the CLAP stream's audio rate (VALOR: librosa.load(sr=48000))


@dataclass(frozen=True)
class StreamBackbone:
    """One registered stream: the weight files it needs and how to build it."""

    folder: str
    shape: tuple[int, int]
    weights: tuple[str, ...]  # keys of WEIGHT_FILES
    build: Callable[[dict, object], Callable[[np.ndarray, np.ndarray], np.ndarray]]
    # build(paths by weight key, torch.device) -> fn(frames (80, H, W, 3) uint8, audio) -> shape
    audio_sr: int = 16000  # the audio it reads: (160000,) at 16 kHz, or the window's samples at 48 kHz


def _model(cls, key: str, paths: dict, device):
    model = cls()
    load_state_dict(paths[key], model, WEIGHT_FILES[key])
    return model.eval().to(device)


def _build_vggish(paths: dict, device):
    import torch

    from mmcse.backbones.log_mel import vggish_examples
    from mmcse.backbones.vggish import VGGish

    net = _model(VGGish, "vggish", paths, device)

    def run(frames: np.ndarray, audio: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(vggish_examples(audio)[:WINDOW_S, None]).to(device)  # (10, 1, 96, 64)
        with torch.inference_mode():
            return net(x).float().cpu().numpy()  # (10, 128)

    return run


def _build_resnet(paths: dict, device):
    import torch

    from mmcse.backbones.preprocess import imagenet_images
    from mmcse.backbones.resnet import ResNet152

    layout = torch.channels_last if device.type == "cuda" else torch.contiguous_format  # slower on this CPU
    net = _model(ResNet152, "resnet152", paths, device).to(memory_format=layout)

    def run(frames: np.ndarray, audio: np.ndarray) -> np.ndarray:
        out = []
        for start in range(0, len(frames), 16):  # 16 frames a batch: bounded memory at 224x224
            x = imagenet_images(frames[start : start + 16]).to(device, memory_format=layout)
            with torch.inference_mode():
                out.append(net.features(x).float().cpu().numpy())
        return np.concatenate(out)  # (80, 2048)

    return run


def _build_r2plus1d(paths: dict, device):
    import torch

    from mmcse.backbones.preprocess import kinetics_clips
    from mmcse.backbones.r2plus1d import R2Plus1D18

    net = _model(R2Plus1D18, "r2plus1d_18", paths, device)

    def run(frames: np.ndarray, audio: np.ndarray) -> np.ndarray:
        x = kinetics_clips(frames, WINDOW_S).to(device)  # (10, 3, 8, 112, 112)
        with torch.inference_mode():
            return net.features(x).float().cpu().numpy()  # (10, 512)

    return run


def _build_clip(paths: dict, device):
    import torch

    from mmcse.backbones.clip import clip_images, image_embeddings, load_clip

    model = load_clip(paths["clip"], device)

    def run(frames: np.ndarray, audio: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return image_embeddings(model, clip_images(frames).to(device)).float().cpu().numpy()  # (10, 768)

    return run


def _build_clap(paths: dict, device):
    import torch

    from mmcse.backbones.clap import (
        build_clap_audio,
        clap_log_mel,
        clap_waveform,
        feature_map,
        laion_to_transformers,
    )
    from mmcse.backbones.weights import read_state_dict

    model = build_clap_audio()
    state = laion_to_transformers(read_state_dict(paths["clap"], WEIGHT_FILES["clap"]))
    state = {**{k: v for k, v in model.state_dict().items() if k.endswith("relative_position_index")}, **state}
    load_state_dict(paths["clap"], model, WEIGHT_FILES["clap"], state=state)
    model = model.to(device)

    def run(frames: np.ndarray, audio48: np.ndarray) -> np.ndarray:
        mel = clap_log_mel(clap_waveform(audio48))[None].to(device)  # (1, 1001, 64)
        with torch.inference_mode():
            return feature_map(model, mel)[0].float().cpu().numpy()  # (64, 768)

    return run


STREAMS = {
    (s.folder, s.shape): s
    for s in (
        StreamBackbone("vggish", (10, 128), ("vggish",), _build_vggish),
        StreamBackbone("res152", (80, 2048), ("resnet152",), _build_resnet),
        StreamBackbone("r2plus1d_18", (10, 512), ("r2plus1d_18",), _build_r2plus1d),
        StreamBackbone("CLIP/features", (10, 768), ("clip",), _build_clip),
        StreamBackbone("CLAP/features", (64, 768), ("clap",), _build_clap, audio_sr=48000),
    )
}


class BackboneExtractor(WindowedExtractor):
    """The real backbones of a spec's three streams, one 10-s window at a time (frames at 8 fps, 16 kHz).

    A window shorter than 10 s is looped to 80 frames / 160000 samples (mmcse.video.extractor.fit_window),
    a video without audio gets silence for its audio stream (a warning says so). Frames are decoded at the
    source's size (the references read full-size frames), then resized as each backbone's reference does."""

    max_decode_width = None

    def __init__(self, spec: FeatureSpec, weights_dir: str | os.PathLike | None = None, device: str = "auto",
                 cache: FeatureCache | None | bool = True):  # fmt: skip
        self.spec = spec
        self.cache = FeatureCache() if cache is True else (cache or None)
        self.streams = {key: STREAMS[(s.name, tuple(s.shape))] for key, s in spec.streams.items()}
        self.paths = {w: find_weight(WEIGHT_FILES[w], weights_dir, features=spec.name)
                      for b in self.streams.values() for w in b.weights}  # fmt: skip
        self.device_name = device
        self._runs: dict[str, Callable] | None = None
        self._audio48: np.ndarray | None = None
        self._window = 0

    def _load(self) -> dict[str, Callable]:
        if self._runs is None:
            from mmcse.utils.device import resolve_device

            device = resolve_device(self.device_name)
            self._runs = {key: b.build(self.paths, device) for key, b in self.streams.items()}
        return self._runs

    def extract_file(self, path: str, max_windows: int | None = None) -> ExtractionResult:
        """As WindowedExtractor.extract_file, through the feature cache (``cache=False`` to bypass it)."""
        if not self.cache:
            return self._extract_file(path, max_windows)
        key = self.cache.key(path, self.spec, list(self.paths.values()), max_windows)
        result = self.cache.load(key)
        if result is None:
            result = self._extract_file(path, max_windows)
            try:
                self.cache.save(key, result)
            except OSError:  # a read-only or full cache never stops the extraction
                pass
        return result

    def _extract_file(self, path: str, max_windows: int | None) -> ExtractionResult:
        """The windows of ``path``; a 48-kHz stream (CLAP) also gets the file's audio decoded at 48 kHz."""
        self._audio48, self._window = None, 0
        if any(b.audio_sr == CLAP_SR for b in self.streams.values()):
            from mmcse.video.io import probe_video, read_audio

            info = probe_video(path)
            self._audio48 = read_audio(path, sr=CLAP_SR) if info.has_audio else np.zeros(0, np.float32)
        try:
            return super().extract_file(path, max_windows)
        finally:
            self._audio48 = None

    def _window_audio48(self) -> np.ndarray:
        """The current window's 48-kHz samples: up to 10 s; a short one looped to 10 s; silence without audio."""
        if self._audio48 is None:
            raise ValueError("the CLAP stream reads the video file's audio at 48 kHz: use extract_file(path)")
        n = CLAP_SR * WINDOW_S
        a = self._audio48[self._window * n : (self._window + 1) * n]
        if len(a) == 0:
            return np.zeros(n, np.float32)
        return a if len(a) >= n - CLAP_SR // 10 else np.resize(a, n)  # within 0.1 s: VALOR's index resampling

    def extract(self, frames: np.ndarray, audio: np.ndarray | None) -> dict[str, np.ndarray]:
        frames, audio = fit_window(frames, audio)  # (80, H, W, 3), (160000,)
        runs = self._load()
        out = {}
        for key, run in runs.items():
            stream_audio = self._window_audio48() if self.streams[key].audio_sr == CLAP_SR else audio
            out[key] = run(frames, stream_audio).astype(np.float32)
        self._window += 1
        for key, stream in self.spec.streams.items():
            assert out[key].shape == tuple(stream.shape), (key, out[key].shape)
        return out


def known_streams() -> str:
    return ", ".join(f"{folder} {shape[0]}x{shape[1]}" for folder, shape in STREAMS)


def extractor_for_spec(spec: FeatureSpec, weights_dir: str | os.PathLike | None = None, device: str = "auto",
                       cache: FeatureCache | None | bool = True):  # fmt: skip
    """The offline extractor that makes ``spec``'s features; one clear error when a stream has none or a
    weight file is missing. ``cache``: the feature cache of the real backbones (True: the default folder,
    False: none, or a FeatureCache)."""
    if spec.same_inputs(DEMO_FEATURES):
        from mmcse.demo.features import DemoExtractor

        return DemoExtractor()
    unknown = [(key, s) for key, s in spec.streams.items() if (s.name, tuple(s.shape)) not in STREAMS]
    if unknown:
        key, s = unknown[0]
        raise ValueError(
            f"no offline feature extractor for the {spec.name!r} features: its {key} stream {s.name} "
            f"{s.shape[0]}x{s.shape[1]} has none (extractors here: {known_streams()}, and the demo features); "
            "extract that stream with its official backbone and run the model on the feature files"
        )
    return BackboneExtractor(spec, weights_dir, device, cache)


