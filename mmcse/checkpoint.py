"""Checkpoints: one self-describing ``.safetensors`` file (weights + JSON metadata). The import of the
authors' MM-CSE ``checkpoint_best.pth`` lives beside the model, in mmcse.models.official.

    save_checkpoint(path, model, model_config=..., feature_spec=..., train_config=None, metrics=None, extra=None)
    load_checkpoint(path, device="cpu") -> LoadedCheckpoint   (.model in eval mode, .model_config, ...)
    read_checkpoint_meta(path) -> dict                        (metadata only, no model built)

The metadata is a JSON string stored under the safetensors metadata key ``"mmcse"``. Nothing is ever
unpickled: weights are safetensors; the authors' ``.pth`` is read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmcse import validation
from mmcse.classes import LLP_CLASSES
from mmcse.config import FeatureSpec, ModelConfig, TrainConfig, field_defaults
from mmcse.domain import DomainStats
from mmcse.utils.files import atomic_path

if TYPE_CHECKING:  # torch and the models load when a model is built: reading metadata stays instant
    import torch
    from torch import nn

META_KEY = "mmcse"
TRAIN_STATE_META_KEY = "mmcse_train_state"  # = mmcse.training.state.STATE_META_KEY (not imported: torch-free)
FORMAT = "mmcse-checkpoint"
FORMAT_VERSION = 1


@dataclass
class LoadedCheckpoint:
    model: nn.Module
    model_config: ModelConfig
    feature_spec: FeatureSpec
    train_config: TrainConfig | None
    metrics: dict[str, Any]
    meta: dict[str, Any] = field(default_factory=dict)
    domain: DomainStats | None = None  # the train features' statistics (out-of-domain check), when stored


def _git_revision() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    *,
    model_config: ModelConfig,
    feature_spec: FeatureSpec,
    train_config: TrainConfig | None = None,
    metrics: dict | None = None,
    extra: dict | None = None,
    domain: DomainStats | None = None,
) -> None:
    """Write ``model``'s weights and what built it to ONE .safetensors file (temp file, then rename).
    ``domain``: the train features' statistics for the out-of-domain check (tensors ``domain.*``)."""
    import torch
    from safetensors.torch import save_file

    path = Path(path)
    model = getattr(model, "module", model)  # unwrap DDP
    tensors = {k: t.detach().to("cpu").contiguous() for k, t in model.state_dict().items()}
    n_params = sum(int(t.numel()) for t in tensors.values())
    if domain is not None:
        tensors |= {k: torch.from_numpy(v.astype("float32")) for k, v in domain.to_arrays().items()}
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "arch": model_config.arch,
        "model_config": model_config.to_dict(),
        "feature_spec": feature_spec.to_dict(),
        "train_config": train_config.to_dict() if train_config is not None else None,
        "class_order": list(LLP_CLASSES),
        "seed": train_config.seed if train_config is not None else None,
        "gating": train_config.gating if train_config is not None else "mmcse",
        "metrics": metrics or {},
        "extra": extra or {},
        "git_revision": _git_revision(),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "num_parameters": n_params,
        "domain": domain.to_meta() if domain is not None else None,
    }
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={META_KEY: _meta_json(meta, path)})


def _meta_json(meta: dict[str, Any], path: Path) -> str:
    """The metadata as strict JSON, after the checks a reader makes (a checkpoint we would refuse is never
    written). NaN / inf in metrics or extra (a score of an empty class) are stored as null."""
    meta = {**meta, "metrics": validation.finite_or_null(meta["metrics"])}
    meta["extra"] = validation.finite_or_null(meta["extra"])
    _validate_meta(meta, path)
    return json.dumps(meta, allow_nan=False)


def _validate_meta(meta: dict[str, Any], path: Path) -> None:
    validation.validate_checkpoint_meta(
        meta, f"checkpoint {path}", format_name=FORMAT, max_version=FORMAT_VERSION,
        model_fields=field_defaults(ModelConfig), train_fields=field_defaults(TrainConfig),
    )  # fmt: skip
    if list(meta.get("class_order", LLP_CLASSES)) != list(LLP_CLASSES):
        raise _bad_file(path, "its class order differs from the 25 LLP classes of mmcse.classes")


def _bad_file(path: Path, why: str) -> ValueError:
    return ValueError(
        f"{path}: not a usable mmcse checkpoint ({why}); expected a .safetensors file written by "
        "mmcse (train, or `python -m mmcse import-official` for the authors' .pth); re-create or re-download it"
    )


