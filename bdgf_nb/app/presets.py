"""Quick (CI-size) and full settings in one place, so every notebook uses the same numbers.

Full mode is sized so that every notebook on a real scene (Houston 2018 west, 3 model seeds)
runs in about an hour on 2 CPU cores, which is far below BDGF.md's full-size design (README,
"What full mode reduces"): U-Net width 32 instead of 64 (2 residual blocks kept), 16 DDPM epochs
on 4,096 unlabelled patches, classifiers of width 32 (about 0.17 M parameters instead of the
paper's ~4.3 M) trained for at most 24 epochs on at most 3,000 pixels. Quick mode shrinks epochs
and pixel counts further so all notebooks run inside CI. On a GPU, raise these numbers here.
"""

from __future__ import annotations

from dataclasses import dataclass

from bdgf_nb.ddpm.features import FeatureConfig
from bdgf_nb.ddpm.masking import MaskingConfig
from bdgf_nb.ddpm.unet import UNetConfig
from bdgf_nb.model.bdgf import BDGFConfig
from bdgf_nb.train.classifier import TrainConfig
from bdgf_nb.train.pretrain import PretrainConfig


@dataclass(frozen=True)
class Preset:
    patch: int
    ddpm_patches: int  # unlabelled patches drawn from the whole scene for pretraining
    pretrain: PretrainConfig
    features: FeatureConfig
    model: BDGFConfig
    train: TrainConfig
    max_train_pixels: int | None  # classifiers train on at most this many pixels (class-proportional)
    max_val_pixels: int | None  # and select epochs on at most this many validation pixels


def preset(quick: bool, masking: str = "adaptive", seed: int = 0) -> Preset:
    if quick:
        unet = UNetConfig(base_width=32, channel_mults=(1, 2, 2), num_res_blocks=1)
        pretrain = PretrainConfig(epochs=8, batch_size=64, lr=5e-4, seed=seed, balance_samples=256, masking=MaskingConfig(mode=masking), unet=unet)
        train = TrainConfig(epochs=8, batch_size=64, lr=2e-3, warmup_epochs=1, patience=4, seed=seed)
        return Preset(patch=11, ddpm_patches=2048, pretrain=pretrain, features=FeatureConfig(timesteps=(5, 50, 200)),
                      model=BDGFConfig(width=32), train=train, max_train_pixels=1500, max_val_pixels=500)
    unet = UNetConfig(base_width=32, channel_mults=(1, 2, 2), num_res_blocks=2)
    pretrain = PretrainConfig(epochs=16, batch_size=64, lr=5e-4, seed=seed, balance_samples=512, masking=MaskingConfig(mode=masking), unet=unet)
    train = TrainConfig(epochs=24, batch_size=64, lr=1e-3, warmup_epochs=2, patience=6, seed=seed)
    return Preset(patch=11, ddpm_patches=4096, pretrain=pretrain, features=FeatureConfig(timesteps=(5, 50, 200)),
                  model=BDGFConfig(width=32), train=train, max_train_pixels=3000, max_val_pixels=1000)
