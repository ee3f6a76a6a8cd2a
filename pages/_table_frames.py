"""Frame thumbnails in the Video parser's clip table: the middle frame of each clip's video file, as a data
URL for st.column_config.ImageColumn. Read from the media cache only (mmcse.media_view.cached_poster): the
videos not decoded yet are decoded in a background thread (after the clips j / k open next) and their
frames appear on a later run. Only for a table of at most TABLE_FRAMES_MAX rows: the frames travel in the
table's message (a 96-px JPEG: 1-1.6 kB of base64 for a demo clip)."""

from __future__ import annotations

import base64
from pathlib import Path

import streamlit as st

from mmcse.video.io import VIDEO_SUFFIXES, find_video
from pages._cache import mtime

TABLE_FRAMES_MAX = 200
FRAME_COLUMN = "frame"
FRAME_CONFIG = st.column_config.ImageColumn(
    "frame", width="small", help="the middle frame of the clip's video file (none without one)"
)


@st.cache_data(show_spinner=False, max_entries=8)
def _video_stems(video_dir: str, modified: float) -> tuple[frozenset[str], frozenset[str]]:
    """(file stems, their 11-character YouTube ids) of the video files in a folder, read once per change."""
    stems = frozenset(p.stem for p in Path(video_dir).iterdir() if p.suffix.lower() in VIDEO_SUFFIXES)
    return stems, frozenset(s[:11] for s in stems)


@st.cache_data(show_spinner=False, max_entries=4096)
def _poster_url(path: str, modified: float, size: int) -> str:
    """The data URL of a decoded video's middle frame; raises LookupError when it is not decoded yet (not
    kept: a later run looks again)."""
    from mmcse.media_view import cached_poster

    poster = cached_poster(path)
    if poster is None:
        raise LookupError(path)
    return "data:image/jpeg;base64," + base64.b64encode(poster).decode("ascii")


def frame_column(video_dir: Path | None, ids: list[str], opening: str | None = None) -> tuple[list[str | None] | None, str]:
    """(a data URL or None per clip of ``ids``, a note for the user); (None, why) for a table longer than
    TABLE_FRAMES_MAX, (None, "") when none of the clips has a video file. Starts the background decoding of the videos whose frames are not cached, but for
    the clip ``opening`` (the page decodes it for its timeline in this run)."""
    if len(ids) > TABLE_FRAMES_MAX:
        return None, f"Filter the table to at most {TABLE_FRAMES_MAX} clips to see a frame of each in it."
    if video_dir is None or not Path(video_dir).is_dir():
        return None, ""  # a features-only dataset: no column
    stems, id11s = _video_stems(str(video_dir), mtime(video_dir))
    urls: list[str | None] = []
    todo: list[Path] = []
    for clip in ids:
        path = find_video(video_dir, clip) if clip in stems or clip[:11] in id11s else None
        url = None
        if path is not None:
            try:
                url = _poster_url(str(path), mtime(path), path.stat().st_size)
            except (LookupError, OSError):
                if clip != opening:
                    todo.append(path)
        urls.append(url)
    if not todo:
        return (urls if any(urls) else None), ""  # none of these clips has a video file: no column
    from mmcse.media_view import prefetch

    prefetch(todo, urgent=False)
    return urls, (f"Reading a frame of {len(todo)} more clip(s) in the background (once per video); they appear "
                  "in the table's frame column on the page's next change.")  # fmt: skip
