"""The timeline's "Error kinds" view in a real browser, on the hand-made clip of test_browser_errors (one
event of every kind): every GT and predicted event is drawn on its lane as a bar whose data attributes say
the kind `error_analysis.classify_events` gives it (with its onset / offset error, other class, pieces), with
its short label, its tooltip and the legend; the view is a URL (mode=kinds), follows zoom, and reads in
the light and dark themes and in an 800-px window. Needs /usr/bin/chromium (skipped without it)."""

from __future__ import annotations

import pytest
from helpers.app_fixture import build_app_fixture
from helpers.browser import BROWSER_MARKS, start_app_server, stop_app_server, wait_idle, wait_timeline
from test_browser_errors import binary, open_clip_page, rewrite_clip_annotations, store_hand_made_predictions

pytestmark = BROWSER_MARKS

READ_BARS = """t => [...t.querySelectorAll('.track .kev')].map(b => ({...b.dataset, text: b.innerText.trim(),
    title: b.title}))"""


@pytest.fixture(scope="module")
def lanes_app(tmp_path_factory):
    """(url, clip, the clip's classify_events) of an app whose first test clip (the one with a video) is
    the hand-made clip."""
    from mmcse.data.llp import read_weak_labels
    from mmcse.error_analysis import classify_events

    fx = build_app_fixture(tmp_path_factory.mktemp("lanes_fixture"), with_video=True)
    clip = read_weak_labels(fx.data / "AVVP_test_pd.csv")[0][0]
    rewrite_clip_annotations(fx.data, clip)
    cache = fx.root / "cache"
    data, preds = store_hand_made_predictions(fx, clip, cache)
    row = data.filenames.index(clip)
    pred_a, pred_v = binary(preds)
    errors = classify_events(pred_a[row], pred_v[row], data.gt_audio[row], data.gt_visual[row])
    proc, url = start_app_server(fx.data, fx.runs, cache, tmp_path_factory.mktemp("lanes_server_log") / "streamlit.log")
    yield url, clip, errors
    stop_app_server(proc)


def number(text):
    return None if text is None else float(text)


def as_drawn(bar: dict) -> tuple:
    """A bar's data attributes as (side, modality, class, onset, offset, kind, onset error, offset error,
    other class, pieces)."""
    pieces = bar.get("pieces")
    return (bar["side"], bar["modality"], bar["label"], float(bar["onset"]), float(bar["offset"]), bar["kind"],
            number(bar.get("onsetError")), number(bar.get("offsetError")), bar.get("otherClass"),
            None if pieces is None else int(pieces))  # fmt: skip


def as_classified(e) -> tuple:
    return (e.side, e.modality, e.label, e.onset, e.offset, e.kind, e.onset_error, e.offset_error, e.other_class,
            e.pieces)  # fmt: skip


def contrast(page, locator) -> float:
    """WCAG contrast ratio of an element's text colour against the background it is drawn on (its own, or
    the nearest ancestor's that is not transparent)."""
    return page.evaluate("""e => {
        const rgba = s => s.match(/[\\d.]+/g).map(Number);
        const lum = c => { const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
                           return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
        let node = e, back = null;
        while (node && !back) {
            const c = rgba(getComputedStyle(node).backgroundColor);
            if (c.length < 4 || c[3] > 0.9) back = c;
            node = node.parentElement || (node.getRootNode() && node.getRootNode().host);
        }
        const [a, b] = [lum(rgba(getComputedStyle(e).color)), lum(back || [255, 255, 255])];
        return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    }""", locator.element_handle())  # fmt: skip


