"""First run: build the demo in the background (`python -m mmcse demo`) and show its progress."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

import streamlit as st

REPO = Path(__file__).resolve().parents[1]
DEMO_DIR = REPO / "demo_data"
LOG = Path(tempfile.gettempdir()) / "mmcse_demo_build.log"


@st.cache_resource
def _builds() -> dict:
    """The background build process, shared by all sessions (one build at a time)."""
    return {}


def _last_line(path: Path) -> str:
    if not path.exists():
        return ""
    text = path.read_bytes()[-4000:].decode("utf-8", "replace")
    parts = [p.strip() for p in re.split(r"[\r\n]+", text) if p.strip()]
    return parts[-1] if parts else ""


def build_button() -> None:
    builds = _builds()
    process = builds.get("demo")
    if process is None:
        if st.button("Build the demo now (runs in the background)", type="primary"):
            log = open(LOG, "wb")  # noqa: SIM115 (the child process owns it)
            builds["demo"] = subprocess.Popen(
                [sys.executable, "-m", "mmcse", "demo", "--out", str(DEMO_DIR)],
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
    line = _last_line(LOG)
    percent = re.findall(r"(\d+)%\|", line)
    if process.poll() is None:
        st.progress(int(percent[-1]) / 100 if percent else 0.0, text=f"Building the demo... {line[:160]}")
    elif process.returncode == 0:
        _builds().pop("demo", None)
        st.rerun(scope="app")  # the sidebar now finds demo_data/
    else:
        st.error(f"The demo build failed (exit {process.returncode}): {line[:300]}. See {LOG}.")
