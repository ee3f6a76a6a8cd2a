"""Test oracle: a loop re-implementation of the official AVVP evaluation (AVVP-ECCV20).

It follows `utils/eval_metrics.py` (`segment_level`, `event_level`, `extract_event`,
`event_wise_metric`, `to_vec`) and the per-video loop of `main_avvp.py eval()` of
github.com/YapengTian/AVVP-ECCV20 step by step, quirks included:

- per video, class-major arrays (25, 10): the loop transposes the (10, 25) predictions;
- `extract_event` walks the row with a while loop and returns each run as a 0/1 vector of length 10;
- `event_wise_metric` compares run vectors: IoU >= 0.5 written as
  `sum(x1 * x2) >= 0.5 * sum(x1 + x2 - x1 * x2)`; a predicted run is a TP if it matches ANY GT run
  (several predicted runs may match the same GT run), else FP; a GT run matched by no predicted run is FN;
- a class is active if TP + FP != 0 or TP + FN != 0; the video's score is the mean F over active
  classes, 1.0 when no class is active; Event@AV adds the audio and visual counts per class;
- over videos: plain mean of the per-video numbers, x100; Type@AV = (AV + A + V) / 3.

Slow on purpose (pure Python loops): it is the reference `mmcse.metrics` must equal, used by tests only.
"""

from __future__ import annotations

import numpy as np

CATEGORIES = [
    "Speech", "Car", "Cheering", "Dog", "Cat", "Frying_(food)", "Basketball_bounce", "Fire_alarm",
    "Chainsaw", "Cello", "Banjo", "Singing", "Chicken_rooster", "Violin_fiddle", "Vacuum_cleaner",
    "Baby_laughter", "Accordion", "Lawn_mower", "Motorcycle", "Helicopter", "Acoustic_guitar",
    "Telephone_bell_ringing", "Baby_cry_infant_cry", "Blender", "Clapping",
]  # fmt: skip


def _mean_active_f(TP, FP, FN):
    """The official per-class F list over active classes, averaged in class order; 1.0 if none."""
    F = []
    for ii in range(len(FP)):
        if (TP + FP)[ii] != 0 or (TP + FN)[ii] != 0:
            F.append(2 * TP[ii] / (2 * TP[ii] + (FN + FP)[ii]))
    if len(F) == 0:
        return 1.0  # all true negatives
    return sum(F) / len(F)


def segment_level(SO_a, SO_v, SO_av, GT_a, GT_v, GT_av):
    """Per-video segment-level F for audio, visual, Event@AV, audio-visual; arrays (25, 10)."""
    TP_a = np.sum(SO_a * GT_a, axis=1)
    FN_a = np.sum((1 - SO_a) * GT_a, axis=1)
    FP_a = np.sum(SO_a * (1 - GT_a), axis=1)

    TP_v = np.sum(SO_v * GT_v, axis=1)
    FN_v = np.sum((1 - SO_v) * GT_v, axis=1)
    FP_v = np.sum(SO_v * (1 - GT_v), axis=1)

    TP = TP_a + TP_v
    FN = FN_a + FN_v
    FP = FP_a + FP_v

    TP_av = np.sum(SO_av * GT_av, axis=1)
    FN_av = np.sum((1 - SO_av) * GT_av, axis=1)
    FP_av = np.sum(SO_av * (1 - GT_av), axis=1)

    f_a = _mean_active_f(TP_a, FP_a, FN_a)
    f_v = _mean_active_f(TP_v, FP_v, FN_v)
    f = _mean_active_f(TP, FP, FN)
    f_av = _mean_active_f(TP_av, FP_av, FN_av)
    return f_a, f_v, f, f_av


def to_vec(start, end):
    x = np.zeros(10)
    for i in range(start, end):
        x[i] = 1
    return x


def extract_event(seq, n):
    """Runs of 1s in a length-10 row, each as a 0/1 vector (the official while/for walk)."""
    x = []
    i = 0
    while i < 10:
        if seq[i] == 1:
            start = i
            if i + 1 == 10:  # a run that starts in the last segment
                i = i + 1
                end = i
                x.append(to_vec(start, end))
                break
            for j in range(i + 1, 10):
                if seq[j] != 1:  # run ends before j; j itself is 0 and skipped
                    i = j + 1
                    end = j
                    x.append(to_vec(start, end))
                    break
                else:
                    i = j + 1
                    if i == 10:  # run reaches the last segment
                        end = i
                        x.append(to_vec(start, end))
                        break
        else:
            i += 1
    return x


def _iou_at_least_half(x1, x2):
    return np.sum(x1 * x2) >= 0.5 * np.sum(x1 + x2 - x1 * x2)


def event_wise_metric(event_p, event_gt):
    """TP, FP, FN of one class row; event_p / event_gt are lists of run vectors or None."""
    TP = 0
    FP = 0
    FN = 0
    if event_p is not None:
        for x1 in event_p:
            if event_gt is not None:
                flag = True
                for x2 in event_gt:
                    if _iou_at_least_half(x1, x2):
                        TP += 1
                        flag = False
                        break
                if flag:
                    FP += 1
            else:
                FP += 1
    if event_gt is not None:
        for x1 in event_gt:
            if event_p is not None:
                flag = True
                for x2 in event_p:
                    if _iou_at_least_half(x1, x2):
                        flag = False
                        break
                if flag:
                    FN += 1
            else:
                FN += 1
    return TP, FP, FN


