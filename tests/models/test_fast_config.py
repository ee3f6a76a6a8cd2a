"""The speed switches live in one place (mmcse/models/_fast/config.py), the fast kernels import no model
code, and the process tuning (glibc malloc) is one idempotent call that building a model does not make."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mmcse.models._fast import config
from mmcse.models._fast.config import fast_kernels, fast_kernels_enabled, set_fast_kernels

MODELS = Path(__file__).resolve().parents[2] / "mmcse" / "models"


def _python(code: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MMCSE_")}
    return subprocess.run(
        [sys.executable, "-c", code], env={**environ, **env}, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_the_switch_and_its_context_manager():
    default = fast_kernels_enabled()
    with fast_kernels(not default):
        assert fast_kernels_enabled() is not default
        with fast_kernels(default):
            assert fast_kernels_enabled() is default
        assert fast_kernels_enabled() is not default
    assert fast_kernels_enabled() is default
    with pytest.raises(RuntimeError), fast_kernels(not default):
        raise RuntimeError
    assert fast_kernels_enabled() is default  # restored after an exception too
    assert set_fast_kernels(not default) is default
    assert set_fast_kernels(default) is (not default)


def test_environment_variables():
    code = "from mmcse.models._fast.config import fast_kernels_enabled as f; print(f())"
    assert _python(code) == "True"
    assert _python(code, MMCSE_FAST="0") == "False"
    assert _python(code, MMCSE_FAST="1") == "True"
    code = "from mmcse.models._fast import onednn; print(onednn._ONEDNN_LINEAR is None)"
    assert _python(code, MMCSE_ONEDNN="0") == "True"


def test_only_the_config_module_reads_the_environment():
    readers = sorted(
        str(p.relative_to(MODELS))
        for p in MODELS.rglob("*.py")
        if re.search(r"os\.environ|getenv|environ\[", p.read_text())
    )
    assert readers == ["_fast/config.py"]


def test_fast_kernels_import_no_model_code():
    """No import cycle: the kernels depend on torch and numpy only, the model modules on the kernels."""
    code = (
        "import sys, mmcse.models._fast;"
        "print(sorted(m for m in sys.modules if m.startswith('mmcse.models.') and '._fast' not in m))"
    )
    assert _python(code) == "['mmcse.models.outputs']"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc mallopt: Linux only")
def test_process_tuning_is_one_idempotent_call_not_made_by_building_a_model():
    code = (
        "from mmcse.config import ModelConfig; from mmcse.models import apply_process_tuning, create_model;"
        "from mmcse.models._fast.allocator import cpu_allocator_tuned;"
        "create_model(ModelConfig(num_layers=1)); before = cpu_allocator_tuned();"
        "print(before, apply_process_tuning(), apply_process_tuning(), cpu_allocator_tuned())"
    )
    assert _python(code).split() == ["False", "True", "True", "True"]
    assert _python(code, MMCSE_TUNE_ALLOCATOR="0").split() == ["False"] * 4


def test_switch_reader_functions(monkeypatch):
    assert config.env_flag("MMCSE_SURELY_UNSET_VARIABLE")
    monkeypatch.setenv("MMCSE_ONEDNN", "0")
    assert not config.onednn_requested()
    monkeypatch.setenv("MMCSE_TUNE_ALLOCATOR", "yes")
    assert config.allocator_tuning_requested()
