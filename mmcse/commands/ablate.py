"""`python -m mmcse ablate`: the ablation table in one command, over several seeds, resumable.

    python -m mmcse ablate --data-root data/llp --features valor --rows full,no-cafd,no-secm --seeds 3 --out runs/ablation
    python -m mmcse ablate --data-root data/llp --features valor --models mmcse,han,valor --seeds 3 --out runs/models
    python -m mmcse ablate ... --nproc-per-node 2            (each run under torchrun, DDP)
    python -m mmcse ablate --list-rows

Every (row, seed) is a normal run folder <out>/<row>/seed<S> (train's own files, plus test_scores.json),
trained with TrainConfig.seed = S (S = --seed, --seed + 1, ...: the same seeds for every row). The same
command again continues an interrupted sweep: finished runs are not retrained, an interrupted run resumes
from its last saved epoch; rows and seeds may be added, other changes are refused (<out>/sweep.json).
Each run's best-val checkpoint is scored on test (gating: the run's own, as train sets it). Written after
every run: <out>/table.md and <out>/table.csv, per row the 10 numbers as mean ± std over seeds, the delta
of the mean to the `full` row (else the first row) and the number of seeds.

Rows are MM-CSE rows named after train's ablation flags; --models adds a row per baseline (han, valor),
trained with its paper preset unless --preset is given (then every row uses that preset's recipe).
"""

from __future__ import annotations

import argparse

from mmcse.commands._common import (
    UserError,
    add_data_arguments,
    device_name,
    int_range,
    output_folder,
    positive_int,
)
from mmcse.validation import FLAG_FIELDS, flag_type

# MM-CSE rows: the train flags that make each one, and what it means
ROWS: dict[str, tuple[tuple[str, ...], str]] = {
    "full": ((), "the full model"),
    "no-cafd": (("--no-cafd",), "no class-aware decoupling (holistic feature copied to every class)"),
    "no-background": (("--no-background",), "no background slot (no L_ort, no fusion)"),
    "no-dynamic-fusion": (("--no-dynamic-fusion",), "fusion weight alpha fixed to 0.5"),
    "no-secm": (("--no-secm",), "no semantic co-occurrence attention"),
    "no-lgsf": (("--no-lgsf",), "no local-global semantic fusion"),
    "intra-only": (("--intra-only",), "FGSE intra-modal branch only"),
    "cross-only": (("--cross-only",), "FGSE cross-modal branch only"),
    "no-ec": (("--w-ec", "0"), "no L_ec (w_ec 0)"),
    "no-rec": (("--w-rec", "0"), "no L_rec (w_rec 0)"),
    "no-ort": (("--w-ort", "0"), "no L_ort (w_ort 0)"),
}
MODELS = ("mmcse", "han", "valor")
MAX_NPROC = 64  # torchrun processes per run, all started at once (one per GPU as a rule)
MMCSE_ONLY = ("--d-class", "--w-ec", "--w-rec", "--w-ort")  # not passed to the baselines' rows
# train options forwarded verbatim to every run (flag, argparse keyword arguments)
FORWARDED = (
    ("--preset", {"help": "paper-mmcse | paper-han | paper-valor | small (default: paper-<model> per row)"}),
    ("--epochs", {"type": flag_type(FLAG_FIELDS["--epochs"])}),
    ("--batch-size", {"type": flag_type(FLAG_FIELDS["--batch-size"])}),
    ("--lr", {"type": flag_type(FLAG_FIELDS["--lr"])}),
    ("--weight-decay", {"type": flag_type(FLAG_FIELDS["--weight-decay"])}),
    ("--optimizer", {"choices": ("adamw", "adam")}),
    ("--schedule", {"choices": ("step", "cosine")}),
    ("--warmup-epochs", {"type": flag_type(FLAG_FIELDS["--warmup-epochs"])}),
    ("--lr-min", {"type": flag_type(FLAG_FIELDS["--lr-min"])}),
    ("--clip-grad-norm", {"type": flag_type(FLAG_FIELDS["--clip-grad-norm"])}),
    ("--gating", {"choices": ("mmcse", "fused", "modality"), "help": "gating (default: each model's own)"}),
    ("--layers", {"type": flag_type(FLAG_FIELDS["--layers"])}),
    ("--heads", {"type": flag_type(FLAG_FIELDS["--heads"])}),
    ("--d-model", {"type": flag_type(FLAG_FIELDS["--d-model"])}),
    ("--d-class", {"type": flag_type(FLAG_FIELDS["--d-class"]), "help": "class-wise feature width (MM-CSE rows only)"}),
    ("--dropout", {"type": flag_type(FLAG_FIELDS["--dropout"])}),
    # loss weights of every MM-CSE row; a row that sets one itself (no-ec is --w-ec 0) keeps its own
    ("--w-ec", {"type": flag_type(FLAG_FIELDS["--w-ec"]), "help": "weight of L_ec (MM-CSE rows; the no-ec row keeps 0)"}),
    ("--w-rec", {"type": flag_type(FLAG_FIELDS["--w-rec"]), "help": "weight of L_rec (MM-CSE rows; the no-rec row keeps 0)"}),
    ("--w-ort", {"type": flag_type(FLAG_FIELDS["--w-ort"]), "help": "weight of L_ort (MM-CSE rows; the no-ort row keeps 0)"}),
)
DATA_FLAGS = ("--data-root", "--feature-root", "--audio-csv", "--visual-csv", "--train-csv", "--val-csv",
              "--pseudo-audio", "--pseudo-visual", "--no-pseudo")  # fmt: skip


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "ablate",
        help="the ablation table in one command: rows x seeds, resumable, mean ± std",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_data_arguments(p, training=True)
    p.add_argument(
        "--features", default="valor", help="feature preset or .json/.toml spec file (default valor)"
    )
    p.add_argument("--rows", help=f"comma-separated MM-CSE rows (default full): {', '.join(ROWS)}")
    p.add_argument("--models", default="mmcse", help="comma-separated: mmcse (the --rows), han, valor")
    p.add_argument("--seeds", type=seed_count, default=3, help="seeds per row (default 3, at most 100)")
    p.add_argument(
        "--seed", type=flag_type("seed"), default=87, help="first seed; row runs use seed, seed+1, ... (default 87)"
    )
    p.add_argument("--out", help="sweep folder (run folders, sweep.json, table.md, table.csv)")
    p.add_argument("--nproc-per-node", type=int_range(1, MAX_NPROC),
                   help="train each run under torchrun with N processes")  # fmt: skip
    p.add_argument("--device", type=device_name, default="auto", help="auto | cpu | cuda (training and evaluation)")
    p.add_argument("--verbose", action="store_true", help="show the per-epoch lines of every run")
    p.add_argument("--list-rows", action="store_true", help="print the rows and what they change, then exit")
    t = p.add_argument_group("recipe (forwarded to every run's train; default: the preset's)")
    for flag, kwargs in FORWARDED:
        t.add_argument(flag, **kwargs)
    p.set_defaults(func=run)


