"""The valor CLAP stream against laion_clap 1.1.4's HTSAT + VALOR's htsat_forward_features (same
name-seeded random weights, fixture made once: fixtures/make_clap_fixture.py) and its mel against librosa's
htk mel (which VALOR's torchaudio get_mel is aligned to)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from random_weights import COMPUTED, fill_value

from mmcse.backbones import clap

pytest.importorskip("transformers")
FIXTURES = Path(__file__).parent / "fixtures"


def _laion_state() -> dict:
    """The laion audio branch's state_dict filled by name (as in 630k-fusion-best.pt: 'audio_branch.X')."""
    keys = next(iter(json.loads((FIXTURES / "clap_keys.json").read_text()).values()))
    return {f"audio_branch.{k}": torch.from_numpy(fill_value(f"audio_branch.{k}", tuple(s)))
            for k, s in keys.items() if not k.endswith(COMPUTED)}  # fmt: skip


def test_laion_checkpoint_keys_convert_to_every_transformers_key():
    model = clap.build_clap_audio()
    converted = clap.laion_to_transformers(_laion_state())
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.endswith("relative_position_index")}
    assert {k: tuple(v.shape) for k, v in converted.items()} == expected


def test_clap_feature_map_equals_laion_htsat_with_valors_forward():
    ref = np.load(FIXTURES / "clap_reference.npz")
    model = clap.build_clap_audio()
    missing, unexpected = model.load_state_dict(clap.laion_to_transformers(_laion_state()), strict=False)
    assert not unexpected and all(k.endswith("relative_position_index") for k in missing)
    from random_weights import seeded_input

    mel = torch.from_numpy(seeded_input((1, 4, 1001, 64), seed=99) * 10 - 40)[:, 0]
    with torch.no_grad():
        ours = clap.feature_map(model, mel)
    assert ours.shape == (1, 64, 768)
    scale = float(np.abs(ref["clap_feat_maps"]).max())
    np.testing.assert_allclose(ours.numpy(), ref["clap_feat_maps"], rtol=1e-5, atol=1e-5 * scale)


def test_clap_log_mel_equals_librosas_htk_mel():
    ref = np.load(FIXTURES / "clap_reference.npz")["clap_log_mel_every_4th"]
    t = np.arange(480000) / 48000.0
    wave = (0.3 * np.sin(2 * np.pi * (300 + 500 * t) * t) + 0.05 * np.sin(2 * np.pi * 3000 * t)).astype(np.float32)
    ours = clap.clap_log_mel(wave)
    assert ours.shape == (1001, 64)
    ours = ours.numpy()[::4]
    loud = ref > ref.max() - 60  # within 60 dB of the peak: float32 STFTs agree to 0.01 dB
    assert loud.sum() > 1500  # the chirp and the tone cover ~11% of the mel bins
    np.testing.assert_allclose(ours[loud], ref[loud], rtol=0, atol=0.01)
    power, ref_power = 10 ** (ours / 10), 10 ** (ref / 10)  # below that, float32 round-off of the STFT
    np.testing.assert_allclose(power, ref_power, rtol=1e-5, atol=1e-6 * ref_power.max())


def test_clap_waveform_resamples_by_index_and_round_trips_int16():
    audio = np.linspace(-1.2, 1.2, 479_000, dtype=np.float32)
    wave = clap.clap_waveform(audio)
    assert wave.shape == (480000,) and wave.dtype == np.float32
    assert wave[0] == -1.0 and wave[-1] == 1.0  # clipped to [-1, 1]
    assert np.all(np.abs(wave * 32767 - np.round(wave * 32767)) < 1e-3)  # on the int16 grid


def test_extract_valor_features_from_a_laion_checkpoint(tmp_path, small_backbones, small_weights, videos, capsys):
    """--features valor end to end: CLAP from a laion_clap-format checkpoint (state_dict under 'module.'),
    CLIP from a transformers folder, R(2+1)D-18; a 3-s video's audio at 48 kHz is looped to 10 s."""
    import shutil

    from test_clip import tiny_clip

    from mmcse.cli import main

    weights = tmp_path / "w"
    shutil.copytree(small_weights, weights)
    tiny_clip().save_pretrained(weights / "clip-vit-large-patch14")
    torch.save({"epoch": 45, "state_dict": {f"module.{k}": v for k, v in _laion_state().items()}},
               weights / "630k-fusion-best.pt")  # fmt: skip
    out = tmp_path / "feats"
    assert main(["extract", str(videos["short"]), "--features", "valor", "--out", str(out), "--weights", str(weights),
                 "--device", "cpu"]) == 0  # fmt: skip
    maps = np.load(out / "CLAP" / "features" / "short3.npy")
    assert maps.shape == (64, 768) and np.isfinite(maps).all() and maps.std() > 0
    assert np.load(out / "CLIP" / "features" / "short3.npy").shape == (10, 768)
    assert np.load(out / "r2plus1d_18" / "short3.npy").shape == (10, 512)


