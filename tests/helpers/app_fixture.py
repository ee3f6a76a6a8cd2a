"""A tiny dataset + checkpoints for the app and inference tests (seconds to build, no video files needed).

build_app_fixture(root) -> AppFixture: <root>/data (official layout, small feature spec, val/test with
dense GT) and <root>/data/runs/{tiny_mmcse,tiny_han}/best.safetensors (randomly initialised, tiny).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from mmcse.config import FeatureSpec, ModelConfig, StreamSpec, TrainConfig

TINY_FEATURES = FeatureSpec(
    name="tiny",
    audio=StreamSpec("tiny_audio", (10, 16), "test-only audio stream"),
    visual=StreamSpec("tiny_frames", (10, 12), "test-only visual stream"),
    visual_st=StreamSpec("tiny_motion", (10, 8), "test-only motion stream"),
)
OTHER_FEATURES = FeatureSpec(
    name="other",
    audio=StreamSpec("other_audio", (10, 20), "another spec, for mismatch tests"),
    visual=StreamSpec("tiny_frames", (10, 12)),
    visual_st=StreamSpec("tiny_motion", (10, 8)),
)


@dataclass
class AppFixture:
    root: Path
    data: Path
    runs: Path
    mmcse_checkpoint: Path
    han_checkpoint: Path
    other_checkpoint: Path  # an MM-CSE for OTHER_FEATURES: must be refused on this dataset
    demo_checkpoint: Path | None = (
        None  # an MM-CSE for the demo features (parses uploaded videos); with_video
    )
    video: Path | None = None  # the first test clip's mp4; with_video


def tiny_model_config(spec: FeatureSpec, arch: str = "mmcse") -> ModelConfig:
    return ModelConfig.for_features(
        spec, arch=arch, d_model=32, d_class=16, num_layers=1, num_heads=2, dropout=0.0
    )


def save_random_checkpoint(path: Path, spec: FeatureSpec, arch: str = "mmcse", seed: int = 0) -> Path:
    from mmcse.checkpoint import save_checkpoint
    from mmcse.models import create_model

    torch.manual_seed(seed)
    cfg = tiny_model_config(spec, arch)
    model = create_model(cfg).eval()
    save_checkpoint(path, model, model_config=cfg, feature_spec=spec, train_config=TrainConfig(seed=seed))
    return path


def write_test_video(path: Path, seconds: float = 10.0) -> Path:
    """A small H.264 + AAC mp4 (test pattern and a tone) made with the ffmpeg binary of imageio-ffmpeg."""
    import subprocess

    import imageio_ffmpeg

    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc=size=160x120:rate=16", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=16000",
         "-t", str(seconds), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-c:a", "aac", str(path)],
        check=True,
    )  # fmt: skip
    return path


def build_app_fixture(
    root: str | Path, n_train: int = 24, n_val: int = 12, n_test: int = 16, with_video: bool = False
) -> AppFixture:
    """The dataset, two checkpoints in its runs folder and one of another spec; with_video writes an mp4 for
    the first test clip under <data>/videos/<filename>.mp4."""
    from mmcse.data.llp import read_weak_labels
    from mmcse.data.synthetic import write_synthetic_dataset

    root = Path(root)
    data = root / "data"
    write_synthetic_dataset(data, TINY_FEATURES, n_train, n_val, n_test, seed=0, pseudo_labels=False)
    video = demo_checkpoint = None
    if with_video:
        from mmcse.config import DEMO_FEATURES

        first_test = read_weak_labels(data / "AVVP_test_pd.csv")[0][0]
        video = write_test_video(data / "videos" / f"{first_test}.mp4")
        demo_checkpoint = save_random_checkpoint(
            root / "demo_ck" / "demo.safetensors", DEMO_FEATURES, "mmcse", 3
        )
    runs = data / "runs"
    return AppFixture(
        root=root,
        data=data,
        runs=runs,
        mmcse_checkpoint=save_random_checkpoint(
            runs / "tiny_mmcse" / "best.safetensors", TINY_FEATURES, "mmcse", 0
        ),
        han_checkpoint=save_random_checkpoint(
            runs / "tiny_han" / "best.safetensors", TINY_FEATURES, "han", 1
        ),
        other_checkpoint=save_random_checkpoint(
            root / "other" / "other.safetensors", OTHER_FEATURES, "mmcse", 2
        ),
        demo_checkpoint=demo_checkpoint,
        video=video,
    )
