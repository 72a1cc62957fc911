"""Write examples/train_pytorch.ipynb, the notebook version of train_pytorch.py.

    python examples/make_train_notebook.py

The notebook is generated (with nbformat) so that its cells stay reviewable
as plain Python here.  It reads the gulp directory from the environment
variable ``GULPIO_SAMPLE`` (default ``/tmp/gulpio-sample/gulps``, which
``python examples/quickstart.py --workdir /tmp/gulpio-sample`` makes) and the
number of training steps from ``GULPIO_STEPS`` (default 20).
"""
import os

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = os.path.dirname(os.path.abspath(__file__))

CELLS = [
    ("md", """# Training a video classifier on gulps with PyTorch

This notebook reads a gulp directory with `gulpio.dataset.GulpVideoDataset`,
augments clips with `gulpio.transforms`, loads batches with worker processes
through `gulpio.loader.DataLoader`, and trains a tiny 3-D CNN on the CPU for a
few steps.  It is the notebook version of `examples/train_pytorch.py`.

Make a sample first (or point `GULPIO_SAMPLE` at your own gulp directory):

    python examples/quickstart.py --workdir /tmp/gulpio-sample"""),
    ("code", """import os
import time

import numpy as np
import torch
import torch.nn as nn

from gulpio.dataset import GulpVideoDataset
from gulpio.loader import DataLoader
from gulpio.transforms import (ComposeVideo, RandHorFlipVideo,
                               RandomCropVideo, Scale, UnitNorm)

GULP_DIR = os.environ.get("GULPIO_SAMPLE", "/tmp/gulpio-sample/gulps")
STEPS = int(os.environ.get("GULPIO_STEPS", "20"))
torch.manual_seed(0)
print("gulp directory:", GULP_DIR)"""),
    ("md", """## The dataset

Item `i` is `(clip, label_index)`.  A training clip has `num_frames` frames
`step_size` apart and starts at a random frame; image transforms run frame by
frame, video transforms draw once per clip (one crop box and one flip for all
frames)."""),
    ("code", """transform = ComposeVideo(
    img_transforms=[Scale(54), UnitNorm()],
    video_transforms=[RandomCropVideo(48), RandHorFlipVideo()])
dataset = GulpVideoDataset(GULP_DIR, num_frames=8, step_size=1, is_val=False,
                           transform=transform)
clip, label = dataset[0]
print(len(dataset), "videos; classes:", dataset.classes)
print("one clip:", clip.shape, clip.dtype, "label", label)"""),
    ("md", """## Batches from worker processes

Each worker gets its own random seed (so augmentations differ between
workers), batches come back through shared memory, and the workers stop when
the loop ends or is interrupted."""),
    ("code", """loader = DataLoader(dataset, batch_size=4, shuffle=True, num_workers=2,
                    drop_last=len(dataset) > 4, seed=0)
batch, labels = next(iter(loader))
print("batch:", batch.shape, batch.dtype, "labels:", labels)"""),
    ("md", "## A tiny 3-D CNN"),
    ("code", """class TinyVideoNet(nn.Module):
    def __init__(self, num_classes, channels=3, width=16):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv3d(channels, width, 3, padding=1), nn.BatchNorm3d(width),
            nn.ReLU(inplace=True), nn.MaxPool3d((1, 2, 2)),
            nn.Conv3d(width, 2 * width, 3, padding=1),
            nn.BatchNorm3d(2 * width), nn.ReLU(inplace=True),
            nn.AdaptiveAvgPool3d(1))
        self.classifier = nn.Linear(2 * width, num_classes)

    def forward(self, clips):
        return self.classifier(self.features(clips).flatten(1))


def to_tensor(batch):
    # (B, T, H, W, C) -> (B, C, T, H, W)
    return torch.from_numpy(np.ascontiguousarray(batch)).permute(
        0, 4, 1, 2, 3).float()


model = TinyVideoNet(num_classes=max(dataset.label2idx.values()) + 1)
optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
loss_fn = nn.CrossEntropyLoss()"""),
    ("md", "## Training"),
    ("code", """step, losses, start = 0, [], time.perf_counter()
while step < STEPS:
    for batch, labels in loader:
        loss = loss_fn(model(to_tensor(batch)), torch.tensor(labels))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        step += 1
        if step >= STEPS:
            break
elapsed = time.perf_counter() - start
print(f"{step} steps in {elapsed:.1f} s; loss {losses[0]:.3f} -> {losses[-1]:.3f}")"""),
    ("md", """## Next

* The same dataset works unchanged with `torch.utils.data.DataLoader`.
* For several processes (`torchrun`, DistributedDataParallel), give each
  rank a `gulpio.sampler.DistributedSampler` and call `set_epoch` every
  epoch; see `docs/pytorch.rst` and `examples/train_pytorch.py`."""),
]


def build() -> nbformat.NotebookNode:
    cells = [new_markdown_cell(src) if kind == "md" else new_code_cell(src)
             for kind, src in CELLS]
    notebook = new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {"name": "python3",
                                       "display_name": "Python 3",
                                       "language": "python"}
    notebook.metadata["language_info"] = {"name": "python"}
    return notebook


def main() -> str:
    path = os.path.join(HERE, "train_pytorch.ipynb")
    notebook = build()
    nbformat.validate(notebook)
    nbformat.write(notebook, path)
    return path


if __name__ == "__main__":
    print("wrote", main())
