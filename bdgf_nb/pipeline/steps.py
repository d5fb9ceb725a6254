"""The notebooks' steps as functions: load -> split -> standardise -> (pretrain -> features) -> train.

Every function takes the run's `RunContext` (scene name, sizes, seed, output folder) first, so
the same steps run identically in every chapter, in `bdgf-bench` and in the torchrun command
line. Image scenes and pixel scenes (houston2013) share the path: a pixel table (N, C) is laid
out as a 1 x N "image" and read with patch size 1; it has no neighbourhood to pretrain a patch
DDPM on, so its diffusion features are empty.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
import sklearn
import torch

from bdgf_nb.checkpoint import state_dict_hash
from bdgf_nb.data.checks import check_informative_bands
from bdgf_nb.data.load import check_classes, load_scene
from bdgf_nb.data.patches import PatchDataset, Standardizer, pixels_of, unlabelled_patches
from bdgf_nb.data.sampling import limit_mask, per_class_mask
from bdgf_nb.data.scene import PixelScene, Scene
from bdgf_nb.data.splits import (
    Split,
    check_measurable,
    default_split,
    random_per_class_split,
    scene_official_split,
    with_validation,
)
from bdgf_nb.ddpm.diffusion import GaussianDiffusion
from bdgf_nb.ddpm.features import cached_features, extract_features, feature_cache_key
from bdgf_nb.ddpm.masking import matched_rate
from bdgf_nb.errors import ConfigError, DataError, expect
from bdgf_nb.evaluate.maps import predict_map
from bdgf_nb.evaluate.predict import predict, score
from bdgf_nb.metrics import METRICS, SHORT_NAMES, classification_report
from bdgf_nb.model.baselines import fit_predict, pixel_features, run_baselines
from bdgf_nb.model.bdgf import BDGF, equal_size_width
from bdgf_nb.model.ensemble import EnsembleChoice, choose_ensemble_rule
from bdgf_nb.model.two_stream import TwoStreamCNN, TwoStreamConfig
from bdgf_nb.pipeline.context import DDPMSource, RunContext
from bdgf_nb.pipeline.variants import Variant
from bdgf_nb.storage import array_digest, stored_array, stored_json
from bdgf_nb.train import distributed as ddp
from bdgf_nb.train.classifier import train_classifier
from bdgf_nb.train.pretrain import PretrainConfig, pretrain, steps_per_epoch


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


@dataclass
class DiffusionFeatures:
    """The frozen denoiser's K feature maps of the whole scene, (G_k, H, W) each (docs/METHOD.md
    §2), and the DDPM they came from. Distinct from a classifier's *branch features* f_k.
    Empty (`maps == []`, `source is None`) for a pixel table, which has no DDPM."""

    maps: list[np.ndarray]
    source: DDPMSource | None

    @classmethod
    def absent(cls) -> DiffusionFeatures:
        return cls([], None)


@dataclass
class PretrainedDDPM:
    """A pretrained (or reloaded) DDPM and its provenance; fields as `train.pretrain.PretrainResult`."""

    source: DDPMSource
    diffusion: GaussianDiffusion  # eval mode, on the CPU
    history: list[dict[str, float]]
    seconds: float
    config: PretrainConfig | None = None  # how it was trained (epochs derived from the scene's patches)
    n_patches: int = 0  # unlabelled patches it was trained on (the held-out balance ones included)

    @property
    def steps_per_epoch(self) -> int:
        """Optimiser steps of one of its epochs (what the masking panel replays step by step)."""
        expect(self.config is not None, ConfigError, "steps_per_epoch: this DDPM records no config")
        assert self.config is not None
        return steps_per_epoch(self.n_patches, self.config)


def split_channels(channels_last: np.ndarray, channel_groups: dict[str, int]) -> dict[str, np.ndarray]:
    """(..., C) stacked -> name -> (..., C_m), in channel-group order."""
    bounds = np.cumsum([0, *channel_groups.values()])
    return {name: channels_last[..., bounds[i] : bounds[i + 1]] for i, name in enumerate(channel_groups)}


def _grid(scene: Scene | PixelScene) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, C) stacked data and (H, W) labels; pixel scenes become 1 x N."""
    if isinstance(scene, PixelScene):
        return scene.stacked()[None], scene.labels[None].astype(np.int64)
    return scene.stacked(), scene.gt.astype(np.int64)


