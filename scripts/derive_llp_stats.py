"""Derive the statistics the procedural demo samples from, out of the LLP annotation CSVs.

    python scripts/derive_llp_stats.py [--llp ../shared/llp] [--out mmcse/demo/llp_stats.json]

Writes derived numbers only (counts, fractions, histograms of label sets and of 10-segment on/off
patterns); no filename or row of the CSVs is copied.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
import sys  # noqa: E402

sys.path.insert(0, str(REPO))
from mmcse.classes import CLASS_INDEX, LLP_CLASSES, NUM_CLASSES, NUM_SEGMENTS  # noqa: E402


def read_weak(path: Path) -> tuple[list[str], list[tuple[str, ...]]]:
    df = pd.read_csv(path, sep="\t", dtype=str)
    sets = [tuple(sorted(set(s.split(",")), key=CLASS_INDEX.__getitem__)) for s in df["event_labels"]]
    return list(df["filename"]), sets


def read_dense(path: Path, filenames: list[str]) -> np.ndarray:
    """(N, 10, 25) uint8, rows OR-ed, [onset, offset) in segments, rows of unknown files dropped."""
    row_of = {f: i for i, f in enumerate(filenames)}
    grid = np.zeros((len(filenames), NUM_SEGMENTS, NUM_CLASSES), np.uint8)
    df = pd.read_csv(path, sep="\t", dtype={"filename": str})
    for f, on, off, label in zip(df["filename"], df["onset"], df["offset"], df["event_labels"]):
        if f in row_of and int(off) > int(on):
            grid[row_of[f], int(on) : int(off), CLASS_INDEX[label]] = 1
    return grid


def mask_key(mask: np.ndarray) -> str:
    return "".join("1" if m else "0" for m in mask)


def runs(mask: np.ndarray) -> list[int]:
    """Lengths of the maximal runs of ones in a 1-D 0/1 mask."""
    out, n = [], 0
    for m in list(mask) + [0]:
        if m:
            n += 1
        elif n:
            out.append(n)
            n = 0
    return out


def derive(llp: Path) -> dict:
    _, train_sets = read_weak(llp / "AVVP_train.csv")
    eval_names, eval_sets = [], []
    for split in ("AVVP_val_pd.csv", "AVVP_test_pd.csv"):
        names, sets = read_weak(llp / split)
        eval_names += names
        eval_sets += sets
    gt_a = read_dense(llp / "AVVP_eval_audio.csv", eval_names)
    gt_v = read_dense(llp / "AVVP_eval_visual.csv", eval_names)

    weak = np.zeros((len(eval_sets), NUM_CLASSES), np.uint8)
    for i, s in enumerate(eval_sets):
        weak[i, [CLASS_INDEX[c] for c in s]] = 1

    cooc = np.zeros((NUM_CLASSES, NUM_CLASSES), np.int64)
    for s in train_sets:
        idx = [CLASS_INDEX[c] for c in s]
        for a in idx:
            for b in idx:
                cooc[a, b] += 1

    per_class = {}
    for c, name in enumerate(LLP_CLASSES):
        labelled = np.flatnonzero(weak[:, c])
        kinds = Counter()
        audio_patterns, visual_patterns, both_patterns = Counter(), Counter(), Counter()
        seg_a, seg_v, seg_av, runs_a, runs_v, runlen_a, runlen_v = [], [], [], [], [], [], []
        for i in labelled:
            a, v = gt_a[i, :, c], gt_v[i, :, c]
            if a.any() and v.any():
                kinds["both"] += 1
                both_patterns[mask_key(a) + "|" + mask_key(v)] += 1
            elif a.any():
                kinds["audio_only"] += 1
                audio_patterns[mask_key(a)] += 1
            elif v.any():
                kinds["visual_only"] += 1
                visual_patterns[mask_key(v)] += 1
            else:
                kinds["neither"] += 1
            if a.any():
                seg_a.append(int(a.sum()))
                runs_a.append(len(runs(a)))
                runlen_a += runs(a)
            if v.any():
                seg_v.append(int(v.sum()))
                runs_v.append(len(runs(v)))
                runlen_v += runs(v)
            if (a & v).any():
                seg_av.append(int((a & v).sum()))
        n = max(len(labelled), 1)
        per_class[name] = {
            "labelled_valtest": int(len(labelled)),
            "modality_fraction": {k: kinds[k] / n for k in ("audio_only", "visual_only", "both", "neither")},
            "mean_audio_segments": float(np.mean(seg_a)) if seg_a else 0.0,
            "mean_visual_segments": float(np.mean(seg_v)) if seg_v else 0.0,
            "mean_av_segments": float(np.mean(seg_av)) if seg_av else 0.0,
            "mean_audio_runs": float(np.mean(runs_a)) if runs_a else 0.0,
            "mean_visual_runs": float(np.mean(runs_v)) if runs_v else 0.0,
            "audio_run_length_hist": np.bincount(runlen_a, minlength=11)[1:].tolist(),
            "visual_run_length_hist": np.bincount(runlen_v, minlength=11)[1:].tolist(),
            # histograms of the 10-segment on/off pattern ("0011111111"); both: "audio|visual"
            "audio_only_patterns": dict(audio_patterns.most_common()),
            "visual_only_patterns": dict(visual_patterns.most_common()),
            "both_patterns": dict(both_patterns.most_common()),
        }

    def set_hist(sets):
        return [{"labels": list(k), "count": v} for k, v in Counter(sets).most_common()]

    n_eval = len(eval_sets)
    return {
        "source": "derived from the LLP annotation CSVs (AVVP-ECCV20 release) by scripts/derive_llp_stats.py",
        "classes": list(LLP_CLASSES),
        "train": {
            "clips": len(train_sets),
            "num_labels_hist": {str(k): v for k, v in sorted(Counter(len(s) for s in train_sets).items())},
            "label_sets": set_hist(train_sets),
            "cooccurrence": cooc.tolist(),
        },
        "valtest": {
            "clips": n_eval,
            "num_labels_hist": {str(k): v for k, v in sorted(Counter(len(s) for s in eval_sets).items())},
            "label_sets": set_hist(eval_sets),
            "frac_no_audio_event": float((gt_a.reshape(n_eval, -1).sum(1) == 0).mean()),
            "frac_no_visual_event": float((gt_v.reshape(n_eval, -1).sum(1) == 0).mean()),
            "frac_no_av_event": float(((gt_a & gt_v).reshape(n_eval, -1).sum(1) == 0).mean()),
            "mean_audio_segments_per_clip_class": float(gt_a.sum() / max(weak.sum(), 1)),
            "mean_visual_segments_per_clip_class": float(gt_v.sum() / max(weak.sum(), 1)),
        },
        "per_class": per_class,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--llp", type=Path, default=REPO.parent / "shared" / "llp")
    ap.add_argument("--out", type=Path, default=REPO / "mmcse" / "demo" / "llp_stats.json")
    args = ap.parse_args()
    if not (args.llp / "AVVP_train.csv").exists():
        raise SystemExit(f"error: LLP CSVs not found in {args.llp}; pass --llp <shared/llp>")
    stats = derive(args.llp)
    tmp = args.out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(stats, indent=1))
    os.replace(tmp, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
