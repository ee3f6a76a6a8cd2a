"""`python -m mmcse evaluate`: the 10 AVVP numbers of a checkpoint on a split, as a table and as JSON.

    python -m mmcse evaluate --checkpoint runs/mmcse/best.safetensors --data-root data/llp --split test
    python -m mmcse evaluate --checkpoint CK --data-root D --split val --gating fused --audio-gt pre2024 --json out.json

The features are read with the checkpoint's own feature spec. When the checkpoint stores metrics for the
split (a training run stores its val numbers) and they were measured with the same gating and audio GT,
the command says whether they are reproduced.

The model's probabilities on the split are kept in the results cache the app uses ($MMCSE_CACHE, default
~/.cache/mmcse; mmcse.prediction_cache): the first evaluate of a checkpoint on a split computes and stores
them (with the co-occurrence maps and class-wise features the app shows), and the app, and any later
evaluate of that checkpoint on the same split (other thresholds, gating), read them instead of running the
model. ``--no-results-cache`` runs the model and keeps nothing.
"""

from __future__ import annotations

import argparse

from mmcse.commands._common import (
    add_data_arguments,
    check_data,
    checkpoint_file,
    data_paths,
    device_name,
    output_file,
    positive_int,
    probability,
)
from mmcse.commands._outputs import Input, Output, add_overwrite_argument, check_outputs, data_inputs
from mmcse.commands._results import add_results_cache_argument, cached_probabilities
from mmcse.commands._uncertainty import add_bootstrap_arguments, add_uncertainty, check_bootstrap

LEVELS = (("Segment", "seg"), ("Event", "evt"))
COLUMNS = (("A", "a"), ("V", "v"), ("AV", "av"), ("Type@AV", "type"), ("Event@AV", "event"))


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate",
        help="the 10 AVVP numbers of a checkpoint on val or test",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--checkpoint", required=True, help="an mmcse .safetensors checkpoint or a run folder (its best)"
    )
    add_data_arguments(p, training=False)
    p.add_argument("--split", default="test", choices=("test", "val"))
    p.add_argument(
        "--gating",
        choices=("mmcse", "fused", "modality"),
        help="video-level gating (default: the checkpoint's; mmcse = audio by P, visual by P_v)",
    )
    p.add_argument(
        "--audio-gt", default="fixed", choices=("fixed", "pre2024"), help="audio GT file (default fixed)"
    )
    p.add_argument("--segment-threshold", type=probability, default=0.5)
    p.add_argument("--video-threshold", type=probability, default=0.5)
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--device", type=device_name, default="auto", help="auto | cpu | cuda")
    p.add_argument("--json", dest="json_out", help="also write the report as JSON to this file")
    add_results_cache_argument(p)
    add_overwrite_argument(p)
    add_bootstrap_arguments(p, default=None)  # --bootstrap N, --seed, --threshold-free
    p.set_defaults(func=run)


def format_table(scores: dict[str, float]) -> str:
    """The 10 numbers as a two-row table (percent, two decimals)."""
    head = f"{'':8s}" + "".join(f"{name:>10s}" for name, _ in COLUMNS)
    lines = [head]
    for level, prefix in LEVELS:
        lines.append(f"{level:8s}" + "".join(f"{scores[f'{prefix}_{key}']:10.2f}" for _, key in COLUMNS))
    return "\n".join(lines)


def run(args) -> int:
    import json

    from mmcse.checkpoint import read_checkpoint_meta
    from mmcse.config import FeatureSpec
    from mmcse.utils.files import atomic_write_text

    checkpoint = checkpoint_file(args.checkpoint)
    check_bootstrap(args.bootstrap)
    json_out = output_file(args.json_out, "--json", (".json",)) if args.json_out else None
    meta = read_checkpoint_meta(checkpoint)
    spec = FeatureSpec.from_dict(meta["feature_spec"])
    data = data_paths(args, spec, training=False, check=False)
    if json_out:
        inputs = [Input(checkpoint, "the checkpoint being scored"), *data_inputs(data, args.split, args.audio_gt)]
        check_outputs([Output(json_out, "--json")], inputs, args.overwrite)
    check_data(data, args, training=False)

    from mmcse.training.evaluation import evaluate_report  # torch: once the arguments are known to be good

    cache_notes: list[str] = []
    probabilities_of = cached_probabilities(checkpoint, args.device, cache_notes) if args.results_cache else None
    report = evaluate_report(
        checkpoint, data, split=args.split, gating=args.gating, audio_gt=args.audio_gt,
        segment_threshold=args.segment_threshold, video_threshold=args.video_threshold,
        device=args.device, batch_size=args.batch_size, probabilities_of=probabilities_of,
    )  # fmt: skip
    epoch = (meta.get("extra") or {}).get("epoch")
    print(f"checkpoint {checkpoint} ({meta.get('arch')}{f', epoch {epoch}' if epoch else ''})")
    print(
        f"split {args.split} ({report['n_clips']} clips), gating {report['gating']}, "
        f"audio GT {report['audio_gt_csv']} ({args.audio_gt}), thresholds "
        f"{args.segment_threshold:g}/{args.video_threshold:g}"
    )
    print(format_table(report["scores"]))
    print(json.dumps(report["scores"]))
    add_uncertainty(report, args, checkpoint, data, probabilities_of)  # intervals and the threshold-free view, when asked
    print(report["comparison"])
    for line in cache_notes:
        print(line)
    if json_out:
        atomic_write_text(json_out, json.dumps(report, indent=2) + "\n")
        print(f"wrote {json_out}")
    return 0 if report["reproduced"] is not False else 1
