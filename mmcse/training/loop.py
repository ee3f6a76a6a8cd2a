"""The training loop, in one process or under torchrun (DDP), as small methods (audiocraft's solver shape).

    train("runs/x", DataPaths.from_root("data"), model_cfg, train_cfg)   -> run folder (see runs.py)
    train("runs/x", ..., resume=True)                                     continue from last.safetensors

Recipe per epoch: shuffled batches (seeded by seed + epoch, DistributedSampler under DDP), forward, loss,
backward, grad-norm clip, step; the LR scheduler's step (optim.build_scheduler: StepLR or the authors'
warm-up + cosine); then validation with the 10 AVVP numbers on rank 0; the best checkpoint by val
segment-level Type@AV. The loop knows models only
through ``create_model`` and the ModelOutput contract, and losses only through ``compute_loss_terms``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data.distributed import DistributedSampler

from mmcse.checkpoint import load_checkpoint, save_checkpoint
from mmcse.config import FeatureSpec, ModelConfig, TrainConfig
from mmcse.data.dataset import to_device
from mmcse.data.paths import DataPaths
from mmcse.data.splits import open_split
from mmcse.domain import fit_domain
from mmcse.metrics import SCORE_KEYS
from mmcse.models import apply_process_tuning, create_model
from mmcse.training import distributed, runs, state
from mmcse.training.evaluation import collect_probabilities, score
from mmcse.training.losses import compute_loss_terms, loss_recipe
from mmcse.training.optim import build_optimizer, build_scheduler, fast_forward

BEST_KEY = "seg_type"  # model selection: val segment-level Type@AV (protocol §4)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


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
    overwrite: bool = False,
) -> dict[str, Any]:
    """Train ``model_cfg`` on ``data`` with ``train_cfg``, writing the run folder ``run_dir``.

    One process, or DDP when launched by torchrun (the process group is created and destroyed here).
    ``resume``: continue from last.safetensors + train_state.safetensors. ``stop_after_epochs``: stop
    after that many epochs of this call (the schedule still spans ``train_cfg.epochs``; used to split a
    run and by the resume test). ``bf16``: forward under bfloat16 autocast (losses and weights float32).
    ``overwrite``: a new run replaces the run files already in ``run_dir``. The folder is locked while this
    runs (a second writer is refused); a new run that fails before its first epoch is saved is removed.
    Returns {"run_dir", "recipe", "epochs_done", "best_epoch", "best", "last", "model" (the trained
    nn.Module, unwrapped)}; only rank 0's return holds metrics.
    """
    if stop_after_epochs is not None and stop_after_epochs < 1:
        raise ValueError(f"stop_after_epochs is {stop_after_epochs}; give 1 or more (or leave it out)")
    apply_process_tuning()
    run_dir = Path(run_dir)
    created = not run_dir.exists()
    ctx = distributed.setup(device)
    trainer = None
    clean_up = False
    try:
        with runs.run_folder_lock(run_dir) if ctx.is_main else contextlib.nullcontext():
            try:
                if overwrite and not resume and ctx.is_main:
                    for name in runs.existing_run_files(run_dir):
                        (run_dir / name).unlink()
                ctx.barrier()  # every rank sees the folder as rank 0 left it
                trainer = Trainer(ctx, run_dir, data, model_cfg, train_cfg, log=log, bf16=bf16)
                trainer.prepare(resume)
                return trainer.fit(stop_after_epochs, progress)
            except BaseException:
                # a new run that stopped before its first epoch was saved leaves nothing behind
                clean_up = trainer is not None and trainer.wrote_config and not (run_dir / runs.STATE_FILE).exists()
                if clean_up:
                    for name in runs.existing_run_files(run_dir):
                        (run_dir / name).unlink(missing_ok=True)
                raise
    finally:
        if created:  # a folder this call made and left empty (a refused or failed start) goes again
            with contextlib.suppress(OSError):
                run_dir.rmdir()
        ctx.close()


class Trainer:
    """One training run: ``prepare`` (folder, data, model, optimizer, resume), then ``fit`` epoch by
    epoch (``run_epoch`` -> ``run_step`` per batch, ``validate``, ``commit`` the run folder)."""

    def __init__(self, ctx, run_dir: Path, data: DataPaths, model_cfg: ModelConfig, train_cfg: TrainConfig,
                 log=print, bf16: bool = False) -> None:  # fmt: skip
        self.ctx, self.run_dir, self.data = ctx, run_dir, data
        self.model_cfg, self.train_cfg, self.bf16 = model_cfg, train_cfg, bf16
        self.say = log if ctx.is_main else (lambda *a, **k: None)
        self.start_epoch, self.best_epoch, self.best, self.rows = 0, -1, None, []
        self.bar = None
        self.wrote_config = False  # this process started the run folder (removed again if it fails at once)

    # ------------------------------------------------------------------ setup

    def prepare(self, resume: bool) -> None:
        ctx, cfg = self.ctx, self.train_cfg
        check_run_folder(self.run_dir, resume, self.model_cfg, self.data)
        ctx.barrier()  # every rank has looked at the folder before rank 0 writes to it
        seed_everything(cfg.seed)
        self.train_split = open_split(self.data, "train", dense=False)
        if len(self.train_split) == 0:
            raise ValueError(f"the train split ({self.train_split.split_csv}) lists no clips")
        # every rank checks the val split; rank 0 scores it
        self.val_split = open_split(self.data, "val", audio_gt="fixed", dense=True)
        self.recipe = loss_recipe(self.model_cfg, self.train_split.has_pseudo)
        # the train features' statistics, stored in every checkpoint for the out-of-domain check
        self.domain = fit_domain(self.train_split, self.val_split) if ctx.is_main else None
        self.model = create_model(self.model_cfg).to(ctx.device)
        self.optimizer = build_optimizer(self.model, cfg)
        self.scheduler = build_scheduler(self.optimizer, cfg)  # sets the first epoch's lr
        if resume:
            self.restore()
            self.say(f"resuming {self.run_dir} after epoch {self.start_epoch}")
        elif ctx.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            runs.write_json(self.run_dir / runs.CONFIG_FILE, self.run_config())
            self.wrote_config = True
        n_params = sum(p.numel() for p in self.model.parameters())
        self.say(
            f"{self.model_cfg.arch}: {n_params / 1e6:.2f} M parameters on {ctx.device} x{ctx.world_size}; "
            f"recipe {self.recipe!r} ({'VALOR pseudo labels' if self.recipe == 'pseudo' else 'weak labels only'}); "
            f"{len(self.train_split)} train clips"
        )
        self.net = self.wrap_ddp()
        self.sampler = DistributedSampler(
            range(len(self.train_split)), num_replicas=ctx.world_size, rank=ctx.rank, shuffle=True,
            seed=cfg.seed,
        )  # fmt: skip
        self.per_rank_batch = max(1, cfg.batch_size // ctx.world_size)

    def run_config(self) -> dict[str, Any]:
        """What config.json records: every config, the data paths (relative to the run folder), the recipe
        and where it ran."""
        data = self.data.to_dict(relative_to=self.run_dir)
        return {
            "model": self.model_cfg.to_dict(),
            "train": self.train_cfg.to_dict(),
            "feature_spec": data["feature_spec"],
            "data": data,
            "recipe": self.recipe,
            "device": str(self.ctx.device),
            "world_size": self.ctx.world_size,
            "bf16": self.bf16,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }

    def wrap_ddp(self) -> nn.Module:
        if not self.ctx.distributed:
            return self.model
        unused = has_unused_parameters(self.model, self.train_split, self.ctx.device, self.model_cfg)
        if unused:
            self.say("DDP: some parameters get no gradient in this configuration: find_unused_parameters=True")
        ids = [self.ctx.device.index] if self.ctx.device.type == "cuda" else None
        return DistributedDataParallel(self.model, device_ids=ids, find_unused_parameters=unused)

    def restore(self) -> None:
        """Weights, optimizer, scheduler and RNG state, and the metrics rows of the finished epochs, from the
        run folder. A state without a scheduler (older mmcse) gets the schedule recomputed from the epoch."""
        run_dir = self.run_dir

        def load_weights(weights: dict[str, torch.Tensor], file_name: str) -> None:
            # config.json edited after the run was saved: one ValueError naming both files and the first
            # differing tensor (not load_state_dict's RuntimeError)
            own = self.model.state_dict()
            diff = sorted(set(own) ^ set(weights)) or [k for k in own if own[k].shape != weights[k].shape]
            if diff:
                key = diff[0]
                where = (
                    f"{key}: saved {tuple(weights[key].shape)}, config.json's model {tuple(own[key].shape)}"
                    if key in own and key in weights
                    else f"{key} {'only in the saved weights' if key in weights else 'only in config.json model'}"
                )
                raise ValueError(
                    f"{run_dir / runs.CONFIG_FILE} does not match the weights saved in {run_dir / file_name} "
                    f"(edited? first difference {where}); restore config.json or train anew with --overwrite"
                )
            self.model.load_state_dict(weights)

        tensors, meta = state.load_train_state(run_dir / runs.STATE_FILE)
        state.check_finite_state(tensors, run_dir / runs.STATE_FILE)
        progress = meta["progress"]
        epoch = int(progress["epoch"])
        weights = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
        if weights:  # the state's own weights: the same epoch as its optimizer state, whatever last holds
            load_weights(weights, runs.STATE_FILE)
        else:  # a state written before it held the weights: last.safetensors must be of its epoch
            last = load_checkpoint(run_dir / runs.LAST_FILE, device="cpu")
            load_weights(last.model.state_dict(), runs.LAST_FILE)
            saved_epoch = (last.meta.get("extra") or {}).get("epoch", epoch)
            if int(saved_epoch) != epoch:
                raise ValueError(
                    f"{run_dir}: {runs.LAST_FILE} is from epoch {saved_epoch} but {runs.STATE_FILE} from epoch "
                    f"{epoch} (killed while saving); pass --overwrite to train anew there"
                )
        state.load_optimizer_state(self.optimizer, tensors, meta["optimizer"])
        for slot in self.optimizer.state.values():  # moved to the model's device
            for k, v in slot.items():
                if isinstance(v, torch.Tensor) and k != "step":
                    slot[k] = v.to(self.ctx.device)
        if "scheduler" in meta:
            state.load_scheduler_state(self.scheduler, meta["scheduler"])
        else:
            self.say(
                f"warning: {run_dir / runs.STATE_FILE} holds no scheduler state (an older mmcse wrote it); "
                f"the learning rate is recomputed from the epoch ({epoch}) and the schedule in the config"
            )
            for group in self.optimizer.param_groups:  # a fresh schedule, stepped through the finished epochs
                group["lr"] = self.train_cfg.lr
                group.pop("initial_lr", None)
            self.scheduler = build_scheduler(self.optimizer, self.train_cfg)
            fast_forward(self.scheduler, epoch)
        state.set_rng_state(tensors, meta["rng"])
        self.rows = [r for r in runs.read_metrics(run_dir / runs.METRICS_FILE) if int(r["epoch"]) <= epoch]
        self.start_epoch, self.best_epoch, self.best = epoch, int(progress["best_epoch"]), progress["best"]

    # ------------------------------------------------------------------ the loop

    def fit(self, stop_after_epochs: int | None, progress: bool) -> dict[str, Any]:
        cfg = self.train_cfg
        last_epoch = cfg.epochs if stop_after_epochs is None else min(cfg.epochs, self.start_epoch + stop_after_epochs)
        if cfg.epochs < self.start_epoch:  # a resume asked for fewer epochs than the run already has
            raise ValueError(runs.fewer_epochs(self.run_dir, self.start_epoch, cfg.epochs))
        if last_epoch <= self.start_epoch:
            self.say(f"nothing to train: {self.run_dir} has finished all {cfg.epochs} epochs")
        steps_per_epoch = math.ceil(len(self.sampler) / self.per_rank_batch)
        self.bar = progress_bar(progress and self.ctx.is_main, (last_epoch - self.start_epoch) * steps_per_epoch)
        for epoch in range(self.start_epoch, last_epoch):
            t0 = time.perf_counter()
            lr = self.optimizer.param_groups[0]["lr"]  # set by the scheduler
            terms = self.run_epoch(epoch)
            self.scheduler.step()  # after the epoch, as the authors' main_avvp.py
            row: dict[str, Any] = {"epoch": epoch + 1, "lr": lr, **{f"train_{k}": v for k, v in terms.items()}}
            if self.ctx.is_main:
                val = self.validate()
                row.update({f"val_{k}": val[k] for k in SCORE_KEYS})
                row["seconds"] = round(time.perf_counter() - t0, 3)
                with runs.interrupts_deferred():  # an epoch's files are saved whole
                    self.commit(epoch, row, val, lr, terms["loss"])
            self.ctx.barrier()
        if self.bar is not None:
            self.bar.close()
        return {
            "run_dir": self.run_dir, "recipe": self.recipe, "epochs_done": last_epoch,
            "best_epoch": self.best_epoch, "best": self.best, "last": self.rows[-1] if self.rows else None,
            "model": self.model,
        }  # fmt: skip

    def run_epoch(self, epoch: int) -> dict[str, float]:
        """One pass over this rank's shuffled clips; the mean of each loss term (all ranks averaged)."""
        self.net.train()
        self.sampler.set_epoch(epoch)
        sums: dict[str, torch.Tensor] = {}
        steps = 0
        pin = self.ctx.device.type == "cuda"
        for batch in self.train_split.batches(list(self.sampler), self.per_rank_batch, pin_memory=pin):
            terms = self.run_step(to_device(batch, self.ctx.device))
            for k, v in terms.items():
                sums[k] = sums[k] + v if k in sums else v.clone()
            steps += 1
            if self.bar is not None:
                self.bar.update(1)
                if steps % 20 == 1:  # a host sync now and then, not every step
                    self.bar.set_description(f"epoch {epoch + 1}", refresh=False)
                    self.bar.set_postfix(loss=f"{terms['loss'].item():.4f}", refresh=False)
        names = sorted(sums)
        means = torch.stack([sums[k] for k in names]).float() / max(steps, 1)
        if self.ctx.distributed:
            torch.distributed.all_reduce(means)
            means /= self.ctx.world_size
        return {"loss": float(means[names.index("loss")]), **{k: float(v) for k, v in zip(names, means) if k != "loss"}}

    def run_step(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        """Forward, loss, backward, grad-norm clip, optimizer step; the loss terms (detached tensors)."""
        with torch.autocast(self.ctx.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            output = self.net(batch["audio"], batch["visual"], batch["visual_st"])
        if self.bf16:
            output = as_float32(output)  # losses in float32 (BCE is unsafe under autocast)
        loss, terms = compute_loss_terms(output, batch, self.model_cfg)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        clip = self.train_cfg.clip_grad_norm
        if clip and clip > 0:
            torch.nn.utils.clip_grad_norm_([p for p in self.net.parameters() if p.requires_grad], clip)
        self.optimizer.step()
        return terms

    def validate(self) -> dict[str, float]:
        probs = collect_probabilities(self.model, self.val_split, self.ctx.device, self.train_cfg.batch_size)
        return score(probs, self.val_split, self.train_cfg.gating)

    def commit(self, epoch: int, row: dict, val: dict, lr: float, loss: float) -> None:
        """Rank 0 after an epoch: metrics.csv, best/last checkpoints, the resume state, a log line."""
        self.rows.append(row)
        runs.write_metrics(self.run_dir / runs.METRICS_FILE, self.rows)
        is_best = self.best is None or val[BEST_KEY] > self.best[BEST_KEY]
        if is_best:
            self.best_epoch, self.best = epoch + 1, val
        extra = {
            "epoch": epoch + 1, "recipe": self.recipe, "gating": self.train_cfg.gating, "audio_gt": "fixed",
            "audio_gt_csv": self.val_split.audio_csv.name, "world_size": self.ctx.world_size,
            "val_clips": runs.clip_set_id(self.val_split.filenames),
        }  # fmt: skip
        spec = FeatureSpec.from_dict(self.data.to_dict(relative_to=self.run_dir)["feature_spec"])  # no absolute path
        for name in (runs.BEST_FILE, runs.LAST_FILE) if is_best else (runs.LAST_FILE,):
            save_checkpoint(
                self.run_dir / name, self.model, model_config=self.model_cfg, feature_spec=spec,
                train_config=self.train_cfg, metrics={"val": val}, extra=extra, domain=self.domain,
            )  # fmt: skip
        progress_info = {"epoch": epoch + 1, "best_epoch": self.best_epoch, "best": self.best}
        state.save_train_state(self.run_dir / runs.STATE_FILE, self.optimizer, progress_info, self.scheduler,
                               model=self.model)  # fmt: skip
        line = (
            f"epoch {epoch + 1}/{self.train_cfg.epochs} lr {lr:.2e} loss {loss:.4f} "
            f"val seg Type@AV {val[BEST_KEY]:.2f} (best {self.best[BEST_KEY]:.2f} @ {self.best_epoch})"
        )
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.4f}", val_type=f"{val[BEST_KEY]:.2f}", refresh=False)
            self.bar.write(line)
        else:
            self.say(line)


# ------------------------------------------------------------------------------------------------ helpers


def check_run_folder(run_dir: Path, resume: bool, model_cfg: ModelConfig, data: DataPaths) -> None:
    """A new run needs a folder without a run; a resumed one a saved state (runs.check_run_files), the same
    model and features."""
    runs.check_run_files(run_dir, resume)
    if resume:
        config_path = run_dir / runs.CONFIG_FILE
        saved = runs.read_json(config_path)
        # fields added since the run was written get their defaults
        if ModelConfig.from_dict(saved["model"]).to_dict() != model_cfg.to_dict():
            raise ValueError(
                f"{config_path} was written for another model config; resume with the same model flags or use a new --out"
            )
        if DataPaths.from_dict(saved["data"], base=run_dir).feature_spec != data.feature_spec:
            raise ValueError(f"{config_path} was written for other features; resume with the same --features")


def has_unused_parameters(model, split, device, model_cfg) -> bool:
    """Probe one forward/backward (RNG state untouched): does any trainable parameter get no gradient?
    DDP then needs ``find_unused_parameters`` (e.g. some MM-CSE ablations)."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        batch = to_device(split.get_batch(range(min(2, len(split)))), device)
        output = model(batch["audio"], batch["visual"], batch["visual_st"])
        compute_loss_terms(output, batch, model_cfg)[0].backward()
    unused = any(p.requires_grad and p.grad is None for p in model.parameters())
    model.zero_grad(set_to_none=True)
    return unused


def as_float32(output):
    """A ModelOutput with every floating tensor (incl. attn maps and aux losses) cast to float32."""

    def cast(value):
        if isinstance(value, torch.Tensor):
            return value.float()
        if isinstance(value, dict):
            return {k: cast(v) for k, v in value.items()}
        return value

    return dataclasses.replace(output, **{f.name: cast(getattr(output, f.name)) for f in dataclasses.fields(output)})


def progress_bar(enabled: bool, total: int):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="step", file=sys.stderr, dynamic_ncols=True, smoothing=0.1)
