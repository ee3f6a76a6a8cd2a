"""Results at LLP size without waiting, and checkpoints where users keep them, in a real browser: a permalink
whose ``ckpt=`` is a run folder outside the runs folder opens that run's checkpoint and keeps its path in the
URL; the first open computes the checkpoint's results once and stores them in the results cache; a restarted
server reads them from there (the model does not run again) on every page. Needs /usr/bin/chromium."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, urlparse

import numpy as np
from helpers.app_fixture import TINY_FEATURES, build_app_fixture
from helpers.browser import (
    BROWSER_MARKS,
    new_page,
    start_app_server,
    stop_app_server,
    wait_idle,
)

from mmcse import prediction_cache

pytestmark = BROWSER_MARKS


def url_params(page) -> tuple[str, str]:
    """The checkpoint and segment threshold the address bar holds."""
    params = parse_qs(urlparse(page.url).query)
    return params["ckpt"][0], params["seg"][0]


def open_overview(browser, url: str, link: str, more: str = "", theme: str = "light"):
    page = new_page(browser, theme=theme)
    page.goto(f"{url}/?ckpt={quote(link)}{more}")
    page.get_by_role("heading", name="Per class").wait_for(timeout=180_000)
    wait_idle(page, 180_000)
    return page


def replace_with_silent_results(checkpoint, data_root, cache) -> str:
    """The stored results of ``checkpoint`` on the test split replaced by predictions of nothing (every
    probability 0) under the same key, the error tables derived from the old ones removed -> the key. A page
    that shows "predicts no event" read these files; one that ran the model would predict something."""
    from mmcse.data.paths import DataPaths
    from mmcse.data.splits import open_split

    data = open_split(DataPaths.from_root(data_root, TINY_FEATURES, use_pseudo_labels=False), "test")
    sha = prediction_cache.file_sha256(checkpoint)
    key = prediction_cache.cache_key(sha, data)
    stored = prediction_cache.load(key, cache)
    assert stored is not None, "the first open kept no results under the key the library computes"
    preds = stored.predictions
    assert preds.binary("mmcse", 0.5, 0.5)[0].any(), "the precondition: the model predicts something"
    for array in (preds.segment_prob, preds.video_prob, preds.audio_prob, preds.visual_prob):
        array[...] = 0.0
    for table in cache.glob(f"{key}.errors.*.parquet"):
        table.unlink()
    prediction_cache.store(key, preds, stored.maps, {}, 0.0, {"checkpoint_sha256": sha, "split": "test"}, folder=cache)
    return key


def test_a_run_folder_outside_the_runs_folder_is_computed_once_and_read_back_after_a_restart(browser, shots, tmp_path):
    fx = build_app_fixture(tmp_path / "fx", n_train=8, n_val=4, n_test=16)
    run = tmp_path / "elsewhere" / "run7"  # where this user keeps runs: not under the data root's runs/
    run.mkdir(parents=True)
    checkpoint = run / "last.safetensors"
    checkpoint.write_bytes(fx.mmcse_checkpoint.read_bytes())
    cache, log = tmp_path / "cache", tmp_path / "streamlit.log"

    proc, url = start_app_server(fx.data, fx.runs, cache, log)
    try:  # the fresh server's first visitor (Streamlit's legacy pages/ mode is left on that first run)
        page = open_overview(browser, url, str(run), "&seg=0.30")
        page.get_by_role("heading", name="Checkpoint: run7/last.safetensors").wait_for(timeout=180_000)
        assert url_params(page) == (str(checkpoint), "0.30")  # the folder resolved to its checkpoint, kept
        assert not page.get_by_text("No checkpoint chosen").count()
        assert not page.get_by_text("predicts no event").count()
        page.get_by_text("event", exact=True).first.click()  # the per-class level: a rerun keeps the link's choices
        wait_idle(page)
        page.get_by_role("heading", name="Checkpoint: run7/last.safetensors").wait_for(timeout=180_000)
        assert url_params(page) == (str(checkpoint), "0.30")
        page.get_by_role("link", name="Video parser").first.click()  # and so does a page switch
        page.locator(".mmcse-timeline").first.wait_for(timeout=180_000)
        wait_idle(page)
        assert url_params(page) == (str(checkpoint), "0.30")
        page.get_by_role("link", name="Overview").first.click()
        page.get_by_role("heading", name="Checkpoint: run7/last.safetensors").wait_for(timeout=180_000)
        wait_idle(page)
        results = sorted(p.name for p in cache.glob("*.safetensors"))
        assert len(results) == 2 and results[0].endswith(".features.safetensors")  # one pass, kept
        link = page.url
        page.context.close()
    finally:
        stop_app_server(proc)

    key = replace_with_silent_results(checkpoint, fx.data, cache)
    proc, url = start_app_server(fx.data, fx.runs, cache, log)  # a new process: only the files remember
    try:
        page = new_page(browser, theme="dark")
        page.goto(url + link[link.index("/", len("http://")) :])  # the same link on the restarted server
        page.get_by_role("heading", name="Checkpoint: run7/last.safetensors").wait_for(timeout=180_000)
        page.get_by_text("predicts no event").first.wait_for(timeout=180_000)  # the stored results, not a model pass
        wait_idle(page)
        page.screenshot(path=str(shots / "results_read_back_dark.png"), full_page=True)
        page.get_by_role("link", name="Video parser").first.click()  # another page: the same stored results
        page.get_by_role("heading", name="Video parser").first.wait_for(timeout=180_000)
        page.locator(".mmcse-timeline").first.wait_for(timeout=180_000)
        wait_idle(page, 180_000)
        assert page.get_by_text("predicts no event").count() == 1  # the parser's own warning (the Overview's is gone)
        assert url_params(page) == (str(checkpoint), "0.30")  # the checkpoint and threshold ride along
        checked = page.locator('[data-testid="stSidebar"] input[type=radio]:checked')
        assert "Path" in [c.evaluate("e => e.closest('label').innerText.trim()") for c in checked.all()]
        page.context.close()
    finally:
        stop_app_server(proc)
    assert sorted(p.name for p in cache.glob("*.safetensors")) == results  # nothing computed or added
    assert np.all(prediction_cache.load(key, cache).predictions.segment_prob == 0)
