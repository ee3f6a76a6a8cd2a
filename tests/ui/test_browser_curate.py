"""Real-browser test of curation: tag a clip and write a note in Chromium, restart the streamlit server,
reload: the tag and the note are shown, the tag filter finds the clip, the downloaded split CSV lists it.

Runs its own `streamlit run app.py` (twice, on its own copy of the tiny fixture), not the session's server:
the restart is the point, and the tag file it writes must not show up in the other tests' tables."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from helpers.app_fixture import build_app_fixture
from helpers.browser import (
    BROWSER_MARKS,
    header_clip,
    new_page,
    start_app_server,
    stop_app_server,
    wait_idle,
    wait_timeline,
)

pytestmark = BROWSER_MARKS


def start_server(fx, log: Path) -> tuple[subprocess.Popen, str]:
    return start_app_server(fx.data, fx.runs, fx.root / "cache", log)


def open_parser(browser, url: str, clip: str | None = None, **page_args):
    page = new_page(browser, height=1600, **page_args)
    page.goto(f"{url}/video_parser" + (f"?clip={clip}" if clip else ""))
    page.get_by_role("heading", name="Video parser").wait_for(timeout=120_000)
    page.locator(".mmcse-timeline").first.wait_for(state="attached", timeout=120_000)
    wait_idle(page)
    return page


def multiselect(page, label: str):
    return page.locator('[data-testid="stMultiSelect"]').filter(
        has=page.locator('[data-testid="stWidgetLabel"]', has_text=label)
    )


def chips(page, label: str) -> list[str]:
    """The values chosen in the multiselect labelled ``label`` (its chips)."""
    tags = multiselect(page, label).locator("[data-tag]")
    return [tags.nth(i).get_attribute("aria-label") for i in range(tags.count())]


def wait_saved(page, tag_file: Path, text: str, timeout_s: float = 120) -> None:
    """Wait until the tag file holds ``text``: a save is a script run away from the browser's change."""
    deadline = time.time() + timeout_s
    while time.time() < deadline and text not in (tag_file.read_text() if tag_file.exists() else ""):
        page.wait_for_timeout(200)


def test_tags_outlive_a_server_restart_and_the_filter_finds_the_clip(browser, shots, tmp_path):
    fx = build_app_fixture(tmp_path / "fx", n_train=8, n_val=4, n_test=16)
    tag_file = fx.data / "mmcse_tags.json"
    log = tmp_path / "streamlit.log"
    proc, url = start_server(fx, log)
    try:
        page = open_parser(browser, url)
        clip = header_clip(page)
        wait_timeline(page, clip)
        editor = multiselect(page, "Tags").locator("input")
        editor.click()
        editor.fill("bad GT")
        editor.press("Enter")
        page.keyboard.press("Escape")
        wait_idle(page)
        wait_saved(page, tag_file, "bad GT")
        note = page.get_by_role("textbox", name="Note", exact=True)
        note.fill("the dog barks off screen")
        note.press("Control+Enter")
        wait_idle(page)
        wait_saved(page, tag_file, "off screen")
        saved = json.loads(tag_file.read_text())["clips"]
        assert saved[clip]["tags"] == ["bad GT"] and saved[clip]["note"] == "the dog barks off screen"
        page.screenshot(path=str(shots / "curate_tagged_light.png"), full_page=True)
        page.context.close()
    finally:
        stop_app_server(proc)

    proc, url = start_server(fx, log)  # a new server process: nothing but the tag file remembers the tag
    try:
        page = open_parser(browser, url, clip, theme="dark")
        assert header_clip(page) == clip
        assert chips(page, "Tags") == ["bad GT"]
        assert page.get_by_role("textbox", name="Note", exact=True).input_value() == "the dog barks off screen"
        caption = page.get_by_text("clips match")
        assert caption.inner_text().startswith("16 of 16 clips match")
        tag_filter = multiselect(page, "Tagged").locator("input")
        tag_filter.click()
        page.get_by_role("option", name="bad GT").click()
        page.keyboard.press("Escape")
        wait_idle(page)
        page.wait_for_function("() => document.body.innerText.includes('1 of 16 clips match')", timeout=120_000)
        assert "the open clip is clip 1 of 1 shown" in caption.inner_text()
        assert chips(page, "Tagged") == ["bad GT"]
        with page.expect_download(timeout=120_000) as download:
            page.get_by_role("button", name="Split CSV (LLP)").click()
        lines = Path(download.value.path()).read_text().splitlines()
        assert lines[0] == "filename\tevent_labels" and [line.split("\t")[0] for line in lines[1:]] == [clip]
        page.screenshot(path=str(shots / "curate_filtered_dark.png"), full_page=True)
        page.context.close()
        narrow = open_parser(browser, url, clip, width=800)
        assert chips(narrow, "Tags") == ["bad GT"]
        narrow.screenshot(path=str(shots / "curate_narrow.png"), full_page=True)
        narrow.context.close()
    finally:
        stop_app_server(proc)
