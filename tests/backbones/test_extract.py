"""`python -m mmcse extract`: generated mp4s -> <out>/<stream>/<id>.npy with the han backbones on random
weights saved as torchvision / torchvggish publish them; resumable, atomic, bad input on one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mmcse.backbones import log_mel
from mmcse.backbones.vggish import VGGish
from mmcse.cli import main
from mmcse.video.extractor import fit_window
from mmcse.video.io import read_audio

SHAPES = {"vggish": (10, 128), "res152": (80, 2048), "r2plus1d_18": (10, 512)}


def _extract(*args) -> int:
    return main(["extract", *map(str, args), "--features", "han", "--device", "cpu"])


def _files(out):
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


def test_extract_writes_the_official_layout_and_resumes(tmp_path, small_backbones, small_weights, videos, capsys):
    out = tmp_path / "feats"
    assert _extract(videos["full"], videos["short"], "--out", out, "--weights", small_weights) == 0
    assert _files(out) == [f"{s}/{v}.npy" for s in ("r2plus1d_18", "res152", "vggish") for v in ("AbCdEfGhIjK", "short3")]
    for stream, shape in SHAPES.items():
        for vid in ("AbCdEfGhIjK", "short3"):
            x = np.load(out / stream / f"{vid}.npy")
            assert x.shape == shape and x.dtype == np.float32 and np.isfinite(x).all() and x.std() > 0
    err = capsys.readouterr().err
    assert "0 of 2 video(s) already extracted" in err and "short3.mp4: 3.00 s long, shorter than 10 s" in err

    # the audio stream is VGGish of the clip's own 16-kHz audio, looped to 10 s (same weights, same code)
    net = VGGish()
    net.load_state_dict(torch.load(small_weights / "vggish-10086976.pth", weights_only=True))
    _, audio = fit_window(np.zeros((1, 2, 2, 3), np.uint8), read_audio(videos["short"]))
    with torch.no_grad():
        expected = net.eval()(torch.from_numpy(log_mel.vggish_examples(audio)[:, None])).numpy()
    np.testing.assert_allclose(np.load(out / "vggish" / "short3.npy"), expected, rtol=1e-5, atol=1e-6)
    # 3 s of frames looped to 80: the 2nd second's clip of R(2+1)D equals the 5th's (same frames)
    r2 = np.load(out / "r2plus1d_18" / "short3.npy")
    np.testing.assert_allclose(r2[1], r2[4], rtol=1e-5, atol=1e-6)

    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.npy")}
    assert _extract(videos["full"], videos["short"], "--out", out, "--weights", small_weights) == 0
    assert "2 of 2 video(s) already extracted" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.npy")} == before  # nothing recomputed
    (out / "res152" / "short3.npy").unlink()  # as if interrupted between two streams
    assert _extract(videos["full"], videos["short"], "--out", out, "--weights", small_weights) == 0
    assert f"1 of 2 video(s) already extracted in {out}; 1 to do" in capsys.readouterr().err
    assert (out / "res152" / "short3.npy").exists()
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no temporary file left


def test_a_video_without_audio_gets_silence_and_a_long_one_its_first_10_s(tmp_path, small_backbones, small_weights,
                                                                          videos, capsys):  # fmt: skip
    out = tmp_path / "feats"
    assert _extract(videos["silent"], "--out", out, "--weights", small_weights) == 0
    err = capsys.readouterr().err
    assert "no audio track; the audio stream is silence" in err and "only its first 10 s are extracted" in err
    a = np.load(out / "vggish" / "silent_long.npy")
    assert np.allclose(a, a[0])  # ten identical examples of silence


def test_csv_mode_reads_the_clips_of_a_split(tmp_path, small_backbones, small_weights, videos, capsys):
    csv = tmp_path / "split.csv"
    csv.write_text("filename\tevent_labels\nAbCdEfGhIjK_30_40\tDog\n")
    out = tmp_path / "feats"
    assert _extract("--csv", csv, "--video-dir", videos["full"].parent, "--out", out, "--weights", small_weights) == 0
    assert _files(out) == ["r2plus1d_18/AbCdEfGhIjK.npy", "res152/AbCdEfGhIjK.npy", "vggish/AbCdEfGhIjK.npy"]
    csv.write_text("filename\tevent_labels\nZZZZZZZZZZZ_0_10\tDog\n")
    assert _extract("--csv", csv, "--video-dir", videos["full"].parent, "--out", out, "--weights", small_weights) == 2
    assert "1 clip(s) of" in capsys.readouterr().err


def test_bad_inputs_are_one_line_and_write_nothing(tmp_path, small_backbones, small_weights, videos, capsys):
    out = tmp_path / "feats"
    assert _extract(videos["full"], "--out", videos["full"], "--weights", small_weights) == 2  # --out a file
    assert _extract(videos["full"], "--out", out, "--weights", tmp_path / "nothing") == 2
    assert _extract(videos["full"], "--out", out, "--weights", tmp_path) == 2  # no weight files there
    err = capsys.readouterr().err
    assert "weights vggish-10086976.pth" in err and "python -m mmcse weights --features han" in err
    spec = tmp_path / "panns.json"
    spec.write_text('{"audio": {"folder": "panns", "shape": [10, 2048]}, "visual": {"folder": "res152", "shape": [80, '
                    '2048]}, "visual_st": {"folder": "r2plus1d_18", "shape": [10, 512]}}')  # fmt: skip
    assert main(["extract", str(videos["full"]), "--features", str(spec), "--out", str(out)]) == 2
    assert "its audio stream panns 10x2048 has none" in capsys.readouterr().err
    assert not out.exists()
    # a non-video among videos: reported, the others are extracted, exit 1
    assert _extract(videos["text"], videos["short"], "--out", out, "--weights", small_weights) == 1
    assert "notes.mp4" in capsys.readouterr().err and _files(out) == [f"{s}/short3.npy" for s in sorted(SHAPES)]


@pytest.mark.slow
def test_full_size_han_backbones_on_a_short_video(tmp_path, videos):
    """The real architectures at full input size (random weights, saved as the published files)."""
    from helpers.backbone_weights import save_random_weights

    from mmcse.backbones.r2plus1d import R2Plus1D18
    from mmcse.backbones.resnet import ResNet152

    torch.manual_seed(0)
    save_random_weights(tmp_path / "w", {"vggish": VGGish(), "resnet152": ResNet152(), "r2plus1d_18": R2Plus1D18()})
    out = tmp_path / "feats"
    assert _extract(videos["short"], "--out", out, "--weights", tmp_path / "w") == 0
    for stream, shape in SHAPES.items():
        x = np.load(out / stream / "short3.npy")
        assert x.shape == shape and np.isfinite(x).all()


def test_a_video_shorter_than_a_second_is_looped_and_said_so(tmp_path, small_backbones, small_weights, capsys):
    from mmcse.demo.procedural import render_audio, render_frames, sample_clip
    from mmcse.video.io import write_video

    spec = sample_clip("test", 1, seed=5)
    video = tmp_path / "blink.mp4"
    write_video(video, render_frames(spec, 8)[:4], 8, render_audio(spec)[:8000])  # 0.5 s
    out = tmp_path / "feats"
    assert _extract(video, "--out", out, "--weights", small_weights) == 0
    assert "shorter than 10 s; the model reads it looped to 10 s" in capsys.readouterr().err
    r2 = np.load(out / "r2plus1d_18" / "blink.npy")
    assert r2.shape == (10, 512) and np.allclose(r2, r2[0], rtol=1e-5, atol=1e-6)  # 4 frames looped: 10 equal clips


@pytest.mark.parametrize("rows,expected", [
    ([], "lists no clips; expected at least one row under the header"),
    (["AbCdEfGhIjK_30_40\tDog", "AbCdEfGhIjK_50_60\tDog"],
     "clips AbCdEfGhIjK_30_40 and AbCdEfGhIjK_50_60 share the id 'AbCdEfGhIjK' (first on line 2)"),
])  # fmt: skip
def test_a_csv_without_clips_or_with_two_windows_of_one_id_is_refused(tmp_path, small_weights, videos, capsys,
                                                                        rows, expected):
    """--csv mode: an empty split is not "0 of 0 video(s) ... 0 to do", exit 0; two rows of one id (both
    found as that id's video) would write one <id>.npy: one line, exit 2, nothing written."""
    csv = tmp_path / "split.csv"
    csv.write_text("filename\tevent_labels\n" + "".join(f"{r}\n" for r in rows))
    out = tmp_path / "feats"
    assert _extract("--csv", csv, "--video-dir", videos["full"].parent, "--out", out, "--weights", small_weights) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {csv}") and expected in err[0], err
    assert not out.exists()
