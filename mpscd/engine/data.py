"""Loaders: a training sampler whose order and augmentation seeds depend only on
(seed, epoch), so that a run resumed mid-epoch sees exactly the same batches."""
import torch
from torch.utils.data import DataLoader, Sampler

from mpscd.engine.stopping import ignore_in_worker
from utils.seed import worker_init_fn


def init_worker(worker_id):
    ignore_in_worker()
    worker_init_fn(worker_id)


class ResumableSampler(Sampler):
    """Yields (index, augmentation seed) for one epoch, optionally from a given position.
    With `num_replicas` > 1 each rank takes every num_replicas-th item of the shared order."""

    def __init__(self, size, seed=0, rank=0, num_replicas=1):
        self.size, self.seed, self.rank, self.num_replicas = size, seed, rank, num_replicas
        self.epoch, self.start = 0, 0

    def set_epoch(self, epoch, start=0):
        """`start` counts this rank's items already consumed in the epoch."""
        self.epoch, self.start = epoch, start

    @property
    def items_per_epoch(self):
        """This rank's items in a whole epoch, wherever the current one started."""
        return self.size // self.num_replicas

    def __len__(self):
        return self.items_per_epoch - self.start

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator)
        seeds = torch.randint(2 ** 62, (self.size,), generator=generator)
        usable = self.size // self.num_replicas * self.num_replicas
        mine = range(self.rank, usable, self.num_replicas)[self.start:]
        return ((order[i].item(), seeds[i].item()) for i in mine)


def make_train_loader(dataset, batch_size, num_workers, seed, rank=0, num_replicas=1):
    sampler = ResumableSampler(len(dataset), seed, rank, num_replicas)
    # Its own generator: starting workers must not draw from the global RNG, whose state
    # (saved in checkpoints) drives dropout and must not depend on where an epoch began.
    # Persistent workers: no worker start-up at every epoch; the augmentation seeds come
    # with the sampler's items, so a worker's age does not change any sample.
    return DataLoader(dataset, batch_size, sampler=sampler, num_workers=num_workers, drop_last=True,
                      pin_memory=torch.cuda.is_available(), worker_init_fn=init_worker,
                      generator=torch.Generator().manual_seed(seed), persistent_workers=num_workers > 0)


class ShardSampler(Sampler):
    """Rank r of n takes items r, r + n, r + 2n, ...: every item exactly once over all ranks,
    without the padding of DistributedSampler (which would count images twice)."""

    def __init__(self, size, rank=0, num_replicas=1):
        self.indices = range(rank, size, num_replicas)

    def __len__(self):
        return len(self.indices)

    def __iter__(self):
        return iter(self.indices)


def make_test_loader(dataset, batch_size, num_workers, rank=0, num_replicas=1):
    return DataLoader(dataset, batch_size, sampler=ShardSampler(len(dataset), rank, num_replicas),
                      num_workers=num_workers, pin_memory=torch.cuda.is_available(), worker_init_fn=init_worker)
