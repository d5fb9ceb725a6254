"""Run sizes in one place: `quick` (CI size), `full` and `paper`, so every notebook uses the same numbers.

A `Preset` is resolved once per run (into the `RunContext`) and passed down; the per-DDPM and
per-seed configs are derived from it (`pretrain_config`, `train_config`, `baseline_config`), so
no function below the notebooks turns `quick` into sizes again.

`full` runs the evaluation protocol (docs/PROTOCOL.md): all training pixels, 5 classifier seeds
paired across variants, 2 DDPM draws per masking arm, with models far below the full-size design
(docs/METHOD.md §6) so that houston2018_west's protocol fits in an hour on 2 CPU cores; its
stopping rule (patience 4, gains above 1 kappa point) was chosen on validation histories alone
(docs/PROTOCOL.md). `quick` shrinks epochs, seeds and pixel counts so every notebook runs in CI;
`paper` is the full-size design, for a GPU, and scores on the scene's official split where it
ships one (what published tables report, so its tables compare with theirs); `quick` and `full`
score on the leak-free split, the project's default (`split`, data/splits.default_split).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from bdgf_nb.ddpm.features import FeatureConfig
from bdgf_nb.ddpm.masking import MaskingConfig
from bdgf_nb.ddpm.unet import UNetConfig
from bdgf_nb.errors import ConfigError, expect
from bdgf_nb.model.baselines import BaselineConfig
from bdgf_nb.model.config import BDGFConfig
from bdgf_nb.train.classifier import TrainConfig
from bdgf_nb.train.pretrain import PretrainConfig, steps_per_epoch


@dataclass(frozen=True)
class Preset:
    """Sizes of one run mode. `pretrain`, `train` and `baselines` hold seed 0 and adaptive
    masking; use the `*_config` methods for a given DDPM or model seed."""

    name: str  # "quick" | "full": names checkpoints, so runs of different sizes never mix
    patch: int
    ddpm_patches: int | None  # unlabelled patches drawn from the whole scene for pretraining; None: every pixel's
    pretrain: PretrainConfig
    features: FeatureConfig
    model: BDGFConfig
    train: TrainConfig
    baselines: BaselineConfig  # SVM / RF of notebooks 00 and 03
    max_train_pixels: int | None  # classifiers train on at most this many pixels (class-stratified); None: all
    max_val_pixels: int | None  # and select epochs on at most this many validation pixels; None: all
    ddpm_steps: int | None = None  # pretraining length in optimiser steps (epochs derived per scene); None: epochs
    budget_steps: int = 200  # optimiser steps at least, under a label budget (fixed length: pipeline.steps)
    model_seeds: int = 1  # classifier seeds of a comparison (notebook 03); bdgf-run --seeds overrides
    ddpm_seeds: int = 1  # DDPM draws per masking arm; model seed i uses DDPM draw i % ddpm_seeds
    split: str = "leak-free"  # "official": the scene's official masks where it has them (splits.SPLIT_PROTOCOLS)

    def pretrain_config(
        self, masking: str, seed: int, matched_p: float | None = None, n_patches: int | None = None
    ) -> PretrainConfig:
        """The DDPM of masking mode `masking` drawn with `seed`; `matched_p`: the rate of
        "random_matched" masking (the adaptive run's mean, `ddpm.masking.matched_rate`);
        `n_patches`: the patches it trains on, which set its epochs where `ddpm_steps` is set
        (about that many optimiser steps, whatever the scene's size)."""
        cfg = replace(
            self.pretrain,
            seed=seed,
            masking=replace(self.pretrain.masking, mode=masking, matched_p=matched_p),
            feature_timesteps=self.features.timesteps,
        )
        if self.ddpm_steps is None:
            return cfg
        expect(n_patches is not None, ConfigError, f"preset {self.name!r} sets ddpm_steps: pass n_patches")
        assert n_patches is not None
        return replace(cfg, epochs=max(1, math.ceil(self.ddpm_steps / steps_per_epoch(n_patches, cfg))))

    def train_config(self, seed: int, budget: bool = False) -> TrainConfig:
        """The classifier of model seed `seed`; `budget`: under a label budget, trained for a fixed
        length (at least `budget_steps` steps, the last weights kept: no labels spent on selection)."""
        train = replace(self.train, seed=seed)
        return replace(train, fixed_length=True, min_steps=self.budget_steps, val_points=20) if budget else train

    def baseline_config(
        self, seed: int, features: str = "centre", models: tuple[str, ...] = ("svm", "rf")
    ) -> BaselineConfig:
        return replace(self.baselines, seed=seed, features=features, models=models, patch=self.patch)


def _quick() -> Preset:
    unet = UNetConfig(base_width=32, channel_mults=(1, 2, 2), num_res_blocks=1)
    pretrain = PretrainConfig(
        epochs=8, batch_size=64, lr=5e-4, balance_samples=256, masking=MaskingConfig(mode="adaptive"), unet=unet
    )
    train = TrainConfig(epochs=8, batch_size=64, lr=2e-3, warmup_epochs=1, patience=4)
    return Preset(
        name="quick",
        patch=11,
        ddpm_patches=2048,
        pretrain=pretrain,
        features=FeatureConfig(timesteps=(5, 50, 200)),  # read at the scene's patch (FeatureConfig.at_patch)
        model=BDGFConfig(width=32),
        train=train,
        baselines=BaselineConfig(rf_trees=100, svm_grid=False, max_train=1500),
        max_train_pixels=1500,
        max_val_pixels=500,
    )


def _full() -> Preset:
    unet = UNetConfig(base_width=32, channel_mults=(1, 2, 2), num_res_blocks=2)
    pretrain = PretrainConfig(
        epochs=16, batch_size=64, lr=5e-4, balance_samples=512, masking=MaskingConfig(mode="adaptive"), unet=unet
    )
    train = TrainConfig(
        epochs=24, batch_size=64, lr=1e-3, warmup_epochs=2, patience=4, min_gain=1.0
    )  # see the module docstring
    return Preset(
        name="full",
        patch=11,
        ddpm_patches=4096,
        pretrain=pretrain,
        features=FeatureConfig(timesteps=(5, 50, 200)),  # read at the scene's patch (FeatureConfig.at_patch)
        model=BDGFConfig(width=32),
        train=train,
        baselines=BaselineConfig(rf_trees=300, svm_grid=True, max_train=4000),
        max_train_pixels=None,
        max_val_pixels=None,
        model_seeds=5,
        ddpm_seeds=2,
    )


def _paper() -> Preset:
    """The full-size design of docs/METHOD.md §6, meant for a GPU (it runs on CPU, slowly): U-Net width 64 with
    2 residual blocks, T = 1000; classifiers of width 176 with 8 heads (4.19 M parameters on the
    synthetic scene's 65 channels and 20 classes, 4.22 M on 145 channels: the paper's ~4.3 M);
    all training and validation pixels; 50 DDPM epochs on 16,384 patches, up to 100 classifier
    epochs (patience 15)."""
    unet = UNetConfig(base_width=64, channel_mults=(1, 2, 2), num_res_blocks=2)
    pretrain = PretrainConfig(
        epochs=50, batch_size=128, lr=2e-4, balance_samples=1024, masking=MaskingConfig(mode="adaptive"), unet=unet
    )
    train = TrainConfig(epochs=100, batch_size=128, lr=5e-4, warmup_epochs=5, patience=15)
    return Preset(
        name="paper",
        patch=11,
        ddpm_patches=16384,
        pretrain=pretrain,
        features=FeatureConfig(timesteps=(5, 50, 200)),  # read at the scene's patch (FeatureConfig.at_patch)
        model=BDGFConfig(width=176, heads=8),
        train=train,
        baselines=BaselineConfig(rf_trees=500, svm_grid=True, max_train=4000),
        max_train_pixels=None,
        max_val_pixels=None,
        split="official",  # the protocol of the published tables it is meant to be compared with
    )


def whole_scene(base: Preset, steps: int = 4000, ema_decay: float = 0.999) -> Preset:
    """`base` with a DDPM that learns the whole scene: a patch at every pixel, about `steps`
    optimiser steps whatever the scene's size, warm-up + cosine learning rate and an EMA of the
    weights (docs/experiments/scene_pretraining.py measures what it buys). Named apart
    ("<base>-scene"), so its checkpoints never mix with `base`'s."""
    pretrain = replace(base.pretrain, lr_schedule="cosine", ema_decay=ema_decay)
    return replace(base, name=f"{base.name}-scene", ddpm_patches=None, ddpm_steps=steps, pretrain=pretrain)


PRESETS = {"quick": _quick, "full": _full, "full-scene": lambda: whole_scene(_full()), "paper": _paper}


def preset(mode: str) -> Preset:
    """The sizes of run mode `mode` ("quick" | "full" | "paper")."""
    expect(mode in PRESETS, ConfigError, f"preset: expected one of {list(PRESETS)}, found {mode!r}")
    return PRESETS[mode]()
