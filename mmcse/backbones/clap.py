"""The LAION-CLAP HTSAT-fusion audio feature map (64, 768) of a 10-s clip, as VALOR's
utils/clap_preprocess.py + clap_utils.py make it (the `CLAP/features` stream of the valor feature set).

    wave = clap_waveform(audio_48k)          # (480000,): VALOR's index resampling to 480000 + int16 round trip
    mel = clap_log_mel(wave)                 # (1001, 64) log mel (torchaudio's htk MelSpectrogram, dB)
    maps = feature_map(model, mel)           # (64, 768)

The network is transformers' ClapAudioModel (HTSAT-tiny, fusion), the same layers as laion_clap's HTSAT;
``laion_to_transformers`` renames a laion_clap checkpoint (630k-fusion-best.pt, VALOR's model_id=2) to its
keys, so the file VALOR used loads unchanged. For a 10-s clip VALOR's 'fusion' / 'repeatpad' path is
exact length: the four fusion channels are the same mel, `is_longer` is False, so only the global branch
runs. The map is the final norm's tokens regrouped as HTSAT's latent (B, 768, 2, 32), flattened to 64 steps.
Checked against laion_clap 1.1.4 + VALOR's forward on name-seeded random weights (tests/backbones).
"""

from __future__ import annotations

import numpy as np
import torch

CLAP_SR = 48000
CLIP_SAMPLES = 480000
N_FFT, HOP, N_MELS, F_MIN, F_MAX = 1024, 480, 64, 50.0, 14000.0


def clap_waveform(audio: np.ndarray) -> np.ndarray:
    """(S,) 48-kHz audio of one clip -> (480000,) float32: VALOR's nearest-index resampling to exactly
    480000 samples (round(linspace(0, S - 1, 480000))), then its int16 round trip (clip, x 32767, truncate)."""
    audio = np.asarray(audio, np.float32)
    idx = np.round(np.linspace(0, len(audio) - 1, CLIP_SAMPLES)).astype(np.int32)
    x = audio[idx]
    return (np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16).astype(np.float32) / 32767.0


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, np.float64) / 700.0)


