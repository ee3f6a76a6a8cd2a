"""Compare: checkpoints on the same clips, each with its own training gating by default (switchable): the 10
numbers, "B − A" with paired bootstrap intervals (mmcse.stats), per-class F deltas with intervals, training
curves from each run's metrics.csv, the clips where they disagree (a row opens the clip), and one clip's
timelines stacked under one video."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

from mmcse import browse, metrics, stats, viz
from mmcse.training.runs import METRICS_FILE, read_metrics
from pages import _cache as cache
from pages import _context as context
from pages import _nav as nav
from pages import _widgets as widgets

st.title("Compare checkpoints")
ctx = context.context()
if not widgets.require(ctx, need_checkpoint=False):
    st.stop()
GATING_MODES = ("each checkpoint's own training gating", "the sidebar's gating for all")


def choose_checkpoints() -> list[str]:
    options = {context.display_name(p): p for p in ctx.checkpoints}
    if len(options) < 2:
        st.info("Compare needs at least two checkpoints in the runs folder (or one discovered plus an upload).")
        st.stop()
    wanted = [c for c in (st.session_state.pop("_url_compare", "") or "").split(",") if c in options]
    if len(wanted) >= 2:
        st.session_state["compare_pick"] = wanted
    firsts = list({p.parent: name for name, p in reversed(list(options.items()))}.values())[::-1][:2]
    chosen = st.multiselect("Checkpoints (the first is A, the others are each compared with it as B)", list(options),
                            default=firsts if len(firsts) == 2 else list(options)[:2], key="compare_pick")  # fmt: skip
    if len(chosen) < 2:
        st.info("Choose two or more checkpoints.")
        st.stop()
    if st.session_state.get("_url_cmp_gating") in ("own", "sidebar"):
        st.session_state["compare_gating"] = GATING_MODES[st.session_state.pop("_url_cmp_gating") == "sidebar"]
    mode = st.radio("Gating", GATING_MODES, horizontal=True, key="compare_gating",
                    help="A checkpoint is scored as it was trained (HAN with fused gating, MM-CSE with mmcse) unless "
                    "you apply the sidebar's gating to all.")  # fmt: skip
    nav.write_url({"compare": ",".join(chosen), "cmp_gating": "own" if mode == GATING_MODES[0] else "sidebar"})
    return [options[name] for name in chosen]


def load(paths) -> dict:
    results = {}
    for path in paths:
        name = context.display_name(path)
        try:
            model, data, found = widgets.load_results(ctx, path)
        except widgets.Problem as problem:
            st.error(context.user_message(f"Skipping {name}. {problem}"), icon="⚠️")
            continue
        preds = found.predictions
        own = st.session_state.get("compare_gating", GATING_MODES[0]) == GATING_MODES[0]
        gating = model.gating if own else ctx.gating
        results[name] = {"path": path, "model": model, "data": data, "preds": preds, "gating": gating,
                         "binary": widgets.binary(preds, ctx, gating)}  # fmt: skip
    if len(results) < 2:
        st.stop()
    st.caption("Scored with gating: " + "; ".join(f"**{n}**: {r['gating']}" for n, r in results.items())
               + f"; segment threshold {ctx.segment_threshold:.2f}, video threshold {ctx.video_threshold:.2f}.")  # fmt: skip
    return results


@st.cache_data(show_spinner="Paired bootstrap (1,000 resamples)...", max_entries=32)
def paired(_a, _b, _gt_a, _gt_v, key: tuple) -> tuple[dict, dict]:
    """stats.paired_scores and per-class paired comparison of A and B (``key`` names the inputs)."""
    scores = stats.paired_scores(*_a, *_b, _gt_a, _gt_v, n_resamples=1000, seed=0)
    classes = stats.paired_class_comparison(stats.per_video_class_counts(*_a, _gt_a, _gt_v),
                                            stats.per_video_class_counts(*_b, _gt_a, _gt_v), n_resamples=1000, seed=0)  # fmt: skip
    return scores, classes


def comparison(results: dict, data) -> None:
    names = list(results)
    rows = {n: metrics.avvp_scores(*results[n]["binary"], data.gt_audio, data.gt_visual) for n in names}
    st.subheader("The 10 numbers")
    table = viz.metrics_table(rows)
    for level, prefix in (("segment", "Seg "), ("event", "Evt ")):
        part = table[[c for c in table.columns if c.startswith(prefix)]]
        part.columns = [c.removeprefix(prefix) for c in part.columns]
        part.index.name = f"{level} level"
        st.dataframe(part.style.format("{:.2f}"), width="stretch", key=f"compare_{level}")
    widgets.plot(viz.metrics_bar(rows), "compare_bar", ctx, "compare_ten_numbers", compare_provenance(results))
    a = names[0]
    for b in names[1:]:
        key = (str(results[a]["path"]), str(results[b]["path"]), results[a]["gating"], results[b]["gating"],
               cache.data_key(ctx), ctx.segment_threshold, ctx.video_threshold, cache.mtime(results[a]["path"]), cache.mtime(results[b]["path"]))  # fmt: skip
        scores, classes = paired(results[a]["binary"], results[b]["binary"], data.gt_audio, data.gt_visual, key)
        delta_section(a, b, scores, classes, compare_provenance({n: results[n] for n in (a, b)}))


def delta_section(a: str, b: str, scores: dict, classes: dict, provenance: str) -> None:
    st.subheader(f"B − A: {b} minus {a}")
    st.dataframe(viz.paired_table(scores, a, b).style.format({f"A: {a}": "{:.2f}", f"B: {b}": "{:.2f}", "B − A": "{:+.2f}",
                 "p": lambda p: viz.format_p(p, 1000)}), width="stretch", key=f"paired_{b}")  # fmt: skip
    st.caption("95% CI: paired bootstrap over clips (1,000 resamples, the same clips for A and B); p: paired sign-flip "
               "test (1,000 sign flips: its smallest value is 1/1,001, shown as \"< 0.001\"). Within noise: the "
               "interval holds 0.")  # fmt: skip
    modality = st.radio("Per-class F delta, modality", ["a", "v", "av"], format_func=viz.MODALITY_NAMES.get,
                        horizontal=True, key=f"delta_mod_{b}")  # fmt: skip
    c = classes[modality]
    name = f"B − A ({b} − {a})"
    fig = viz.per_class_delta_bar({name: 100 * viz.per_class_delta(c["a"], c["b"])},
                                  title=f"Per-class segment F, {viz.MODALITY_NAMES[modality]}: {b} minus {a} (points)",
                                  intervals={name: (100 * c["ci_low"], 100 * c["ci_high"])})  # fmt: skip
    widgets.plot(fig, f"delta_bar_{b}", ctx, "per_class_delta", provenance)


def compare_provenance(results: dict) -> str:
    """What made a Compare figure: the checkpoints with their gating, the split, the thresholds."""
    models = "; ".join(f"{n} ({r['gating']} gating)" for n, r in results.items())
    return (f"{models} · {ctx.split} split of {ctx.data_root.name} · segment threshold {ctx.segment_threshold:.2f} · "
            f"video threshold {ctx.video_threshold:.2f}")  # fmt: skip


def run_folders(results: dict) -> dict[str, Path]:
    """One entry per run folder (best and last of one run share its metrics.csv: one curve, not two), named
    by the folder."""
    folders: dict[str, Path] = {}
    for r in results.values():
        folders.setdefault(r["path"].parent.name, r["path"].parent)
    return folders


def training_curves(results: dict) -> None:
    st.subheader("Training curves")
    runs = {n: read_metrics(folder / METRICS_FILE) for n, folder in run_folders(results).items()}
    missing = [n for n, rows in runs.items() if not rows]
    runs = {n: rows for n, rows in runs.items() if rows}
    if missing:
        st.caption(f"No {METRICS_FILE} beside: {', '.join(missing)} (a training run writes one per epoch).")
    if not runs:
        return
    columns = viz.metric_columns(next(iter(runs.values())))
    column = st.selectbox("Column of metrics.csv", columns, key="curve_column")
    widgets.plot(viz.training_curves_figure(runs, column), "training_curves", ctx, f"training_{column}",
                 f"runs: {', '.join(runs)} (one curve per run folder: best and last share its {METRICS_FILE})")  # fmt: skip


def disagreements(results: dict, data) -> np.ndarray:
    names = list(results)
    stack = np.stack([np.concatenate(results[n]["binary"], axis=1) for n in names])  # (M, N, 20, 25)
    differing = (stack != stack[:1]).sum(axis=(0, 2, 3))  # (N,) segments that differ from A
    order = np.argsort(-differing, kind="stable")
    st.subheader("Where they disagree most")
    details = pd.DataFrame({"weak labels": [browse.class_names(data.label[i]) for i in order],
                            "differing segments": differing[order]}, index=pd.Index([data.filenames[i] for i in order], name="clip"))  # fmt: skip
    letters = {}
    for letter, n in zip("ABCDEFGH", names):
        per_clip = metrics.per_video_scores(*results[n]["binary"], data.gt_audio, data.gt_visual)["seg_type"]
        details[f"seg Type@AV {letter}"] = np.round(100 * per_clip[order], 1)
        letters[letter] = n
    st.caption("Differing segments: audio and visual segments whose prediction differs from A's. "
               + "; ".join(f"{k} = {v}" for k, v in letters.items()) + ". Select a row to open the clip on the Video parser.")  # fmt: skip
    nav.clip_list(list(details.index[:30]), "disagree_table", details)
    return order


def stacked_timelines(results: dict, data, order: np.ndarray) -> None:
    st.subheader("One clip, the checkpoints stacked under one video")
    ids = [data.filenames[i] for i in order]
    current = nav.current_clip() if nav.current_clip() in ids else ids[0]
    clip = st.selectbox("Clip", ids, index=ids.index(current), key="compare_clip")
    row = data.filenames.index(clip)
    gt_a, gt_v = data.gt_audio[row], data.gt_visual[row]
    classes = sorted(set().union(*(viz.lane_classes(r["binary"][0][row], r["binary"][1][row], gt_a, gt_v) for r in results.values())))
    sections = [{"title": f"{n} ({r['gating']} gating)", "timeline": viz.timeline_data(
        r["binary"][0][row], r["binary"][1][row], r["preds"].segment_prob[row], gt_a, gt_v, classes=classes,
        segment_threshold=ctx.segment_threshold)} for n, r in results.items()]  # fmt: skip
    video, how = widgets.clip_video(ctx, clip)
    widgets.show_timeline(sections, video, "compare_timeline", clip, "" if video else f"No video: {how}.")


results = load(choose_checkpoints())
data = next(iter(results.values()))["data"]
if data.gt_audio is None:
    st.info(f"The {data.name} split has no dense labels; choose val or test to compare scores.")
    st.stop()
comparison(results, data)
training_curves(results)
order = disagreements(results, data)
stacked_timelines(results, data, order)
