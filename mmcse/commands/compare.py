"""`python -m mmcse compare CK_A CK_B`: two checkpoints scored on the same clips, with paired intervals.

    python -m mmcse compare runs/a/best.safetensors runs/b/best.safetensors --data-root data/llp --split test
    python -m mmcse compare CK_A CK_B --data-root D --bootstrap 1000 --seed 0 --gating mmcse --json cmp.json

For each of the 10 official numbers: A, B, B - A with a 95% paired-bootstrap interval (the same resampled
clips for both), a p-value (paired sign-flip permutation test) and a mark when the interval holds 0
("within noise"); then the per-class F deltas (segment level by default) sorted by |B - A|, and the
threshold-free view (segment-level mean AP, an addition to the protocol). Each checkpoint uses its own
gating unless --gating forces one. Both must read the same features. --json writes, per official key,
"a", "b", "delta", "ci_low", "ci_high", "p", "within_noise" under "scores" (see mmcse.training.comparison).
Each checkpoint's results on the split are read from (else kept in) the app's results cache, as `evaluate`
does (mmcse.commands._results; --no-results-cache: run the models, keep nothing).
"""

from __future__ import annotations

import argparse

from mmcse.commands._common import (
    add_data_arguments,
    check_data,
    checkpoint_file,
    data_paths,
    device_name,
    non_negative_int,
    output_file,
    positive_int,
)
from mmcse.commands._outputs import (
    Input,
    Output,
    add_overwrite_argument,
    check_outputs,
    data_inputs,
    same_file,
)
from mmcse.commands._results import add_results_cache_argument, cached_probabilities
from mmcse.commands._uncertainty import add_bootstrap_arguments, check_bootstrap


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "compare",
        help="two checkpoints on the same clips: B - A per AVVP number with paired intervals and p-values",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("checkpoint_a", metavar="CK_A", help="checkpoint A (.safetensors)")
    p.add_argument("checkpoint_b", metavar="CK_B", help="checkpoint B (.safetensors)")
    add_data_arguments(p, training=False)
    p.add_argument("--split", default="test", choices=("test", "val"))
    p.add_argument("--gating", choices=("mmcse", "fused", "modality"),
                   help="force one gating for both (default: each checkpoint's own)")  # fmt: skip
    p.add_argument(
        "--audio-gt", default="fixed", choices=("fixed", "pre2024"), help="audio GT file (default fixed)"
    )
    p.add_argument(
        "--level", default="segment", choices=("segment", "event"), help="level of the per-class F"
    )
    p.add_argument("--top", type=non_negative_int, default=10, help="per-class rows to print (default 10; all in --json)")
    p.add_argument("--min-clips", type=non_negative_int, default=5,
                   help="print per-class rows that depend on at least this many clips (default 5)")  # fmt: skip
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--device", type=device_name, default="auto", help="auto | cpu | cuda")
    p.add_argument("--json", dest="json_out", help="also write the comparison as JSON to this file")
    add_results_cache_argument(p)
    add_overwrite_argument(p)
    add_bootstrap_arguments(p, default=1000)
    p.set_defaults(func=run)


def run(args) -> int:
    import json
    import sys

    from mmcse.checkpoint import read_checkpoint_meta
    from mmcse.commands._uncertainty import (
        CAVEAT,
        format_class_rows,
        format_paired,
        format_threshold_free_pair,
    )
    from mmcse.config import FeatureSpec
    from mmcse.utils.files import atomic_write_bytes

    check_bootstrap(args.bootstrap)
    checkpoint_a, checkpoint_b = checkpoint_file(args.checkpoint_a), checkpoint_file(args.checkpoint_b)
    json_out = output_file(args.json_out, "--json", (".json",)) if args.json_out else None
    if same_file(checkpoint_a, checkpoint_b):
        print(f"warning: A and B are the same file ({checkpoint_a}): every difference will be 0", file=sys.stderr)
    meta_a = read_checkpoint_meta(checkpoint_a)  # torch-free: the data paths need A's feature spec
    data = data_paths(args, FeatureSpec.from_dict(meta_a["feature_spec"]), training=False, check=False)
    if json_out:
        inputs = [Input(checkpoint_a, "checkpoint A"), Input(checkpoint_b, "checkpoint B"),
                  *data_inputs(data, args.split, args.audio_gt)]  # fmt: skip
        check_outputs([Output(json_out, "--json")], inputs, args.overwrite)
    check_data(data, args, training=False)

    from mmcse.training.comparison import check_same_features, compare_checkpoints  # torch

    check_same_features(checkpoint_a, checkpoint_b)
    cache_notes: list[str] = []

    def probabilities_of(checkpoint, split):  # the results cache the app reads (--no-results-cache: none)
        return cached_probabilities(checkpoint, args.device, cache_notes)(split)

    result = compare_checkpoints(
        checkpoint_a, checkpoint_b, data, split=args.split, gating=args.gating, audio_gt=args.audio_gt,
        n_resamples=args.bootstrap, seed=args.seed, level=args.level, device=args.device,
        batch_size=args.batch_size, probabilities_of=probabilities_of if args.results_cache else None,
    )  # fmt: skip
    for name in ("a", "b"):
        c = result[name]
        epoch = f", epoch {c['epoch']}" if c["epoch"] else ""
        print(f"{name.upper()}: {c['checkpoint']} ({c['arch']}{epoch}, gating {c['gating']})")
    print(f"split {args.split} ({result['n_clips']} clips), audio GT {args.audio_gt}, thresholds 0.5/0.5\n")
    print(format_paired(result["scores"], result["bootstrap"]))
    print(format_class_rows(result["per_class"]["rows"], args.level, args.top, args.min_clips))
    print(format_threshold_free_pair(result["threshold_free"]))
    print(f"\n{CAVEAT}")
    for line in cache_notes:
        print(line)
    if json_out:
        atomic_write_bytes(json_out, (json.dumps(result, indent=2) + "\n").encode())
        print(f"wrote {json_out}")
    return 0