def test_the_lanes_draw_the_kind_of_every_event_as_classify_events_gives_it(lanes_app, browser, shots):
    from mmcse.error_analysis import KINDS

    url, clip, errors = lanes_app
    assert {e.kind for e in errors} == set(KINDS)  # the clip holds every kind, as built
    for theme, width in (("light", 1400), ("dark", 1400), ("light", 800)):
        page = open_clip_page(browser, url, clip, "&mode=kinds", theme=theme, width=width)  # the view from the URL
        wait_timeline(page, clip)
        timeline = page.locator(".mmcse-timeline").first
        assert timeline.get_attribute("data-mode") == "kinds"
        bars = timeline.evaluate(READ_BARS)
        assert sorted(map(as_drawn, bars), key=str) == sorted(map(as_classified, errors), key=str)
        by_event = {(b["side"], b["modality"], b["label"], float(b["onset"])): b for b in bars}
        speech = by_event["gt", "audio", "Speech", 0.0]
        assert speech["text"] == "onset +1 s, offset +1 s" and "boundary: onset +1 s, offset +1 s" in speech["title"]
        violin = by_event["pred", "audio", "Violin_fiddle", 2.0]
        assert violin["text"] == "subst.: GT Banjo" and "substitution: predicted Violin_fiddle, GT Banjo" in violin["title"]
        assert by_event["gt", "visual", "Blender", 0.0]["text"] == "missed"
        assert by_event["pred", "audio", "Chainsaw", 8.0]["text"] == "inserted"
        assert by_event["gt", "audio", "Dog", 0.0]["text"] == "split ×2"
        # GT events on the upper strip, predicted ones on the lower; no audio-visual lane (no event-level kind)
        tops = timeline.evaluate("t => [...t.querySelectorAll('.track .kev')].map(b => [b.dataset.side, b.offsetTop])")
        assert {side for side, top in tops if top < 10} == {"gt"} and {side for side, top in tops if top >= 10} == {"pred"}
        assert timeline.locator('.track[data-modality="audio-visual"]').count() == 0
        keys = timeline.locator(".kind-legend .kind-key")
        assert [keys.nth(i).get_attribute("data-kind") for i in range(keys.count())] == list(KINDS)
        for label in (timeline.locator(".kev .ktext").first, keys.first):  # readable in this theme
            assert contrast(page, label) >= 4.5
        if width == 800:  # nothing sticks out of a narrow window; the legend wraps
            assert page.evaluate("() => document.documentElement.scrollWidth") <= 800
            legend = timeline.locator(".kind-legend")
            assert legend.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
        timeline.locator(".toolbar").evaluate("e => { e.style.scrollMarginTop = '80px'; e.scrollIntoView(); }")
        page.screenshot(path=str(shots / f"error_lanes_{theme}_{width}.png"))
        page.context.close()


def test_the_error_kinds_view_is_a_url_and_follows_zoom(lanes_app, browser, shots):
    url, clip, errors = lanes_app
    page = open_clip_page(browser, url, clip)
    wait_timeline(page, clip)
    timeline = page.locator(".mmcse-timeline").first
    assert timeline.get_attribute("data-mode") == "rows" and timeline.locator(".kev").count() == 0
    timeline.locator(".toolbar button").filter(has_text="Error kinds").click()
    bar = timeline.locator('.track .kev[data-side="gt"][data-label="Dog"]')  # the audio Dog, 0-10 s
    bar.wait_for(timeout=30_000)
    wait_idle(page)  # the rerun the new view asks for (the URL) is over: the bars are drawn for good
    width = bar.bounding_box()["width"]
    timeline.locator(".zoom-in").click()
    page.wait_for_function("() => location.search.includes('mode=kinds') && location.search.includes('zoom=2')",
                           timeout=120_000)  # fmt: skip
    wait_idle(page)
    assert timeline.locator(".inner").evaluate("e => e.style.width") == "200%"
    assert bar.bounding_box()["width"] == pytest.approx(2 * width, rel=0.02)  # the bars follow the zoom
    page.reload()
    wait_timeline(page, clip)
    wait_idle(page)
    timeline = page.locator(".mmcse-timeline").first
    assert timeline.get_attribute("data-mode") == "kinds"
    assert timeline.locator(".inner").evaluate("e => e.style.width") == "200%"
    assert timeline.locator(".track .kev").count() == len(errors)
    timeline.locator(".toolbar").evaluate("e => { e.style.scrollMarginTop = '80px'; e.scrollIntoView(); }")
    page.screenshot(path=str(shots / "error_lanes_zoomed_from_url.png"))
    page.context.close()
