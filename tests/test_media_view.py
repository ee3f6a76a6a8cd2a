"""mmcse.media_view and mmcse.viz.media: the spectrogram, waveform and thumbnails of a video are on
the clip's time axis (a tone that starts at 3 s lights the spectrogram from 30% of its width), decoded once
and read back from the cache byte for byte; a file without audio, a short file and a file that is not a
video are said, not failed on."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from mmcse import media_view as mv
from mmcse.video.io import AUDIO_SR, write_video
from mmcse.viz import media as viz_media

FPS = 8


def grey_frames(seconds: int) -> np.ndarray:
    """(seconds * 8, 48, 64, 3) uint8: second i is a flat grey of level 20 * i + 20."""
    levels = np.repeat(np.arange(seconds) * 20 + 20, FPS).astype(np.uint8)
    return np.broadcast_to(levels[:, None, None, None], (len(levels), 48, 64, 3)).copy()


def tone_from(start: float, seconds: float) -> np.ndarray:
    """(S,) float32 16 kHz: silence, then a 1 kHz tone of amplitude 0.5 from ``start`` seconds."""
    t = np.arange(int(seconds * AUDIO_SR)) / AUDIO_SR
    return np.where(t >= start, 0.5 * np.sin(2 * np.pi * 1000 * t), 0.0).astype(np.float32)


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("media") / "tone_at_3s.mp4"
    write_video(path, grey_frames(10), FPS, tone_from(3.0, 10.0))
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMCSE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "media"


def test_spectrogram_waveform_and_thumbnails_are_on_the_clips_time_axis(clip, cache):
    view = mv.media_view(clip)
    assert view.has_audio and view.audio_seconds == pytest.approx(10.0, abs=0.05)
    assert view.video_seconds == pytest.approx(10.0, abs=0.05)
    assert (
        view.mel_db.shape[0] == 64 and abs(view.mel_db.shape[1] - 100 * view.audio_seconds) <= 3
    )  # 10-ms frames
    assert view.envelope.shape == (1000, 2)
    # the tone starts at 3 s: the spectrogram lights up from ~30% of its width, in the 1 kHz band only
    loud = view.mel_db.max(axis=0) > view.mel_db.max() - 20  # (T,)
    assert abs(np.argmax(loud) / view.mel_db.shape[1] - 0.3) < 0.01 and loud[int(0.31 * len(loud)) :].all()
    levels = viz_media.spectrogram_levels(view.mel_db, view.audio_seconds)  # (64, 500): 50 columns per second
    assert levels.shape == (64, 500)
    lit = levels.max(axis=0) > 128
    assert abs(np.argmax(lit) / 500 - 0.3) < 0.01 and lit[155:].all() and not lit[:145].any()
    band = 63 - int(np.argmax(levels[:, 400]))  # rows run from the highest band (top) down
    mel_1khz = 1127 * np.log(1 + 1000 / 700)
    edges = np.linspace(1127 * np.log(1 + 125 / 700), 1127 * np.log(1 + 7500 / 700), 66)
    assert abs(band - (np.searchsorted(edges, mel_1khz) - 1)) <= 1
    peaks = np.abs(view.envelope).max(axis=1)
    assert abs(np.argmax(peaks > 0.25) - 300) <= 3 and peaks[310:].min() > 0.4 and peaks[:295].max() < 0.05
    # one thumbnail per second, 96 px wide, the frame of the middle of that second
    assert len(view.thumbnails) == 10 and view.thumb_size == (96, 72) and view.thumb_times == list(range(10))
    greys = [np.asarray(Image.open(io.BytesIO(j)).convert("L")).mean() for j in view.thumbnails]
    assert np.allclose(greys, np.arange(10) * 20 + 20, atol=4)
    assert view.poster() == view.thumbnails[5]


def test_the_timeline_payload_is_small_and_says_the_spans(clip, cache):
    lanes = viz_media.media_lanes(mv.media_view(clip))
    assert lanes["has_audio"] and lanes["spectrogram"].startswith("data:image/jpeg;base64,")
    assert lanes["audio_seconds"] == pytest.approx(10.0, abs=0.05) and len(lanes["frames"]) == 10
    assert (
        len(lanes["envelope"]) == viz_media.ENVELOPE_COLUMNS
        and max(max(abs(v) for v in c) for c in lanes["envelope"]) == 100
    )
    assert [f["t"] for f in lanes["frames"]] == list(range(10)) and lanes["frame_step"] == 1.0
    assert len(json.dumps(lanes)) < 60_000  # a 10-s clip: a few tens of KB in the page
    image = Image.open(io.BytesIO(base64.b64decode(lanes["spectrogram"].split(",", 1)[1])))
    assert image.size == (500, 64)  # 50 columns per second of audio, one row per mel band
    brightness = np.asarray(image.convert("L"), float).max(axis=0)  # (500,) the brightest band of each column
    # silent (the darkest colour) until 3 s, then the tone
    assert brightness[:140].max() < 80 < 200 < brightness[160:].min()


def test_a_second_call_reads_the_cache_without_decoding_and_returns_the_same_bytes(clip, cache, monkeypatch):
    calls = []
    decode = mv.decode
    monkeypatch.setattr(mv, "decode", lambda *a, **k: calls.append(a) or decode(*a, **k))
    first = mv.media_view(clip)
    assert len(calls) == 1 and len(list(cache.glob("*.safetensors"))) == 1
    second = mv.media_view(clip)
    assert len(calls) == 1  # not decoded again
    assert second.thumbnails == first.thumbnails and np.array_equal(second.mel_db, first.mel_db)
    assert np.array_equal(second.envelope, first.envelope) and second.thumb_size == first.thumb_size
    assert viz_media.media_lanes(second) == viz_media.media_lanes(first)
    # a damaged cache file is decoded again, not an error
    next(cache.glob("*.safetensors")).write_bytes(b"garbage")
    assert mv.media_view(clip).thumbnails == first.thumbnails and len(calls) == 2


def test_a_changed_file_is_decoded_again(tmp_path, cache):
    path = tmp_path / "clip.mp4"
    write_video(path, grey_frames(2), FPS, tone_from(0.0, 2.0))
    before = mv.media_view(path)
    write_video(path, grey_frames(3), FPS, tone_from(0.0, 3.0))
    after = mv.media_view(path)
    assert len(before.thumbnails) == 2 and len(after.thumbnails) == 3


def test_a_video_without_audio_has_frames_and_no_spectrogram(tmp_path, cache):
    path = tmp_path / "silent.mp4"
    write_video(path, grey_frames(4), FPS)
    view = mv.media_view(path)
    assert not view.has_audio and view.audio_seconds == 0 and view.mel_db.shape == (64, 0)
    assert len(view.thumbnails) == 4 and view.video_seconds == pytest.approx(4.0, abs=0.15)
    lanes = viz_media.media_lanes(view)
    assert lanes["spectrogram"] is None and lanes["envelope"] == [] and not lanes["has_audio"]


def test_a_clip_shorter_than_ten_seconds_has_what_it_holds(tmp_path, cache):
    path = tmp_path / "short.mp4"
    write_video(path, grey_frames(4), FPS, tone_from(1.0, 4.0))
    view = mv.media_view(path)
    assert view.audio_seconds == pytest.approx(4.0, abs=0.05) and view.video_seconds == pytest.approx(
        4.0, abs=0.15
    )
    assert len(view.thumbnails) == 4 and viz_media.spectrogram_levels(
        view.mel_db, view.audio_seconds
    ).shape == (64, 200)


@pytest.mark.parametrize("content", [b"", b"this is not a video" * 40])
def test_a_file_that_is_not_a_video_is_one_clear_error(tmp_path, cache, content):
    path = tmp_path / "notes.mp4"
    path.write_bytes(content)
    with pytest.raises(ValueError) as err:
        mv.media_view(path)
    message = str(err.value)
    assert (
        str(path) in message
        and "\n" not in message
        and ("not a video" in message or "cannot read" in message)
    )
    with pytest.raises(FileNotFoundError, match="no such video file"):
        mv.media_view(tmp_path / "missing.mp4")


def test_jpeg_splitting_keeps_each_image_whole():
    images = []
    for level in (10, 200):
        out = io.BytesIO()
        Image.new("RGB", (16, 8), (level, level, level)).save(out, format="JPEG")
        images.append(out.getvalue())
    parts = mv.split_jpegs(b"".join(images))
    assert parts == images and [Image.open(io.BytesIO(p)).size for p in parts] == [(16, 8), (16, 8)]


def test_prefetch_decodes_in_the_background_and_then_the_open_reads_the_cache(tmp_path, cache, monkeypatch):
    paths = []
    for i in range(2):
        paths.append(tmp_path / f"clip{i}.mp4")
        write_video(paths[-1], grey_frames(2), FPS, tone_from(0.0, 2.0))
    thread = mv.prefetch(paths)
    thread.join(timeout=120)
    assert not thread.is_alive() and len(list(cache.glob("*.safetensors"))) == 2
    calls = []
    monkeypatch.setattr(mv, "decode", lambda *a, **k: calls.append(a))
    assert mv.prefetch(paths) is None  # all cached: nothing to do
    assert len(mv.media_view(paths[1]).thumbnails) == 2 and calls == []  # read from the cache
