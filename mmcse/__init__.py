"""mmcse: MM-CSE (AAAI 2025) for audio-visual video parsing, with HAN/VALOR baselines and exact AVVP metrics."""

from mmcse.classes import LLP_CLASSES, NUM_CLASSES, NUM_SEGMENTS

__version__ = "0.1.0"
__all__ = ["LLP_CLASSES", "NUM_CLASSES", "NUM_SEGMENTS", "__version__"]
