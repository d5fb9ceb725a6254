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
import torch

from bdgf_nb.analysis.baselines import BaselineConfig, fit_predict, pixel_features, run_baselines
from bdgf_nb.app.presets import preset
from bdgf_nb.data.catalog import load_scene
from bdgf_nb.data.patches import PatchDataset, Standardizer, pixels_of, unlabelled_patches
from bdgf_nb.data.scene import PixelScene, Scene
from bdgf_nb.data.splits import Split, default_split, random_per_class_split, with_validation
from bdgf_nb.ddpm.features import cached_features, extract_features, feature_cache_key
from bdgf_nb.errors import ConfigError, expect
from bdgf_nb.evaluate.maps import predict_map
from bdgf_nb.evaluate.predict import score
from bdgf_nb.model.bdgf import BDGF, ablation
from bdgf_nb.train.classifier import train_classifier
from bdgf_nb.train.pretrain import PretrainResult, pretrain


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


def limit_pixels(mask: np.ndarray, labels: np.ndarray, limit: int | None, seed: int = 0) -> np.ndarray:
    """At most `limit` pixels of `mask`, drawn per class in proportion to its share (every class
    keeps at least min(its count, 5) pixels), so quick runs train on fewer pixels, same classes."""
    if limit is None or int(mask.sum()) <= limit:
        return mask
    rng = np.random.default_rng(seed)
    flat_mask, flat_labels = mask.ravel(), labels.ravel()
    keep = np.zeros(flat_mask.shape, dtype=bool)
    total = int(flat_mask.sum())
    for cls in np.unique(flat_labels[flat_mask]):
        index = np.flatnonzero(flat_mask & (flat_labels == cls))
        n = min(index.size, max(5, int(round(limit * index.size / total))))
        keep[rng.choice(index, size=n, replace=False)] = True
    return keep.reshape(mask.shape)


@dataclass
class ClassifierRun:
    """One trained classifier and its leak-free test score."""

    variant: str
    report: dict[str, Any]
    history: list[dict[str, float]]
    best_epoch: int
    seconds: float
    n_parameters: int
    model: Any

    def row(self) -> dict[str, Any]:
        """Flat result row for tables, summary.json and plots."""
        keys = ("overall_accuracy", "average_accuracy", "kappa")
        return {"method": self.variant, **{k: self.report[k] for k in keys}, "best_epoch": self.best_epoch,
                "seconds": round(self.seconds, 1), "parameters": self.n_parameters}


def train_variant(
    prepared: Prepared,
    guides: list[np.ndarray],
    variant: str,
    quick: bool,
    seed: int,
    out_dir: str | Path,
    tag: str = "",
    progress: bool = True,
) -> ClassifierRun:
    """Train BDGF or one of its ablations (model.ABLATIONS, "+"-joined to combine) on the leak-free split and score it
    on the test pixels. `guides`: K diffusion feature maps (G_k, H, W), or [] (no diffusion).

    The checkpoint `<out_dir>/artifacts/clf_<scene>_<variant><tag>_<mode>_seed<seed>.pt` makes a
    rerun (or a later notebook asking for the same run) reload instead of retraining; `tag`
    names what the config does not capture, e.g. which DDPM the guides came from."""
    settings = preset(quick, seed=seed)
    cfg = settings.model
    for part in variant.split("+"):  # e.g. "cnn_only+no_guidance"
        cfg = ablation(cfg, part)
    guides = guides if cfg.guidance else []
    torch.manual_seed(seed)  # weights are drawn from the global RNG
    model = BDGF(cfg, prepared.channel_groups, [g.shape[0] for g in guides], prepared.n_classes)
    fit = limit_pixels(prepared.split.fit, prepared.labels, settings.max_train_pixels, seed)
    val = limit_pixels(prepared.split.val if prepared.split.val is not None else fit, prepared.labels, settings.max_val_pixels, seed)
    name = f"clf_{prepared.scene.name}_{variant}{tag}_{'quick' if quick else 'full'}_seed{seed}.pt"
    result = train_classifier(model, prepared.dataset(fit, guides), prepared.dataset(val, guides), prepared.n_classes,
                              settings.train, checkpoint_path=Path(out_dir) / "artifacts" / name, progress=progress)
    report = score(result.model, prepared.dataset(prepared.split.test, guides), prepared.n_classes)
    return ClassifierRun(variant, report, result.history, result.best_epoch, result.seconds, model.n_parameters, result.model)


def predict_scene(prepared: Prepared, run: ClassifierRun, guides: list[np.ndarray]) -> np.ndarray:
    """(H, W) map of predicted labels (1-based) over every pixel of the scene, in row tiles."""
    return predict_map(run.model, prepared.image, prepared.patch, guides if run.model.cfg.guidance else [], batch_size=512)


def _baseline_config(quick: bool, seed: int, features: str, models: tuple[str, ...] = ("svm", "rf")) -> BaselineConfig:
    return BaselineConfig(models=models, features=features, rf_trees=100 if quick else 300, svm_grid=not quick,
                          max_train=1500 if quick else 4000, seed=seed)


def fused_baselines(prepared: Prepared, quick: bool, seed: int = 0) -> list[dict[str, Any]]:
    """SVM and RF on all modalities stacked, on the leak-free split: centre pixel (notebook 00)
    and centre + 11 x 11 window mean/std ("patch stats", the spatial baseline of PEERS.md)."""
    labels, split = prepared.labels, prepared.split
    features = ("centre",) if prepared.is_pixel_scene else ("centre", "patch_stats")
    rows = []
    for kind in features:
        fused = {"+".join(prepared.channel_groups): np.moveaxis(prepared.image, 0, -1)}
        for row in run_baselines(fused, labels, split.train, split.test, prepared.n_classes, _baseline_config(quick, seed, kind)):
            rows.append({**row, "method": f"{row['method']} ({kind.replace('_', ' ')})"})
    return rows


def baseline_scene_map(prepared: Prepared, quick: bool, seed: int = 0, model: str = "rf", features: str = "patch_stats") -> np.ndarray:
    """(H, W) labels predicted by a fused baseline for every pixel of the scene."""
    cfg = _baseline_config(quick, seed, features, (model,))
    stacked = pixel_features(np.moveaxis(prepared.image, 0, -1), features, prepared.patch)
    split = prepared.split
    predicted = fit_predict(model, stacked[split.train], prepared.labels[split.train], stacked.reshape(-1, stacked.shape[-1]), cfg)
    return predicted.reshape(prepared.labels.shape)
