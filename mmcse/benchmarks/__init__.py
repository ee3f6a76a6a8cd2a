"""Benchmarks: runnable commands that print figures against a named baseline."""