def read_checkpoint_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata dict of an mmcse checkpoint, read from the safetensors header alone (no torch, no model),
    checked by mmcse.validation: every field's type and range, and that its copies agree."""
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder; give a checkpoint file such as {path / 'best.safetensors'}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint file not found")
    header = _header_metadata(path)
    raw = header.get(META_KEY)
    if raw is None and TRAIN_STATE_META_KEY in header:
        raise ValueError(
            f"{path}: this is a training state (train_state.safetensors), not a model checkpoint; use "
            f"best.safetensors or last.safetensors of the run folder {path.parent}"
        )
    if raw is None:
        raise _bad_file(path, f"safetensors file without the {META_KEY!r} metadata")
    try:
        meta = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise _bad_file(path, f"metadata is not valid JSON: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else meta
        raise _bad_file(path, f"metadata format is {found!r}")
    _validate_meta(meta, path)
    return meta


def _header_metadata(path: Path) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file: 8 bytes little-endian header length, then a JSON header."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else -1
        if n <= 0 or n > min(size - 8, 100_000_000):
            raise _bad_file(path, "no safetensors header (empty, truncated or another kind of file)")
        try:
            header = json.loads(f.read(n))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise _bad_file(path, f"cannot read a safetensors header: {exc}") from None
    if not isinstance(header, dict) or not isinstance(header.get("__metadata__", {}), dict):
        raise _bad_file(path, "cannot read a safetensors header")
    return header.get("__metadata__") or {}


def check_finite_weights(state: dict[str, torch.Tensor], path: str | os.PathLike) -> None:
    """Refuse weights holding NaN or inf (one ValueError naming the first such tensor): such a model gives
    NaN probabilities that score as "no event" everywhere. One isfinite pass per tensor."""
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(tensor.isfinite().all()):
            raise ValueError(
                f"{path}: weight tensor {name} holds NaN / inf; the checkpoint is damaged (re-train or re-download)"
            )


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> LoadedCheckpoint:
    """Build the model a checkpoint describes (any arch, via ``create_model``) and load its weights.
    ``device``: as mmcse.utils.device.resolve_device (auto, cpu, cuda, cuda:N). Weights holding NaN / inf
    are refused (check_finite_weights)."""
    from safetensors.torch import load_file

    from mmcse.models import create_model
    from mmcse.models.weights import load_strict
    from mmcse.utils.device import resolve_device

    dev = resolve_device(device)  # one ValueError for a bad or unavailable device, before any reading
    path = Path(path)
    meta = read_checkpoint_meta(path)  # checked: the configs below are valid
    source = f"checkpoint {path}"
    model_config = ModelConfig.from_dict(meta["model_config"], source, "model_config.")
    feature_spec = FeatureSpec.from_dict(meta["feature_spec"], source, "feature_spec.")
    train = meta.get("train_config")
    train_config = TrainConfig.from_dict(train, source, "train_config.") if train else None
    try:
        state = load_file(str(path), device="cpu")
    except Exception as exc:
        raise _bad_file(path, f"cannot read the weights (truncated or corrupted?): {exc}") from None
    arrays = {k: state.pop(k).float().numpy() for k in [k for k in state if k.startswith("domain.")]}
    domain = DomainStats.from_checkpoint(arrays, meta.get("domain"), source=str(path))
    check_finite_weights(state, path)
    model = create_model(model_config)
    load_strict(model, state, path)
    model.to(dev).eval()
    return LoadedCheckpoint(
        model=model,
        model_config=model_config,
        feature_spec=feature_spec,
        train_config=train_config,
        metrics=dict(meta.get("metrics") or {}),
        meta=meta,
        domain=domain,
    )


def write_with_domain(path: str | os.PathLike, domain: DomainStats, out: str | os.PathLike) -> None:
    """Copy the checkpoint ``path`` to ``out`` (which may be ``path`` itself) with ``domain`` as its
    out-of-domain statistics; weights and every other metadata field stay as they are."""
    import torch
    from safetensors.torch import load_file, save_file

    path = Path(path)
    meta = read_checkpoint_meta(path)
    meta["domain"] = domain.to_meta()
    text = _meta_json(meta, Path(out))  # checked first: a non-finite threshold is refused before any copy
    tensors = {k: v for k, v in load_file(str(path)).items() if not k.startswith("domain.")}
    tensors |= {k: torch.from_numpy(v.astype("float32")) for k, v in domain.to_arrays().items()}
    with atomic_path(out) as tmp:
        save_file(tensors, str(tmp), metadata={META_KEY: text})


def meta_arch(meta: dict) -> str:
    """The architecture a checkpoint's metadata names (model_config.arch; "mmcse" when absent)."""
    return (meta.get("model_config") or {}).get("arch", "mmcse")


def meta_gating(meta: dict) -> str:
    """The gating a checkpoint was trained / selected with (train_config.gating, else gating, else "mmcse")."""
    return (meta.get("train_config") or {}).get("gating") or meta.get("gating") or "mmcse"


class CheckpointMetaView:
    """``arch``, ``gating`` and ``has_class_features`` read from ``self.meta`` (a checkpoint's metadata):
    one reading for the Parser and for what the app knows of a checkpoint without building its model."""

    meta: dict

    @property
    def arch(self) -> str:
        return meta_arch(self.meta)

    @property
    def gating(self) -> str:
        """The gating the checkpoint was trained / selected with (default "mmcse")."""
        return meta_gating(self.meta)

    @property
    def has_class_features(self) -> bool:
        return self.arch == "mmcse"
