"""Feature stores: official per-clip layout, packed layout, validation errors, `python -m mmcse pack`."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from mmcse.cli import main as cli_main
from mmcse.config import HAN_FEATURES, VALOR_FEATURES, FeatureSpec, ModelConfig, StreamSpec
from mmcse.data.features import FeatureStore, PackedFeatureStore, pack_features
from mmcse.data.synthetic import write_synthetic_dataset

TINY = FeatureSpec(
    name="tiny",
    audio=StreamSpec("aud", (10, 8)),
    visual=StreamSpec("vis/frames", (20, 6)),  # nested stream folder, like CLIP/features
    visual_st=StreamSpec("st", (10, 4)),
    pseudo_audio="aud_pseudo",
    pseudo_visual="vis_pseudo",
)
IDS = ["abc_DEF-123", "zz9-_aaBBcc", "0123456789a", "QWERTYUIOPA"]


def _write_official(root, spec=TINY, ids=IDS, seed=0, pseudo=True):
    """Per-clip files as released: <root>/<stream>/<id11>.npy. Returns {key: (N, L, D) arrays}."""
    rng = np.random.default_rng(seed)
    names = {k: (s.name, s.shape) for k, s in spec.streams.items()}
    if pseudo:
        names.update(pseudo_audio=(spec.pseudo_audio, (10, 25)), pseudo_visual=(spec.pseudo_visual, (10, 25)))
    arrays = {}
    for key, (name, shape) in names.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        if key.startswith("pseudo"):
            arrays[key] = (rng.random((len(ids), *shape)) > 0.7).astype(np.float32)
        else:
            arrays[key] = rng.standard_normal((len(ids), *shape)).astype(np.float32)
        for i, vid in enumerate(ids):
            np.save(root / name / f"{vid}.npy", arrays[key][i])
    return arrays


def test_official_layout_round_trip(tmp_path):
    arrays = _write_official(tmp_path)
    store = FeatureStore(tmp_path, TINY)
    assert store.has_pseudo and not store.packed
    clip = store.load(IDS[2])
    assert set(clip) == {"audio", "visual", "visual_st", "pseudo_audio", "pseudo_visual"}
    for key, value in clip.items():
        np.testing.assert_array_equal(value, arrays[key][2])
        assert value.dtype == np.float32
    batch = store.load_batch([IDS[3], IDS[0], IDS[3]])
    np.testing.assert_array_equal(batch["visual"], arrays["visual"][[3, 0, 3]])
    assert batch["visual"].shape == (3, 20, 6)


def test_float64_and_float16_are_cast_to_float32(tmp_path):
    arrays = _write_official(tmp_path, pseudo=False)
    np.save(tmp_path / "aud" / f"{IDS[0]}.npy", arrays["audio"][0].astype(np.float64))
    np.save(tmp_path / "st" / f"{IDS[0]}.npy", arrays["visual_st"][0].astype(np.float16))
    clip = FeatureStore(tmp_path, TINY).load(IDS[0])
    assert clip["audio"].dtype == clip["visual_st"].dtype == np.float32
    np.testing.assert_array_equal(clip["audio"], arrays["audio"][0])
    np.testing.assert_array_equal(
        clip["visual_st"], arrays["visual_st"][0].astype(np.float16).astype(np.float32)
    )


def test_pseudo_streams_optional_and_integer_pseudo_labels_accepted(tmp_path):
    arrays = _write_official(tmp_path, pseudo=False)
    store = FeatureStore(tmp_path, TINY)  # auto: the spec names pseudo streams but they are absent
    assert not store.has_pseudo and set(store.load(IDS[0])) == {"audio", "visual", "visual_st"}
    with pytest.raises(FileNotFoundError, match="aud_pseudo.*--feature-root"):
        FeatureStore(tmp_path, TINY, pseudo=True)
    for name in ("aud_pseudo", "vis_pseudo"):
        (tmp_path / name).mkdir()
        for vid in IDS:
            np.save(tmp_path / name / f"{vid}.npy", np.eye(10, 25, dtype=np.int64))
    clip = FeatureStore(tmp_path, TINY).load(IDS[1])
    assert clip["pseudo_audio"].dtype == np.float32 and clip["pseudo_audio"].sum() == 10
    np.testing.assert_array_equal(clip["audio"], arrays["audio"][1])


@pytest.mark.parametrize(
    "bad, message",
    [
        (np.zeros((9, 8), np.float32), r"shape \(9, 8\), expected \(10, 8\)"),
        (np.zeros((10, 8), np.int64), "dtype int64, expected a float array"),
        (np.array([[None] * 8] * 10, dtype=object), "not a plain numeric .npy array"),
        (np.full((10, 8), np.nan, np.float32), "NaN or inf"),
        (np.where(np.eye(10, 8) > 0, np.inf, 0).astype(np.float32), "NaN or inf"),
    ],
    ids=["shape", "int", "object", "nan", "inf"],
)
def test_bad_arrays_name_file_and_clip(tmp_path, bad, message):
    _write_official(tmp_path, pseudo=False)
    np.save(tmp_path / "aud" / f"{IDS[1]}.npy", bad, allow_pickle=True)
    store = FeatureStore(tmp_path, TINY)
    with pytest.raises(ValueError, match=message) as err:
        store.load_batch(IDS)
    assert f"aud/{IDS[1]}.npy" in str(err.value) and f"clip {IDS[1]}" in str(err.value)


def test_missing_files_and_folders(tmp_path):
    _write_official(tmp_path, pseudo=False)
    (tmp_path / "st" / f"{IDS[2]}.npy").unlink()
    store = FeatureStore(tmp_path, TINY)
    with pytest.raises(FileNotFoundError, match=rf"st/{IDS[2]}.npy.*--feature-root"):
        store.load(IDS[2])
    assert store.missing(IDS + ["notthereyet"]) == [IDS[2], "notthereyet"]
    with pytest.raises(FileNotFoundError, match=rf"2 of 5 clips .*first: {IDS[2]}, notthereyet"):
        store.check_complete(IDS + ["notthereyet"])
    with pytest.raises(FileNotFoundError, match="does not exist; check --feature-root"):
        FeatureStore(tmp_path / "nowhere", TINY)
    with pytest.raises(FileNotFoundError, match=r"res152.*check --feature-root and the stream names"):
        FeatureStore(
            tmp_path,
            FeatureSpec("x", StreamSpec("aud", (10, 8)), StreamSpec("res152", (80, 2048)), TINY.visual_st),
        )


def test_packed_equals_per_clip(tmp_path):
    arrays = _write_official(tmp_path / "official")
    out = pack_features(
        tmp_path / "official", TINY, IDS, tmp_path / "packed", progress=False, pool_frames=False
    )
    packed = FeatureStore.open(out, TINY)
    assert isinstance(packed, PackedFeatureStore) and packed.packed and packed.has_pseudo
    official = FeatureStore.open(tmp_path / "official", TINY)
    assert not official.packed
    order = [IDS[3], IDS[1], IDS[1], IDS[0]]
    a, b = official.load_batch(order), packed.load_batch(order)
    assert set(a) == set(b) == {"audio", "visual", "visual_st", "pseudo_audio", "pseudo_visual"}
    for key in a:
        assert b[key].dtype == np.float32 and b[key].shape == a[key].shape
        np.testing.assert_array_equal(a[key], b[key])
    np.testing.assert_array_equal(packed.load_clip(IDS[2], "visual"), arrays["visual"][2])
    index = json.loads((out / "index.json").read_text())
    assert index["ids"] == IDS and index["dtype"] == "float32" and index["version"] == 2
    assert index["pooled"] == {} and packed.pooled == {}  # pool_frames=False: every frame kept
    assert FeatureSpec.from_dict(index["spec"]) == TINY
    assert packed.missing(["abc_DEF-123", "nope"]) == ["nope"]
    # DataLoader workers get the store pickled: the mapped data must not travel with it
    clone = pickle.loads(pickle.dumps(packed))
    assert len(pickle.dumps(packed)) < 10_000
    np.testing.assert_array_equal(clone.load_batch(order)["audio"], a["audio"])


def test_packed_store_refuses_another_spec(tmp_path):
    _write_official(tmp_path / "official", pseudo=False)
    out = pack_features(tmp_path / "official", TINY, IDS, tmp_path / "packed", progress=False)
    assert not FeatureStore.open(out, TINY).has_pseudo
    other = FeatureSpec("other", StreamSpec("aud", (10, 16)), TINY.visual, TINY.visual_st)
    with pytest.raises(ValueError, match="packed for features 'tiny'"):
        FeatureStore.open(out, other)
    with pytest.raises(FileNotFoundError, match="no packed pseudo_audio"):
        FeatureStore.open(out, TINY, pseudo=True)


def test_pack_is_atomic(tmp_path):
    _write_official(tmp_path / "official", pseudo=False)
    np.save(tmp_path / "official" / "st" / f"{IDS[3]}.npy", np.full((10, 4), np.nan, np.float32))
    with pytest.raises(ValueError, match=f"clip {IDS[3]}"):
        pack_features(tmp_path / "official", TINY, IDS, tmp_path / "packed", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["official"]  # no output, no temp folder left
    with pytest.raises(FileNotFoundError, match="1 of 5 clips"):
        pack_features(tmp_path / "official", TINY, IDS + ["missing1234"], tmp_path / "packed", progress=False)
    out = pack_features(tmp_path / "official", TINY, IDS[:2], tmp_path / "packed", progress=False)
    with pytest.raises(FileExistsError, match="--overwrite"):
        pack_features(tmp_path / "official", TINY, IDS[:2], out, progress=False)
    pack_features(tmp_path / "official", TINY, IDS[:1], out, overwrite=True, progress=False)
    assert FeatureStore.open(out, TINY).ids == IDS[:1]


def test_pack_command_end_to_end(tmp_path, capsys):
    data = write_synthetic_dataset(tmp_path / "llp", VALOR_FEATURES, n_train=6, n_val=3, n_test=3, seed=1)
    out = tmp_path / "packed"
    argv = ["pack", "--feature-root", str(data.feature_root), "--features", "valor", "--out", str(out)]
    argv += ["--split-csv", str(data.split_csvs["train"]), str(data.split_csvs["val"])]
    assert cli_main(argv) == 0
    assert "packed 9 clips" in capsys.readouterr().out
    packed = FeatureStore.open(out, VALOR_FEATURES)
    ids = [f[:11] for f in data.filenames["train"] + data.filenames["val"]]
    assert packed.ids == ids and packed.has_pseudo
    official = FeatureStore.open(data.feature_root, VALOR_FEATURES)
    a, b = official.load_batch(ids[::-1]), packed.load_batch(ids[::-1])
    assert all(np.array_equal(a[k], b[k]) for k in a)
    # running again without --overwrite: one clear error line, exit code 2
    assert cli_main(argv) == 2
    assert "already exists" in capsys.readouterr().err
    # no --split-csv: every clip of the audio stream folder, sorted
    assert cli_main(argv[:-3] + ["--overwrite", "--no-pseudo"]) == 0
    packed = FeatureStore.open(out, VALOR_FEATURES)
    assert len(packed.ids) == 12 and not packed.has_pseudo and packed.ids == sorted(packed.ids)


def test_bench_store_runs_and_cleans_up_only_its_files(tmp_path, capsys):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    (scratch / "yours.txt").write_text("not the benchmark's")
    argv = ["bench-store", "--clips", "64", "--dir", str(scratch), "--cache", "warm", "--skip-authors-loader"]
    assert cli_main(argv) == 0
    out = capsys.readouterr().out
    assert "64 clips of han features" in out and "per-clip (FeatureStore.load_batch)" in out and "x\n" in out
    assert sorted(p.name for p in scratch.iterdir()) == ["yours.txt"]


# ------------------------------------------------------------------------------ frame pooling
# han's ResNet-152 stream (80 frames) packed as the mean of each group of 8 frames: (10, 2048)

HAN_SMALL = FeatureSpec(
    "han_small", StreamSpec("vggish", (10, 8)), StreamSpec("res152", (80, 16)), TINY.visual_st
)


def _group_mean(frames, size):
    """(N, L, D) -> (N, L / size, D): plain loops, float64 sums, one rounding to float32."""
    n, length, dim = frames.shape
    out = np.zeros((n, length // size, dim), np.float64)
    for t in range(length // size):
        for j in range(size):
            out[:, t] += frames[:, t * size + j]
    return (out / size).astype(np.float32)


def test_pooled_pack_is_the_mean_of_groups_of_8(tmp_path):
    arrays = _write_official(tmp_path / "official", spec=HAN_SMALL, pseudo=False)
    out = pack_features(tmp_path / "official", HAN_SMALL, IDS, tmp_path / "packed", progress=False)
    index = json.loads((out / "index.json").read_text())
    assert index["pooled"] == {"visual": 8} and index["version"] == 2
    assert index["streams"]["visual"]["shape"] == [4, 10, 16] and index["streams"]["audio"]["shape"] == [
        4,
        10,
        8,
    ]
    assert FeatureSpec.from_dict(index["spec"]) == HAN_SMALL  # the spec of the features it was made from
    packed = FeatureStore.open(out, HAN_SMALL)
    assert packed.pooled == {"visual": 8} and packed.streams["visual"] == ("res152", (10, 16))
    order = [IDS[2], IDS[0], IDS[2]]
    batch = packed.load_batch(order)
    assert batch["visual"].shape == (3, 10, 16) and batch["visual"].dtype == np.float32
    np.testing.assert_array_equal(batch["visual"], _group_mean(arrays["visual"], 8)[[2, 0, 2]])
    np.testing.assert_allclose(
        batch["visual"], arrays["visual"][[2, 0, 2]].reshape(3, 10, 8, 16).mean(2), atol=1e-6
    )
    np.testing.assert_array_equal(batch["audio"], arrays["audio"][[2, 0, 2]])  # other streams untouched
    np.testing.assert_array_equal(batch["visual_st"], arrays["visual_st"][[2, 0, 2]])
    np.testing.assert_array_equal(packed.load_clip(IDS[1], "visual"), _group_mean(arrays["visual"], 8)[1])
    np.testing.assert_array_equal(
        pickle.loads(pickle.dumps(packed)).load_batch(order)["visual"], batch["visual"]
    )
    # --no-pool-frames: every frame kept, recorded as {}
    unpooled = pack_features(
        tmp_path / "official", HAN_SMALL, IDS, tmp_path / "full", progress=False, pool_frames=False
    )
    assert json.loads((unpooled / "index.json").read_text())["pooled"] == {}
    np.testing.assert_array_equal(
        FeatureStore.open(unpooled, HAN_SMALL).load_batch(order)["visual"], arrays["visual"][[2, 0, 2]]
    )
    # an index.json whose pooling does not fit the spec is refused
    index["pooled"] = {"visual": 4}
    (out / "index.json").write_text(json.dumps(index))
    with pytest.raises(ValueError, match=r"pooled \{'visual': 4\}.*re-pack"):
        FeatureStore.open(out, HAN_SMALL)


def _han_shaped_inputs(batch=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    audio = torch.randn(batch, 10, 128, generator=g)
    visual = torch.randn(batch, 80, 2048, generator=g)  # ResNet-152 frames
    visual_st = torch.randn(batch, 10, 512, generator=g)
    pooled = visual.view(batch, 10, 8, 2048).mean(dim=2)  # (B, 10, 2048): what a pooled store returns
    return audio, visual, visual_st, pooled


def _assert_same_outputs(a, b, atol=1e-5):
    for name in ("video_prob", "audio_prob", "visual_prob", "segment_prob", "segment_logits"):
        torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=0, atol=atol, msg=name)
    for name in ("class_features", "enhanced_features"):
        if getattr(a, name) is not None:
            torch.testing.assert_close(getattr(a, name), getattr(b, name), rtol=0, atol=atol, msg=name)
    assert set(a.attn) == set(b.attn) and set(a.aux_losses) == set(b.aux_losses)
    for k in a.attn:
        torch.testing.assert_close(a.attn[k], b.attn[k], rtol=0, atol=atol)
    for k in a.aux_losses:
        torch.testing.assert_close(a.aux_losses[k], b.aux_losses[k], rtol=0, atol=atol)


@pytest.mark.parametrize(
    "overrides",
    [
        dict(arch="mmcse", d_model=64, d_class=16, num_layers=2, num_heads=4),
        dict(arch="han", d_model=64, num_layers=1, num_heads=1),
        dict(arch="valor", d_model=64, num_layers=2, num_heads=4),
    ],
    ids=["mmcse", "han", "valor"],
)
def test_models_give_the_same_outputs_on_pooled_frames(overrides):
    from mmcse.models import create_model

    torch.manual_seed(0)
    cfg = ModelConfig.for_features(HAN_FEATURES, **overrides)
    assert cfg.visual_len == 80
    model = create_model(cfg).eval()
    audio, visual, visual_st, pooled = _han_shaped_inputs()
    with torch.no_grad():
        _assert_same_outputs(model(audio, visual, visual_st), model(audio, pooled, visual_st))
    # training mode too (dropout after the projection draws the same masks from the same seed)
    model.train()
    torch.manual_seed(1)
    full = model(audio, visual, visual_st)
    torch.manual_seed(1)
    _assert_same_outputs(full, model(audio, pooled, visual_st))
    with pytest.raises(ValueError, match="visual has 40 steps, expected 80 or 10"):
        model(audio, visual[:, :40], visual_st)


def test_han_checkpoint_runs_on_a_pooled_han_store(tmp_path, capsys):
    """A han checkpoint accepts the pooled store (same FeatureSpec) and predicts what it does per clip."""

    from helpers.splits import split_of

    from mmcse.checkpoint import save_checkpoint
    from mmcse.data.paths import DataPaths
    from mmcse.inference import Parser
    from mmcse.models import create_model
    from mmcse.training.evaluation import evaluate_report

    data = write_synthetic_dataset(tmp_path / "llp", HAN_FEATURES, n_train=2, n_val=2, n_test=5, seed=2)
    out = tmp_path / "packed"
    argv = ["pack", "--feature-root", str(data.feature_root), "--features", "han", "--out", str(out)]
    assert cli_main(argv + ["--split-csv", str(data.split_csvs["test"])]) == 0  # pooling on by default
    assert "res152 80 -> 10 steps" in capsys.readouterr().out
    packed = FeatureStore.open(out, HAN_FEATURES)
    assert packed.pooled == {"visual": 8} and packed.spec == HAN_FEATURES
    torch.manual_seed(0)
    cfg = ModelConfig.for_features(HAN_FEATURES, arch="han", d_model=32, num_layers=1, num_heads=1)
    checkpoint = tmp_path / "han.safetensors"
    save_checkpoint(checkpoint, create_model(cfg), model_config=cfg, feature_spec=HAN_FEATURES)
    # evaluation (the checkpoint's spec is checked against the data's): the same scores from both layouts
    reports = [
        evaluate_report(
            checkpoint, DataPaths.from_root(data.llp_dir, HAN_FEATURES, feature_root=root), device="cpu"
        )
        for root in (data.feature_root, out)
    ]
    assert (
        reports[0]["n_clips"] == reports[1]["n_clips"] == 5 and reports[0]["scores"] == reports[1]["scores"]
    )
    # the parser's probabilities: per-clip files vs the pooled store
    parser = Parser.from_checkpoint(checkpoint, device="cpu")
    split = split_of(data.llp_dir, "test", parser.feature_spec, data.feature_root)
    per_clip = parser.predict_split(split)
    pooled = parser.predict_split(split_of(data.llp_dir, "test", parser.feature_spec, out))
    for name in ("video_prob", "audio_prob", "visual_prob", "segment_prob"):
        np.testing.assert_allclose(getattr(pooled, name), getattr(per_clip, name), rtol=0, atol=1e-5)
    # --no-pool-frames keeps the 80 frames
    assert cli_main(argv + ["--overwrite", "--no-pool-frames"]) == 0
    assert "res152 80 -> 10" not in capsys.readouterr().out
    assert FeatureStore.open(out, HAN_FEATURES).load_batch(packed.ids[:2])["visual"].shape == (2, 80, 2048)


def _truncated_npy(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])


@pytest.mark.parametrize(
    "damage,message",
    [
        (lambda p: p.write_bytes(b""), r"an empty file \(0 bytes\), not a .npy array; expected a .npy array of"),
        (lambda p: np.savez(open(p, "wb"), x=np.zeros((10, 8), np.float32)), "an .npz archive named .npy"),
        (_truncated_npy, r"a truncated .npy file \(408 bytes; its header promises float32 \(10, 8\), 448 bytes\)"),
        (lambda p: p.write_text("0.1,0.2\n" * 10), "not a .npy file"),
    ],
    ids=["empty", "npz", "truncated", "text"],
)
def test_files_that_are_not_npy_arrays_name_the_file_and_what_they_are(tmp_path, damage, message):
    _write_official(tmp_path / "official", pseudo=False)
    out = pack_features(tmp_path / "official", TINY, IDS, tmp_path / "packed", progress=False)
    damage(tmp_path / "official" / "aud" / f"{IDS[1]}.npy")
    with pytest.raises(ValueError, match=message) as err:
        FeatureStore(tmp_path / "official", TINY).load_batch(IDS)
    assert str(err.value).startswith(f"{tmp_path / 'official' / 'aud' / IDS[1]}.npy (clip {IDS[1]}, stream aud): ")
    damage(out / "audio.npy")  # the packed store's stream file: the same errors, when it is opened
    packed_message = message.replace(r"\(10, 8\)", r"\(4, 10, 8\)").replace("408", "1368").replace("448", "1408")
    with pytest.raises(ValueError, match=packed_message) as err:
        FeatureStore.open(out, TINY)
    assert str(err.value).startswith(f"{out / 'audio.npy'} (packed audio stream): ")


def test_pseudo_labels_outside_0_1_are_refused_naming_the_file(tmp_path):
    _write_official(tmp_path / "official")
    out = pack_features(tmp_path / "official", TINY, IDS, tmp_path / "packed", progress=False)
    bad = np.zeros((10, 25), np.float32)
    bad[3, 4], bad[5, 6] = -3, 4
    np.save(tmp_path / "official" / "aud_pseudo" / f"{IDS[2]}.npy", bad)
    with pytest.raises(ValueError) as err:
        FeatureStore(tmp_path / "official", TINY).load_batch(IDS)
    assert str(err.value) == (
        f"{tmp_path / 'official' / 'aud_pseudo' / IDS[2]}.npy (clip {IDS[2]}, stream aud_pseudo): pseudo label -3 "
        "at index [3, 4] is outside [0, 1]; pseudo labels are probabilities (or 0/1): fix or regenerate them"
    )
    packed = np.load(out / "pseudo_visual.npy", mmap_mode="r+")
    packed[1, 5, 6] = 4  # changed after packing
    packed.flush()
    del packed
    store = FeatureStore.open(out, TINY)
    assert store.load_batch([IDS[0], IDS[2]])["pseudo_visual"].shape == (2, 10, 25)  # other clips still read
    with pytest.raises(ValueError, match=rf"pseudo_visual.npy: clip {IDS[1]} \(row 1\): pseudo label 4 at index \[5, 6\]"):
        store.load_batch([IDS[0], IDS[1]])


def test_nan_written_into_a_packed_store_is_refused_when_read(tmp_path):
    _write_official(tmp_path / "official", pseudo=False)
    out = pack_features(tmp_path / "official", TINY, IDS, tmp_path / "packed", progress=False)
    packed = np.load(out / "visual_st.npy", mmap_mode="r+")
    packed[2, 7, 1] = np.nan
    packed.flush()
    del packed
    store = FeatureStore.open(out, TINY)
    store.load_batch([IDS[0], IDS[1], IDS[3]])  # the clean rows
    with pytest.raises(ValueError) as err:
        store.load_batch([IDS[3], IDS[2]])
    assert str(err.value).startswith(f"{out / 'visual_st.npy'}: clip {IDS[2]} (row 2) contains NaN or inf (first at "
                                     "index [7, 1]); the packed store was changed after packing: re-pack it")  # fmt: skip
    huge = FeatureStore.open(out, TINY)
    huge.arrays = {k: v * np.float32(1e30) if k == "audio" else v for k, v in huge.arrays.items()}
    assert np.isfinite(huge.load_batch(IDS[:2])["audio"]).all()  # huge but finite: read as it is


def test_a_packed_index_that_does_not_match_its_rows_is_refused(tmp_path):
    _write_official(tmp_path / "official", pseudo=False)
    out = pack_features(tmp_path / "official", TINY, IDS, tmp_path / "packed", progress=False)
    index = json.loads((out / "index.json").read_text())
    for ids, message in (
        (IDS[:3], r"audio.npy: float32 \(4, 10, 8\), expected float32 \(3, 10, 8\) \(3 clips in index.json\); the "
                  "index does not match the rows"),
        ([IDS[0], IDS[1], IDS[0], IDS[3]], f"index.json: clip {IDS[0]} is listed twice in 'ids' \\(rows 0 and 2\\)"),
    ):  # fmt: skip
        (out / "index.json").write_text(json.dumps(index | {"ids": ids}))
        with pytest.raises(ValueError, match=message):
            FeatureStore.open(out, TINY)
    streams = json.loads(json.dumps(index["streams"]))
    streams["visual_st"]["shape"] = [5, 10, 4]
    (out / "index.json").write_text(json.dumps(index | {"streams": streams}))
    with pytest.raises(ValueError, match=r"index.json: says visual_st is \(5, 10, 4\), visual_st.npy holds \(4, 10, 4\)"):
        FeatureStore.open(out, TINY)


@pytest.mark.parametrize(
    "change,message",
    [
        (lambda index: [1, 2], "a JSON list, not an object"),
        (lambda index: {k: v for k, v in index.items() if k != "ids"}, "'ids' is not a list of clip ids"),
        (lambda index: index | {"ids": [1, 2, 3, 4]}, "'ids' is not a list of clip ids"),
        (lambda index: index | {"streams": {"audio": "audio.npy"}}, "'streams' is not"),
        (lambda index: index | {"spec": {"name": "x"}}, "'spec' is not a feature spec"),
    ],
    ids=["list", "no-ids", "int-ids", "streams", "spec"],
)
def test_an_index_that_is_not_a_packed_index_names_the_file(tmp_path, change, message):
    _write_official(tmp_path / "official", pseudo=False)
    out = pack_features(tmp_path / "official", TINY, IDS, tmp_path / "packed", progress=False)
    index = json.loads((out / "index.json").read_text())
    (out / "index.json").write_text(json.dumps(change(index)))
    with pytest.raises(ValueError, match=f"^{out / 'index.json'}: {message}"):
        FeatureStore.open(out, TINY)


def test_a_folder_named_like_a_clip_file_is_named_as_a_folder(tmp_path):
    _write_official(tmp_path, pseudo=False)
    (tmp_path / "st" / f"{IDS[2]}.npy").unlink()
    (tmp_path / "st" / f"{IDS[2]}.npy").mkdir()
    store = FeatureStore(tmp_path, TINY)
    with pytest.raises(ValueError) as err:
        store.load_batch(IDS)
    assert str(err.value) == (
        f"{tmp_path / 'st' / (IDS[2] + '.npy')} (clip {IDS[2]}, stream st): a folder, not a feature file; "
        "each clip's stream is one .npy file: remove or rename the folder"
    )


@pytest.mark.parametrize("present", ["aud_pseudo", "vis_pseudo"])
def test_one_pseudo_label_folder_alone_warns_that_the_weak_recipe_is_used(tmp_path, present):
    import warnings

    arrays = _write_official(tmp_path, pseudo=True)
    missing = {"aud_pseudo": "vis_pseudo", "vis_pseudo": "aud_pseudo"}[present]
    for f in (tmp_path / missing).iterdir():
        f.unlink()
    (tmp_path / missing).rmdir()
    with pytest.warns(UserWarning) as record:
        store = FeatureStore(tmp_path, TINY)
    (message,) = [str(w.message) for w in record]
    assert message.startswith(
        f"pseudo-label folder {tmp_path / missing} not found while {tmp_path / present} is there; "
        "pseudo labels need both, so none are used and training uses the weak-label recipe"
    )
    assert not store.has_pseudo
    np.testing.assert_array_equal(store.load(IDS[0])["audio"], arrays["audio"][0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # neither folder, both folders, or pseudo labels off: no warning
        assert not FeatureStore(tmp_path, TINY, pseudo=False).has_pseudo
        (tmp_path / missing).mkdir()
        for vid in IDS:
            np.save(tmp_path / missing / f"{vid}.npy", np.zeros((10, 25), np.float32))
        assert FeatureStore(tmp_path, TINY).has_pseudo


def test_a_packed_store_with_one_pseudo_stream_warns_and_uses_none(tmp_path):
    _write_official(tmp_path / "src", pseudo=True)
    out = pack_features(tmp_path / "src", TINY, IDS, tmp_path / "packed", progress=False)
    index = json.loads((out / "index.json").read_text())
    del index["streams"]["pseudo_visual"]
    (out / "index.json").write_text(json.dumps(index))
    with pytest.warns(UserWarning, match=rf"the packed pseudo_visual stream of {out} not found while its "):
        store = PackedFeatureStore(out, TINY)
    assert not store.has_pseudo and set(store.load_batch(IDS[:2])) == {"audio", "visual", "visual_st"}
