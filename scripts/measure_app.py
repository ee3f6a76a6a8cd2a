"""Time the app as a user sees it, in a real browser (Debian's Chromium driven by Playwright), on the shipped
compact demo (or $MMCSE_DATA_ROOT):

    python scripts/measure_app.py                  # all four figures
    python scripts/measure_app.py --repeat 8 --only switch threshold

- cold start: from launching `streamlit run app.py` to the Overview fully drawn (its tables and figures
  present, no script running);
- clip switch: a click on a row of the Video parser's table -> the new clip's timeline drawn;
- threshold change: one step of the segment-threshold slider -> the timeline redrawn with it;
- t-SNE of 5,000 points: the Run button -> the scatter drawn; then a colour change (no recomputation).

    python scripts/measure_app.py --llp-size /tmp/llp_size   # LLP-size data, made there on first use

- LLP size (``--llp-size DIR``): a paper-size MM-CSE (preset paper-mmcse, random weights, VALOR features) on a
  1,200-clip test split and a 10,000-clip train split written by mmcse.data.synthetic into DIR (never the
  repo): the Overview's first open with an empty results cache (the progress bar's first appearance and the
  page fully drawn), a page switch to the Video parser, the Overview's second open after a server restart
  in a new browser profile (nothing in its HTTP cache), then after another restart in a new tab of that
  profile (Streamlit's and plotly's scripts cached, as in the browser of someone who has used the app),
  and the train split: its first open on the Video parser, clip switches in its 10,000-row table (row clicks)
  and j presses there (time, and the bytes sent to the browser per press); `evaluate` of the checkpoint on the
  test split with an empty cache and the Overview's first open after it; then the floor: a page of the
  Overview's elements (3 tables, 3 plotly charts, a sidebar) that computes nothing, opened the same way on a
  restarted server.

Every figure is printed with the 1-minute load average before and after it and the CPU count: timings on a
shared machine are noisy, so report the load with them. Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--disable-dev-shm-usage", "--autoplay-policy=no-user-gesture-required"]  # fmt: skip
IDLE = """() => !document.querySelector('[data-testid="stSkeleton"]')
  && !document.querySelector('[data-testid="stStatusWidget"] [data-testid="stStatusWidgetRunningIcon"]')"""
FIND_TIMELINE = """(document.querySelector('.mmcse-timeline')
  || [...document.querySelectorAll('*')].map(e => e.shadowRoot && e.shadowRoot.querySelector('.mmcse-timeline')).find(Boolean))"""
TIMELINE = f"""([clip, threshold]) => {{ const t = {FIND_TIMELINE};
  return !!t && (clip === null || t.dataset.clip === clip) && Number(t.dataset.renders || 0) > 0 && t.querySelector('.track')
    && (threshold === null || t.dataset.threshold === threshold); }}"""
TIMELINE_CLIP = f"() => {FIND_TIMELINE}.dataset.clip"  # the clip the timeline shows


def load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


SERVER: dict[str, int] = {}  # "pid" of the streamlit server being timed


def server_cpu() -> float:
    """CPU seconds (user + system, all threads) the streamlit server has used so far; 0 when unknown."""
    try:
        fields = Path(f"/proc/{SERVER['pid']}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (KeyError, OSError, IndexError, ValueError):
        return 0.0


def report(name: str, seconds: list[float], load_before: str, cpu: float | None = None) -> None:
    text = f"{seconds[0]:.2f} s" if len(seconds) == 1 else (
        f"median {statistics.median(seconds):.2f} s, range {min(seconds):.2f}-{max(seconds):.2f} s (n={len(seconds)})")
    used = "" if cpu is None else f", server CPU {cpu:.1f} s"
    print(f"{name:34s} {text:48s} load {load_before} -> {load()} on {os.cpu_count()} CPUs{used}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, extra_env: dict[str, str] | None = None) -> tuple[subprocess.Popen, float]:
    import tempfile

    env = dict(os.environ, MMCSE_CLIP_CACHE=tempfile.mkdtemp(prefix="mmcse_clips_"), **(extra_env or {}))  # first visits render
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
                             "--server.headless", "true"], cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    SERVER["pid"] = proc.pid
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2).read() == b"ok":
                return proc, started
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("streamlit did not start within 120 s")


def wait_idle(page) -> None:
    page.wait_for_timeout(200)
    page.wait_for_function(IDLE, timeout=180_000)


def cold_start(browser, url: str, started: float, load_before: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    page.get_by_role("heading", name="Per class").wait_for(timeout=180_000)
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2", timeout=180_000)
    page.wait_for_function(IDLE, timeout=180_000)
    report("cold start -> Overview drawn", [time.perf_counter() - started], load_before)
    page.close()


def test_clip_names() -> list[str]:
    root = Path(os.environ.get("MMCSE_DATA_ROOT") or REPO / "assets" / "demo")
    lines = (root / "AVVP_test_pd.csv").read_text().splitlines()[1:]
    return [line.split("\t")[0] for line in lines if line.strip()]


def click_row(page, row: int) -> None:
    """Click row ``row`` of the clip table counted from its top: the grid, which keeps the open clip's row in
    view, is scrolled to the top first."""
    table = page.locator('[data-testid="stDataFrame"]').first
    table.wait_for(timeout=180_000)
    table.evaluate("t => { const s = t.querySelector('.dvn-scroller'); if (s) s.scrollTop = 0; }")
    page.wait_for_timeout(100)
    box = table.bounding_box()
    page.mouse.click(box["x"] + 18, box["y"] + 35 * (row + 1) + 17)


def timed_click(page, row: int, clip: str) -> float:
    t0 = time.perf_counter()
    click_row(page, row)
    page.wait_for_function(TIMELINE, arg=[clip, None], timeout=180_000)
    seconds = time.perf_counter() - t0
    wait_idle(page)
    return seconds


def search(page, text: str) -> None:
    """Filter the table to the one clip ``text`` names, and wait until the page says so."""
    box = page.get_by_placeholder("clip id or class name")
    box.fill(text)
    box.press("Enter")
    page.get_by_text(f"1 of {len(test_clip_names())} clips match").wait_for(timeout=180_000)
    wait_idle(page)


def clip_switch(browser, url: str, repeat: int) -> None:
    """Rows 0-5 of the compact demo have shipped videos; the others are rendered on demand: those are
    brought to the table's first row by a search (not timed), then clicked (timed)."""
    names = test_clip_names()
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(f"{url}/video_parser")
    page.wait_for_function(TIMELINE, arg=[None, None], timeout=180_000)  # opens on the showcase clip
    wait_idle(page)
    opened = page.evaluate(TIMELINE_CLIP)  # never time a click on the clip already open (nothing to switch)
    shipped = [row for row in range(6) if names[row] != opened]
    rows = [shipped[i % len(shipped)] for i in range(max(repeat, 1))]  # cycling: no row twice in a row
    load_before = load()
    report("clip switch (video shipped)", [timed_click(page, row, names[row]) for row in rows], load_before)
    rendered = [i for i in range(6, len(names)) if names[i] != opened][: max(repeat, 1)]
    for label in ("clip switch (rendered on demand)", "clip switch (rendered, revisit)"):
        times, load_before = [], load()
        for index in rendered:
            search(page, names[index])
            times.append(timed_click(page, 0, names[index]))
        report(label, times, load_before)
    page.close()


