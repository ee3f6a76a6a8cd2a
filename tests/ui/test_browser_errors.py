"""Error analysis in a real browser, on a hand-made clip with one of each kind of error: the Video parser's
events table says for every event what `error_analysis.classify_events` says, the clip table's error filter
finds the clip by kind and class, and the Overview's errors section downloads a CSV that names its
checkpoint, split, gating and thresholds.

The app runs on its own copy of the tiny fixture (the shared server's fixture is left as it is): the first
test clip's dense ground truth is rewritten, and its predictions are written into the results cache
(mmcse.prediction_cache) under the key the app computes, so the app shows hand-made predictions without a
model that makes them. Needs /usr/bin/chromium (skipped without it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from helpers.app_fixture import TINY_FEATURES, build_app_fixture
from helpers.browser import BROWSER_MARKS, new_page, start_app_server, stop_app_server, wait_idle
from helpers.hand_made_clip import GT_AUDIO, GT_VISUAL, PRED_AUDIO, PRED_VISUAL, grid

from mmcse.classes import LLP_CLASSES

pytestmark = BROWSER_MARKS

CHECKPOINT = "tiny_mmcse/best.safetensors"


def rewrite_clip_annotations(data: Path, clip: str) -> None:
    """The clip's weak labels and dense audio / visual rows replaced by the hand-made ones."""
    for csv, events in (("AVVP_eval_audio.csv", GT_AUDIO), ("AVVP_eval_visual.csv", GT_VISUAL)):
        lines = (data / csv).read_text().splitlines()
        kept = [line for line in lines if not line.startswith(clip + "\t")]
        kept += [f"{clip}\t{onset}\t{offset}\t{name}" for name, onset, offset in events]
        (data / csv).write_text("\n".join(kept) + "\n")
    weak = sorted({name for name, _, _ in GT_AUDIO + GT_VISUAL}, key=LLP_CLASSES.index)
    for csv in ("AVVP_test_pd.csv", "AVVP_dataset_full.csv"):
        lines = [f"{clip}\t{','.join(weak)}" if line.startswith(clip + "\t") else line
                 for line in (data / csv).read_text().splitlines()]  # fmt: skip
        (data / csv).write_text("\n".join(lines) + "\n")


def store_hand_made_predictions(fx, clip: str, cache: Path):
    """The tiny model's results on the test split, the clip's replaced by PRED_AUDIO / PRED_VISUAL (segment
    probability 0.9 where predicted, 0.05 elsewhere; every class's gates at 0.9), stored where the app looks."""
    from mmcse import prediction_cache
    from mmcse.data.paths import DataPaths
    from mmcse.data.splits import open_split
    from mmcse.inference import Parser

    parser = Parser.from_checkpoint(fx.mmcse_checkpoint)
    data = open_split(DataPaths.from_root(fx.data, TINY_FEATURES, use_pseudo_labels=False), "test")
    preds = parser.predict_split(data)
    row = data.filenames.index(clip)
    for m, events in enumerate((PRED_AUDIO, PRED_VISUAL)):
        preds.segment_prob[row, :, m, :] = np.where(grid(events) > 0, 0.9, 0.05)
    for gate in (preds.video_prob, preds.audio_prob, preds.visual_prob):
        gate[row] = 0.9
    key = prediction_cache.cache_key(prediction_cache.file_sha256(fx.mmcse_checkpoint), data)
    info = {"checkpoint_sha256": prediction_cache.file_sha256(fx.mmcse_checkpoint), "split": "test"}
    prediction_cache.store(key, preds, None, {}, 0.0, info, folder=cache)
    return data, preds


@pytest.fixture(scope="module")
def errors_app(tmp_path_factory):
    """(url, fixture, clip, data, predictions) of an app on a fixture whose first test clip is hand-made."""
    from mmcse.data.llp import read_weak_labels

    fx = build_app_fixture(tmp_path_factory.mktemp("errors_fixture"))
    clip = read_weak_labels(fx.data / "AVVP_test_pd.csv")[0][0]
    rewrite_clip_annotations(fx.data, clip)
    cache = fx.root / "cache"
    data, preds = store_hand_made_predictions(fx, clip, cache)
    proc, url = start_app_server(fx.data, fx.runs, cache, tmp_path_factory.mktemp("errors_server_log") / "streamlit.log")
    yield url, fx, clip, data, preds
    stop_app_server(proc)



def binary(preds):
    return preds.binary("mmcse", 0.5, 0.5)


