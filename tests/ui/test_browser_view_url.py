"""Real-browser tests of the Video parser's view as a URL: the audio & frames lanes hidden or shown survive a
reload and a permalink (``media=0``, left out when they are shown, the default)."""

from __future__ import annotations

from helpers.browser import BROWSER_MARKS, new_page, wait_idle, wait_timeline

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
