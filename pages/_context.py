"""The sidebar context every page reads (Context), where the data and runs are found by default, and uploads."""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import streamlit as st

from mmcse.training.runs import find_checkpoints

REPO = Path(__file__).resolve().parents[1]
ASSETS = REPO / "assets"
UPLOAD_DIR = Path(tempfile.gettempdir()) / "mmcse_uploads"


@dataclass
class Context:
    """The shared sidebar choices, read by every page."""

    checkpoint: Path | None = None
    checkpoints: list[Path] = field(default_factory=list)  # all discovered (for Compare)
    data_root: Path | None = None
    feature_root: Path | None = None  # None: <data root>/feats
    split: str = "test"
    video_dir: Path | None = None
    gating: str = "mmcse"
    segment_threshold: float = 0.5
    video_threshold: float = 0.5
    device: str = "cpu"
    figure_format: str = "png"  # what the plotly toolbar's camera button downloads: "png" or "svg"
    runs_dir: Path | None = None

    @property
    def checkpoint_name(self) -> str:
        """The checkpoint as the user knows it: the uploaded file's own name, else run folder / file."""
        return display_name(self.checkpoint) if self.checkpoint else "no checkpoint"


def context() -> Context:
    """The sidebar choices of this run (set by app.py before the page runs)."""
    leave_legacy_pages_mode()
    return st.session_state.get("mmcse_context") or Context()


def leave_legacy_pages_mode() -> None:
    """Run the app under app.py's st.navigation alone: leave Streamlit's legacy multipage mode and rerun.

    Streamlit starts an app that has a pages/ folder beside its entry script in that mode until the script
    first calls st.navigation. A fresh server's first session then either runs app.py nested in a navigation
    of Streamlit's own (the browser's next rerun comes with default widget values and no query string: a
    permalink's choices lost on the first click) or, opened at e.g. /video_parser, that page file alone (no
    sidebar). app.py calls this before drawing anything, a page on entry."""
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


@st.cache_resource(show_spinner=False)
def code_revision() -> str | None:
    """The git revision of the app's code (for exports), None outside a git checkout."""
    import subprocess

    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def default_data_root() -> Path | None:
    """MMCSE_DATA_ROOT when set (and nothing else: an explicit choice is never swapped for the demo), else a
    built demo (demo_data/), else the compact prebuilt demo (assets/demo)."""
    explicit = os.environ.get("MMCSE_DATA_ROOT")
    candidates = [explicit] if explicit else [REPO / "demo_data", ASSETS / "demo"]
    for c in candidates:
        if c and (Path(c) / "AVVP_test_pd.csv").is_file():
            return Path(c)
    return None


def default_runs_dir(data_root: Path | None) -> Path | None:
    """MMCSE_RUNS, else <data root>/runs, else ./runs."""
    candidates = [os.environ.get("MMCSE_RUNS"), data_root / "runs" if data_root else None, REPO / "runs"]
    for c in candidates:
        if c and Path(c).is_dir():
            return Path(c)
    return None


def discover_checkpoints(runs_dir: Path | None) -> list[Path]:
    """Model checkpoints under a runs folder, MM-CSE runs first (mmcse.training.runs.find_checkpoints)."""
    return find_checkpoints(runs_dir) if runs_dir is not None else []


def checkpoint_label(path: Path, runs_dir: Path | None) -> str:
    """A checkpoint as the URL and the picker name it: relative to the runs folder when it lies in it, else
    its full path."""
    try:
        return str(path.relative_to(runs_dir)) if runs_dir else str(path)
    except ValueError:
        return str(path)


def resolve_checkpoint(text: str, runs_dir: Path | None) -> Path:
    """The checkpoint a typed path (or a link's ``ckpt=``) names: a file, or a run folder's best.safetensors
    (else last.safetensors, else its first checkpoint); a relative path is tried against the runs folder
    too. FileNotFoundError / ValueError with one line saying what was looked for."""
    typed = Path(text).expanduser()
    candidates = [typed] + ([runs_dir / typed] if runs_dir is not None and not typed.is_absolute() else [])
    for path in candidates:
        if path.is_file():
            return path
        if path.is_dir():
            for name in ("best.safetensors", "last.safetensors"):
                if (path / name).is_file():
                    return path / name
            found = find_checkpoints(path)
            if found:
                return found[0]
            raise ValueError(f"{path} is a folder without a checkpoint (.safetensors or .pth); give a run folder "
                             "or a checkpoint file")  # fmt: skip
    where = " or ".join(str(p) for p in candidates)
    raise FileNotFoundError(f"{where} does not exist; check the path (a checkpoint file or a run folder)")


def _upload_names() -> dict[str, str]:
    return st.session_state.setdefault("_upload_names", {})


def display_name(path: Path | str) -> str:
    """What to call a file in a message: an upload by the name the user gave it (not the hashed temp
    name it is stored under), a discovered checkpoint as "<run folder>/<file>"."""
    path = Path(path)
    uploaded = _upload_names().get(str(path))
    if uploaded:
        return uploaded
    return f"{path.parent.name}/{path.name}" if path.suffix in (".safetensors", ".pth") else path.name


def user_message(text: str) -> str:
    """``text`` with every hashed upload path or name replaced by the file name the user uploaded."""
    for stored, name in _upload_names().items():
        text = text.replace(stored, name).replace(Path(stored).name, name)
    return text


def save_upload(uploaded) -> Path:
    """Write an uploaded file under a temp folder, named by its content hash (the user's name is untrusted;
    it is remembered for messages, see ``display_name``)."""
    data = uploaded.getvalue()
    digest = hashlib.sha256(data).hexdigest()[:16]
    suffix = Path(uploaded.name).suffix.lower()
    suffix = suffix if suffix.isascii() and suffix[1:].isalnum() and len(suffix) <= 13 else ".bin"
    UPLOAD_DIR.mkdir(parents=True, exist_ok=True)
    path = UPLOAD_DIR / f"{digest}{suffix}"
    if not path.exists():
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    _upload_names()[str(path)] = Path(uploaded.name).name
    return path
