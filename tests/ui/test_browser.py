"""Real-browser test: `streamlit run app.py` on the tiny fixture, driven by Playwright with Debian's Chromium.

Visits every page in both themes, plays the clip's video (the playhead follows, a click on a lane seeks),
drives the clip table (a row click opens the clip), the keys (j / k, space, left / right), a cross-link
(Compare's disagreement table -> the Video parser), an 800-px window (sidebar collapsed, video beside the
lanes), uploads, and saves screenshots (to $MMCSE_SCREENSHOTS, else a pytest tmp folder). Every wait is on
a DOM condition with a generous timeout, so a loaded machine is slower, not failing. Skips when
/usr/bin/chromium is absent. Never downloads a browser (no `playwright install`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.browser import (
    BROWSER_MARKS,
    PAGES,
    click_row,
    header_clip,
    new_page,
    timeline_clip,
    wait_idle,
    wait_timeline,
)

pytestmark = BROWSER_MARKS


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_renders_without_exception(server, browser, shots, path, theme):
    url, _ = server
    page = new_page(browser, height=2400, theme=theme)  # tall: Streamlit scrolls inside the page, not the window
    page.goto(f"{url}/{path}")
    page.get_by_role("heading", name=PAGES[path]).wait_for(timeout=120_000)
    wait_idle(page)
    page.screenshot(path=str(shots / f"page_{path or 'overview'}_{theme}.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    # the app's own navigation and shared sidebar, not Streamlit's legacy pages/ list; no Deploy button
    assert page.get_by_text("Class features").count() >= 1 and page.get_by_text("Dataset root").count() == 1
    assert page.get_by_role("button", name="Deploy").count() == 0
    page.context.close()


def test_ground_truth_strips_and_text_contrast_in_both_themes(server, browser, shots):
    """The lanes' ground-truth strips take the theme's text colour: dark on light, light on dark."""
    url, _ = server
    luminance = {}
    for theme in ("light", "dark"):
        page = new_page(browser, theme=theme)
        page.goto(f"{url}/video_parser")
        page.locator(".mmcse-timeline .gt").first.wait_for(state="attached", timeout=120_000)
        wait_idle(page)
        strip = page.locator(".mmcse-timeline .gt").first.evaluate("e => getComputedStyle(e).backgroundColor")
        app_bg = page.locator('[data-testid="stApp"]').evaluate("e => getComputedStyle(e).backgroundColor")
        values = [[float(x) for x in c[c.index("(") + 1 : c.index(")")].split(",")[:3]] for c in (strip, app_bg)]
        luminance[theme] = [0.2126 * r + 0.7152 * g + 0.0722 * b for r, g, b in values]
        page.screenshot(path=str(shots / f"timeline_{theme}.png"), full_page=True)
        page.context.close()
    for theme, (strip, background) in luminance.items():
        assert abs(strip - background) > 100, f"{theme}: ground-truth strip {strip:.0f} on background {background:.0f}"
    assert luminance["dark"][1] < 60 < luminance["light"][1]  # the two themes really differ


def test_video_plays_playhead_moves_and_click_seeks(server, browser, shots):
    url, _ = server
    page = new_page(browser)
    page.goto(f"{url}/video_parser")
    video = page.locator(".mmcse-timeline video")
    video.wait_for(timeout=120_000)
    wait_idle(page)
    playhead = page.locator(".mmcse-timeline .playhead")
    assert float(playhead.get_attribute("data-time")) == pytest.approx(0.0)
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_function("v => v.currentTime > 0.5", arg=video.element_handle(), timeout=60_000)
    page.wait_for_function("p => Number(p.dataset.time) > 0.5", arg=playhead.element_handle(), timeout=30_000)
    page.screenshot(path=str(shots / "video_playing.png"), full_page=True)
    # pausing reports the time to Python, which reruns the page; read the time at the pause itself
    paused_at = video.evaluate("v => { v.pause(); return v.currentTime; }")
    page.get_by_text("Paused / seeked at").wait_for(timeout=60_000)  # the time came back to Python
    wait_idle(page)
    assert video.evaluate("v => v.currentTime") == pytest.approx(paused_at, abs=0.3), "the rerun reset the video"
    # a click at 80% of the first lane seeks the video to ~8 s
    track = page.locator(".mmcse-timeline .track").first
    track.scroll_into_view_if_needed()  # under the clip table, the clip's tags and the downloads
    box = track.bounding_box()
    page.mouse.click(box["x"] + 0.8 * box["width"], box["y"] + box["height"] / 2)
    page.wait_for_function("v => Math.abs(v.currentTime - 8) < 0.3", arg=video.element_handle(), timeout=30_000)
    page.wait_for_function("p => Math.abs(Number(p.dataset.time) - 8) < 0.3", arg=playhead.element_handle(), timeout=30_000)
    page.screenshot(path=str(shots / "video_seeked.png"), full_page=True)
    page.context.close()


def test_clip_table_keys_and_threshold_keep_the_clip(server, browser, shots, test_clips):
    url, _ = server
    page = new_page(browser, height=1300)
    page.goto(f"{url}/video_parser")
    wait_timeline(page, test_clips[0])  # the showcase: the only clip with a video here
    wait_idle(page)
    table = page.locator('[data-testid="stDataFrame"]').first
    click_row(page, table, 3)  # a row click opens that clip
    wait_timeline(page, test_clips[3])
    wait_idle(page)
    assert header_clip(page) == test_clips[3] and f"clip={test_clips[3]}" in page.url
    page.locator("h1").first.click()  # focus on the page, not on the grid
    page.keyboard.press("j")
    wait_timeline(page, test_clips[4])
    wait_idle(page)
    page.keyboard.press("k")
    wait_timeline(page, test_clips[3])
    wait_idle(page)
    page.keyboard.press("k")
    wait_timeline(page, test_clips[2])
    wait_idle(page)
    assert header_clip(page) == test_clips[2]
    # a threshold change redraws the same clip with the new threshold
    slider = page.locator('[data-testid="stSlider"] input[type="range"]').first
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("() => location.search.includes('seg=0.55')", timeout=120_000)
    wait_idle(page)
    timeline = page.locator(".mmcse-timeline").first
    page.wait_for_function("t => t.dataset.threshold === '0.55'", arg=timeline.element_handle(), timeout=60_000)
    assert timeline_clip(page) == test_clips[2] and header_clip(page) == test_clips[2]
    page.screenshot(path=str(shots / "table_keys_threshold.png"), full_page=True)
    # TP / FP / FN colouring and zoom, drawn by the component itself (no rerun)
    page.locator(".mmcse-timeline .toolbar button").filter(has_text="TP / FP / FN").click()
    timeline.locator(".cell").first.wait_for(state="attached", timeout=30_000)
    assert timeline.locator(".pred").count() == 0 and timeline.get_attribute("data-mode") == "errors"
    timeline.locator(".zoom-in").click()
    page.wait_for_function("t => t.querySelector('.inner').style.width === '200%'", arg=timeline.element_handle(), timeout=30_000)
    page.screenshot(path=str(shots / "timeline_errors_zoomed.png"), full_page=True)
    timeline.locator(".zoom-out").click()
    timeline.locator(".toolbar button").filter(has_text="GT / prediction rows").click()
    # space plays and pauses, right / left step one segment (on the clip with a video)
    click_row(page, table, 0)
    wait_timeline(page, test_clips[0])
    wait_idle(page)
    video = page.locator(".mmcse-timeline video")
    video.evaluate("v => { v.muted = true; }")
    page.locator("h1").first.click()
    page.keyboard.press(" ")
    page.wait_for_function("v => !v.paused", arg=video.element_handle(), timeout=30_000)
    page.keyboard.press(" ")
    page.wait_for_function("v => v.paused", arg=video.element_handle(), timeout=30_000)
    wait_idle(page)
    video.evaluate("v => { v.currentTime = 2.4; }")
    page.wait_for_function("v => Math.abs(v.currentTime - 2.4) < 0.05", arg=video.element_handle(), timeout=30_000)
    page.keyboard.press("ArrowRight")
    page.wait_for_function("v => Math.abs(v.currentTime - 3) < 0.05", arg=video.element_handle(), timeout=30_000)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("v => Math.abs(v.currentTime - 1) < 0.05", arg=video.element_handle(), timeout=30_000)
    page.context.close()


def test_the_view_is_a_url_and_j_k_follow_the_shown_order_without_losing_presses(server, browser, shots, test_clips):
    """Sort, TP / FP / FN mode and zoom survive a reload through the URL; j / k walk the table's shown order
    (here clip ids descending); three presses in a row, made while the reruns they cause are under way, move
    three clips (the component reports a running total, not one trigger per press); the open row is scrolled
    into view."""
    url, _ = server
    order = sorted(test_clips, reverse=True)
    page = new_page(browser, height=1300)
    page.goto(f"{url}/video_parser?sort=clip&desc=1")
    start = test_clips[0]  # the showcase (the only clip with a video), kept by id whatever the order
    wait_timeline(page, start)
    wait_idle(page)
    position = order.index(start)
    key, step = ("j", +1) if position + 3 < len(order) else ("k", -1)
    page.locator("h1").first.click()
    for _ in range(3):
        page.keyboard.press(key)  # no wait between the presses
    target = order[position + 3 * step]
    wait_timeline(page, target)
    wait_idle(page)
    assert header_clip(page) == target and f"clip={target}" in page.url
    row = order.index(target)  # the clip table (the page's first grid; j / k replace it, so it is looked up anew)
    page.wait_for_function("""r => { const t = document.querySelector('[data-testid="stDataFrame"]');
        const s = t && t.querySelector('.dvn-scroller'); const top = (r + 1) * 35;  // rows under the 35-px header
        return !!s && top >= s.scrollTop + 35 && top + 35 <= s.scrollTop + s.clientHeight; }""",
                           arg=row, timeout=120_000)  # fmt: skip  # the open row in view
    timeline = page.locator(".mmcse-timeline").first
    page.locator(".mmcse-timeline .toolbar button").filter(has_text="TP / FP / FN").click()
    timeline.locator(".zoom-in").click()
    page.wait_for_function("() => location.search.includes('mode=errors') && location.search.includes('zoom=2')", timeout=120_000)
    wait_idle(page)
    assert "sort=clip" in page.url and "desc=1" in page.url
    icons = page.evaluate("() => [...document.querySelectorAll('link[rel*=icon]')].map(l => l.href)")
    assert icons and all(href.startswith(url) for href in icons), icons  # served by the app: works offline
    page.reload()
    wait_timeline(page, target)
    wait_idle(page)
    timeline = page.locator(".mmcse-timeline").first
    assert timeline.get_attribute("data-mode") == "errors"
    assert timeline.locator(".inner").evaluate("e => e.style.width") == "200%"
    page.locator("h1").first.click()
    page.keyboard.press(key)
    wait_timeline(page, order[position + 4 * step])  # the restored order, after the reload too
    page.screenshot(path=str(shots / "view_from_url.png"), full_page=True)
    page.context.close()


def test_permalink_and_cross_link_open_the_clip(server, browser, shots, test_clips):
    url, _ = server
    page = new_page(browser)
    page.goto(f"{url}/video_parser?clip={test_clips[5]}&seg=0.40")
    wait_timeline(page, test_clips[5])
    wait_idle(page)
    assert header_clip(page) == test_clips[5]
    assert page.locator(".mmcse-timeline").first.get_attribute("data-threshold") == "0.4"
    # Compare: a row of the disagreement table opens its clip on the Video parser
    page.goto(f"{url}/compare")
    page.get_by_role("heading", name="Where they disagree most").wait_for(timeout=120_000)
    wait_idle(page)
    assert "clip=" not in page.url  # the Video parser's clip does not ride along
    # the stacked timeline: no j / k there (its legend does not offer them), the events under the playhead
    # listed for every checkpoint, not only the first
    stacked = page.locator(".mmcse-timeline").first
    stacked.locator(".legend").wait_for(state="attached", timeout=120_000)
    assert "j / k" not in stacked.locator(".legend").inner_text()
    now = stacked.locator(".now").inner_text()
    assert "tiny_mmcse/best.safetensors" in now and "tiny_han/best.safetensors" in now, now
    table = page.locator('[data-testid="stDataFrame"]').filter(has=page.locator("canvas")).last
    tables = page.locator('[data-testid="stDataFrame"]')
    for i in range(tables.count()):  # the disagreement table is the one after its heading
        box = tables.nth(i).bounding_box()
        heading = page.get_by_role("heading", name="Where they disagree most").bounding_box()
        if box and box["y"] > heading["y"]:
            table = tables.nth(i)
            break
    click_row(page, table, 0)
    page.wait_for_url("**/video_parser?**", timeout=120_000)
    page.locator(".mmcse-timeline").first.wait_for(state="attached", timeout=120_000)
    wait_idle(page)
    clip = page.evaluate("() => new URLSearchParams(location.search).get('clip')")
    assert clip in test_clips and header_clip(page) == clip
    wait_timeline(page, clip)
    page.screenshot(path=str(shots / "cross_link_from_compare.png"), full_page=True)
    page.context.close()


def open_first_listed_clip(page, heading_text: str) -> str:
    """Select the first row of the clip list under ``heading_text``; wait for the Video parser to show it."""
    page.get_by_text(heading_text).first.wait_for(timeout=120_000)
    wait_idle(page)
    label = page.get_by_text(heading_text).first.bounding_box()
    tables = page.locator('[data-testid="stDataFrame"]')
    table = next(tables.nth(i) for i in range(tables.count()) if tables.nth(i).bounding_box()["y"] > label["y"])
    click_row(page, table, 0)
    page.wait_for_url("**/video_parser?**", timeout=120_000)
    page.locator(".mmcse-timeline").first.wait_for(state="attached", timeout=120_000)
    wait_idle(page)
    clip = page.evaluate("() => new URLSearchParams(location.search).get('clip')")
    wait_timeline(page, clip)
    assert header_clip(page) == clip
    return clip


def test_cross_links_from_a_cooccurrence_cell_and_a_tsne_lasso(server, browser, shots, test_clips):
    import numpy as np

    from mmcse import browse
    from mmcse.data.llp import read_dense_labels, read_weak_labels

    url, fx = server
    names, weak = read_weak_labels(fx.data / "AVVP_test_pd.csv")
    gt_a, gt_v = read_dense_labels(fx.data / "AVVP_eval_audio.csv", fx.data / "AVVP_eval_visual.csv", names)
    c = int(np.argmax(gt_a.sum(axis=(0, 1))))  # the most annotated audio class: its diagonal aa cell has clips
    expected = {names[i] for i in browse.cooccurring_clips("aa", c, c, weak, gt_a, gt_v)}
    page = new_page(browser, height=1600)
    page.goto(f"{url}/cooccurrence")
    page.locator(".js-plotly-plot .nsewdrag").first.wait_for(timeout=120_000)
    wait_idle(page)
    plot = page.locator(".js-plotly-plot").first
    box = plot.bounding_box()
    dx, dy = plot.evaluate("(g, c) => { const l = g._fullLayout; return [l.xaxis._offset + l.xaxis.l2p(c),"
                           " l.yaxis._offset + l.yaxis.l2p(c)]; }", c)  # the cell's centre, from plotly's axes
    page.mouse.move(box["x"] + dx, box["y"] + dy)
    page.mouse.click(box["x"] + dx, box["y"] + dy)
    listing = page.get_by_text("Select one to open it.").first
    listing.wait_for(timeout=120_000)
    page.screenshot(path=str(shots / "cooccurrence_cell_clips.png"), full_page=True)
    assert f": {len(expected)} clips." in listing.inner_text()
    assert open_first_listed_clip(page, "Select one to open it.") in expected
    # t-SNE: Run, lasso around every point, open the first listed clip
    page.goto(f"{url}/class_features")
    page.get_by_role("button", name="Run t-SNE").wait_for(timeout=120_000)
    wait_idle(page)
    page.get_by_role("button", name="Run t-SNE").click()
    page.get_by_text("points from the test split").wait_for(timeout=180_000)
    page.locator(".js-plotly-plot .nsewdrag").first.wait_for(timeout=60_000)
    wait_idle(page)
    area = page.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    x0, y0, x1, y1 = area["x"] + 3, area["y"] + 3, area["x"] + area["width"] - 3, area["y"] + area["height"] - 3
    page.mouse.move(x0, y0)
    page.mouse.down()
    for x, y in ((x1, y0), (x1, y1), (x0, y1), (x0, y0 + 5)):
        page.mouse.move(x, y, steps=8)
    page.mouse.up()
    page.get_by_text("selected points from").wait_for(timeout=120_000)
    page.screenshot(path=str(shots / "tsne_lasso_clips.png"), full_page=True)
    assert open_first_listed_clip(page, "selected points from") in test_clips
    page.context.close()


def test_narrow_window_collapses_the_sidebar_and_keeps_video_beside_lanes(server, browser, shots, test_clips):
    url, _ = server
    for theme in ("light", "dark"):
        page = new_page(browser, width=800, height=1000, theme=theme)
        page.goto(f"{url}/video_parser")
        wait_timeline(page, test_clips[0])
        page.wait_for_selector('[data-testid="stSidebar"][data-collapsed="true"]', state="attached", timeout=60_000)
        wait_idle(page)
        video = page.locator(".mmcse-timeline video").bounding_box()
        lanes = page.locator(".mmcse-timeline .scroll").first.bounding_box()
        assert video["x"] + video["width"] <= lanes["x"] + 1, "the lanes wrapped under the video"
        assert lanes["width"] > 200
        heatmap = page.locator(".js-plotly-plot").first.bounding_box()
        assert heatmap["width"] > 600, "the heatmaps shrank"
        page.screenshot(path=str(shots / f"narrow_800_{theme}.png"), full_page=True)
        page.context.close()


def test_upload_parses_a_video_and_explains_a_non_video(server, browser, shots, tmp_path):
    import hashlib

    url, fx = server
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is a text file, not a video\n")
    stored = hashlib.sha256(fake.read_bytes()).hexdigest()[:16]
    page = new_page(browser, height=1400)
    page.goto(f"{url}/video_parser")
    page.get_by_role("heading", name="Video parser").wait_for(timeout=120_000)
    wait_idle(page)
    # a checkpoint of the demo features (the tiny fixture spec has no offline extractor)
    page.locator("label").filter(has_text="Path").first.click(timeout=60_000)
    wait_idle(page)
    box = page.get_by_role("textbox", name="Checkpoint or run folder (.safetensors, the authors' .pth, or a folder)")
    box.fill(str(fx.demo_checkpoint))
    box.press("Enter")
    wait_idle(page)
    page.locator("label").filter(has_text="Upload a video").first.click(timeout=60_000)
    wait_idle(page)
    uploader = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    uploader.set_input_files(str(fake))
    page.get_by_text("Cannot parse notes.mp4").wait_for(timeout=120_000)
    wait_idle(page)
    page.screenshot(path=str(shots / "upload_not_a_video.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    alert = page.locator('[data-testid="stAlert"]').first.inner_text()
    assert "notes.mp4" in alert and stored not in alert  # the user's file name, never the stored hash
    # a real video: parsed, played with its timeline
    uploader.set_input_files(str(fx.video))
    page.locator(".mmcse-timeline video").wait_for(timeout=120_000)
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_role("heading", name="Segment probabilities").count() == 1
    assert timeline_clip(page) == fx.video.name
    page.screenshot(path=str(shots / "upload_video.png"), full_page=True)
    # a 7-s video: lanes, curves and heatmaps over its 7 seconds, not the loop that fills its 10-s window
    from helpers.app_fixture import write_test_video

    short = write_test_video(tmp_path / "short7.mp4", seconds=7.0)
    uploader.set_input_files(str(short))
    try:
        wait_timeline(page, "short7.mp4")
    finally:
        page.screenshot(path=str(shots / "upload_short_video.png"), full_page=True)
    wait_idle(page)
    ticks = page.locator(".mmcse-timeline .tick").all_inner_texts()
    assert ticks[-1] == "7s", ticks
    curve = page.locator(".mmcse-timeline .curve").first.get_attribute("viewBox")
    assert curve == "0 0 7 1"  # the probability curve: 7 segments
    assert page.locator(".js-plotly-plot").filter(has_text="ground truth").count() == 0  # an upload has none
    page.context.close()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_an_open_idle_page_leaves_the_server_idle(server_process, browser):
    """With a page open and nothing happening, the server must not spin (it once burnt a whole core in
    watchdog's file watcher re-walking the checkout; .streamlit/config.toml turns the watcher off)."""
    proc, url, _ = server_process
    page = new_page(browser)
    page.goto(f"{url}/video_parser")
    page.locator(".mmcse-timeline").first.wait_for(timeout=120_000)
    wait_idle(page)
    page.wait_for_timeout(1000)
    before = cpu_seconds(proc.pid)
    page.wait_for_timeout(5000)
    used = cpu_seconds(proc.pid) - before
    page.close()
    assert used < 1.0, f"the idle server used {used:.2f} s of CPU in 5 s"
