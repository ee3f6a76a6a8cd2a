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
