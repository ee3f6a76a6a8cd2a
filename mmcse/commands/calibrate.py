"""`python -m mmcse calibrate`: give a checkpoint the statistics of its training features, for the
out-of-domain check of `parse` and the app (checkpoints trained by mmcse already carry them; this is for
older ones and for the authors' checkpoint after `import-official`).

    python -m mmcse calibrate runs/old/best.safetensors --data-root data/llp --out runs/old/best_calibrated.safetensors
    python -m mmcse calibrate runs/old --data-root data/llp --in-place

The statistics come from the train split of --data-root (the clips the checkpoint was trained on) and the
threshold from its val split (see mmcse/domain.py). The weights are not touched.
"""

from __future__ import annotations

import argparse

from mmcse.commands._common import add_data_arguments, checkpoint_file, data_paths, output_file
from mmcse.commands._outputs import Input, Output, add_overwrite_argument, check_outputs


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "calibrate",
        help="store the train features' statistics in a checkpoint (the out-of-domain check)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("checkpoint", help="an mmcse .safetensors checkpoint or a run folder (its best)")
    add_data_arguments(p, training=False)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--out", help="write the calibrated checkpoint here (.safetensors)")
    g.add_argument("--in-place", action="store_true", help="replace the checkpoint (atomically)")
    add_overwrite_argument(p)
    p.set_defaults(func=run, split="train")


def run(args) -> int:
    from mmcse.checkpoint import read_checkpoint_meta, write_with_domain
    from mmcse.config import FeatureSpec

    checkpoint = checkpoint_file(args.checkpoint)
    out = checkpoint if args.in_place else output_file(args.out, "--out", (".safetensors",))
    if not args.in_place:  # --in-place is the one way to replace the input, and says so
        check_outputs([Output(out, "--out")], [Input(checkpoint, "the checkpoint being calibrated (use --in-place)")],
                      args.overwrite)  # fmt: skip
    meta = read_checkpoint_meta(checkpoint)
    data = data_paths(args, FeatureSpec.from_dict(meta["feature_spec"]), training=False)
    data.use_pseudo_labels = False

    from mmcse.data.splits import open_split  # torch: once the arguments are known to be good
    from mmcse.domain import fit_domain

    train = open_split(data, "train", dense=False)
    val = open_split(data, "val", dense=False)
    stats = fit_domain(train, val)
    write_with_domain(checkpoint, stats, out)
    thresholds = ", ".join(f"{k} {v:.3g}" for k, v in stats.threshold.items())
    print(f"{out}: feature statistics of {len(train)} train clips, thresholds from {len(val)} val clips ({thresholds})")
    return 0
