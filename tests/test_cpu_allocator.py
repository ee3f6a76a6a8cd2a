"""The CLI's allocator tuning: on by default on Linux/glibc, off with MMCSE_TUNE_ALLOCATOR=0 (in child
processes: the setting is process-wide and irreversible)."""

import os
import subprocess
import sys

import pytest

CODE = (
    "from mmcse.cpu_allocator import tune_cpu_allocator, cpu_allocator_tuned;"
    "print(tune_cpu_allocator(), cpu_allocator_tuned())"
)


def _run(env_value: str | None) -> str:
    env = dict(os.environ)
    env.pop("MMCSE_TUNE_ALLOCATOR", None)
    if env_value is not None:
        env["MMCSE_TUNE_ALLOCATOR"] = env_value
    return subprocess.run(
        [sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True
    ).stdout


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt: Linux only")
def test_tuned_by_default_and_off_with_the_env_switch():
    assert _run(None).split() == ["True", "True"]
    assert _run("0").split() == ["False", "False"]


def test_bench_reports_the_allocator_state_of_its_process():
    env = dict(os.environ, MMCSE_TUNE_ALLOCATOR="0")
    out = subprocess.run(
        [sys.executable, "-m", "mmcse", "bench", "--batch", "2", "--iters", "1", "--warmup", "0", "--no-train"],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert "allocator tuned     False" in out
