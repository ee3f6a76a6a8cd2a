"""Shared test fixtures. Tests that need ../shared (the LLP CSVs, the authors' reference outputs) skip
with a reason when it is absent, as in a user's clone; CI has it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mmcse.models._fast.config import fast_kernels

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MMCSE_SHARED", REPO.parent / "shared"))
LLP_DIR = SHARED / "llp"
REFERENCE_DIR = SHARED / "reference"


@pytest.fixture(scope="session")
def llp_dir() -> Path:
    if not (LLP_DIR / "AVVP_test_pd.csv").exists():
        pytest.skip(f"LLP annotation CSVs not found in {LLP_DIR} (set MMCSE_SHARED to the shared/ folder)")
    return LLP_DIR


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    if not (REFERENCE_DIR / "mmcse_official_clap_clip_io.npz").exists():
        pytest.skip(f"authors' reference outputs not found in {REFERENCE_DIR} (set MMCSE_SHARED)")
    return REFERENCE_DIR


@pytest.fixture(params=[True, False], ids=["fast", "plain"])
def kernel_path(request):
    """Runs the test twice: with the models' fast kernels and on their plain PyTorch path."""
    with fast_kernels(request.param):
        yield request.param


@pytest.fixture(autouse=True, scope="session")
def results_cache_of_the_session(tmp_path_factory):
    """The results cache (mmcse.prediction_cache) in a folder of this test session: commands that keep
    results there (evaluate) never write into the user's ~/.cache/mmcse. Tests that look at it set their own."""
    before = os.environ.get("MMCSE_CACHE")
    os.environ["MMCSE_CACHE"] = str(tmp_path_factory.mktemp("results_cache"))
    yield
    if before is None:
        os.environ.pop("MMCSE_CACHE", None)
    else:
        os.environ["MMCSE_CACHE"] = before
