"""Where the user is: the open clip (kept by its id, never by a label or a row number), permalinks
(st.query_params: dataset, runs folder, split, checkpoint(s), thresholds, gating; on the Video parser the
clip and its view: search, filters, sort, timeline mode, zoom and audio & frames lanes) and cross-links
that open a clip on the Video parser. A page's own parameters leave the URL on the other pages
(``keep_page_params``)."""

from __future__ import annotations

from urllib.parse import quote, unquote

import streamlit as st

PARSER_PAGE = "pages/video_parser.py"
CLIP = "clip"  # session key: id (file name) of the open clip
SHARED = "_url_shared"  # the sidebar's part of the permalink, for cross-links
URL_CLIP = "_url_clip_written"  # the clip ids this app has written to the URL in this session (newest last)
RESTORED = "_url_restored"
FROM_LINK = "_clip_from_link"  # the open clip was named by a link (not chosen in the app)
VIEW = "_parser_view"  # the Video parser's view (URL parameter -> value), kept across page switches
# the Video parser's view: URL parameter -> (widget key, default); "mode" / "zoom" / "media" (the audio &
# frames lanes shown) belong to the timeline
VIEW_PARAMS = {"q": ("clip_search", ""), "classes": ("clip_classes", ()), "modality": ("clip_modality", "any"),
               "errors": ("clip_errors", "any"), "sort": ("clip_sort", "file order"), "desc": ("clip_desc", False),
               "tags": ("clip_tag_filter", ())}  # fmt: skip
TIMELINE_DEFAULTS = {"mode": "rows", "zoom": 1, "media": True}
TIMELINE_MODES = ("rows", "errors", "kinds")  # GT / prediction rows, TP / FP / FN, error kinds (assets/timeline.js)
PAGE_PARAMS = {"video_parser": ("clip", *VIEW_PARAMS, *TIMELINE_DEFAULTS), "compare": ("compare", "cmp_gating")}


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
    view = view_state()
    for name in (*VIEW_PARAMS, *TIMELINE_DEFAULTS):
        if params.get(name) is not None:
            view[name] = params.get(name)
    if params.get("clip"):
        set_clip(params.get("clip"), from_link=True)
        _remember_written(params.get("clip"))


def write_url(values: dict[str, str | None]) -> None:
    """Make the address bar say ``values`` (a None value removes its parameter); writes only changes."""
    params = st.query_params
    for name, value in values.items():
        if value is None:
            if name in params:
                del params[name]
        elif params.get(name) != value:
            params[name] = value


def set_clip(clip_id: str, from_link: bool = False) -> None:
    """Open ``clip_id``; ``from_link``: a permalink or link named it (a missing clip is then worth saying)."""
    st.session_state[CLIP] = clip_id
    st.session_state[FROM_LINK] = from_link


def current_clip() -> str | None:
    return st.session_state.get(CLIP)


def clip_from_link() -> bool:
    return bool(st.session_state.get(FROM_LINK))


def _remember_written(clip_id: str | None) -> None:
    written = [c for c in st.session_state.get(URL_CLIP) or [] if c != clip_id]
    st.session_state[URL_CLIP] = ([*written, clip_id] if clip_id else written)[-256:]


def adopt_url_clip() -> None:
    """A clip named in the address bar by a link within the session (st.page_link / st.switch_page) wins over
    the remembered one. A clip this app has itself written to the URL in this session is never adopted: a
    rerun asked for before the browser applied the app's latest write (j, j, j pressed quickly) carries an
    older clip of the app's own, which must not undo the presses."""
    clip = st.query_params.get("clip")
    if clip and clip not in (st.session_state.get(URL_CLIP) or []) and clip != current_clip():
        set_clip(clip, from_link=True)
    _remember_written(clip)


def write_clip(clip_id: str | None) -> None:
    write_url({"clip": clip_id})
    _remember_written(clip_id)


def open_clip(clip_id: str) -> None:
    """Cross-link: open ``clip_id`` on the Video parser (the permalink keeps the sidebar's choices)."""
    set_clip(clip_id)
    _remember_written(clip_id)
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


# ----------------------------------------------------------------------------- the Video parser's view


def view_state() -> dict:
    """The Video parser's view as URL parameter -> value (strings as in the URL, or the widgets' values)."""
    return st.session_state.setdefault(VIEW, {})


def _decode(name: str, text):
    """A view parameter's widget value from its URL text; None when it is not valid."""
    from mmcse.browse import ERROR_FILTERS, MODALITY_FILTERS, SORTS
    from mmcse.classes import LLP_CLASSES

    if name == "classes":
        names = [c for c in (text if isinstance(text, list | tuple) else str(text).split(",")) if c]
        return names if all(c in LLP_CLASSES for c in names) else None
    if name == "desc":
        return text in (True, "1", "true")
    if name == "tags":  # each tag %-escaped (a tag may hold a comma); tags no longer in use drop at the filter
        items = text if isinstance(text, list | tuple) else [unquote(t) for t in str(text).split(",")]
        return [str(t) for t in items if str(t)]
    choices = {"modality": MODALITY_FILTERS, "errors": ERROR_FILTERS, "sort": SORTS}.get(name)
    return str(text) if choices is None or text in choices else None


def restore_view() -> None:
    """Before the Video parser's widgets exist: preset those the session does not hold (a fresh session, or
    a page switch, which drops them) from the view kept in the session (first filled from the URL)."""
    view = view_state()
    for name, (key, _) in VIEW_PARAMS.items():
        if key not in st.session_state and name in view:
            value = _decode(name, view[name])
            if value is not None:
                st.session_state[key] = value
    mode = view.get("mode") if view.get("mode") in TIMELINE_MODES else TIMELINE_DEFAULTS["mode"]
    zoom = int(view["zoom"]) if str(view.get("zoom")) in ("1", "2", "4", "8") else TIMELINE_DEFAULTS["zoom"]
    view["mode"], view["zoom"] = mode, zoom
    view["media"] = view.get("media") not in (False, "0", "false")


def _encode(name: str, value) -> str | None:
    if name == "media":  # the lanes hidden: media=0; shown (the default): no parameter
        return "0" if value in (False, "0", "false") else None
    if name == "tags":
        return ",".join(quote(str(t), safe="") for t in value) if value else None
    if name == "classes":
        return ",".join(value) if value else None
    if name == "desc":
        return "1" if value else None
    return None if value in (None, "", VIEW_PARAMS.get(name, (None, None))[1], TIMELINE_DEFAULTS.get(name)) else str(value)


def write_view_params() -> None:
    """The Video parser's view into the session's copy and the URL (defaults left out)."""
    view = view_state()
    for name, (key, _) in VIEW_PARAMS.items():
        if key in st.session_state:
            value = st.session_state[key]
            view[name] = list(value) if name in ("classes", "tags") else value
    write_url({name: _encode(name, view.get(name)) for name in (*VIEW_PARAMS, *TIMELINE_DEFAULTS)})


def keep_page_params(page_name: str) -> None:
    """Remove the URL parameters of the pages other than ``page_name`` (e.g. no stale ``clip=`` on the
    Overview); the session keeps them for the way back."""
    own = PAGE_PARAMS.get(page_name, ())
    write_url({name: None for names in PAGE_PARAMS.values() for name in names if name not in own})
