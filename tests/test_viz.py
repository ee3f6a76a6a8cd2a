"""mmcse.viz: pure figure builders checked on small hand-made arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmcse import viz
from mmcse.classes import LLP_CLASSES, class_index

DOG, CAR, SPEECH = class_index("Dog"), class_index("Car"), class_index("Speech")


def test_runs_of_gives_half_open_runs():
    assert viz.runs_of(np.array([1, 1, 0, 0, 1, 0, 0, 0, 1, 1])) == [(0, 2), (4, 5), (8, 10)]
    assert viz.runs_of(np.zeros(10)) == []
    assert viz.runs_of(np.ones(10)) == [(0, 10)]


def test_metrics_table_and_bar_keep_row_order_and_values():
    rows = {"model": {k: float(i) for i, k in enumerate(viz.METRIC_KEYS)}, "nothing": {"seg_a": 0.5}}
    table = viz.metrics_table(rows)
    assert list(table.index) == ["model", "nothing"]
    assert table.loc["model", "Seg Type@AV"] == 3.0
    assert table.loc["model", "Evt Event@AV"] == 9.0
    assert table.loc["nothing", "Seg A"] == 0.5 and np.isnan(table.loc["nothing", "Seg V"])
    fig = viz.metrics_bar(rows)
    assert [t.name for t in fig.data] == ["model", "nothing"]
    assert list(fig.data[0].y) == [float(i) for i in range(10)]


def make_clip():
    pred_a = np.zeros((10, 25), np.uint8)
    pred_v = np.zeros((10, 25), np.uint8)
    gt_a = np.zeros((10, 25), np.uint8)
    gt_v = np.zeros((10, 25), np.uint8)
    pred_a[2:5, DOG] = 1
    pred_v[3:7, DOG] = 1
    gt_a[2:6, DOG] = 1
    gt_v[0:10, DOG] = 1
    gt_a[:, SPEECH] = 1
    prob = np.full((10, 2, 25), 0.1)
    prob[2:5, 0, DOG] = 0.9
    prob[3:7, 1, DOG] = 0.8
    return pred_a, pred_v, gt_a, gt_v, prob


def test_timeline_data_lanes_runs_and_av():
    pred_a, pred_v, gt_a, gt_v, prob = make_clip()
    data = viz.timeline_data(pred_a, pred_v, prob, gt_a, gt_v)
    assert data["duration"] == 10.0 and data["has_gt"]
    # lanes for the classes predicted or annotated: Speech and Dog, in class order, three modalities each
    labels = [(lane["modality"], lane["label"]) for lane in data["lanes"]]
    assert labels == [
        ("audio", "Speech"),
        ("audio", "Dog"),
        ("visual", "Speech"),
        ("visual", "Dog"),
        ("audio-visual", "Speech"),
        ("audio-visual", "Dog"),
    ]
    lanes = {(lane["modality"], lane["label"]): lane for lane in data["lanes"]}
    assert lanes["audio", "Dog"]["pred"] == [[2.0, 5.0]]
    assert lanes["audio", "Dog"]["gt"] == [[2.0, 6.0]]
    assert lanes["audio-visual", "Dog"]["pred"] == [[3.0, 5.0]]  # AND of audio [2,5) and visual [3,7)
    assert lanes["audio-visual", "Dog"]["gt"] == [[2.0, 6.0]]
    assert lanes["audio", "Speech"]["pred"] == [] and lanes["audio", "Speech"]["gt"] == [[0.0, 10.0]]
    assert lanes["audio-visual", "Dog"]["prob"][3] == pytest.approx(0.8)  # min(0.9, 0.8)
    # without GT the lanes carry no gt runs
    no_gt = viz.timeline_data(pred_a, pred_v, prob)
    assert not no_gt["has_gt"] and all(lane["gt"] is None for lane in no_gt["lanes"])


def test_timeline_data_long_video_and_figure():
    pred = np.zeros((30, 25), np.uint8)
    pred[8:12, CAR] = 1  # crosses the border between the first two 10-s windows: one run
    data = viz.timeline_data(pred, pred, np.zeros((30, 2, 25)), classes=[CAR])
    assert data["duration"] == 30.0
    assert data["lanes"][0]["pred"] == [[8.0, 12.0]]
    fig = viz.timeline_figure(data, current_time=4.0)
    assert [s.type for s in fig.layout.shapes] == ["rect"] * 3 + ["line"]  # a run per lane, the playhead
    assert list(fig.layout.yaxis.ticktext) == ["A Car", "V Car", "AV Car"]


def test_probability_heatmap_axes_and_markers():
    pred_a, pred_v, gt_a, gt_v, prob = make_clip()
    fig = viz.probability_heatmap(prob, "visual", gt=gt_v, pred=pred_v, classes=[SPEECH, DOG])
    heat = fig.data[0]
    assert list(heat.y) == ["Speech", "Dog"]
    assert np.asarray(heat.z).shape == (2, 10)
    assert np.asarray(heat.z)[1, 3] == pytest.approx(0.8)
    gt_trace = [t for t in fig.data if t.name == "ground truth"][0]
    assert len(gt_trace.x) == 10  # visual Dog on all 10 segments
    pred_trace = [t for t in fig.data if t.name == "predicted"][0]
    assert list(pred_trace.x) == [3, 4, 5, 6]


def test_cooccurrence_helpers():
    m = np.zeros((25, 25))
    m[DOG, CAR] = 5.0
    m[CAR, DOG] = 2.0
    m[SPEECH, SPEECH] = 9.0
    pairs = viz.top_pairs(m, k=2)
    assert list(pairs["row class"]) == ["Dog", "Car"] and list(pairs["column class"]) == ["Car", "Dog"]
    assert list(pairs["value"]) == [5.0, 2.0]
    assert viz.top_pairs(m, k=1, exclude_diagonal=False)["value"][0] == 9.0
    norm = viz.normalize_rows(m + np.eye(25))
    assert norm[DOG, CAR] == pytest.approx(5 / 6) and norm[SPEECH, SPEECH] == pytest.approx(1.0)
    csv = viz.matrix_csv(m)
    back = pd.read_csv(__import__("io").StringIO(csv), index_col=0)
    assert back.loc["Dog", "Car"] == 5.0 and list(back.columns) == list(LLP_CLASSES)
    fig = viz.cooccurrence_heatmap(m - m.T, diverging=True)
    assert fig.data[0].zmid == 0 and fig.data[0].zmax == 3.0 and fig.data[0].zmin == -3.0
    png = viz.matrix_png(m)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    near_uniform = np.full((25, 25), 0.04)
    near_uniform[0, 1] = 0.046
    assert viz.cooccurrence_heatmap(near_uniform).data[0].zmin == 0  # default scale starts at 0
    stretched = viz.cooccurrence_heatmap(near_uniform, stretch=True).data[0]
    assert stretched.zmin == pytest.approx(0.04) and stretched.zmax == pytest.approx(0.046)


def test_per_class_delta_handles_missing_classes():
    a = np.full(25, np.nan)
    b = np.full(25, np.nan)
    a[0], b[0] = 50.0, 60.0
    b[1] = 40.0  # class 1 only scored for B: counts as 0 for A
    delta = viz.per_class_delta(a, b)
    assert delta[0] == pytest.approx(10.0) and delta[1] == pytest.approx(40.0) and np.isnan(delta[2])


def test_tsne_figure_groups_and_hover():
    table = pd.DataFrame(
        {
            "clip": ["c1", "c1", "c2"],
            "segment": [0, 1, 5],
            "class": ["Dog", "Car", "background"],
            "modality": ["audio", "visual", "audio"],
            "active": [True, False, None],
        }
    )
    xy = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]])
    fig = viz.tsne_figure(xy, table, color_by="active")
    assert sorted(t.name for t in fig.data) == ["active in GT", "no GT", "not active in GT"]
    by_modality = viz.tsne_figure(xy, table, color_by="modality")
    audio = [t for t in by_modality.data if t.name == "audio"][0]
    assert list(audio.x) == [0.0, 4.0]
    assert "segment 5" in audio.hovertext[1] and "c2" in audio.hovertext[1]
    with pytest.raises(ValueError):
        viz.tsne_figure(xy[:2], table)


def test_per_class_f_zero_and_not_applicable_look_different():
    f = np.full(25, np.nan)
    f[DOG], f[CAR] = 0.0, 80.0  # Dog annotated but never right; Car fine; the rest not applicable
    fig = viz.per_class_f_bar({"a": f})
    bars, na = fig.data[0], fig.data[1]
    assert bars.text[DOG] == "0" and bars.text[CAR] == "" and np.isnan(bars.y[SPEECH])
    assert na.name.startswith("n/a") and na.y[SPEECH] == 100.0 and np.isnan(na.y[DOG]) and np.isnan(na.y[CAR])
    assert na.marker.pattern.shape == "/" and na.offsetgroup == bars.offsetgroup  # drawn in the class's own slot
    assert fig.layout.legend.y < 0  # under the plot, away from the toolbar


def test_delta_bar_says_which_minus_which_with_intervals():
    delta = np.zeros(25)
    delta[DOG], delta[CAR] = 5.0, -3.0
    fig = viz.per_class_delta_bar({"B − A (han − mmcse)": delta}, title="han minus mmcse",
                                  intervals={"B − A (han − mmcse)": (delta - 1, delta + 2)})  # fmt: skip
    bar = fig.data[0]
    assert bar.name == "B − A (han − mmcse)" and bar.showlegend and fig.layout.title.text == "han minus mmcse"
    assert bar.marker.color[DOG] == viz.theme.UP and bar.marker.color[CAR] == viz.theme.DOWN
    assert bar.error_y.array[DOG] == pytest.approx(2.0) and bar.error_y.arrayminus[DOG] == pytest.approx(1.0)


def test_paired_table_labels_a_b_and_delta():
    paired = {k: {"a": 50.0, "b": 52.5, "delta": 2.5, "ci_low": -0.5, "ci_high": 5.0, "p": 0.1, "within_noise": True}
              for k in viz.METRIC_KEYS}  # fmt: skip
    table = viz.paired_table(paired, "mmcse", "han")
    assert list(table.columns) == ["A: mmcse", "B: han", "B − A", "95% CI", "p", "within noise"]
    assert table.loc["Seg Type@AV", "B − A"] == 2.5 and table.loc["Seg Type@AV", "95% CI"] == "[-0.50, +5.00]"


def test_palette_theme_colours_and_download_config():
    colours = [viz.CLASS_COLORS[c] for c in LLP_CLASSES]
    assert len(set(colours)) == 25 and all(len(c) == 7 and c.startswith("#") for c in colours)
    for colour in colours + list(viz.MODALITY_COLORS.values()):  # neither black nor white: reads on both themes
        r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
        assert 40 < 0.2126 * r + 0.7152 * g + 0.0722 * b < 215
    config = viz.figure_config("svg", "clip")
    assert config["toImageButtonOptions"] == {"format": "svg", "filename": "clip", "scale": 2}
    with pytest.raises(ValueError):
        viz.figure_config("pdf")


def test_timeline_states_threshold_and_heatmap_row_order():
    pred_a, pred_v, gt_a, gt_v, prob = make_clip()
    data = viz.timeline_data(pred_a, pred_v, prob, gt_a, gt_v, segment_threshold=0.5)
    lane = next(lane for lane in data["lanes"] if lane["modality"] == "audio" and lane["label"] == "Dog")
    assert lane["states"][:7] == ["", "", "tp", "tp", "tp", "fn", ""]  # GT [2, 6), prediction [2, 5)
    visual = next(lane for lane in data["lanes"] if lane["modality"] == "visual" and lane["label"] == "Dog")
    assert visual["states"][:3] == ["fn", "fn", "fn"] and visual["states"][3] == "tp"
    assert data["threshold"] == 0.5 and data["colors"]["fp"] == viz.theme.ERROR_COLORS["fp"]
    assert viz.timeline_data(pred_a, pred_v, prob)["lanes"][0]["states"] is None
    fig = viz.probability_heatmaps(prob, gt_a, gt_v, pred_a, pred_v, classes=[SPEECH, DOG])
    assert list(fig.data[0].y) == ["Speech", "Dog"] and fig.layout.yaxis.autorange == "reversed"  # lanes' order
    assert not fig.layout.showlegend and "o ground truth" in fig.layout.annotations[0].text


def test_tsne_symbols_customdata_and_selection():
    table = pd.DataFrame({"clip": ["c1", "c1", "c2"], "segment": [0, 1, 5], "class": ["Dog", "Car", "background"],
                          "modality": ["audio", "visual", "audio"], "active": [True, False, None]})  # fmt: skip
    fig = viz.tsne_figure(np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]), table)
    names = [t.name for t in fig.data]
    assert names == ["Car", "Dog", "background"]  # official class order, background last
    car = fig.data[0]
    assert list(car.marker.symbol) == ["diamond"] and list(car.customdata) == [1]
    assert car.marker.color == viz.CLASS_COLORS["Car"]
    selection = {"points": [{"customdata": 2}, {"customdata": 0}, {"customdata": 2}, {"customdata": {"0": 1}}]}
    assert viz.selected_rows(selection) == [2, 0, 1] and viz.selected_rows(None) == []


def test_cooccurrence_lift_click_and_images():
    m = np.full((25, 25), 1 / 25)
    m[DOG, CAR] = 2 / 25
    lift = viz.lift_over_uniform(m)
    assert lift[DOG, CAR] == pytest.approx(1.0) and lift[0, 0] == pytest.approx(0.0)
    fig = viz.cooccurrence_heatmap(lift, diverging=True, clickable=True)
    cells = fig.data[1]
    assert len(cells.x) == 625 and list(cells.customdata[DOG * 25 + CAR][:2]) == [DOG, CAR]
    assert fig.layout.yaxis.range == (24.5, -0.5)  # first class at the top
    assert viz.clicked_cell({"points": [{"customdata": {"0": DOG, "1": CAR, "2": 0.1}}]}) == (DOG, CAR)
    assert viz.clicked_cell({"points": []}) is None
    svg = viz.matrix_image(m, "map", image_format="svg")
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg


def test_curves_figures():
    sweep = pd.DataFrame({"threshold": [0.3, 0.5], "seg_type": [60.0, 65.0], "evt_type": [50.0, 55.0]})
    fig = viz.threshold_sweep_figure(sweep, current=0.5)
    assert [t.name for t in fig.data] == ["Seg Type@AV", "Evt Type@AV"] and list(fig.data[0].y) == [60.0, 65.0]
    curves = {"Dog": {"precision": np.array([1.0, 0.5]), "recall": np.array([0.5, 1.0]), "ap": 0.75, "point": (0.5, 1.0)}}
    pr = viz.pr_curves_figure(curves)
    assert pr.data[0].name == "Dog (AP 75.0)" and list(pr.data[1].x) == [0.5]
    rows = [{"epoch": "1", "val_seg_type": "50.0", "train_loss": "1.0"}, {"epoch": "2", "val_seg_type": "", "train_loss": "0.5"}]
    train = viz.training_curves_figure({"run": rows}, "val_seg_type")
    assert list(train.data[0].x) == [1] and list(train.data[0].y) == [50.0]  # the empty value is skipped
    assert viz.metric_columns(rows)[0] == "val_seg_type"


def test_heatmap_titles_name_only_the_markers_drawn():
    prob = np.full((7, 2, 25), 0.3)
    pred = np.zeros((7, 25), np.uint8)
    pred[2:4, DOG] = 1
    upload = viz.probability_heatmaps(prob, None, None, pred, pred, [DOG])
    titles = [a.text for a in upload.layout.annotations]
    assert titles == ["audio (x predicted)", "visual (x predicted)"]  # no ground truth to mention
    assert "ground truth" in viz.probability_heatmap(prob, "audio", gt=pred, pred=pred).layout.title.text
    assert list(upload.data[0].x) == list(range(7))  # only the seconds given


def test_figures_carry_their_provenance_and_keep_their_legend():
    rows = {name: {k: 10.0 for k in viz.METRIC_KEYS} for name in ("ckpt", "predict nothing", "weak labels, no visual Speech")}
    fig = viz.metrics_bar(rows)
    assert fig.layout.legend.yref == "container" and fig.layout.margin.b >= 40 + 22 * 2  # room for two legend rows
    before = fig.layout.margin.t
    viz.with_provenance(fig, "run/best.safetensors · test split · gating mmcse")
    assert "run/best.safetensors · test split" in fig.layout.title.text and fig.layout.margin.t > before
    assert viz.format_p(1 / 1001, 1000) == "< 0.001" and viz.format_p(0.0123, 1000) == "0.012"
    assert viz.format_p(float("nan")) == "n/a"


def test_class_names_are_written_one_way():
    from mmcse.viz.cooccurrence import SHORT_NAMES

    assert "Frying_(food)" in SHORT_NAMES and tuple(SHORT_NAMES) == tuple(LLP_CLASSES)
