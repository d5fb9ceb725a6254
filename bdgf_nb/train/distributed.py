"""Data-parallel training with torch.distributed (DDP); device choice lives in `bdgf_nb.device`.

One process per device, each holding the whole model and a shard of every batch; gradients are
averaged across processes after each backward. `pretrain` and `train_classifier` use the helpers
below and behave exactly as before in a single process (every helper is then a no-op):

    torchrun --standalone --nproc_per_node=2 -m bdgf_nb.cli.torchrun pretrain --dataset synthetic --quick

How a loop stays equal to its single-process run with the same global batch (docs/DISTRIBUTED.md):
- every rank builds the same model (same seed; DDP also broadcasts rank 0's weights), draws the
  same epoch permutation and the same per-batch random tensors (masks, timesteps, noise) for the
  GLOBAL batch from the same generator, and keeps rows `rank::world_size` of each (`shard`);
- each rank's loss is scaled so that DDP's gradient mean equals the gradient of the global-batch
  loss (`batch_weight`); metrics are summed across ranks (`all_reduce_sum`) before they are
  logged or fed to the adaptive masker, so every rank takes identical decisions;
- only rank 0 shows progress bars and writes checkpoints; the others wait at a barrier.

Backends: nccl when CUDA is available, gloo otherwise.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from bdgf_nb.errors import ConfigError, expect


def is_distributed() -> bool:
    """True inside an initialised process group of more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main() -> bool:
    """Rank 0 (or the only process): the one that logs and writes files."""
    return rank() == 0


def init_from_env(backend: str | None = None) -> bool:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR,
    MASTER_PORT in the environment); returns whether this process is now distributed.

    No-op (returns False) without WORLD_SIZE or with WORLD_SIZE=1, and when already initialised.
    backend None: nccl with CUDA, gloo otherwise. With CUDA each rank uses GPU LOCAL_RANK."""
    if dist.is_available() and dist.is_initialized():
        return is_distributed()
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return False
    expect(dist.is_available(), ConfigError, "WORLD_SIZE > 1 but this torch build has no torch.distributed")
    for name in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        expect(name in os.environ, ConfigError, f"WORLD_SIZE={world} but {name} is not set: launch with torchrun")
    cuda = torch.cuda.is_available()
    if cuda:
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]) % torch.cuda.device_count())
    dist.init_process_group(backend or ("nccl" if cuda else "gloo"))
    return True


def cleanup() -> None:
    """Leave the process group (end of a torchrun script)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def barrier() -> None:
    if is_distributed():
        dist.barrier()


def shard() -> slice:
    """The rows of a global batch this rank computes: `rank::world_size` (all rows alone)."""
    return slice(rank(), None, world_size())


def usable(batch_size: int) -> bool:
    """Whether a global batch gives every rank at least one row. Under DDP the loops skip the
    rare final batch smaller than the world size (an empty shard would give a NaN loss)."""
    return batch_size >= world_size()


def batch_weight(shard_size: int, batch_size: int) -> float:
    """Factor for a rank's mean-over-its-rows loss so that DDP's gradient mean over ranks is the
    gradient of the mean over the global batch: world_size * shard_size / batch_size (1 alone)."""
    return world_size() * shard_size / batch_size


def all_reduce_sum(x: torch.Tensor) -> torch.Tensor:
    """Sum of `x` over ranks (a new tensor; `x` itself alone)."""
    if not is_distributed():
        return x
    out = x.detach().clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out


def wrap(model: nn.Module, find_unused: bool = False) -> nn.Module:
    """DistributedDataParallel around `model` (already on its device) under DDP, else `model`.
    Train through the wrapper; read and save weights through `model` itself.

    find_unused: let DDP skip parameters a forward did not use (costs a graph walk per step).
    On CUDA, BatchNorm layers become SyncBatchNorm (in place: statistics over the global batch);
    on CPU SyncBatchNorm is unsupported and each rank normalises with its shard's statistics."""
    if not is_distributed():
        return model
    device = next(model.parameters()).device
    if device.type == "cuda":
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=find_unused
    )


@contextlib.contextmanager
def process_group() -> Iterator[bool]:
    """`with process_group() as distributed:` init from the environment, always clean up."""
    try:
        yield init_from_env()
    finally:
        cleanup()
