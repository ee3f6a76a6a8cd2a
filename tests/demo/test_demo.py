"""The demo build: LLP statistics of the generated splits, LLP file formats, simulated pseudo labels, reuse."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from mmcse.classes import NUM_CLASSES, class_index
from mmcse.demo.build import build_demo, reference_scores, simulate_pseudo_labels
from mmcse.demo.procedural import load_stats, sample_split

REPO = Path(__file__).resolve().parents[2]
LLP_SEG_TYPE = {
    "predict nothing": 8.36,
    "weak labels everywhere": 63.03,
    "same, visual Speech removed": 70.05,
}


@pytest.fixture(scope="module")
def test_split():
    return sample_split("test", 1200, seed=0)


def test_reference_rows_within_6_points_of_llp(test_split):
    """Issue 4: on a demo test split the protocol §5 reference rows land within 6 points of LLP's."""
    rows = reference_scores(test_split)
    for name, llp_value in LLP_SEG_TYPE.items():
        assert abs(rows[name]["seg_type"] - llp_value) < 6, (name, rows[name]["seg_type"])


def test_generated_statistics_match_llp_stats(test_split):
    stats = load_stats()
    train = sample_split("train", 1500, seed=0)
    hist = Counter(len(s.labels) for s in train)
    ref = stats["train"]["num_labels_hist"]
    for k in ("1", "2"):
        assert abs(hist[int(k)] / len(train) - ref[k] / stats["train"]["clips"]) < 0.05
    assert max(hist) <= 3  # LLP train never has more than 3 labels
    speech = class_index("Speech")
    frac_speech = np.mean([speech in s.labels for s in train])
    assert abs(frac_speech - 4988 / 10000) < 0.05
    gt_a = np.stack([s.audio for s in test_split])
    gt_v = np.stack([s.visual for s in test_split])
    no_visual = (gt_v.reshape(len(gt_v), -1).sum(1) == 0).mean()
    assert abs(no_visual - stats["valtest"]["frac_no_visual_event"]) < 0.03
    with_speech = [i for i, s in enumerate(test_split) if speech in s.labels]
    visible = gt_v[with_speech, :, speech].any(1).mean()
    audible = gt_a[with_speech, :, speech].any(1).mean()
    assert abs(visible - stats["per_class"]["Speech"]["modality_fraction"]["both"]) < 0.06  # LLP: 22% visible
    assert audible > 0.93  # LLP: 98% audible
    mean_audio_segments = gt_a.sum() / sum(len(s.labels) for s in test_split)
    assert abs(mean_audio_segments - stats["valtest"]["mean_audio_segments_per_clip_class"]) < 0.6


def test_simulated_pseudo_labels_stay_in_weak_labels_and_near_truth(test_split):
    agree, total = 0, 0
    for spec in test_split[:300]:
        pa, pv = simulate_pseudo_labels(spec, np.random.default_rng([spec.seed, 9]))
        outside = np.setdiff1d(np.arange(NUM_CLASSES), spec.labels)
        assert pa.shape == pv.shape == (10, NUM_CLASSES) and pa.dtype == np.uint8
        assert pa[:, outside].sum() == 0 and pv[:, outside].sum() == 0
        agree += (pa[:, spec.labels] == spec.audio[:, spec.labels]).sum()
        agree += (pv[:, spec.labels] == spec.visual[:, spec.labels]).sum()
        total += 2 * 10 * len(spec.labels)
    assert 0.8 < agree / total < 0.98  # noisy, like CLAP/CLIP labels, but mostly right


def test_llp_stats_asset_is_derived_from_the_csvs(llp_dir):
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "derive_llp_stats", REPO / "scripts" / "derive_llp_stats.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    derived = json.loads(json.dumps(module.derive(llp_dir)))
    assert derived == json.loads((REPO / "mmcse" / "demo" / "llp_stats.json").read_text())
    assert derived["valtest"]["frac_no_visual_event"] == pytest.approx((70 + 121) / (649 + 1200), abs=1e-3)


