"""VGGish (AudioSet) with the state_dict layout of harritaylor/torchvggish (``vggish-10086976.pth``).

    net = VGGish()
    net.load_state_dict(torch.load("vggish-10086976.pth", weights_only=True))
    emb = net(examples)            # (N, 1, 96, 64) log-mel examples -> (N, 128), after the last ReLU

Keys: features.{0,3,6,8,11,13} (3x3 convs 1->64->128->256->256->512->512 with 2x2 max pools after the 1st,
2nd, 4th and 6th) and embeddings.{0,2,4} (4096, 4096, 128). The conv output is flattened in TensorFlow's
(H, W, C) order, as the original model, so the ported weights give the original embedding.

The embedding is the raw one (after the final ReLU), not the PCA-whitened, 8-bit quantised "AudioSet"
form: LLP's / HAN's vggish files are the raw embedding (see mmcse/backbones/__init__.py).
``pca_postprocess`` gives the AudioSet form for whoever needs it.
"""

from __future__ import annotations

import torch
from torch import nn

EMBEDDING_DIM = 128
CONV_CHANNELS = (64, "M", 128, "M", 256, 256, "M", 512, 512, "M")
QUANTIZE_MIN, QUANTIZE_MAX = -2.0, 2.0


def _conv_layers() -> nn.Sequential:
    layers: list[nn.Module] = []
    channels = 1
    for v in CONV_CHANNELS:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(channels, int(v), 3, padding=1), nn.ReLU(inplace=True)]
            channels = int(v)
    return nn.Sequential(*layers)


class VGGish(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = _conv_layers()
        self.embeddings = nn.Sequential(
            nn.Linear(512 * 4 * 6, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, EMBEDDING_DIM), nn.ReLU(inplace=True),
        )  # fmt: skip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, 96, 64) log-mel examples -> (N, 128) raw embeddings."""
        x = self.features(x)  # (N, 512, 6, 4)
        x = x.permute(0, 2, 3, 1).reshape(x.shape[0], -1)  # (N, 6 * 4 * 512) in TF's (H, W, C) order
        return self.embeddings(x)


def pca_postprocess(embeddings: torch.Tensor, eigen_vectors: torch.Tensor, means: torch.Tensor) -> torch.Tensor:
    """AudioSet's released form: PCA with whitening, clipped to [-2, 2] and quantised to 0..255 (as floats).
    embeddings (N, 128); eigen_vectors (128, 128); means (128,) or (128, 1)."""
    pca = (embeddings - means.reshape(1, -1)) @ eigen_vectors.T
    clipped = pca.clamp(QUANTIZE_MIN, QUANTIZE_MAX)
    return torch.round((clipped - QUANTIZE_MIN) * (255.0 / (QUANTIZE_MAX - QUANTIZE_MIN)))
