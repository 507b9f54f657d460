"""Gradient accumulation as virtual ranks.

With ``grad_accum_steps = A`` on ``W`` processes, the data is split as if there were ``W * A`` ranks:
process ``r`` owns virtual ranks ``r * A + j`` (``j < A``) and its ``j``-th micro-batch of a step comes
from virtual rank ``r * A + j``. A step then sees exactly the samples (and the per-micro-batch
batch-norm partitions) that ``W * A`` processes without accumulation would see, so 1, 2 or 4 GPUs
reproduce the official 8 x 16 batches.
"""

from __future__ import annotations

from typing import Iterable, Iterator, Sequence


def virtual_ranks(rank: int, world_size: int, accum_steps: int) -> tuple[list[int], int]:
    """``([virtual rank of micro-step j for j < accum_steps], virtual world size)``."""
    return [rank * accum_steps + j for j in range(accum_steps)], world_size * accum_steps


class InterleavedLoader:
    """Round-robin over one loader per virtual rank: yields ``l0[k], l1[k], ..., l0[k+1], ...``.

    Each element of ``loaders`` must offer ``__len__``, ``__iter__`` and ``set_epoch(epoch)``.
    """

    def __init__(self, loaders: Sequence) -> None:
        if not loaders:
            raise ValueError("InterleavedLoader needs at least one loader")
        self.loaders = list(loaders)

    def set_epoch(self, epoch: int) -> None:
        for loader in self.loaders:
            loader.set_epoch(epoch)

    def __len__(self) -> int:
        return min(len(loader) for loader in self.loaders) * len(self.loaders)

    def __iter__(self) -> Iterator:
        iterators: list[Iterable] = [iter(loader) for loader in self.loaders]
        for group in zip(*iterators):
            yield from group
