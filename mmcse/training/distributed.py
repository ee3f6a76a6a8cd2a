"""One process or DDP under ``torchrun``: device choice, process group, rank-0-only side effects.

``torchrun --nproc_per_node N -m mmcse train ...`` sets RANK / WORLD_SIZE / LOCAL_RANK; then the process
group is initialised (gloo on CPU, NCCL on GPU), each rank takes GPU ``LOCAL_RANK`` when on CUDA, and only
rank 0 writes files and shows progress.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from mmcse.utils.device import resolve_device


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    initialised_here: bool = False  # we created the process group, so we destroy it

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.distributed:
            if self.device.type == "cuda":
                dist.barrier(device_ids=[self.device.index])
            else:
                dist.barrier()

    def close(self) -> None:
        if self.initialised_here and dist.is_initialized():
            dist.destroy_process_group()
            self.initialised_here = False


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ


def setup(device: str = "auto") -> DistContext:
    """The process's rank and device; initialises the process group under torchrun (WORLD_SIZE > 1)."""
    if not launched_by_torchrun():
        return DistContext(device=resolve_device(device))
    rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    base = resolve_device(device)
    if base.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ValueError(
                f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} GPU(s): lower --nproc_per_node"
            )
        dev = torch.device("cuda", local_rank)
        torch.cuda.set_device(dev)
        backend = "nccl"
    else:
        dev, backend = torch.device("cpu"), "gloo"
    created = False
    if not dist.is_initialized():
        if backend == "nccl":
            dist.init_process_group(backend, rank=rank, world_size=world, device_id=dev)
        else:
            dist.init_process_group(backend, rank=rank, world_size=world)
        created = True
    return DistContext(
        rank=rank, world_size=world, local_rank=local_rank, device=dev, initialised_here=created
    )
