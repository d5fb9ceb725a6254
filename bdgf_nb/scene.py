"""The typed scene every step of the pipeline consumes.

A `Scene` is a co-registered stack of named modalities over one (H, W) grid plus labels. The
first modality is the spectral image (HSI or multispectral); the rest are auxiliary (LiDAR/DSM,
SAR, ...). Nothing downstream assumes exactly two modalities.

A `PixelScene` is the pixel-level variant for benchmarks whose full cubes are unavailable
(houston2013: HSI only at the training pixels): one feature vector per labelled pixel.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .errors import DataError, expect


@dataclass(frozen=True)
class Scene:
    """Co-registered multimodal image with labels.

    modalities: name -> (H, W, C) float32, spectral image first.
    gt: (H, W) int64, 0 = unlabelled, 1..n_classes = class.
    train_mask / test_mask: optional official split, (H, W) bool.
    """

    name: str
    modalities: dict[str, np.ndarray]
    gt: np.ndarray
    class_names: tuple[str, ...]
    train_mask: np.ndarray | None = None
    test_mask: np.ndarray | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        expect(len(self.modalities) >= 1, DataError, f"scene {self.name!r}: expected at least one modality, found none")
        expect(self.gt.ndim == 2, DataError, f"scene {self.name!r}: gt must be 2-D (H, W), found shape {self.gt.shape}")
        for key, array in self.modalities.items():
            expect(
                array.ndim == 3 and array.shape[:2] == self.gt.shape,
                DataError,
                f"scene {self.name!r}: modality {key!r} must be (H, W, C) with (H, W) = {self.gt.shape}, found shape {array.shape}",
            )
        for mask_name in ("train_mask", "test_mask"):
            mask = getattr(self, mask_name)
            if mask is not None:
                expect(
                    mask.shape == self.gt.shape and mask.dtype == bool,
                    DataError,
                    f"scene {self.name!r}: {mask_name} must be bool {self.gt.shape}, found {mask.dtype} {mask.shape}",
                )

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.gt.shape[0]), int(self.gt.shape[1]))

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def modality_names(self) -> tuple[str, ...]:
        return tuple(self.modalities)

    @property
    def channels(self) -> dict[str, int]:
        """Channels per modality, in modality order (the channel groups of the stacked input)."""
        return {k: int(v.shape[2]) for k, v in self.modalities.items()}

    @property
    def has_official_split(self) -> bool:
        return self.train_mask is not None and self.test_mask is not None

    def stacked(self) -> np.ndarray:
        """All modalities concatenated along channels: (H, W, sum C), float32."""
        return np.concatenate([m.astype(np.float32, copy=False) for m in self.modalities.values()], axis=2)


@dataclass(frozen=True)
class PixelScene:
    """One feature vector per labelled pixel, for scenes without full image cubes.

    modalities: name -> (N, C) float32; labels: (N,) int64 in 1..n_classes;
    coords: (N, 2) int (row, col) in an image of `image_shape`;
    splits: optional named boolean masks over the N rows (e.g. the official train/test).
    """

    name: str
    modalities: dict[str, np.ndarray]
    labels: np.ndarray
    coords: np.ndarray
    image_shape: tuple[int, int]
    class_names: tuple[str, ...]
    splits: dict[str, np.ndarray] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = self.labels.shape[0]
        expect(self.labels.ndim == 1, DataError, f"pixel scene {self.name!r}: labels must be 1-D, found shape {self.labels.shape}")
        expect(
            self.coords.shape == (n, 2), DataError, f"pixel scene {self.name!r}: coords must be ({n}, 2), found {self.coords.shape}"
        )
        for key, array in self.modalities.items():
            expect(
                array.ndim == 2 and array.shape[0] == n,
                DataError,
                f"pixel scene {self.name!r}: modality {key!r} must be ({n}, C), found shape {array.shape}",
            )
        for key, mask in self.splits.items():
            expect(
                mask.shape == (n,) and mask.dtype == bool,
                DataError,
                f"pixel scene {self.name!r}: split {key!r} must be bool ({n},), found {mask.dtype} {mask.shape}",
            )

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def modality_names(self) -> tuple[str, ...]:
        return tuple(self.modalities)

    @property
    def channels(self) -> dict[str, int]:
        return {k: int(v.shape[1]) for k, v in self.modalities.items()}

    def stacked(self) -> np.ndarray:
        return np.concatenate([m.astype(np.float32, copy=False) for m in self.modalities.values()], axis=1)
