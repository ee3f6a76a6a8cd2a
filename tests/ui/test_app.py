"""AppTest (streamlit.testing) runs every page and widget path on the tiny fixture (and first use on the
shipped compact demo): no exception, the values shown are the library's values, the open clip is kept by
id through threshold / gating / filter changes, permalinks restore a view, messages name the user's files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers.app_fixture import TINY_FEATURES, build_app_fixture, tiny_model_config
from streamlit.testing.v1 import AppTest

from mmcse import analysis, browse, metrics, stats
from mmcse.data.llp import read_weak_labels

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 120
MMCSE = "tiny_mmcse/best.safetensors"
HAN = "tiny_han/best.safetensors"


def save_with_gating(path: Path, arch: str, gating: str, seed: int) -> None:
    import torch

    from mmcse.checkpoint import save_checkpoint
    from mmcse.config import TrainConfig
    from mmcse.models import create_model

    torch.manual_seed(seed)
    cfg = tiny_model_config(TINY_FEATURES, arch)
    save_checkpoint(path, create_model(cfg).eval(), model_config=cfg, feature_spec=TINY_FEATURES,
                    train_config=TrainConfig(seed=seed, gating=gating))  # fmt: skip


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    """The tiny fixture; HAN trained with fused gating (as HAN is), a metrics.csv beside each run."""
    fx = build_app_fixture(tmp_path_factory.mktemp("apptest_fixture"))
    save_with_gating(fx.han_checkpoint, "han", "fused", 1)
    for run, base in (("tiny_mmcse", 50.0), ("tiny_han", 40.0)):
        rows = ["epoch,train_loss,val_seg_type"] + [f"{e},{1.0 / e:.3f},{base + e}" for e in (1, 2, 3)]
        (fx.runs / run / "metrics.csv").write_text("\n".join(rows) + "\n")
    return fx


@pytest.fixture
def run_app(fx, monkeypatch):
    """run_app(page, query=None, **state) -> a finished AppTest run of that page, with session-state
    presets (sidebar widgets) and query parameters (a permalink). Under st.navigation AppTest drops the
    sidebar's widget values when it switches pages after a run, so each configuration is a fresh app."""
    monkeypatch.setenv("MMCSE_DATA_ROOT", str(fx.data))
    monkeypatch.setenv("MMCSE_RUNS", str(fx.runs))
    monkeypatch.setenv("MMCSE_CACHE", str(fx.root / "cache"))
    monkeypatch.chdir(REPO)

    def run(page: str | None = None, query: dict | None = None, **state) -> AppTest:
        at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
        for key, value in state.items():
            at.session_state[key] = value
        for key, value in (query or {}).items():
            at.query_params[key] = value
        if page:  # straight to the page, as a permalink opens it (pages keep their file names as URLs)
            at.switch_page(f"pages/{page}.py")
        at = at.run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return run


def frame(at: AppTest, *columns: str, index: str | None = None):
    """The first table shown whose columns include ``columns`` (and whose index holds ``index``): AppTest
    keeps no key for a read-only st.dataframe."""
    for df in at.dataframe:
        value = df.value
        if set(columns) <= set(value.columns) and (index is None or index in value.index):
            return value
    raise AssertionError(f"no table with columns {columns}")


def open_clip(at: AppTest) -> str:
    """The clip the Video parser shows (its header)."""
    header = next(m.value for m in at.markdown if m.value.startswith("#### "))
    return header.split("\n")[0].removeprefix("#### ")


def fixture_predictions(fx, split="test", gating="mmcse", seg=0.5, vid=0.5):
    from mmcse.data.paths import DataPaths
    from mmcse.data.splits import open_split
    from mmcse.inference import Parser

    parser = Parser.from_checkpoint(fx.mmcse_checkpoint)
    data = open_split(DataPaths.from_root(fx.data, parser.feature_spec, use_pseudo_labels=False), split)
    preds = parser.predict_split(data)
    return data, preds, preds.binary(gating, seg, vid)


# ----------------------------------------------------------------------------- Overview


def test_overview_scores_follow_thresholds_and_split_into_levels(run_app, fx):
    at = run_app(ckpt_pick=MMCSE)
    assert at.sidebar.selectbox(key="ckpt_pick").value == MMCSE
    segment = frame(at, "Type@AV", "Event@AV")
    assert list(segment.index) == [MMCSE, "predict nothing", "weak labels everywhere", "weak labels, no visual Speech"]
    assert list(segment.columns) == ["A", "V", "AV", "Type@AV", "Event@AV"]
    data, _, (pred_a, pred_v) = fixture_predictions(fx)
    expected = metrics.avvp_scores(pred_a, pred_v, data.gt_audio, data.gt_visual)
    assert segment.loc[MMCSE, "Type@AV"] == pytest.approx(expected["seg_type"])
    event = [df.value for df in at.dataframe if "Type@AV" in df.value.columns][1]
    assert event.loc[MMCSE, "Type@AV"] == pytest.approx(expected["evt_type"])
    low = frame(run_app(ckpt_pick=MMCSE, segment_threshold=0.1, video_threshold=0.1), "Type@AV")
    assert low.iloc[0].to_dict() != segment.iloc[0].to_dict()
    assert low.iloc[1:].equals(segment.iloc[1:])  # reference rows do not depend on thresholds
    assert not any("embedded demo" in i.value for i in at.info)  # the fixture is not the demo


