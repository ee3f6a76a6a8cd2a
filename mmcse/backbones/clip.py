"""CLIP ViT-L/14 image embeddings of 10 frames per clip, as VALOR's utils/clip_preprocess.py makes them
(Hugging Face transformers' CLIPModel, the `CLIP/features` stream of the valor feature set).

    images = clip_images(frames)           # (80, H, W, 3) uint8 at 8 fps -> (10, 3, 224, 224)
    feats = image_embeddings(model, images)   # (10, 768), each row L2-normalised

VALOR's choices, kept: the frames at indices round(linspace(0, F - 1, 10)) of the clip's 8-fps frames; each
frame to [0, 1] (ToTensor), resized to 224x224 without keeping the aspect ratio and without a crop
(torchvision 0.13's tensor Resize: bilinear, no antialias), normalised with CLIP's mean / std; the
embedding is ``get_image_features`` (the projected pooled vision output), divided by its L2 norm.
transformers is imported only when a model is loaded (the `backbones` extra).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
CLIP_SIZE = 224
N_FRAMES = 10
HF_MODEL_ID = "openai/clip-vit-large-patch14"


def frame_indices(n_frames: int, n: int = N_FRAMES) -> np.ndarray:
    """VALOR's frame choice: ``n`` indices equally spaced over the clip's frames, rounded."""
    return np.round(np.linspace(0, n_frames - 1, n)).astype(int)


def clip_images(frames: np.ndarray) -> torch.Tensor:
    """(F, H, W, 3) uint8 -> (10, 3, 224, 224) float: VALOR's frames, resized (no crop), normalised."""
    x = torch.as_tensor(np.ascontiguousarray(frames[frame_indices(len(frames))])).permute(0, 3, 1, 2)
    x = F.interpolate(x.float() / 255.0, size=(CLIP_SIZE, CLIP_SIZE), mode="bilinear", align_corners=False,
                      antialias=False)  # fmt: skip
    mean, std = torch.tensor(CLIP_MEAN).view(1, 3, 1, 1), torch.tensor(CLIP_STD).view(1, 3, 1, 1)
    return (x - mean) / std


def image_embeddings(model, images: torch.Tensor) -> torch.Tensor:
    """(N, 3, 224, 224) -> (N, D) L2-normalised projected CLIP image embeddings (D = 768 for ViT-L/14)."""
    pooled = model.vision_model(pixel_values=images).pooler_output  # (N, hidden)
    feats = model.visual_projection(pooled)
    return feats / feats.norm(p=2, dim=-1, keepdim=True)


def load_clip(folder, device):
    """A transformers CLIPModel from a local folder (config.json + weights); never downloads."""
    try:
        from transformers import CLIPModel
    except ImportError:
        raise ValueError("the CLIP backbone needs transformers: pip install -e .[backbones]") from None
    try:
        model = CLIPModel.from_pretrained(str(folder), local_files_only=True)
    except (OSError, ValueError) as exc:
        raise ValueError(f"weights {folder}: not a transformers CLIP model folder ({str(exc).splitlines()[0][:160]}); "
                         f"expected {HF_MODEL_ID} saved with save_pretrained") from None  # fmt: skip
    return model.eval().to(device)
