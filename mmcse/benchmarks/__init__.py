"""Benchmarks: runnable commands that print figures against a named baseline."""

# a folder that `python -m mmcse bench-store --dir` uses gets this file: official/ and packed/ beside it are
# the benchmark's scratch, and only then may a later run replace or remove them
STORE_SCRATCH_MARK = ".mmcse-bench-store"
