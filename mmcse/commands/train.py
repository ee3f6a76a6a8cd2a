"""`python -m mmcse train`: train MM-CSE, HAN or VALOR on LLP-layout data; one ablation row per command.

    python -m mmcse train --data-root data/llp --features valor --model mmcse --preset paper-mmcse --out runs/mmcse
    python -m mmcse train --data-root demo_data --features demo --preset small --epochs 5 --out runs/demo   (after `python -m mmcse demo`)
    python -m mmcse train --out runs/mmcse --resume                   (configs are read from the run folder)
    torchrun --nproc_per_node 2 -m mmcse train ...                    (DDP: gloo on CPU, NCCL on GPU)

Data (official layout): the split and dense CSVs in --data-root (AVVP_train.csv, AVVP_val_pd.csv,
AVVP_eval_audio.csv, AVVP_eval_visual.csv), features in <data-root>/feats/<stream>/<id11>.npy (or
--feature-root; a packed store works too), VALOR pseudo labels as the spec's stream folders there (or
--pseudo-audio/--pseudo-visual). With pseudo labels the paper's recipe trains MM-CSE and VALOR; without
them (or --no-pseudo, or --model han) HAN's weak-label recipe.
"""

from __future__ import annotations

import dataclasses
import sys

from mmcse import validation
from mmcse.commands._common import (
    UserError,
    add_data_arguments,
    data_paths,
    device_name,
    output_folder,
    positive_int,
    thread_count,
)
from mmcse.validation import flag_type

DIM_FIELDS = ("audio_dim", "audio_len", "visual_dim", "visual_len", "visual_st_dim")


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train MM-CSE / HAN / VALOR (one process, or DDP under torchrun)",
        description=__doc__,
        formatter_class=__import__("argparse").RawDescriptionHelpFormatter,
    )
    add_data_arguments(p, training=True)
    p.add_argument(
        "--features",
        default="valor",
        help="feature preset han | valor | demo (default valor), or a .json/.toml spec file (examples/features/)",
    )
    p.add_argument("--model", choices=("mmcse", "han", "valor"), help="architecture (default: the preset's)")
    p.add_argument("--preset", help="paper-mmcse | paper-han | paper-valor | small (default paper-<model>)")
    p.add_argument("--out", required=True, help="run folder to write (config.json, metrics.csv, checkpoints)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from last.safetensors")
    p.add_argument("--overwrite", action="store_true",
                   help="start a new run in --out, replacing the run already there")  # fmt: skip
    p.add_argument("--device", type=device_name, default="auto", help="auto | cpu | cuda (default auto: cuda when available)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--threads",
        type=thread_count,
        help="torch threads per process (default: torch's choice); 1 on a busy shared CPU, where two threads "
        "spin at their barriers",
    )
    p.add_argument(
        "--bf16",
        action="store_true",
        help="forward in bfloat16 autocast (fast on recent GPUs; losses float32)",
    )
    p.add_argument(
        "--stop-after-epochs",
        type=positive_int,
        help="stop after N epochs of this call (the schedule still spans --epochs); continue with --resume",
    )

    t = p.add_argument_group("optimisation (override the preset)")
    t.add_argument("--epochs", type=flag_type("epochs"))
    t.add_argument("--batch-size", type=flag_type("batch_size"), help="global batch (split across DDP ranks)")
    t.add_argument("--lr", type=flag_type("lr"))
    t.add_argument("--weight-decay", type=flag_type("weight_decay"))
    t.add_argument("--optimizer", choices=("adamw", "adam"))
    t.add_argument("--schedule", choices=("step", "cosine"))
    t.add_argument("--warmup-epochs", type=flag_type("warmup_epochs"))
    t.add_argument(
        "--lr-min", type=flag_type("lr_min"), help="cosine: the lr of the last epoch (default 1e-6; paper-valor 3e-6)"
    )
    t.add_argument("--clip-grad-norm", type=flag_type("clip_grad_norm"), help="0 disables clipping")
    t.add_argument("--seed", type=flag_type("seed"))
    t.add_argument("--gating", choices=("mmcse", "fused", "modality"), help="gating for validation")

    a = p.add_argument_group("architecture and ablations (MM-CSE paper rows)")
    a.add_argument(
        "--no-cafd", action="store_true", help="no class-aware decoupling (holistic feature copied)"
    )
    a.add_argument("--no-background", action="store_true", help="no background slot (no L_ort, no fusion)")
    a.add_argument("--no-dynamic-fusion", action="store_true", help="alpha fixed to 0.5")
    a.add_argument("--no-secm", action="store_true", help="no semantic co-occurrence attention")
    a.add_argument("--no-lgsf", action="store_true", help="no local-global semantic fusion")
    a.add_argument("--intra-only", action="store_true", help="FGSE intra-modal branch only")
    a.add_argument("--cross-only", action="store_true", help="FGSE cross-modal branch only")
    a.add_argument("--layers", type=flag_type("num_layers"), help="FGSE / hybrid-attention layers")
    a.add_argument("--heads", type=flag_type("num_heads"), help="attention heads")
    a.add_argument("--d-model", type=flag_type("d_model"), help="projection width")
    a.add_argument("--d-class", type=flag_type("d_class"), help="class-wise feature width (MM-CSE)")
    a.add_argument("--ff-dim", type=flag_type("ff_dim"), help="HAN/VALOR feed-forward width (default: the preset's)")
    a.add_argument("--dropout", type=flag_type("dropout"))
    a.add_argument("--w-rec", type=flag_type("w_rec"), help="weight of L_rec (default 1.0)")
    a.add_argument("--w-ort", type=flag_type("w_ort"), help="weight of L_ort (default 0.1)")
    a.add_argument("--w-ec", type=flag_type("w_ec"), help="weight of L_ec (default 0.1)")
    p.set_defaults(func=run)
    FLAG_DEFAULTS.update({a.dest: (a.option_strings[0], a.default) for a in p._actions if a.option_strings})