def prepare(
    ctx: RunContext, scene: Scene | PixelScene | None = None, split: Split | None = None, val_fraction: float = 0.1
) -> Prepared:
    """Split (unless given, by the preset's protocol: the leak-free split, or the scene's
    official one under the paper preset; splits.default_split), carve a spatially separate
    validation set out of the training region, standardise on the fit pixels, lay out (C, H, W).

    `scene`: None loads `ctx.dataset` from the run's catalog. A split that cannot measure (a
    class missing from train or test, too few test pixels) is refused unless
    `ctx.allow_unmeasurable`, which turns the refusal into `split.warnings`.
    Validation follows the test split's buffer rule (patch - 1 pixels: no validation patch
    shares a pixel with a training patch), so early stopping and every choice made on it see
    the same spatial shift as the test."""
    if scene is None:
        scene = load_scene(ctx.dataset, ctx.catalog)
    check_classes(scene)  # a scene built in memory too: two classes at least, before any model
    check_informative_bands(scene.modalities, scene.metadata.get("modality_files", {}), f"dataset {scene.name!r}")
    stacked, labels = _grid(scene)
    patch = 1 if isinstance(scene, PixelScene) else scene_patch(scene, ctx.preset.patch)
    if split is None:
        split = default_split(
            scene,
            patch=patch,
            seed=ctx.seed,
            allow_unmeasurable=ctx.allow_unmeasurable,
            protocol=ctx.preset.split,
            block=ctx.split_block,
            stripes=ctx.split_stripes,
        )
    else:
        split = check_measurable(split, labels.reshape(split.train.shape), scene.class_names, ctx.allow_unmeasurable)
    if split.train.ndim == 1:
        split = replace(
            split, train=split.train[None], test=split.test[None], val=None if split.val is None else split.val[None]
        )
    if split.val is None:
        coords = scene.coords if isinstance(scene, PixelScene) else None
        groups = None if isinstance(scene, PixelScene) else scene.metadata.get("groups")  # tiles: whole plots validate
        split = with_validation(
            split,
            labels,
            fraction=val_fraction,
            seed=ctx.seed,
            patch=patch,
            coords=coords,
            buffer=patch - 1,
            groups=groups,
        )
    standardizer = Standardizer.fit(stacked, split.fit, scene.channels)
    image = np.ascontiguousarray(np.moveaxis(standardizer.transform(stacked), -1, 0))
    return Prepared(scene, split, standardizer, image, labels, scene.channels, patch)


def scene_patch(scene: Scene, wanted: int) -> int:
    """The preset's patch side, capped for a scene of tiles (padded by `pad` pixels each) at
    2 * pad + 1, the largest patch that never reads another tile's pixels."""
    pad = scene.metadata.get("pad")
    return wanted if pad is None else min(wanted, 2 * int(pad) + 1)


def leaky_twin(prepared: Prepared, seed: int = 0, split: Split | None = None) -> Split:
    """A random per-class split with the same training share as `split` (default
    `prepared.split`): the accuracy gap to the leak-free split measures what spatial leakage
    inflates."""
    labelled = int((prepared.labels > 0).sum())
    share = float((prepared.split if split is None else split).train.sum()) / labelled
    return random_per_class_split(prepared.labels, share, seed=seed)


@dataclass(frozen=True)
class SplitComparison:
    """Notebook 00's splits side by side: the leak-free split, the scene's official one (None
    where it ships none, or where its leak-free protocol is its official split) and the random
    twin of the leak-free split. `used`: the name of the one chapters 01-04 score on."""

    leak_free: Split
    official: Split | None
    random: Split
    used: str

    def named(self) -> dict[str, Split]:
        """The splits by the names notebook 00's tables and summary.json show."""
        official = {} if self.official is None else {"official": self.official}
        return {**official, f"leak-free ({self.leak_free.name})": self.leak_free, "random (leaky twin)": self.random}


