"""Weights the user brings: found in --weights DIR / $MMCSE_WEIGHTS / torch hub's cache, checked key by key
and shape by shape before loading, listed by `python -m mmcse weights`; each problem is one clear line."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest
import torch
from helpers.backbone_weights import save_random_weights, small_models

from mmcse.backbones import weights as W
from mmcse.backbones.r2plus1d import R2Plus1D18
from mmcse.backbones.registry import BackboneExtractor, extractor_for_spec
from mmcse.cli import main
from mmcse.config import DEMO_FEATURES, HAN_FEATURES, VALOR_FEATURES
from mmcse.demo.features import DemoExtractor


def test_registry_picks_the_extractor_of_each_spec(small_weights):
    assert isinstance(extractor_for_spec(DEMO_FEATURES), DemoExtractor)
    han = extractor_for_spec(HAN_FEATURES, small_weights)
    assert isinstance(han, BackboneExtractor)
    assert {k: p.name for k, p in han.paths.items()} == {
        "vggish": "vggish-10086976.pth", "resnet152": "resnet152-394f9c45.pth", "r2plus1d_18": "r2plus1d_18-91a641e6.pth"}


def test_a_stream_without_extractor_is_one_line_naming_it():
    from dataclasses import replace

    from mmcse.config import StreamSpec

    spec = replace(VALOR_FEATURES, name="panns_clip", audio=StreamSpec("panns", (10, 2048)))
    with pytest.raises(ValueError, match=r"the 'panns_clip' features: its audio stream panns 10x2048 has none") as err:
        extractor_for_spec(spec)
    assert "\n" not in str(err.value)


def test_valor_needs_clap_and_clip_weights(tmp_path, small_weights):
    with pytest.raises(FileNotFoundError, match=r"weights 630k-fusion-best.pt .* `python -m mmcse weights --features valor`"):
        extractor_for_spec(VALOR_FEATURES, small_weights)


def test_missing_weights_name_the_file_the_folders_and_the_command(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        extractor_for_spec(HAN_FEATURES, tmp_path)
    msg = str(err.value)
    assert "vggish-10086976.pth" in msg and str(tmp_path) in msg and "torch_home/hub/checkpoints" in msg
    assert "`python -m mmcse weights --features han`" in msg and "\n" not in msg


def test_weights_are_found_in_env_folder_and_torch_hub_cache(tmp_path, monkeypatch, small_weights):
    monkeypatch.setenv("MMCSE_WEIGHTS", str(small_weights))
    assert W.locate(W.WEIGHT_FILES["resnet152"]) == small_weights / "resnet152-394f9c45.pth"
    monkeypatch.delenv("MMCSE_WEIGHTS")
    hub = tmp_path / "torch_home" / "hub" / "checkpoints"
    save_random_weights(hub, {"r2plus1d_18": small_models()["r2plus1d_18"]}, fmt="safetensors")
    assert W.locate(W.WEIGHT_FILES["r2plus1d_18"]) == hub / "r2plus1d_18-91a641e6.safetensors"
    assert W.locate(W.WEIGHT_FILES["resnet152"]) is None


def test_safetensors_and_pth_load_the_same_values(tmp_path):
    model = small_models()["r2plus1d_18"]
    save_random_weights(tmp_path / "a", {"r2plus1d_18": model})
    save_random_weights(tmp_path / "b", {"r2plus1d_18": model}, fmt="safetensors")
    for path in (tmp_path / "a" / "r2plus1d_18-91a641e6.pth", tmp_path / "b" / "r2plus1d_18-91a641e6.safetensors"):
        other = R2Plus1D18(layers=(1, 1, 1, 1))
        W.load_state_dict(path, other, W.WEIGHT_FILES["r2plus1d_18"])
        torch.testing.assert_close(other.state_dict(), model.state_dict(), rtol=0, atol=0)


def test_weights_of_another_model_or_a_broken_file_are_one_line(tmp_path):
    path = tmp_path / "r2plus1d_18-91a641e6.pth"
    torch.save(small_models()["resnet152"].state_dict(), path)
    with pytest.raises(ValueError, match=r"not the weights of torchvision R\(2\+1\)D-18.*key\(s\) missing, e.g. 'stem.0.weight'"):
        W.load_state_dict(path, R2Plus1D18(layers=(1, 1, 1, 1)), W.WEIGHT_FILES["r2plus1d_18"])
    torch.save(R2Plus1D18(layers=(1, 1, 1, 1), num_classes=10).state_dict(), path)
    with pytest.raises(ValueError, match=r"of another shape, e.g. 'fc.weight' \(10, 512\) instead of \(400, 512\)"):
        W.load_state_dict(path, R2Plus1D18(layers=(1, 1, 1, 1)), W.WEIGHT_FILES["r2plus1d_18"])
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(ValueError, match=r"cannot read it as a PyTorch state_dict") as err:
        W.load_state_dict(path, R2Plus1D18(), W.WEIGHT_FILES["r2plus1d_18"])
    assert "\n" not in str(err.value)


def test_weights_command_lists_every_file_and_whether_it_is_present(small_weights, capsys):
    assert main(["weights", "--weights", str(small_weights)]) == 0
    out = capsys.readouterr().out
    assert f"resnet152-394f9c45.pth       present: {small_weights / 'resnet152-394f9c45.pth'}" in out
    assert "https://download.pytorch.org/models/r2plus1d_18-91a641e6.pth (120.3 MB, sha256 91a641e6...)" in out
    assert "630k-fusion-best.pt          MISSING" in out and "clip-vit-large-patch14       MISSING" in out
    assert main(["weights", "--weights", str(small_weights / "vggish-10086976.pth")]) == 2


def test_weights_command_needs_neither_torch_nor_the_extra():
    code = "import sys; from mmcse.cli import main; main(['weights', '--features', 'han']); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "vggish-10086976.pth" in out and out.strip().endswith("False")


def test_download_uses_torch_hub_and_checks_the_hash(tmp_path, monkeypatch):
    source = tmp_path / "published.pth"
    torch.save(small_models()["r2plus1d_18"].state_dict(), source)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    file = W.WEIGHT_FILES["r2plus1d_18"]
    monkeypatch.setitem(W.WEIGHT_FILES, "r2plus1d_18", W.WeightFile(file.key, file.filename, source.as_uri(),
                                                                     file.what, sha256_prefix=digest[:8]))  # fmt: skip
    target = tmp_path / "w"
    models = small_models()
    save_random_weights(target, {"vggish": models["vggish"], "resnet152": models["resnet152"]})
    assert main(["weights", "--features", "han", "--weights", str(target), "--download"]) == 0
    assert (target / "r2plus1d_18-91a641e6.pth").read_bytes() == source.read_bytes()
    monkeypatch.setitem(W.WEIGHT_FILES, "r2plus1d_18", W.WeightFile(file.key, file.filename, source.as_uri(),
                                                                     file.what, sha256_prefix="00000000"))  # fmt: skip
    with pytest.raises(RuntimeError, match="invalid hash value"):
        W.download(W.WEIGHT_FILES["r2plus1d_18"], tmp_path / "x")


def test_download_fetches_clip_with_huggingface_hub(tmp_path, monkeypatch):
    huggingface_hub = pytest.importorskip("huggingface_hub")
    calls = []

    def fake_snapshot_download(repo, local_dir, allow_patterns):
        calls.append((repo, local_dir, allow_patterns))
        return local_dir

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    W.download(W.WEIGHT_FILES["clip"], tmp_path)
    assert calls == [("openai/clip-vit-large-patch14", str(tmp_path / "clip-vit-large-patch14"), W.HF_FILES)]


def test_weights_command_says_when_a_file_found_is_empty_or_cut_short(tmp_path, small_weights, capsys):
    """A 0-byte file or an interrupted download (a zip-format .pth without its end record) counts for
    nothing: listed as DAMAGED with the reason, not "present"; a whole file is still present."""
    (tmp_path / "vggish-10086976.pth").write_bytes(b"")
    whole = (small_weights / "resnet152-394f9c45.pth").read_bytes()
    (tmp_path / "resnet152-394f9c45.pth").write_bytes(whole[:100_000])
    (tmp_path / "r2plus1d_18-91a641e6.pth").write_bytes((small_weights / "r2plus1d_18-91a641e6.pth").read_bytes())
    assert main(["weights", "--features", "han", "--weights", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert (f"vggish-10086976.pth          DAMAGED: {tmp_path / 'vggish-10086976.pth'} (empty, 0 bytes); "
            "remove it and fetch it again") in out  # fmt: skip
    assert (f"resnet152-394f9c45.pth       DAMAGED: {tmp_path / 'resnet152-394f9c45.pth'} (cut short: 100,000 bytes "
            "and no zip end record)") in out  # fmt: skip
    assert f"r2plus1d_18-91a641e6.pth     present: {tmp_path / 'r2plus1d_18-91a641e6.pth'}" in out
