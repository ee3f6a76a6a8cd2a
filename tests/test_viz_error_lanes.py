"""The error kinds the timeline draws on its lanes (viz.timeline_data's "kinds", viz.errors.lane_event_kinds):
every event of a clip with the kind error_analysis gives it, its short label and its tooltip."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.hand_made_clip import GT_AUDIO, GT_VISUAL, PRED_AUDIO, PRED_VISUAL, grid

from mmcse import viz
from mmcse.error_analysis import KINDS, EventError, classify_events
from mmcse.viz.errors import kind_descriptions, lane_event_kinds

# the hand-made clip: one event of each kind (helpers/hand_made_clip.py)


def hand_made_timeline(**kwargs) -> tuple[dict, list[EventError]]:
    pred_a, pred_v, gt_a, gt_v = grid(PRED_AUDIO), grid(PRED_VISUAL), grid(GT_AUDIO), grid(GT_VISUAL)
    data = viz.timeline_data(pred_a, pred_v, np.full((10, 2, 25), 0.1), gt_a, gt_v, **kwargs)
    return data, classify_events(pred_a, pred_v, gt_a, gt_v)


def test_every_event_is_on_its_lane_with_the_kind_classify_events_gives_it():
    data, errors = hand_made_timeline()
    assert {e.kind for e in errors} == set(KINDS)
    drawn = sorted(
        (mark["side"], lane["modality"], lane["label"], mark["onset"], mark["offset"], mark["kind"], mark["onset_error"],
         mark["offset_error"], mark["other_class"], mark["pieces"])
        for lane in data["lanes"] for mark in lane["kinds"] or []
    )  # fmt: skip
    expected = sorted(
        (e.side, e.modality, e.label, e.onset, e.offset, e.kind, e.onset_error, e.offset_error, e.other_class, e.pieces)
        for e in errors
    )  # fmt: skip
    assert drawn == expected
    # the audio-visual lanes carry no kinds (the event-level score classifies audio and visual events)
    assert all(lane["kinds"] is None for lane in data["lanes"] if lane["modality"] == "audio-visual")
    assert [item["kind"] for item in data["kind_legend"]] == list(KINDS)
    assert data["kind_legend"][2]["color"] == viz.KIND_COLORS["split"]


def test_the_labels_and_tooltips_say_each_kind_in_sound_event_detection_words():
    data, _ = hand_made_timeline()
    marks = {(lane["modality"], lane["label"], m["side"], m["onset"]): m for lane in data["lanes"] for m in lane["kinds"] or []}
    speech = marks["audio", "Speech", "pred", 1.0]
    assert speech["text"] == "onset +1 s, offset +1 s"
    assert speech["title"] == "predicted Speech (audio), 1-5 s\nboundary: onset +1 s, offset +1 s (prediction - GT; + late)"
    violin = marks["audio", "Violin_fiddle", "pred", 2.0]
    assert (violin["text"], violin["title"].split("\n")[1]) == (
        "subst.: GT Banjo", "substitution: predicted Violin_fiddle, GT Banjo")  # fmt: skip
    banjo = marks["audio", "Banjo", "gt", 2.0]
    assert banjo["title"].split("\n")[1] == "substitution: GT Banjo, predicted Violin_fiddle"
    cello = marks["visual", "Cello", "pred", 6.0]
    assert cello["title"].split("\n")[1] == "wrong modality: predicted visual (seen), GT audio (heard)"
    assert marks["audio", "Cello", "gt", 6.0]["text"] == "wrong mod.: pred. visual"
    assert marks["audio", "Dog", "gt", 0.0]["title"].endswith("split: cut into 2 predicted events")
    assert marks["visual", "Car", "pred", 0.0]["title"].endswith("merged: one predicted event over 2 GT events")
    assert (marks["visual", "Blender", "gt", 0.0]["text"], marks["audio", "Chainsaw", "pred", 8.0]["text"]) == ("missed", "inserted")
    assert marks["visual", "Cat", "gt", 8.0]["text"] == "" and marks["visual", "Cat", "gt", 8.0]["name"] == "correct"


def test_only_the_edge_that_is_off_is_named_and_times_follow_the_segment_length():
    late_offset = EventError("pred", "audio", "Dog", 2.0, 6.0, "boundary", onset_error=0.0, offset_error=-1.0)
    [mark] = lane_event_kinds([late_offset], segment_seconds=0.5)[("audio", "Dog")]
    assert (mark["onset"], mark["offset"], mark["onset_error"], mark["offset_error"]) == (1.0, 3.0, 0.0, -0.5)
    assert mark["text"] == "offset -0.5 s" and mark["title"].startswith("predicted Dog (audio), 1-3 s\n")


def test_no_kinds_without_ground_truth_and_every_kind_is_described():
    pred = grid(PRED_AUDIO)
    data = viz.timeline_data(pred, pred, np.zeros((10, 2, 25)))
    assert data["kind_legend"] is None and all(lane["kinds"] is None for lane in data["lanes"])
    described = kind_descriptions()
    assert list(described) == list(KINDS) and all(described.values())
    assert "heard predicted as seen" in described["wrong_modality"]


def test_ground_truth_of_the_wrong_length_is_refused():
    pred = np.zeros((12, 25))
    with pytest.raises(ValueError, match="expected \\(10, 25\\)"):
        viz.timeline_data(pred, pred, np.zeros((12, 2, 25)), pred, pred)