def compared_splits(ctx: RunContext, prepared: Prepared) -> SplitComparison:
    """The leak-free split, the official split where the scene ships one (what published tables
    report) and a random split with the leak-free split's training share. The run's own split
    (`prepared.split`, validation hold-out included in its training pixels) is one of them: the
    leak-free one, or the official one under the paper preset; the other is drawn here (a
    leak-free split that cannot measure every class is kept, with its warnings)."""
    own, scene = prepared.split, prepared.scene
    if own.name == "official":
        leak_free = default_split(
            scene,
            prepared.patch,
            seed=ctx.seed,
            allow_unmeasurable=True,
            block=ctx.split_block,
            stripes=ctx.split_stripes,
        )
    else:
        leak_free = own
    official = None
    if leak_free.name != "official" and not prepared.is_pixel_scene:  # pixel tables: no windows to compare
        official = own if own.name == "official" else scene_official_split(scene)
    return SplitComparison(leak_free, official, leaky_twin(prepared, ctx.seed, leak_free), own.name)


def baseline_table(ctx: RunContext, prepared: Prepared, splits: SplitComparison | None = None) -> list[dict[str, Any]]:
    """SVM and RF on each modality alone and fused, on each split of `splits` (default
    `compared_splits`): the leak-free split, the official one where the scene ships one, and
    the random twin (same training share as the leak-free split). Standardisation is refitted
    per split."""
    cfg = ctx.preset.baseline_config(ctx.seed)
    rows = []
    stacked, labels = _grid(prepared.scene)
    for split in (splits or compared_splits(ctx, prepared)).named().values():
        image = Standardizer.fit(stacked, split.train).transform(stacked)
        for row in run_baselines(
            split_channels(image, prepared.channel_groups), labels, split.train, split.test, prepared.n_classes, cfg
        ):
            rows.append({"split": split.name, **row})
    return rows


def pretrain_ddpm(
    ctx: RunContext, prepared: Prepared, masking: str, seed: int | None = None, progress: bool = True
) -> PretrainedDDPM:
    """Pretrain (or resume / reload) the masked multimodal DDPM on unlabelled patches of the
    whole scene (docs/METHOD.md §1); the checkpoint lives in `<out_dir>/artifacts/`, so later
    notebooks reuse it. `seed`: the DDPM's seed (default: the run's).

    masking="random_matched" is the control for adaptive masking: random masking at the mean
    masking rate the adaptive DDPM of the same seed spent (pretrained first if needed), so
    "adaptive beats random" compares two schedules of the same budget."""
    expect(
        not prepared.is_pixel_scene,
        ConfigError,
        f"scene {prepared.scene.name!r} is a pixel table: the patch DDPM needs an image scene",
    )
    source = DDPMSource(masking, ctx.seed if seed is None else seed)
    settings = ctx.preset
    matched_p = None
    if masking == "random_matched":
        adaptive = pretrain_ddpm(ctx, prepared, "adaptive", source.seed, progress=progress)
        matched_p = matched_rate(adaptive.history, list(prepared.channel_groups))
    valid = prepared.scene.metadata.get("valid")  # tiles: padding and nodata holes are no pretraining data
    x0 = unlabelled_patches(prepared.image, settings.ddpm_patches, prepared.patch, seed=source.seed, mask=valid)
    cfg = settings.pretrain_config(masking, source.seed, matched_p, n_patches=x0.shape[0])
    checkpoint = ctx.ddpm_checkpoint(prepared.scene.name, source)
    result = pretrain(x0, prepared.channel_groups, cfg, checkpoint_path=checkpoint, progress=progress)
    return PretrainedDDPM(source, result.diffusion, result.history, result.seconds, cfg, x0.shape[0])


def extract_diffusion_features(
    ctx: RunContext, prepared: Prepared, ddpm: PretrainedDDPM, progress: bool = True
) -> DiffusionFeatures:
    """K hierarchical feature maps (G_k, H, W) of the frozen denoiser (docs/METHOD.md §2), cached on disk."""
    cfg = ctx.preset.features.at_patch(prepared.patch)  # read at the patch the DDPM was trained on
    diffusion = ddpm.diffusion
    key = feature_cache_key(prepared.scene.name, tuple(prepared.image.shape), cfg, diffusion)
    maps, _ = cached_features(
        ctx.cache_dir, key, lambda: extract_features(diffusion, prepared.image, cfg, progress=progress)
    )
    return DiffusionFeatures(maps, ddpm.source)


