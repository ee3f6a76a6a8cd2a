"""What evaluate and compare share for error bars: the --bootstrap / --seed / --threshold-free arguments,
evaluate's extra blocks, and the text tables of intervals, paired deltas and the threshold-free view."""

from __future__ import annotations

import math
from typing import Any

from mmcse.commands._common import UserError, non_negative_int

LEVELS = (("Segment", "seg"), ("Event", "evt"))
COLUMNS = (("A", "a"), ("V", "v"), ("AV", "av"), ("Type@AV", "type"), ("Event@AV", "event"))
SHORT_LEVEL = {"seg": "Seg", "evt": "Evt"}
MODALITY_NAMES = {"a": "A", "v": "V", "av": "AV"}
CAVEAT = (
    "Intervals and p-values describe clip-sampling noise of this split for these trained checkpoints, not "
    "seed-to-seed training variance (see `ablate --seeds`). 'within noise' (the interval holds 0) is not "
    "evidence that A and B are equal; with 10 numbers and 75 class rows, some p < 0.05 arise by chance."
)


def add_bootstrap_arguments(p, default: int | None) -> None:
    """--bootstrap N and --seed; evaluate (``default`` None: off unless asked) also gets --threshold-free."""
    g = p.add_argument_group("uncertainty (mmcse.stats)")
    default_text = f" (default {default})" if default else ""
    g.add_argument("--bootstrap", type=int, default=default, metavar="N",
                   help=f"resamples of the clips for 95%% intervals{default_text}")  # fmt: skip
    g.add_argument(
        "--seed", type=non_negative_int, default=0, help="seed of the resampling (default 0: same seed, same intervals)"
    )
    if default is None:
        g.add_argument("--threshold-free", action="store_true",
                       help="also segment-level AP per class, an addition to the protocol (on with --bootstrap)")  # fmt: skip


MAX_RESAMPLES = 100_000  # 10^5 resamples of 1,200 clips take minutes; more only costs memory and time


def check_bootstrap(n: int | None) -> None:
    if n is not None and not 1 <= n <= MAX_RESAMPLES:
        raise UserError(
            f"--bootstrap {n}: give the number of resamples, 1 to {MAX_RESAMPLES:,} (1000 is usual)"
        )


def add_uncertainty(report: dict[str, Any], args, checkpoint, data, probabilities_of=None) -> None:
    """evaluate --bootstrap N / --threshold-free: print the intervals and the threshold-free block, and add
    "ci", "bootstrap" and "threshold_free" to ``report`` (its "scores" stay the 10 official floats).
    ``probabilities_of``: as checkpoint_predictions takes it (the results cache: no second model pass)."""
    check_bootstrap(args.bootstrap)
    if not (args.bootstrap or args.threshold_free):
        return
    from mmcse.training.comparison import checkpoint_predictions, interval_report, threshold_free_report

    preds = checkpoint_predictions(
        checkpoint, data, args.split, gating=report["gating"], audio_gt=args.audio_gt,
        segment_threshold=args.segment_threshold, video_threshold=args.video_threshold, device=args.device,
        batch_size=args.batch_size, probabilities_of=probabilities_of,
    )  # fmt: skip
    if args.bootstrap:
        intervals = interval_report(preds, n_resamples=args.bootstrap, seed=args.seed)
        worst = max(abs(intervals["scores"][k] - report["scores"][k]) for k in report["scores"])
        if worst > 1e-9:  # the same checkpoint and clips must give the same official numbers
            raise RuntimeError(
                f"second pass over the split moved a score by {worst:.2e}; intervals not reported"
            )
        report["ci"], report["bootstrap"] = intervals["ci"], intervals["bootstrap"]
        print(format_intervals(report["scores"], report["ci"], report["bootstrap"]))
    report["threshold_free"] = threshold_free_report(preds)
    print(format_threshold_free(report["threshold_free"]))


def format_intervals(scores: dict[str, float], ci: dict[str, dict], info: dict[str, Any]) -> str:
    """The 10 numbers with their intervals: one line per column, Segment and Event side by side."""
    head = (
        f"{100 * info['confidence']:.0f}% percentile-bootstrap intervals over the {info['n_clips']} clips "
        f"({info['n_resamples']} resamples, seed {info['seed']}):"
    )
    lines = [head, f"{'':10s}{'Segment':>26s}{'Event':>26s}"]
    for name, key in COLUMNS:
        cells = []
        for _, prefix in LEVELS:
            k = f"{prefix}_{key}"
            cells.append(f"{scores[k]:8.2f} [{ci[k]['ci_low']:6.2f}, {ci[k]['ci_high']:6.2f}]")
        lines.append(f"{name:10s}" + "".join(f"{c:>26s}" for c in cells))
    return "\n".join(lines)


