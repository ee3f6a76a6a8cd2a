"""Training and evaluation: the loop (loop.py: ``train``), evaluation on a split (evaluation.py:
``evaluate``, ``evaluate_report``), the losses (losses.py), the optimiser and schedule (optim.py), the run
folder (runs.py: file names, config.json, metrics.csv, discovery; no torch) and its resume state
(state.py), one process or DDP (distributed.py)."""
