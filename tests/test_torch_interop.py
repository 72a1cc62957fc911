"""gulpio's datasets and samplers under PyTorch's own DataLoader."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch.utils.data import DataLoader as TorchLoader  # noqa: E402
from torch.utils.data.distributed import \
    DistributedSampler as TorchDistributedSampler  # noqa: E402

import _gulps  # noqa: E402
from gulpio.dataset import GulpImageDataset, GulpVideoDataset  # noqa: E402
from gulpio.loader import DataLoader  # noqa: E402
from gulpio.sampler import DistributedSampler  # noqa: E402
from gulpio.transforms import (ComposeVideo, RandomCropVideo,  # noqa: E402
                               UnitNorm)

LENGTHS = [6, 9, 12, 4, 30, 8, 10, 5]
LABELS = ["a", "b", "c", "a", "b", "c", "a", "b"]


@pytest.fixture(scope="module")
def video_dir(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("torch_videos"))
    _gulps.write_gulp(folder, LENGTHS, LABELS, items_per_chunk=3)
    return folder


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("torch_images"))
    _gulps.write_image_gulp(folder, LABELS)
    return folder


@pytest.mark.parametrize("num_workers", [0, 2])
def test_video_dataset_under_torch_loader(video_dir, num_workers):
    ds = GulpVideoDataset(video_dir, num_frames=4, step_size=2, is_val=True)
    loader = TorchLoader(ds, batch_size=3, num_workers=num_workers)
    batches = list(loader)
    assert len(batches) == 3
    frames, labels = batches[0]
    assert isinstance(frames, torch.Tensor) and frames.dtype == torch.uint8
    assert tuple(frames.shape) == (3, 4, _gulps.HEIGHT, _gulps.WIDTH, 3)
    assert torch.cat([b[1] for b in batches]).tolist() == [
        ds.label2idx[label] for label in LABELS]
    # the same clips as gulpio's own loader gives
    ours = list(DataLoader(ds, batch_size=3))
    for (t_frames, _), (o_frames, _) in zip(batches, ours):
        assert np.array_equal(t_frames.numpy(), o_frames)
    # item 3 has 4 frames: 0, 2, then padding with the last one
    clip = batches[1][0][0].numpy()
    assert [_gulps.frame_index(f) for f in clip] == [0, 2, 2, 2]


@pytest.mark.parametrize("num_workers", [0, 2])
def test_image_dataset_under_torch_loader(image_dir, num_workers):
    ds = GulpImageDataset(image_dir, transform=UnitNorm())
    loader = TorchLoader(ds, batch_size=4, shuffle=True, num_workers=num_workers)
    seen = []
    for images, labels in loader:
        assert images.dtype == torch.float32
        assert tuple(images.shape[1:]) == (_gulps.HEIGHT, _gulps.WIDTH, 3)
        seen.extend(labels.tolist())
    assert sorted(seen) == sorted(ds.label2idx[label] for label in LABELS)


def test_random_augmentation_differs_across_torch_workers(video_dir):
    # item 4 has 30 frames; a random start and a random crop per clip
    ds = GulpVideoDataset(video_dir, num_frames=2, step_size=1, is_val=False,
                          transform=ComposeVideo([], [RandomCropVideo(16)]))

    class Only4:
        def __len__(self):
            return 8

        def __getitem__(self, i):
            return ds[4]

    torch.manual_seed(0)
    clips = [c for batch, _ in TorchLoader(Only4(), batch_size=4, num_workers=2)
             for c in batch.numpy()]
    starts = [_gulps.frame_index(c[0]) for c in clips]
    # worker 0 loads items 0-3, worker 1 items 4-7: not the same draws
    assert starts[:4] != starts[4:]


@pytest.mark.parametrize("sampler_cls", [TorchDistributedSampler,
                                         DistributedSampler])
def test_distributed_samplers_shard_the_dataset(video_dir, sampler_cls):
    ds = GulpVideoDataset(video_dir, num_frames=2, step_size=1, is_val=True)
    seen = []
    for rank in range(3):
        sampler = sampler_cls(ds, num_replicas=3, rank=rank, shuffle=True,
                              seed=5)
        sampler.set_epoch(1)
        loader = TorchLoader(ds, batch_size=2, sampler=sampler, num_workers=0)
        labels = [label for _, batch in loader for label in batch.tolist()]
        assert len(labels) == 3  # ceil(8 / 3) on every rank
        seen.extend(sampler)
    assert set(seen) == set(range(len(ds)))


def test_gulpio_loader_with_torch_tensors_in_workers(video_dir):
    ds = GulpVideoDataset(video_dir, num_frames=2, step_size=1, is_val=True,
                          target_transform=torch.tensor)
    frames, labels = next(iter(DataLoader(ds, batch_size=4, num_workers=2)))
    assert isinstance(labels, torch.Tensor) and labels.shape == (4,)
    assert frames.shape == (4, 2, _gulps.HEIGHT, _gulps.WIDTH, 3)


def test_tensor_indices_from_a_torch_sampler(video_dir):
    # torch's SubsetRandomSampler over a tensor yields 0-d tensors
    ds = GulpVideoDataset(video_dir, num_frames=2, step_size=1, is_val=True)
    assert ds[torch.tensor(1)][1] == ds[1][1]
    sampler = torch.utils.data.SubsetRandomSampler(torch.tensor([0, 2, 5]))
    labels = [int(label) for _, labels in TorchLoader(ds, batch_size=2, sampler=sampler)
              for label in labels]
    assert sorted(labels) == sorted(ds[i][1] for i in (0, 2, 5))
