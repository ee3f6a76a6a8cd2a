"""Fixtures of the real-browser tests: one `streamlit run app.py` on the tiny fixture for the whole session
(every test opens its own browser context, so sessions do not share state), one Chromium."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from helpers.app_fixture import build_app_fixture
from helpers.browser import CHROMIUM, CHROMIUM_ARGS, REPO, free_port


@pytest.fixture(scope="session")
def server(server_process):
    """(url, fixture) of the running app."""
    return server_process[1:]


@pytest.fixture(scope="session")
def server_process(tmp_path_factory):
    fx = build_app_fixture(tmp_path_factory.mktemp("browser_fixture"), with_video=True)
    port = free_port()
    env = dict(os.environ, MMCSE_DATA_ROOT=str(fx.data), MMCSE_RUNS=str(fx.runs), MMCSE_CACHE=str(fx.root / "cache"))
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
    yield proc, url, fx
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("MMCSE_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def test_clips(server) -> list[str]:
    from mmcse.data.llp import read_weak_labels

    _, fx = server
    return read_weak_labels(fx.data / "AVVP_test_pd.csv")[0]
