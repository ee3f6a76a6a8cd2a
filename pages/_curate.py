"""The Video parser's curation (mmcse.curation draws nothing; this does): the open clip's tags and note (saved
on change to the dataset's tag file, so they outlive the server and are shared by every session), a tags
column and a tag filter for the clip table, and downloads of the shown clip list (CSV / JSON with tags,
notes and provenance; an LLP split CSV that `train --train-csv` / `evaluate --split-csv` take)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from mmcse.classes import LLP_CLASSES
from mmcse.curation import CurationFileError, TagStore, export_clips, store_path
from pages import _cache as cache
from pages import _context as context

TAG_FILTER = "clip_tag_filter"  # widget key of the tag filter
KEPT_FILTER = "_clip_tag_filter_kept"  # its value, kept across page switches (which drop widget state)
SAVE_ERROR = "_curate_save_error"
TAGS_COLUMN = st.column_config.TextColumn("tags", width="medium", help="your tags of the clip (edit them under the "
                                          "clip's title; kept in the dataset's mmcse_tags.json)")  # fmt: skip


def open_store(ctx: context.Context) -> TagStore | None:
    """The tags of the sidebar's dataset (beside it, or beside the run when it is read-only); None, with
    one line saying what is wrong, for a tag file that cannot be read (it is left as it is)."""
    checkpoint = ctx.checkpoint
    uploaded = checkpoint is not None and context.UPLOAD_DIR in checkpoint.parents
    run_dir = checkpoint.parent if checkpoint is not None and not uploaded else None
    path = store_path(ctx.data_root, run_dir)
    try:
        stat = path.stat()
    except OSError:
        return TagStore(path)
    try:  # read again only when the file changed (another session's edit, a hand edit)
        return _load(str(path), stat.st_mtime_ns, stat.st_size)
    except CurationFileError as exc:
        st.error(f"Tags are off: {exc}", icon="⚠️")
        return None


@st.cache_resource(show_spinner=False, max_entries=8)
def _load(path: str, modified_ns: int, size: int) -> TagStore:
    """A tag file as read at this version (shared by the sessions, which only read it: edits load afresh)."""
    return TagStore.load(path)


def with_tags_column(table: pd.DataFrame, store: TagStore | None) -> pd.DataFrame:
    """``table`` (indexed by clip id) with a "tags" column after the labels: each clip's tags, comma-joined."""
    tags = [", ".join(store.tags(c)) if store is not None else "" for c in table.index]
    table = table.copy()
    table.insert(list(table.columns).index("labels") + 1 if "labels" in table else 0, "tags", tags)
    return table


def tag_filter(ids: list[str], store: TagStore | None) -> list[str]:
    """The tag filter (clips with any of the chosen tags), applied to ``ids`` (their order kept)."""
    options = store.all_tags() if store is not None else []
    if TAG_FILTER not in st.session_state:  # a page switch dropped it: the chosen tags still in use come back
        st.session_state[TAG_FILTER] = [t for t in st.session_state.get(KEPT_FILTER, []) if t in options]
    else:
        st.session_state[TAG_FILTER] = [t for t in st.session_state[TAG_FILTER] if t in options]
    cols = st.columns([3, 9])
    chosen = cols[0].multiselect("Tagged", options, key=TAG_FILTER, placeholder="any tag" if options else "no tags yet",
                                 disabled=not options, help="clips with any of these tags (tag a clip under its title)")  # fmt: skip
    st.session_state[KEPT_FILTER] = list(chosen)
    if not chosen or store is None:
        return ids
    tagged = {c for tag in chosen for c in store.clips_with(tag)}
    return [c for c in ids if c in tagged]


def _save(clip: str, key: str, path, field: str):
    def callback() -> None:
        value = st.session_state.get(key)
        try:
            store = TagStore.load(path)
            store.set_tags(clip, value or []) if field == "tags" else store.set_note(clip, value or "")
            st.session_state.pop(SAVE_ERROR, None)
        except (CurationFileError, ValueError, OSError) as exc:
            st.session_state[SAVE_ERROR] = f"Not saved: {exc}"

    return callback


