"""gulpio.sampler."""
import itertools

import numpy as np
import pytest

from gulpio.sampler import (AbstractBaseSampler, BatchSampler,
                            DistributedSampler, RandomSampler,
                            SequentialSampler, SubsetRandomSampler)


def test_abstract_base():
    with pytest.raises(NotImplementedError):
        iter(AbstractBaseSampler())
    with pytest.raises(NotImplementedError):
        len(AbstractBaseSampler())


def test_sequential():
    sampler = SequentialSampler(range(5))
    assert list(sampler) == [0, 1, 2, 3, 4] and len(sampler) == 5


def test_random_sampler():
    np.random.seed(0)
    sampler = RandomSampler(range(20))
    first, second = list(sampler), list(sampler)
    assert sorted(first) == list(range(20)) and len(sampler) == 20
    assert first != second  # a new order every epoch
    assert all(type(i) is int for i in first)
    np.random.seed(0)
    assert list(RandomSampler(range(20))) == first  # the global state
    a = RandomSampler(range(20), generator=np.random.default_rng(3))
    b = RandomSampler(range(20), generator=np.random.default_rng(3))
    assert list(a) == list(b)


def test_subset_random_sampler():
    sampler = SubsetRandomSampler([3, 7, 9, 11])
    orders = {tuple(sampler) for _ in range(30)}
    assert all(sorted(o) == [3, 7, 9, 11] for o in orders)
    assert len(orders) > 1 and len(sampler) == 4


def test_batch_sampler():
    batches = list(BatchSampler(range(7), 3, drop_last=False))
    assert batches == [[0, 1, 2], [3, 4, 5], [6]]
    assert len(BatchSampler(range(7), 3, False)) == 3
    assert list(BatchSampler(range(7), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(range(7), 3, True)) == 2
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="batch_size"):
            BatchSampler(range(3), bad, False)
    with pytest.raises(ValueError, match="drop_last"):
        BatchSampler(range(3), 2, "yes")


@pytest.mark.parametrize("n, replicas",
                         list(itertools.product([10, 11, 13, 2], [1, 2, 3, 4])))
@pytest.mark.parametrize("shuffle", [True, False])
def test_distributed_cover_and_equal_share(n, replicas, shuffle):
    shares = [list(DistributedSampler(range(n), replicas, rank,
                                      shuffle=shuffle, seed=7))
              for rank in range(replicas)]
    lengths = {len(share) for share in shares}
    assert lengths == {-(-n // replicas)}
    assert all(len(DistributedSampler(range(n), replicas, r)) == len(shares[r])
               for r in range(replicas))
    assert set(itertools.chain(*shares)) == set(range(n))
    # with drop_last: the same length everywhere, nothing repeated
    dropped = [list(DistributedSampler(range(n), replicas, rank,
                                       shuffle=shuffle, drop_last=True))
               for rank in range(replicas)]
    flat = list(itertools.chain(*dropped))
    assert {len(d) for d in dropped} == {n // replicas}
    assert len(flat) == len(set(flat)) == (n // replicas) * replicas


def test_distributed_unshuffled_order():
    assert list(DistributedSampler(range(7), 3, 1, shuffle=False)) == [1, 4, 0]
    assert list(DistributedSampler(range(7), 3, 2, shuffle=False)) == [2, 5, 1]


def test_distributed_epochs_and_seeds():
    def order(epoch, seed=0, rank=0):
        sampler = DistributedSampler(range(50), 2, rank, seed=seed)
        sampler.set_epoch(epoch)
        return list(sampler)

    assert order(0) == order(0)  # reproducible
    assert order(0) != order(1)  # a new order per epoch
    assert order(1, seed=1) != order(1, seed=2)
    # the ranks agree on the permutation: their shares are disjoint
    assert not set(order(3, rank=0)) & set(order(3, rank=1))


def test_distributed_arguments(monkeypatch):
    with pytest.raises(ValueError, match="rank"):
        DistributedSampler(range(4), 2, 2)
    with pytest.raises(ValueError, match="rank"):
        DistributedSampler(range(4), 2, -1)
    with pytest.raises(ValueError, match="num_replicas"):
        DistributedSampler(range(4), 0, 0)
    with pytest.raises(ValueError, match="seed=-1"):
        DistributedSampler(range(4), 2, 0, seed=-1)
    with pytest.raises(ValueError, match="epoch=-2"):
        DistributedSampler(range(4), 2, 0).set_epoch(-2)
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    sampler = DistributedSampler(range(8), shuffle=False)
    assert (sampler.num_replicas, sampler.rank) == (4, 3)
    assert list(sampler) == [3, 7]
