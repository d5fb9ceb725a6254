"""Two tiny checkpointed training jobs, run in-process by the tests and as a subprocess to kill.

    python tests/resumable_jobs.py {pretrain,train} CHECKPOINT [--hang-at STEP]

--hang-at stops the run inside the forward of training batch STEP (counted from 1 over the
whole run) and prints "hanging at step STEP": the process then waits there to be killed, in the
middle of an epoch, whatever the machine's speed.

Also home of `TinyNet`, a classifier of the train.py contract small enough for tests.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bdgf_nb.data.patches import PatchDataset
from bdgf_nb.ddpm.diffusion import DiffusionConfig, GaussianDiffusion
from bdgf_nb.ddpm.masking import MaskingConfig
from bdgf_nb.ddpm.unet import UNetConfig
from bdgf_nb.train.classifier import TrainConfig, TrainResult, train_classifier
from bdgf_nb.train.pretrain import PretrainConfig, PretrainResult, pretrain

GROUPS = {"hsi": 4, "lidar": 1}
PRETRAIN = PretrainConfig(
    epochs=5,
    batch_size=16,
    lr=1e-3,
    balance_samples=8,
    ema_decay=0.9,
    seed=3,
    unet=UNetConfig(base_width=8, channel_mults=(1, 2), num_res_blocks=1, dropout=0.1),
    diffusion=DiffusionConfig(T=50),
    feature_timesteps=(5, 20),
    masking=MaskingConfig(mode="adaptive", warmup_fraction=0.2, start_window=2),
)
PRETRAIN_STEPS_PER_EPOCH = 2  # 40 patches - 8 held out for the balance measure = 32, in batches of 16
TRAIN = TrainConfig(epochs=6, batch_size=16, lr=1e-2, warmup_epochs=1, patience=10, seed=3)
TRAIN_STEPS_PER_EPOCH = 6  # 96 training pixels in batches of 16
N_CLASSES = 3


@dataclass
class TinyOutput:
    logits: list[torch.Tensor]
    features: list[torch.Tensor]

    @property
    def probabilities(self) -> torch.Tensor:
        return torch.stack([z.softmax(-1) for z in self.logits]).mean(0)


class TinyNet(nn.Module):
    """Two heads over a 3x3 conv and global pooling; dropout so that resume must restore RNG."""

    def __init__(self, channels: int, n_classes: int, width: int = 8, hang_at: int = 0) -> None:
        super().__init__()
        self.width, self.hang_at, self.steps = width, hang_at, 0
        self.conv = nn.Conv2d(channels, width, 3, padding=1)
        self.drop = nn.Dropout(0.2)
        self.heads = nn.ModuleList([nn.Linear(width, n_classes) for _ in range(2)])

    def forward(self, x: torch.Tensor, guides: list[torch.Tensor]) -> TinyOutput:
        if self.training:
            _tick(self)
        h = self.drop(F.relu(self.conv(x)).mean((2, 3)))
        return TinyOutput([head(h) for head in self.heads], [h, h])

    def loss(self, out: TinyOutput, y: torch.Tensor, progress: float = 1.0) -> tuple[torch.Tensor, dict[str, float]]:
        parts = [F.cross_entropy(z, y) for z in out.logits]
        return parts[0] + parts[1], {f"ce{i}": float(p.detach()) for i, p in enumerate(parts)}

    def config_dict(self) -> dict[str, Any]:
        return {"width": self.width}


def _tick(owner: Any) -> None:
    """Count a training step; at step `owner.hang_at` say so and wait to be killed."""
    owner.steps += 1
    if owner.steps == owner.hang_at:
        print(f"hanging at step {owner.steps}", flush=True)
        time.sleep(300)
        raise SystemExit("not killed within 300 s")


def pretrain_data() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 5, 8, 8, generator=g)
    x[:, 4] = x[:, :4].mean(1) * 2
    return x


def train_sets(seed: int = 0) -> tuple[PatchDataset, PatchDataset]:
    rng = np.random.default_rng(seed)
    image = rng.normal(size=(4, 16, 16)).astype(np.float32)
    labels = 1 + (image[0] > 0.3).astype(np.int64) + (image[1] > 0.3).astype(np.int64)
    order = rng.permutation(16 * 16)
    pixels = np.stack(np.unravel_index(order, (16, 16)), axis=1)
    train, val = pixels[:96], pixels[96:144]
    return (
        PatchDataset(image, train, labels[train[:, 0], train[:, 1]], 3),
        PatchDataset(image, val, labels[val[:, 0], val[:, 1]], 3),
    )


def run_pretrain(checkpoint: Path | None, hang_at: int = 0) -> PretrainResult:
    if hang_at:  # wrap the training forward; the class is patched in this (child) process only
        forward = GaussianDiffusion.forward
        counter = type("Counter", (), {"steps": 0, "hang_at": hang_at})()

        def slowed(self: GaussianDiffusion, *args: Any, **kwargs: Any) -> Any:
            _tick(counter)
            return forward(self, *args, **kwargs)

        GaussianDiffusion.forward = slowed  # type: ignore[method-assign]
    return pretrain(pretrain_data(), GROUPS, PRETRAIN, checkpoint_path=checkpoint, progress=False, device="cpu")


def run_train(checkpoint: Path | None, hang_at: int = 0) -> TrainResult:
    train_set, val_set = train_sets()
    torch.manual_seed(TRAIN.seed)  # weight init
    model = TinyNet(4, N_CLASSES, hang_at=hang_at)
    return train_classifier(
        model, train_set, val_set, N_CLASSES, TRAIN, checkpoint_path=checkpoint, progress=False, device="cpu"
    )


if __name__ == "__main__":
    torch.set_num_threads(1)  # the tests compare with an in-process run under the same setting
    job, path = sys.argv[1], Path(sys.argv[2])
    step = int(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[3] == "--hang-at" else 0
    {"pretrain": run_pretrain, "train": run_train}[job](path, step)
    print("done", flush=True)
