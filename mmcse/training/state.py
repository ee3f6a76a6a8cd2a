"""The resume state of a run (train_state.safetensors): optimizer tensors, the LR scheduler's state and
every RNG state, as safetensors tensors plus JSON metadata. No pickle anywhere."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mmcse.training.runs import STATE_META_KEY  # noqa: E402  (the key, torch-free, lives with the run files)
from mmcse.utils.files import atomic_write_bytes

STATE_VERSION = 1


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, JSON-able) holding the torch, CUDA, numpy and Python RNG states."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = state
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors["rng.numpy"] = torch.from_numpy(np.asarray(keys, dtype=np.uint32).astype(np.int64))
    version, internal, gauss_next = random.getstate()
    info = {
        "numpy": {"kind": kind, "pos": int(pos), "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
    }
    return tensors, info


def set_rng_state(tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    cuda = sorted((k for k in tensors if k.startswith("rng.cuda.")), key=lambda k: int(k.rsplit(".", 1)[1]))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda[: torch.cuda.device_count()]])
    n = info["numpy"]
    keys = tensors["rng.numpy"].numpy().astype(np.uint32)
    np.random.set_state((n["kind"], keys, n["pos"], n["has_gauss"], n["cached"]))
    p = info["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))


def optimizer_state(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split ``optimizer.state_dict()`` into tensors (for safetensors) and JSON (param groups, scalars)."""
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, state in sd["state"].items():
        for key, value in state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    groups = [{k: (list(v) if isinstance(v, tuple) else v) for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups, "scalars": scalars}


def load_optimizer_state(
    optimizer: torch.optim.Optimizer, tensors: dict[str, torch.Tensor], info: dict[str, Any]
) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for index, scalars in info["scalars"].items():
        state.setdefault(int(index), {}).update(scalars)
    groups = [{k: (tuple(v) if k == "betas" else v) for k, v in g.items()} for g in info["param_groups"]]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


def scheduler_state(scheduler) -> dict[str, Any]:
    """``scheduler.state_dict()`` as JSON (StepLR / LambdaLR hold numbers and lists only; a LambdaLR's
    function is not stored, it is rebuilt from the config)."""
    sd = scheduler.state_dict()
    return {k: v for k, v in sd.items() if isinstance(v, (int, float, bool, str, list, type(None)))}


def load_scheduler_state(scheduler, info: dict[str, Any]) -> None:
    scheduler.load_state_dict(dict(info))


def save_train_state(
    path: str | Path,
    optimizer: torch.optim.Optimizer,
    progress: dict[str, Any],
    scheduler=None,
    model: torch.nn.Module | None = None,
) -> None:
    """One safetensors file: the model's weights (``model.<name>``), optimizer tensors and RNG tensors;
    JSON metadata with the rest, the scheduler's state and ``progress`` (epoch, best metric, ...). Weights
    and optimizer state of one epoch in one file written atomically: a run killed while it saved its
    checkpoints resumes from this file whatever last.safetensors holds. No pickle anywhere."""
    from safetensors.torch import save

    opt_tensors, opt_info = optimizer_state(optimizer)
    if model is not None:
        opt_tensors.update({f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()})
    rng_tensors, rng_info = rng_state()
    meta = {"version": STATE_VERSION, "optimizer": opt_info, "rng": rng_info, "progress": progress}
    if scheduler is not None:
        meta["scheduler"] = scheduler_state(scheduler)
    atomic_write_bytes(
        path, save({**opt_tensors, **rng_tensors}, metadata={STATE_META_KEY: json.dumps(meta)})
    )


def load_train_state(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """(tensors, metadata dict) of a train_state.safetensors; a clear error for anything else."""
    from safetensors import safe_open

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"no training state at {path}: this run folder cannot be resumed (train anew there with --overwrite)"
        )
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {})[STATE_META_KEY])
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except Exception as exc:  # truncated / not safetensors / missing metadata
        raise ValueError(
            f"{path} is not a readable mmcse training state ({exc}); train anew there with --overwrite"
        ) from None
    if meta.get("version") != STATE_VERSION:
        raise ValueError(f"{path} has training-state version {meta.get('version')}; expected {STATE_VERSION}")
    return tensors, meta




def check_finite_state(tensors: dict[str, torch.Tensor], path: str | Path) -> None:
    """Refuse a training state whose weights or optimizer moments hold NaN / inf (one ValueError naming the
    file and the first such tensor): resuming from it would train a model that predicts nothing."""
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(tensor.isfinite().all()):
            what = "weight tensor " + name.removeprefix("model.") if name.startswith("model.") else f"tensor {name}"
            raise ValueError(
                f"{path}: {what} holds NaN / inf; this training state is damaged and cannot be resumed: "
                "pass --overwrite to train anew there"
            )
