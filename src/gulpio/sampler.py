"""Samplers: the order in which a loader visits a dataset's indices.

The interface follows PyTorch's ``torch.utils.data`` samplers (an iterable of
indices with a length), so a sampler from here can drive either loader.
"""
import math
import numbers
import os
from typing import Iterator, List, Optional, Sequence, Sized

import numpy as np

__all__ = [
    "AbstractBaseSampler", "SequentialSampler", "RandomSampler",
    "SubsetRandomSampler", "BatchSampler", "DistributedSampler",
]


def _int_at_least(value, name: str, minimum: int) -> int:
    if (not isinstance(value, numbers.Integral) or isinstance(value, bool)
            or value < minimum):
        kind = "a positive integer value" if minimum == 1 else "a non-negative integer"
        raise ValueError(f"{name} should be {kind}, but got {name}={value!r}")
    return int(value)


def _positive_int(value, name: str) -> int:
    return _int_at_least(value, name, 1)


class AbstractBaseSampler:
    """Base class: an iterable of dataset indices that knows its length."""

    def __init__(self, data_source: Optional[Sized] = None) -> None:
        pass

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError


class SequentialSampler(AbstractBaseSampler):
    """``0, 1, ..., len(data_source) - 1`` in order."""

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(AbstractBaseSampler):
    """Every index once, in a new random order at every iteration.

    Parameters
    ----------
    data_source : sized
    generator : numpy.random.Generator, optional
        Source of the permutations.  Without it NumPy's global random state
        is used (as in the original), so ``numpy.random.seed`` makes the
        order reproducible.
    """

    def __init__(self, data_source: Sized,
                 generator: Optional[np.random.Generator] = None) -> None:
        self.data_source = data_source
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        if self.generator is None:
            order = np.random.permutation(n)
        else:
            order = self.generator.permutation(n)
        return iter(order.tolist())

    def __len__(self) -> int:
        return len(self.data_source)


class SubsetRandomSampler(AbstractBaseSampler):
    """The given indices, in a new random order at every iteration.

    Parameters
    ----------
    indices : sequence of int
    generator : numpy.random.Generator, optional
        As in :class:`RandomSampler`.
    """

    def __init__(self, indices: Sequence[int],
                 generator: Optional[np.random.Generator] = None) -> None:
        self.indices = list(indices)
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        rng = np.random if self.generator is None else self.generator
        return (self.indices[i] for i in rng.permutation(len(self.indices)))

    def __len__(self) -> int:
        return len(self.indices)


class BatchSampler(AbstractBaseSampler):
    """Group the indices of another sampler into lists of ``batch_size``.

    Parameters
    ----------
    sampler : iterable of int
    batch_size : int
    drop_last : bool
        Drop the last batch when it is shorter than ``batch_size``.
    """

    def __init__(self, sampler, batch_size: int, drop_last: bool) -> None:
        self.sampler = sampler
        self.batch_size = _positive_int(batch_size, "batch_size")
        if not isinstance(drop_last, bool):
            raise ValueError("drop_last should be a boolean value, but got "
                             f"drop_last={drop_last!r}")
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[List[int]]:
        batch: List[int] = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        if self.drop_last:
            return len(self.sampler) // self.batch_size
        return math.ceil(len(self.sampler) / self.batch_size)


class DistributedSampler(AbstractBaseSampler):
    """The share of the dataset that one of ``num_replicas`` processes sees.

    Every rank gets the same number of indices; together the ranks cover the
    whole dataset.  Without ``drop_last`` the index list is filled up to a
    multiple of ``num_replicas`` by repeating indices from its start; with
    it, the tail that does not divide evenly is left out.  With ``shuffle``
    the order is a permutation drawn from ``seed + epoch``: the same on every
    rank, new for every epoch (call :meth:`set_epoch`), reproducible.

    Parameters
    ----------
    dataset : sized
    num_replicas : int, optional
        Number of processes; default: the ``WORLD_SIZE`` environment
        variable (set by ``torchrun``), else 1.
    rank : int, optional
        This process's rank in ``[0, num_replicas)``; default: ``RANK``
        from the environment, else 0.
    shuffle : bool
    seed : int
        Must be the same on all ranks.
    drop_last : bool

    Raises
    ------
    ValueError
        For a rank outside ``[0, num_replicas)``, a non-positive
        ``num_replicas`` or a negative ``seed``.
    """

    def __init__(self, dataset: Sized, num_replicas: Optional[int] = None,
                 rank: Optional[int] = None, shuffle: bool = True,
                 seed: int = 0, drop_last: bool = False) -> None:
        if num_replicas is None:
            num_replicas = int(os.environ.get("WORLD_SIZE", "1"))
        if rank is None:
            rank = int(os.environ.get("RANK", "0"))
        self.num_replicas = _positive_int(num_replicas, "num_replicas")
        if (not isinstance(rank, numbers.Integral) or isinstance(rank, bool)
                or not 0 <= rank < self.num_replicas):
            raise ValueError(f"rank should be in the interval [0, "
                             f"{self.num_replicas - 1}], got rank={rank!r}")
        self.rank = int(rank)
        self.dataset = dataset
        self.shuffle = bool(shuffle)
        self.seed = _int_at_least(seed, "seed", 0)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if self.drop_last:
            self.num_samples = n // self.num_replicas
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order the next iteration uses."""
        self.epoch = _int_at_least(epoch, "epoch", 0)

    def _all_indices(self) -> np.ndarray:
        n = len(self.dataset)
        if self.shuffle:
            rng = np.random.default_rng([self.seed, self.epoch])
            order = rng.permutation(n)
        else:
            order = np.arange(n)
        if self.total_size <= n:
            return order[:self.total_size]
        if n == 0:
            return order
        repeats = math.ceil(self.total_size / n)
        return np.tile(order, repeats)[:self.total_size]

    def __iter__(self) -> Iterator[int]:
        mine = self._all_indices()[self.rank::self.num_replicas]
        return iter(mine.tolist())

    def __len__(self) -> int:
        return self.num_samples
