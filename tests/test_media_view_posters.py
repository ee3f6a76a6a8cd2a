"""mmcse.media_view for a table of many clips: a clip's poster read from the cache only (never decoded
there), and background prefetches that queue a path once and give way to the clips a user opens next."""

from __future__ import annotations

import io
import threading

import numpy as np
import pytest
from PIL import Image

from mmcse import media_view as mv
from mmcse.video.io import write_video

FPS = 8


def grey_video(path, seconds: int):
    """An mp4 whose second i is a flat grey of level 20 * i + 20 (no audio)."""
    levels = np.repeat(np.arange(seconds) * 20 + 20, FPS).astype(np.uint8)
    write_video(path, np.broadcast_to(levels[:, None, None, None], (len(levels), 48, 64, 3)).copy(), FPS, None)
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MMCSE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "media"


def test_cached_poster_is_the_middle_frame_once_decoded_and_none_before(tmp_path, cache, monkeypatch):
    path = grey_video(tmp_path / "grey.mp4", 6)
    calls = []
    real_decode = mv.decode
    monkeypatch.setattr(mv, "decode", lambda *a, **k: calls.append(a) or real_decode(*a, **k))
    assert mv.cached_poster(path) is None and calls == []  # not decoded: nothing, and no decoding
    view = mv.media_view(path)
    poster = mv.cached_poster(path)
    assert poster == view.poster() and len(calls) == 1
    pixels = np.asarray(Image.open(io.BytesIO(poster)).convert("L"), float)
    assert abs(pixels.mean() - (20 * 3 + 20)) < 6  # second 3 of 0..5: the middle one
    (target,) = cache.glob("*.safetensors")
    target.write_bytes(b"not a safetensors file")
    assert mv.cached_poster(path) is None  # a damaged cache file: no poster, no error


def slow_decodes(monkeypatch) -> tuple[list[str], threading.Event]:
    """media_view made to wait for the returned event before decoding; the list gets each file name as its
    decode starts (the order the prefetch threads took the clips in)."""
    order, release = [], threading.Event()
    real_view = mv.media_view

    def slow_view(path, *args, **kwargs):
        order.append(path.name)
        release.wait(60)
        return real_view(path, *args, **kwargs)

    monkeypatch.setattr(mv, "media_view", slow_view)
    return order, release


def test_a_background_prefetch_queues_each_path_once_and_waits_for_urgent_ones(tmp_path, cache, monkeypatch):
    paths = [grey_video(tmp_path / f"clip{i}.mp4", 2) for i in range(3)]
    order, release = slow_decodes(monkeypatch)
    background = mv.prefetch(paths[:2], urgent=False)
    assert mv.prefetch(paths[:2], urgent=False) is None  # queued already: not twice
    urgent = mv.prefetch([paths[2]])
    release.set()
    for thread in (background, urgent):
        thread.join(timeout=120)
        assert not thread.is_alive()
    # the background thread had started clip0 (or not yet); the urgent clip2 goes before clip1
    assert order.index("clip2.mp4") < order.index("clip1.mp4") and sorted(order) == [p.name for p in paths]
    assert all(mv.cached_poster(p) is not None for p in paths)
    assert mv.prefetch(paths, urgent=False) is None  # all cached


def test_an_urgent_clip_queued_by_a_background_batch_goes_first(tmp_path, cache, monkeypatch):
    """The table's background batch holds every clip; the next clip j opens is queued again as urgent and
    decoded before the rest of the batch (the batch then reads it from the cache)."""
    paths = [grey_video(tmp_path / f"clip{i}.mp4", 2) for i in range(4)]
    order, release = slow_decodes(monkeypatch)
    background = mv.prefetch(paths, urgent=False)
    urgent = mv.prefetch([paths[3]])
    assert urgent is not None  # not dropped because the batch holds it
    release.set()
    for thread in (background, urgent):
        thread.join(timeout=120)
        assert not thread.is_alive()
    assert order.index("clip3.mp4") < order.index("clip1.mp4")
    assert all(mv.cached_poster(p) is not None for p in paths)