def test_overview_per_class_table_sweep_and_pr_curves(run_app, fx):
    at = run_app(ckpt_pick=MMCSE)
    assert at.radio(key="per_class_view").value == "F by modality"  # one view drawn at a time
    assert not [c for c in at.caption if "Best seg Type@AV" in c.value]
    at.radio(key="per_class_view").set_value("Table: F, precision, recall, support").run()
    table = frame(at, "support", "precision", "recall")  # segment level, audio
    data, preds, (pred_a, pred_v) = fixture_predictions(fx)
    counts = metrics.per_class_f(pred_a, pred_v, data.gt_audio, data.gt_visual)
    support = counts["tp_a"] + counts["fn_a"]
    assert table["support"].tolist() == support.astype(int).tolist()
    f = np.where(np.isnan(counts["a"]), np.nan, 100 * counts["a"])
    np.testing.assert_allclose(table["F"].to_numpy(float), f, equal_nan=True)
    bar = at.get("plotly_chart")
    assert bar, "no figure drawn"
    at.radio(key="per_class_view").set_value("Threshold sweep").run()
    sweep = analysis.threshold_sweep(preds, data.gt_audio, data.gt_visual, "mmcse")
    assert len(sweep) == 19 and sweep["threshold"].iloc[0] == pytest.approx(0.05)
    best = sweep.loc[sweep["seg_type"].idxmax()]
    assert any(f"Best seg Type@AV {best['seg_type']:.2f}" in c.value for c in at.caption)


def test_figures_download_in_the_sidebar_format(run_app):
    for image_format in ("png", "svg"):
        at = run_app(ckpt_pick=MMCSE, figure_format=image_format)
        configs = [json.loads(chart.proto.config) for chart in at.get("plotly_chart")]
        assert configs and all(c["toImageButtonOptions"]["format"] == image_format for c in configs)


# ----------------------------------------------------------------------------- Video parser


def test_video_parser_opens_on_the_showcase_clip_and_keeps_it_by_id(run_app, fx):
    data, preds, (pred_a, pred_v) = fixture_predictions(fx)
    table = browse.clip_table(data.filenames, data.label, pred_a, pred_v, data.gt_audio, data.gt_visual)
    showcase = browse.showcase_clip(table, data.gt_audio, data.gt_visual)
    at = run_app("video_parser", ckpt_pick=MMCSE)
    assert open_clip(at) == showcase
    assert at.query_params["clip"] == [showcase] or at.query_params["clip"] == showcase
    clip_table = next(df for df in at.dataframe if "labels" in df.value.columns)
    columns = json.loads(clip_table.proto.columns)  # the column config sent to the browser
    assert columns["_index"]["pinned"] is True  # the clip id stays in view when the table scrolls sideways
    at.button(key="clip_next").click().run()
    following = browse.step_clip(data.filenames, showcase, +1)
    assert open_clip(at) == following
    # threshold, gating and filter changes keep the clip (its scores change, the id does not)
    for key, value in (("segment_threshold", 0.1), ("gating", "fused"), ("video_threshold", 0.2)):
        at.session_state[key] = value
        at.run()
        assert not at.exception and open_clip(at) == following
    at.text_input(key="clip_search").set_value("zzz-no-such-clip").run()
    assert open_clip(at) == following  # hidden by the filter, still open
    assert any("0 of" in c.value and "hidden by the filters" in c.value for c in at.caption)
    assert at.button(key="clip_prev").disabled and at.button(key="clip_next").disabled
    at.text_input(key="clip_search").set_value("").run()
    at.button(key="clip_prev").click().run()
    assert open_clip(at) == showcase


def test_video_parser_filters_and_clip_scores(run_app, fx):
    data, preds, (pred_a, pred_v) = fixture_predictions(fx)
    table = browse.clip_table(data.filenames, data.label, pred_a, pred_v, data.gt_audio, data.gt_visual)
    at = run_app("video_parser", ckpt_pick=MMCSE)
    shown = next(d for d in at.dataframe if "labels" in d.value.columns).value
    assert list(shown.index) == list(table.index)
    np.testing.assert_allclose(shown["seg Type@AV"].to_numpy(float), table["seg Type@AV"].to_numpy(float))
    at.selectbox(key="clip_errors").set_value("false negatives").run()
    shown = next(d for d in at.dataframe if "labels" in d.value.columns).value
    expected = table.index[(table["FN audio"] + table["FN visual"]) > 0].tolist()
    assert list(shown.index) == expected
    clip = open_clip(at)
    row = data.filenames.index(clip)
    scores = metrics.avvp_scores(pred_a[row : row + 1], pred_v[row : row + 1], data.gt_audio[row : row + 1], data.gt_visual[row : row + 1])
    assert frame(at, "Seg Type@AV", index="this clip").loc["this clip", "Seg Type@AV"] == pytest.approx(scores["seg_type"])
    assert [b.label for b in at.get("download_button") if b.label.startswith("Events")] == ["Events TSV", "Events JSON"]


def test_permalink_restores_clip_split_thresholds_and_gating(run_app, fx):
    val_names = read_weak_labels(fx.data / "AVVP_val_pd.csv")[0]
    query = {"clip": val_names[3], "split": "val", "seg": "0.30", "vid": "0.40", "gating": "fused", "ckpt": HAN}
    at = run_app("video_parser", query=query)
    assert open_clip(at) == val_names[3]
    assert at.session_state["split"] == "val" and at.session_state["gating"] == "fused"
    assert at.session_state["segment_threshold"] == pytest.approx(0.3)
    assert at.session_state["video_threshold"] == pytest.approx(0.4)
    assert at.session_state["ckpt_pick"] == HAN
    # a clip that is not in the split is said, and another opens
    at = run_app("video_parser", query={"clip": "no_such_clip_0_10"}, ckpt_pick=MMCSE)
    assert any("no_such_clip_0_10" in w.value for w in at.warning)
    assert open_clip(at) != "no_such_clip_0_10"


