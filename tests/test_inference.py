"""mmcse.inference, .splits and .analysis on a tiny synthetic dataset with randomly initialised tiny checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.app_fixture import (
    OTHER_FEATURES,
    TINY_FEATURES,
    build_app_fixture,
    save_random_checkpoint,
    write_test_video,
)
from helpers.splits import split_of

from mmcse import analysis, inference, metrics
from mmcse.classes import NUM_CLASSES, class_index


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    return build_app_fixture(tmp_path_factory.mktemp("app_fixture"))


@pytest.fixture(scope="module")
def parser(fx):
    return inference.Parser.from_checkpoint(fx.mmcse_checkpoint, device="cpu")


@pytest.fixture(scope="module")
def test_split(fx):
    return split_of(fx.data, "test", TINY_FEATURES)


def test_predict_split_matches_direct_forward_and_thresholds(parser, test_split):
    preds = parser.predict_split(test_split, batch_size=5)  # batches of 5 over 16 clips: 5+5+5+1
    assert preds.segment_prob.shape == (16, 10, 2, 25) and preds.video_prob.shape == (16, 25)
    assert preds.filenames == test_split.filenames
    audio, visual, visual_st = next(test_split.feature_batches(16))
    direct = parser.predict_arrays(audio, visual, visual_st, batch_size=16)
    np.testing.assert_allclose(preds.segment_prob, direct.segment_prob, atol=1e-6)
    pred_a, pred_v = preds.binary("fused", 0.5, 0.5)
    expected_a = (preds.segment_prob[:, :, 0] >= 0.5) & (preds.video_prob[:, None] >= 0.5)
    np.testing.assert_array_equal(pred_a, expected_a)
    # a lower threshold can only switch segments on
    low_a, low_v = preds.binary("fused", 0.2, 0.2)
    assert (low_a >= pred_a).all() and low_a.sum() > pred_a.sum()


def test_feature_spec_mismatch_is_refused_clearly(fx, test_split):
    other = inference.Parser.from_checkpoint(fx.other_checkpoint, device="cpu")
    with pytest.raises(ValueError, match="'other' features.*'tiny' features"):
        other.predict_split(test_split)
    with pytest.raises(FileNotFoundError, match="holds no 'other' features.*other_audio"):
        split_of(fx.data, "test", OTHER_FEATURES)


def test_load_split_opens_a_packed_store_with_the_same_features(fx, test_split, tmp_path):
    from mmcse.data.features import pack_features

    packed_root = tmp_path / "packed"
    pack_features(fx.data / "feats", TINY_FEATURES, test_split.video_ids, packed_root, progress=False)
    packed = split_of(fx.data, "test", TINY_FEATURES, feature_root=packed_root)
    assert packed.store.packed and packed.filenames == test_split.filenames
    for a, b in zip(next(packed.feature_batches(16)), next(test_split.feature_batches(16))):
        np.testing.assert_array_equal(a, b)


def test_load_split_errors_name_the_problem(fx, tmp_path):
    with pytest.raises(FileNotFoundError, match="AVVP_test_pd.csv not found"):
        split_of(tmp_path, "test", TINY_FEATURES)
    (tmp_path / "AVVP_test_pd.csv").write_text((fx.data / "AVVP_test_pd.csv").read_text())
    with pytest.raises(FileNotFoundError, match="holds no 'tiny' features"):
        split_of(tmp_path, "test", TINY_FEATURES)


def test_corrupt_checkpoint_gives_clear_error(tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(ValueError, match="broken.safetensors"):
        inference.Parser.from_checkpoint(bad)


def test_cooccurrence_maps_are_row_averages(parser, test_split):
    maps = analysis.cooccurrence_maps(parser, test_split, only_active=False)
    assert set(maps) == {"aa", "av", "vv", "va"}
    # each attention row is a softmax over 25 classes, so averaged rows still sum to 1
    np.testing.assert_allclose(maps["aa"].sum(1), 1.0, atol=1e-5)
    active = analysis.cooccurrence_maps(parser, test_split, only_active=True)
    audible = test_split.gt_audio.any(axis=(0, 1))
    np.testing.assert_allclose(active["aa"].sum(1)[audible], 1.0, atol=1e-5)
    assert np.isnan(active["aa"][~audible]).all()  # nothing to average: NaN, not a row of zeros


def test_annotation_cooccurrence_counts(fx, test_split):
    counts = analysis.annotation_cooccurrence(test_split)
    gt_a = test_split.gt_audio.reshape(-1, NUM_CLASSES)
    gt_v = test_split.gt_visual.reshape(-1, NUM_CLASSES)
    c1, c2 = np.argwhere(gt_a.any(0))[0][0], np.argwhere(gt_v.any(0))[0][0]
    assert counts["av"][c1, c2] == int((gt_a[:, c1] & gt_v[:, c2]).sum())
    assert counts["aa"][c1, c1] == int(gt_a[:, c1].sum())
    train = split_of(fx.data, "train", TINY_FEATURES)
    weak = analysis.annotation_cooccurrence(train)["aa"]
    assert weak[c1, c1] == int(train.label[:, c1].sum())


def test_class_feature_samples_table_and_subsampling(parser, test_split):
    feats, table = analysis.class_feature_samples(parser, test_split, stage="cafd", modalities=("audio",))
    n_events = int(test_split.label.sum()) * 10  # weak-label classes x 10 segments
    assert len(feats) == n_events + len(test_split) * 10  # plus one background slot per segment
    assert feats.shape[1] == 16 and table["class"].count("background") == len(test_split) * 10
    i = table["class"].index(next(c for c in table["class"] if c != "background"))
    clip = test_split.filenames.index(table["clip"][i])
    gt = test_split.gt_audio[clip, table["segment"][i], class_index(table["class"][i])]
    assert table["active"][i] == bool(gt)
    small, small_table = analysis.class_feature_samples(
        parser, test_split, stage="fgse", max_points=50, seed=3
    )
    again, _ = analysis.class_feature_samples(parser, test_split, stage="fgse", max_points=50, seed=3)
    assert small.shape == (50, 16) and "background" not in small_table["class"]
    np.testing.assert_array_equal(small, again)


def test_reference_rows_match_metrics(test_split):
    rows = analysis.reference_rows(test_split)
    pred_a, pred_v = metrics.reference_predictions(test_split.label)
    expected = metrics.avvp_scores(pred_a, pred_v, test_split.gt_audio, test_split.gt_visual)
    assert rows["weak labels everywhere"] == expected
    assert set(rows) == {"predict nothing", "weak labels everywhere", "weak labels, no visual Speech"}


def test_merged_events_cross_window_borders():
    pred_a = np.zeros((20, NUM_CLASSES), np.uint8)
    pred_a[8:13, 3] = 1  # one run from 8 s to 13 s, across the 10-s border
    prob = np.zeros((20, 2, NUM_CLASSES))
    prob[8:13, 0, 3] = 0.8
    events = inference.merged_events(pred_a, np.zeros_like(pred_a), prob, filename="x.mp4", duration=12.5)
    assert len(events) == 1
    ev = events[0]
    assert (ev.onset, ev.offset, ev.label, ev.modality) == (8.0, 12.5, "Dog", "audio")
    assert ev.score == pytest.approx(0.8)


def test_parse_video_needs_an_offline_extractor(parser, tmp_path):
    video = write_test_video(tmp_path / "clip.mp4", seconds=3)
    with pytest.raises(ValueError, match="no offline feature extractor for the 'tiny' features"):
        parser.parse_video(video)


@pytest.fixture(scope="module")
def demo_parser(tmp_path_factory):
    from mmcse.config import DEMO_FEATURES

    path = save_random_checkpoint(tmp_path_factory.mktemp("demo_ck") / "demo.safetensors", DEMO_FEATURES)
    return inference.Parser.from_checkpoint(path, device="cpu")


def test_parse_video_long_clip_windows_and_rethreshold(demo_parser, tmp_path):
    video = write_test_video(tmp_path / "long.mp4", seconds=14)  # two windows, the second holds 4 s
    parse = demo_parser.parse_video(video, gating="fused", segment_threshold=0.5, video_threshold=0.5)
    assert parse.segment_prob.shape == (20, 2, NUM_CLASSES) and parse.video_prob.shape == (2, NUM_CLASSES)
    assert parse.duration == pytest.approx(14.0, abs=0.2)
    assert all(ev.offset <= parse.duration + 1e-6 for ev in parse.events)
    low = parse.rethreshold(segment_threshold=0.05, video_threshold=0.05)
    assert low.pred_a.sum() >= parse.pred_a.sum() and (low.pred_a >= parse.pred_a).all()
    expected_a, _ = metrics.predict(
        parse.segment_prob.reshape(2, 10, 2, NUM_CLASSES), parse.video_prob, parse.audio_prob,
        parse.visual_prob, gating="fused", segment_threshold=0.05, video_threshold=0.05,
    )  # fmt: skip
    real = np.arange(20) < 14  # the second window holds 4 s of video, read looped: seconds 14-19 are never on
    assert parse.segment_real.tolist() == real.tolist()
    np.testing.assert_array_equal(low.pred_a, expected_a.reshape(20, NUM_CLASSES) * real[:, None])
    assert low.pred_a[14:].sum() == 0 and all(ev.offset <= 14.0 + 1e-6 for ev in low.events)


def test_parse_video_rejects_a_non_video(demo_parser, tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is a text file, not a video\n")
    with pytest.raises(ValueError, match="notes.mp4"):
        demo_parser.parse_video(fake)


@pytest.mark.slow
@pytest.mark.parametrize("variant,spec_name", [("clap_clip", "valor"), ("vggish_res152", "han")])
def test_parser_loads_the_authors_pth(reference_dir, variant, spec_name):
    parser = inference.Parser.from_checkpoint(reference_dir / f"mmcse_official_{variant}.pth", device="cpu")
    assert parser.feature_spec.name == spec_name and parser.arch == "mmcse" and parser.gating == "mmcse"
    io = np.load(reference_dir / f"mmcse_official_{variant}_io.npz", allow_pickle=False)
    preds = parser.predict_arrays(io["audio"], io["visual"], io["visual_st"], keep_attn=True)
    np.testing.assert_allclose(preds.video_prob, io["global_prob"], atol=1e-5)
    np.testing.assert_allclose(preds.segment_prob, io["frame_prob"], atol=1e-5)
    np.testing.assert_allclose(preds.attn["av"], io["map_av"], atol=1e-5)


def test_tsne_embed_keeps_clusters_and_ignores_the_thread_count():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), 100)
    features = (rng.normal(size=(300, 64)) + rng.normal(size=(3, 64))[labels] * 4).astype(np.float32)
    xy = analysis.tsne_embed(features, seed=0, threads=1)
    assert xy.shape == (300, 2) and np.isfinite(xy).all()
    quality = analysis.embedding_quality(features, xy, labels)
    assert quality["knn_agreement"] > 0.95 and quality["trustworthiness"] > 0.9
    # the thread count only changes speed (per-point gradients): the app's embedding is reproducible
    np.testing.assert_allclose(analysis.tsne_embed(features, seed=0, threads=2), xy, atol=1e-4)
    with pytest.raises(ValueError, match="at least 5 points"):
        analysis.tsne_embed(features[:3])


def test_map_agreement_correlates_off_diagonal_rows_of_active_classes():
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 20, size=(25, 25)).astype(float)
    counts[5] = 0  # class 5 never occurs: its row is left out
    annotation = {k: counts for k in analysis.MAP_NAMES}
    norm = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    learned = {k: norm * 0.5 + 0.01 for k in analysis.MAP_NAMES}  # an affine copy: correlation 1
    learned["av"] = learned["av"] + np.eye(25) * 100  # a loud diagonal does not count
    learned["vv"] = rng.random((25, 25))  # unrelated
    learned["va"] = learned["va"].copy()
    learned["va"][5] = rng.random(25) * 100  # noise in an inactive row does not count
    learned["aa"] = learned["aa"].copy()
    learned["aa"][7] = np.nan  # a row the model had nothing to average over is left out, not a NaN result
    agreement = analysis.map_agreement(learned, annotation)
    assert agreement["aa"] == pytest.approx(1.0) and agreement["av"] == pytest.approx(1.0)
    assert agreement["va"] == pytest.approx(1.0) and abs(agreement["vv"]) < 0.2


def test_parse_video_of_a_truncated_file_reports_what_decodes(demo_parser, tmp_path):
    from mmcse.demo.procedural import render_audio, render_frames, sample_clip
    from mmcse.video.io import write_video

    spec, video = sample_clip("test", 0, seed=7), tmp_path / "cut.mp4"
    write_video(video, render_frames(spec, 8), 8, render_audio(spec))  # moov first (faststart)
    data = video.read_bytes()
    video.write_bytes(data[: len(data) * 2 // 5])  # the container still says 10 s
    parse = demo_parser.parse_video(video, gating="fused", segment_threshold=0.01, video_threshold=0.01)
    n_real = int(parse.duration + 0.5)  # segments at least half inside the decoded seconds
    assert parse.duration < 7.0 and parse.segment_real.sum() == n_real
    assert parse.pred_a[n_real:].sum() == 0
    assert parse.events and all(ev.offset <= parse.duration + 1e-6 for ev in parse.events)
    assert any("cut.mp4: the file says 10.00 s but only" in w for w in parse.warnings)


@pytest.mark.parametrize("stream", ["audio", "visual", "visual_st"])
def test_predict_arrays_refuses_nan_naming_the_input(parser, test_split, stream):
    audio, visual, visual_st = next(test_split.feature_batches(4))
    inputs = {"audio": audio.copy(), "visual": visual.copy(), "visual_st": visual_st.copy()}
    assert np.isfinite(parser.predict_arrays(**inputs).segment_prob).all()
    inputs[stream][2, 3, 1] = np.nan
    with pytest.raises(ValueError, match=rf"^the {stream} features contain NaN or inf \(first: clip 2, index \[3, 1\]\)"):
        parser.predict_arrays(**inputs)
    inputs[stream][2, 3, 1] = np.inf
    with pytest.raises(ValueError, match=f"the {stream} features contain NaN or inf"):
        parser.predict_arrays(**inputs)


def test_predict_arrays_refuses_wrong_shapes_naming_the_input(parser, test_split):
    audio, visual, visual_st = next(test_split.feature_batches(3))
    spec = parser.feature_spec
    la, da = spec.audio.shape
    wide = np.zeros((3, la, da + 3), np.float32)  # another feature width: a matmul error before
    with pytest.raises(ValueError, match=rf"^audio has shape \(3, {la}, {da + 3}\); expected \(N, {la}, {da}\) "):
        parser.predict_arrays(wide, visual, visual_st)
    lst, dst = spec.visual_st.shape
    with pytest.raises(ValueError, match=rf"^visual_st has shape \({lst}, {dst}\); .*add the clip axis"):
        parser.predict_arrays(audio, visual, visual_st[0])  # one clip without its batch axis
    with pytest.raises(ValueError, match=r"^audio, visual and visual_st must hold the same clips .* 3, 2 and 3 clips"):
        parser.predict_arrays(audio, visual[:2], visual_st)
    for bad in (0, -1, 2.5, None):
        with pytest.raises(ValueError, match=rf"^batch_size must be a whole number >= 1; got {bad!r}"):
            parser.predict_arrays(audio, visual, visual_st, batch_size=bad)
    # the valid call with a batch of 1 clip at a time gives the same as one batch
    one = parser.predict_arrays(audio, visual, visual_st, batch_size=1)
    np.testing.assert_allclose(one.segment_prob, parser.predict_arrays(audio, visual, visual_st).segment_prob, atol=1e-6)


def test_a_folder_given_as_a_video_or_a_checkpoint_is_named_as_a_folder(demo_parser, fx, tmp_path):
    with pytest.raises(ValueError, match=rf"^{tmp_path} is a folder, not a video file; give one video file"):
        demo_parser.parse_video(tmp_path)
    run = fx.mmcse_checkpoint.parent
    with pytest.raises(ValueError, match=rf"^checkpoint {run} is a folder; pick a checkpoint file in it, such as"):
        inference.Parser.from_checkpoint(run, device="cpu")