def threshold_change(browser, url: str, repeat: int) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    page.goto(f"{url}/video_parser")
    page.wait_for_function(TIMELINE, arg=[None, "0.5"], timeout=180_000)  # the showcase clip, whichever it is
    wait_idle(page)
    clip = page.evaluate(TIMELINE_CLIP)
    slider = page.locator('[data-testid="stSlider"] input[type="range"]').first
    times, load_before, value = [], load(), 0.5
    for i in range(max(repeat, 1)):
        key, value = ("ArrowRight", round(value + 0.05, 2)) if i % 2 == 0 else ("ArrowLeft", round(value - 0.05, 2))
        slider.focus()
        t0 = time.perf_counter()
        page.keyboard.press(key)
        page.wait_for_function(TIMELINE, arg=[clip, f"{value:g}"], timeout=180_000)
        times.append(time.perf_counter() - t0)
        wait_idle(page)
    report("threshold change -> timeline redrawn", times, load_before)
    page.close()


def tsne(browser, url: str) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(f"{url}/class_features")
    page.get_by_role("button", name="Run t-SNE").wait_for(timeout=180_000)
    wait_idle(page)
    points = page.get_by_label("Points (subsample)")
    points.fill("5000")
    page.get_by_text("All classes").click()
    load_before = load()
    t0 = time.perf_counter()
    page.get_by_role("button", name="Run t-SNE").click()
    page.get_by_text("points from the test split").wait_for(timeout=300_000)
    page.wait_for_function("() => document.querySelector('.js-plotly-plot .main-svg')", timeout=180_000)
    seconds = time.perf_counter() - t0
    shown = page.get_by_text("points from the test split").inner_text().split()[0]
    report(f"t-SNE of {shown} points (Run -> drawn)", [seconds], load_before)
    wait_idle(page)
    load_before = load()
    t0 = time.perf_counter()
    page.get_by_text("modality", exact=True).last.click()
    page.wait_for_function("() => [...document.querySelectorAll('.js-plotly-plot .legendtext')].some(e => e.textContent === 'visual')",
                           timeout=180_000)  # fmt: skip
    wait_idle(page)
    report("t-SNE colour change (no recompute)", [time.perf_counter() - t0], load_before)
    page.close()


