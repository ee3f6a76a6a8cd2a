"""`python -m mmcse demo`: build the embedded demo (procedural clips in LLP's formats, features, two models).

    python -m mmcse demo                                    -> demo_data/ (1200 train, 150 val, 600 test)
    python -m mmcse demo --out demo_data --seed 0 --train 1200 --val 150 --test 600 [--force]
    python -m mmcse demo --out assets/demo --compact --from demo_data --overwrite
                                                            a few-MB copy (val/test features, 6 test mp4s,
                                                            float16 checkpoints) of the full build --from
The clips are generated, not real videos; their segment pseudo labels are SIMULATED from the true labels.
Whatever exists and is valid is reused; --force rebuilds. See mmcse/demo/build.py for the folder layout.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mmcse.commands._common import (
    UserError,
    build_demo_advice,
    int_range,
    non_negative_int,
    output_folder,
    positive_int,
)
from mmcse.commands._outputs import Input, Output, add_overwrite_argument, check_outputs
from mmcse.validation import flag_type

MAX_CLIPS = 100_000  # per split (LLP has 10,000 train clips); each clip is rendered and stored
MAX_WORKERS = 64  # render processes, each started at once: more only costs memory


def clip_count(text: str) -> int:
    value = positive_int(text)
    if value > MAX_CLIPS:
        raise argparse.ArgumentTypeError(f"{value} is above {MAX_CLIPS:,} clips; give fewer")
    return value


def add_parser(subparsers) -> None:
    import argparse

    p = subparsers.add_parser(
        "demo",
        help="build the procedural demo dataset and train an MM-CSE and a HAN on it",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--out", default="demo_data", help="demo folder to build or complete (default demo_data)")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--train", type=clip_count, help="train clips (default 1200)")
    p.add_argument("--val", type=clip_count, help="val clips (default 150)")
    p.add_argument("--test", type=clip_count, help="test clips (default 600)")
    p.add_argument("--force", action="store_true", help="rebuild everything, even what exists")
    p.add_argument("--videos", choices=("all", "eval", "none"), default="all",
                   help="which splits get mp4 files: all (default), eval = val and test only, none")  # fmt: skip
    p.add_argument("--workers", type=int_range(1, MAX_WORKERS), help="processes rendering clips (default: 2, or 1 on one core)")
    p.add_argument("--epochs", type=flag_type("epochs"), help="override the demo recipes' epochs")
    p.add_argument("--no-train", action="store_true", help="only the clips, CSVs and features")
    p.add_argument("--compact", action="store_true", help="write a few-MB copy of a built demo (see --from)")
    p.add_argument("--from", dest="source", default="demo_data",
                   help="with --compact: the full demo build to copy from (read only; build it first)")  # fmt: skip
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--progress-file", type=Path,
                   help="keep this file holding the build's progress as JSON {done, total, stage} (for a watcher)")  # fmt: skip
    add_overwrite_argument(p)  # --compact: replace an existing copy
    p.set_defaults(func=run)


def check_demo_folder(text: str, flag: str) -> Path:
    """The demo folder to build or complete: absent, empty, or a demo build (its manifest.json names the
    generator). Any other folder is refused: the build writes LLP-named CSVs that would replace a user's."""
    import json

    folder = output_folder(text, flag)
    if not folder.is_dir() or not any(folder.iterdir()):
        return folder
    manifest = folder / "manifest.json"
    try:
        is_demo = "generator_version" in json.loads(manifest.read_text())
    except (OSError, ValueError, TypeError):
        is_demo = False
    if not is_demo:
        raise UserError(
            f"{flag} {folder} holds files but no demo build (no demo manifest.json); the build would replace its "
            "CSVs: give a new or empty folder"
        )
    return folder


def check_full_demo(folder: Path) -> None:
    """--compact copies a full demo build; it never builds or completes --from (that would rewrite it)."""
    import json

    manifest = folder / "manifest.json"
    if not manifest.is_file():
        raise UserError(
            f"--from {folder} holds no demo build; {build_demo_advice(folder)}, then copy it with --compact"
        )
    if "compact" in json.loads(manifest.read_text()):
        raise UserError(f"--from {folder} is a compact copy itself; give the full demo build it was made from")
    if not (folder / "runs" / "mmcse" / "best.safetensors").is_file():
        raise UserError(f"--from {folder} has no trained models (built with --no-train?); "
                        f"{build_demo_advice(folder)}, then copy it with --compact")  # fmt: skip


def run(args) -> int:
    import json

    out = check_demo_folder(args.source if args.compact else args.out, "--from" if args.compact else "--out")
    if args.compact:  # a copy of a finished build: --from is read, never built or completed
        check_full_demo(out)
        target = output_folder(args.out, "--out")
        check_outputs([Output(target, "--out", folder=True)], [Input(out, "the demo it copies (--from)")],
                      args.overwrite)  # fmt: skip
        manifest = json.loads((out / "manifest.json").read_text())
    sizes = {
        k: v for k, v in (("train", args.train), ("val", args.val), ("test", args.test)) if v is not None
    }

    # torch: after the checks
    from mmcse.demo.build import build_demo, export_compact, format_scores, progress_file

    if not args.compact:
        manifest = build_demo(
            out, seed=args.seed, sizes=sizes, force=args.force, videos=args.videos, workers=args.workers,
            train=not args.no_train, epochs=args.epochs, progress=not args.no_progress,
            on_progress=progress_file(args.progress_file) if args.progress_file else None,
        )  # fmt: skip
    rows = dict(manifest["test_reference_rows"])
    rows.update({f"demo {k}": v for k, v in manifest.get("test_models", {}).items()})
    print(f"\n{out}: demo test split ({manifest['sizes']['test']} clips)")
    print(format_scores(rows))
    agreement = manifest.get("test_map_agreement")
    if agreement:  # demo.quality: what the learned co-occurrence maps carry
        shown = ", ".join(f"{k} {'n/a' if v is None else format(v, '.2f')}" for k, v in agreement.items())
        print(f"MM-CSE co-occurrence maps vs annotations (correlation, test): {shown}")
    separation = manifest.get("test_class_separation")
    if separation:
        print(f"MM-CSE class-wise features, 10-NN class agreement (test): {separation['knn_agreement_features']:.3f} "
              f"(t-SNE {separation['knn_agreement_tsne']:.3f}, chance {separation['chance']:.3f})")  # fmt: skip
    if "seconds" in manifest and not args.compact:
        print(f"seconds: {manifest['seconds']}")
    if args.compact:
        export_compact(out, args.out)
    return 0
