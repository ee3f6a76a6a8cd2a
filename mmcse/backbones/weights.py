"""The weight files each feature set needs, where they are looked for, and loading them safely.

    files_for("han")                      -> [WeightFile(vggish), WeightFile(resnet152), WeightFile(r2plus1d_18)]
    find_weight(WEIGHT_FILES["resnet152"], weights_dir)   -> Path, or one clear error naming the file
    load_state_dict(path, model, file)    -> loads a .pth (torch.load, weights_only) or .safetensors file
                                             after checking every key and shape against ``model``

Files are looked for, in order, in ``--weights DIR``, ``$MMCSE_WEIGHTS`` and the libraries' standard caches
(torch hub's ``$TORCH_HOME/hub/checkpoints``, default ~/.cache/torch/hub/checkpoints; the Hugging Face
hub cache for CLIP). Nothing here downloads unless asked (``python -m mmcse weights --download``), and this
module imports no torch at import time, so listing works on a fresh clone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

WEIGHTS_ENV = "MMCSE_WEIGHTS"


@dataclass(frozen=True)
class WeightFile:
    key: str  # the backbone it belongs to
    filename: str
    url: str
    what: str
    size: str = ""  # as published, where known
    sha256_prefix: str = ""  # torch hub's file-name hash: the first hex digits of the file's SHA-256
    hf_repo: str = ""  # a transformers model: a folder <filename>/ or the Hugging Face cache of this repo
    marker: str = "config.json"  # the file that makes such a folder count as present


WEIGHT_FILES = {
    f.key: f
    for f in (
        WeightFile("vggish", "vggish-10086976.pth",
                   "https://github.com/harritaylor/torchvggish/releases/download/v0.1/vggish-10086976.pth",
                   "VGGish (AudioSet), the TensorFlow release ported to PyTorch by harritaylor/torchvggish",
                   "about 275 MB"),
        WeightFile("resnet152", "resnet152-394f9c45.pth",
                   "https://download.pytorch.org/models/resnet152-394f9c45.pth",
                   "torchvision ResNet-152, ImageNet (IMAGENET1K_V1)", "230.4 MB", "394f9c45"),
        WeightFile("r2plus1d_18", "r2plus1d_18-91a641e6.pth",
                   "https://download.pytorch.org/models/r2plus1d_18-91a641e6.pth",
                   "torchvision R(2+1)D-18, Kinetics-400 (KINETICS400_V1)", "120.3 MB", "91a641e6"),
        WeightFile("clap", "630k-fusion-best.pt",
                   "https://huggingface.co/lukewys/laion_clap/resolve/main/630k-fusion-best.pt",
                   "LAION-CLAP HTSAT fusion, LAION-630k (laion_clap load_ckpt(model_id=2), as VALOR)"),
        WeightFile("clip", "clip-vit-large-patch14",
                   "https://huggingface.co/openai/clip-vit-large-patch14",
                   "OpenAI CLIP ViT-L/14 (Hugging Face transformers format: a folder with config.json, "
                   "model.safetensors and the tokenizer files)", "about 1.7 GB",
                   hf_repo="openai/clip-vit-large-patch14"),
        WeightFile("roberta", "roberta-base", "https://huggingface.co/roberta-base",
                   "RoBERTa-base tokenizer (vocab.json, merges.txt), laion_clap's text tokenizer: only for "
                   "CLAP pseudo labels", hf_repo="roberta-base", marker="vocab.json"),
    )
}  # fmt: skip

FEATURE_SET_WEIGHTS = {
    "han": ("vggish", "resnet152", "r2plus1d_18"),
    "valor": ("clap", "clip", "r2plus1d_18", "roberta"),
}


def files_for(features: str) -> list[WeightFile]:
    if features not in FEATURE_SET_WEIGHTS:
        raise ValueError(f"--features {features!r}: expected one of {', '.join(FEATURE_SET_WEIGHTS)}")
    return [WEIGHT_FILES[k] for k in FEATURE_SET_WEIGHTS[features]]


def torch_hub_checkpoints() -> Path:
    """torch.hub's checkpoint folder, computed as torch.hub.get_dir() does (without importing torch)."""
    cache = os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    return Path(os.path.expanduser(os.environ.get("TORCH_HOME", os.path.join(cache, "torch")))) / "hub" / "checkpoints"


