"""Train a small video classifier with PyTorch on a gulp directory (CPU).

    python examples/quickstart.py --workdir /tmp/gulpio-sample
    python examples/train_pytorch.py /tmp/gulpio-sample/gulps [--steps 20]

Options (all small by default, so that it runs in seconds on a laptop)::

    --steps N         training steps (default 20)
    --batch-size N    clips per batch (default 4)
    --num-frames N    frames per clip (default 8)
    --step-size N     distance between a clip's frames (default 1)
    --size N          crop size in pixels (default 48)
    --workers N       loader worker processes (default 2)
    --loader NAME     "gulpio" (gulpio.loader.DataLoader, default) or "torch"
                      (torch.utils.data.DataLoader): the datasets work with both
    --lr X            learning rate (default 0.01)
    --seed N          seed for the model, the shuffling and the workers

Under ``torchrun --nproc_per_node=K`` it trains with DistributedDataParallel
(gloo backend, CPU): each process reads its share of the data through
:class:`gulpio.sampler.DistributedSampler`.
"""
import argparse
import os
import sys
import time
from typing import List, Optional

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn

from gulpio.dataset import GulpVideoDataset
from gulpio.loader import DataLoader
from gulpio.sampler import DistributedSampler
from gulpio.transforms import (ComposeVideo, RandHorFlipVideo, RandomCropVideo,
                               Scale, UnitNorm)


class TinyVideoNet(nn.Module):
    """Two 3-D convolutions, global pooling and a linear classifier."""

    def __init__(self, num_classes: int, channels: int = 3, width: int = 16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv3d(channels, width, kernel_size=3, padding=1),
            nn.BatchNorm3d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool3d((1, 2, 2)),
            nn.Conv3d(width, 2 * width, kernel_size=3, padding=1),
            nn.BatchNorm3d(2 * width),
            nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool3d(1),
        )
        self.classifier = nn.Linear(2 * width, num_classes)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(clips).flatten(1))


def to_tensor(batch) -> torch.Tensor:
    """(B, T, H, W, C) numpy/torch batch -> (B, C, T, H, W) float tensor."""
    clips = torch.as_tensor(np.asarray(batch)) if not isinstance(
        batch, torch.Tensor) else batch
    if clips.dim() == 4:  # grayscale: (B, T, H, W)
        clips = clips.unsqueeze(-1)
    return clips.permute(0, 4, 1, 2, 3).float().contiguous()


def parse_args(argv: Optional[List[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("gulp_dir")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--num-frames", type=int, default=8)
    parser.add_argument("--step-size", type=int, default=1)
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--loader", choices=["gulpio", "torch"],
                        default="gulpio")
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=0)
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    rank = 0
    if distributed:
        dist.init_process_group("gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(args.seed)
    torch.set_num_threads(1 if distributed else max(1, torch.get_num_threads()))

    transform = ComposeVideo(
        img_transforms=[Scale(args.size + args.size // 8), UnitNorm()],
        video_transforms=[RandomCropVideo(args.size), RandHorFlipVideo()])
    dataset = GulpVideoDataset(args.gulp_dir, num_frames=args.num_frames,
                               step_size=args.step_size, is_val=False,
                               transform=transform)
    num_classes = max(dataset.label2idx.values()) + 1

    sampler = None
    if distributed:
        sampler = DistributedSampler(dataset, num_replicas=world, rank=rank,
                                     shuffle=True, seed=args.seed)
    loader_kwargs = dict(batch_size=args.batch_size, shuffle=sampler is None,
                         sampler=sampler, num_workers=args.workers,
                         drop_last=len(dataset) > args.batch_size)
    if args.loader == "gulpio":
        loader = DataLoader(dataset, seed=args.seed + rank, **loader_kwargs)
    else:
        loader = torch.utils.data.DataLoader(
            dataset, generator=torch.Generator().manual_seed(args.seed + rank),
            **loader_kwargs)

    channels = 1 if dataset[0][0].ndim == 3 else dataset[0][0].shape[-1]
    model = TinyVideoNet(num_classes, channels=channels)
    if distributed:
        model = nn.parallel.DistributedDataParallel(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()

    say = print if rank == 0 else (lambda *a, **k: None)
    say(f"{len(dataset)} videos, {num_classes} classes {dataset.classes}; "
        f"{args.loader} loader with {args.workers} workers"
        + (f"; DDP over {world} processes" if distributed else ""))
    step, epoch, clips_seen = 0, 0, 0
    start = time.perf_counter()
    losses = []
    while step < args.steps:
        if sampler is not None:
            sampler.set_epoch(epoch)
        for batch, labels in loader:
            clips = to_tensor(batch)
            targets = torch.as_tensor(labels, dtype=torch.long)
            loss = loss_fn(model(clips), targets)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            clips_seen += len(targets)
            step += 1
            say(f"epoch {epoch} step {step:3d}  loss {losses[-1]:.4f}  "
                f"batch {tuple(clips.shape)}")
            if step >= args.steps:
                break
        epoch += 1
    elapsed = time.perf_counter() - start
    say(f"trained {step} steps on {clips_seen} clips in {elapsed:.1f} s "
        f"({clips_seen / elapsed:.1f} clips/s per process); "
        f"loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    if distributed:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
