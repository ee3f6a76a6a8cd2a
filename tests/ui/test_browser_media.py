"""Real-browser tests of what the model heard and saw: the frames, log-mel spectrogram and waveform lanes
under the timeline (on the event lanes' time axis, following zoom and the playhead) and the grid view of
the filtered clips (a click opens a clip). Screenshots in light and dark themes and an 800-px window."""

from __future__ import annotations

import pytest
from helpers.browser import BROWSER_MARKS, header_clip, new_page, wait_idle, wait_timeline

pytestmark = BROWSER_MARKS
WIDTH_IS = "([t, w]) => t.querySelector('.inner').style.width === w"  # the lanes' zoom


def boxes(timeline) -> dict:
    """Left edge and width (px) of the first event lane, the spectrogram image, the waveform and the
    frames, and the media payload's spans, read in the page."""
    return timeline.evaluate(
        """t => {
            const box = (sel) => { const e = t.querySelector(sel); if (!e) return null;
                                    const r = e.getBoundingClientRect(); return [r.left, r.width]; };
            const thumbs = [...t.querySelectorAll('.media-lane.frames .thumb')].map(e => {
                const r = e.getBoundingClientRect(); return [r.left, r.width]; });
            return { track: box('.track'), spec: box('.media-lane.spectrogram .spectrogram-image'),
                     wave: box('.media-lane.waveform svg.wave'), thumbs,
                     playhead: box('.playhead'), inner: box('.inner') };
        }"""
    )


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_media_lanes_share_the_event_lanes_axis_and_follow_zoom(server, browser, shots, test_clips, theme):
    url, _ = server
    page = new_page(
        browser, height=3000, theme=theme
    )  # tall: Streamlit scrolls inside the page, not the window
    page.goto(f"{url}/video_parser?clip={test_clips[0]}")  # the fixture's clip with a video (10 s, a tone)
    wait_timeline(page, test_clips[0])
    timeline = page.locator(".mmcse-timeline").first
    timeline.locator(".media-lane.spectrogram .spectrogram-image").wait_for(state="attached", timeout=120_000)
    wait_idle(page)
    page.wait_for_function(
        "t => [...t.querySelectorAll('.media-lane img')].every(i => i.complete && i.naturalWidth > 0)",
        arg=timeline.element_handle(),
        timeout=60_000,
    )
    got = boxes(timeline)
    left, width = got["track"]
    assert got["spec"][0] == pytest.approx(left, abs=1.5) and got["spec"][1] == pytest.approx(width, abs=1.5)
    assert got["wave"][0] == pytest.approx(left, abs=1.5) and got["wave"][1] == pytest.approx(width, abs=1.5)
    assert len(got["thumbs"]) == 10  # one per second of the 10-s clip, each a tenth of the axis
    for i, (x, w) in enumerate(got["thumbs"]):
        assert x == pytest.approx(left + i * width / 10, abs=1.5) and w == pytest.approx(width / 10, abs=1.5)
    assert timeline.locator(".media-missing").count() == 0  # the file covers the whole axis
    page.screenshot(path=str(shots / f"media_lanes_{theme}.png"), full_page=True)
    # zoom: the lanes' inner width doubles and the media lanes stay on the same axis
    timeline.locator(".zoom-in").click()
    page.wait_for_function(WIDTH_IS, arg=[timeline.element_handle(), "200%"], timeout=30_000)
    zoomed = boxes(timeline)
    assert zoomed["track"][1] == pytest.approx(2 * width, abs=2)
    assert zoomed["spec"][0] == pytest.approx(zoomed["track"][0], abs=1.5)
    assert zoomed["spec"][1] == pytest.approx(zoomed["track"][1], abs=1.5)
    assert zoomed["thumbs"][5][0] == pytest.approx(zoomed["track"][0] + zoomed["track"][1] / 2, abs=1.5)
    # a click on the spectrogram at 30% seeks there; the playhead moves over the media lanes too
    timeline.locator(".zoom-out").click()
    page.wait_for_function(WIDTH_IS, arg=[timeline.element_handle(), "100%"], timeout=30_000)
    wait_idle(page)
    lane = timeline.locator(".media-lane.spectrogram")
    lane.scroll_into_view_if_needed()
    box = lane.bounding_box()
    page.mouse.click(box["x"] + 0.3 * box["width"], box["y"] + box["height"] / 2)
    playhead = timeline.locator(".playhead")
    page.wait_for_function("p => Math.abs(Number(p.dataset.time) - 3) < 0.3", arg=playhead.element_handle(),
                           timeout=30_000)  # fmt: skip
    head = playhead.bounding_box()
    assert head["x"] + head["width"] / 2 == pytest.approx(box["x"] + 0.3 * box["width"], abs=4)
    assert head["y"] + head["height"] >= box["y"] + box["height"]  # it crosses the spectrogram lane
    # the toggle hides them and shows them again, without a rerun
    toggle = timeline.locator(".toolbar .media-toggle")
    toggle.click()
    page.wait_for_function(
        "t => !t.querySelector('.media-lane')", arg=timeline.element_handle(), timeout=30_000
    )
    toggle.click()
    timeline.locator(".media-lane.spectrogram").wait_for(state="attached", timeout=30_000)
    page.context.close()


def test_media_lanes_in_a_narrow_window(server, browser, shots, test_clips):
    url, _ = server
    page = new_page(browser, width=800, height=3000)
    page.goto(f"{url}/video_parser?clip={test_clips[0]}")
    wait_timeline(page, test_clips[0])
    timeline = page.locator(".mmcse-timeline").first
    timeline.locator(".media-lane.spectrogram .spectrogram-image").wait_for(state="attached", timeout=120_000)
    wait_idle(page)
    got = boxes(timeline)
    assert got["spec"][1] == pytest.approx(got["track"][1], abs=1.5) and got["track"][1] > 200
    page.screenshot(path=str(shots / "media_lanes_800px.png"), full_page=True)
    page.context.close()


def test_a_clip_without_a_video_has_no_media_lanes_and_the_grid_opens_a_clip(
    server, browser, shots, test_clips
):
    url, _ = server
    page = new_page(browser, height=2400)
    page.goto(f"{url}/video_parser?clip={test_clips[2]}")  # no video file for this clip
    wait_timeline(page, test_clips[2])
    wait_idle(page)
    timeline = page.locator(".mmcse-timeline").first
    assert timeline.locator(".media-lane").count() == 0 and timeline.locator(".media-toggle").count() == 0
    assert "spectrogram and frames need the video file" in timeline.locator(".no-video").inner_text()
    page.get_by_text("Grid view").click()
    grid_image = page.locator('[data-testid="stImage"] img, [data-testid="stImage"]').first
    grid_image.wait_for(state="attached", timeout=120_000)
    wait_idle(page)
    assert page.locator('[data-testid="stImage"]').count() == 1  # only the clip with a video gets a picture
    page.screenshot(path=str(shots / "media_grid.png"), full_page=True)
    button = page.locator(f".st-key-grid_open_{test_clips[0]} button")
    assert button.inner_text().strip() == "Open"
    button.click()
    wait_timeline(page, test_clips[0])
    wait_idle(page)
    assert header_clip(page) == test_clips[0]
    page.context.close()
