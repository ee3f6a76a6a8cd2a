"""`python -m mmcse bench`: MM-CSE eval-forward / training-step speed, memory, bf16 accuracy, end to end."""

from __future__ import annotations

from pathlib import Path

from mmcse.commands._common import UserError, device_name, int_range, thread_count


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "bench",
        help="time MM-CSE (eval forward, training step, bf16, end to end) against the authors' figures",
        description="Random inputs of the chosen feature preset; medians after warm-up. Timings on a shared "
        "machine are noisy: the load average is printed with them. Like every mmcse command it runs with the tuned "
        "CPU allocator (MMCSE_TUNE_ALLOCATOR=0 to time glibc's defaults).",
    )
    p.add_argument(
        "--features", choices=("valor", "han"), default="valor", help="input preset (default valor)"
    )
    p.add_argument("--checkpoint", type=Path, default=None, help="time this checkpoint's model instead")
    p.add_argument("--device", type=device_name, default="auto")
    p.add_argument("--batch", type=int_range(1, 4096), default=64)
    p.add_argument("--iters", type=int_range(1, 10_000), default=10,
                   help="timed iterations (training: half, at least 3)")  # fmt: skip
    p.add_argument("--warmup", type=int_range(0, 1_000), default=2)
    p.add_argument("--threads", type=thread_count, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--bf16", action="store_true", help="also time bf16 autocast and report its max abs error")
    p.add_argument("--no-train", action="store_true", help="skip the training step")
    p.add_argument("--e2e", action="store_true", help="also time 1,200 clips -> predictions -> AVVP scores")
    p.set_defaults(func=run)


def run(args) -> int:
    import torch

    from mmcse.benchmarks.model import format_report, run_benchmark

    if args.batch < 1 or args.iters < 1:
        raise UserError("--batch and --iters must be at least 1")
    if args.threads:
        torch.set_num_threads(args.threads)
    model = cfg = None
    features = args.features
    if args.checkpoint is not None:
        from mmcse.checkpoint import load_checkpoint

        loaded = load_checkpoint(args.checkpoint)
        if loaded.model_config.arch != "mmcse":
            raise UserError(
                f"{args.checkpoint}: bench times MM-CSE; this checkpoint is {loaded.model_config.arch}"
            )
        model, cfg, features = loaded.model, loaded.model_config, loaded.feature_spec.name
    result = run_benchmark(
        features=features,
        batch=args.batch,
        iters=args.iters,
        warmup=args.warmup,
        device=args.device,
        bf16=args.bf16,
        train=not args.no_train,
        e2e=args.e2e,
        model=model,
        cfg=cfg,
    )
    print(format_report(result))
    return 0