def open_clip_page(browser, url: str, clip: str, query: str = "", **page_args):
    page = new_page(browser, **page_args)
    page.goto(f"{url}/video_parser?clip={clip}&ckpt={CHECKPOINT}{query}")
    page.wait_for_function(
        "c => { const h = document.querySelector('[data-testid=\"stMarkdownContainer\"] h4');"
        " return h && h.innerText.trim() === c; }", arg=clip, timeout=120_000)  # fmt: skip
    wait_idle(page)
    return page


def grid_rows(page, header: str, min_rows: int = 1) -> list[list[str]]:
    """The cells of the st.dataframe with a column ``header``, row by row, read from the grid's accessible
    table (the canvas grid keeps one for screen readers), once it has ``min_rows`` rows."""
    script = """([header, n]) => {
        const grids = [...document.querySelectorAll('[data-testid="stDataFrame"] [role="grid"]')];
        const grid = grids.find(g => [...g.querySelectorAll('[role="columnheader"]')].some(h => h.innerText.trim() === header));
        if (!grid) return null;
        const rows = [...grid.querySelectorAll('[role="rowgroup"] [role="row"]')].filter(r => r.querySelector('[role="gridcell"]'));
        return rows.length >= n ? rows.map(r => [...r.querySelectorAll('[role="gridcell"]')].map(c => c.innerText.trim())) : null;
    }"""
    handle = page.wait_for_function(script, arg=[header, min_rows], timeout=120_000)
    return handle.json_value()


def grid_headers(page, header: str) -> list[str]:
    return page.evaluate("""header => {
        const grids = [...document.querySelectorAll('[data-testid="stDataFrame"] [role="grid"]')];
        const grid = grids.find(g => [...g.querySelectorAll('[role="columnheader"]')].some(h => h.innerText.trim() === header));
        return [...grid.querySelectorAll('[role="columnheader"]')].map(h => h.innerText.trim());
    }""", header)  # fmt: skip


def test_each_event_of_the_hand_made_clip_shows_the_kind_the_library_gives(errors_app, browser, shots):
    from mmcse import viz
    from mmcse.error_analysis import KINDS, classify_events

    url, _, clip, data, preds = errors_app
    row = data.filenames.index(clip)
    pred_a, pred_v = binary(preds)
    errors = classify_events(pred_a[row], pred_v[row], data.gt_audio[row], data.gt_visual[row])
    assert {e.kind for e in errors} == set(KINDS)  # the clip holds every kind, as built
    expected = viz.event_error_table(errors)
    for theme in ("light", "dark"):
        page = open_clip_page(browser, url, clip, theme=theme)
        page.get_by_text("What went wrong, event by event").scroll_into_view_if_needed()
        shown = grid_rows(page, "onset error", len(expected))
        headers = grid_headers(page, "onset error")
        table = [dict(zip(headers[-len(r):], r)) for r in shown]
        assert [(r["side"], r["class"], r["modality"], r["kind"]) for r in table] == list(
            zip(expected["side"], expected["class"], expected["modality"], expected["kind"]))  # fmt: skip
        assert [(float(r["onset"]), float(r["offset"])) for r in table] == list(zip(expected["onset"], expected["offset"]))
        speech = next(r for r in table if (r["side"], r["class"]) == ("GT", "Speech"))
        assert (speech["kind"], float(speech["onset error"]), float(speech["offset error"])) == ("boundary", 1.0, 1.0)
        banjo = next(r for r in table if (r["side"], r["class"]) == ("GT", "Banjo"))
        assert (banjo["kind"], banjo["other class"]) == ("substitution", "Violin_fiddle")
        assert page.get_by_text("heard predicted as seen").first.is_visible()  # the legend
        page.screenshot(path=str(shots / f"errors_clip_events_{theme}.png"))
        page.context.close()


def test_the_clip_table_filters_by_error_kind_and_class(errors_app, browser, shots):
    from mmcse import browse

    url, _, clip, data, preds = errors_app
    pred_a, pred_v = binary(preds)
    table = browse.clip_table(data.filenames, data.label, pred_a, pred_v, data.gt_audio, data.gt_visual)
    banjo = [LLP_CLASSES.index("Banjo")]
    for kind, classes, query in (("substitution", banjo, "&errors=substitution&classes=Banjo"),
                                 ("missed", [LLP_CLASSES.index("Blender")], "&errors=missed&classes=Blender"),
                                 ("wrong modality", [], "&errors=wrong+modality")):  # fmt: skip
        expected = browse.filter_clips(table, data.label, pred_a, pred_v, data.gt_audio, data.gt_visual,
                                       classes=classes, error=kind)  # fmt: skip
        assert clip in expected
        page = open_clip_page(browser, url, clip, query, width=800 if kind == "missed" else 1400)
        page.get_by_text(f"{len(expected)} of {len(data)} clips match").wait_for(timeout=120_000)
        shown = grid_rows(page, "labels", min(len(expected), 5))  # the rows in view, in the table's order
        clip_column = grid_headers(page, "labels").index("clip") - len(grid_headers(page, "labels")) + len(shown[0])
        assert [r[clip_column] for r in shown] == expected[: len(shown)]
        if kind == "missed":
            page.screenshot(path=str(shots / "errors_clip_table_narrow.png"))
        page.context.close()


