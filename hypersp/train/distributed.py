"""torch.distributed plumbing for the trainer, and the seeding that makes runs reproducible.

One code path for one process and for N ranks: ``init_distributed`` reads the environment that
``torchrun`` sets (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``) and
initialises the default process group (NCCL on GPU, gloo on CPU). Without those variables it
returns a world of one and nothing is initialised.

Reproducibility (exact resume, rank-count-independent results):

* every *item* read by the training DataLoader is produced under a seed derived from
  ``(seed, epoch, index)`` (``seeded_loader``), so feature dither and waveform augmentation do
  not depend on which worker read it, on how many workers there are, or on whether the run was
  resumed;
* every *micro-batch* step is run under a seed derived from ``(seed, step, micro)`` where
  ``micro = rank * accumulate_grad + k`` (``seed_step``), so SpecAugment masks and dropout are
  the same for a resumed run, and N ranks with accumulation A see exactly the masks one process
  with accumulation N x A would.
"""
from __future__ import annotations

import hashlib
import logging
import os
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, List, Sequence

import numpy as np
from hypersp.config import ConfigError
import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def launched_by_torchrun() -> bool:
    return "RANK" in os.environ and "WORLD_SIZE" in os.environ


def pick_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> ``cuda:LOCAL_RANK`` when CUDA is available, else ``cpu``."""
    if name == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"trainer.device={name} but CUDA is not available; use trainer.device=cpu")
    if name == "cuda":
        return torch.device(f"cuda:{local_rank}")
    return torch.device(name)


def init_distributed(device_name: str = "auto", timeout_minutes: float = 30.0) -> DistInfo:
    """Initialise the process group from torchrun's environment (or a world of one)."""
    if not launched_by_torchrun() or int(os.environ["WORLD_SIZE"]) <= 1:
        return DistInfo(device=pick_device(device_name))
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    device = pick_device(device_name, local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=timedelta(minutes=timeout_minutes))
    return DistInfo(rank, world_size, local_rank, device)


def cleanup(wait_for_peers: bool = True) -> None:
    """Tear the process group down.

    After a normal finish every rank first waits until every rank got here (a gloo barrier), then until
    every rank has *left* that barrier (a count in the rendezvous store, which is not gloo): a rank that
    destroys its gloo context while a peer still finishes the barrier can make that peer abort
    ("terminate called without an active exception"; pytorch/gloo#155). After an error, don't wait
    (the peers may never arrive)."""
    if dist.is_available() and dist.is_initialized():
        if wait_for_peers:
            dist.barrier()
            _all_left_the_barrier()
        dist.destroy_process_group()


def _all_left_the_barrier(timeout_s: float = 60.0) -> None:
    """Count this rank in the store and wait (polling, up to ``timeout_s``) until all ranks are counted.

    The key carries torchrun's restart count, and the target is rounded up to whole worlds, so a store
    that outlives an attempt (the agent's) never satisfies a later one early. Best effort: when the store
    is gone (a rank 0 that hosted it and already left, having seen every rank counted), go on."""
    import time

    world = dist.get_world_size()
    key = f"hypersp/finished/{os.environ.get('TORCHELASTIC_RESTART_COUNT', '0')}"
    try:
        store = dist.distributed_c10d._get_default_store()
        target = -(-store.add(key, 1) // world) * world
        deadline = time.monotonic() + timeout_s
        while store.add(key, 0) < target:
            if time.monotonic() > deadline:
                log.warning("not every rank confirmed the end of training within %.0f s; tearing down anyway", timeout_s)
                return
            time.sleep(0.005)
    except Exception as err:  # noqa: BLE001 - teardown: the gloo barrier above already passed
        log.info("the rendezvous store is gone before the last rank confirmed (%s); tearing down", err)


def all_reduce_sum(values: Sequence[float], info: DistInfo) -> List[float]:
    """Element-wise sum of a list of floats over ranks (identity in a world of one)."""
    if not info.distributed:
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=info.device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def all_gather_objects(obj: Any, info: DistInfo) -> List[Any]:
    """Every rank's ``obj`` (picklable), in rank order."""
    if not info.distributed:
        return [obj]
    out: List[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def barrier(info: DistInfo) -> None:
    if info.distributed:
        dist.barrier()


# ---- seeding ------------------------------------------------------------------------------------
def derive_seed(*parts: int) -> int:
    """A well-mixed 63-bit seed from integers (stable across Python processes, unlike ``hash``)."""
    digest = hashlib.blake2b(":".join(str(int(p)) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def seed_all(seed: int) -> None:
    """Seed torch (CPU and every CUDA device), numpy and python ``random``."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def seed_step(seed: int, step: int, micro: int) -> None:
    """Seed before the augmentation/forward of micro-batch ``micro`` of optimizer step ``step``."""
    seed_all(derive_seed(seed, 1, step, micro))


# ---- data ---------------------------------------------------------------------------------------
class SeededItems(torch.utils.data.Dataset):
    """Wraps a map-style dataset; item ``(epoch, index)`` is read under seed (seed, epoch, index)."""

    def __init__(self, dataset, seed: int):
        self.dataset = dataset
        self.seed = seed

    @property
    def durations(self) -> List[float]:
        return self.dataset.durations

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        epoch, index = key
        seed_all(derive_seed(self.seed, 2, epoch, index))
        return self.dataset[index]


class EpochTaggedBatches:
    """Wraps a batch sampler so that each index carries its epoch: ``[(epoch, i), ...]``.

    Workers are persistent and do not see the trainer's epoch counter; tagging the indices is the
    one channel that reaches them in order.
    """

    def __init__(self, inner):
        self.inner = inner
        self.epoch = 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch = epoch
        if hasattr(self.inner, "set_epoch"):
            self.inner.set_epoch(epoch, start_batch)

    def __iter__(self):
        epoch = self.epoch
        for batch in self.inner:
            yield [(epoch, i) for i in batch]

    def __len__(self) -> int:
        return len(self.inner)


def seeded_loader(loader: torch.utils.data.DataLoader, seed: int) -> torch.utils.data.DataLoader:
    """The same DataLoader (workers, pinning, prefetch, collate) with per-item seeding.

    ``loader`` must use a ``batch_sampler`` (as ``task.dataloader`` does). Its workers are never
    started: workers start on the first ``iter()``.
    """
    if loader.batch_sampler is None:
        raise ValueError("seeded_loader needs a DataLoader built with batch_sampler=...")
    kwargs = dict(
        batch_sampler=EpochTaggedBatches(loader.batch_sampler),
        collate_fn=loader.collate_fn,
        num_workers=loader.num_workers,
        pin_memory=loader.pin_memory,
        worker_init_fn=loader.worker_init_fn,
        multiprocessing_context=loader.multiprocessing_context,
    )
    if loader.num_workers > 0:
        kwargs.update(persistent_workers=loader.persistent_workers, prefetch_factor=loader.prefetch_factor)
    return torch.utils.data.DataLoader(SeededItems(loader.dataset, seed), **kwargs)


class Shard(torch.utils.data.Dataset):
    """Items ``rank, rank + world_size, ...`` of a dataset (validation split across ranks, no item dropped)."""

    def __init__(self, dataset, rank: int, world_size: int):
        self.dataset = dataset
        self.indices = list(range(rank, len(dataset), world_size))

    @property
    def durations(self) -> List[float]:
        all_durations = self.dataset.durations
        return [all_durations[i] for i in self.indices]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        return self.dataset[self.indices[i]]