@pytest.mark.slow
def test_tiny_build_llp_formats_and_reuse(tmp_path):
    from mmcse.config import DEMO_FEATURES
    from mmcse.data.features import FeatureStore
    from mmcse.data.llp import read_dense_labels, read_weak_labels

    sizes = {"train": 4, "val": 2, "test": 3}
    logs: list[str] = []
    manifest = build_demo(
        tmp_path, seed=3, sizes=sizes, train=False, workers=1, progress=False, log=logs.append
    )
    assert manifest["sizes"] == sizes and manifest["seed"] == 3
    assert json.loads((tmp_path / "manifest.json").read_text())["sizes"] == sizes
    test = sample_split("test", 3, seed=3)
    names, weak = read_weak_labels(tmp_path / "AVVP_test_pd.csv")
    assert names == [s.filename for s in test]
    assert [list(np.flatnonzero(w)) for w in weak] == [s.labels for s in test]
    gt_a, gt_v = read_dense_labels(tmp_path / "AVVP_eval_audio.csv", tmp_path / "AVVP_eval_visual.csv", names)
    assert np.array_equal(gt_a, np.stack([s.audio for s in test]))
    assert np.array_equal(gt_v, np.stack([s.visual for s in test]))
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == sorted(
        f"{s.filename}.mp4"
        for s in [*sample_split("train", 4, seed=3), *sample_split("val", 2, seed=3), *test]
    )  # mp4s for every split (the default, videos="all")
    store = FeatureStore(tmp_path / "feats", DEMO_FEATURES)
    assert store.has_pseudo
    clip = store.load(test[0].video_id)
    assert clip["audio"].shape == DEMO_FEATURES.audio.shape and clip["pseudo_visual"].shape == (10, 25)
    stamp = {p: p.stat().st_mtime_ns for p in (tmp_path / "feats").rglob("*.npy")}
    logs.clear()
    build_demo(tmp_path, seed=3, sizes=sizes, train=False, workers=1, progress=False, log=logs.append)
    assert not any("rendering" in line for line in logs)  # everything reused
    assert stamp == {p: p.stat().st_mtime_ns for p in (tmp_path / "feats").rglob("*.npy")}
    broken = tmp_path / "feats" / "demo_motion" / f"{test[1].video_id}.npy"
    broken.write_bytes(b"not an array")  # a damaged file: that clip alone is rebuilt
    build_demo(tmp_path, seed=3, sizes=sizes, train=False, workers=1, progress=False, log=logs.append)
    assert any("rendering 1 clips" in line for line in logs)
    assert np.load(broken).shape == DEMO_FEATURES.visual_st.shape


@pytest.mark.slow
def test_tiny_build_with_training_and_compact_copy(tmp_path):
    """Both demo checkpoints train and score on the demo test split; the compact copy loads and parses."""
    from mmcse.demo.build import export_compact
    from mmcse.inference import Parser

    full, compact = tmp_path / "full", tmp_path / "compact"
    sizes = {"train": 6, "val": 3, "test": 3}
    manifest = build_demo(full, seed=1, sizes=sizes, workers=1, epochs=1, progress=False, log=lambda *a: None)
    assert set(manifest["test_models"]) == {"mmcse", "han"}
    for scores in manifest["test_models"].values():
        assert set(scores) >= {"seg_a", "seg_type", "evt_event"} and 0 <= scores["seg_type"] <= 100
    agreement = manifest["test_map_agreement"]  # the learned maps against the annotations (3 clips: rough)
    assert set(agreement) == {"aa", "av", "vv", "va"}
    assert all(v is None or -1 <= v <= 1 for v in agreement.values())
    assert json.loads((full / "manifest.json").read_text())["test_map_agreement"] == agreement
    compact_manifest = export_compact(full, compact, n_val=2, n_test=3, n_videos=1, log=lambda *a: None)
    assert compact_manifest["test_map_agreement_full_demo"] == agreement
    assert set(compact_manifest["test_map_agreement"]) == set(agreement)
    assert len(list((compact / "videos").iterdir())) == 1
    assert np.load(next((compact / "feats" / "demo_audio").iterdir())).dtype == np.float16
    video = next((compact / "videos").iterdir())
    for name in ("mmcse", "han"):
        parser = Parser.from_checkpoint(compact / "runs" / name / "best.safetensors", device="cpu")
        reference = Parser.from_checkpoint(full / "runs" / name / "best.safetensors", device="cpu")
        a, b = parser.parse_video(video), reference.parse_video(video)
        assert np.abs(a.segment_prob - b.segment_prob).max() < 0.01  # float16 weights, same predictions


