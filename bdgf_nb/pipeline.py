"""The notebooks' steps as functions: load -> split -> standardise -> (pretrain -> features) -> train.

Each notebook calls these few functions, so the same steps run identically in every chapter and
in tests. Image scenes and pixel scenes (houston2013) share the path: a pixel table (N, C) is
laid out as a 1 x N "image" and read with patch size 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .baselines import BaselineConfig, run_baselines
from .data import load_scene
from .errors import ConfigError, expect
from .features import cached_features, extract_features, feature_cache_key
from .patches import PatchDataset, Standardizer, pixels_of, unlabelled_patches
from .presets import preset
from .pretrain import PretrainResult, pretrain
from .scene import PixelScene, Scene
from .splits import Split, default_split, random_per_class_split, with_validation


@dataclass
class Prepared:
    """A scene ready for models: standardised (C, H, W) image, split with validation hold-out.

    For a pixel scene the image is (C, 1, N) and `labels` is (1, N)."""

    scene: Scene | PixelScene
    split: Split
    standardizer: Standardizer
    image: np.ndarray
    labels: np.ndarray
    channel_groups: dict[str, int]
    patch: int

    @property
    def n_classes(self) -> int:
        return self.scene.n_classes

    @property
    def is_pixel_scene(self) -> bool:
        return isinstance(self.scene, PixelScene)

    def modalities(self) -> dict[str, np.ndarray]:
        """Standardised modalities, (H, W, C_m) each, for baselines."""
        return split_channels(np.moveaxis(self.image, 0, -1), self.channel_groups)

    def dataset(self, mask: np.ndarray, guides: list[np.ndarray] | None = None) -> PatchDataset:
        pixels = pixels_of(mask)
        return PatchDataset(self.image, pixels, self.labels[mask], self.patch, guides or [])


def split_channels(channels_last: np.ndarray, channel_groups: dict[str, int]) -> dict[str, np.ndarray]:
    """(..., C) stacked -> name -> (..., C_m), in channel-group order."""
    bounds = np.cumsum([0, *channel_groups.values()])
    return {name: channels_last[..., bounds[i] : bounds[i + 1]] for i, name in enumerate(channel_groups)}


def _grid(scene: Scene | PixelScene) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, C) stacked data and (H, W) labels; pixel scenes become 1 x N."""
    if isinstance(scene, PixelScene):
        return scene.stacked()[None], scene.labels[None].astype(np.int64)
    return scene.stacked(), scene.gt.astype(np.int64)


def prepare(scene: Scene | PixelScene | str, patch: int = 11, seed: int = 0, split: Split | None = None, val_fraction: float = 0.1) -> Prepared:
    """Split (the leak-free default unless given), standardise on training pixels, lay out (C, H, W)."""
    if isinstance(scene, str):
        scene = load_scene(scene)
    stacked, labels = _grid(scene)
    if isinstance(scene, PixelScene):
        patch = 1
    if split is None:
        split = default_split(scene, patch=patch, seed=seed)
    if split.train.ndim == 1:
        split = Split(split.name, split.train[None], split.test[None], None if split.val is None else split.val[None], split.description)
    if split.val is None:
        split = with_validation(split, labels, fraction=val_fraction, seed=seed)
    standardizer = Standardizer.fit(stacked, split.fit)
    image = np.ascontiguousarray(np.moveaxis(standardizer.transform(stacked), -1, 0))
    return Prepared(scene, split, standardizer, image, labels, scene.channels, patch)


def leaky_twin(prepared: Prepared, seed: int = 0) -> Split:
    """A random per-class split with the same training share as `prepared.split`: only the
    spatial arrangement differs, so the accuracy gap measures leakage."""
    labelled = int((prepared.labels > 0).sum())
    share = float(prepared.split.train.sum()) / labelled
    return random_per_class_split(prepared.labels, share, seed=seed)


def baseline_table(prepared: Prepared, quick: bool, seed: int = 0) -> list[dict[str, Any]]:
    """SVM and RF on each modality alone and fused, on the leak-free split and on its leaky
    random twin (same training share). Standardisation is refitted per split."""
    cfg = BaselineConfig(rf_trees=100 if quick else 300, svm_grid=not quick, max_train=1500 if quick else 4000, seed=seed)
    rows = []
    stacked, labels = _grid(prepared.scene)
    for split in (prepared.split, leaky_twin(prepared, seed)):
        image = Standardizer.fit(stacked, split.train).transform(stacked)
        for row in run_baselines(split_channels(image, prepared.channel_groups), labels, split.train, split.test, prepared.n_classes, cfg):
            rows.append({"split": split.name, **row})
    return rows


def pretrain_ddpm(prepared: Prepared, masking: str, quick: bool, seed: int, out_dir: str | Path, progress: bool = True) -> PretrainResult:
    """Pretrain (or resume / reload) the masked multimodal DDPM on unlabelled patches of the
    whole scene; the checkpoint lives in `<out_dir>/artifacts/`, so later notebooks reuse it."""
    expect(not prepared.is_pixel_scene, ConfigError, f"scene {prepared.scene.name!r} is a pixel table: the patch DDPM needs an image scene")
    settings = preset(quick, masking, seed)
    x0 = unlabelled_patches(prepared.image, settings.ddpm_patches, settings.patch, seed=seed)
    path = Path(out_dir) / "artifacts" / f"ddpm_{prepared.scene.name}_{masking}_{'quick' if quick else 'full'}_seed{seed}.pt"
    return pretrain(x0, prepared.channel_groups, settings.pretrain, checkpoint_path=path, progress=progress)


def diffusion_features(prepared: Prepared, ddpm: PretrainResult, quick: bool, out_dir: str | Path, progress: bool = True) -> list[np.ndarray]:
    """K hierarchical feature maps (G_k, H, W) of the frozen denoiser, cached on disk."""
    cfg = preset(quick).features
    key = feature_cache_key(prepared.scene.name, tuple(prepared.image.shape), cfg, ddpm.diffusion)
    maps, _ = cached_features(Path(out_dir) / "cache", key, lambda: extract_features(ddpm.diffusion, prepared.image, cfg, progress=progress))
    return maps
