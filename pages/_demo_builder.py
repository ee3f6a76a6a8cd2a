"""First run: build the demo in the background (`python -m mmcse demo`) and show its progress."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import streamlit as st

REPO = Path(__file__).resolve().parents[1]
DEMO_DIR = REPO / "demo_data"
LOG = Path(tempfile.gettempdir()) / "mmcse_demo_build.log"
PROGRESS = Path(tempfile.gettempdir()) / "mmcse_demo_build.progress.json"  # the build's on_progress writes it


@st.cache_resource
def _builds() -> dict:
    """The background build process, shared by all sessions (one build at a time)."""
    return {}


def _last_line(path: Path) -> str:
    """The log's last non-empty line (tqdm redraws a line with carriage returns)."""
    if not path.exists():
        return ""
    text = path.read_bytes()[-4000:].decode("utf-8", "replace")
    lines = [line.strip() for line in text.replace("\r", "\n").splitlines() if line.strip()]
    return lines[-1] if lines else ""


def read_progress(path: Path | None = None) -> tuple[float, str]:
    """(fraction of the current stage done, what to show) from the progress file the build keeps."""
    try:
        progress = json.loads((path or PROGRESS).read_text())
        done, total, stage = int(progress["done"]), int(progress["total"]), str(progress["stage"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0, "Building the demo: starting..."
    fraction = min(1.0, done / total) if total > 0 else 0.0
    if stage == "clips":
        what = f"rendering clips, {done:,} of {total:,}"
    elif stage.startswith("training"):  # training reports its epochs when it ends
        what = f"{stage}, {total} epochs" + (" (done)" if done >= total else " (a few minutes)")
    else:
        what = "measuring what the demo MM-CSE learned"
    return fraction, f"Building the demo: {what}..."


def build_button() -> None:
    builds = _builds()
    process = builds.get("demo")
    if process is None:
        if st.button("Build the demo now (runs in the background)", type="primary"):
            PROGRESS.unlink(missing_ok=True)  # a previous build's progress
            log = open(LOG, "wb")  # noqa: SIM115 (the child process owns it)
            builds["demo"] = subprocess.Popen(
                [sys.executable, "-m", "mmcse", "demo", "--out", str(DEMO_DIR), "--progress-file", str(PROGRESS)],
                cwd=REPO,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            st.rerun()
        return
    _progress()


@st.fragment(run_every=2)
def _progress() -> None:
    process = _builds().get("demo")
    if process is None:
        return
    if process.poll() is None:
        fraction, text = read_progress()
        st.progress(fraction, text=text)
    elif process.returncode == 0:
        _builds().pop("demo", None)
        st.rerun(scope="app")  # the sidebar now finds demo_data/
    else:
        st.error(f"The demo build failed (exit {process.returncode}): {_last_line(LOG)[:300]}. See {LOG}.")
