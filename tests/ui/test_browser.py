"""Real-browser test: `streamlit run app.py` on the tiny fixture, driven by Playwright with Debian's Chromium.

Visits every page, plays the clip's video, checks that the playhead moves and that a click on a lane seeks
the video, and saves screenshots (to $MMCSE_SCREENSHOTS, else a pytest tmp folder). Skips when
/usr/bin/chromium is absent. Never downloads a browser (no `playwright install`).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from helpers.app_fixture import build_app_fixture

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--autoplay-policy=no-user-gesture-required",
]
PAGES = {  # a sub-page first: a fresh server's first visitor may open any page's URL
    "video_parser": "Video parser",
    "": "MM-CSE: audio-visual video parsing",
    "class_features": "Class-wise features (t-SNE)",
    "cooccurrence": "Class co-occurrence",
    "compare": "Compare checkpoints",
}

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="/usr/bin/chromium not installed (apt-get install chromium)"
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    fx = build_app_fixture(tmp_path_factory.mktemp("browser_fixture"), with_video=True)
    port = free_port()
    env = dict(os.environ, MMCSE_DATA_ROOT=str(fx.data), MMCSE_RUNS=str(fx.runs))
    log = open(tmp_path_factory.mktemp("server_log") / "streamlit.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.headless",
            "true",
        ],
        cwd=REPO,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://localhost:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"streamlit did not start; see {log.name}")
    yield url, fx
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("MMCSE_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def wait_idle(page, timeout_ms: int = 90_000) -> None:
    """Wait until the script run is over: no running indicator and no element placeholders left."""
    page.wait_for_timeout(500)
    page.wait_for_function(
        """() => !document.querySelector('[data-testid="stSkeleton"]')
              && !document.querySelector('[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]')""",
        timeout=timeout_ms,
    )
    page.wait_for_timeout(1000)


@pytest.mark.parametrize("path", list(PAGES))
def test_every_page_renders_without_exception(server, browser, shots, path):
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/{path}")
    page.get_by_role("heading", name=PAGES[path]).wait_for(timeout=60_000)
    wait_idle(page)
    page.screenshot(path=str(shots / f"page_{path or 'overview'}.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    # the app's own navigation and shared sidebar, not Streamlit's legacy pages/ list
    assert page.get_by_text("Class features").count() >= 1 and page.get_by_text("Dataset root").count() == 1
    page.close()


def test_video_plays_playhead_moves_and_click_seeks(server, browser, shots):
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.goto(f"{url}/video_parser")
    video = page.locator(".mmcse-timeline video")
    video.wait_for(timeout=60_000)
    wait_idle(page)
    playhead = page.locator(".mmcse-timeline .playhead")
    assert float(playhead.get_attribute("data-time")) == pytest.approx(0.0)
    video.evaluate("v => { v.muted = true; return v.play(); }")
    page.wait_for_timeout(2500)
    played = video.evaluate("v => v.currentTime")
    moved = float(playhead.get_attribute("data-time"))
    page.screenshot(path=str(shots / "video_playing.png"), full_page=True)
    assert played > 0.5, "the video did not play"
    assert moved > 0.5, "the playhead did not follow the video"
    # pausing reports the time to Python, which reruns the page; read the time at the pause itself (on a
    # slow machine the video keeps playing between the read above and the pause)
    paused_at = video.evaluate("v => { v.pause(); return v.currentTime; }")
    assert paused_at >= played
    page.wait_for_timeout(2000)
    wait_idle(page)
    assert video.evaluate("v => v.currentTime") == pytest.approx(paused_at, abs=0.3), "the rerun reset the video"
    page.get_by_text("Paused / seeked at").wait_for(timeout=30_000)  # the time came back to Python
    # a click at 80% of the first lane seeks the video to ~8 s
    track = page.locator(".mmcse-timeline .track").first
    box = track.bounding_box()
    page.mouse.click(box["x"] + 0.8 * box["width"], box["y"] + box["height"] / 2)
    page.wait_for_timeout(800)
    assert video.evaluate("v => v.currentTime") == pytest.approx(8.0, abs=0.3)
    assert float(playhead.get_attribute("data-time")) == pytest.approx(8.0, abs=0.3)
    page.screenshot(path=str(shots / "video_seeked.png"), full_page=True)
    page.close()


def test_upload_parses_a_video_and_explains_a_non_video(server, browser, shots, tmp_path):
    url, fx = server
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is a text file, not a video\n")
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(f"{url}/video_parser")
    page.get_by_role("heading", name="Video parser").wait_for(timeout=60_000)
    wait_idle(page)
    # a checkpoint of the demo features (the tiny fixture spec has no offline extractor)
    page.locator("label").filter(has_text="Path").first.click(timeout=60_000)
    wait_idle(page)
    box = page.get_by_label("Checkpoint path (.safetensors or the authors' .pth)")
    box.fill(str(fx.demo_checkpoint))
    box.press("Enter")
    wait_idle(page)
    page.locator("label").filter(has_text="Upload a video").first.click(timeout=60_000)
    wait_idle(page)
    uploader = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    uploader.set_input_files(str(fake))
    page.get_by_text("Cannot parse notes.mp4").wait_for(timeout=90_000)
    wait_idle(page)
    page.screenshot(path=str(shots / "upload_not_a_video.png"), full_page=True)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert "notes.mp4" in page.locator('[data-testid="stAlert"]').first.inner_text()
    # a real video: parsed, played with its timeline
    uploader.set_input_files(str(fx.video))
    page.locator(".mmcse-timeline video").wait_for(timeout=90_000)
    wait_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.get_by_role("heading", name="Segment probabilities").count() == 1
    page.screenshot(path=str(shots / "upload_video.png"), full_page=True)
    page.close()