def test_the_overview_counts_kinds_downloads_them_with_provenance_and_lists_the_clips_of_a_cell(errors_app, browser, shots):
    import io

    import pandas as pd

    from mmcse.error_analysis import (
        KIND_NAMES,
        class_confusion_clips,
        kind_counts,
        modality_confusion_clips,
        split_error_table,
    )

    url, fx, clip, data, preds = errors_app
    pred_a, pred_v = binary(preds)
    counts = kind_counts(split_error_table(pred_a, pred_v, data.gt_audio, data.gt_visual, data.filenames))
    page = new_page(browser, height=1600)
    page.goto(f"{url}/?ckpt={CHECKPOINT}")
    button = page.get_by_role("button", name="Events by kind (CSV)")
    button.wait_for(timeout=120_000)
    wait_idle(page)
    button.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "errors_overview_kinds.png"))
    with page.expect_download() as download:
        button.click()
    text = Path(download.value.path()).read_text()
    for line in (f"# checkpoint: {CHECKPOINT}", "# split: test", "# gating: mmcse", "# segment_threshold: 0.50",
                 "# video_threshold: 0.50"):  # fmt: skip
        assert line in text
    csv = pd.read_csv(io.StringIO(text), comment="#", index_col="kind")
    assert list(csv.index) == [KIND_NAMES[k] for k in counts.index]
    np.testing.assert_array_equal(csv.to_numpy(), counts.to_numpy())
    # the class confusion: a click on (GT Banjo, predicted Violin_fiddle) lists the clips behind it
    page.get_by_text("Class confusion", exact=True).click()
    page.get_by_text("Click a cell to list its clips.").wait_for(timeout=120_000)
    wait_idle(page)
    gt_class, pred_class = LLP_CLASSES.index("Banjo"), LLP_CLASSES.index("Violin_fiddle")
    expected = class_confusion_clips(pred_a, pred_v, data.gt_audio, data.gt_visual, gt_class, pred_class)
    click_cell(page, gt_class, pred_class)
    listing = page.get_by_text("Select one to open it.").first
    listing.wait_for(timeout=120_000)
    assert f"GT Banjo, predicted Violin_fiddle: {len(expected)} clips." in listing.inner_text()
    assert data.filenames.index(clip) in expected
    listed = grid_rows(page, "clip", min(len(expected), 5))
    assert [r[-1] for r in listed] == [data.filenames[i] for i in expected][: len(listed)]
    page.screenshot(path=str(shots / "errors_overview_class_confusion.png"))
    # the modality confusion: (GT audio only, predicted none), where the clip's Banjo is
    page.get_by_text("Modality confusion", exact=True).click()
    page.get_by_text("Click a cell to list its clips.").wait_for(timeout=120_000)
    wait_idle(page)
    expected = modality_confusion_clips(pred_a, pred_v, data.gt_audio, data.gt_visual, 0, 3)
    click_cell(page, 0, 3)
    listing = page.get_by_text("Select one to open it.").first
    listing.wait_for(timeout=120_000)
    assert f"GT audio only, predicted none: {len(expected)} clips." in listing.inner_text()
    assert data.filenames.index(clip) in expected
    page.screenshot(path=str(shots / "errors_overview_modality_confusion.png"))
    page.context.close()


def click_cell(page, row: int, column: int) -> None:
    """Click the centre of a cell of the last heatmap on the page (from plotly's own axes)."""
    plot = page.locator(".js-plotly-plot").last
    plot.scroll_into_view_if_needed()
    box = plot.bounding_box()
    dx, dy = plot.evaluate("(g, rc) => { const l = g._fullLayout; return [l.xaxis._offset + l.xaxis.l2p(rc[1]),"
                           " l.yaxis._offset + l.yaxis.l2p(rc[0])]; }", [row, column])  # fmt: skip
    page.mouse.move(box["x"] + dx, box["y"] + dy)
    page.mouse.click(box["x"] + dx, box["y"] + dy)
