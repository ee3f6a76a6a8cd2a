"""`python -m mmcse tags`: the clip tags of a dataset (made in the app's Video parser), listed, or a split's
clips chosen by tag written as a split file that `train` / `evaluate` take.

    python -m mmcse tags --data-root data/llp                                   tags in use, clips per split
    python -m mmcse tags --data-root data/llp --split train --exclude-tag "bad GT" --out train_clean.csv
    python -m mmcse train --data-root data/llp --train-csv train_clean.csv ...  train without those clips
    python -m mmcse tags --data-root data/llp --split test --tag hard --out test_hard.csv
    python -m mmcse evaluate --checkpoint CK --data-root data/llp --split test --split-csv test_hard.csv

The tags are read from <data-root>/mmcse_tags.json (or <--run>/mmcse_tags.json when the app kept them
beside the run). --format llp (default) writes the official weak-label split CSV (filename<TAB>event_labels);
csv / json write the clip list with labels, tags, notes and where it came from.
"""

from __future__ import annotations

from pathlib import Path

from mmcse.commands._common import UserError, input_file, output_file
from mmcse.commands._outputs import Input, Output, add_overwrite_argument, check_outputs

SPLITS = ("train", "val", "test")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "tags",
        help="list clip tags, or write a split's clips chosen by tag as a split CSV",
        description=__doc__,
        formatter_class=__import__("argparse").RawDescriptionHelpFormatter,
    )
    p.add_argument("--data-root", required=True, help="folder with the LLP CSVs (and mmcse_tags.json)")
    p.add_argument("--run", help="run folder whose mmcse_tags.json to read when the data root has none")
    p.add_argument("--split", choices=SPLITS, default="train", help="the split whose clips to write (default train)")
    p.add_argument("--tag", action="append", default=[], metavar="TAG",
                   help="keep only clips with this tag (repeat: any of them); default every clip of the split")  # fmt: skip
    p.add_argument("--exclude-tag", action="append", default=[], metavar="TAG",
                   help="drop clips with this tag (repeat: any of them)")  # fmt: skip
    p.add_argument("--out", help="file to write the chosen clips to (without it: list the tags)")
    p.add_argument("--format", choices=("llp", "csv", "json"), default="llp",
                   help="llp: the official split CSV (default); csv / json: clips with labels, tags, notes")  # fmt: skip
    add_overwrite_argument(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from mmcse.classes import LLP_CLASSES
    from mmcse.curation import TagStore, export_clips, store_path
    from mmcse.data import llp
    from mmcse.utils.files import atomic_write_text

    root = Path(args.data_root)
    if not root.is_dir():
        raise FileNotFoundError(f"--data-root {root} is not a folder")
    path = store_path(root, args.run)
    store = TagStore.load(path)
    if not path.is_file():
        raise UserError(f"no tag file: {path} does not exist (tag clips in the app's Video parser first)")
    splits = {s: llp.read_weak_labels(input_file(llp.split_csv(root, s), f"the {s} split CSV"))
              for s in SPLITS if llp.split_csv(root, s).is_file()}  # fmt: skip
    in_use = store.all_tags()
    for tag in [*args.tag, *args.exclude_tag]:
        if not store.clips_with(tag):
            raise UserError(f"no clip is tagged {tag!r} in {path}; tags in use: {', '.join(in_use) or 'none'}")
    if not args.out:
        if args.tag or args.exclude_tag:
            raise UserError("--tag / --exclude-tag choose the clips to write: give --out FILE too")
        print(f"{path}: {len(store.clips)} clips with tags or notes")
        for tag in in_use:
            tagged = set(store.clips_with(tag))
            counts = ", ".join(f"{s} {len(tagged.intersection(names))}" for s, (names, _) in splits.items())
            print(f"  {tag}: {len(tagged)} clips ({counts})")
        return 0

    if args.split not in splits:
        raise FileNotFoundError(f"the {args.split} split CSV {llp.split_csv(root, args.split)} not found")
    out = output_file(args.out, "--out")
    check_outputs([Output(out, "--out")], [Input(path, "the tag file"), Input(llp.split_csv(root, args.split),
                  f"the {args.split} split CSV")], args.overwrite)  # fmt: skip
    names, weak = splits[args.split]
    keep = {c for t in args.tag for c in store.clips_with(t)} if args.tag else set(names)
    drop = {c for t in args.exclude_tag for c in store.clips_with(t)}
    clips = [c for c in names if c in keep and c not in drop]
    if not clips:
        raise UserError(f"no clip of the {args.split} split is left by these tags; nothing written")
    labels = {n: [LLP_CLASSES[k] for k in range(len(LLP_CLASSES)) if weak[i, k]] for i, n in enumerate(names)}
    provenance = {"dataset": str(root), "split": args.split, "tag_file": str(path),
                  "tags": ", ".join(args.tag) or "any", "excluded_tags": ", ".join(args.exclude_tag) or "none"}  # fmt: skip
    atomic_write_text(out, export_clips(store, clips, args.format, labels, provenance))
    print(f"wrote {out}: {len(clips)} of {len(names)} {args.split} clips")
    return 0
