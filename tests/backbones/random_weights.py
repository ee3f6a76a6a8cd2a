"""Fill every entry of a state_dict deterministically from its name, so that two implementations of one
architecture (ours and a reference) get the same "random" weights without storing any.

Also used, unchanged, by fixtures/make_fixtures.py in the scratch environment that has the references.
Only numpy's PCG64 generator decides the values, so they do not depend on the torch version.
"""

from __future__ import annotations

import hashlib

import numpy as np


def name_rng(name: str) -> np.random.Generator:
    seed = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "little")
    return np.random.default_rng(seed)


def fill_value(name: str, shape: tuple[int, ...]) -> np.ndarray:
    """The value for state_dict entry ``name``: He-scaled normals for conv / linear weights, BN scales near
    1, small biases and means, variances in [0.5, 1.5] (so the activations stay finite through 50 blocks)."""
    rng = name_rng(name)
    if name.endswith("num_batches_tracked"):
        return np.zeros(shape, np.int64)
    if name.endswith("running_var"):
        return rng.uniform(0.5, 1.5, shape).astype(np.float32)
    if name.endswith(("running_mean", "bias")):
        return (0.1 * rng.standard_normal(shape)).astype(np.float32)
    if len(shape) == 1:  # a norm layer's scale
        return (1.0 + 0.1 * rng.standard_normal(shape)).astype(np.float32)
    fan_in = int(np.prod(shape[1:]))
    return np.asarray(rng.standard_normal(shape) * np.sqrt(1.0 / fan_in), dtype=np.float32)  # () too


COMPUTED = ("relative_position_index", "attn_mask", "position_ids", "token_type_ids")  # index buffers: kept


def fill_state_dict(model, prefix: str = "") -> None:
    """Overwrite every parameter and buffer of ``model`` (a torch.nn.Module) in place, each from its name
    (``prefix`` + key: the name it has in the published checkpoint)."""
    import torch

    state = model.state_dict()
    filled = {k: v if k.endswith(COMPUTED) else torch.from_numpy(fill_value(prefix + k, tuple(v.shape)))
              for k, v in state.items()}  # fmt: skip
    model.load_state_dict(filled)


def seeded_input(shape: tuple[int, ...], seed: int = 12345) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
