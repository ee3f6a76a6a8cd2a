"""mmcse.video.io against imageio-ffmpeg: the description of a file, the frames it decodes, the errors."""

from __future__ import annotations

import subprocess

import imageio_ffmpeg
import numpy as np
import pytest

from mmcse.video.io import DecodeReport, ffmpeg_exe, iter_frames, probe_video, read_video, write_video


def _frames(n: int, h: int = 48, w: int = 64) -> np.ndarray:
    """(n, h, w, 3) uint8: a bright box that moves right one pixel per frame on a dark, textured ground."""
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 60, (n, h, w, 3), dtype=np.uint8)
    for i in range(n):
        frames[i, 8:24, 4 + i % 30 : 20 + i % 30] = (230, 40, 40)
    return frames


def _ffmpeg(*args: str) -> None:
    subprocess.run([ffmpeg_exe(), "-y", "-v", "error", "-nostdin", *args], check=True)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp("io")
    tone = (0.2 * np.sin(np.arange(48000) / 16000 * 2 * np.pi * 440)).astype(np.float32)
    write_video(root / "av.mp4", _frames(24), 8, tone)
    write_video(root / "silent.mp4", _frames(24), 8, None)
    write_video(root / "one.mp4", _frames(1), 8, None)
    _ffmpeg("-display_rotation", "90", "-i", str(root / "silent.mp4"), "-c", "copy", str(root / "turned.mp4"))
    _ffmpeg("-f", "lavfi", "-i", "sine=d=1", str(root / "tone.m4a"))
    _ffmpeg("-f", "lavfi", "-i", "color=red:s=32x32", "-frames:v", "1", str(root / "cover.png"))
    _ffmpeg("-f", "lavfi", "-i", "sine=d=1", "-i", str(root / "cover.png"), "-map", "0", "-map", "1",
            "-c:v", "png", "-disposition:v", "attached_pic", str(root / "song.mp3"))  # fmt: skip
    (root / "notes.mp4").write_text("this is a text file, not a video\n")
    (root / "empty.mp4").write_bytes(b"")
    return root


def test_probe_describes_the_file(files):
    av, silent, one = (probe_video(files / n) for n in ("av.mp4", "silent.mp4", "one.mp4"))
    assert (av.duration, av.fps, av.size, av.has_audio) == (3.0, 8.0, (64, 48), True)
    assert (silent.duration, silent.size, silent.has_audio) == (3.0, (64, 48), False)
    assert one.fps == 8.0 and 0 < one.duration < 0.2 and one.size == (64, 48)


def test_frames_are_the_ones_imageio_ffmpeg_decodes(files):
    """Our ffmpeg pipe (kept for its error lines) gives the frames of imageio-ffmpeg's read_frames."""
    path = files / "av.mp4"
    report = DecodeReport()
    ours = np.concatenate(list(iter_frames(path, probe_video(path), fps=4, chunk=5, report=report)))
    reader = imageio_ffmpeg.read_frames(str(path), output_params=["-vf", "fps=4"])
    w, h = next(reader)["size"]
    theirs = np.stack([np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in reader])
    assert ours.shape == theirs.shape == (12, 48, 64, 3) and np.array_equal(ours, theirs)
    assert (report.items, report.errors) == (12, 0)


def test_a_rotated_video_is_read_upright(files):
    """A phone video stored sideways with a rotation tag: the size and the frames are the turned ones."""
    frames, audio, info = read_video(files / "turned.mp4")
    assert info.size == (48, 64) and frames.shape == (24, 64, 48, 3) and audio is None
    upright = read_video(files / "silent.mp4")[0]
    assert np.abs(frames[5].astype(int) - np.rot90(upright[5]).astype(int)).mean() < 8  # turned, not scrambled


@pytest.mark.parametrize(
    "name, message",
    [
        ("notes.mp4", "notes.mp4: not a video file (ffmpeg cannot read it: Invalid data found when processing input); "
                      "give a video such as .mp4/.mkv/.webm/.avi"),
        ("empty.mp4", "empty.mp4: an empty file, not a video; give a video file such as .mp4/.mkv/.webm/.avi"),
        ("tone.m4a", "tone.m4a: an audio file without a video stream; the model needs frames: give a video file"),
        ("song.mp3", "song.mp3: an audio file without a video stream; the model needs frames: give a video file"),
    ],
)  # fmt: skip
def test_a_file_without_video_gets_one_clear_line(files, name, message):
    with pytest.raises(ValueError) as err:
        probe_video(files / name)
    assert str(err.value) == f"{files / name}: {message.split(': ', 1)[1]}"


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"gone\.mp4: no such video file$"):
        probe_video(tmp_path / "gone.mp4")


def test_a_folder_is_said_to_be_a_folder(tmp_path):
    folder = tmp_path / "clip.mp4"  # a folder with a video's name
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match="is a folder, not a video file"):
        probe_video(folder)
