"""`python -m mmcse pseudo-label`: VALOR's segment pseudo labels for weakly-labelled videos, so that
MM-CSE's recipe (which trains on them) runs on your own data.

    python -m mmcse pseudo-label --csv my_train.csv --video-dir videos/ --out data/mine/feats --weights ~/weights

For each clip of the CSV (filename, event_labels): CLIP ViT-L/14 logits of its 10 frames (VALOR's frame
choice) against VALOR's 25 captions, kept where above VALOR's per-class threshold and only for the clip's
weak labels -> <out>/CLIP/segment_pseudo_labels/<id>.npy, (10, 25) int64 0/1, as VALOR writes them.
Resumable (clips whose file exists are skipped; --overwrite redoes them), atomic writes.

Not done yet: the audio half (CLAP logits -> CLAP/segment_pseudo_labels) needs the CLAP backbone, which is
not implemented here; --modality audio stops with one line saying so.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mmcse.commands._common import UserError, device_name, input_file, output_folder


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "pseudo-label",
        help="VALOR's segment pseudo labels (CLIP, visual) of weakly-labelled videos",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--csv", required=True, help="a split CSV (filename, event_labels)")
    p.add_argument("--video-dir", required=True, help="the folder of its videos (<filename>.mp4 or <id>.mp4)")
    p.add_argument("--out", required=True, help="the feature root: <out>/CLIP/segment_pseudo_labels/<id>.npy")
    p.add_argument("--modality", choices=("visual", "audio"), default="visual")
    p.add_argument("--weights", metavar="DIR", help="a folder of weight files (also: $MMCSE_WEIGHTS)")
    p.add_argument("--device", type=device_name, default="auto", help="auto | cpu | cuda")
    p.add_argument("--overwrite", action="store_true", help="redo the clips whose file exists")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.modality == "audio":
        raise UserError("--modality audio: CLAP pseudo labels need the CLAP backbone, not implemented yet; "
                        "make them with VALOR's utils/clap_preprocess.py")  # fmt: skip
    from mmcse.data.llp import read_weak_labels
    from mmcse.video.io import find_video

    out = output_folder(args.out, "--out")
    if not Path(args.video_dir).is_dir():
        raise UserError(f"--video-dir {args.video_dir}: not a folder")
    filenames, weak = read_weak_labels(input_file(args.csv, "--csv"))
    folder = out / "CLIP" / "segment_pseudo_labels"
    jobs = []
    for name, labels in zip(filenames, weak):
        video = find_video(args.video_dir, name)
        if video is None:
            raise UserError(f"clip {name} of {args.csv} has no video in {args.video_dir}; add it or remove its row")
        target = folder / f"{name[:11]}.npy"
        if args.overwrite or not target.exists():
            jobs.append((video, labels, target))
    print(f"{len(filenames) - len(jobs)} of {len(filenames)} clip(s) already labelled in {folder}; {len(jobs)} to do",
          file=sys.stderr)  # fmt: skip
    if not jobs:
        return 0

    import numpy as np
    import torch
    from tqdm.auto import tqdm

    from mmcse.backbones.clip import clip_images, image_embeddings, load_clip
    from mmcse.backbones.pseudo_labels import (
        CLIP_THRESHOLDS,
        clip_segment_logits,
        clip_text_embeddings,
        segment_pseudo_labels,
    )
    from mmcse.backbones.weights import WEIGHT_FILES, find_weight
    from mmcse.utils.device import resolve_device
    from mmcse.utils.files import atomic_path
    from mmcse.video.extractor import FPS, WINDOW_S, fit_window
    from mmcse.video.io import iter_frames, probe_video

    try:
        from transformers import CLIPTokenizer
    except ImportError:
        raise UserError("pseudo-label needs transformers: pip install -e .[backbones]") from None
    path = find_weight(WEIGHT_FILES["clip"], args.weights, features="valor")
    device = resolve_device(args.device)
    model = load_clip(path, device)
    try:
        tokenizer = CLIPTokenizer.from_pretrained(str(path), local_files_only=True)
    except (OSError, ValueError, TypeError):
        raise UserError(f"weights {path}: no CLIP tokenizer files (vocab.json, merges.txt) there") from None
    text = clip_text_embeddings(model, tokenizer)
    failed = []
    for video, labels, target in tqdm(jobs, unit="clip", file=sys.stderr, dynamic_ncols=True):
        try:
            info = probe_video(video)
            chunks = iter_frames(video, info, FPS, chunk=FPS * WINDOW_S)
            frames = next(iter(chunks))
            chunks.close()
        except (ValueError, StopIteration) as exc:
            tqdm.write(f"error: {video}: {exc or 'no frames'}", file=sys.stderr)
            failed.append(video)
            continue
        frames, _ = fit_window(frames, None)
        with torch.inference_mode():
            images = image_embeddings(model, clip_images(frames).to(device))
        pseudo = segment_pseudo_labels(clip_segment_logits(model, images, text), labels, CLIP_THRESHOLDS)
        with atomic_path(target, suffix=".npy") as tmp:
            with open(tmp, "wb") as fh:
                np.save(fh, pseudo)
    if failed:
        print(f"{len(failed)} clip(s) could not be labelled: {', '.join(map(str, failed))}", file=sys.stderr)
        return 1
    return 0