# ----------------------------------------------------------------------------- LLP size


def make_llp_size(folder: Path, n_train: int = 10_000, n_test: int = 1_200) -> Path:
    """DIR/data: a paper-size MM-CSE (random weights) in runs/paper_mmcse and a VALOR-feature dataset with
    ``n_train`` / 60 / ``n_test`` clips (mmcse.data.synthetic, no pseudo labels), unless already there."""
    import dataclasses

    data = folder / "data"
    checkpoint = data / "runs" / "paper_mmcse" / "best.safetensors"
    if checkpoint.is_file() and (data / "AVVP_train.csv").is_file():
        return data
    import torch

    from mmcse.checkpoint import save_checkpoint
    from mmcse.config import VALOR_FEATURES, ModelConfig, get_preset
    from mmcse.data.synthetic import write_synthetic_dataset
    from mmcse.models import create_model

    preset = get_preset("paper-mmcse")
    inputs = ("audio_dim", "audio_len", "visual_dim", "visual_len", "visual_st_dim")
    cfg = dataclasses.replace(ModelConfig.for_features(VALOR_FEATURES),
                              **{k: v for k, v in preset.model.to_dict().items() if k not in inputs})  # fmt: skip
    torch.manual_seed(0)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    save_checkpoint(checkpoint, create_model(cfg).eval(), model_config=cfg, feature_spec=VALOR_FEATURES, train_config=preset.train)
    write_synthetic_dataset(data, VALOR_FEATURES, n_train, 60, n_test, seed=0, pseudo_labels=False)
    return data


PROGRESS = "() => [...document.querySelectorAll('[data-testid=\"stProgress\"]')].length > 0"


def overview_drawn(page) -> None:
    page.get_by_role("heading", name="Per class").wait_for(timeout=600_000)
    page.wait_for_function("() => document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2", timeout=600_000)
    page.wait_for_function(IDLE, timeout=600_000)


def open_overview(browser, url: str, label: str, progress: bool, context=None) -> None:
    """The Overview opened in a new tab of ``context`` (a browser profile that may have opened the app
    before: its HTTP cache holds Streamlit's and plotly's scripts), else of a new, empty profile."""
    page = context.new_page() if context is not None else browser.new_page(viewport={"width": 1400, "height": 1000})
    load_before, cpu = load(), server_cpu()
    t0 = time.perf_counter()
    page.goto(url)
    if progress:
        page.wait_for_function(PROGRESS, timeout=600_000)
        report(f"{label}: progress bar shown", [time.perf_counter() - t0], load_before)
    overview_drawn(page)
    report(f"{label}: Overview drawn", [time.perf_counter() - t0], load_before, server_cpu() - cpu)
    load_before, cpu = load(), server_cpu()
    t0 = time.perf_counter()
    page.get_by_role("link", name="Video parser").first.click()
    page.wait_for_function(TIMELINE, arg=[None, None], timeout=600_000)
    wait_idle(page)
    report(f"{label}: page switch -> Video parser", [time.perf_counter() - t0], load_before, server_cpu() - cpu)
    page.close()


def train_table(browser, url: str, repeat: int) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    load_before = load()
    t0 = time.perf_counter()
    page.goto(f"{url}/video_parser?split=train")
    page.wait_for_function(TIMELINE, arg=[None, None], timeout=900_000)
    wait_idle(page)
    shown = page.get_by_text("clips match").first.inner_text()
    report(f"train split open ({shown.split(' of ')[1].split()[0]} clips)", [time.perf_counter() - t0], load_before)
    opened = page.evaluate(TIMELINE_CLIP)
    names = [line.split("\t")[0] for line in (Path(os.environ["MMCSE_DATA_ROOT"]) / "AVVP_train.csv").read_text().splitlines()[1:]]
    rows = [r for r in range(1, 6) if names[r] != opened][: max(repeat, 1)]  # rows the 260-px table shows
    load_before, cpu = load(), server_cpu()
    times = [timed_click(page, row, names[row]) for row in rows]
    report("clip switch, 10,000-row table", times, load_before, (server_cpu() - cpu) / len(rows))
    j_presses(page, names, rows[-1], max(repeat, 1))
    page.close()


