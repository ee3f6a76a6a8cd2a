"""AppTest of the clip table's frame column on the Video parser: a clip with a video file gets its middle
frame (decoded in the background, shown on the next run), a clip without one gets none, and a table longer
than the limit has no frame column but a note saying to filter."""

from __future__ import annotations

import base64
import json
import threading
from pathlib import Path

import pytest
from helpers.app_fixture import build_app_fixture
from streamlit.testing.v1 import AppTest

from mmcse.data.llp import read_weak_labels

REPO = Path(__file__).resolve().parents[2]
MMCSE = "tiny_mmcse/best.safetensors"


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    return build_app_fixture(tmp_path_factory.mktemp("frames_fixture"), with_video=True)


@pytest.fixture
def app(fx, tmp_path, monkeypatch):
    """The Video parser on the fixture with an empty media cache, opened on a clip without a video."""
    monkeypatch.setenv("MMCSE_DATA_ROOT", str(fx.data))
    monkeypatch.setenv("MMCSE_RUNS", str(fx.runs))
    monkeypatch.setenv("MMCSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(REPO)
    clips = read_weak_labels(fx.data / "AVVP_test_pd.csv")[0]
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=120)
    at.session_state["ckpt_pick"] = MMCSE
    at.query_params["clip"] = clips[2]
    at.switch_page("pages/video_parser.py")
    return at, clips


def clip_table(at):
    return next(df for df in at.dataframe if "labels" in df.value.columns).value


def table_caption(at) -> str:
    return next(c.value for c in at.caption if "clips match" in c.value)


def wait_for_prefetch() -> None:
    for thread in threading.enumerate():
        if thread.name == "mmcse-media-prefetch":
            thread.join(timeout=120)
            assert not thread.is_alive()


def test_the_frame_column_holds_a_clips_video_frame_once_decoded(app, fx):
    from mmcse.media_view import media_view

    at, clips = app
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = clip_table(at)
    assert list(shown.columns)[0] == "frame" and shown["frame"].isna().all()  # nothing decoded yet
    proto = next(df for df in at.dataframe if "labels" in df.value.columns).proto
    assert json.loads(proto.columns)["frame"]["type_config"]["type"] == "image"  # drawn as a picture
    assert "Reading a frame of 1 more clip(s) in the background" in table_caption(at)
    wait_for_prefetch()
    at.run()
    shown = clip_table(at)
    video = fx.data / "videos" / f"{clips[0]}.mp4"
    url = shown.loc[clips[0], "frame"]
    assert url.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == media_view(video).poster()  # the video's middle frame
    assert shown.drop(index=clips[0])["frame"].isna().all()  # the other clips have no video file
    assert "Reading a frame" not in table_caption(at)


def test_a_table_longer_than_the_limit_has_no_frame_column(app, monkeypatch):
    from pages import _table_frames

    at, clips = app
    monkeypatch.setattr(_table_frames, "TABLE_FRAMES_MAX", 3)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "frame" not in clip_table(at).columns and len(clip_table(at)) == len(clips)
    assert "Filter the table to at most 3 clips to see a frame of each in it." in table_caption(at)
    at.text_input(key="clip_search").set_value(clips[0]).run()  # one clip: few enough
    shown = clip_table(at)
    assert list(shown.index) == [clips[0]] and "frame" in shown.columns
    wait_for_prefetch()  # the one clip's frame, decoded before the test's cache folder goes
