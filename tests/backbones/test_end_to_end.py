"""Your own videos, the whole han path on generated mp4s with random backbone weights: extract ->
a 1-epoch train -> parse -> the exported TSV / JSON (shapes, no NaN)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mmcse.cli import main
from mmcse.demo.procedural import render_audio, render_frames, sample_clip
from mmcse.video.io import write_video

CLIPS = {"AbCdEfGhIjK_30_40": "Dog", "BcDeFgHiJkL_0_10": "Speech,Car", "CdEfGhIjKlM_0_10": "Dog,Speech"}


def test_extract_train_parse_with_han_features(tmp_path, monkeypatch, small_backbones, small_weights, capsys):
    root, videos = tmp_path / "data", tmp_path / "videos"
    for k, name in enumerate(CLIPS):
        spec = sample_clip("test", k, seed=11)
        write_video(videos / f"{name}.mp4", render_frames(spec, 8), 8, render_audio(spec))
    root.mkdir()
    rows = "".join(f"{n}\t{labels}\n" for n, labels in CLIPS.items())
    for split in ("AVVP_train.csv", "AVVP_val_pd.csv", "AVVP_test_pd.csv"):
        (root / split).write_text("filename\tevent_labels\n" + rows)
    dense = "".join(f"{n}\t0\t5\t{labels.split(',')[0]}\n" for n, labels in CLIPS.items())
    for split in ("AVVP_eval_audio.csv", "AVVP_eval_visual.csv"):
        (root / split).write_text("filename\tonset\toffset\tevent_labels\n" + dense)

    assert main(["extract", "--csv", str(root / "AVVP_train.csv"), "--video-dir", str(videos), "--features", "han",
                 "--out", str(root / "feats"), "--weights", str(small_weights), "--device", "cpu"]) == 0  # fmt: skip
    assert main(["train", "--data-root", str(root), "--features", "han", "--model", "han", "--epochs", "1",
                 "--batch-size", "2", "--d-model", "16", "--layers", "1", "--heads", "2", "--no-progress",
                 "--device", "cpu", "--out", str(tmp_path / "run")]) == 0  # fmt: skip
    checkpoint = tmp_path / "run" / "best.safetensors"
    assert checkpoint.is_file()

    monkeypatch.setenv("MMCSE_WEIGHTS", str(small_weights))
    out = tmp_path / "parsed"
    video = videos / "BcDeFgHiJkL_0_10.mp4"
    assert main(["parse", str(video), "--checkpoint", str(checkpoint), "--out", str(out), "--device", "cpu"]) == 0
    record = json.loads((out / "BcDeFgHiJkL_0_10.json").read_text())
    probs = np.array(record["segment_prob_audio"], float)
    assert probs.shape == (10, 25) and np.isfinite(probs).all() and record["segment_real"] == [True] * 10
    tsv = [line for line in (out / "BcDeFgHiJkL_0_10.tsv").read_text().splitlines() if not line.startswith("#")]
    assert tsv[0].split("\t")[:4] == ["filename", "onset", "offset", "event_label"]
    for row in (line.split("\t") for line in tsv[1:]):
        assert row[0] == "BcDeFgHiJkL_0_10.mp4" and 0 <= float(row[1]) < float(row[2]) <= 10


@pytest.mark.slow
def test_extract_pseudo_label_train_parse_with_valor_features(tmp_path, monkeypatch, small_backbones, small_weights):
    """valor: CLAP map + CLIP + R(2+1)D-18 features, CLIP and CLAP pseudo labels, a 1-epoch MM-CSE on the
    paper's recipe (pseudo labels), parse (the CLAP stream reads the file's audio at 48 kHz)."""
    import shutil

    import torch
    from test_clap import TEXT, _laion_clap_state
    from test_pseudo_label import tiny_clip_and_tokenizer, tiny_roberta_tokenizer

    from mmcse.backbones import clap

    monkeypatch.setattr(clap, "ROBERTA_BASE", TEXT)  # a 1-layer text branch in the random laion checkpoint
    weights = tmp_path / "w"
    shutil.copytree(small_weights, weights)
    tiny_clip_and_tokenizer(weights / "clip-vit-large-patch14")
    tiny_roberta_tokenizer(weights / "roberta-base")
    torch.save({"state_dict": _laion_clap_state()}, weights / "630k-fusion-best.pt")
    root, videos = tmp_path / "data", tmp_path / "videos"
    for k, name in enumerate(CLIPS):
        spec = sample_clip("test", k, seed=11)
        write_video(videos / f"{name}.mp4", render_frames(spec, 8), 8, render_audio(spec))
    root.mkdir()
    rows = "".join(f"{n}\t{labels}\n" for n, labels in CLIPS.items())
    for split in ("AVVP_train.csv", "AVVP_val_pd.csv", "AVVP_test_pd.csv"):
        (root / split).write_text("filename\tevent_labels\n" + rows)
    dense = "".join(f"{n}\t0\t5\t{labels.split(',')[0]}\n" for n, labels in CLIPS.items())
    for split in ("AVVP_eval_audio.csv", "AVVP_eval_visual.csv"):
        (root / split).write_text("filename\tonset\toffset\tevent_labels\n" + dense)
    common = ["--video-dir", str(videos), "--out", str(root / "feats"), "--weights", str(weights), "--device", "cpu"]
    assert main(["extract", "--csv", str(root / "AVVP_train.csv"), "--features", "valor", *common]) == 0
    assert main(["pseudo-label", "--csv", str(root / "AVVP_train.csv"), *common]) == 0
    for folder in ("CLIP", "CLAP"):
        pseudo = np.load(root / "feats" / folder / "segment_pseudo_labels" / "AbCdEfGhIjK.npy")
        assert pseudo.shape == (10, 25) and set(np.unique(pseudo)) <= {0, 1}
    assert main(["train", "--data-root", str(root), "--features", "valor", "--model", "mmcse", "--epochs", "1",
                 "--batch-size", "2", "--d-model", "16", "--d-class", "8", "--layers", "1", "--heads", "2",
                 "--no-progress", "--device", "cpu", "--out", str(tmp_path / "run")]) == 0  # fmt: skip
    monkeypatch.setenv("MMCSE_WEIGHTS", str(weights))
    out = tmp_path / "parsed"
    assert main(["parse", str(videos / "CdEfGhIjKlM_0_10.mp4"), "--checkpoint", str(tmp_path / "run" / "best.safetensors"),
                 "--out", str(out), "--device", "cpu"]) == 0  # fmt: skip
    record = json.loads((out / "CdEfGhIjKlM_0_10.json").read_text())
    assert np.isfinite(np.array(record["segment_prob_visual"], float)).all()
