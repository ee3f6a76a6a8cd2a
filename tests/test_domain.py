"""The out-of-domain check: calibrated on val it flags about 0.5% of in-domain clips, flags features of
another kind of input, travels in the checkpoint, and never changes a prediction."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmcse.config import DEMO_FEATURES, FeatureSpec, ModelConfig, StreamSpec, TrainConfig
from mmcse.data.paths import DataPaths
from mmcse.data.splits import open_split
from mmcse.data.synthetic import write_synthetic_dataset
from mmcse.domain import PERCENTILE, STREAMS, DomainStats, fit_domain

SPEC = FeatureSpec("dom", StreamSpec("a", (10, 12)), StreamSpec("v", (20, 16)), StreamSpec("s", (10, 8)))


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("dom")
    write_synthetic_dataset(root, SPEC, n_train=400, n_val=400, n_test=400, seed=1)
    paths = DataPaths.from_root(root, SPEC)
    return {split: open_split(paths, split) for split in ("train", "val", "test")}


def _features(split):
    return dict(zip(STREAMS, (np.concatenate(x) for x in zip(*split.feature_batches(1000)))))


def test_statistics_and_thresholds_match_a_direct_computation(data):
    stats = fit_domain(data["train"], data["val"], batch_size=64)  # streamed in batches
    train, val = _features(data["train"]), _features(data["val"])
    for k in STREAMS:
        means = train[k].astype(np.float64).mean(axis=1)  # (N, D) clip-level
        np.testing.assert_allclose(stats.mean[k], means.mean(0), rtol=1e-9)
        np.testing.assert_allclose(stats.std[k], means.std(0), rtol=1e-6)
        z = (val[k].astype(np.float64).mean(axis=1) - means.mean(0)) / means.std(0)
        assert stats.threshold[k] == pytest.approx(np.percentile((z * z).mean(1), PERCENTILE), rel=1e-6)
    assert stats.info == {"train_clips": 400, "val_clips": 400, "percentile": PERCENTILE}


def test_in_domain_clips_are_rarely_flagged_and_other_inputs_always(data):
    stats = fit_domain(data["train"], data["val"])
    test = _features(data["test"])
    flagged = np.mean([stats.distances(test)[k] > stats.threshold[k] for k in STREAMS])
    assert flagged < 0.03  # ~0.5% expected per stream; 400 clips
    rng = np.random.default_rng(0)
    for changed in ("visual", "audio", "visual_st"):
        other = {k: v.copy() for k, v in test.items()}
        if changed == "visual":  # shifted by 3 std in every dimension
            other["visual"] += 3 * stats.std["visual"].astype(np.float32)
        elif changed == "audio":  # features of another extractor: positive, other scale
            other["audio"] = rng.uniform(0, 3, size=other["audio"].shape).astype(np.float32)
        else:  # a constant input
            other["visual_st"][:] = 5.0
        distances = stats.distances(other)
        for k in STREAMS:
            rate = np.mean(distances[k] > stats.threshold[k])
            assert rate == 1.0 if k == changed else rate < 0.03, (changed, k, rate)
        assert stats.check({k: v[:1] for k, v in other.items()})[changed]["flagged"]


def test_trained_checkpoints_carry_the_statistics_and_predictions_do_not_change(data, tmp_path):
    from mmcse.checkpoint import load_checkpoint, read_checkpoint_meta
    from mmcse.training.loop import train

    model_cfg = ModelConfig.for_features(SPEC, arch="han", d_model=16, num_layers=1, num_heads=1)
    train(tmp_path / "run", DataPaths.from_root(data["train"].root, SPEC), model_cfg,
          TrainConfig(epochs=1, batch_size=64), device="cpu", progress=False)  # fmt: skip
    loaded = load_checkpoint(tmp_path / "run" / "best.safetensors")
    assert isinstance(loaded.domain, DomainStats)
    expected = fit_domain(data["train"], data["val"])
    for k in STREAMS:
        np.testing.assert_allclose(loaded.domain.mean[k], expected.mean[k], rtol=1e-6)  # stored as float32
        assert loaded.domain.threshold[k] == pytest.approx(expected.threshold[k])
    meta = read_checkpoint_meta(tmp_path / "run" / "best.safetensors")
    assert meta["domain"]["train_clips"] == 400 and "99.5th percentile" in meta["domain"]["measure"]
    assert not any(k.startswith("domain.") for k in loaded.model.state_dict())


def test_parse_flags_a_test_pattern_and_leaves_events_unchanged(tmp_path):
    """Demo-feature statistics fitted on procedural clips: another procedural clip passes, a colour-bar
    test pattern with a sine tone is flagged in the JSON and the TSV, with the same events either way."""
    from mmcse.checkpoint import save_checkpoint
    from mmcse.demo.features import DemoExtractor
    from mmcse.demo.procedural import render_audio, render_frames, sample_clip
    from mmcse.inference import Parser
    from mmcse.models import create_model
    from mmcse.video.io import write_video

    def clip_features(indices):
        windows = [DemoExtractor().extract(render_frames(s, 8), render_audio(s))
                   for s in (sample_clip("train", i, seed=3) for i in indices)]  # fmt: skip
        return {k: np.stack([w[k] for w in windows]) for k in STREAMS}

    fit, val = clip_features(range(24)), clip_features(range(24, 40))
    means = {k: fit[k].astype(np.float64).mean(1) for k in STREAMS}
    stats = DomainStats({k: m.mean(0) for k, m in means.items()}, {k: m.std(0) + 1e-6 for k, m in means.items()},
                        {k: float("inf") for k in STREAMS})  # fmt: skip
    stats.threshold = {k: float(np.percentile(stats.distances(val)[k], PERCENTILE)) * 1.5 for k in STREAMS}
    torch.manual_seed(0)
    cfg = ModelConfig.for_features(DEMO_FEATURES, arch="mmcse", d_model=32, d_class=8, num_layers=1, num_heads=2)
    model = create_model(cfg)
    plain, checked = tmp_path / "plain.safetensors", tmp_path / "checked.safetensors"
    save_checkpoint(plain, model, model_config=cfg, feature_spec=DEMO_FEATURES)
    save_checkpoint(checked, model, model_config=cfg, feature_spec=DEMO_FEATURES, domain=stats)

    spec = sample_clip("test", 0, seed=3)
    write_video(tmp_path / "demo.mp4", render_frames(spec, 8), 8, render_audio(spec))
    bars = np.zeros((80, 96, 128, 3), np.uint8)
    for i, colour in enumerate([(255, 255, 255), (255, 255, 0), (0, 255, 255), (0, 255, 0), (255, 0, 255), (255, 0, 0), (0, 0, 255), (0, 0, 0)]):
        bars[:, :, i * 16 : (i + 1) * 16] = colour
    tone = (0.5 * np.sin(2 * np.pi * 1000 * np.arange(160000) / 16000)).astype(np.float32)
    write_video(tmp_path / "bars.mp4", bars, 8, tone)

    parser = Parser.from_checkpoint(checked, device="cpu")
    demo, pattern = (parser.parse_video(tmp_path / n, segment_threshold=0.1, video_threshold=0.1)
                     for n in ("demo.mp4", "bars.mp4"))  # fmt: skip
    assert not any(c["flagged"] for c in demo.out_of_domain.values())
    assert pattern.out_of_domain["visual"]["flagged"] and any("far outside" in w for w in pattern.warnings)
    unchecked = Parser.from_checkpoint(plain, device="cpu").parse_video(tmp_path / "bars.mp4", segment_threshold=0.1, video_threshold=0.1)
    assert unchecked.out_of_domain is None and unchecked.events == pattern.events
    np.testing.assert_array_equal(unchecked.segment_prob, pattern.segment_prob)


def test_calibrate_gives_an_older_checkpoint_the_statistics_and_keeps_its_weights(data, tmp_path, capsys):
    from mmcse.checkpoint import load_checkpoint, read_checkpoint_meta, save_checkpoint
    from mmcse.cli import main
    from mmcse.models import create_model

    cfg = ModelConfig.for_features(SPEC, arch="han", d_model=16, num_layers=1, num_heads=1)
    old = tmp_path / "old.safetensors"
    save_checkpoint(old, create_model(cfg), model_config=cfg, feature_spec=SPEC, extra={"note": "kept"})
    assert load_checkpoint(old).domain is None
    root = str(data["train"].root)
    assert main(["calibrate", str(old), "--data-root", root, "--out", str(tmp_path / "new.safetensors")]) == 0
    assert "feature statistics of 400 train clips, thresholds from 400 val clips" in capsys.readouterr().out
    new = load_checkpoint(tmp_path / "new.safetensors")
    expected = fit_domain(data["train"], data["val"])
    assert new.domain.threshold == pytest.approx(expected.threshold)
    before = load_checkpoint(old).model.state_dict()
    assert all(torch.equal(before[k], v) for k, v in new.model.state_dict().items())
    assert read_checkpoint_meta(tmp_path / "new.safetensors")["extra"] == {"note": "kept"}
    assert main(["calibrate", str(old), "--data-root", root, "--out", str(tmp_path / "new.safetensors")]) == 2
    assert main(["calibrate", str(old), "--data-root", root, "--in-place"]) == 0
    assert load_checkpoint(old).domain is not None


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "high", None])
def test_bad_stored_thresholds_are_refused_as_bad_checkpoint_metadata(data, bad):
    stats = fit_domain(data["train"], data["val"])
    meta = stats.to_meta()
    assert DomainStats.from_checkpoint(stats.to_arrays(), meta).threshold == stats.threshold
    meta["threshold"] = dict(meta["threshold"], visual=bad)
    with pytest.raises(ValueError) as err:
        DomainStats.from_checkpoint(stats.to_arrays(), meta, source="runs/x/best.safetensors")
    assert str(err.value).startswith(
        f"runs/x/best.safetensors: bad checkpoint metadata: domain.threshold.visual is {bad!r}, expected a finite "
        "distance >= 0"
    )
    arrays = stats.to_arrays() | {"domain.audio.std": np.zeros(SPEC.audio.shape[1])}
    with pytest.raises(ValueError, match=r"^bad checkpoint metadata: domain.audio.mean / .std hold NaN, inf or a std <= 0"):
        DomainStats.from_checkpoint(arrays, stats.to_meta())


def test_evaluate_warns_how_many_clips_are_out_of_domain(data, tmp_path):
    import shutil
    from pathlib import Path

    from mmcse.checkpoint import save_checkpoint
    from mmcse.models import create_model
    from mmcse.training.evaluation import evaluate_report

    torch.manual_seed(0)
    cfg = ModelConfig.for_features(SPEC, arch="han", d_model=16, num_layers=1, num_heads=1)
    checkpoint = tmp_path / "ck.safetensors"
    save_checkpoint(checkpoint, create_model(cfg), model_config=cfg, feature_spec=SPEC,
                    domain=fit_domain(data["train"], data["val"]))  # fmt: skip
    root = tmp_path / "data"
    shutil.copytree(data["test"].root, root)
    paths = DataPaths.from_root(root, SPEC)
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clean = evaluate_report(checkpoint, paths, "test", device="cpu")
    assert not [w for w in caught if "trained on" in str(w.message)]
    assert clean["out_of_domain"]["warned"] is False and clean["out_of_domain"]["far"] == 0
    assert clean["out_of_domain"]["over"] < 0.03 * 400 and clean["out_of_domain"]["clips"] == 400

    vid = data["test"].video_ids[7]
    feature_file = Path(paths.feature_root) / SPEC.visual.name / f"{vid}.npy"
    np.save(feature_file, np.load(feature_file) * np.float32(1e30))  # huge but finite: read as it is
    with pytest.warns(UserWarning) as record:
        scaled = evaluate_report(checkpoint, paths, "test", device="cpu")
    (message,) = [str(w.message) for w in record if "trained on" in str(w.message)]
    assert message.startswith(f"{root / 'AVVP_test_pd.csv'}: 1 of 400 clips have features far outside those "
                              f"ck.safetensors was trained on (furthest: clip {vid}, its visual features at distance")  # fmt: skip
    assert f"{feature_file}); they are scored as they are" in message
    assert scaled["out_of_domain"]["far"] == 1 and scaled["out_of_domain"]["worst"]["clip"] == 7
