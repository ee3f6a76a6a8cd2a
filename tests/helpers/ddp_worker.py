"""Run by tests/test_ddp.py under ``python -m torch.distributed.run --nproc_per_node 2``: train a tiny
model with DDP (gloo, CPU) and write, per rank, a hash of the final weights and the files this rank wrote.

    python -m torch.distributed.run --standalone --nproc_per_node 2 tests/helpers/ddp_worker.py CONFIG.json
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from mmcse.config import FeatureSpec, ModelConfig, TrainConfig
from mmcse.data.paths import DataPaths
from mmcse.training import loop, runs, state
from mmcse.training.loop import train


def weights_hash(state_dict) -> str:
    h = hashlib.sha256()
    for name, tensor in sorted(state_dict.items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def main(config_path: str) -> None:
    job = json.loads(Path(config_path).read_text())
    rank = int(os.environ["RANK"])
    writes: list[str] = []
    # record every file write the engine makes through the run-folder and checkpoint writers
    atomic_write, save_checkpoint = runs.atomic_write_bytes, loop.save_checkpoint
    runs.atomic_write_bytes = lambda path, data: (writes.append(Path(path).name), atomic_write(path, data))[1]
    state.atomic_write_bytes = runs.atomic_write_bytes
    loop.save_checkpoint = lambda path, *a, **k: (
        writes.append(Path(path).name),
        save_checkpoint(path, *a, **k),
    )[1]

    spec = FeatureSpec.from_dict(job["spec"])
    data = DataPaths.from_root(job["data_root"], spec)
    result = train(
        job["run_dir"],
        data,
        ModelConfig.from_dict(job["model"]),
        TrainConfig.from_dict(job["train"]),
        device="cpu",
        progress=True,
    )
    report = {"rank": rank, "hash": weights_hash(result["model"].state_dict()), "writes": writes}
    Path(job["report_dir"], f"rank{rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(sys.argv[1])
