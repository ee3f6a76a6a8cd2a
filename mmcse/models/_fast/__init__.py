"""The models' speed kernels (private). Each one computes what a plain PyTorch path computes; the model
module that calls it shows both versions in the same forward, chosen by one switch
(:func:`fast_kernels_enabled`, ``MMCSE_FAST=0`` for the plain path; every switch is in :mod:`.config`).

    config.py     every speed switch and environment variable (MMCSE_FAST, MMCSE_ONEDNN, MMCSE_TUNE_ALLOCATOR)
    onednn.py     linear (+ ReLU, + dropout mask) through oneDNN; hand-written backward, shared transposes
    dropout.py    dropout keep masks from 16-bit PCG64 lanes; the 1/(1-p) scale goes into the next matmul
    attention.py  SECM's class attention in a few batched matmuls, hand-written backward
    lgsf.py       LGSF's sum of fc(x + r g) as one fc(x) plus r (W g), hand-written gate backward
    allocator.py  glibc malloc tuning for the process (:func:`apply_process_tuning`)
"""

from mmcse.models._fast.allocator import apply_process_tuning
from mmcse.models._fast.attention import class_attention
from mmcse.models._fast.config import fast_kernels, fast_kernels_enabled, set_fast_kernels
from mmcse.models._fast.dropout import keep_mask, training_keep_mask
from mmcse.models._fast.lgsf import gated_fc_sum
from mmcse.models._fast.onednn import linear

__all__ = [
    "apply_process_tuning",
    "class_attention",
    "fast_kernels",
    "fast_kernels_enabled",
    "gated_fc_sum",
    "keep_mask",
    "linear",
    "set_fast_kernels",
    "training_keep_mask",
]
