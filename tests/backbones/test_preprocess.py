"""Frame layout for the image backbones: a decoded (read-only) buffer goes in without torch's warning."""

from __future__ import annotations

import warnings

import numpy as np

from mmcse.backbones.preprocess import to_nchw


def test_read_only_frames_are_laid_out_channels_first_without_a_warning():
    frames = np.arange(2 * 4 * 5 * 3, dtype=np.uint8).reshape(2, 4, 5, 3)  # (F, H, W, 3)
    frames.flags.writeable = False  # as a decoded buffer is
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # torch's "not writable" UserWarning would fail here
        out = to_nchw(frames)
    assert tuple(out.shape) == (2, 3, 4, 5)
    assert np.array_equal(out.numpy(), frames.transpose(0, 3, 1, 2))