# flags that still apply when a run is resumed; every other one is part of the saved run
RESUME_FLAGS = {"out", "resume", "epochs", "device", "no_progress", "threads", "bf16", "stop_after_epochs", "help"}
FLAG_DEFAULTS: dict[str, tuple[str, object]] = {}  # dest -> (flag, default), filled by add_parser


def flags_ignored_by_resume(args) -> list[str]:
    """The flags given on the command line that --resume would ignore (the run folder's settings win)."""
    return [flag for dest, (flag, default) in FLAG_DEFAULTS.items()
            if dest not in RESUME_FLAGS and getattr(args, dest, default) != default]  # fmt: skip


def build_configs(args, spec):
    """(ModelConfig, TrainConfig) from the preset, the features and the flags."""
    from mmcse.config import ModelConfig, get_preset

    preset = get_preset(args.preset or f"paper-{args.model or 'mmcse'}")
    arch = args.model or preset.model.arch
    model_fields = {k: v for k, v in preset.model.to_dict().items() if k not in DIM_FIELDS}
    model_fields["arch"] = arch
    if args.intra_only and args.cross_only:
        raise UserError("--intra-only and --cross-only exclude each other")
    flag_fields = {
        "use_cafd": False if args.no_cafd else None,
        "use_background": False if args.no_background else None,
        "dynamic_fusion": False if args.no_dynamic_fusion else None,
        "use_secm": False if args.no_secm else None,
        "use_lgsf": False if args.no_lgsf else None,
        "use_cross": False if args.intra_only else None,
        "use_intra": False if args.cross_only else None,
        "num_layers": args.layers,
        "num_heads": args.heads,
        "d_model": args.d_model,
        "d_class": args.d_class,
        "ff_dim": args.ff_dim,
        "dropout": args.dropout,
        "w_rec": args.w_rec,
        "w_ort": args.w_ort,
        "w_ec": args.w_ec,
    }
    ablations = [
        k
        for k in ("use_cafd", "use_background", "dynamic_fusion", "use_secm", "use_lgsf")
        if flag_fields[k] is False
    ]
    mmcse_only = [flag for flag, on in (
        *((f"--no-{k.removeprefix('use_').replace('_', '-')}", k in ablations) for k in
          ("use_cafd", "use_background", "use_secm", "use_lgsf")),
        ("--no-dynamic-fusion", "dynamic_fusion" in ablations), ("--intra-only", args.intra_only),
        ("--cross-only", args.cross_only), ("--d-class", args.d_class is not None),
        ("--w-ec", args.w_ec is not None), ("--w-rec", args.w_rec is not None), ("--w-ort", args.w_ort is not None),
    ) if on]  # fmt: skip
    if arch != "mmcse" and mmcse_only:
        raise UserError(f"{', '.join(mmcse_only)}: MM-CSE settings that do not apply to --model {arch}; drop them")
    if arch == "mmcse" and args.ff_dim:
        raise UserError("--ff-dim sets the HAN/VALOR feed-forward width; MM-CSE's FGSE uses 4 x --d-class")
    model_fields.update({k: v for k, v in flag_fields.items() if v is not None})
    preset_name = args.preset or f"paper-{args.model or 'mmcse'}"
    given = [k for k, v in flag_fields.items() if v is not None] + (["arch"] if args.model else [])
    labels = validation.flag_labels(given, preset_name)  # "--heads" or "d_class (preset 'small')"
    validation.validate_model_config({**ModelConfig.for_features(spec).to_dict(), **model_fields}, "train",
                                     labels=labels)  # fmt: skip
    model_cfg = ModelConfig.for_features(spec, **model_fields)

    train_cfg = preset.train
    overrides = {
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "weight_decay": args.weight_decay,
        "optimizer": args.optimizer,
        "schedule": args.schedule,
        "warmup_epochs": args.warmup_epochs,
        "lr_min": args.lr_min,
        "clip_grad_norm": args.clip_grad_norm,
        "seed": args.seed,
        "gating": args.gating,
    }
    given_train = {k: v for k, v in overrides.items() if v is not None}
    validation.validate_train_config({**train_cfg.to_dict(), **given_train}, "train",
                                     labels=validation.flag_labels(given_train, preset_name))  # fmt: skip
    train_cfg = dataclasses.replace(train_cfg, **given_train)
    check_schedule(train_cfg, given_train, validation.flag_labels(given_train, preset_name))
    if arch in ("han", "valor") and args.gating is None:
        train_cfg = dataclasses.replace(train_cfg, gating="fused")  # the baselines' own rule
    if train_cfg.epochs < 1 or train_cfg.batch_size < 1:
        raise UserError("--epochs and --batch-size must be at least 1")
    return model_cfg, train_cfg


