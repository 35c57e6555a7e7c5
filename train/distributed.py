"""Multi-process training through torchrun: process group set-up, DDP wrapping, sync checks."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class DistContext:
    """Where this process sits in the job."""

    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world > 1


def setup(device: str = "cpu") -> DistContext:
    """Join the process group when launched by torchrun (gloo on CPU, nccl on CUDA)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return DistContext(device=torch.device(device))
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda":
        torch.cuda.set_device(local_rank)
        dist.init_process_group("nccl")
        return DistContext(rank, world, torch.device("cuda", local_rank))
    dist.init_process_group("gloo")
    # Share the cores: one process per core avoids oversubscription on small machines.
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", world))))
    return DistContext(rank, world, torch.device("cpu"))


def wrap(module: torch.nn.Module, ctx: DistContext) -> torch.nn.Module:
    """DistributedDataParallel when running multi-process, the module itself otherwise."""
    if not ctx.enabled:
        return module
    from torch.nn.parallel import DistributedDataParallel

    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=ids, find_unused_parameters=True)


def parameter_checksums(module: torch.nn.Module, ctx: DistContext) -> list[float]:
    """Sum of |w| over trainable parameters on every rank (identical when ranks are in sync)."""
    total = torch.tensor([float(sum(p.detach().double().abs().sum() for p in module.parameters() if p.requires_grad))],
                         dtype=torch.float64, device=ctx.device)
    if not ctx.enabled:
        return [total.item()]
    gathered = [torch.zeros_like(total) for _ in range(ctx.world)]
    dist.all_gather(gathered, total)
    return [g.item() for g in gathered]


def average(value: float, ctx: DistContext) -> float:
    """Mean of a scalar across ranks (for logging)."""
    if not ctx.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(t)
    return t.item() / ctx.world


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def teardown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()
