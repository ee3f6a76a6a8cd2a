"""The procedural demo clips, video I/O and the demo feature extractor."""

from __future__ import annotations

import numpy as np
import pytest

from mmcse.classes import NUM_CLASSES, class_index
from mmcse.config import DEMO_FEATURES, HAN_FEATURES, VALOR_FEATURES
from mmcse.demo.features import DemoExtractor
from mmcse.demo.procedural import render_audio, render_frames, sample_clip
from mmcse.inference import extractor_for_spec
from mmcse.video.io import read_video, write_video

SHAPES = {
    "audio": DEMO_FEATURES.audio.shape,
    "visual": DEMO_FEATURES.visual.shape,
    "visual_st": DEMO_FEATURES.visual_st.shape,
}


@pytest.fixture(scope="module")
def clip():
    spec = sample_clip("test", 3, seed=11)
    return spec, render_frames(spec, 8), render_audio(spec)


def test_same_seed_same_clip_frames_audio_features(clip):
    spec, frames, audio = clip
    again = sample_clip("test", 3, seed=11)
    assert again.filename == spec.filename and again.labels == spec.labels
    assert np.array_equal(again.audio, spec.audio) and np.array_equal(again.visual, spec.visual)
    assert np.array_equal(render_frames(again, 8), frames)
    assert np.array_equal(render_audio(again), audio)
    a, b = DemoExtractor().extract(frames, audio), DemoExtractor().extract(frames.copy(), audio.copy())
    assert all(np.array_equal(a[k], b[k]) for k in SHAPES)
    # frame i of a 16-fps render is drawn at i / 16 s: every other frame is the 8-fps render
    assert np.array_equal(render_frames(spec, 16)[::2], frames)


def test_other_seed_other_clip(clip):
    spec, frames, audio = clip
    other = sample_clip("test", 3, seed=12)
    assert other.seed != spec.seed
    assert not np.array_equal(render_audio(other), audio)


def test_clip_shapes_and_labels(clip):
    spec, frames, audio = clip
    assert frames.shape == (80, 120, 160, 3) and frames.dtype == np.uint8
    assert audio.shape == (160000,) and audio.dtype == np.float32 and np.abs(audio).max() <= 1.0
    assert len(spec.video_id) == 11 and spec.filename.startswith(spec.video_id + "_")
    assert spec.audio.shape == spec.visual.shape == (10, NUM_CLASSES)
    outside = np.setdiff1d(np.arange(NUM_CLASSES), spec.labels)
    assert (
        spec.audio[:, outside].sum() == 0 and spec.visual[:, outside].sum() == 0
    )  # events only of weak labels


def test_visible_segments_draw_and_audible_segments_sound():
    """A class's sprite changes the picture only where it is visible; its sound is loud only where audible."""
    spec = sample_clip("train", 0, seed=0)
    c = class_index("Car")
    spec.labels = [c]
    spec.audio = np.zeros_like(spec.audio)
    spec.visual = np.zeros_like(spec.visual)
    spec.visual[2:5, c] = 1
    spec.audio[6:9, c] = 1
    frames = render_frames(spec, 8).astype(np.int16)
    hidden = sample_clip("train", 0, seed=0)
    hidden.labels, hidden.audio, hidden.visual = [c], spec.audio, np.zeros_like(spec.visual)
    drawn = np.abs(frames - render_frames(hidden, 8)).mean((1, 2, 3))  # (80,) what the sprite adds
    seg = np.arange(80) // 8
    assert drawn[(seg < 2) | (seg >= 5)].max() == 0
    assert (drawn[(seg >= 2) & (seg < 5)] > 0.2).all()  # in view in every visible frame
    rms = np.sqrt((render_audio(spec).reshape(10, -1) ** 2).mean(1))
    assert rms[6:9].min() > 4 * rms[[0, 1, 2, 3, 4]].max()