def test_empty_split_is_explained_without_blaming_the_checkpoint(run_app, fx, tmp_path):
    import shutil

    root = tmp_path / "data"
    shutil.copytree(fx.data, root, ignore=shutil.ignore_patterns("runs"))
    (root / "AVVP_train.csv").write_text("filename\tevent_labels\n")
    at = run_app(data_root=str(root), split="train", ckpt_source="Path", ckpt_path=str(fx.mmcse_checkpoint))
    messages = [w.value for w in at.warning] + [e.value for e in at.error]
    assert any("train split" in m and "has no clips" in m and "Choose val or test" in m for m in messages), messages
    assert not any("Cannot load the checkpoint" in m for m in messages)


# ----------------------------------------------------------------------------- Class features, Co-occurrence


def test_tsne_runs_from_the_form_and_colour_changes_do_not_recompute(run_app, monkeypatch):
    calls = []
    real = analysis.tsne_embed
    monkeypatch.setattr(analysis, "tsne_embed", lambda *a, **k: calls.append(1) or real(*a, **k))
    at = run_app("class_features", ckpt_pick=MMCSE)
    assert any("press **Run t-SNE**" in i.value for i in at.info)  # nothing runs before the button
    at.number_input(key="tsne_points").set_value(200)
    at.button(key="tsne_run").click().run()  # the form's Run button
    assert not at.exception, [e.value for e in at.exception]
    caption = next(c.value for c in at.caption if "points from the test split" in c.value)
    assert 0 < int(caption.split()[0]) <= 200 and "10-NN class agreement" in caption
    assert len(calls) == 1
    for colour in ("modality", "active", "class"):
        at.radio(key="tsne_color").set_value(colour).run()
        assert not at.exception
    assert len(calls) == 1  # colours redraw the cached embedding


def test_cooccurrence_page_shows_agreement_views_and_exports(run_app, fx):
    at = run_app("cooccurrence", ckpt_pick=MMCSE)
    assert [o.split(":")[0] for o in at.radio(key="map_name").options] == ["aa", "av", "vv", "va"]
    shown = {m.label.split(":")[0]: m.value for m in at.metric}
    assert set(shown) == {"aa", "av", "vv", "va"}
    from mmcse.inference import Parser

    data, _, _ = fixture_predictions(fx)
    assert at.radio(key="map_segments").value == "row class active"  # the measure the demo build reports
    parser = Parser.from_checkpoint(fx.mmcse_checkpoint)
    learned = analysis.cooccurrence_maps(parser, data, only_active=True)
    expected = analysis.map_agreement(learned, analysis.annotation_cooccurrence(data))
    for key, value in expected.items():
        assert shown[key] == ("n/a" if np.isnan(value) else f"{value:.2f}")
    top = frame(at, "row class", "column class")
    assert len(top) == 10 and (top["row class"] != top["column class"]).all()
    assert [b.label for b in at.get("download_button")] == ["PNG of the map shown", "SVG of the map shown", "CSV of the map shown"]
    for view in ("learned beside annotations", "learned, raw", "learned − annotations"):
        at.radio(key="map_view").set_value(view).run()
        assert not at.exception
    at.radio(key="map_segments").set_value("all").run()
    every_segment = analysis.map_agreement(analysis.cooccurrence_maps(parser, data), analysis.annotation_cooccurrence(data))
    shown = {m.label.split(":")[0]: m.value for m in at.metric}
    assert all(shown[k] == ("n/a" if np.isnan(v) else f"{v:.2f}") for k, v in every_segment.items())


def test_han_checkpoint_is_explained_on_mmcse_only_pages(run_app):
    for page in ("cooccurrence", "class_features"):
        at = run_app(page, ckpt_pick=HAN)
        assert any("only MM-CSE" in i.value for i in at.info)


# ----------------------------------------------------------------------------- Compare


def test_compare_uses_each_checkpoints_own_gating_and_labels_deltas(run_app, fx):
    at = run_app("compare", gating="modality")
    picked = at.multiselect(key="compare_pick").value
    assert picked == [MMCSE, HAN]
    assert any(f"**{MMCSE}**: mmcse" in c.value and f"**{HAN}**: fused" in c.value for c in at.caption)
    paired = frame(at, "B − A")
    assert "B − A" in paired.columns and f"A: {MMCSE}" in paired.columns
    assert any(h.value == f"B − A: {HAN} minus {MMCSE}" for h in at.subheader)
    from mmcse.inference import Parser

    data, preds_a, bin_a = fixture_predictions(fx)
    preds_b = Parser.from_checkpoint(fx.han_checkpoint).predict_split(data)
    expected = stats.paired_scores(*bin_a, *preds_b.binary("fused"), data.gt_audio, data.gt_visual, n_resamples=1000, seed=0)
    assert paired.loc["Seg Type@AV", "B − A"] == pytest.approx(expected["seg_type"]["delta"])
    # switched: the sidebar's gating for all
    at.radio(key="compare_gating").set_value("the sidebar's gating for all").run()
    assert any(f"**{HAN}**: modality" in c.value for c in at.caption)
    assert at.query_params["cmp_gating"] in ("sidebar", ["sidebar"])


def test_compare_training_curves_and_disagreements(run_app):
    at = run_app("compare")
    assert at.selectbox(key="curve_column").value == "val_seg_type"
    disagree = frame(at, "differing segments")
    assert len(disagree) > 0 and (np.diff(disagree["differing segments"].to_numpy()) <= 0).all()


# ----------------------------------------------------------------------------- errors and first use


def test_bad_inputs_show_messages_not_tracebacks(run_app, fx, tmp_path):
    at = run_app(ckpt_source="Path", ckpt_path=str(fx.other_checkpoint))  # another feature spec
    assert any("'other' features" in e.value for e in at.error)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x00garbage" * 10)
    at = run_app(ckpt_source="Path", ckpt_path=str(broken))  # a corrupted file
    assert any("Cannot load the checkpoint" in e.value and "broken.safetensors" in e.value for e in at.error)
    at = run_app(data_root=str(tmp_path))  # a folder without the CSVs
    assert any("AVVP_val_pd.csv" in e.value for e in at.error)
    (tmp_path / "AVVP_test_pd.csv").write_text((fx.data / "AVVP_test_pd.csv").read_text())
    at = run_app(data_root=str(tmp_path), ckpt_source="Path", ckpt_path=str(fx.mmcse_checkpoint))  # no features
    assert any("feats not found" in e.value for e in at.error), [e.value for e in at.error]


