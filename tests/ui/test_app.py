"""AppTest (streamlit.testing) runs every page on the tiny fixture: no exception, key widgets present,
thresholds change the shown scores, bad inputs give a clear message instead of a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers.app_fixture import build_app_fixture
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 60


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    return build_app_fixture(tmp_path_factory.mktemp("apptest_fixture"))


@pytest.fixture
def run_app(fx, monkeypatch):
    """run_app(page, **widget_values) -> a finished AppTest run of that page with those sidebar choices.

    Each configuration is a fresh app with values preset in session state: under st.navigation, AppTest's
    element tree drops the sidebar block after the first run, so sidebar widgets cannot be driven in place."""
    monkeypatch.setenv("MMCSE_DATA_ROOT", str(fx.data))
    monkeypatch.setenv("MMCSE_RUNS", str(fx.runs))
    monkeypatch.chdir(REPO)

    def run(page: str | None = None, **state) -> AppTest:
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
        for key, value in state.items():
            at.session_state[key] = value
        at = at.run()  # the home page; AppTest needs one run before switching pages
        if page:
            at.switch_page(f"pages/{page}.py")
            at = at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return run


MMCSE = "tiny_mmcse/best.safetensors"
HAN = "tiny_han/best.safetensors"


def test_overview_shows_scores_and_thresholds_change_them(run_app):
    at = run_app(ckpt_pick=MMCSE)
    assert {"split", "ckpt_pick", "gating"} <= {w.key for w in at.sidebar.selectbox}
    assert {"segment_threshold", "video_threshold"} <= {w.key for w in at.sidebar.slider}
    assert at.sidebar.selectbox(key="ckpt_pick").value == MMCSE
    table = at.dataframe[0].value
    assert list(table.index) == [
        MMCSE,
        "predict nothing",
        "weak labels everywhere",
        "weak labels, no visual Speech",
    ]
    low = run_app(ckpt_pick=MMCSE, segment_threshold=0.1, video_threshold=0.1).dataframe[0].value
    assert low.iloc[0].to_dict() != table.iloc[0].to_dict()
    assert low.iloc[1:].equals(table.iloc[1:])  # reference rows do not depend on thresholds


def test_video_parser_page_clip_scores_follow_threshold(run_app):
    at = run_app("video_parser", ckpt_pick=MMCSE)
    assert at.title[0].value == "Video parser"
    assert at.selectbox(key="clip_pick").options
    assert "clip_search" in {w.key for w in at.text_input}
    assert "disagreement with GT" in at.selectbox(key="clip_sort").options
    scores, events = at.dataframe[0].value, at.dataframe[1].value
    low = run_app("video_parser", ckpt_pick=MMCSE, segment_threshold=0.05, video_threshold=0.05)
    assert low.dataframe[0].value.iloc[0].to_dict() != scores.iloc[0].to_dict()
    assert len(low.dataframe[1].value) > len(events)
    assert [b.label for b in at.get("download_button")][:2] == ["Events TSV", "Events JSON"]
    # a search that matches nothing says so
    at.text_input(key="clip_search").set_value("zzz-no-such-clip")
    at = at.run()
    assert any("No clip matches" in i.value for i in at.info)


def test_class_features_and_cooccurrence_pages(run_app):
    at = run_app("class_features", ckpt_pick=MMCSE, tsne_points=200)
    assert at.radio(key="tsne_stage").options == ["CAFD slots (before fusion)", "after FGSE"]
    assert at.multiselect(key="tsne_classes").value
    shown = int(next(c.value for c in at.caption if "points from the test split" in c.value).split()[0])
    assert 0 < shown <= 200  # subsampled to the chosen number of points
    at.radio(key="tsne_color").set_value("active")
    at = at.run()
    assert not at.exception
    at = run_app("cooccurrence", ckpt_pick=MMCSE)
    assert [o.split(":")[0] for o in at.radio(key="map_name").options] == ["aa", "av", "vv", "va"]
    top = at.dataframe[0].value
    assert len(top) == 10 and (top["row class"] != top["column class"]).all()
    at.radio(key="map_view").set_value("difference")
    at.radio(key="map_segments").set_value("row class active")
    at = at.run()
    assert not at.exception


def test_han_checkpoint_is_explained_on_mmcse_only_pages(run_app):
    for page in ("cooccurrence", "class_features"):
        at = run_app(page, ckpt_pick=HAN)
        assert any("only MM-CSE" in i.value for i in at.info)


def test_compare_page(run_app):
    at = run_app("compare")
    assert len(at.multiselect(key="compare_pick").value) == 2
    assert len(at.dataframe[0].value) == 2
    assert len(at.dataframe[1].value) > 0


def test_bad_inputs_show_messages_not_tracebacks(run_app, fx, tmp_path):
    at = run_app(ckpt_source="Path", ckpt_path=str(fx.other_checkpoint))  # another feature spec
    assert any("'other' features" in e.value for e in at.error)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00garbage" * 10)
    at = run_app(ckpt_source="Path", ckpt_path=str(broken))  # a corrupted file
    assert any("broken.safetensors" in e.value for e in at.error)
    at = run_app(data_root=str(tmp_path))  # a folder without the CSVs
    assert any("AVVP_val_pd.csv" in e.value for e in at.error)
    (tmp_path / "AVVP_test_pd.csv").write_text((fx.data / "AVVP_test_pd.csv").read_text())
    at = run_app(
        data_root=str(tmp_path), ckpt_source="Path", ckpt_path=str(fx.mmcse_checkpoint)
    )  # no features
    assert any("feats not found" in e.value for e in at.error), [e.value for e in at.error]


def test_first_run_without_data_shows_the_command(monkeypatch, tmp_path):
    monkeypatch.setenv("MMCSE_DATA_ROOT", str(tmp_path / "nothing"))
    monkeypatch.setenv("MMCSE_RUNS", str(tmp_path / "nothing"))
    monkeypatch.chdir(tmp_path)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    at.session_state["data_root"] = ""
    at = at.run()
    assert not at.exception
    assert any("python -m mmcse demo" in i.value for i in at.info)