def test_extractor_for_spec(tmp_path, monkeypatch):
    """The demo spec gets the demo extractor; han / valor get the real backbones, which need the user's
    weights: without them, one line naming the command that lists them."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("MMCSE_WEIGHTS", raising=False)
    assert isinstance(extractor_for_spec(DEMO_FEATURES), DemoExtractor)
    for spec in (HAN_FEATURES, VALOR_FEATURES):
        with pytest.raises(FileNotFoundError, match="python -m mmcse weights --features"):
            extractor_for_spec(spec)


def test_extractor_on_generated_mp4(tmp_path, clip):
    spec, frames, audio = clip
    path = tmp_path / f"{spec.filename}.mp4"
    write_video(path, render_frames(spec, 16), 16, audio)
    decoded, decoded_audio, info = read_video(path)
    assert decoded.shape == (80, 120, 160, 3) and info.has_audio and info.fps == 16
    assert abs(len(decoded_audio) - 160000) < 2000
    assert np.abs(decoded.astype(int) - frames.astype(int)).mean() < 6  # H.264 round trip
    result = DemoExtractor().extract_file(str(path))
    assert (
        result.warnings == [] and len(result.windows) == 1 and result.duration == pytest.approx(10.0, abs=0.1)
    )
    window = result.windows[0]
    assert {k: window[k].shape for k in SHAPES} == SHAPES
    assert all(window[k].dtype == np.float32 and np.isfinite(window[k]).all() for k in SHAPES)
    silent = DemoExtractor().extract(frames, None)["audio"]
    assert np.abs(window["audio"] - silent).mean() > 0.5  # the audio stream is not silence
    direct = DemoExtractor().extract(frames, audio)
    for k in SHAPES:  # features of the decoded mp4 stay close to those of the raw render
        assert np.abs(window[k] - direct[k]).mean() < 0.1 * np.abs(direct[k]).mean() + 0.01


def test_no_audio_track_gives_silence_and_a_warning(tmp_path, clip):
    _, frames, _ = clip
    path = tmp_path / "mute.mp4"
    write_video(path, frames, 8, None)
    result = DemoExtractor().extract_file(str(path))
    assert any("no audio" in w for w in result.warnings)
    assert np.allclose(result.windows[0]["audio"], DemoExtractor().extract(frames, None)["audio"])


@pytest.mark.parametrize("seconds,windows", [(3.0, 1), (23.0, 3)])
def test_short_and_long_videos_any_size_and_rate(tmp_path, seconds, windows):
    rng = np.random.default_rng(0)
    fps, n = 25, int(seconds * 25)
    frames = np.repeat(rng.integers(0, 255, (1, 61, 97, 3), dtype=np.uint8), n, axis=0)  # odd size
    frames[:, 10:30, (np.arange(n) % 60)[:, None] + np.arange(10)[None]] = 255  # something moving
    frames = np.ascontiguousarray(frames)
    audio = (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * 16000)) / 16000)).astype(np.float32)
    path = tmp_path / "odd.mp4"
    write_video(path, frames, fps, audio)
    result = DemoExtractor().extract_file(str(path))
    assert len(result.windows) == windows and result.duration == pytest.approx(seconds, abs=0.1)
    assert (
        len(result.warnings) == 1
        and ("shorter than 10 s" if seconds < 10 else "windows") in result.warnings[0]
    )
    for w in result.windows:
        assert {k: w[k].shape for k in SHAPES} == SHAPES


def test_text_file_renamed_mp4_is_a_clear_error(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 20)
    with pytest.raises(ValueError, match="notes.mp4: not a video file"):
        DemoExtractor().extract_file(str(path))
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        read_video(tmp_path / "missing.mp4")


def test_write_video_is_atomic_on_failure(tmp_path):
    with pytest.raises(ValueError, match="frames must be"):
        write_video(tmp_path / "bad.mp4", np.zeros((4, 8, 8), np.uint8), 8)
    assert list(tmp_path.iterdir()) == []


def test_hd_video_is_scaled_down_while_decoding(tmp_path):
    frames = np.zeros((16, 720, 1280, 3), np.uint8)
    frames[:, 200:500, 300:900] = (200, 40, 40)
    path = tmp_path / "hd.mp4"
    write_video(path, frames, 8, None)
    decoded, audio, info = read_video(path, max_width=640)
    assert info.size == (1280, 720) and decoded.shape == (16, 360, 640, 3) and audio is None
    assert abs(int(decoded[5, 175, 300, 0]) - 200) < 20  # the red box, at half the coordinates
    result = DemoExtractor().extract_file(str(path))
    assert len(result.windows) == 1 and {k: result.windows[0][k].shape for k in SHAPES} == SHAPES


@pytest.fixture(scope="module")
def damaged(tmp_path_factory, clip):
    """A good 10-s mp4, the same cut to its first 40% of bytes, and the same with its middle third
    overwritten by random bytes (the container still says 10 s for both)."""
    _, frames, audio = clip
    root = tmp_path_factory.mktemp("damaged")
    good = root / "good.mp4"
    write_video(good, frames, 8, audio)
    data = good.read_bytes()
    (root / "truncated.mp4").write_bytes(data[: int(len(data) * 0.4)])
    middle = bytearray(data)
    third = len(data) // 3
    middle[third : 2 * third] = np.random.default_rng(0).integers(0, 256, third, dtype=np.uint8).tobytes()
    (root / "middle.mp4").write_bytes(bytes(middle))
    return {p.stem: p for p in root.iterdir()}


def test_truncated_video_is_parsed_for_the_seconds_that_decode(damaged):
    from mmcse.video.io import probe_video

    assert probe_video(damaged["truncated"]).duration == pytest.approx(10.0)  # what the container claims
    result = DemoExtractor().extract_file(str(damaged["truncated"]))
    assert 2.0 < result.duration < 6.0  # the frames that decode, not the container's 10 s
    real = result.segment_real()
    assert real.sum() == int(result.duration + 0.5) and not real[-1]  # segments at least half inside
    assert "truncated.mp4: the file says 10.00 s but only" in result.warnings[0]
    assert f"parsed as {result.duration:.2f} s" in result.warnings[0]


def test_damaged_video_warns_with_its_decode_error_count(damaged):
    good = DemoExtractor().extract_file(str(damaged["good"]))
    result = DemoExtractor().extract_file(str(damaged["middle"]))
    assert good.warnings == [] and result.duration == pytest.approx(10.0, abs=0.1)
    assert len(result.warnings) == 1
    count = int(result.warnings[0].split("ffmpeg reported ")[1].split()[0])
    assert count >= 10 and "middle.mp4" in result.warnings[0] and "damaged" in result.warnings[0]


def test_decoded_duration_trusts_the_frames_that_decode():
    from mmcse.video.extractor import decoded_duration
    from mmcse.video.io import DecodeReport

    assert decoded_duration(10.0, DecodeReport(80), DecodeReport(160000), "a.mp4") == (10.0, [])
    assert decoded_duration(10.02, DecodeReport(78), None, "a.mp4") == (10.02, [])  # within half a second
    duration, (warning,) = decoded_duration(10.0, DecodeReport(33), DecodeReport(61440), "a.mp4")
    assert duration == 33 / 8 and warning == (
        "a.mp4: the file says 10.00 s but only 4.12 s of frames decode (truncated, or its video ends early); "
        "parsed as 4.12 s; re-encode or re-download it to parse it all"
    )
    duration, (warning,) = decoded_duration(4.0, DecodeReport(120), None, "b.mp4")  # the container understates
    assert duration == 15.0 and warning == "b.mp4: the file says 4.00 s but 15.00 s of frames decode; parsed as 15.00 s"
    errors = DecodeReport(80, 150, "Invalid NAL unit size (1859554534 > 106).")
    _, (warning,) = decoded_duration(10.0, errors, DecodeReport(160000, 136, "x"), "c.mp4")
    assert warning.startswith("c.mp4: ffmpeg reported 286 decode error(s) (150 in its video, 136 in its audio; "
                              "first: Invalid NAL unit size (1859554534 > 106).); the file is damaged")  # fmt: skip