def format_threshold_free(report: dict[str, Any]) -> str:
    return (
        "\nThreshold-free view: NOT part of the official protocol (an addition; not comparable to published "
        f"numbers). Segment-level mean AP over classes, gating {report['gating']}:\n"
        f"  audio {_num(report['map_a'])} ({report['n_classes_a']} classes)   "
        f"visual {_num(report['map_v'])} ({report['n_classes_v']} classes)   mean {_num(report['map_mean'])}"
    )


def format_paired(scores: dict[str, dict], info: dict[str, Any]) -> str:
    """compare's table: per official number A, B, B - A [interval], p, and a mark when within noise."""
    conf = f"{100 * info['confidence']:.0f}%"
    lines = [
        f"paired over the same {info['n_clips']} clips: {info['n_resamples']} resamples, seed {info['seed']}; "
        f"{conf} interval of B - A; p: two-sided paired sign-flip permutation test",
        f"{'':14s}{'A':>8s}{'B':>8s}{'B - A':>8s}   {conf + ' interval':<18s}{'p':>7s}",
    ]
    for _, prefix in LEVELS:
        for name, key in COLUMNS:
            r = scores[f"{prefix}_{key}"]
            interval = f"[{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]"
            mark = "   within noise" if r["within_noise"] else ""
            lines.append(f"{SHORT_LEVEL[prefix] + ' ' + name:14s}{r['a']:8.2f}{r['b']:8.2f}{r['delta']:+8.2f}   "
                         f"{interval:<18s}{_p(r['p']):>7s}{mark}")  # fmt: skip
    return "\n".join(lines)


def format_class_rows(rows: list[dict[str, Any]], level: str, top: int, min_clips: int) -> str:
    """The ``top`` per-class F rows with the largest |B - A| among those that depend on at least
    ``min_clips`` clips (F in percent)."""
    scored = [r for r in rows if r["delta"] is not None]
    shown = [r for r in scored if r["n_clips"] >= min_clips]
    lines = [
        f"\nper-class F ({level} level): the {min(top, len(shown))} largest |B - A| of {len(scored)} (class, "
        f"modality) rows; {len(scored) - len(shown)} rows that depend on fewer than {min_clips} clips (too few "
        "for an interval) are left out here; all in --json",
        f"{'class':22s}{'mod':>4s}{'clips':>6s}{'A':>7s}{'B':>7s}{'B - A':>8s}   {'interval':<18s}{'p':>7s}",
    ]
    for r in shown[:top]:
        interval = "[n/a]" if r["ci_low"] is None else f"[{r['ci_low']:+.1f}, {r['ci_high']:+.1f}]"
        mark = "   within noise" if r["within_noise"] else ""
        lines.append(f"{r['class']:22s}{MODALITY_NAMES[r['modality']]:>4s}{r['n_clips']:6d}{_num(r['a'], 7, 1)}"
                     f"{_num(r['b'], 7, 1)}{r['delta']:+8.1f}   {interval:<18s}{_p(r['p']):>7s}{mark}")  # fmt: skip
    return "\n".join(lines)


def format_threshold_free_pair(free: dict[str, Any]) -> str:
    a, b = free["a"], free["b"]
    lines = [
        "\nThreshold-free view: NOT part of the official protocol (an addition; not comparable to published "
        "numbers). Segment-level mean AP over classes:",
        f"{'':14s}{'A':>8s}{'B':>8s}{'B - A':>8s}",
    ]
    for name, key in (("mAP audio", "map_a"), ("mAP visual", "map_v"), ("mAP mean", "map_mean")):
        delta = None if a[key] is None or b[key] is None else b[key] - a[key]
        lines.append(
            f"{name:14s}{_num(a[key], 8)}{_num(b[key], 8)}{'' if delta is None else f'{delta:+8.2f}'}"
        )
    return "\n".join(lines)


def _num(value: float | None, width: int = 0, digits: int = 2) -> str:
    text = (
        "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"
    )
    return f"{text:>{width}s}" if width else text


def _p(p: float | None) -> str:
    return "n/a" if p is None else f"{p:.3f}"