def features_per_timestep(
    ctx: RunContext, prepared: Prepared, ddpm: PretrainedDDPM, progress: bool = True
) -> dict[int, list[np.ndarray]]:
    """t -> the K maps (G_k, H, W) read at that timestep alone (the maps BDGF uses average them:
    same tiles and noise draws, `reduce="concat"`), cached on disk like the run's features."""
    cfg = replace(ctx.preset.features.at_patch(prepared.patch), reduce="concat")
    diffusion = ddpm.diffusion
    key = feature_cache_key(prepared.scene.name, tuple(prepared.image.shape), cfg, diffusion)
    maps, _ = cached_features(
        ctx.cache_dir, key, lambda: extract_features(diffusion, prepared.image, cfg, progress=progress)
    )
    n = len(cfg.timesteps)
    return {t: [m.reshape(n, -1, *m.shape[1:])[i] for m in maps] for i, t in enumerate(cfg.timesteps)}


def diffusion_features(
    ctx: RunContext, prepared: Prepared, masking: str, seed: int | None = None, progress: bool = True
) -> DiffusionFeatures:
    """A scene's diffusion features from the DDPM of masking mode `masking` (pretrained, or
    reloaded from its checkpoint); empty for a pixel table."""
    if prepared.is_pixel_scene:
        return DiffusionFeatures.absent()
    return extract_diffusion_features(
        ctx, prepared, pretrain_ddpm(ctx, prepared, masking, seed, progress=progress), progress=progress
    )


@dataclass
class ClassifierRun:
    """One trained classifier, its leak-free test score, its validation score (the spatially
    separate hold-out it was selected on), where it came from, and for a multi-branch model the
    ensemble rules compared on validation (model.ensemble)."""

    variant: str
    seed: int
    ddpm: DDPMSource | None  # the DDPM whose features it was trained with (None: no DDPM)
    report: dict[str, Any]  # test, with the model's own ensemble rule
    history: list[dict[str, float]]
    best_epoch: int
    seconds: float
    n_parameters: int
    model: Any
    ensembles: EnsembleChoice | None = None

    def row(self) -> dict[str, Any]:
        """Flat result row for tables, summary.json and plots: test metrics, and the validation
        metrics of the selected epoch beside them (their gap is the spatial shift)."""
        best = self.history[self.best_epoch - 1] if self.best_epoch >= 1 else {}
        return {
            "method": self.variant,
            **{k: self.report[k] for k in METRICS},
            **{f"val_{k}": best.get(f"val_{SHORT_NAMES[k]}", float("nan")) for k in METRICS},
            "best_epoch": self.best_epoch,
            "seconds": round(self.seconds, 1),
            "parameters": self.n_parameters,
        }

    def guides(self, features: DiffusionFeatures) -> list[np.ndarray]:
        """The guide maps this model reads: `features.maps`, or none for an unguided ablation."""
        expect(
            features.source == self.ddpm,
            ConfigError,
            f"{self.variant} was trained with the features of {self.ddpm}, found features of {features.source}",
        )
        return features.maps if self.model.cfg.guidance else []


