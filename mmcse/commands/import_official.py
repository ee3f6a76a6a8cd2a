"""`python -m mmcse import-official checkpoint_best.pth --out model.safetensors [--features valor|han]`:
convert the authors' MM-CSE state_dict into one of our self-describing checkpoints."""

from __future__ import annotations

from pathlib import Path

from mmcse.commands._common import UserError, input_file, output_file
from mmcse.commands._outputs import Input, Output, add_overwrite_argument, check_outputs


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "import-official",
        help="convert the authors' MM-CSE checkpoint_best.pth into an mmcse .safetensors checkpoint",
        description="Read the authors' state_dict safely (torch.load weights_only=True), check every key and "
        "shape, and write an mmcse checkpoint (safetensors + metadata). Feature dims come from the weights.",
    )
    p.add_argument("checkpoint", type=Path, help="the authors' .pth (a plain state_dict)")
    p.add_argument("--out", type=Path, required=True, help="output .safetensors file")
    add_overwrite_argument(p)
    p.add_argument(
        "--features",
        choices=("valor", "han"),
        default=None,
        help="feature preset the weights were trained on (default: implied by the weights' input widths)",
    )
    p.set_defaults(func=run)


def run(args) -> int:
    output_file(args.out, "--out", (".safetensors",))
    input_file(args.checkpoint, "the authors' checkpoint")
    check_outputs([Output(args.out, "--out")], [Input(args.checkpoint, "the checkpoint being imported")], args.overwrite)

    if args.checkpoint.suffix == ".safetensors":  # torch-free: an mmcse checkpoint needs no import
        from mmcse.checkpoint import read_checkpoint_meta

        try:
            read_checkpoint_meta(args.checkpoint)
        except (ValueError, OSError):
            pass  # not one of ours: the importer says what it is
        else:
            raise UserError(f"{args.checkpoint} is already an mmcse checkpoint; no import needed (use it as it is)")

    from mmcse.checkpoint import save_checkpoint
    from mmcse.models.official import import_official, official_feature_spec

    model = import_official(args.checkpoint)
    spec = official_feature_spec(model, args.features)
    n = sum(p.numel() for p in model.parameters())
    save_checkpoint(
        args.out,
        model,
        model_config=model.cfg,
        feature_spec=spec,
        extra={"imported_from": str(args.checkpoint.name), "source": "authors' MM-CSE release"},
    )
    print(
        f"imported {args.checkpoint} -> {args.out}: MM-CSE, {model.cfg.num_layers} FGSE layers, "
        f"{n / 1e6:.2f} M parameters, features {spec.name!r} (audio {spec.audio.shape}, visual "
        f"{spec.visual.shape}, visual_st {spec.visual_st.shape})"
    )
    return 0
