"""The typed scene every step of the pipeline consumes.

A `Scene` is a co-registered stack of named modalities over one (H, W) grid plus labels. The
first modality is the spectral image (HSI or multispectral); the rest are auxiliary (LiDAR/DSM,
SAR, ...). Nothing downstream assumes exactly two modalities.

A `PixelScene` is the pixel-level variant for benchmarks whose full cubes are unavailable
(houston2013: HSI only at the training pixels): one feature vector per labelled pixel.

Both check themselves on construction and raise DataError naming the scene and the field:
numpy arrays of real, finite numbers; labels 0 (unlabelled) / 1..n_classes with every class
present; matching shapes. The array checks (checks.py) are the ones the readers apply, so a
scene read from files and one built in memory follow the same rules.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bdgf_nb.data.checks import check, validate_labels, validate_values


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
        where = f"scene {self.name!r}"
        check(len(self.modalities) >= 1, f"{where}: expected at least one modality, found none")
        check(
            isinstance(self.gt, np.ndarray) and self.gt.ndim == 2,
            f"{where}: gt must be a 2-D (H, W) numpy array, "
            f"found {type(self.gt).__name__} of shape {np.shape(self.gt)}",
        )
        check(len(self.class_names) >= 1, f"{where}: expected at least one class name, found none")
        validate_labels(self.gt, f"{where}, gt", n_classes=len(self.class_names))
        for key, array in self.modalities.items():
            m_where = f"{where}, modality {key!r}"
            check(
                isinstance(array, np.ndarray) and array.ndim == 3 and array.shape[:2] == self.gt.shape,
                f"{m_where}: must be (H, W, C) with (H, W) = {self.gt.shape}, "
                f"found {type(array).__name__} of shape {np.shape(array)}",
            )
            validate_values(array, m_where)
        for mask_name in ("train_mask", "test_mask"):
            mask = getattr(self, mask_name)
            if mask is not None:
                check(
                    isinstance(mask, np.ndarray) and mask.shape == self.gt.shape and mask.dtype == bool,
                    f"{where}: {mask_name} must be bool {self.gt.shape}, "
                    f"found {getattr(mask, 'dtype', type(mask).__name__)} {np.shape(mask)}",
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
        where = f"pixel scene {self.name!r}"
        check(
            isinstance(self.labels, np.ndarray) and self.labels.ndim == 1,
            f"{where}: labels must be a 1-D numpy array, "
            f"found {type(self.labels).__name__} of shape {np.shape(self.labels)}",
        )
        n = self.labels.shape[0]
        check(
            isinstance(self.coords, np.ndarray) and self.coords.shape == (n, 2),
            f"{where}: coords must be ({n}, 2), found {np.shape(self.coords)}",
        )
        check(len(self.class_names) >= 1, f"{where}: expected at least one class name, found none")
        validate_labels(self.labels, f"{where}, labels", n_classes=len(self.class_names), allow_unlabelled=False)
        for key, array in self.modalities.items():
            m_where = f"{where}, modality {key!r}"
            check(
                isinstance(array, np.ndarray) and array.ndim == 2 and array.shape[0] == n,
                f"{m_where}: must be ({n}, C), found {type(array).__name__} of shape {np.shape(array)}",
            )
            validate_values(array, m_where)
        for key, mask in self.splits.items():
            check(
                isinstance(mask, np.ndarray) and mask.shape == (n,) and mask.dtype == bool,
                f"{where}: split {key!r} must be bool ({n},), "
                f"found {getattr(mask, 'dtype', type(mask).__name__)} {np.shape(mask)}",
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
