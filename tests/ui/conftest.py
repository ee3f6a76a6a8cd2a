"""Fixtures of the real-browser tests: one `streamlit run app.py` on the tiny fixture for the whole session
(every test opens its own browser context, so sessions do not share state), one Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers.app_fixture import build_app_fixture
from helpers.browser import CHROMIUM, CHROMIUM_ARGS, start_app_server, stop_app_server


@pytest.fixture(scope="session")
def server(server_process):
    """(url, fixture) of the running app."""
    return server_process[1:]


@pytest.fixture(scope="session")
def server_process(tmp_path_factory):
    fx = build_app_fixture(tmp_path_factory.mktemp("browser_fixture"), with_video=True)
    log = tmp_path_factory.mktemp("server_log") / "streamlit.log"
    proc, url = start_app_server(fx.data, fx.runs, fx.root / "cache", log)
    yield proc, url, fx
    stop_app_server(proc)


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