def _descendants(pid: int) -> set[int]:
    """Live (not zombie) processes below ``pid`` (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("sig", ["SIGTERM", "SIGKILL"])
def test_a_killed_build_leaves_no_render_worker_and_no_temporary_file(tmp_path, sig):
    """D09: SIGTERM to the build stops its 2 render workers (and their ffmpeg) and removes half-written
    files; even SIGKILL, which no handler sees, takes the workers down (PR_SET_PDEATHSIG)."""
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "demo"
    code = (
        "import sys\nfrom mmcse.demo.build import build_demo\n"
        f"build_demo({str(out)!r}, sizes={{'train': 48, 'val': 0, 'test': 8}}, workers=2, train=False, "
        "progress=False, log=lambda *a: print(*a, flush=True))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("rendering 56 clips with 2 worker(s)")
        deadline = time.monotonic() + 60
        workers: set[int] = set()
        while (len(workers) < 3 or not list(out.glob("videos/.*.mp4"))) and time.monotonic() < deadline:
            assert proc.poll() is None, "the build ended before it could be stopped"
            time.sleep(0.05)
            workers = _descendants(proc.pid)
        assert len(workers) >= 3  # the 2 render workers and the ffmpeg writing an mp4 (stopped mid-write)
        proc.send_signal(getattr(signal, sig))
        assert proc.wait(timeout=20) == (143 if sig == "SIGTERM" else -signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not [p for p in workers if _alive(p)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    left = [p.relative_to(out) for p in out.rglob("*") if p.is_file()]
    temporary = [p for p in left if p.name.startswith(".") or p.suffix not in (".mp4", ".npy", ".csv")]
    assert not temporary  # no temporary .mp4 / .f32 audio / .npy was left behind
    assert list(out.glob("videos/*.mp4")) and all(p.stat().st_size > 0 for p in out.glob("videos/*.mp4"))


def test_the_build_reports_its_progress_through_a_callback(tmp_path):
    """on_progress sees each stage advance, and progress_file keeps the latest as JSON for the app."""
    import json

    from mmcse.demo.build import all_of, progress_file

    calls = []
    sizes = {"train": 12, "val": 4, "test": 4}
    on_progress = all_of(lambda *call: calls.append(call), progress_file(tmp_path / "progress.json"))
    build_demo(tmp_path / "demo", seed=3, sizes=sizes, train=False, workers=1, progress=False,
               log=lambda *a: None, on_progress=on_progress)  # fmt: skip
    assert [c[2] for c in calls] == ["clips"] * len(calls)
    assert calls[0] == (0, 20, "clips") and calls[-1] == (20, 20, "clips")
    assert [c[0] for c in calls] == sorted(c[0] for c in calls) and len(calls) == 1 + 3  # jobs of up to 8 clips
    assert json.loads((tmp_path / "progress.json").read_text()) == {"done": 20, "total": 20, "stage": "clips"}
    calls.clear()
    build_demo(tmp_path / "demo", seed=3, sizes=sizes, train=False, workers=1, progress=False,
               log=lambda *a: None, on_progress=on_progress)  # fmt: skip
    assert calls == []  # nothing left to render
