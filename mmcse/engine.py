"""Training and evaluation loops, in one process or under torchrun (DDP). The engine knows models only
through ``create_model`` and the ModelOutput contract, and losses only through ``compute_loss_terms``.

    train("runs/x", DataPaths.from_root("data"), model_cfg, train_cfg)        -> run folder (see mmcse.runs)
    train("runs/x", ..., resume=True)                                          continue from last.safetensors
    evaluate("runs/x/best.safetensors", DataPaths.from_root("data"), "test")   -> the 10 numbers

Recipe per epoch: lr from the schedule (StepLR or linear warm-up + cosine, per epoch), shuffled batches
(seeded by seed + epoch, DistributedSampler under DDP), forward, loss, backward, grad-norm clip, step;
then validation with the 10 AVVP numbers on rank 0; best checkpoint by val segment-level Type@AV.
"""

from __future__ import annotations

import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from mmcse import distributed, runs
from mmcse.config import FeatureSpec, ModelConfig, TrainConfig
from mmcse.data.dataset import LLPSplit
from mmcse.engine_data import DataPaths, to_device
from mmcse.evaluation import collect_probabilities, evaluate, evaluate_report, score
from mmcse.losses import compute_loss_terms, loss_recipe
from mmcse.metrics import SCORE_KEYS

__all__ = [
    "DataPaths",
    "collect_probabilities",
    "evaluate",
    "evaluate_report",
    "learning_rate",
    "score",
    "train",
]

