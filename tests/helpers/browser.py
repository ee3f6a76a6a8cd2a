"""What every real-browser test shares: Debian's Chromium, the app's pages, and waits on DOM conditions
(never on the clock), so a loaded machine is slower, not failing."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

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

BROWSER_MARKS = [
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


def wait_idle(page, timeout_ms: int = 120_000) -> None:
    """Wait until the script run is over: the app connected, its script state "notRunning" (Streamlit's own
    end-to-end tests wait on the same attribute), no running indicator and no element placeholders left. The
    short first pause lets a run that an action just asked for start; a slow run is waited for, not assumed."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        """() => { const app = document.querySelector('[data-testid="stApp"]');
              return !!app && app.dataset.testConnectionState === 'CONNECTED'
              && app.dataset.testScriptState === 'notRunning'
              && !document.querySelector('[data-testid="stSkeleton"]')
              && !document.querySelector('[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]'); }""",
        timeout=timeout_ms,
    )


def new_page(browser, width: int = 1400, height: int = 1100, theme: str = "light"):
    context = browser.new_context(viewport={"width": width, "height": height}, color_scheme=theme)
    return context.new_page()


def timeline_clip(page) -> str:
    return page.locator(".mmcse-timeline").first.get_attribute("data-clip")


def wait_timeline(page, clip: str, timeout_ms: int = 120_000) -> None:
    """Wait until the timeline shows ``clip`` with its lanes drawn."""
    page.wait_for_function(
        "clip => { const t = document.querySelector('.mmcse-timeline') ||"
        " [...document.querySelectorAll('*')].map(e => e.shadowRoot && e.shadowRoot.querySelector('.mmcse-timeline')).find(Boolean);"
        " return t && t.dataset.clip === clip && Number(t.dataset.renders || 0) > 0; }",
        arg=clip, timeout=timeout_ms,
    )


def header_clip(page) -> str:
    return page.locator('[data-testid="stMarkdownContainer"] h4').first.inner_text().strip()


def click_row(page, table, row: int) -> None:
    """Select row ``row`` of an st.dataframe (a canvas grid), counted from its top: click its selection
    checkbox cell (the grid, which keeps the open clip's row in view, is scrolled to the top first). Waits
    for the page to be idle first: a click that lands while a rerun redraws the grid can be lost, as a
    user's would be (they click again; a test would wait forever)."""
    wait_idle(page)
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -100_000)  # as a user scrolls: the app then leaves the grid's scroll to them
    table.evaluate(
        "t => new Promise(done => { const check = () => { const s = t.querySelector('.dvn-scroller');"
        " if (!s || s.scrollTop === 0) done(); else setTimeout(check, 50); }; check(); })"
    )
    table.scroll_into_view_if_needed()  # a grid too short to scroll passes the wheel on to the page
    page.wait_for_timeout(100)
    box = table.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 * (row + 1) + 17)


def start_app_server(data: Path, runs: Path, cache: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """`streamlit run app.py` on a data root, runs folder and results cache, logging to ``log``; (process,
    url) once its health check answers (the test fails, naming the log, when it does not within 120 s)."""
    port = free_port()
    env = dict(os.environ, MMCSE_DATA_ROOT=str(data), MMCSE_RUNS=str(runs), MMCSE_CACHE=str(cache))
    with open(log, "ab") as out:
        proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                                 "--server.headless", "true"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    url = f"http://localhost:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    pytest.fail(f"streamlit did not start; see {log}")


def stop_app_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=30)