def selected_rows(args) -> list[str]:
    """MM-CSE rows of --rows (when --models has mmcse) followed by the baselines of --models."""
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise UserError(f"--models {args.models!r}: expected a comma-separated list of {', '.join(MODELS)}")
    if args.rows and "mmcse" not in models:
        raise UserError("--rows are MM-CSE rows; add mmcse to --models (or leave out --rows)")
    rows = [r.strip() for r in (args.rows or "full").split(",") if r.strip()] if "mmcse" in models else []
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        raise UserError(
            f"unknown row {unknown[0]!r}; expected rows from: {', '.join(ROWS)} (see --list-rows)"
        )
    rows += [m for m in models if m != "mmcse"]
    if len(set(rows)) != len(rows):
        raise UserError(f"rows {rows} name a row twice; give each once")
    return rows


def seed_count(text: str) -> int:
    """argparse type: seeds per row, 1 to 100."""
    value = positive_int(text)
    if value > 100:
        raise argparse.ArgumentTypeError(f"{value} is above 100; give 1 to 100 seeds per row")
    return value


def train_argv(args, row: str, seed: int, run_dir) -> list[str]:
    """The `python -m mmcse train` arguments of one run (also parsed in-process for its configs)."""
    model, row_flags = (row, ()) if row in MODELS else ("mmcse", ROWS[row][0])
    argv = ["train", "--features", args.features, "--model", model, *row_flags, "--seed", str(seed)]
    argv += ["--out", str(run_dir), "--device", args.device, "--no-progress"]
    for flag in (*DATA_FLAGS, *(f for f, _ in FORWARDED)):
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is None or value is False or (model != "mmcse" and flag in MMCSE_ONLY) or flag in row_flags:
            continue
        argv += [flag] if value is True else [flag, str(value)]
    return argv


def parse_train_argv(argv: list[str]) -> argparse.Namespace:
    from mmcse.commands import train

    parser = argparse.ArgumentParser(prog="python -m mmcse")
    train.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


def plan(args, spec):
    """(the sweep's runs, each run's train argv, the DataPaths they train on)."""
    from pathlib import Path

    from mmcse.commands import train
    from mmcse.commands._common import data_paths
    from mmcse.training.ablation import plan_sweep

    if args.seeds < 1:
        raise UserError(f"--seeds {args.seeds}: give at least 1")
    rows, seeds, out = selected_rows(args), [args.seed + i for i in range(args.seeds)], Path(args.out)
    row_configs, argvs, data = {}, {}, None
    for row in rows:
        for seed in seeds:
            argvs[row, seed] = train_argv(args, row, seed, out / row / f"seed{seed}")
        ns = parse_train_argv(argvs[row, seeds[0]])
        row_configs[row] = train.build_configs(ns, spec)
        data = data or data_paths(ns, spec, training=True)
    return plan_sweep(out, row_configs, seeds), argvs, data


