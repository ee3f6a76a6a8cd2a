"""Checkpoints: save/load round trip, metadata, clear errors on bad files, the authors' checkpoint import
(refusals listing the bad keys, wrappers, the import-official command)."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from mmcse.checkpoint import load_checkpoint, read_checkpoint_meta, save_checkpoint
from mmcse.classes import LLP_CLASSES
from mmcse.cli import main as cli_main
from mmcse.config import HAN_FEATURES, VALOR_FEATURES, ModelConfig, TrainConfig
from mmcse.models import create_model
from mmcse.models.official import import_official


def _small_cfg(**kw) -> ModelConfig:
    return ModelConfig.for_features(VALOR_FEATURES, num_layers=1, **kw)


def _inputs(cfg: ModelConfig, batch: int = 2):
    g = torch.Generator().manual_seed(1)
    return (
        torch.randn(batch, cfg.audio_len, cfg.audio_dim, generator=g),
        torch.randn(batch, cfg.visual_len, cfg.visual_dim, generator=g),
        torch.randn(batch, 10, cfg.visual_st_dim, generator=g),
    )


@pytest.fixture()
def saved(tmp_path):
    cfg = _small_cfg()
    torch.manual_seed(3)
    model = create_model(cfg).eval()
    path = tmp_path / "run" / "best.safetensors"
    train = TrainConfig(seed=5, epochs=2)
    save_checkpoint(path, model, model_config=cfg, feature_spec=VALOR_FEATURES, train_config=train,
                    metrics={"seg_type": 61.25}, extra={"note": "x"})  # fmt: skip
    return path, model, cfg


def test_round_trip_gives_identical_outputs_and_metadata(saved):
    path, model, cfg = saved
    assert not list(path.parent.glob("*.tmp"))  # no temp file left behind
    loaded = load_checkpoint(path)
    assert not loaded.model.training
    assert loaded.model_config == cfg
    assert loaded.feature_spec == VALOR_FEATURES
    assert loaded.train_config.seed == 5 and loaded.train_config.epochs == 2
    assert loaded.metrics == {"seg_type": 61.25}
    assert loaded.meta["class_order"] == list(LLP_CLASSES)
    assert loaded.meta["extra"] == {"note": "x"}
    assert loaded.meta["gating"] == "mmcse"
    x = _inputs(cfg)
    with torch.no_grad():
        a, b = model(*x), loaded.model(*x)
    for name in ("video_prob", "audio_prob", "visual_prob", "segment_logits"):
        torch.testing.assert_close(getattr(b, name), getattr(a, name), rtol=0, atol=0)
    for k in a.attn:
        torch.testing.assert_close(b.attn[k], a.attn[k], rtol=0, atol=0)


def test_read_meta_without_building(saved):
    path, _, cfg = saved
    meta = read_checkpoint_meta(path)
    assert meta["arch"] == "mmcse"
    assert ModelConfig.from_dict(meta["model_config"]) == cfg
    assert meta["feature_spec"]["audio"]["shape"] == [64, 768]
    assert meta["num_parameters"] == sum(p.numel() for p in create_model(cfg).parameters())
    assert "created" in meta and meta["format_version"] == 1


def test_truncated_file_is_refused_clearly(saved, tmp_path):
    path, _, _ = saved
    data = path.read_bytes()
    bad = tmp_path / "truncated.safetensors"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=r"truncated\.safetensors.*not a usable mmcse checkpoint"):
        load_checkpoint(bad)


@pytest.mark.parametrize(
    "content", [b"", b"\x00" * 7, bytes(range(256)) * 40, b"PK\x03\x04 not a checkpoint"]
)
def test_random_bytes_are_refused_clearly(tmp_path, content):
    bad = tmp_path / "junk.safetensors"
    bad.write_bytes(content)
    with pytest.raises(ValueError, match=r"junk\.safetensors.*not a usable mmcse checkpoint"):
        read_checkpoint_meta(bad)
    with pytest.raises(ValueError, match=r"junk\.safetensors"):
        load_checkpoint(bad)


def test_safetensors_without_our_metadata_is_refused(tmp_path):
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other), metadata={"format": "pt"})
    with pytest.raises(ValueError, match="without the 'mmcse' metadata"):
        read_checkpoint_meta(other)


def test_a_training_state_is_named_as_such_with_the_checkpoints_to_use(tmp_path):
    import subprocess
    import sys

    from mmcse.checkpoint import TRAIN_STATE_META_KEY
    from mmcse.training import state

    assert TRAIN_STATE_META_KEY == state.STATE_META_KEY
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    path = tmp_path / "run" / "train_state.safetensors"
    path.parent.mkdir()
    state.save_train_state(path, opt, {"epoch": 3})
    expected = (
        f"{path}: this is a training state (train_state.safetensors), not a model checkpoint; use "
        f"best.safetensors or last.safetensors of the run folder {path.parent}"
    )
    for read in (read_checkpoint_meta, load_checkpoint):
        with pytest.raises(ValueError) as err:
            read(path)
        assert str(err.value) == expected
    # reading the metadata stays torch-free
    code = (
        "import sys\nfrom mmcse.checkpoint import read_checkpoint_meta\n"
        f"try:\n    read_checkpoint_meta({str(path)!r})\nexcept ValueError:\n    pass\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_weights_that_do_not_fit_the_described_model_are_listed(tmp_path):
    """A checkpoint whose metadata describes another architecture (wrong spec) names the bad keys."""
    from safetensors.torch import save_file

    cfg = _small_cfg()
    good = tmp_path / "good.safetensors"
    save_checkpoint(good, create_model(cfg), model_config=cfg, feature_spec=VALOR_FEATURES)
    meta = read_checkpoint_meta(good)
    meta["model_config"]["audio_dim"] = 128  # claims VGGish-width input, weights are for CLAP
    meta["feature_spec"]["audio"]["shape"] = [64, 128]  # (consistently: a contradiction is refused earlier)
    meta["model_config"]["num_layers"] = 2
    from safetensors.torch import load_file

    bad = tmp_path / "bad.safetensors"
    save_file(load_file(str(good)), str(bad), metadata={"mmcse": json.dumps(meta)})
    with pytest.raises(ValueError) as err:
        load_checkpoint(bad)
    msg = str(err.value)
    assert "bad.safetensors" in msg
    assert "proj.fc_a.weight (256, 768) (expected (256, 128))" in msg
    assert "missing keys: fgse.layers.1." in msg


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_weights_holding_nan_or_inf_are_refused_naming_the_tensor(saved, tmp_path, value):
    from safetensors.torch import load_file, save_file

    path, _, _ = saved
    tensors = load_file(str(path))
    name = sorted(k for k in tensors if tensors[k].is_floating_point() and tensors[k].numel() > 3)[1]
    tensors[name].view(-1)[3] = value
    bad = tmp_path / "damaged.safetensors"
    save_file(tensors, str(bad), metadata={"mmcse": json.dumps(read_checkpoint_meta(path))})
    with pytest.raises(ValueError) as err:
        load_checkpoint(bad)
    assert str(err.value) == (
        f"{bad}: weight tensor {name} holds NaN / inf; the checkpoint is damaged (re-train or re-download)"
    )
    assert load_checkpoint(path).model is not None  # the undamaged original loads


@pytest.mark.parametrize("device", ["gpu9", "cuda:x", "cudaa", "", 3, "cuda", "cuda:0"])
def test_a_bad_or_missing_device_is_one_clear_error(saved, device):
    path, _, _ = saved
    if isinstance(device, str) and device.startswith("cuda") and device[4:] in ("", ":0"):
        if torch.cuda.is_available():
            assert load_checkpoint(path, device=device).model is not None
            return
        match = rf"^device '{device}' asked for, but torch sees no CUDA GPU; use cpu or auto$"
    else:
        match = rf"^unknown device {device!r}; expected auto, cpu, cuda or cuda:N"
    with pytest.raises(ValueError, match=match):
        load_checkpoint(path, device=device)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        load_checkpoint(tmp_path / "nope.safetensors")
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        import_official(tmp_path / "nope.pth")


# --------------------------------------------------------------------------------------------------------
# the authors' checkpoint


@pytest.fixture(scope="module")
def official_state(reference_dir):
    return torch.load(reference_dir / "mmcse_official_clap_clip.pth", map_location="cpu", weights_only=True)


def _reference_outputs(reference_dir, model):
    ref = np.load(reference_dir / "mmcse_official_clap_clip_io.npz", allow_pickle=False)
    with torch.no_grad():
        out = model(*(torch.from_numpy(ref[k]) for k in ("audio", "visual", "visual_st")))
    return ref, out


@pytest.mark.parametrize("wrap", ["model", "state_dict", "module", "plain"])
def test_import_accepts_wrapped_and_ddp_state_dicts(
    tmp_path, official_state, reference_dir, wrap, kernel_path
):
    state = dict(official_state)
    if wrap == "module":
        obj = {f"module.{k}": v for k, v in state.items()}
    elif wrap == "plain":
        obj = state
    else:
        obj = {wrap: state, "epoch": torch.tensor(7)}
    path = tmp_path / "ckpt.pth"
    torch.save(obj, path)
    ref, out = _reference_outputs(reference_dir, import_official(path))
    np.testing.assert_allclose(out.video_prob.numpy(), ref["global_prob"], rtol=0, atol=1e-5)


def test_import_refuses_missing_extra_and_misshaped_keys(tmp_path, official_state):
    state = dict(official_state)
    del state["fc_st.bias"]
    del state["v_unmix.3.4.weight"]
    state["fc_fusion.weight"] = torch.zeros(256, 256)
    state["av_enhance.layers.0.extra_gate.weight"] = torch.zeros(3)
    path = tmp_path / "broken.pth"
    torch.save(state, path)
    with pytest.raises(ValueError) as err:
        import_official(path)
    msg = str(err.value)
    assert "broken.pth" in msg
    # listed under the authors' own key names
    assert "missing keys: fc_st.bias, v_unmix.3.4.weight;" in msg
    assert "unexpected keys: av_enhance.layers.0.extra_gate.weight;" in msg
    assert "mis-shaped keys: fc_fusion.weight (256, 256) (expected (256, 512))" in msg


def test_official_layout_round_trips(official_state):
    """convert -> to_official gives back every official tensor (final_norm_a/v aside: never used)."""
    from mmcse.models.official import convert_official_state_dict, to_official_state_dict

    back = to_official_state_dict(convert_official_state_dict(dict(official_state)))
    assert set(back) == set(official_state)
    for k, v in official_state.items():
        if "final_norm" not in k:
            torch.testing.assert_close(back[k], v, rtol=0, atol=0, msg=k)


def test_import_refuses_pickled_objects_and_junk(tmp_path, capfd):
    class Evil:
        def __reduce__(self):
            return (print, ("unpickled!",))

    evil = tmp_path / "evil.pth"
    with open(evil, "wb") as f:
        pickle.dump({"model": Evil()}, f, protocol=2)
    with pytest.raises(ValueError, match=r"evil\.pth: cannot read it .*weights_only=True"):
        import_official(evil)
    assert "unpickled!" not in capfd.readouterr().out  # the payload never ran
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"\x00\x01garbage" * 10)
    with pytest.raises(ValueError, match=r"junk\.pth"):
        import_official(junk)
    not_state = tmp_path / "list.pth"
    torch.save([torch.zeros(1)], not_state)
    with pytest.raises(ValueError, match="not a state_dict"):
        import_official(not_state)


def test_import_of_an_mmcse_checkpoint_or_state_dict_says_what_it_is(saved, tmp_path):
    path, model, _ = saved
    with pytest.raises(
        ValueError, match=r"best\.safetensors is already an mmcse checkpoint .*no import needed"
    ):
        import_official(path)
    ours = tmp_path / "ours.pth"
    torch.save(model.state_dict(), ours)
    with pytest.raises(
        ValueError, match=r"ours\.pth: holds an mmcse model's state_dict .*not the authors' layout"
    ):
        import_official(ours)
    rc = cli_main(["import-official", str(path), "--out", str(tmp_path / "again.safetensors")])
    assert rc == 2 and not (tmp_path / "again.safetensors").exists()


def test_import_official_command_writes_a_loadable_checkpoint(tmp_path, reference_dir, capsys, kernel_path):
    out_path = tmp_path / "mmcse_official.safetensors"
    rc = cli_main(
        ["import-official", str(reference_dir / "mmcse_official_vggish_res152.pth"), "--out", str(out_path)]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    loaded = load_checkpoint(out_path)
    n = sum(p.numel() for p in loaded.model.parameters())
    assert f"{n / 1e6:.2f} M parameters" in printed and "features 'han'" in printed
    assert loaded.feature_spec == HAN_FEATURES  # VGGish / ResNet-152 widths imply the han preset
    ref = np.load(reference_dir / "mmcse_official_vggish_res152_io.npz", allow_pickle=False)
    with torch.no_grad():
        out = loaded.model(*(torch.from_numpy(ref[k]) for k in ("audio", "visual", "visual_st")))
    np.testing.assert_allclose(out.segment_logits.numpy(), ref["frame_logits"], rtol=0, atol=1e-5)
    # a preset that contradicts the weights is refused
    rc = cli_main(["import-official", str(reference_dir / "mmcse_official_vggish_res152.pth"), "--out",
                   str(tmp_path / "x.safetensors"), "--features", "valor"])  # fmt: skip
    assert rc == 2
    assert "feature preset 'valor'" in capsys.readouterr().err
    assert not (tmp_path / "x.safetensors").exists()


def test_parser_refuses_an_authors_pth_with_nan_weights(tmp_path, official_state):
    from mmcse.inference import Parser

    state = {k: v.clone() for k, v in official_state.items()}
    state["fc_st.bias"][5] = float("nan")
    path = tmp_path / "nan.pth"
    torch.save(state, path)
    with pytest.raises(ValueError, match=rf"^{path}: weight tensor \S+ holds NaN / inf; the checkpoint is damaged"):
        Parser.from_checkpoint(path, device="cpu")