def training_pixels(ctx: RunContext, prepared: Prepared, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fit, val) masks a classifier of model seed `seed` trains and selects on: the same for
    every variant of that seed (paired comparisons); capped, class-stratified, where the preset
    caps them (quick mode).

    Under a label budget (`ctx.labels_per_class`), fit holds that many pixels per class drawn
    inside the spatially disjoint fit region with `seed` (`data.sampling.per_class_mask`), and
    val as many per class inside the validation blocks: a validation set larger than the
    training set would spend labels the budget does not have. The classifier then trains for a
    fixed length (`Preset.train_config`), so validation only records."""
    settings, budget = ctx.preset, ctx.labels_per_class
    val_region = prepared.split.val if prepared.split.val is not None else prepared.split.fit
    if budget is not None:
        fit = per_class_mask(prepared.split.fit, prepared.labels, budget, seed)
        return fit, per_class_mask(val_region, prepared.labels, budget, seed)
    fit = limit_mask(prepared.split.fit, prepared.labels, settings.max_train_pixels, seed)
    val = limit_mask(
        val_region if prepared.split.val is not None else fit, prepared.labels, settings.max_val_pixels, seed
    )
    return fit, val


def labelled_pixels(ctx: RunContext, prepared: Prepared, seed: int) -> np.ndarray:
    """The labelled pixels a baseline (SVM, RF, probe) of model seed `seed` may learn from: the
    whole training region, or under a label budget exactly the pixels the classifiers of that
    seed train on (the budget is the same for every method)."""
    if ctx.labels_per_class is None:
        return prepared.split.train
    return training_pixels(ctx, prepared, seed)[0]


def train_variant(
    ctx: RunContext,
    prepared: Prepared,
    features: DiffusionFeatures,
    variant: Variant,
    seed: int | None = None,
    progress: bool = True,
    watch_test: bool = False,
) -> ClassifierRun:
    """Train BDGF or one of its ablations (`Variant`) on the leak-free split and score it on the
    test pixels. `features`: the diffusion features that guide it (`DiffusionFeatures.absent()`
    for none); `seed`: model seed (default: the run's). `watch_test`: also score the test pixels
    whenever validation is scored, into the history only (`train_classifier`'s `watch_set`; the
    "best test epoch" row of docs/PROTOCOL.md), in a file of its own (`_watched`); the training
    is unchanged, so its last weights are those of the unwatched run.

    The checkpoint (`RunContext.classifier_checkpoint`: scene, variant, DDPM, size, seed) makes
    a rerun, or a later notebook asking for the same run, reload instead of retraining."""
    seed = ctx.seed if seed is None else seed
    settings = ctx.preset
    cfg = variant.config(settings.model)
    guide_channels = [g.shape[0] for g in features.maps]
    if variant.equal_size:  # widened to the guided model's size
        cfg = replace(
            cfg,
            width=equal_size_width(
                replace(cfg, guidance=True), prepared.channel_groups, guide_channels, prepared.n_classes
            ),
        )
    guides = features.maps if cfg.guidance else []
    torch.manual_seed(seed)  # weights are drawn from the global RNG
    model = BDGF(cfg, prepared.channel_groups, guide_channels if cfg.guidance else [], prepared.n_classes)
    fit, val = training_pixels(ctx, prepared, seed)
    checkpoint = ctx.classifier_checkpoint(prepared.scene.name, variant.key, features.source, seed)
    if watch_test:
        checkpoint = checkpoint.with_name(f"{checkpoint.stem}_watched{checkpoint.suffix}")
    val_set = prepared.dataset(val, guides)
    test_set = prepared.dataset(prepared.split.test, guides)
    result = train_classifier(
        model,
        prepared.dataset(fit, guides),
        val_set,
        prepared.n_classes,
        settings.train_config(seed, budget=ctx.labels_per_class is not None),
        checkpoint_path=checkpoint,
        progress=progress,
        watch_set=test_set if watch_test else None,
    )
    # Stored beside the checkpoint, keyed by the weights and the pixels scored: a reload (the
    # notebook after `bdgf-run --jobs`, a later chapter) reads it instead of predicting again.
    # The device type is in the key (bf16 autocast on CUDA, fp32 on CPU: evaluate.predict), and
    # torch's version (its kernels); bump "evaluation" when evaluate_classifier, predict,
    # classification_report or the ensemble rules change what they compute.
    key = {
        "evaluation": 1,
        "weights": state_dict_hash(model),
        "model": model.config_dict(),
        "test": test_set.fingerprint(),
        "val": val_set.fingerprint(),
        "n_classes": prepared.n_classes,
        "device": next(model.parameters()).device.type,
        "torch": torch.__version__,
    }
    evaluation = stored_json(
        checkpoint.with_suffix(".eval.json"),
        key,
        lambda: evaluate_classifier(model, test_set, val_set, prepared.n_classes),
        write=ddp.is_main(),
    )
    ensembles = EnsembleChoice(**evaluation["ensembles"]) if evaluation["ensembles"] is not None else None
    return ClassifierRun(
        variant.key,
        seed,
        features.source,
        evaluation["report"],
        result.history,
        result.best_epoch,
        result.seconds,
        model.n_parameters,
        result.model,
        ensembles,
    )


def train_two_stream(
    ctx: RunContext, prepared: Prepared, seed: int | None = None, progress: bool = True
) -> dict[str, Any]:
    """The peers' plain two-stream 2-D CNN (`model.two_stream`) trained exactly as BDGF's runs of
    model seed `seed` are: the same fit and validation pixels (`training_pixels`), the same
    training config (fixed length under a label budget), its own checkpoint; returns its test
    report (OA, AA, kappa, per class) for a paired comparison."""
    seed = ctx.seed if seed is None else seed
    torch.manual_seed(seed)  # weights are drawn from the global RNG
    model = TwoStreamCNN(TwoStreamConfig(), prepared.channel_groups, prepared.n_classes)
    fit, val = training_pixels(ctx, prepared, seed)
    train_classifier(
        model,
        prepared.dataset(fit),
        prepared.dataset(val),
        prepared.n_classes,
        ctx.preset.train_config(seed, budget=ctx.labels_per_class is not None),
        checkpoint_path=ctx.classifier_checkpoint(prepared.scene.name, "two_stream_cnn", None, seed),
        progress=progress,
    )
    return score(model, prepared.dataset(prepared.split.test), prepared.n_classes)


def evaluate_classifier(model: BDGF, test_set: PatchDataset, val_set: PatchDataset, n_classes: int) -> dict[str, Any]:
    """The test report of the model's own ensemble rule, and for a multi-branch model every
    ensemble rule fitted and chosen on validation (model.ensemble), as JSON data."""
    test_out = predict(model, test_set)
    y_test = test_set.targets.numpy()
    report = classification_report(y_test + 1, test_out["probabilities"].argmax(1) + 1, n_classes).to_dict()
    ensembles = None
    if len(model.cfg.branches) > 1:
        val_out = predict(model, val_set)
        ensembles = asdict(
            choose_ensemble_rule(
                val_out["branch_probabilities"],
                val_set.targets.numpy(),
                test_out["branch_probabilities"],
                y_test,
                n_classes,
            )
        )
    return {"report": report, "ensembles": ensembles}


def predict_test(prepared: Prepared, run: ClassifierRun, features: DiffusionFeatures) -> dict[str, np.ndarray]:
    """`evaluate.predict.predict` on the test pixels (row-major order), plus their 0-based `labels`."""
    test_set = prepared.dataset(prepared.split.test, run.guides(features))
    return {**predict(run.model, test_set), "labels": test_set.targets.numpy()}


def predict_scene(
    prepared: Prepared, run: ClassifierRun, features: DiffusionFeatures, ctx: RunContext | None = None
) -> np.ndarray:
    """(H, W) map of predicted labels (1-based) over every pixel of the scene, in row tiles.

    With `ctx`, the map is stored beside the run's checkpoint, keyed by the weights, the image,
    the guide maps, the patch size, the device type and torch's version: notebook 04 draws the
    map notebook 03 made instead of predicting the whole scene again. Bump "scene_map" when
    predict_map changes what it computes. Pixels without data in some modality (metadata
    "valid" False: a nodata `mask`, a tile's padding) stay 0, unclassified."""
    guides = run.guides(features)
    valid = prepared.scene.metadata.get("valid")

    def compute() -> np.ndarray:
        return predict_map(run.model, prepared.image, prepared.patch, guides, mask=valid)

    if ctx is None:
        return compute()
    key = {
        "scene_map": 1,
        "weights": state_dict_hash(run.model),
        "model": run.model.config_dict(),
        "image": array_digest(prepared.image),
        "guides": [array_digest(g) for g in guides],
        "patch": prepared.patch,
        "device": next(run.model.parameters()).device.type,
        "torch": torch.__version__,
        **({"valid": array_digest(valid)} if valid is not None else {}),
    }
    path = ctx.classifier_checkpoint(prepared.scene.name, run.variant, run.ddpm, run.seed).with_suffix(".map.npz")
    return stored_array(path, key, compute, write=ddp.is_main())


def fused_baselines(ctx: RunContext, prepared: Prepared, seed: int | None = None) -> list[dict[str, Any]]:
    """SVM and RF on all modalities stacked, on the leak-free split: centre pixel (notebook 00)
    and centre + p x p window mean/std ("patch stats", the spatial baseline of the published peers, docs/PROTOCOL.md).
    `seed` (default: the run's) draws the forest and the SVM's training pixels, so baselines
    pair with the classifiers of the same model seed."""
    seed = ctx.seed if seed is None else seed
    labels, split = prepared.labels, prepared.split
    train = labelled_pixels(ctx, prepared, seed)  # under a label budget: the classifiers' pixels
    configs = [
        ctx.preset.baseline_config(seed, kind)
        for kind in (("centre",) if prepared.is_pixel_scene else ("centre", "patch_stats"))
    ]

    fused = {"+".join(prepared.channel_groups): np.moveaxis(prepared.image, 0, -1)}

    def fit_all() -> list[dict[str, Any]]:
        rows = []
        for cfg in configs:
            for row in run_baselines(fused, labels, train, split.test, prepared.n_classes, cfg):
                rows.append({**row, "method": f"{row['method']} ({cfg.features.replace('_', ' ')})"})
        return rows

    # Stored (keyed by the configs, the image, the labels, the split and scikit-learn's version):
    # `bdgf-run --jobs` fits them in a worker, and the notebook reads them. Bump
    # "fused_baselines" when run_baselines, fit_predict or pixel_features change what they compute.
    key = {
        "fused_baselines": 1,
        "configs": [asdict(cfg) for cfg in configs],
        "channels": prepared.channel_groups,
        "image": array_digest(prepared.image),
        "labels": array_digest(labels),
        "train": array_digest(train),
        "test": array_digest(split.test),
        "n_classes": prepared.n_classes,
        "sklearn": sklearn.__version__,
    }
    rows: list[dict[str, Any]] = stored_json(
        ctx.baseline_results(prepared.scene.name, seed), key, fit_all, write=ddp.is_main()
    )
    return rows


def best_baseline(rows: Sequence[dict[str, Any]]) -> tuple[str, str, str]:
    """(name, model, features) of the fused baseline of highest mean test OA among notebook 03's
    rows (family "baseline", named "SVM (patch stats)" by `fused_baselines`): the map to set
    beside BDGF's is the best baseline's, not a fixed one."""
    scores: dict[str, list[float]] = {}
    for r in rows:
        if r.get("family") == "baseline":
            scores.setdefault(str(r["method"]), []).append(float(r["overall_accuracy"]))
    expect(bool(scores), DataError, "best_baseline: no baseline rows (family 'baseline') among the results")
    name = max(scores, key=lambda m: sum(scores[m]) / len(scores[m]))
    model, _, features = name.partition(" (")
    return name, model.lower(), features.rstrip(")").replace(" ", "_")


def baseline_scene_map(
    ctx: RunContext, prepared: Prepared, model: str = "rf", features: str = "patch_stats"
) -> np.ndarray:
    """(H, W) labels predicted by a fused baseline for every pixel of the scene.

    Stored (keyed by the config, the image, the labels, the split, the patch size and
    scikit-learn's version) so notebooks 03 and 04 fit and predict it once. Bump
    "baseline_map" when fit_predict or pixel_features change what they compute. Pixels without
    data (metadata "valid" False) stay 0, as in predict_scene."""
    cfg = ctx.preset.baseline_config(ctx.seed, features, (model,))
    train = labelled_pixels(ctx, prepared, ctx.seed)
    valid = prepared.scene.metadata.get("valid")

    def compute() -> np.ndarray:
        stacked = pixel_features(np.moveaxis(prepared.image, 0, -1), features, prepared.patch)
        predicted = fit_predict(
            model, stacked[train], prepared.labels[train], stacked.reshape(-1, stacked.shape[-1]), cfg
        ).reshape(prepared.labels.shape)
        return predicted if valid is None else np.where(valid, predicted, 0)

    key = {
        "baseline_map": 1,
        "config": asdict(cfg),
        "image": array_digest(prepared.image),
        "labels": array_digest(prepared.labels),
        "train": array_digest(train),
        "patch": prepared.patch,
        "sklearn": sklearn.__version__,
        **({"valid": array_digest(valid)} if valid is not None else {}),
    }
    return stored_array(
        ctx.baseline_map(prepared.scene.name, ctx.seed, model, features), key, compute, write=ddp.is_main()
    )