def _class_counts(SO, GT):
    """Event TP/FP/FN per class (25,) for one modality; None for a row without positives."""
    TP = np.zeros(25)
    FP = np.zeros(25)
    FN = np.zeros(25)
    for n in range(25):
        event_p = extract_event(SO[n, :], n) if np.sum(SO[n, :]) != 0 else None
        event_gt = extract_event(GT[n, :], n) if np.sum(GT[n, :]) != 0 else None
        tp, fp, fn = event_wise_metric(event_p, event_gt)
        TP[n] += tp
        FP[n] += fp
        FN[n] += fn
    return TP, FP, FN


def event_level(SO_a, SO_v, SO_av, GT_a, GT_v, GT_av):
    """Per-video event-level F for audio, visual, Event@AV, audio-visual; arrays (25, 10)."""
    TP_a, FP_a, FN_a = _class_counts(SO_a, GT_a)
    TP_v, FP_v, FN_v = _class_counts(SO_v, GT_v)
    TP_av, FP_av, FN_av = _class_counts(SO_av, GT_av)
    TP = TP_a + TP_v
    FN = FN_a + FN_v
    FP = FP_a + FP_v
    f_a = _mean_active_f(TP_a, FP_a, FN_a)
    f_v = _mean_active_f(TP_v, FP_v, FN_v)
    f = _mean_active_f(TP, FP, FN)
    f_av = _mean_active_f(TP_av, FP_av, FN_av)
    return f_a, f_v, f, f_av


def official_per_video(pred_a, pred_v, gt_a, gt_v):
    """The per-video lists of `main_avvp.py eval()`: inputs (N, 10, 25) 0/1; returns dict of (N,) arrays
    in [0, 1] keyed seg_a seg_v seg_event seg_av evt_a evt_v evt_event evt_av."""
    lists = {
        k: [] for k in ("seg_a", "seg_v", "seg_event", "seg_av", "evt_a", "evt_v", "evt_event", "evt_av")
    }
    for i in range(len(pred_a)):
        Pa = np.asarray(pred_a[i]).astype(np.int_)  # (10, 25)
        Pv = np.asarray(pred_v[i]).astype(np.int_)
        GT_a = np.transpose(np.asarray(gt_a[i], dtype=np.float64))  # (25, 10), float like np.zeros
        GT_v = np.transpose(np.asarray(gt_v[i], dtype=np.float64))
        GT_av = GT_a * GT_v
        SO_a = np.transpose(Pa)
        SO_v = np.transpose(Pv)
        SO_av = SO_a * SO_v
        f_a, f_v, f, f_av = segment_level(SO_a, SO_v, SO_av, GT_a, GT_v, GT_av)
        lists["seg_a"].append(f_a)
        lists["seg_v"].append(f_v)
        lists["seg_event"].append(f)
        lists["seg_av"].append(f_av)
        f_a, f_v, f, f_av = event_level(SO_a, SO_v, SO_av, GT_a, GT_v, GT_av)
        lists["evt_a"].append(f_a)
        lists["evt_v"].append(f_v)
        lists["evt_event"].append(f)
        lists["evt_av"].append(f_av)
    return {k: np.array(v, dtype=np.float64) for k, v in lists.items()}


def official_scores(pred_a, pred_v, gt_a, gt_v):
    """The 10 printed numbers of `main_avvp.py eval()` (percent, unrounded)."""
    F = official_per_video(pred_a, pred_v, gt_a, gt_v)
    out = {}
    for level in ("seg", "evt"):
        a = 100 * np.mean(F[f"{level}_a"])
        v = 100 * np.mean(F[f"{level}_v"])
        av = 100 * np.mean(F[f"{level}_av"])
        out[f"{level}_a"] = a
        out[f"{level}_v"] = v
        out[f"{level}_av"] = av
        out[f"{level}_type"] = (av + a + v) / 3.0
        out[f"{level}_event"] = 100 * np.mean(F[f"{level}_event"])
    return {k: float(v) for k, v in out.items()}


def official_dense_gt(df_a, df_v, filename):
    """GT grids of one clip as the official loop builds them from the two TAB CSVs (pandas frames):
    rows matched by exact filename, `GT[idx, int(onset):int(offset)] = 1`. Returns (10, 25) float arrays."""
    id_to_idx = {name: index for index, name in enumerate(CATEGORIES)}
    grids = []
    for df in (df_a, df_v):
        GT = np.zeros((25, 10))
        rows = df.loc[df["filename"] == filename]
        for i in range(len(rows)):
            x1 = int(rows["onset"][rows.index[i]])
            x2 = int(rows["offset"][rows.index[i]])
            GT[id_to_idx[rows["event_labels"][rows.index[i]]], x1:x2] = 1
        grids.append(GT.T)
    return grids[0], grids[1]