def show_once(show):
    """A warnings.showwarning that passes each distinct message to ``show`` once (the runs of a sweep share
    their test split, so its out-of-domain warning would otherwise come once per run)."""
    shown: set[str] = set()

    def show_warning(message, category, *args, **kwargs):
        if str(message) not in shown:
            shown.add(str(message))
            show(message, category, *args, **kwargs)

    return show_warning


def run(args) -> int:
    import sys
    import warnings
    from pathlib import Path

    from mmcse.feature_specs import feature_spec_from_arg
    from mmcse.training import ablation

    if args.list_rows:
        for name, (flags, what) in ROWS.items():
            print(f"{name:18s} {' '.join(flags) or '(no flag)':22s} {what}")
        print(f"{'han, valor':18s} {'--models':22s} the baselines (paper-han / paper-valor unless --preset)")
        return 0
    if not args.out:
        raise UserError("give --out, the sweep folder")
    output_folder(args.out, "--out")
    if args.nproc_per_node is not None and args.nproc_per_node < 1:
        raise UserError(f"--nproc-per-node {args.nproc_per_node}: give at least 1")
    spec = feature_spec_from_arg(args.features)
    sweep_runs, argvs, data = plan(args, spec)
    record = ablation.sweep_record(
        sweep_runs, features=spec.to_dict(), preset=args.preset, data=resolved_data(data),
        nproc_per_node=args.nproc_per_node or 1, eval={"split": "test", "checkpoint": "best", "audio_gt": "fixed"},
    )  # fmt: skip
    ablation.check_sweep_record(args.out, record)
    if args.nproc_per_node:
        launch = torchrun_launcher(args.nproc_per_node, argvs, args.verbose)
    else:
        launch = in_process_launcher(data, args.device, args.verbose)

    def evaluate_run(run):
        from mmcse.training.evaluation import evaluate_report  # torch: only once there is a run to score

        return ablation.cached_test_scores(
            run, lambda ck: evaluate_report(ck, data, "test", device=args.device)
        )

    print(
        f"sweep {args.out}: rows {', '.join(record['rows'])}; seeds {record['seeds']}; {len(sweep_runs)} runs"
    )
    try:
        with warnings.catch_warnings():  # every run of a sweep scores the same test clips: say each once
            warnings.showwarning = show_once(warnings.showwarning)
            ablation.run_sweep(sweep_runs, launch, evaluate_run, args.out)
    except KeyboardInterrupt:
        print(f"interrupted: run the same command again to continue the sweep in {args.out}", file=sys.stderr)
        return 130
    print(f"\n{(Path(args.out) / ablation.TABLE_MD).read_text()}")
    print(f"wrote {args.out}/{ablation.TABLE_MD} and {args.out}/{ablation.TABLE_CSV}")
    return 0


def resolved_data(data) -> dict:
    """DataPaths as a dict with absolute paths, so that a sweep continued from another folder compares equal."""
    from pathlib import Path

    d = data.to_dict()
    for key in ("llp_dir", "feature_root", "audio_csv", "visual_csv"):
        if d[key] is not None:
            d[key] = str(Path(d[key]).resolve())
    d["split_csvs"] = {k: str(Path(v).resolve()) for k, v in d["split_csvs"].items()}
    return d


def in_process_launcher(data, device: str, verbose: bool):
    from mmcse.training.loop import train

    def launch(run, resume: bool) -> None:
        log = print if verbose else (lambda *a, **k: None)
        train(run.run_dir, data, run.model_cfg, run.train_cfg, device=device, resume=resume, progress=False,
              log=log)  # fmt: skip

    return launch


def torchrun_launcher(nproc: int, argvs: dict, verbose: bool):
    """Each run as `python -m torch.distributed.run --standalone --nproc_per_node N -m mmcse train ...`,
    with this process's mmcse first on PYTHONPATH; its output goes to <run>/train.log (or the terminal
    with --verbose)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import mmcse

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(mmcse.__file__).resolve().parents[1]),
                                                      env.get("PYTHONPATH")]))  # fmt: skip

    def launch(run, resume: bool) -> None:
        # a resumed run reads its settings from its folder: only the flags that apply to a resume
        argv = argvs[run.row, run.seed]
        if resume:
            argv = ["train", "--out", str(run.run_dir), "--resume", "--no-progress", *argv[argv.index("--device"):][:2]]
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc),
               "-m", "mmcse", *argv]  # fmt: skip
        run.run_dir.mkdir(parents=True, exist_ok=True)
        log_path = run.run_dir / "train.log"
        with open(log_path, "a") as log_file:
            sink = None if verbose else log_file
            proc = subprocess.run(cmd, env=env, stdout=sink, stderr=subprocess.STDOUT if sink else None)
        if proc.returncode != 0:
            tail = log_path.read_text().strip().splitlines()[-1:] if not verbose else []
            raise UserError(
                f"{run.label}: torchrun exited with status {proc.returncode}"
                + (f"; last line of {log_path}: {tail[0]}" if tail else "")
            )

    return launch
