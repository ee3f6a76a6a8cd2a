"""VALOR's visual label elaboration: the thresholding rule, the logits against transformers' CLIPModel
logits_per_image (as VALOR calls it), and `pseudo-label` end to end on a generated mp4 with a tiny CLIP."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from mmcse.backbones import pseudo_labels as P
from mmcse.backbones.clip import clip_images, image_embeddings
from mmcse.classes import LLP_CLASSES
from mmcse.cli import main

transformers = pytest.importorskip("transformers")


def tiny_clip_and_tokenizer(folder=None):
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    chars = "abcdefghijklmnopqrstuvwxyz.,"
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for c in chars:
        vocab[c], vocab[c + "</w>"] = len(vocab), len(vocab) + 1
    import tempfile
    from pathlib import Path

    tmp = Path(tempfile.mkdtemp())
    (tmp / "vocab.json").write_text(json.dumps(vocab))
    (tmp / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(tmp / "vocab.json"), str(tmp / "merges.txt"), pad_token="<|endoftext|>")
    torch.manual_seed(0)
    cfg = CLIPConfig(
        text_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2,
                         vocab_size=len(vocab), max_position_embeddings=77, bos_token_id=0, eos_token_id=1, pad_token_id=1),
        vision_config=dict(hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=2,
                           image_size=224, patch_size=32),
        projection_dim=768,
    )  # fmt: skip
    model = CLIPModel(cfg).eval()
    if folder is not None:
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    return model, tokenizer


def test_pseudo_labels_keep_only_weak_labels_above_their_threshold():
    logits = np.zeros((10, 25), np.float32)
    logits[:5, 3] = 15.0  # Dog above its threshold (14) in the first 5 s
    logits[:, 0] = 20.0  # Speech exactly at its threshold (20): not above
    logits[:, 7] = 30.0  # Fire_alarm above, but not a weak label of the clip
    weak = np.zeros(25, np.uint8)
    weak[[0, 3]] = 1
    out = P.segment_pseudo_labels(logits, weak, P.CLIP_THRESHOLDS)
    assert out.dtype == np.int64 and out.shape == (10, 25)
    expected = np.zeros((10, 25), np.int64)
    expected[:5, 3] = 1
    np.testing.assert_array_equal(out, expected)
    assert P.CLIP_THRESHOLDS[LLP_CLASSES.index("Speech")] == 20 and P.CLAP_THRESHOLDS[LLP_CLASSES.index("Frying_(food)")] == -2


def test_clip_logits_equal_valors_logits_per_image():
    model, tokenizer = tiny_clip_and_tokenizer()
    frames = np.random.default_rng(0).integers(0, 256, (80, 60, 80, 3), dtype=np.uint8)
    pixels = clip_images(frames)
    tokens = tokenizer(list(P.CLIP_CAPTIONS), padding=True, return_tensors="pt")
    with torch.no_grad():
        valor = model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"], pixel_values=pixels)
        ours = P.clip_segment_logits(model, image_embeddings(model, pixels), P.clip_text_embeddings(model, tokenizer))
    assert ours.shape == (10, 25)
    np.testing.assert_allclose(ours, valor.logits_per_image.numpy(), rtol=1e-5, atol=1e-5)


def test_pseudo_label_command(tmp_path, monkeypatch, videos, capsys):
    tiny_clip_and_tokenizer(tmp_path / "w" / "clip-vit-large-patch14")
    csv = tmp_path / "split.csv"
    csv.write_text("filename\tevent_labels\nAbCdEfGhIjK_30_40\tDog,Speech\n")
    monkeypatch.setattr(P, "CLIP_THRESHOLDS", np.full(25, -1e9, np.float32))  # every segment above
    args = ["pseudo-label", "--csv", str(csv), "--video-dir", str(videos["full"].parent), "--out", str(tmp_path / "f"),
            "--modality", "visual", "--weights", str(tmp_path / "w"), "--device", "cpu"]  # fmt: skip
    assert main(args) == 0
    labels = np.load(tmp_path / "f" / "CLIP" / "segment_pseudo_labels" / "AbCdEfGhIjK.npy")
    expected = np.zeros((10, 25), np.int64)
    expected[:, [LLP_CLASSES.index("Dog"), LLP_CLASSES.index("Speech")]] = 1
    np.testing.assert_array_equal(labels, expected)
    assert main(args) == 0 and "1 of 1 clip(s) already labelled" in capsys.readouterr().err
    assert not (tmp_path / "f" / "CLAP").exists()


def tiny_roberta_tokenizer(folder):
    from transformers import RobertaTokenizer

    chars = sorted(set("".join(P.CLAP_CAPTIONS).replace(" ", "")) | {"Ġ"})
    vocab = {t: i for i, t in enumerate(["<s>", "<pad>", "</s>", "<unk>", "<mask>", *chars])}
    folder.mkdir(parents=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    RobertaTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt")).save_pretrained(folder)


def test_audio_pseudo_labels_from_a_laion_checkpoint(tmp_path, monkeypatch, videos, capsys):
    """--modality audio: CLAP logits of 10 one-second segments (a tiny roberta text branch in the laion
    checkpoint), every segment above a very low threshold -> exactly the weak labels; no audio -> zeros."""
    from test_clap import TEXT, _laion_clap_state

    from mmcse.backbones import clap

    monkeypatch.setattr(clap, "ROBERTA_BASE", TEXT)
    weights = tmp_path / "w"
    weights.mkdir()
    torch.save({"state_dict": {f"module.{k}": v for k, v in _laion_clap_state().items()}}, weights / "630k-fusion-best.pt")
    tiny_roberta_tokenizer(weights / "roberta-base")
    monkeypatch.setattr(P, "CLAP_THRESHOLDS", np.full(25, -1e9, np.float32))
    csv = tmp_path / "split.csv"
    csv.write_text("filename\tevent_labels\nAbCdEfGhIjK_30_40\tDog,Speech\nsilent_long\tCar\n")
    args = ["pseudo-label", "--csv", str(csv), "--video-dir", str(videos["full"].parent), "--out", str(tmp_path / "f"),
            "--modality", "audio", "--weights", str(weights), "--device", "cpu"]  # fmt: skip
    assert main(args) == 0
    assert "silent_long.mp4: no audio track; no audio pseudo labels (all 0)" in capsys.readouterr().err
    folder = tmp_path / "f" / "CLAP" / "segment_pseudo_labels"
    expected = np.zeros((10, 25), np.int64)
    expected[:, [LLP_CLASSES.index("Dog"), LLP_CLASSES.index("Speech")]] = 1
    np.testing.assert_array_equal(np.load(folder / "AbCdEfGhIjK.npy"), expected)
    assert not np.load(folder / "silent_long.npy").any()


def test_clap_segment_logits_follow_laions_embedding_of_each_second(monkeypatch):
    """The 10 rows are the 10 seconds: a clip whose 2nd and 7th seconds are equal gets equal rows."""
    from test_clap import TEXT, _laion_clap_state

    from mmcse.backbones import clap

    model = clap.build_clap(TEXT)
    model.load_state_dict(clap.laion_to_transformers_clap(_laion_clap_state()), strict=False)
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(480_000)).astype(np.float32)
    audio[6 * 48_000 : 7 * 48_000] = audio[1 * 48_000 : 2 * 48_000]
    with torch.no_grad():
        embeds = clap.audio_embeddings(model, clap.segment_waveforms(audio))
    assert embeds.shape == (10, 512)
    torch.testing.assert_close(embeds[6], embeds[1])
    assert (embeds[0] - embeds[1]).abs().max() > 1e-3


def test_a_clip_listed_again_with_other_labels_is_refused(tmp_path, videos, capsys):
    """Two rows of one clip with other weak labels: the second would replace the first's labels in the one
    <id>.npy (pseudo labels keep only a clip's weak labels): one line naming both lines, nothing written."""
    csv = tmp_path / "split.csv"
    csv.write_text("filename\tevent_labels\nAbCdEfGhIjK_30_40\tDog\nAbCdEfGhIjK_30_40\tSpeech\n")
    out = tmp_path / "f"
    assert main(["pseudo-label", "--csv", str(csv), "--video-dir", str(videos["full"].parent), "--out", str(out),
                 "--weights", str(tmp_path)]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {csv}:3: clip AbCdEfGhIjK_30_40 is listed again with other labels (first on line 2); "
                   "files are written per id (<id>.npy), so one row would replace the other: keep one row per id"]
    assert not out.exists()


def test_missing_weights_are_refused_before_torch_loads(tmp_path, videos):
    """A --weights folder that does not exist, or one without the CLAP checkpoint: one line, exit 2,
    without importing torch or transformers (the refusal needs no model)."""
    csv = tmp_path / "split.csv"
    csv.write_text("filename\tevent_labels\nAbCdEfGhIjK_30_40\tDog\n")
    common = ["--csv", str(csv), "--video-dir", str(videos["full"].parent), "--out", str(tmp_path / "f")]
    argvs = [[*common, "--weights", str(tmp_path / "nowhere")], [*common, "--modality", "audio", "--weights", str(tmp_path)]]
    probe = ("import sys; from mmcse.cli import main; "
             f"print([main(['pseudo-label', *a]) for a in {argvs!r}], 'torch' in sys.modules)")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TORCH_HOME": str(tmp_path / "th"), "MMCSE_WEIGHTS": ""})  # fmt: skip
    assert proc.stdout.split() == ["[2,", "2]", "False"], proc.stderr
    errors = [line for line in proc.stderr.strip().splitlines() if line.startswith("error: ")]
    assert errors[0] == f"error: --weights {tmp_path / 'nowhere'}: not a folder; give the folder that holds the weight files"
    assert errors[1].startswith("error: weights 630k-fusion-best.pt (") and len(errors) == 2
    assert not (tmp_path / "f").exists()
