"""mmcse.error_analysis on a hand-made clip holding one of each kind of error, and the split-level
confusion counts checked against counts made by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mmcse.classes import LLP_CLASSES
from mmcse.error_analysis import (
    KINDS,
    class_confusion,
    class_confusion_clips,
    classify_events,
    clip_error_kinds,
    clips_with,
    kind_counts,
    modality_confusion,
    modality_confusion_clips,
    split_error_table,
)

C = {name: i for i, name in enumerate(LLP_CLASSES)}


def _grid(*events):
    """(10, 25) from (class, onset, offset) triples."""
    g = np.zeros((10, 25), dtype=np.int8)
    for name, on, off in events:
        g[on:off, C[name]] = 1
    return g


@pytest.fixture
def clip():
    gt_a = _grid(("Speech", 0, 4),          # predicted 1-5: boundary, late by one second at both ends
                 ("Dog", 0, 10),            # predicted as 0-3 and 5-10: split in two
                 ("Cello", 6, 8),           # not predicted in audio, predicted in visual: wrong modality
                 ("Banjo", 2, 5))           # nothing of Banjo predicted, Violin_fiddle there: substitution
    gt_v = _grid(("Car", 0, 2), ("Car", 4, 6),  # one prediction 0-6 over both: merged
                 ("Cat", 8, 10),            # correct
                 ("Blender", 0, 2))         # only correct predictions there (Car): missed
    pred_a = _grid(("Speech", 1, 5), ("Dog", 0, 3), ("Dog", 5, 10), ("Violin_fiddle", 2, 5),
                   ("Chainsaw", 8, 10))     # where only Dog is, rightly predicted: inserted
    pred_v = _grid(("Car", 0, 6), ("Cat", 8, 10), ("Cello", 6, 8))
    return pred_a, pred_v, gt_a, gt_v


def _find(errors, side, modality, label, onset):
    [e] = [e for e in errors if (e.side, e.modality, e.label, e.onset) == (side, modality, label, onset)]
    return e


def test_each_kind_of_error_on_a_hand_made_clip(clip):
    errors = classify_events(*clip)
    e = _find(errors, "gt", "audio", "Speech", 0)
    assert (e.kind, e.onset_error, e.offset_error) == ("boundary", 1.0, 1.0)
    e = _find(errors, "pred", "audio", "Speech", 1)
    assert (e.kind, e.onset_error, e.offset_error) == ("boundary", 1.0, 1.0)  # the same pair, same signs
    assert (_find(errors, "gt", "audio", "Dog", 0).kind, _find(errors, "gt", "audio", "Dog", 0).pieces) == ("split", 2)
    assert [_find(errors, "pred", "audio", "Dog", t).kind for t in (0, 5)] == ["split", "split"]
    assert _find(errors, "gt", "audio", "Cello", 6).kind == "wrong_modality"
    assert _find(errors, "pred", "visual", "Cello", 6).kind == "wrong_modality"
    e = _find(errors, "gt", "audio", "Banjo", 2)
    assert (e.kind, e.other_class) == ("substitution", "Violin_fiddle")
    e = _find(errors, "pred", "audio", "Violin_fiddle", 2)
    assert (e.kind, e.other_class) == ("substitution", "Banjo")
    assert _find(errors, "pred", "audio", "Chainsaw", 8).kind == "inserted"
    assert (_find(errors, "pred", "visual", "Car", 0).kind, _find(errors, "pred", "visual", "Car", 0).pieces) == ("merged", 2)
    assert [_find(errors, "gt", "visual", "Car", t).kind for t in (0, 4)] == ["merged", "merged"]
    assert _find(errors, "gt", "visual", "Cat", 8).kind == "correct"
    assert _find(errors, "pred", "visual", "Cat", 8).kind == "correct"
    assert _find(errors, "gt", "visual", "Blender", 0).kind == "missed"
    # every event of both sides is classified once
    assert len([e for e in errors if e.side == "gt"]) == 8 and len([e for e in errors if e.side == "pred"]) == 8


def test_the_split_table_counts_kinds_per_clip(clip):
    grids = [np.stack([g, np.zeros_like(g)]) for g in clip]  # a second clip with nothing at all
    table = split_error_table(*grids, ["one", "two"])
    assert set(table["filename"]) == {"one"} and len(table) == 16
    counts = clip_error_kinds(table).loc["one"]
    assert counts.to_dict() == {"boundary": 2, "split": 3, "merged": 3, "wrong_modality": 2, "substitution": 2,
                                "missed": 1, "inserted": 1}  # fmt: skip
    with pytest.raises(ValueError, match="expected four"):
        split_error_table(*grids, ["one"])


def test_modality_confusion_counts_segments_by_gt_and_predicted_modality():
    gt_a, gt_v = _grid(("Speech", 0, 4)), _grid(("Speech", 2, 6))  # A 0-1, AV 2-3, V 4-5
    pred_a, pred_v = _grid(("Speech", 0, 3)), _grid(("Speech", 3, 4))  # A 0-2, V 3, none 4-5
    m = modality_confusion(pred_a, pred_v, gt_a, gt_v)
    assert m.loc["audio only"].tolist() == [2, 0, 0, 0]
    assert m.loc["audio-visual"].tolist() == [1, 1, 0, 0]  # seen and heard, predicted heard only / seen only
    assert m.loc["visual only"].tolist() == [0, 0, 0, 2]
    assert int(m.values.sum()) == 6  # every GT-active (segment, class) once


def test_class_confusion_counts_hits_substitutes_and_nothing(clip):
    pred_a, pred_v, gt_a, gt_v = clip
    m = class_confusion(pred_a, pred_v, gt_a, gt_v)
    assert m.loc["Cat", "Cat"] == 2  # visual 8-9
    assert m.loc["Banjo", "Violin_fiddle"] == 3 and m.loc["Banjo", "nothing"] == 0
    assert m.loc["Blender", "Car"] == 2  # visual 0-1: Car predicted there (rightly)
    assert m.loc["Dog", "nothing"] == 0 and m.loc["Dog", "Dog"] == 8  # the gap 3-4 shows Speech / Violin
    assert m.loc["Dog", "Speech"] == 2 and m.loc["Dog", "Violin_fiddle"] == 2
    assert m.loc["Cello", "Dog"] == 2 and m.loc["Cello", "nothing"] == 0  # audio 6-7: Dog predicted there
    silent = class_confusion(np.zeros((10, 25)), np.zeros((10, 25)), _grid(("Speech", 0, 2)), np.zeros((10, 25)))
    assert silent.loc["Speech", "nothing"] == 2 and int(silent.values.sum()) == 2


def test_kind_counts_by_side_and_modality(clip):
    grids = [np.stack([g, np.zeros_like(g)]) for g in clip]
    counts = kind_counts(split_error_table(*grids, ["one", "two"]))
    assert list(counts.index) == list(KINDS)
    assert list(counts.columns) == ["audio GT", "audio predicted", "visual GT", "visual predicted"]
    assert counts.loc["boundary"].tolist() == [1, 1, 0, 0]  # Speech, in audio
    assert counts.loc["split"].tolist() == [1, 2, 0, 0]  # one Dog cut in two predictions
    assert counts.loc["merged"].tolist() == [0, 0, 2, 1]  # two Car events under one prediction
    assert counts.loc["wrong_modality"].tolist() == [1, 0, 0, 1]  # Cello heard, predicted seen
    assert counts.loc["missed"].tolist() == [0, 0, 1, 0] and counts.loc["inserted"].tolist() == [0, 1, 0, 0]
    assert int(counts.values.sum()) == 16  # every event once
    assert int(kind_counts(split_error_table(*grids, ["one", "two"]).iloc[:0]).values.sum()) == 0


def test_clips_with_a_kind_of_error_of_some_classes(clip):
    grids = [np.stack([g, g]) for g in clip]
    grids[1][1] = grids[3][1]  # clip "two": visual predicted as annotated: Blender found, Cello not seen at all
    table = split_error_table(*grids, ["one", "two"])
    assert clips_with(table, "missed") == {"one", "two"}
    assert clips_with(table, "missed", ["Blender"]) == {"one"} and clips_with(table, "missed", ["Cello"]) == {"two"}
    assert clips_with(table, "missed", ["Dog", "Speech"]) == set()
    assert clips_with(table, "split", ["Dog"]) == {"one", "two"}
    with pytest.raises(ValueError, match="error kind must be one of"):
        clips_with(table, "wrong modality")  # the display name is not a kind


def test_the_clips_behind_a_class_confusion_cell_are_those_it_counts(clip):
    rng = np.random.default_rng(0)
    noisy = [np.where(rng.random(g.shape) < 0.1, 1 - g, g) for g in clip]
    grids = [np.stack([a, b]) for a, b in zip(clip, noisy)]  # two clips: the hand-made one and a noisy copy
    per_clip = [class_confusion(*(g[i] for g in grids)).to_numpy() for i in range(2)]
    for r in range(25):
        for c in range(26):
            expected = [i for i in range(2) if per_clip[i][r, c] > 0]
            assert class_confusion_clips(*grids, r, c) == expected, (r, c)
    with pytest.raises(ValueError, match="outside"):
        class_confusion_clips(*grids, 25, 0)
    per_clip = [modality_confusion(*(g[i] for g in grids)).to_numpy() for i in range(2)]
    for r in range(3):
        for c in range(4):
            assert modality_confusion_clips(*grids, r, c) == [i for i in range(2) if per_clip[i][r, c] > 0], (r, c)
    with pytest.raises(ValueError, match="outside"):
        modality_confusion_clips(*grids, 3, 0)


# ----------------------------------------------------------------------------- the figures and tables of mmcse.viz


def test_the_event_table_shows_each_event_with_its_kind_in_words(clip):
    from mmcse import viz

    errors = classify_events(*clip)
    table = viz.event_error_table(errors)
    assert len(table) == len(errors) == 16
    assert table["side"].tolist() == ["GT"] * 8 + ["predicted"] * 8  # GT first, each side by onset
    assert table.loc[table["side"] == "GT", "onset"].is_monotonic_increasing
    row = table[(table["side"] == "GT") & (table["class"] == "Speech")].iloc[0]
    assert (row["kind"], row["onset error"], row["offset error"]) == ("boundary", 1.0, 1.0)
    row = table[(table["side"] == "GT") & (table["class"] == "Cello")].iloc[0]
    assert (row["kind"], row["modality"]) == ("wrong modality", "audio") and pd.isna(row["onset error"])
    row = table[(table["side"] == "GT") & (table["class"] == "Banjo")].iloc[0]
    assert (row["kind"], row["other class"]) == ("substitution", "Violin_fiddle")
    assert table[(table["side"] == "GT") & (table["class"] == "Dog")]["pieces"].tolist() == [2]
    assert viz.kind_color("wrong modality") == viz.kind_color("wrong_modality") == viz.KIND_COLORS["wrong_modality"]


def test_kind_bars_and_confusion_heatmaps_draw_the_counts(clip):
    from mmcse import viz

    grids = [np.stack([g]) for g in clip]
    counts = kind_counts(split_error_table(*grids, ["one"]))
    fig = viz.error_kind_bars(counts)
    bars = {(t.name, t.xaxis): dict(zip(t.x, t.y)) for t in fig.data}
    assert bars["audio", "x"]["split"] == 1 and bars["audio", "x2"]["split"] == 2  # GT panel, predicted panel
    assert "inserted" not in bars["visual", "x"] and "missed" not in bars["visual", "x2"]
    assert bars["visual", "x"]["merged"] == 2 and bars["audio", "x2"]["inserted"] == 1

    m = modality_confusion(*clip)
    fig = viz.modality_confusion_heatmap(m, clickable=True)
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), m.to_numpy())
    cell = {"points": [{"customdata": {"0": 2, "1": 0, "2": 1.0}}]}  # as Streamlit passes a click on a marker
    assert viz.clicked_cell(cell) == (2, 0)
    assert [list(map(int, d[:2])) for d in fig.data[1].customdata].count([2, 0]) == 1
    assert fig.data[1].customdata[2 * 4 + 0][2] == m.loc["audio-visual", "audio only"]

    c = class_confusion(*clip)
    fig = viz.class_confusion_heatmap(c, clickable=True)
    z = np.asarray(fig.data[0].z, float)
    assert z.shape == (25, 26) and np.isnan(z[np.arange(25), np.arange(25)]).all()  # the diagonal left out
    assert z[LLP_CLASSES.index("Banjo"), LLP_CLASSES.index("Violin_fiddle")] == 3
    cell = {"points": [{"customdata": list(fig.data[1].customdata[LLP_CLASSES.index("Banjo") * 26 + 25])}]}
    assert viz.clicked_cell(cell) == (LLP_CLASSES.index("Banjo"), 25)  # a click gives back its cell ("nothing")
    assert np.isnan(z[c.to_numpy() == 0]).all()  # cells with no segment are blank
    with_diagonal = np.asarray(viz.class_confusion_heatmap(c, diagonal=True).data[0].z, float)
    assert with_diagonal[LLP_CLASSES.index("Cat"), LLP_CLASSES.index("Cat")] == 2