BEST_KEY = "seg_type"  # model selection: val segment-level Type@AV (protocol §4)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW / Adam as configured; the fused kernel (one pass over all parameters: ~4x faster than the
    per-parameter loop on the CPU for MM-CSE) where every parameter is a float tensor on the CPU or a GPU."""
    params = [p for p in model.parameters() if p.requires_grad]
    fused = bool(params) and all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)
    kwargs = dict(lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay, fused=fused or None)
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(params, **kwargs)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, **kwargs)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; expected adamw or adam")


def learning_rate(cfg: TrainConfig, epoch: int) -> float:
    """lr of a 0-based epoch. ``step``: lr * gamma ** (epoch // step_size) (torch StepLR stepped per epoch).
    ``cosine``: linear warm-up lr * (epoch + 1) / warmup_epochs, then half a cosine down to 0."""
    if cfg.schedule == "step":
        return cfg.lr * cfg.gamma ** (epoch // cfg.step_size)
    if cfg.schedule == "cosine":
        if epoch < cfg.warmup_epochs:
            return cfg.lr * (epoch + 1) / cfg.warmup_epochs
        span = max(1, cfg.epochs - cfg.warmup_epochs)
        return 0.5 * cfg.lr * (1.0 + math.cos(math.pi * (epoch - cfg.warmup_epochs) / span))
    raise ValueError(f"unknown schedule {cfg.schedule!r}; expected step or cosine")


# ------------------------------------------------------------------------------------------------ training


def train(
    run_dir: str | Path,
    data: DataPaths,
    model_cfg: ModelConfig,
    train_cfg: TrainConfig,
    device: str = "auto",
    resume: bool = False,
    stop_after_epochs: int | None = None,
    progress: bool = True,
    log=print,
    bf16: bool = False,
) -> dict[str, Any]:
    """Train ``model_cfg`` on ``data`` with ``train_cfg``, writing the run folder ``run_dir``.

    One process, or DDP when launched by torchrun (the process group is created and destroyed here).
    ``resume``: continue from last.safetensors + train_state.safetensors. ``stop_after_epochs``: stop
    after that many epochs of this call (the schedule still spans ``train_cfg.epochs``; used to split a
    run and by the resume test). ``bf16``: forward under bfloat16 autocast (losses and weights float32). Returns {"best_epoch", "best", "last", "epochs_done", "recipe", "model"
    (the trained nn.Module, unwrapped), "run_dir"}; only rank 0's return holds metrics.
    """
    ctx = distributed.setup(device)
    try:
        return _train(
            ctx, Path(run_dir), data, model_cfg, train_cfg, resume, stop_after_epochs, progress, log, bf16
        )
    finally:
        ctx.close()


def _train(ctx, run_dir, data, model_cfg, train_cfg, resume, stop_after_epochs, progress, log, bf16) -> dict:
    from torch.nn.parallel import DistributedDataParallel
    from torch.utils.data.distributed import DistributedSampler

    from mmcse.checkpoint import load_checkpoint
    from mmcse.models import create_model

    say = log if ctx.is_main else (lambda *a, **k: None)
    _check_run_folder(run_dir, resume, model_cfg, train_cfg, data)
    ctx.barrier()  # every rank has looked at the folder before rank 0 writes to it

    seed_everything(train_cfg.seed)
    train_split = LLPSplit.from_paths(data, "train", dense=False)
    # every rank checks the val split; rank 0 scores it
    val_split = LLPSplit.from_paths(data, "val", audio_gt="fixed", dense=True)
    recipe = loss_recipe(model_cfg, train_split.has_pseudo)
    model = create_model(model_cfg).to(ctx.device)
    optimizer = build_optimizer(model, train_cfg)

    start_epoch, best_epoch, best, rows = 0, -1, None, []
    if resume:
        start_epoch, best_epoch, best, rows = _restore(run_dir, model, optimizer, ctx.device, load_checkpoint)
        say(f"resuming {run_dir} after epoch {start_epoch}")
    elif ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        runs.write_json(
            run_dir / runs.CONFIG_FILE,
            {
                "model": model_cfg.to_dict(),
                "train": train_cfg.to_dict(),
                "feature_spec": data.feature_spec.to_dict(),
                "data": data.to_dict(),
                "recipe": recipe,
                "device": str(ctx.device),
                "world_size": ctx.world_size,
                "bf16": bf16,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
        )
    n_params = sum(p.numel() for p in model.parameters())
    say(
        f"{model_cfg.arch}: {n_params / 1e6:.2f} M parameters on {ctx.device} x{ctx.world_size}; "
        f"recipe {recipe!r} ({'VALOR pseudo labels' if recipe == 'pseudo' else 'weak labels only'}); "
        f"{len(train_split)} train clips"
    )

    net: nn.Module = model
    if ctx.distributed:
        unused = _has_unused_parameters(model, train_split, ctx.device, model_cfg)
        if unused:
            say("DDP: some parameters get no gradient in this configuration: find_unused_parameters=True")
        ids = [ctx.device.index] if ctx.device.type == "cuda" else None
        net = DistributedDataParallel(model, device_ids=ids, find_unused_parameters=unused)
    sampler = DistributedSampler(
        range(len(train_split)), num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True, seed=train_cfg.seed
    )
    per_rank_batch = max(1, train_cfg.batch_size // ctx.world_size)
    steps_per_epoch = math.ceil(len(sampler) / per_rank_batch)
    last_epoch = (
        train_cfg.epochs
        if stop_after_epochs is None
        else min(train_cfg.epochs, start_epoch + stop_after_epochs)
    )
    bar = _progress_bar(progress and ctx.is_main, (last_epoch - start_epoch) * steps_per_epoch)

    for epoch in range(start_epoch, last_epoch):
        t0 = time.perf_counter()
        lr = learning_rate(train_cfg, epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        sampler.set_epoch(epoch)
        terms = _train_one_epoch(
            net,
            optimizer,
            train_split,
            list(sampler),
            per_rank_batch,
            model_cfg,
            train_cfg,
            ctx,
            bar,
            epoch,
            bf16,
        )
        row: dict[str, Any] = {"epoch": epoch + 1, "lr": lr, **{f"train_{k}": v for k, v in terms.items()}}
        if ctx.is_main:
            val = score(
                collect_probabilities(model, val_split, ctx.device, train_cfg.batch_size),
                val_split,
                train_cfg.gating,
            )
            row.update({f"val_{k}": val[k] for k in SCORE_KEYS})
            row["seconds"] = round(time.perf_counter() - t0, 3)
            rows.append(row)
            runs.write_metrics(run_dir / runs.METRICS_FILE, rows)
            is_best = best is None or val[BEST_KEY] > best[BEST_KEY]
            if is_best:
                best_epoch, best = epoch + 1, val
            progress_info = {"epoch": epoch + 1, "best_epoch": best_epoch, "best": best}
            extra = {
                "epoch": epoch + 1,
                "recipe": recipe,
                "gating": train_cfg.gating,
                "audio_gt": "fixed",
                "audio_gt_csv": str(val_split.audio_csv),
                "world_size": ctx.world_size,
            }
            if is_best:
                _save(run_dir / runs.BEST_FILE, model, model_cfg, data, train_cfg, val, extra)
            _save(run_dir / runs.LAST_FILE, model, model_cfg, data, train_cfg, val, extra)
            runs.save_train_state(run_dir / runs.STATE_FILE, optimizer, progress_info)
            line = (
                f"epoch {epoch + 1}/{train_cfg.epochs} lr {lr:.2e} loss {terms['loss']:.4f} "
                f"val seg Type@AV {val[BEST_KEY]:.2f} (best {best[BEST_KEY]:.2f} @ {best_epoch})"
            )
            if bar is not None:
                bar.set_postfix(loss=f"{terms['loss']:.4f}", val_type=f"{val[BEST_KEY]:.2f}", refresh=False)
                bar.write(line)
            else:
                say(line)
        ctx.barrier()
    if bar is not None:
        bar.close()
    last = rows[-1] if rows else None
    return {
        "run_dir": run_dir,
        "recipe": recipe,
        "epochs_done": last_epoch,
        "best_epoch": best_epoch,
        "best": best,
        "last": last,
        "model": model,
    }


def _train_one_epoch(
    net, optimizer, split, order, batch_size, model_cfg, train_cfg, ctx, bar, epoch, bf16=False
) -> dict:
    """One pass over ``order``; returns the mean of each loss term over the epoch (all ranks averaged)."""
    net.train()
    sums: dict[str, torch.Tensor] = {}
    steps = 0
    params = [p for p in net.parameters() if p.requires_grad]
    for batch in split.batches(order, batch_size, pin_memory=ctx.device.type == "cuda"):
        batch = to_device(batch, ctx.device)
        with torch.autocast(ctx.device.type, dtype=torch.bfloat16, enabled=bf16):
            output = net(batch["audio"], batch["visual"], batch["visual_st"])
        if bf16:
            output = _as_float32(output)  # losses in float32 (BCE is unsafe under autocast)
        loss, terms = compute_loss_terms(output, batch, model_cfg)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if train_cfg.clip_grad_norm and train_cfg.clip_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, train_cfg.clip_grad_norm)
        optimizer.step()
        for k, v in terms.items():
            sums[k] = sums[k] + v if k in sums else v.clone()
        steps += 1
        if bar is not None:
            bar.update(1)
            if steps % 20 == 1:  # a host sync now and then, not every step
                bar.set_description(f"epoch {epoch + 1}", refresh=False)
                bar.set_postfix(loss=f"{terms['loss'].item():.4f}", refresh=False)
    names = sorted(sums)
    means = torch.stack([sums[k] for k in names]).float() / max(steps, 1)
    if ctx.distributed:
        torch.distributed.all_reduce(means)
        means /= ctx.world_size
    return {
        "loss": float(means[names.index("loss")]),
        **{k: float(v) for k, v in zip(names, means) if k != "loss"},
    }


def _save(path, model, model_cfg, data, train_cfg, val, extra) -> None:
    from mmcse.checkpoint import save_checkpoint

    save_checkpoint(
        path,
        model,
        model_config=model_cfg,
        feature_spec=data.feature_spec,
        train_config=train_cfg,
        metrics={"val": val},
        extra=extra,
    )


def _check_run_folder(run_dir: Path, resume: bool, model_cfg, train_cfg, data) -> None:
    config_path = run_dir / runs.CONFIG_FILE
    if resume:
        if not (run_dir / runs.LAST_FILE).is_file():
            raise FileNotFoundError(
                f"nothing to resume in {run_dir}: no {runs.LAST_FILE} (train without --resume)"
            )
        saved = runs.read_json(config_path)
        if saved["model"] != model_cfg.to_dict():
            raise ValueError(
                f"{config_path} was written for another model config; resume with the same model flags or use a new --out"
            )
        if FeatureSpec.from_dict(saved["data"]["feature_spec"]) != data.feature_spec:
            raise ValueError(f"{config_path} was written for other features; resume with the same --features")
        return
    if (run_dir / runs.LAST_FILE).exists() or (run_dir / runs.METRICS_FILE).exists():
        raise ValueError(
            f"{run_dir} already holds a run; pass --resume to continue it or choose another --out"
        )


def _restore(run_dir: Path, model, optimizer, device, load_checkpoint):
    """Weights, optimizer and RNG state, and the metrics rows of the finished epochs, from a run folder."""
    last = load_checkpoint(run_dir / runs.LAST_FILE, device="cpu")
    model.load_state_dict(last.model.state_dict())
    tensors, meta = runs.load_train_state(run_dir / runs.STATE_FILE)
    progress = meta["progress"]
    epoch = int(progress["epoch"])
    saved_epoch = (last.meta.get("extra") or {}).get("epoch", epoch)
    if int(saved_epoch) != epoch:
        raise ValueError(
            f"{run_dir}: {runs.LAST_FILE} is from epoch {saved_epoch} but {runs.STATE_FILE} from epoch {epoch} "
            "(interrupted while saving?); resume is not possible, train anew"
        )
    runs.load_optimizer_state(optimizer, tensors, meta["optimizer"])
    for state in optimizer.state.values():  # moved to the model's device
        for k, v in state.items():
            if isinstance(v, torch.Tensor) and k != "step":
                state[k] = v.to(device)
    runs.set_rng_state(tensors, meta["rng"])
    rows = [r for r in runs.read_metrics(run_dir / runs.METRICS_FILE) if int(r["epoch"]) <= epoch]
    return epoch, int(progress["best_epoch"]), progress["best"], rows


def _has_unused_parameters(model, split, device, model_cfg) -> bool:
    """Probe one forward/backward (RNG state untouched): does any trainable parameter get no gradient?
    DDP then needs ``find_unused_parameters`` (e.g. some MM-CSE ablations)."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        batch = to_device(split.get_batch(range(min(2, len(split)))), device)
        output = model(batch["audio"], batch["visual"], batch["visual_st"])
        compute_loss_terms(output, batch, model_cfg)[0].backward()
    unused = any(p.requires_grad and p.grad is None for p in model.parameters())
    model.zero_grad(set_to_none=True)
    return unused


def _as_float32(output):
    """A ModelOutput with every floating tensor (incl. attn maps and aux losses) cast to float32."""
    import dataclasses

    def cast(value):
        if isinstance(value, torch.Tensor):
            return value.float()
        if isinstance(value, dict):
            return {k: cast(v) for k, v in value.items()}
        return value

    return dataclasses.replace(
        output, **{f.name: cast(getattr(output, f.name)) for f in dataclasses.fields(output)}
    )


def _progress_bar(enabled: bool, total: int):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="step", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)