def mel_filters(n_freqs: int = N_FFT // 2 + 1, sr: int = CLAP_SR) -> torch.Tensor:
    """(n_freqs, 64) triangular HTK mel filters 50-14000 Hz without normalisation (torchaudio melscale_fbanks)."""
    all_freqs = np.linspace(0, sr // 2, n_freqs)
    m_pts = np.linspace(_hz_to_mel(F_MIN), _hz_to_mel(F_MAX), N_MELS + 2)
    f_pts = 700.0 * (10 ** (m_pts / 2595.0) - 1.0)
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - all_freqs[:, None]  # (n_freqs, n_mels + 2)
    down = -slopes[:, :-2] / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.from_numpy(np.maximum(0.0, np.minimum(down, up))).float()


def clap_log_mel(wave: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(480000,) -> (1001, 64) float32: power spectrogram (Hann 1024, hop 480, centred, reflect padding),
    HTK mel filters, 10 log10(max(x, 1e-10)) (VALOR's get_mel: torchaudio MelSpectrogram + AmplitudeToDB)."""
    x = torch.as_tensor(wave, dtype=torch.float32)
    spec = torch.stft(x, N_FFT, HOP, N_FFT, torch.hann_window(N_FFT), center=True, pad_mode="reflect",
                      return_complex=True).abs() ** 2  # (513, T)  # fmt: skip
    mel = mel_filters(spec.shape[0]).T @ spec  # (64, T)
    return (10.0 * torch.log10(torch.clamp(mel, min=1e-10))).T.contiguous()


def build_clap_audio():
    """transformers' ClapAudioModel with laion_clap's HTSAT-tiny fusion layout (random weights)."""
    try:
        from transformers import ClapAudioConfig, ClapAudioModel
    except ImportError:
        raise ValueError("the CLAP backbone needs transformers: pip install -e .[backbones]") from None
    return ClapAudioModel(ClapAudioConfig(enable_fusion=True)).eval()


def feature_map(model, mel: torch.Tensor) -> torch.Tensor:
    """(B, 1001, 64) log mels of exactly 10 s -> (B, 64, 768) VALOR feature maps."""
    fusion = mel[:, None].expand(-1, 4, -1, -1)  # the four fusion channels: the same mel (not 'longer')
    is_longer = torch.zeros(mel.shape[0], 1, dtype=torch.bool, device=mel.device)
    out = model(input_features=fusion, is_longer=is_longer).last_hidden_state  # (B, 768, 2, 32)
    return out.flatten(2).permute(0, 2, 1).contiguous()


_DROPPED = ("spectrogram_extractor.", "logmel_extractor.", "tscam_conv.", "head.")
_RENAMES = (("bn0.", "batch_norm."), (".norm1.", ".layernorm_before."), (".norm2.", ".layernorm_after."),
            (".attn.proj.", ".attention.output.dense."), (".attn.relative_position", ".attention.self.relative_position"),
            (".mlp.fc1.", ".intermediate.dense."), (".mlp.fc2.", ".output.dense."))  # fmt: skip


def laion_to_transformers(state: dict) -> dict:
    """A laion_clap checkpoint's state_dict (the whole CLAP or its audio branch) -> ClapAudioModel keys:
    ``audio_branch.X`` -> ``audio_encoder.X`` renamed, fused qkv split into query / key / value; the text
    branch, the projections and the buffers transformers computes itself (attn_mask) are left out."""
    out = {}
    for key, value in state.items():
        key = key.removeprefix("module.")
        if key.startswith("audio_branch."):
            key = key.removeprefix("audio_branch.")
        elif any(key.startswith(p) for p in ("text_branch", "text_", "audio_projection", "audio_transform",
                                               "logit_scale", "transformer", "token_embedding", "positional",
                                               "ln_final")):  # fmt: skip
            continue
        if key.startswith(_DROPPED) or key.endswith("attn_mask"):
            continue
        for old, new in _RENAMES:
            key = key.replace(old, new)
        if ".attn.qkv." in key:
            for part, chunk in zip(("query", "key", "value"), value.chunk(3, dim=0)):
                out["audio_encoder." + key.replace(".attn.qkv.", f".attention.self.{part}.")] = chunk.clone()
            continue
        out["audio_encoder." + key] = value
    return out


# ----------------------------------------------------------------------------- zero-shot logits (pseudo labels)

MAX_TEXT_TOKENS = 77  # laion_clap's tokenizer: roberta-base, padded / truncated to 77 tokens
ROBERTA_BASE = dict(vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                    intermediate_size=3072, max_position_embeddings=514, type_vocab_size=1, pad_token_id=1,
                    layer_norm_eps=1e-5, hidden_act="gelu")  # laion's text branch: roberta-base's config  # fmt: skip


def build_clap(text_config: dict | None = None):
    """transformers' ClapModel: HTSAT-tiny fusion audio + roberta-base text (``text_config`` overrides)."""
    try:
        from transformers import ClapConfig, ClapModel
    except ImportError:
        raise ValueError("the CLAP backbone needs transformers: pip install -e .[backbones]") from None
    cfg = ClapConfig(text_config={**ROBERTA_BASE, **(text_config or {})}, audio_config=dict(enable_fusion=True))
    return ClapModel(cfg).eval()


def laion_to_transformers_clap(state: dict) -> dict:
    """A whole laion_clap checkpoint -> ClapModel keys: the audio branch (``laion_to_transformers``) under
    audio_model., text_branch.X -> text_model.X, the projections' Sequential 0 / 2 -> linear1 / linear2,
    logit_scale_a / _t; the unused text_transform / audio_transform MLPs are left out."""
    state = {k.removeprefix("module."): v for k, v in state.items()}
    out = {"audio_model." + k: v for k, v in laion_to_transformers(state).items()}
    for key, value in state.items():
        if key.startswith("text_branch."):
            if not key.endswith(("position_ids", "token_type_ids")):
                out["text_model." + key.removeprefix("text_branch.")] = value
        elif key.startswith(("text_projection.", "audio_projection.")):
            name, index, param = key.split(".")
            out[f"{name}.{ {'0': 'linear1', '2': 'linear2'}[index] }.{param}"] = value
        elif key in ("logit_scale_a", "logit_scale_t"):
            out[key] = value
    return out


def segment_waveforms(audio: np.ndarray) -> list[np.ndarray]:
    """VALOR's audio label elaboration split of a clip's 48-kHz audio into 10 segments: starts at
    round(linspace(0, S, 11)), each S // 10 samples long."""
    starts = np.round(np.linspace(0, len(audio), 11)).astype(np.int32)
    step = len(audio) // 10
    return [np.asarray(audio[s : s + step], np.float32) for s in starts[:-1]]


def repeatpad(wave: np.ndarray) -> np.ndarray:
    """laion_clap's 'repeatpad' of a short waveform to 480000 samples: whole repeats, then zeros."""
    n_repeat = CLIP_SAMPLES // len(wave)
    x = np.tile(wave, n_repeat)
    return np.pad(x, (0, CLIP_SAMPLES - len(x)))


def audio_embeddings(model, waves: list[np.ndarray]) -> torch.Tensor:
    """laion_clap's get_audio_embedding_from_data: each waveform int16 round trip, repeatpad to 10 s, fusion
    mel (not 'longer'), HTSAT latent (mean of the 64 tokens), audio_projection, L2 normalised -> (N, 512)."""
    device = next(model.parameters()).device
    mels = torch.stack([clap_log_mel(repeatpad(_int16_round_trip(w))) for w in waves]).to(device)  # (N, 1001, 64)
    fusion = mels[:, None].expand(-1, 4, -1, -1)
    is_longer = torch.zeros(len(waves), 1, dtype=torch.bool, device=device)
    pooled = model.audio_model(input_features=fusion, is_longer=is_longer).pooler_output  # (N, 768)
    return torch.nn.functional.normalize(model.audio_projection(pooled), dim=-1)


def text_embeddings(model, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """laion_clap's roberta text path: pooler_output -> text_projection -> L2 normalised -> (N, 512)."""
    pooled = model.text_model(input_ids=input_ids, attention_mask=attention_mask).pooler_output
    return torch.nn.functional.normalize(model.text_projection(pooled), dim=-1)


def zero_shot_logits(model, audio_embeds: torch.Tensor, text_embeds: torch.Tensor) -> torch.Tensor:
    """VALOR's calculate_audio_logits: logit_scale_a.exp() x audio @ text.T."""
    return model.logit_scale_a.exp() * audio_embeds @ text_embeds.T


def _int16_round_trip(x: np.ndarray) -> np.ndarray:
    return (np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16).astype(np.float32) / 32767.0
