"""Deprecated: moved to :mod:`mmcse.models._fast.allocator`; library code calls ``apply_process_tuning()``."""

from mmcse.models._fast.allocator import cpu_allocator_tuned, tune_cpu_allocator  # noqa: F401