def j_presses(page, names: list[str], at: int, repeat: int) -> None:
    """``repeat`` presses of j (the next clip in the table's order, file order here), one at a time: the time
    to the next clip's timeline and the bytes the server sent the browser (websocket frames) per press."""
    received: list[int] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: received.append(len(payload))))
    page.reload()  # the websocket opened after the listener: its frames are counted
    page.wait_for_function(TIMELINE, arg=[names[at], None], timeout=900_000)
    wait_idle(page)
    times, sizes = [], []
    load_before, cpu = load(), server_cpu()
    for i in range(1, repeat + 1):
        page.locator("h1").first.click()  # the page has the focus, not the grid
        received.clear()
        t0 = time.perf_counter()
        page.keyboard.press("j")
        page.wait_for_function(TIMELINE, arg=[names[at + i], None], timeout=180_000)
        times.append(time.perf_counter() - t0)
        wait_idle(page)
        sizes.append(sum(received))
    report("j press, 10,000-row table", times, load_before, (server_cpu() - cpu) / repeat)
    print(f"{'bytes sent per j press':34s} median {statistics.median(sizes) / 1e3:,.0f} kB, "
          f"range {min(sizes) / 1e3:,.0f}-{max(sizes) / 1e3:,.0f} kB (n={repeat})", flush=True)
    timed_click(page, 2, names[2])  # the grid's own selection now marks a row: the next j moves away from it
    page.locator("h1").first.click()
    received.clear()
    page.keyboard.press("j")
    page.wait_for_function(TIMELINE, arg=[names[3], None], timeout=180_000)
    wait_idle(page)
    print(f"{'bytes sent, first j after a click':34s} {sum(received) / 1e3:,.0f} kB", flush=True)


def forget_results(data: Path, cache: Path, split: str) -> None:
    """Remove the stored results of the paper-size checkpoint on ``split``, so that its next open computes."""
    from mmcse import prediction_cache
    from mmcse.checkpoint import read_checkpoint_meta
    from mmcse.config import FeatureSpec
    from mmcse.data.paths import DataPaths
    from mmcse.data.splits import open_split

    checkpoint = data / "runs" / "paper_mmcse" / "best.safetensors"
    spec = FeatureSpec.from_dict(read_checkpoint_meta(checkpoint)["feature_spec"])
    key = prediction_cache.cache_key(prediction_cache.file_sha256(checkpoint),
                                     open_split(DataPaths.from_root(data, spec, use_pseudo_labels=False), split))  # fmt: skip
    for path in (prediction_cache.results_path(key, cache), prediction_cache.features_path(key, cache)):
        path.unlink(missing_ok=True)


FLOOR_PAGE = """import numpy as np, pandas as pd, plotly.graph_objects as go, streamlit as st
st.sidebar.text_input("Dataset root", "data"); st.sidebar.selectbox("Split", ["test"]); st.sidebar.slider("t", 0.0, 1.0, 0.5)
st.title("MM-CSE: audio-visual video parsing")
for level in ("segment", "event"):
    st.dataframe(pd.DataFrame(np.full((4, 5), 50.0), columns=list("ABCDE")), key=level)
st.plotly_chart(go.Figure(go.Bar(x=list("ABCDEFGHIJ"), y=list(range(10)))), key="bar")
st.subheader("Per class")
st.plotly_chart(go.Figure([go.Bar(x=list(range(25)), y=list(range(25))) for _ in range(3)]), key="per_class")
st.subheader("Errors by kind")
st.plotly_chart(go.Figure(go.Bar(x=list("abcdefgh"), y=list(range(8)))), key="kinds")
st.dataframe(pd.DataFrame({"events": range(8)}), key="counts")
"""


def streamlit_floor(browser) -> None:
    """The same open of a page with the Overview's elements (3 tables, 3 plotly charts, a sidebar) that
    computes nothing, on a restarted server: what Streamlit and the browser cost before the app does anything."""
    import tempfile

    folder = tempfile.TemporaryDirectory(prefix="mmcse_floor_")
    script = Path(folder.name) / "floor.py"
    script.write_text(FLOOR_PAGE)
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
                             "--server.headless", "true"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    SERVER["pid"] = proc.pid
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://localhost:{port}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.1)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        load_before, cpu = load(), server_cpu()
        t0 = time.perf_counter()
        page.goto(f"http://localhost:{port}")
        overview_drawn(page)
        report("floor: the same elements, nothing computed", [time.perf_counter() - t0], load_before, server_cpu() - cpu)
        page.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        folder.cleanup()


