"""A hand-made clip with one event of each error kind, shared by the error-analysis tests: its dense ground
truth and predictions as (class, onset, offset) triples (offset exclusive, as the dense CSVs).

By construction: Speech late by 1 s (boundary), Dog cut in two (split), two Car events under one prediction
(merged), Cello heard but predicted seen (wrong modality), Banjo replaced by Violin (substitution), Blender
not found (missed), Chainsaw where nothing is (inserted), Cat right (correct)."""

from __future__ import annotations

import numpy as np

from mmcse.classes import LLP_CLASSES

GT_AUDIO = [("Speech", 0, 4), ("Dog", 0, 10), ("Cello", 6, 8), ("Banjo", 2, 5)]
GT_VISUAL = [("Car", 0, 2), ("Car", 4, 6), ("Cat", 8, 10), ("Blender", 0, 2)]
PRED_AUDIO = [("Speech", 1, 5), ("Dog", 0, 3), ("Dog", 5, 10), ("Violin_fiddle", 2, 5), ("Chainsaw", 8, 10)]
PRED_VISUAL = [("Car", 0, 6), ("Cat", 8, 10), ("Cello", 6, 8)]


def grid(events) -> np.ndarray:
    """(10, 25) uint8 0/1 from (class, onset, offset) triples."""
    g = np.zeros((10, len(LLP_CLASSES)), np.uint8)
    for name, onset, offset in events:
        g[onset:offset, LLP_CLASSES.index(name)] = 1
    return g