def test_upload_messages_name_the_users_file_not_the_stored_one(tmp_path, monkeypatch):
    from pages import _context as context

    monkeypatch.setattr(context, "UPLOAD_DIR", tmp_path)

    class Upload:
        name = "my model (v2).safetensors"

        def getvalue(self):
            return b"not really a checkpoint"

    stored = context.save_upload(Upload())
    assert stored.parent == tmp_path and stored.name != Upload.name and stored.suffix == ".safetensors"
    assert context.display_name(stored) == Upload.name
    message = context.user_message(f"{stored}: header too short; {stored.name} is not a safetensors file")
    assert stored.name not in message and message.count(Upload.name) == 2


def test_first_run_without_data_shows_the_command(monkeypatch, tmp_path):
    monkeypatch.setenv("MMCSE_DATA_ROOT", str(tmp_path / "nothing"))
    monkeypatch.setenv("MMCSE_RUNS", str(tmp_path / "nothing"))
    monkeypatch.setenv("MMCSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT)
    at.session_state["data_root"] = ""
    at = at.run()
    assert not at.exception
    assert any("python -m mmcse demo" in i.value for i in at.info)


@pytest.mark.slow
def test_first_use_on_the_shipped_demo(monkeypatch, tmp_path):
    """The compact demo: the Overview says it is a procedural demo with simulated pseudo labels, and the
    Video parser opens on the best test clip with events in both modalities, its video rendered on demand
    when it was not shipped."""
    demo = REPO / "assets" / "demo"
    monkeypatch.setenv("MMCSE_DATA_ROOT", str(demo))
    monkeypatch.setenv("MMCSE_RUNS", str(demo / "runs"))
    monkeypatch.setenv("MMCSE_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(REPO)
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception
    notice = next(i.value for i in at.info if "embedded demo" in i.value)
    assert "simulated" in notice and "not LLP" in notice
    at.switch_page("pages/video_parser.py").run()
    assert not at.exception
    from mmcse.data.paths import DataPaths
    from mmcse.data.splits import open_split
    from mmcse.inference import Parser

    parser = Parser.from_checkpoint(demo / "runs" / "mmcse" / "best.safetensors")
    data = open_split(DataPaths.from_root(demo, parser.feature_spec, use_pseudo_labels=False), "test")
    pred_a, pred_v = parser.predict_split(data).binary(parser.gating)
    table = browse.clip_table(data.filenames, data.label, pred_a, pred_v, data.gt_audio, data.gt_visual, [True] * len(data))
    assert open_clip(at) == browse.showcase_clip(table, data.gt_audio, data.gt_visual)
    assert not any("No video" in str(c.value) for c in at.caption)


def values(x) -> np.ndarray:
    """A plotly JSON array: a list, or {"dtype", "bdata"} (plotly's base64 typed array)."""
    if isinstance(x, dict) and "bdata" in x:
        import base64

        return np.frombuffer(base64.b64decode(x["bdata"]), dtype=x["dtype"]).astype(float)
    return np.array(x, dtype=float)


def chart(at: AppTest, key_part: str) -> dict:
    """The plotly figure (as JSON) of the chart whose download file name contains ``key_part``."""
    for element in at.get("plotly_chart"):
        config = json.loads(element.proto.config)
        if key_part in config["toImageButtonOptions"]["filename"]:
            return json.loads(element.proto.spec)
    raise AssertionError(f"no chart named like {key_part}")


def test_video_parser_class_and_modality_filters_and_all_classes(run_app, fx):
    from mmcse.classes import class_index

    data, _, (pred_a, pred_v) = fixture_predictions(fx)
    table = browse.clip_table(data.filenames, data.label, pred_a, pred_v, data.gt_audio, data.gt_visual)
    at = run_app("video_parser", ckpt_pick=MMCSE)
    cls = next(c for c in ("Dog", "Speech", "Car", "Cat") if data.label[:, class_index(c)].any())
    at.multiselect(key="clip_classes").set_value([cls]).run()
    at.selectbox(key="clip_modality").set_value("visual").run()
    shown = frame(at, "labels", "video")
    expected = browse.filter_clips(table, data.label, pred_a, pred_v, data.gt_audio, data.gt_visual,
                                   classes=[class_index(cls)], modality="visual")  # fmt: skip
    assert list(shown.index) == expected
    assert len(chart(at, "_probabilities")["data"][0]["y"]) < 25
    at.checkbox(key="heatmap_all").check().run()
    assert len(chart(at, "_probabilities")["data"][0]["y"]) == 25


def test_overview_levels_tables_and_pr_curves_follow_their_widgets(run_app, fx):
    data, preds, (pred_a, pred_v) = fixture_predictions(fx)
    at = run_app(ckpt_pick=MMCSE)
    at.radio(key="per_class_level").set_value("event").run()
    event_f = metrics.per_class_f(pred_a, pred_v, data.gt_audio, data.gt_visual, level="event")["a"]
    bar = chart(at, "per_class_f_event")["data"][0]
    np.testing.assert_allclose(values(bar["y"]), 100 * event_f, equal_nan=True)
    at.radio(key="per_class_view").set_value("Table: F, precision, recall, support").run()
    at.radio(key="table_level").set_value("event").run()
    at.radio(key="table_modality").set_value("visual").run()
    counts = metrics.per_class_f(pred_a, pred_v, data.gt_audio, data.gt_visual, level="event")
    assert frame(at, "support", "precision")["support"].tolist() == (counts["tp_v"] + counts["fn_v"]).astype(int).tolist()
    at.radio(key="per_class_view").set_value("Precision-recall").run()
    at.radio(key="pr_modality").set_value("visual").run()
    curves = analysis.pr_curves(preds, data.gt_audio, data.gt_visual, "mmcse", "visual",
                                [metrics.LLP_CLASSES.index(c) for c in at.multiselect(key="pr_classes").value])  # fmt: skip
    names = [t["name"] for t in chart(at, "pr_visual")["data"] if t.get("mode") == "lines"]
    assert names == [f"{n} (AP {100 * c['ap']:.1f})" for n, c in curves.items()]


def test_compare_delta_modality_curve_column_and_clip(run_app, fx):
    from mmcse.inference import Parser

    data, _, bin_a = fixture_predictions(fx)
    bin_b = Parser.from_checkpoint(fx.han_checkpoint).predict_split(data).binary("fused")
    at = run_app("compare")
    at.radio(key=f"delta_mod_{HAN}").set_value("v").run()
    fa = metrics.per_class_f(*bin_a, data.gt_audio, data.gt_visual)["v"]
    fb = metrics.per_class_f(*bin_b, data.gt_audio, data.gt_visual)["v"]
    bar = chart(at, "per_class_delta")["data"][0]
    assert bar["name"] == f"B − A ({HAN} − {MMCSE})"
    expected = np.nan_to_num(fb) - np.nan_to_num(fa)
    expected[np.isnan(fa) & np.isnan(fb)] = np.nan
    np.testing.assert_allclose(values(bar["y"]), 100 * expected, equal_nan=True)
    at.selectbox(key="curve_column").set_value("train_loss").run()
    curves = {t["name"]: t["y"] for t in chart(at, "training_train_loss")["data"]}
    assert values(curves["tiny_mmcse"]) == pytest.approx([1.0, 0.5, 0.333])  # one curve per run folder
    options = at.selectbox(key="compare_clip").options
    at.selectbox(key="compare_clip").set_value(options[-1]).run()
    assert not at.exception


def test_an_uploaded_video_is_named_as_the_user_named_it(run_app, fx):
    """(A sidebar upload cannot be driven by AppTest under st.navigation; `save_upload` / `user_message` are
    checked above and the browser test uploads through the page.)"""
    import hashlib

    video = b"this is a text file, not a video\n"
    demo_checkpoint = REPO / "assets" / "demo" / "runs" / "mmcse" / "best.safetensors"  # its features extract offline
    at = run_app("video_parser", ckpt_source="Path", ckpt_path=str(demo_checkpoint), parser_source="Upload a video")
    at.file_uploader(key="video_upload").set_value(("notes.mp4", video, "video/mp4")).run()
    errors = [e.value for e in at.error]
    # the reader's message names the stored file; the user sees their own name in its place
    assert any(e.startswith("Cannot parse notes.mp4: notes.mp4: not a video file") for e in errors), errors
    assert not any(hashlib.sha256(video).hexdigest()[:16] in e for e in errors)


def test_a_split_change_opens_that_splits_showcase_without_a_warning(run_app, fx):
    at = run_app("video_parser", ckpt_pick=MMCSE)
    test_clip = open_clip(at)
    at.session_state["split"] = "val"
    at.run()
    val_names = read_weak_labels(fx.data / "AVVP_val_pd.csv")[0]
    assert not at.exception and open_clip(at) in val_names and open_clip(at) != test_clip
    assert not at.warning  # the user changed the split: nothing to warn about


# ----------------------------------------------------------------------------- issue 19: real data


def test_results_are_computed_once_for_every_page_and_after_a_restart(run_app, fx, monkeypatch, tmp_path):
    """One model pass per checkpoint and split, shared by the pages, kept on disk: after a "server restart"
    (the process's jobs forgotten) the pages read the files and the model never runs again."""
    from mmcse import prediction_cache

    calls = []
    compute = prediction_cache.compute
    monkeypatch.setattr(prediction_cache, "compute", lambda *a, **k: calls.append(1) or compute(*a, **k))
    monkeypatch.setattr(prediction_cache, "_JOBS", {})
    monkeypatch.setenv("MMCSE_CACHE", str(tmp_path / "cache"))  # empty: the first page computes
    for page in ("overview", "video_parser", "cooccurrence", "class_features"):
        run_app(page, split="val", ckpt_pick=MMCSE)
    assert len(calls) == 1
    files = sorted(p.name for p in (tmp_path / "cache").iterdir() if p.suffix != ".parquet")  # error tables apart
    assert len(files) == 2 and files[0].endswith(".features.safetensors") and files[1] == files[0].split(".")[0] + ".safetensors"
    monkeypatch.setattr(prediction_cache, "_JOBS", {})  # a new server process
    at = run_app("overview", split="val", ckpt_pick=MMCSE)
    assert len(calls) == 1
    data, _, (pred_a, pred_v) = fixture_predictions(fx, split="val")
    expected = metrics.avvp_scores(pred_a, pred_v, data.gt_audio, data.gt_visual)
    assert frame(at, "Type@AV", "Event@AV").loc[MMCSE, "Type@AV"] == pytest.approx(expected["seg_type"])


def test_a_run_folder_or_a_path_outside_the_runs_folder_opens_and_stays_in_the_url(run_app, fx, tmp_path):
    at = run_app(ckpt_source="Path", ckpt_path=str(fx.runs / "tiny_han"))  # a run folder: its best.safetensors
    assert not at.sidebar.error and any("Checkpoint: tiny_han/best.safetensors" in s.value for s in at.subheader)
    assert at.query_params["ckpt"] in ("tiny_han/best.safetensors", ["tiny_han/best.safetensors"])
    outside = tmp_path / "elsewhere" / "run7"
    outside.mkdir(parents=True)
    (outside / "last.safetensors").write_bytes(fx.mmcse_checkpoint.read_bytes())
    at = run_app(query={"ckpt": str(outside)})  # a permalink to a checkpoint outside the data root
    assert not any("No checkpoint chosen" in i.value for i in at.info)
    assert any("Checkpoint: run7/last.safetensors" in s.value for s in at.subheader)
    assert at.query_params["ckpt"] in (str(outside / "last.safetensors"), [str(outside / "last.safetensors")])
    at = run_app(ckpt_source="Path", ckpt_path=str(tmp_path / "elsewhere"))  # a folder of runs: its first
    assert any("Checkpoint: run7/last.safetensors" in s.value for s in at.subheader)
    (tmp_path / "empty").mkdir()
    at = run_app(ckpt_source="Path", ckpt_path=str(tmp_path / "empty"))  # a folder without a checkpoint
    assert any("without a checkpoint" in e.value for e in at.sidebar.error)
    at = run_app(runs_dir=str(tmp_path / "nowhere"))
    assert any("Runs folder" in e.value and "does not exist" in e.value for e in at.sidebar.error)
    assert any("No checkpoint chosen: none was found in the runs folder" in i.value and "MMCSE_RUNS" in i.value for i in at.info)


def test_a_checkpoint_of_other_features_says_which_of_the_two_to_change(run_app, fx):
    at = run_app(ckpt_source="Path", ckpt_path=str(fx.other_checkpoint))
    message = next(e.value for e in at.error if "Change one of the two" in e.value)
    assert "needs 'other' features (other_audio" in message and str(fx.data / "feats") in message
    assert "choose a checkpoint trained on the features it holds" in message and "Feature folder" in message


def test_a_model_that_predicts_nothing_is_flagged(run_app, fx):
    data, preds, (pred_a, pred_v) = fixture_predictions(fx, seg=0.95, vid=0.95)
    assert not pred_a.any() and not pred_v.any()  # the precondition: nothing reaches 0.95
    at = run_app(ckpt_pick=MMCSE, segment_threshold=0.95, video_threshold=0.95)
    warning = next(w.value for w in at.warning if "predicts no event" in w.value)
    assert f"{float(preds.segment_prob.max()):.3f}" in warning
    assert not any("predicts no event" in w.value for w in run_app(ckpt_pick=MMCSE).warning)


def test_the_video_parser_view_is_a_url_and_j_k_follow_the_shown_order(run_app, fx):
    data, _, (pred_a, pred_v) = fixture_predictions(fx)
    table = browse.clip_table(data.filenames, data.label, pred_a, pred_v, data.gt_audio, data.gt_visual)
    query = {"sort": "seg Type@AV", "desc": "1", "errors": "any error", "mode": "errors", "zoom": "2"}
    at = run_app("video_parser", query=query, ckpt_pick=MMCSE)
    assert at.selectbox(key="clip_sort").value == "seg Type@AV" and at.toggle(key="clip_desc").value is True
    assert at.selectbox(key="clip_errors").value == "any error"
    ids = browse.filter_clips(table, data.label, pred_a, pred_v, data.gt_audio, data.gt_visual, error="any error")
    ids = browse.sort_clips(table, ids, "seg Type@AV", descending=True)
    shown = next(d for d in at.dataframe if "labels" in d.value.columns).value
    assert list(shown.index) == ids
    first = open_clip(at)
    at.button(key="clip_next").click().run()
    assert open_clip(at) == browse.step_clip(ids, first, +1)
    params = {k: at.query_params[k] for k in ("sort", "desc", "errors", "mode", "zoom")}
    assert {k: v[0] if isinstance(v, list) else v for k, v in params.items()} == query
    at.text_input(key="clip_search").set_value("Dog").run()
    assert at.query_params["q"] in ("Dog", ["Dog"])
    overview = run_app(query={**query, "clip": first})  # another page: no stale clip or view parameters
    assert "clip" not in overview.query_params and "sort" not in overview.query_params


def test_figures_and_csvs_say_which_checkpoint_split_gating_and_thresholds_made_them(run_app, fx):
    import io

    import pandas as pd

    from mmcse.prediction_cache import file_sha256
    from pages import _context as context
    from pages import _widgets as widgets

    at = run_app(ckpt_pick=MMCSE, gating="fused", segment_threshold=0.4)
    title = chart(at, "ten_numbers")["layout"]["title"]["text"]
    for part in (MMCSE, "test split", "gating fused", "segment threshold 0.40", "video threshold 0.50"):
        assert part in title
    ctx = context.Context(checkpoint=fx.mmcse_checkpoint, data_root=fx.data, split="val", gating="modality",
                          segment_threshold=0.3, video_threshold=0.6)  # fmt: skip
    header = widgets.csv_header(ctx)
    assert f"sha256 {file_sha256(fx.mmcse_checkpoint)}" in header
    for line in ("# split: val", "# gating: modality", "# segment_threshold: 0.30", "# video_threshold: 0.60"):
        assert line in header
    table = pd.read_csv(io.StringIO(header + "class,F\nDog,1.0\n"), comment="#")
    assert list(table.columns) == ["class", "F"]  # the header lines do not get in the way of a reader


def test_a_video_folder_that_does_not_exist_is_said_and_a_stale_pause_is_not_shown(run_app, fx, tmp_path):
    from pages import _widgets as widgets

    at = run_app("video_parser", ckpt_pick=MMCSE, video_dir=str(tmp_path / "no_videos"))
    assert any("no_videos does not exist" in c.value for c in at.sidebar.caption)

    class Result:
        time = {"time": 3.0, "clip": "a_0_10"}

    assert widgets.paused_time(Result(), "a_0_10") == 3.0
    assert widgets.paused_time(Result(), "b_0_10") is None  # after j: the pause was in another clip


def test_pages_reading_cached_results_do_not_import_torch():
    """The app's shared modules (cache, widgets, context, navigation) and the device check import no torch
    where there is no GPU driver, nor do the media lanes (the log-mel is numpy): a page read from the results
    cache opens without loading it (about 1.4 s of CPU); torch loads with the first model."""
    code = (
        "import sys; sys.path.insert(0, '.'); import pages._cache, pages._widgets, pages._context, pages._nav;"
        "from mmcse.utils.device import gpu_driver_present; gpu_driver_present();"
        "from mmcse import prediction_cache, browse, analysis, predictions, media_view;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"


# ----------------------------------------------------------------------------- error analysis


def grid_values(z) -> np.ndarray:
    """A plotly 2-D JSON array: a list of rows (None for a blank cell) or one typed array with a shape."""
    if isinstance(z, dict) and "bdata" in z:
        shape = z["shape"] if isinstance(z["shape"], list) else [int(n) for n in str(z["shape"]).split(",")]
        return values(z).reshape(shape)
    return np.array([values(r) if isinstance(r, dict) else [np.nan if v is None else v for v in r] for r in z], float)


def fixture_errors(fx, pred_a, pred_v):
    from mmcse.error_analysis import split_error_table

    data, _, _ = fixture_predictions(fx)
    return data, split_error_table(pred_a, pred_v, data.gt_audio, data.gt_visual, data.filenames)


def test_video_parser_shows_each_events_error_kind_and_filters_clips_by_kind_and_class(run_app, fx):
    from mmcse import viz
    from mmcse.classes import class_index
    from mmcse.error_analysis import KIND_NAMES, classify_events, clip_error_kinds

    data, _, (pred_a, pred_v) = fixture_predictions(fx)
    data, events = fixture_errors(fx, pred_a, pred_v)
    at = run_app("video_parser", ckpt_pick=MMCSE)
    clip = open_clip(at)
    row = data.filenames.index(clip)
    shown = frame(at, "side", "kind", "onset error")
    expected = viz.event_error_table(classify_events(pred_a[row], pred_v[row], data.gt_audio[row], data.gt_visual[row]))
    columns = ["side", "class", "modality", "onset", "offset", "kind"]
    assert shown[columns].astype(str).values.tolist() == expected.astype({"onset": int, "offset": int})[columns].astype(str).values.tolist()
    errors = [f"{v:+.0f}" if v == v and v is not None else "" for v in expected["onset error"].astype(float)]
    assert shown["onset error"].tolist() == errors  # signed seconds; blank where there is no one-to-one match
    assert len(shown) > 0 and set(shown["kind"]) <= set(KIND_NAMES.values())
    table = frame(at, "labels", "missed")
    counts = clip_error_kinds(events).reindex(data.filenames, fill_value=0)
    assert table["missed"].tolist() == counts["missed"].tolist()
    assert table["wrong modality"].tolist() == counts["wrong_modality"].tolist()
    # the error filter takes a kind and combines it with the class filter: clips with a missed <class>
    kind, label = next((k, lab) for k in ("missed", "inserted", "substitution") for lab in events.loc[events["kind"] == k, "label"])
    at.selectbox(key="clip_errors").set_value(KIND_NAMES[kind]).run()
    with_kind = sorted(set(events.loc[events["kind"] == kind, "filename"]))
    assert sorted(frame(at, "labels", "missed").index) == with_kind
    at.multiselect(key="clip_classes").set_value([label]).run()
    both = set(events.loc[(events["kind"] == kind) & (events["label"] == label), "filename"])
    assert set(frame(at, "labels", "missed").index) == both and both
    table = browse.clip_table(data.filenames, data.label, pred_a, pred_v, data.gt_audio, data.gt_visual)
    assert list(frame(at, "labels", "missed").index) == browse.filter_clips(
        table, data.label, pred_a, pred_v, data.gt_audio, data.gt_visual, classes=[class_index(label)],
        error=KIND_NAMES[kind])  # fmt: skip
    assert at.query_params["errors"] in (KIND_NAMES[kind], [KIND_NAMES[kind]])  # the view stays a URL


def test_overview_error_counts_and_confusions_are_the_librarys(run_app, fx):
    from mmcse.error_analysis import KIND_NAMES, class_confusion, kind_counts, modality_confusion

    data, _, (pred_a, pred_v) = fixture_predictions(fx)
    data, events = fixture_errors(fx, pred_a, pred_v)
    at = run_app(ckpt_pick=MMCSE)
    shown = frame(at, "audio GT", "visual predicted")
    expected = kind_counts(events)
    assert list(shown.index) == [KIND_NAMES[k] for k in expected.index]
    np.testing.assert_array_equal(shown.to_numpy(), expected.to_numpy())
    bars = chart(at, "error_kinds_test")
    audio_gt = next(t for t in bars["data"] if t["name"] == "audio" and t.get("xaxis", "x") == "x")
    assert values(audio_gt["y"]).tolist() == [expected.loc[k, "audio GT"] for k in expected.index if k != "inserted"]
    assert "Events by kind (CSV)" in [b.proto.label for b in at.get("download_button")]  # its lines: the browser test
    at.radio(key="error_view").set_value("Modality confusion").run()
    heat = chart(at, "modality_confusion_test")["data"][0]
    np.testing.assert_array_equal(grid_values(heat["z"]),
                                  modality_confusion(pred_a, pred_v, data.gt_audio, data.gt_visual).to_numpy())  # fmt: skip
    at.radio(key="error_view").set_value("Class confusion").run()
    assert not at.exception
    heat = chart(at, "class_confusion_test")["data"][0]
    z = grid_values(heat["z"])
    matrix = class_confusion(pred_a, pred_v, data.gt_audio, data.gt_visual).to_numpy(float)
    off = ~np.eye(25, 26, dtype=bool)
    np.testing.assert_array_equal(np.nan_to_num(z[off]), matrix[off])  # the substitutions; zeros are blank
    assert np.isnan(z[~off]).all()  # and so is the diagonal
    assert any("Click a cell" in c.value for c in at.caption)


def test_tags_and_notes_are_saved_shown_filtered_and_outlive_the_session(run_app, fx):
    from mmcse.curation import TagStore

    tag_file = fx.data / "mmcse_tags.json"
    try:
        at = run_app("video_parser", ckpt_pick=MMCSE)
        clip = open_clip(at)
        at.multiselect(key=f"curate_tags::{clip}").set_value(["bad GT", "hard"]).run()
        at.text_area(key=f"curate_note::{clip}").set_value("the dog is off screen").run()
        assert not at.exception
        saved = TagStore.load(tag_file)
        assert saved.tags(clip) == ["bad GT", "hard"] and saved.note(clip) == "the dog is off screen"
        shown = frame(at, "labels", "tags")
        assert shown.loc[clip, "tags"] == "bad GT, hard" and (shown.drop(index=clip)["tags"] == "").all()
        # a new session (a restarted server reads the same file): the editor, the column and the filter
        again = run_app("video_parser", ckpt_pick=MMCSE)
        assert open_clip(again) == clip and again.multiselect(key=f"curate_tags::{clip}").value == ["bad GT", "hard"]
        assert again.text_area(key=f"curate_note::{clip}").value == "the dog is off screen"
        assert again.multiselect(key="clip_tag_filter").options == ["bad GT", "hard"]
        again.multiselect(key="clip_tag_filter").set_value(["hard"]).run()
        assert list(frame(again, "labels", "tags").index) == [clip]
        assert again.query_params["tags"] in ("hard", ["hard"])  # the tag filter is part of the view's URL
        linked = run_app("video_parser", query={"tags": "hard"}, ckpt_pick=MMCSE)  # a permalink opens filtered
        assert linked.multiselect(key="clip_tag_filter").value == ["hard"]
        assert list(frame(linked, "labels", "tags").index) == [clip]
        downloads = {d.proto.label: d.proto for d in again.get("download_button")}
        for label in ("Clip list CSV", "Clip list JSON", "Split CSV (LLP)"):  # made on click (the browser test reads one)
            assert not downloads[label].disabled and downloads[label].deferred_file_id
        again.text_input(key="clip_search").set_value("no such clip").run()  # combined with the other filters
        assert len(frame(again, "labels", "tags")) == 0
        # a hand-edited broken file: one line, the app still runs, the file is left as it is
        tag_file.write_text("{broken")
        broken = run_app("video_parser", ckpt_pick=MMCSE)
        assert any("mmcse_tags.json:1: not valid JSON" in e.value for e in broken.error)
        assert tag_file.read_text() == "{broken"
    finally:
        for leftover in fx.data.glob("mmcse_tags.json*"):
            leftover.unlink()


def test_the_error_table_is_kept_beside_the_results_and_read_back_the_same(run_app, fx, tmp_path, monkeypatch):
    """The split's error table (every event with its kind) is stored in the results cache as Parquet, per
    gating and thresholds, so that a restarted server reads it instead of classifying again; what it reads
    equals error_analysis.split_error_table on the same predictions."""
    import pandas as pd
    import streamlit as st

    from mmcse.error_analysis import split_error_table

    monkeypatch.setenv("MMCSE_CACHE", str(tmp_path / "cache"))  # this checkpoint and split alone
    st.cache_data.clear()  # tables an earlier test computed in this process are not read from memory
    run_app("overview", ckpt_pick=MMCSE)
    stored = sorted((tmp_path / "cache").glob("*.errors.mmcse.0.5000.0.5000.parquet"))
    assert len(stored) == 1
    data, _, (pred_a, pred_v) = fixture_predictions(fx)
    expected = split_error_table(pred_a, pred_v, data.gt_audio, data.gt_visual, data.filenames)
    pd.testing.assert_frame_equal(pd.read_parquet(stored[0]), expected)


def test_grid_view_shows_the_filtered_clips_pictures_and_opens_one_and_the_media_lanes_read_once(run_app, fx, tmp_path):
    from helpers.app_fixture import write_test_video

    from pages import _widgets as widgets

    clips = read_weak_labels(fx.data / "AVVP_test_pd.csv")[0]
    videos = tmp_path / "videos"
    write_test_video(videos / f"{clips[1]}.mp4")
    at = run_app("video_parser", ckpt_pick=MMCSE, video_dir=str(videos), query={"clip": clips[0]})
    assert open_clip(at) == clips[0]
    at.toggle(key="clip_grid").set_value(True).run()
    assert not at.exception, [e.value for e in at.exception]
    assert len([e for e in at.main if getattr(e, "type", "") == "image"]) == 1  # only the clip with a video
    assert at.button(key=f"grid_open_{clips[0]}").disabled  # the open clip
    at.button(key=f"grid_open_{clips[1]}").click().run()
    assert open_clip(at) == clips[1]
    # the search filters the grid as it filters the table
    at.text_input(key="clip_search").set_value(clips[3]).run()
    assert [b.key for b in at.button if b.key and b.key.startswith("grid_open_")] == [f"grid_open_{clips[3]}"]
    # the timeline's audio & frames: 10 thumbnails, a spectrogram over the 10 s; a file that is not a video: one line
    media, note = widgets.clip_media(videos / f"{clips[1]}.mp4")
    assert note == "" and len(media["frames"]) == 10 and media["audio_seconds"] == 10.0 and media["has_audio"]
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 50)
    media, note = widgets.clip_media(junk)
    assert media is None and "junk.mp4" in note and "cannot read it as a video" in note and "\n" not in note