def llp_size(browser_type, folder: Path, repeat: int, train_first: bool, table_only: bool = False) -> None:
    data = make_llp_size(folder)
    cache = folder / "cache"
    if table_only:  # the 10,000-row table alone, on the stored results
        os.environ.update(MMCSE_DATA_ROOT=str(data), MMCSE_RUNS=str(data / "runs"), MMCSE_CACHE=str(cache))
        port = free_port()
        proc, _ = start_server(port, {"MMCSE_DATA_ROOT": str(data), "MMCSE_RUNS": str(data / "runs"), "MMCSE_CACHE": str(cache)})
        browser = browser_type.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            train_table(browser, f"http://localhost:{port}", repeat)
        finally:
            browser.close()
            proc.terminate()
            proc.wait(timeout=30)
        return
    forget_results(data, cache, "test")  # a first open computes
    if train_first:  # 10,000 clips: about 10 min on 2 busy cores; else the stored results are reused
        forget_results(data, cache, "train")
    os.environ.update(MMCSE_DATA_ROOT=str(data), MMCSE_RUNS=str(data / "runs"), MMCSE_CACHE=str(cache))
    extra = {"MMCSE_DATA_ROOT": str(data), "MMCSE_RUNS": str(data / "runs"), "MMCSE_CACHE": str(cache)}
    browser = browser_type.launch(executable_path=CHROMIUM, args=ARGS)
    # a browser that has opened the app before (the same user, a new tab): its HTTP cache is per origin, so
    # the server comes back on the same port
    returning, returning_port = browser.new_context(viewport={"width": 1400, "height": 1000}), free_port()
    for label, fresh, context in (("first open (empty cache)", True, None),
                                  ("second open (server restarted)", False, returning),
                                  ("second open, browser seen it", False, returning)):  # fmt: skip
        port = free_port() if context is None else returning_port
        proc, _ = start_server(port, extra)
        try:
            open_overview(browser, f"http://localhost:{port}", label, progress=fresh, context=context)
            if fresh:
                train_table(browser, f"http://localhost:{port}", repeat)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    returning.close()
    after_evaluate(browser, data, cache, extra)
    streamlit_floor(browser)
    browser.close()


def after_evaluate(browser, data: Path, cache: Path, extra: dict[str, str]) -> None:
    """``python -m mmcse evaluate`` of the checkpoint on the test split with an empty results cache (it keeps
    the results where the app reads them), then the Overview's first open on a fresh server."""
    forget_results(data, cache, "test")
    checkpoint = data / "runs" / "paper_mmcse" / "best.safetensors"
    load_before = load()
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "mmcse", "evaluate", "--checkpoint", str(checkpoint), "--data-root",
                    str(data), "--split", "test"], cwd=REPO, env=dict(os.environ, **extra), check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    report("evaluate (empty cache: one model pass, kept)", [time.perf_counter() - t0], load_before)
    port = free_port()
    proc, _ = start_server(port, extra)
    try:
        open_overview(browser, f"http://localhost:{port}", "first open after evaluate", progress=False)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=6, help="clicks / slider steps per timed series")
    parser.add_argument("--only", nargs="*", default=["cold", "switch", "threshold", "tsne"],
                        choices=["cold", "switch", "threshold", "tsne"])  # fmt: skip
    parser.add_argument("--llp-size", type=Path, metavar="DIR",
                        help="time LLP-size first / second opens and the 10,000-clip table instead (data made in DIR)")  # fmt: skip
    parser.add_argument("--train-first", action="store_true",
                        help="with --llp-size: also time the 10,000-clip train split's first open (not only its table)")  # fmt: skip
    parser.add_argument("--table-only", action="store_true", help="with --llp-size: only the 10,000-row table")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}, {os.cpu_count()} CPUs", flush=True)
    if args.llp_size:
        with sync_playwright() as p:
            llp_size(p.chromium, args.llp_size, args.repeat, args.train_first, args.table_only)
        return

    port = free_port()
    load_before = load()
    proc, started = start_server(port)
    url = f"http://localhost:{port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            if "cold" in args.only:
                cold_start(browser, url, started, load_before)
            if "switch" in args.only:
                clip_switch(browser, url, args.repeat)
            if "threshold" in args.only:
                threshold_change(browser, url, args.repeat)
            if "tsne" in args.only:
                tsne(browser, url)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()
