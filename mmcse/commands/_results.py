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
    the split from the app's results cache (computed and stored there when absent); appends what happened to
    ``notes`` (once per checkpoint and split)."""

    def probabilities_of(split):
        from mmcse.prediction_cache import PROB_FIELDS, checkpoint_results, results_path

        results, computed = checkpoint_results(checkpoint, split, device=device)
        where = results_path(results.key, results.folder)
        if any(str(where) in line for line in notes):
            pass  # a second pass over the same split (evaluate --bootstrap): said already
        elif computed and not where.is_file():
            notes.append(f"predictions: computed ({results.seconds:.1f} s), not kept in {where} (the warning above "
                         "says why)")  # fmt: skip
        elif computed:
            notes.append(f"predictions: computed ({results.seconds:.1f} s) and kept in {where}; the app and the next "
                         "evaluate / compare of this checkpoint on this split read them (--no-results-cache: keep "
                         "nothing)")  # fmt: skip
        else:
            notes.append(f"predictions: read from {where} (computed {results.info.get('created') or '?'}); "
                         "--no-results-cache runs the model again")  # fmt: skip
        return {f: getattr(results.predictions, f) for f in PROB_FIELDS}

    return probabilities_of

