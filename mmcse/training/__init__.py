"""Training and evaluation: the loop (loop.py), evaluation on a split (evaluation.py), the losses
(losses.py), the optimiser and schedule (optim.py), the run folder (runs.py), one process or DDP
(distributed.py). The public face: ``train`` and ``evaluate``."""

from mmcse.training.evaluation import evaluate, evaluate_report
from mmcse.training.loop import train

__all__ = ["evaluate", "evaluate_report", "train"]
