"""The allocator tuning: on by default on Linux/glibc, off with MMCSE_TUNE_ALLOCATOR=0, applied by the
library entry points themselves, so a script that never goes through the CLI gets it too (in child
processes: the setting is process-wide and irreversible)."""

import os
import subprocess
import sys

import pytest

CODE = (
    "from mmcse.models._fast.allocator import tune_cpu_allocator, cpu_allocator_tuned;"
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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt: Linux only")
def test_a_script_that_loads_a_parser_gets_the_tuning_without_the_cli():
    code = (
        "from mmcse.models._fast.allocator import cpu_allocator_tuned; before = cpu_allocator_tuned();"
        "from mmcse.inference import Parser; Parser.from_checkpoint('assets/demo/runs/mmcse/best.safetensors', device='cpu');"
        "print(before, cpu_allocator_tuned())"
    )
    env = {k: v for k, v in os.environ.items() if k != "MMCSE_TUNE_ALLOCATOR"}
    repo = __import__("pathlib").Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], env=env, cwd=repo, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]
