"""Real-browser tests of the Video parser's view as a URL: the audio & frames lanes hidden or shown survive a
reload and a permalink (``media=0``, left out when they are shown, the default)."""

from __future__ import annotations

from helpers.browser import BROWSER_MARKS, click_row, new_page, wait_idle, wait_timeline

pytestmark = BROWSER_MARKS
NO_MEDIA_LANE = "t => !!t.querySelector('.toolbar') && !t.querySelector('.media-lane')"


def media_param(page) -> str | None:
    return page.evaluate("() => new URLSearchParams(location.search).get('media')")


def open_timeline(page, url: str, clip: str):
    page.goto(url)
    wait_timeline(page, clip)
    wait_idle(page)
    return page.locator(".mmcse-timeline").first


def test_hidden_media_lanes_stay_hidden_after_a_reload_and_in_a_permalink(server, browser, shots, test_clips):
    url, _ = server
    clip = test_clips[0]  # the fixture's clip with a video: it has audio & frames lanes
    page = new_page(browser, height=2000)
    timeline = open_timeline(page, f"{url}/video_parser?clip={clip}", clip)
    timeline.locator(".media-lane.frames").wait_for(state="attached", timeout=120_000)
    assert media_param(page) is None  # shown: the default, not in the URL
    toggle = timeline.locator(".toolbar .media-toggle")
    assert "active" in (toggle.get_attribute("class") or "")
    toggle.click()
    page.wait_for_function("() => new URLSearchParams(location.search).get('media') === '0'", timeout=120_000)
    wait_idle(page)
    assert timeline.locator(".media-lane").count() == 0
    permalink = page.url
    page.reload()
    timeline = page.locator(".mmcse-timeline").first
    wait_timeline(page, clip)
    wait_idle(page)
    page.wait_for_function(NO_MEDIA_LANE, arg=timeline.element_handle(), timeout=30_000)
    assert media_param(page) == "0" and timeline.locator(".media-lane").count() == 0
    assert "active" not in (timeline.locator(".toolbar .media-toggle").get_attribute("class") or "")
    page.screenshot(path=str(shots / "view_url_media_hidden.png"), full_page=True)
    # the permalink in a new browser context (a new session): hidden too
    other = new_page(browser, height=2000)
    other_timeline = open_timeline(other, permalink, clip)
    other.wait_for_function(NO_MEDIA_LANE, arg=other_timeline.element_handle(), timeout=30_000)
    assert other_timeline.locator(".toolbar .media-toggle").count() == 1  # the clip has lanes to show
    assert media_param(other) == "0"
    other.context.close()
    # shown again: the parameter leaves the URL, and a reload shows them
    timeline.locator(".toolbar .media-toggle").click()
    timeline.locator(".media-lane.frames").wait_for(state="attached", timeout=30_000)
    page.wait_for_function("() => !new URLSearchParams(location.search).has('media')", timeout=120_000)
    wait_idle(page)
    page.reload()
    timeline = page.locator(".mmcse-timeline").first
    wait_timeline(page, clip)
    timeline.locator(".media-lane.frames").wait_for(state="attached", timeout=120_000)
    assert media_param(page) is None
    page.context.close()


TABLE_KEY = """() => { const t = document.querySelector('[data-testid="stDataFrame"]');
    const box = t && t.closest('[class*="st-key-clip_table_"]');
    return box ? [...box.classList].find(c => c.startsWith('st-key-clip_table_')) : null; }"""
MARK = """() => { const t = document.querySelector('[data-testid="stDataFrame"]');
    const m = t && t.querySelector(':scope > .mmcse-open-row'); const s = t && t.querySelector('.dvn-scroller');
    if (!m || !s || m.style.display === 'none') return null;
    const row = Number(m.dataset.row), top = s.getBoundingClientRect().top + 35 * (row + 1) - s.scrollTop;
    return { row, aligned: Math.abs(m.getBoundingClientRect().top - top) < 1.5 }; }"""


def marked_row(page, row: int) -> None:
    """Wait until the outline over the clip table marks ``row`` (of the shown order), on that row's pixels."""
    page.wait_for_function(f"() => {{ const m = ({MARK})(); return !!m && m.row === {row} && m.aligned; }}", timeout=120_000)


def press(page, key: str, clip: str) -> None:
    page.locator("h1").first.click()  # the page has the focus, not the grid
    page.keyboard.press(key)
    wait_timeline(page, clip)
    wait_idle(page)


def test_j_k_keep_the_clip_table_and_mark_the_open_row(server, browser, shots, test_clips):
    """j / k and the buttons move the marked row without a new grid (the table is not sent again); a new
    grid only when the grid's own selection (a clicked row) or a column-header sort would mark another clip."""
    url, _ = server
    page = new_page(browser, height=1300)
    open_timeline(page, f"{url}/video_parser?clip={test_clips[0]}", test_clips[0])
    marked_row(page, 0)
    table = page.locator('[data-testid="stDataFrame"]').first
    click_row(page, table, 3)  # a row click opens that clip; the grid's selection marks it too
    wait_timeline(page, test_clips[3])
    wait_idle(page)
    marked_row(page, 3)
    clicked_grid = page.evaluate(TABLE_KEY)
    press(page, "j", test_clips[4])  # away from the selected row: one new grid, without a selection
    marked_row(page, 4)
    grid = page.evaluate(TABLE_KEY)
    assert grid != clicked_grid
    press(page, "j", test_clips[5])
    marked_row(page, 5)
    press(page, "k", test_clips[4])
    marked_row(page, 4)
    page.get_by_role("button", name="Next (j) ▶").click()
    wait_timeline(page, test_clips[5])
    wait_idle(page)
    marked_row(page, 5)
    assert page.evaluate(TABLE_KEY) == grid  # the same grid all along: not sent again
    page.screenshot(path=str(shots / "view_url_marked_row.png"), full_page=True)
    # a click on a column header sorts the grid for a look: the mark hides; the next clip gets a fresh grid
    table = page.locator('[data-testid="stDataFrame"]').first
    box = table.bounding_box()
    page.mouse.click(box["x"] + 80, box["y"] + 17)
    wait_idle(page)
    page.wait_for_function(f"() => ({MARK})() === null", timeout=30_000)
    assert page.evaluate(TABLE_KEY) == grid
    press(page, "j", test_clips[6])
    marked_row(page, 6)
    assert page.evaluate(TABLE_KEY) != grid
    page.context.close()