def clip_editor(clip: str, store: TagStore | None) -> None:
    """The open clip's tags (pick or type new ones) and note, saved as soon as they change."""
    if store is None:
        return
    read_only = not store.writable
    cols = st.columns([2, 3])
    tags_key, note_key = f"curate_tags::{clip}", f"curate_note::{clip}"
    cols[0].multiselect("Tags", sorted({*store.all_tags(), *store.tags(clip)}, key=str.lower), default=store.tags(clip),
                        key=tags_key, accept_new_options=True, placeholder="add a tag: bad GT, hard, ...",
                        on_change=_save(clip, tags_key, store.path, "tags"), disabled=read_only,
                        help=f"pick a tag or type a new one and press Enter; saved in {store.path}")  # fmt: skip
    cols[1].text_area("Note", store.note(clip), key=note_key, height=68, disabled=read_only,
                      placeholder="what is wrong or special about this clip", on_change=_save(clip, note_key, store.path, "note"),
                      help=f"saved when you leave the box (or press Ctrl+Enter), in {store.path}")  # fmt: skip
    if read_only:
        st.caption(f"{store.path} is read-only: tags and notes are shown, not editable.")
    if st.session_state.get(SAVE_ERROR):
        st.error(st.session_state[SAVE_ERROR], icon="⚠️")


def provenance(ctx: context.Context, store: TagStore | None, shown: int, total: int) -> dict:
    """What the exported list is: dataset, split, checkpoint (with its sha256), gating, thresholds, the
    tag file, how many clips of the split the filters showed."""
    identity = cache.checkpoint_identity(str(ctx.checkpoint), cache.mtime(ctx.checkpoint))
    return {"dataset": str(ctx.data_root), "split": ctx.split, "checkpoint": ctx.checkpoint_name,
            "checkpoint_sha256": identity.get("sha256"), "gating": ctx.gating,
            "segment_threshold": f"{ctx.segment_threshold:.2f}", "video_threshold": f"{ctx.video_threshold:.2f}",
            "tag_file": str(store.path) if store is not None else None, "clips": f"{shown} of {total} shown",
            "code_revision": context.code_revision()}  # fmt: skip


def downloads(ctx: context.Context, ids: list[str], data, store: TagStore | None) -> None:
    """The shown clips (filters and sort applied) as CSV / JSON (tags, notes, provenance) and as an LLP
    split CSV; each made when its button is clicked (a 10,000-clip list costs nothing until then)."""
    row_of = {name: i for i, name in enumerate(data.filenames)}
    rows = np.asarray([row_of[c] for c in ids], dtype=int)
    unlabelled = [ids[i] for i in np.flatnonzero(~(np.asarray(data.label)[rows] > 0).any(axis=1))] if ids else []
    shown_store = store if store is not None else TagStore(ctx.data_root)

    def make(fmt: str):
        def text() -> str:
            labels = {c: [LLP_CLASSES[k] for k in np.flatnonzero(np.asarray(data.label[row_of[c]]))] for c in ids}
            info = provenance(ctx, store, len(ids), len(data.filenames)) if fmt != "llp" else None
            return export_clips(shown_store, ids, fmt, labels, info)

        return text

    stem = f"{ctx.split}_clips"
    cols = st.columns([1, 1, 1, 3])
    cols[0].download_button("Clip list CSV", make("csv"), f"{stem}.csv", "text/csv", key="dl_clips_csv",
                            disabled=not ids, on_click="ignore",
                            help="the shown clips in the table's order: clip, labels, tags, note")  # fmt: skip
    cols[1].download_button("Clip list JSON", make("json"), f"{stem}.json", "application/json", key="dl_clips_json",
                            disabled=not ids, on_click="ignore",
                            help="the shown clips with their tags and notes, and what made the list")  # fmt: skip
    why = (f"clip {unlabelled[0]} has no weak labels ({len(unlabelled)} such clips); an LLP split CSV needs at least "
           "one label per clip") if unlabelled else None  # fmt: skip
    cols[2].download_button("Split CSV (LLP)", make("llp"), f"{stem}_split.csv", "text/tab-separated-values",
                            key="dl_clips_split", disabled=not ids or why is not None, on_click="ignore",
                            help=why or "the shown clips and their weak labels in the official split format: train on "
                            "them with `python -m mmcse train --train-csv FILE ...`, score them with `python -m mmcse "
                            "evaluate --split test --split-csv FILE ...`")  # fmt: skip
    cols[3].caption(f"Download the {len(ids)} shown clips" + (f"; tags in {store.path}" if store is not None else ""))
