"""Process-wide tuning of glibc's malloc for large CPU tensors.

With glibc's defaults every block over 32 MB (e.g. MM-CSE's (32000, 512) FFN activation at batch 64,
65 MB) is a fresh ``mmap`` that the kernel must fault in and zero page by page, and is handed back to
the OS when freed: every large op of every training step pays those page faults again. Serving large
blocks from the heap and never trimming it keeps freed memory for the next step, at the cost of the
process keeping its peak heap. PyTorch's CPU tuning guide recommends jemalloc/TCMalloc through
LD_PRELOAD for the same reason; this is the in-process glibc equivalent. ``MMCSE_TUNE_ALLOCATOR=0``
(read in :mod:`mmcse.models._fast.config`) turns it off.

Every entry point that computes calls :func:`apply_process_tuning` once before its heavy work: the
training loop, evaluation, the Parser (inference, parse, the app) and the model benchmark, so a script
that calls them gets the same setting as ``python -m mmcse``.
"""

from __future__ import annotations

import ctypes
import sys

from mmcse.models._fast.config import allocator_tuning_requested

_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_state = {"tuned": False}


def tune_cpu_allocator() -> bool:
    """Serve large blocks from the heap (no per-tensor mmap) and do not trim the heap top on free.

    Irreversible for the process. Returns whether the allocator is tuned: False where it does not apply
    (not Linux/glibc) or when ``MMCSE_TUNE_ALLOCATOR=0``."""
    if _state["tuned"]:
        return True
    if not allocator_tuning_requested() or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # musl or another libc
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    ok = mallopt(_M_MMAP_MAX, 0) == 1
    ok = ok and mallopt(_M_TRIM_THRESHOLD, 2**31 - 1) == 1
    _state["tuned"] = bool(ok)
    return _state["tuned"]


def cpu_allocator_tuned() -> bool:
    return _state["tuned"]


def apply_process_tuning() -> bool:
    """The process-wide speed settings a library entry point (training loop, inference) applies once
    before its heavy work. Idempotent and cheap to call again. At present: :func:`tune_cpu_allocator`.
    Returns whether the allocator is tuned."""
    return tune_cpu_allocator()