def check_schedule(cfg, given: dict, labels: dict) -> None:
    """Settings of the schedule that would be ignored or give a schedule nobody wants, refused."""
    cosine_only = [labels[k] for k in ("warmup_epochs", "lr_min") if k in given]
    if cfg.schedule != "cosine" and cosine_only:
        raise UserError(
            f"{', '.join(cosine_only)} set the cosine schedule, but the schedule is {cfg.schedule!r} "
            f"({labels['schedule']}); add --schedule cosine or drop them"
        )
    if cfg.schedule == "cosine" and cfg.lr_min >= cfg.lr:
        raise UserError(
            f"{labels['lr_min']} = {cfg.lr_min:g} is not below {labels['lr']} = {cfg.lr:g}: the cosine schedule "
            "anneals from lr down to lr_min; give a smaller --lr-min"
        )
    if cfg.schedule == "cosine" and cfg.warmup_epochs >= cfg.epochs:
        raise UserError(
            f"{labels['warmup_epochs']} = {cfg.warmup_epochs} with {labels['epochs']} = {cfg.epochs}: the warm-up "
            "would never reach lr; give fewer warm-up epochs or more epochs"
        )


def run(args) -> int:
    import os

    from mmcse.config import ModelConfig, TrainConfig
    from mmcse.data.paths import DataPaths
    from mmcse.feature_specs import feature_spec_from_arg
    from mmcse.training import runs

    out = output_folder(args.out, "--out")
    if args.resume and args.overwrite:
        raise UserError("--resume continues the run in --out and --overwrite replaces it; give one of them")
    if args.resume and flags_ignored_by_resume(args):
        raise UserError(
            f"--resume continues {out} with its saved settings, so {', '.join(flags_ignored_by_resume(args))} "
            "would be ignored: drop them (only --epochs, --device, --threads, --bf16, --stop-after-epochs and "
            "--no-progress apply), or train anew with another --out"
        )
    runs.check_not_locked(out)  # before torch loads (the loop takes the lock itself)
    if not args.overwrite:  # the run folder's files, before torch loads (the loop checks again under its lock)
        runs.check_run_files(out, args.resume)
    if args.resume:
        config_path = out / runs.CONFIG_FILE
        if not config_path.is_file():
            raise FileNotFoundError(f"nothing to resume: {config_path} not found (train without --resume)")
        saved = runs.read_json(config_path)
        model_cfg = ModelConfig.from_dict(saved["model"], str(config_path), "model.")
        train_cfg = TrainConfig.from_dict(saved["train"], str(config_path), "train.")
        if args.epochs is not None:
            done = runs.trained_epochs(out)  # before torch loads (the loop checks again)
            if done is not None and args.epochs < done:
                raise UserError(runs.fewer_epochs(out, done, args.epochs))
            train_cfg = dataclasses.replace(train_cfg, epochs=args.epochs)
        data = DataPaths.from_dict(saved["data"], base=out)
        preset = "from the run folder"
        args.bf16 = args.bf16 or bool(saved.get("bf16", False))
    else:
        spec = feature_spec_from_arg(args.features)
        model_cfg, train_cfg = build_configs(args, spec)
        data = data_paths(args, spec, training=True)
        preset = args.preset or f"paper-{args.model or 'mmcse'}"

    import torch

    from mmcse.training import distributed  # torch: once the arguments are known to be good
    from mmcse.training.loop import train

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.bf16 and args.device != "cuda" and not args.device.startswith("cuda:"):
        from mmcse.utils.device import cpu_has_native_bf16, resolve_device

        if resolve_device(args.device).type == "cpu" and not cpu_has_native_bf16():
            print("warning: --bf16 on a CPU without native bfloat16 (no avx512_bf16 / amx_bf16): torch emulates it, "
                  "many times slower than float32; drop --bf16 here", file=sys.stderr)  # fmt: skip

    main = not distributed.launched_by_torchrun() or os.environ.get("RANK") == "0"
    if main:
        print(
            f"training {model_cfg.arch} on {data.feature_spec.name!r} features -> {out} "
            f"(preset {preset}, "
            f"{train_cfg.epochs} epochs, batch {train_cfg.batch_size}, lr {train_cfg.lr:g}, "
            f"{train_cfg.optimizer}, schedule {train_cfg.schedule}, seed {train_cfg.seed}, "
            f"torch threads {torch.get_num_threads()})"
        )
    try:
        result = train(
            out, data, model_cfg, train_cfg, device=args.device, resume=args.resume,
            stop_after_epochs=args.stop_after_epochs, progress=not args.no_progress, bf16=args.bf16,
            overwrite=args.overwrite,
        )  # fmt: skip
    except KeyboardInterrupt:
        if main:
            kept = (out / runs.STATE_FILE).is_file()
            print("interrupted: " + (f"continue with `python -m mmcse train --out {out} --resume`" if kept
                                     else "no epoch was saved, nothing was kept"), file=sys.stderr)  # fmt: skip
        return 130
    if main and result["best"] is not None:
        best = result["best"]
        print(
            f"done: best val segment Type@AV {best['seg_type']:.2f} at epoch {result['best_epoch']} "
            f"-> {out / runs.BEST_FILE}"
        )
    return 0
