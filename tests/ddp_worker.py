"""Tiny pretraining and classifier runs, launched by tests/test_distributed.py either alone
(`python tests/ddp_worker.py OUT`) or under `torchrun --nproc_per_node=2`. Rank 0 saves the
final weights and histories to OUT/result.pt for the test to compare."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from resumable_jobs import TinyOutput as Output  # tests/ is the script's folder, first on sys.path
from torch import nn

from bdgf_nb.data.patches import PatchDataset
from bdgf_nb.ddpm.diffusion import DiffusionConfig
from bdgf_nb.ddpm.masking import MaskingConfig
from bdgf_nb.ddpm.unet import UNetConfig
from bdgf_nb.train import distributed as ddp
from bdgf_nb.train.classifier import TrainConfig, train_classifier
from bdgf_nb.train.pretrain import PretrainConfig, pretrain

GROUPS = {"hsi": 6, "lidar": 1}


class TinyNet(nn.Module):
    """The classifier contract of train.py at its smallest: two branches, one guide."""

    def __init__(self, channels: int, guide_channels: int, n_classes: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels + guide_channels, 8, 3, padding=1)
        self.heads = nn.ModuleList([nn.Linear(8, n_classes) for _ in range(2)])

    def forward(self, x: torch.Tensor, guides: list[torch.Tensor]) -> Output:
        f = torch.relu(self.conv(torch.cat([x, *guides], dim=1))).mean(dim=(2, 3))
        return Output([head(f) for head in self.heads], [f, f])

    def loss(self, out: Output, y: torch.Tensor, progress: float = 1.0) -> tuple[torch.Tensor, dict[str, float]]:
        loss = sum(nn.functional.cross_entropy(z, y) for z in out.logits)
        assert isinstance(loss, torch.Tensor)
        return loss, {}


def pretrain_data(n: int = 96, p: int = 8) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 7, p, p, generator=g)
    x[:, 6] = x[:, :6].mean(1) * 2  # lidar predictable from hsi
    return x


def classifier_data(seed: int) -> PatchDataset:
    rng = np.random.default_rng(seed)
    image = rng.normal(size=(7, 24, 24)).astype(np.float32)
    guide = rng.normal(size=(3, 24, 24)).astype(np.float32)
    pixels = np.argwhere(np.ones((24, 24), bool))[rng.choice(576, 100, replace=False)]
    labels = 1 + (image[0, pixels[:, 0], pixels[:, 1]] > 0).astype(np.int64)  # learnable from x
    return PatchDataset(image, pixels, labels, 5, [guide])


def main(out: Path) -> None:
    torch.set_num_threads(1)
    with ddp.process_group():
        cfg = PretrainConfig(
            epochs=3,
            batch_size=16,
            lr=1e-3,
            balance_samples=16,
            ema_decay=0.9,
            unet=UNetConfig(base_width=8, num_res_blocks=1),
            diffusion=DiffusionConfig(T=100),
            feature_timesteps=(5, 50),
            masking=MaskingConfig(mode="adaptive", warmup_fraction=0.2, start_window=2),
        )
        ddpm = pretrain(pretrain_data(), GROUPS, cfg, checkpoint_path=out / "ddpm.ckpt", progress=False)
        torch.manual_seed(0)
        model = TinyNet(7, 3, 2)
        tcfg = TrainConfig(epochs=3, batch_size=20, lr=1e-2, warmup_epochs=1, patience=5)
        clf = train_classifier(
            model, classifier_data(0), classifier_data(1), 2, tcfg, checkpoint_path=out / "clf.ckpt", progress=False
        )
        if ddp.is_main():
            torch.save(
                {
                    "world_size": ddp.world_size(),
                    "ddpm": ddpm.diffusion.state_dict(),
                    "ddpm_history": ddpm.history,
                    "clf": clf.model.state_dict(),
                    "clf_history": clf.history,
                },
                out / "result.pt",
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