def search_dirs(weights_dir: str | os.PathLike | None = None) -> list[Path]:
    """Where weight files are looked for, in order."""
    dirs = [Path(weights_dir)] if weights_dir else []
    if os.environ.get(WEIGHTS_ENV):
        dirs.append(Path(os.environ[WEIGHTS_ENV]))
    dirs.append(torch_hub_checkpoints())
    return dirs


def locate(file: WeightFile, weights_dir: str | os.PathLike | None = None) -> Path | None:
    """The first existing copy of ``file`` (or of it saved as .safetensors) in ``search_dirs``; a
    transformers model (``file.hf_repo``) is a folder holding its marker file (config.json, or a tokenizer's
    vocab.json), here or in the Hugging Face cache."""
    if file.hf_repo:
        for d in search_dirs(weights_dir)[:-1]:
            if (d / file.filename / file.marker).is_file():
                return d / file.filename
        return _hf_cached(file.hf_repo, file.marker)
    names = [file.filename, Path(file.filename).stem + ".safetensors"]
    for d in search_dirs(weights_dir):
        for name in names:
            if (d / name).exists():
                return d / name
    return None


def _hf_cached(repo: str, marker: str) -> Path | None:
    """The snapshot folder of ``repo`` in the Hugging Face hub cache, when one is there (no network)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(repo, marker)
    return Path(found).parent if isinstance(found, str) else None


def find_weight(file: WeightFile, weights_dir: str | os.PathLike | None = None, features: str = "") -> Path:
    """``locate`` or one clear FileNotFoundError naming the file, where it was looked for and what to run."""
    path = locate(file, weights_dir)
    if path is None:
        where = ", ".join(str(d) for d in search_dirs(weights_dir))
        flag = f" --features {features}" if features else ""
        raise FileNotFoundError(
            f"weights {file.filename} ({file.what}) not found in {where}; put it in one of those folders "
            f"(--weights DIR or ${WEIGHTS_ENV}): `python -m mmcse weights{flag}` lists every file and where it "
            "is published"
        )
    return path


def read_state_dict(path: Path, file: WeightFile) -> dict:
    """The tensors of a .pth (torch.load, weights_only) or .safetensors file; a training checkpoint's
    ``state_dict`` entry; one clear ValueError for a file that is not one."""
    import torch

    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt or foreign file: say which and why, on one line
        raise ValueError(f"weights {path}: cannot read it as a PyTorch state_dict ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0][:160]}); expected {file.filename} ({file.what})") from None  # fmt: skip
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"weights {path}: not a state_dict of tensors; expected {file.filename} ({file.what})")
    return state


def load_state_dict(path: Path, model, file: WeightFile, state: dict | None = None) -> None:
    """Load ``path`` (or ``state``, read from it and converted) into ``model`` (torch.nn.Module) after
    checking its keys and shapes; one clear ValueError for a file that holds another model's weights."""
    if state is None:
        state = read_state_dict(path, file)
    expected = model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in expected if k in state and tuple(state[k].shape) != tuple(expected[k].shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} key(s) missing, e.g. {missing[0]!r}")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected, e.g. {unexpected[0]!r}")
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} of another shape, e.g. {k!r} {tuple(state[k].shape)} instead of "
                         f"{tuple(expected[k].shape)}")  # fmt: skip
        raise ValueError(f"weights {path}: not the weights of {file.what} ({'; '.join(parts)}); "
                         f"expected {file.filename} from {file.url}")  # fmt: skip
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})


HF_FILES = ["config.json", "model.safetensors", "vocab.json", "merges.txt", "tokenizer.json",
            "tokenizer_config.json", "special_tokens_map.json"]  # fmt: skip


def download(file: WeightFile, folder: Path) -> Path:
    """Fetch ``file`` into ``folder`` with its library's own downloader: torch.hub's (checks the SHA-256
    prefix where one is known), or huggingface_hub's snapshot_download for a transformers model folder."""
    if file.hf_repo:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(file.hf_repo, local_dir=str(folder / file.filename), allow_patterns=HF_FILES))
    import torch.hub

    folder.mkdir(parents=True, exist_ok=True)
    dst = folder / file.filename
    torch.hub.download_url_to_file(file.url, str(dst), hash_prefix=file.sha256_prefix or None, progress=True)
    return dst
