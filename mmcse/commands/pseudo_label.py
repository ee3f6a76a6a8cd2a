"""`python -m mmcse pseudo-label`: VALOR's segment pseudo labels for weakly-labelled videos, so that
MM-CSE's recipe (which trains on them) runs on your own data.

    python -m mmcse pseudo-label --csv my_train.csv --video-dir videos/ --out data/mine/feats --weights ~/weights

For each clip of the CSV (filename, event_labels), as VALOR's utils/clip_preprocess.py and
clap_preprocess.py: visual, CLIP ViT-L/14 logits of its 10 frames (VALOR's frame choice) against VALOR's 25
captions; audio, LAION-CLAP logits of its 10 one-second segments of 48-kHz audio (each repeat-padded to
10 s) against "This is a sound of <class>"; kept where above VALOR's per-class threshold and only for the
clip's weak labels -> <out>/CLIP/segment_pseudo_labels/<id>.npy and <out>/CLAP/segment_pseudo_labels/<id>.npy,
(10, 25) int64 0/1, as VALOR writes them. A clip without audio gets no audio labels (all 0, a warning).
Resumable (clips whose files exist are skipped; --overwrite redoes them), atomic writes. Weights: CLIP's
folder, 630k-fusion-best.pt and the roberta-base tokenizer (`python -m mmcse weights --features valor`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmcse.commands._common import UserError, device_name, input_file, output_folder


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "pseudo-label",
        help="VALOR's segment pseudo labels (CLIP visual, CLAP audio) of weakly-labelled videos",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--csv", required=True, help="a split CSV (filename, event_labels)")
    p.add_argument("--video-dir", required=True, help="the folder of its videos (<filename>.mp4 or <id>.mp4)")
    p.add_argument("--out", required=True, help="the feature root: <out>/{CLIP,CLAP}/segment_pseudo_labels/<id>.npy")
    p.add_argument("--modality", choices=("both", "visual", "audio"), default="both")
    p.add_argument("--weights", metavar="DIR", help="a folder of weight files (also: $MMCSE_WEIGHTS)")
    p.add_argument("--device", type=device_name, default="auto", help="auto | cpu | cuda")
    p.add_argument("--overwrite", action="store_true", help="redo the clips whose file exists")
    p.set_defaults(func=run)


def run(args) -> int:
    from mmcse.data.llp import read_clips_by_id
    from mmcse.video.io import find_video

    out = output_folder(args.out, "--out")
    if not Path(args.video_dir).is_dir():
        raise UserError(f"--video-dir {args.video_dir}: not a folder")
    if args.weights and not Path(args.weights).is_dir():
        raise UserError(f"--weights {args.weights}: not a folder; give the folder that holds the weight files")
    filenames, weak = read_clips_by_id(input_file(args.csv, "--csv"))
    folders = {"visual": "CLIP/segment_pseudo_labels", "audio": "CLAP/segment_pseudo_labels"}
    modalities = ["visual", "audio"] if args.modality == "both" else [args.modality]
    jobs = []
    for name, labels in zip(filenames, weak):
        video = find_video(args.video_dir, name)
        if video is None:
            raise UserError(f"clip {name} of {args.csv} has no video in {args.video_dir}; add it or remove its row")
        targets = {m: out / folders[m] / f"{name[:11]}.npy" for m in modalities}
        todo = [m for m, t in targets.items() if args.overwrite or not t.exists()]
        if todo:
            jobs.append((video, labels, {m: targets[m] for m in todo}))
    print(f"{len(filenames) - len(jobs)} of {len(filenames)} clip(s) already labelled in {out}; {len(jobs)} to do",
          file=sys.stderr)  # fmt: skip
    if not jobs:
        return 0
    from mmcse.backbones.weights import WEIGHT_FILES, find_weight

    # a missing weight file is one line before torch and transformers load (find_weight is torch-free)
    needed = {"visual": ["clip"], "audio": ["clap", "roberta"]}
    for key in [k for m in modalities for k in needed[m]]:
        find_weight(WEIGHT_FILES[key], args.weights, features="valor")

    import numpy as np
    from tqdm.auto import tqdm

    from mmcse.utils.device import resolve_device
    from mmcse.utils.files import atomic_path

    try:
        import transformers  # noqa: F401

        from mmcse.backbones.pseudo_labels import ClapLabeller, ClipLabeller
    except ImportError:
        raise UserError("pseudo-label needs transformers: pip install -e .[backbones]") from None
    device = resolve_device(args.device)
    kinds = {"visual": ClipLabeller, "audio": ClapLabeller}
    labellers = {m: kinds[m](args.weights, device) for m in modalities}  # a missing weight file: one line, now
    failed = []
    for video, labels, targets in tqdm(jobs, unit="clip", file=sys.stderr, dynamic_ncols=True):
        try:
            results = {m: labellers[m].label(video, labels) for m in targets}
        except ValueError as exc:
            tqdm.write(f"error: {exc}", file=sys.stderr)
            failed.append(video)
            continue
        for m, (pseudo, warnings) in results.items():
            for warning in warnings:
                tqdm.write(f"warning: {warning}", file=sys.stderr)
            with atomic_path(targets[m], suffix=".npy") as tmp:
                with open(tmp, "wb") as fh:
                    np.save(fh, pseudo)
    if failed:
        print(f"{len(failed)} clip(s) could not be labelled: {', '.join(map(str, failed))}", file=sys.stderr)
        return 1
    return 0
