"""Where the user is: the open clip (kept by its id, never by a label or a row number), permalinks
(st.query_params: dataset, split, checkpoint(s), thresholds, gating, clip) and cross-links that open a clip
on the Video parser."""

from __future__ import annotations

import streamlit as st

PARSER_PAGE = "pages/video_parser.py"
CLIP = "clip"  # session key: id (file name) of the open clip
MOVES = "_clip_moves"  # bumped when the clip changes other than by a table click (j / k, buttons, links)
SHARED = "_url_shared"  # the sidebar's part of the permalink, for cross-links
URL_CLIP = "_url_clip_written"  # the clip id this app last wrote to the URL
RESTORED = "_url_restored"
FROM_LINK = "_clip_from_link"  # the open clip was named by a link (not chosen in the app)


def restore_from_url(choices: dict[str, tuple]) -> None:
    """Once per session, before the widgets exist: preset sidebar widgets from the permalink's query
    parameters. ``choices`` maps a parameter to (widget key, allowed values or a (low, high) float range).
    Unknown or out-of-range values are ignored; "clip" and "compare" are kept for the pages."""
    if st.session_state.get(RESTORED):
        return
    st.session_state[RESTORED] = True
    params = st.query_params
    for name, (key, allowed) in choices.items():
        value = params.get(name)
        if value is None:
            continue
        if isinstance(allowed, tuple) and len(allowed) == 2 and all(isinstance(x, float) for x in allowed):
            try:
                number = round(float(value), 2)
            except ValueError:
                continue
            if allowed[0] <= number <= allowed[1]:
                st.session_state[key] = number
        elif allowed is None or value in allowed:
            st.session_state[key] = value
    for name in ("ckpt", "compare", "cmp_gating"):
        if params.get(name):
            st.session_state[f"_url_{name}"] = params.get(name)
    if params.get("clip"):
        set_clip(params.get("clip"), from_link=True)
        st.session_state[URL_CLIP] = params.get("clip")


def write_url(values: dict[str, str | None]) -> None:
    """Make the address bar say ``values`` (a None value removes its parameter); writes only changes."""
    params = st.query_params
    for name, value in values.items():
        if value is None:
            if name in params:
                del params[name]
        elif params.get(name) != value:
            params[name] = value


def set_clip(clip_id: str, moved: bool = True, from_link: bool = False) -> None:
    """Open ``clip_id``; ``moved`` (any change but a table click) makes the clip table re-highlight it;
    ``from_link``: a permalink or link named it (a missing clip is then worth saying)."""
    st.session_state[CLIP] = clip_id
    st.session_state[FROM_LINK] = from_link
    if moved:
        st.session_state[MOVES] = st.session_state.get(MOVES, 0) + 1


def current_clip() -> str | None:
    return st.session_state.get(CLIP)


def clip_from_link() -> bool:
    return bool(st.session_state.get(FROM_LINK))


def adopt_url_clip() -> None:
    """A clip named in the address bar by a link within the session (st.page_link / a pasted URL) wins
    over the remembered one; the app's own writes are told apart by URL_CLIP."""
    clip = st.query_params.get("clip")
    if clip and clip != st.session_state.get(URL_CLIP) and clip != current_clip():
        set_clip(clip, from_link=True)
    st.session_state[URL_CLIP] = clip


def write_clip(clip_id: str | None) -> None:
    write_url({"clip": clip_id})
    st.session_state[URL_CLIP] = clip_id


def open_clip(clip_id: str) -> None:
    """Cross-link: open ``clip_id`` on the Video parser (the permalink keeps the sidebar's choices)."""
    set_clip(clip_id)
    st.session_state[URL_CLIP] = clip_id
    st.switch_page(PARSER_PAGE, query_params={**st.session_state.get(SHARED, {}), "clip": clip_id})


def clip_list(clips: list[str], key: str, details=None, height: int = 240) -> None:
    """A table of clip ids (with ``details``, a DataFrame indexed by clip id, when given); selecting a row
    opens that clip on the Video parser."""
    import pandas as pd

    table = details.loc[clips] if details is not None else pd.DataFrame(index=pd.Index(clips, name="clip"))
    event = st.dataframe(table, key=key, on_select="rerun", selection_mode="single-row", height=height, width="stretch")
    rows = event.selection.rows if event is not None else []
    if rows:
        open_clip(str(table.index[rows[0]]))
