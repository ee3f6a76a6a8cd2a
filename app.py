"""Streamlit entry point: `streamlit run app.py`.

st.navigation over the pages in pages/, and the sidebar every page shares: checkpoint (discovered runs, a
path, or an upload), dataset root and split, video folder, gating and thresholds, figure download format,
and the device in use. The sidebar's choices are restored from and written to the URL (permalinks).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from mmcse.metrics import GATINGS
from pages import _context as context
from pages import _nav as nav
from pages import _widgets as widgets

context.leave_legacy_pages_mode()  # before anything is drawn: a fresh server's first session

st.set_page_config(
    page_title="MM-CSE audio-visual video parsing",
    page_icon=str(context.ASSETS / "icon.png"),  # a file: a :material: icon is fetched from a font server
    layout="wide",
    initial_sidebar_state="auto",  # and collapsed below 1,000 px by assets/narrow.js
)
SPLITS = ["test", "val", "train"]
THRESHOLD_RANGE = (0.05, 0.95)


def follow_default(key: str, default: str) -> None:
    """Preset a text input to ``default`` unless the user typed something else: the value follows the
    default (e.g. the video folder follows the dataset root; a demo built meanwhile is picked up)."""
    auto_key = f"_default_{key}"
    if st.session_state.get(key, "") in ("", st.session_state.get(auto_key)):
        st.session_state[key] = default
    st.session_state[auto_key] = default


def data_section(ctx: context.Context) -> None:
    sb = st.sidebar
    sb.header("Data")
    default_root = context.default_data_root()
    follow_default("data_root", str(default_root) if default_root else "")
    root_text = sb.text_input("Dataset root", key="data_root",
                              help="A folder with the LLP CSVs (AVVP_*.csv) and features under feats/<stream>/<id>.npy")  # fmt: skip
    if root_text.strip():
        root = Path(root_text.strip()).expanduser()
        if (root / "AVVP_test_pd.csv").is_file() or (root / "AVVP_val_pd.csv").is_file():
            ctx.data_root = root
        else:
            sb.error(f"{root} holds no AVVP_val_pd.csv / AVVP_test_pd.csv; choose a dataset folder")
    ctx.split = sb.selectbox("Split", SPLITS, key="split")
    follow_default("feature_dir", str(ctx.data_root / "feats") if ctx.data_root else "")
    feature_text = sb.text_input("Feature folder", key="feature_dir",
                                 help="Holds one folder per stream: <stream>/<11-char id>.npy (official layout) or a packed store")  # fmt: skip
    ctx.feature_root = typed_path(feature_text)
    follow_default("video_dir", str(ctx.data_root / "videos") if ctx.data_root else "")
    video_text = sb.text_input("Video folder", key="video_dir",
                               help="Where the clips' video files are (<filename>.mp4 or <id>.mp4); LLP users download them "
                               "themselves. Demo clips without a file are rendered on demand.")  # fmt: skip
    ctx.video_dir = typed_path(video_text)
    if ctx.video_dir is not None and not ctx.video_dir.is_dir():
        sb.caption(f"{ctx.video_dir} does not exist: the lanes work without videos; set the folder your clips are in.")


def typed_path(text: str) -> Path | None:
    """A folder typed in the sidebar (spaces around it dropped, ~ expanded); None when the field is empty."""
    return Path(text.strip()).expanduser() if text.strip() else None


def checkpoint_section(ctx: context.Context) -> None:
    sb = st.sidebar
    sb.header("Checkpoint")
    default_runs = context.default_runs_dir(ctx.data_root)
    follow_default("runs_dir", str(default_runs) if default_runs else "")
    runs_text = sb.text_input("Runs folder", key="runs_dir",
                              help="Searched for checkpoints (every .safetensors but training states, and .pth), in "
                              "sub-folders too. Default: $MMCSE_RUNS, else <dataset root>/runs, else ./runs.")  # fmt: skip
    ctx.runs_dir = typed_path(runs_text)
    if ctx.runs_dir is not None and not ctx.runs_dir.is_dir():
        sb.error(f"Runs folder {ctx.runs_dir} does not exist; type the folder your runs are in (or set $MMCSE_RUNS)")
    ctx.checkpoints = context.discover_checkpoints(ctx.runs_dir)
    labels = {context.checkpoint_label(p, ctx.runs_dir): p for p in ctx.checkpoints}
    wanted = st.session_state.pop("_url_ckpt", None)  # from a permalink: relative to the runs folder, or a path
    if wanted in labels:
        st.session_state["ckpt_pick"], st.session_state["ckpt_source"] = wanted, "Discovered runs"
    elif wanted:
        st.session_state["ckpt_path"], st.session_state["ckpt_source"] = wanted, "Path"
    source = sb.radio("Source", ["Discovered runs", "Path", "Upload"], horizontal=True, key="ckpt_source")
    if source == "Discovered runs":
        if labels:
            ctx.checkpoint = labels[sb.selectbox("Checkpoint", list(labels), key="ckpt_pick")]
        else:
            where = f"in {ctx.runs_dir}" if ctx.runs_dir else "(no runs folder set)"
            sb.caption(f"No checkpoints found {where}. Type the Runs folder, set $MMCSE_RUNS, or use Path / Upload.")
    elif source == "Path":
        path_text = sb.text_input("Checkpoint or run folder (.safetensors, the authors' .pth, or a folder)", key="ckpt_path",
                                  help="Absolute, or relative to the Runs folder; a run folder opens its best.safetensors")  # fmt: skip
        if path_text.strip():
            try:
                ctx.checkpoint = context.resolve_checkpoint(path_text.strip(), ctx.runs_dir)
            except (FileNotFoundError, ValueError) as exc:
                sb.error(str(exc))
    else:
        upload = sb.file_uploader("Upload a checkpoint", type=["safetensors", "pth"], key="ckpt_upload")
        if upload is not None:
            ctx.checkpoint = context.save_upload(upload)
            ctx.checkpoints = [*ctx.checkpoints, ctx.checkpoint]
    if ctx.checkpoint is not None and ctx.checkpoint not in ctx.checkpoints and source == "Path":
        ctx.checkpoints = [*ctx.checkpoints, ctx.checkpoint]  # Compare can use it too


def threshold_section(ctx: context.Context) -> None:
    sb = st.sidebar
    sb.header("Thresholds")
    ctx.gating = sb.selectbox("Gating", list(GATINGS), index=list(GATINGS).index("mmcse"), key="gating",
                              help="fused: both modalities gated by P (HAN); mmcse: audio by P, visual by P_v; "
                              "modality: P_a / P_v")  # fmt: skip
    ctx.segment_threshold = sb.slider("Segment threshold", *THRESHOLD_RANGE, 0.5, 0.05, key="segment_threshold")
    ctx.video_threshold = sb.slider("Video threshold", *THRESHOLD_RANGE, 0.5, 0.05, key="video_threshold")
    sb.header("Display")
    ctx.figure_format = sb.radio("Figure download (toolbar camera)", ["png", "svg"], horizontal=True,
                                 format_func=str.upper, key="figure_format")  # fmt: skip
    ctx.device = inference_device()
    sb.caption(f"Device: **{ctx.device}**")


def collapse_when_narrow() -> None:
    """Below 1,000 px the sidebar starts collapsed (assets/narrow.js), as the pages need the width."""
    with st.sidebar:
        widgets.narrow_component()(data={"below": 1000}, key="narrow", height=0)


@st.cache_resource(show_spinner=False)
def inference_device() -> str:
    """The device the models run on, known without importing torch where there is no GPU driver (torch then
    loads only when a model is needed: a page read from the results cache opens without it). On a CPU the
    models run one thread per call (pages/_cache.py, ``$MMCSE_APP_THREADS``)."""
    from mmcse.utils.device import gpu_driver_present

    if not gpu_driver_present():
        return "cpu"
    import torch

    return f"cuda ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "cpu"


def permalink(ctx: context.Context) -> dict[str, str | None]:
    """The sidebar's part of every view's URL: the checkpoint relative to the runs folder where it lies in it,
    else its path (an upload has none); the runs folder and dataset root when they are not the defaults."""
    default_root = context.default_data_root()
    default_runs = context.default_runs_dir(ctx.data_root)
    source = st.session_state.get("ckpt_source")
    ckpt = None
    if ctx.checkpoint is not None and source in ("Discovered runs", "Path"):
        ckpt = context.checkpoint_label(ctx.checkpoint, ctx.runs_dir)
    return {
        "data": str(ctx.data_root) if ctx.data_root and ctx.data_root != default_root else None,
        "runs": str(ctx.runs_dir) if ctx.runs_dir and ctx.runs_dir != default_runs else None,
        "split": ctx.split,
        "ckpt": ckpt,
        "gating": ctx.gating,
        "seg": f"{ctx.segment_threshold:.2f}",
        "vid": f"{ctx.video_threshold:.2f}",
    }


def sidebar() -> context.Context:
    nav.restore_from_url({
        "data": ("data_root", None), "runs": ("runs_dir", None), "split": ("split", tuple(SPLITS)),
        "gating": ("gating", tuple(GATINGS)),
        "seg": ("segment_threshold", THRESHOLD_RANGE), "vid": ("video_threshold", THRESHOLD_RANGE),
    })  # fmt: skip
    ctx = context.Context()
    data_section(ctx)
    checkpoint_section(ctx)
    threshold_section(ctx)
    collapse_when_narrow()
    shared = permalink(ctx)
    st.session_state[nav.SHARED] = {k: v for k, v in shared.items() if v is not None}
    nav.write_url(shared)
    return ctx


pages = [
    st.Page("pages/overview.py", title="Overview", icon=":material/monitoring:", default=True),
    st.Page("pages/video_parser.py", title="Video parser", icon=":material/movie:"),
    st.Page("pages/class_features.py", title="Class features", icon=":material/scatter_plot:"),
    st.Page("pages/cooccurrence.py", title="Co-occurrence", icon=":material/grid_on:"),
    st.Page("pages/compare.py", title="Compare", icon=":material/compare:"),
]
st.session_state["mmcse_context"] = sidebar()
page = st.navigation(pages)
nav.keep_page_params(page.url_path)
page.run()
