"""Every speed switch of the models, and the only place that reads their environment variables.

``MMCSE_FAST``            "0": the models take their plain PyTorch path (nn.Linear, nn.Dropout, softmax
                          attention as written in the paper) instead of the kernels in ``mmcse.models._fast``.
                          Read once, when this module is imported; change it at run time with
                          :func:`set_fast_kernels` or the :func:`fast_kernels` context manager.
``MMCSE_ONEDNN``          "0": the fast path does its matrix products with ``F.linear`` instead of oneDNN's
                          fused linear kernel. Read once, when ``_fast.onednn`` is imported.
``MMCSE_TUNE_ALLOCATOR``  "0": :func:`mmcse.models._fast.allocator.apply_process_tuning` leaves glibc's
                          malloc settings alone. Read when the tuning is applied.

Any other value, or the variable unset, means on. Both paths compute the same function (same parameters,
same state_dict keys); they differ in float32 rounding and in the random numbers their dropout draws.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

FAST_ENV = "MMCSE_FAST"
ONEDNN_ENV = "MMCSE_ONEDNN"
TUNE_ALLOCATOR_ENV = "MMCSE_TUNE_ALLOCATOR"


def env_flag(name: str) -> bool:
    """A switch that is on unless its environment variable is "0"."""
    return os.environ.get(name, "1") != "0"


_switches = {"fast": env_flag(FAST_ENV)}


def fast_kernels_enabled() -> bool:
    """Whether model forwards take the fast path (the default) or the plain PyTorch one."""
    return _switches["fast"]


def set_fast_kernels(enabled: bool) -> bool:
    """Choose the path of every model forward from now on (process-wide); returns the previous setting."""
    previous, _switches["fast"] = _switches["fast"], bool(enabled)
    return previous


@contextlib.contextmanager
def fast_kernels(enabled: bool) -> Iterator[None]:
    """``with fast_kernels(False): model(...)`` runs the plain path; the previous setting comes back after."""
    previous = set_fast_kernels(enabled)
    try:
        yield
    finally:
        set_fast_kernels(previous)


def onednn_requested() -> bool:
    return env_flag(ONEDNN_ENV)


def allocator_tuning_requested() -> bool:
    return env_flag(TUNE_ALLOCATOR_ENV)