TEXT = dict(hidden_size=768, num_hidden_layers=1, num_attention_heads=12, intermediate_size=64, vocab_size=100,
            max_position_embeddings=80, type_vocab_size=1, pad_token_id=1,
            layer_norm_eps=1e-12)  # as fixtures/make_clap_text_fixture.py (RobertaConfig's default eps)


def _laion_clap_state() -> dict:
    """A whole laion_clap checkpoint's tensors, filled by name (audio branch, 1-layer roberta, projections)."""
    model = clap.build_clap(TEXT)
    hf_to_laion_text = {k: "text_branch." + k.removeprefix("text_model.") for k in model.state_dict()
                        if k.startswith("text_model.") and not k.endswith(COMPUTED)}  # fmt: skip
    state = _laion_state()
    for name in hf_to_laion_text.values():
        shape = tuple(model.state_dict()["text_model." + name.removeprefix("text_branch.")].shape)
        state[name] = torch.from_numpy(fill_value(name, shape))
    for proj in ("text_projection", "audio_projection"):
        for index, shape in (("0", (512, 768)), ("2", (512, 512))):
            state[f"{proj}.{index}.weight"] = torch.from_numpy(fill_value(f"{proj}.{index}.weight", shape))
            state[f"{proj}.{index}.bias"] = torch.from_numpy(fill_value(f"{proj}.{index}.bias", shape[:1]))
    for scale in ("logit_scale_a", "logit_scale_t"):
        state[scale] = torch.from_numpy(fill_value(scale, ()))
    state["text_transform.sequential.0.weight"] = torch.zeros(512, 512)  # unused by laion's inference: dropped
    return state


def test_clap_zero_shot_logits_equal_laion_clap_and_valor():
    ref = np.load(FIXTURES / "clap_text_reference.npz")
    model = clap.build_clap(TEXT)
    missing, unexpected = model.load_state_dict(clap.laion_to_transformers_clap(_laion_clap_state()), strict=False)
    assert not unexpected and all(k.endswith(COMPUTED) for k in missing), (missing[:3], unexpected[:3])
    maps = torch.from_numpy(np.load(FIXTURES / "clap_reference.npz")["clap_feat_maps"])
    with torch.no_grad():
        text = clap.text_embeddings(model, torch.from_numpy(ref["input_ids"]), torch.from_numpy(ref["attention_mask"]))
        audio = torch.nn.functional.normalize(model.audio_projection(maps.mean(dim=1)), dim=-1)
        logits = clap.zero_shot_logits(model, audio, text)
    np.testing.assert_allclose(text.numpy(), ref["text_embeds"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(audio.numpy(), ref["audio_embed"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(logits.numpy(), ref["logits"], rtol=1e-4, atol=1e-8)


def test_clap_audio_embedding_is_the_mean_of_the_feature_map_tokens():
    """transformers' pooler_output is HTSAT's 'embedding' (the latent laion projects): the feature map's mean."""
    model = clap.build_clap(TEXT)
    model.load_state_dict(clap.laion_to_transformers_clap(_laion_clap_state()), strict=False)
    from random_weights import seeded_input

    mel = torch.from_numpy(seeded_input((1, 4, 1001, 64), seed=99) * 10 - 40)[:, 0]
    with torch.no_grad():
        pooled = model.audio_model(input_features=mel[:, None].expand(-1, 4, -1, -1),
                                   is_longer=torch.zeros(1, 1, dtype=torch.bool)).pooler_output  # fmt: skip
    ref = np.load(FIXTURES / "clap_reference.npz")["clap_feat_maps"].mean(axis=1)
    np.testing.assert_allclose(pooled.numpy(), ref, rtol=1e-5, atol=1e-5)


def test_valor_audio_segments_and_repeatpad():
    audio = np.arange(480_123, dtype=np.float32)
    segments = clap.segment_waveforms(audio)
    assert len(segments) == 10 and all(len(s) == 48_012 for s in segments)
    assert segments[3][0] == np.round(3 * 480_123 / 10)
    padded = clap.repeatpad(np.ones(48_012, np.float32))
    assert padded.shape == (480_000,) and padded[: 9 * 48_012].all() and not padded[9 * 48_012 :].any()
