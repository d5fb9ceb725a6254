"""The peers' strongest model on houston2018_west, rebuilt as a paired arm: a plain two-stream 2-D CNN.

docs/PROTOCOL.md ("Peers on houston2018_west"): among the published models run on that scene the
best row is a plain two-stream 2-D CNN (EndNet-like: one convolutional stream for the spectral
image, one for the other modalities, fused by concatenation), 49.84 ± 4.90 OA with 50 labels per
class. Its code is not public, so this is our reading of the design, built small and plain, so that
it learns from exactly BDGF's pixels, seeds and training length and is compared seed by seed
(docs/experiments/label_efficiency.py) rather than against a figure from another draw.

    x (b, C, p, p) = [spectral (b, C_1, p, p) | other modalities (b, C - C_1, p, p)]
      -> each stream: conv3x3 -> BN -> ReLU -> conv3x3 -> BN -> ReLU -> global average pool
      -> concatenate (b, 4 w) -> linear -> ReLU -> dropout -> linear -> logits (b, c)

Its output is a `BDGFOutput` with one branch, so the project's training loop, prediction and
scoring take it unchanged; the loss is cross-entropy alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from bdgf_nb.errors import ConfigError, DataError, expect
from bdgf_nb.model.bdgf import BDGFOutput


@dataclass(frozen=True)
class TwoStreamConfig:
    width: int = 32  # channels of each stream's first convolution (the second has twice as many)
    hidden: int = 128  # the fused head's hidden units
    dropout: float = 0.3

    def __post_init__(self) -> None:
        for name in ("width", "hidden"):
            value = getattr(self, name)
            expect(value >= 1, ConfigError, f"TwoStreamConfig.{name} must be >= 1, found {value}")
        expect(0 <= self.dropout < 1, ConfigError, f"TwoStreamConfig.dropout must be in [0, 1), found {self.dropout}")


def _stream(in_channels: int, width: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, width, 3, padding=1),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, padding=1),
        nn.BatchNorm2d(2 * width),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
    )


class TwoStreamCNN(nn.Module):
    """A spectral stream and an auxiliary stream (every other modality), fused by concatenation."""

    BRANCH = "two-stream CNN"

    def __init__(self, cfg: TwoStreamConfig, channel_groups: dict[str, int], n_classes: int) -> None:
        super().__init__()
        expect(
            len(channel_groups) >= 2 and all(int(c) >= 1 for c in channel_groups.values()),
            ConfigError,
            f"TwoStreamCNN needs a spectral and at least one other modality, found channel groups {channel_groups}",
        )
        self.cfg = cfg
        self.channel_groups = {str(k): int(v) for k, v in channel_groups.items()}
        self.n_classes = n_classes
        self.spectral = next(iter(self.channel_groups.values()))  # stacked spectral first (data.stacking)
        self.in_channels = sum(self.channel_groups.values())
        self.spectral_stream = _stream(self.spectral, cfg.width)
        self.auxiliary_stream = _stream(self.in_channels - self.spectral, cfg.width)
        self.head = nn.Sequential(
            nn.Linear(4 * cfg.width, cfg.hidden), nn.ReLU(), nn.Dropout(cfg.dropout), nn.Linear(cfg.hidden, n_classes)
        )

    @property
    def n_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def config_dict(self) -> dict[str, Any]:
        """What shapes the weights, JSON-able (the training loop checks it on resume)."""
        return {
            "model": "two_stream_cnn",
            "config": asdict(self.cfg),
            "channel_groups": dict(self.channel_groups),
            "n_classes": self.n_classes,
        }

    def forward(self, x: torch.Tensor, guides: Sequence[torch.Tensor] = ()) -> BDGFOutput:
        """x (b, C, p, p) -> BDGFOutput with one branch; `guides` are ignored (the peers have none)."""
        expect(
            x.ndim == 4 and x.shape[1] == self.in_channels,
            DataError,
            f"TwoStreamCNN: expected x of shape (b, C={self.in_channels}, p, p) "
            f"for channel groups {self.channel_groups}, found {tuple(x.shape)}",
        )
        fused = torch.cat(
            [self.spectral_stream(x[:, : self.spectral]), self.auxiliary_stream(x[:, self.spectral :])], dim=1
        )
        logits = self.head(fused)
        return BDGFOutput([logits], [fused], logits.softmax(-1), (self.BRANCH,))

    def loss(self, output: BDGFOutput, y: torch.Tensor, progress: float = 1.0) -> tuple[torch.Tensor, dict[str, float]]:
        """Cross-entropy on the labels (0-based `y`); `progress` is unused (no warm-up)."""
        ce = F.cross_entropy(output.logits[0].float(), y)
        return ce, {"ce": float(ce.detach())}
