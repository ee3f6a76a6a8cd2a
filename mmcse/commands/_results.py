"""The app's results cache (mmcse.prediction_cache) in the commands that run a checkpoint over a split
(evaluate, compare): the first run computes and stores the model's results there, later runs and the app
read them; ``--no-results-cache`` runs the model and keeps nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from mmcse.data.dataset import LLPSplit


def add_results_cache_argument(p) -> None:
    p.add_argument(
        "--no-results-cache", dest="results_cache", action="store_false",
        help="run the model and keep nothing (default: read the checkpoint's stored results on this split from "
        "$MMCSE_CACHE, else compute and store them there, where the app reads them)",
    )  # fmt: skip


def cached_probabilities(checkpoint, device: str, notes: list[str]) -> Callable[[LLPSplit], dict[str, np.ndarray]]:
    """A ``probabilities_of(split)`` for evaluate_report / checkpoint_predictions: the checkpoint's results on
    the split from the app's results cache (computed and stored there when absent; an explicit ``device``
    other than the one that made them computes them again); appends what happened to ``notes``, once per
    results. A second pass over the same split (evaluate --bootstrap) reuses results that could not be kept."""
    from mmcse.prediction_cache import PROB_FIELDS, checkpoint_results, results_path

    unstored: dict = {}
    said: set[str] = set()

    def probabilities_of(split):
        results, computed = checkpoint_results(checkpoint, split, device=device, unstored=unstored)
        if results.key not in said:
            said.add(results.key)
            notes.append(_note(results, computed, results_path(results.key, results.folder)))
        return {f: getattr(results.predictions, f) for f in PROB_FIELDS}

    return probabilities_of


def _note(results, computed: bool, where) -> str:
    made = f"on {results.info.get('device') or 'an unrecorded device'}"
    if computed and not where.is_file():
        return f"predictions: computed {made} ({results.seconds:.1f} s), not kept in {where} (the warning above says why)"
    if computed:
        return (f"predictions: computed {made} ({results.seconds:.1f} s) and kept in {where}; later evaluate / compare "
                "runs of this checkpoint and the app read them for the same split and labels (--no-results-cache: "
                "keep nothing)")  # fmt: skip
    return (f"predictions: read from {where} (computed {made}, {results.info.get('created') or 'at an unrecorded time'});"
            " --no-results-cache runs the model again")  # fmt: skip
