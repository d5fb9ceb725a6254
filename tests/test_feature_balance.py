"""Feature-level balance: held-out R^2 of features -> each modality."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bdgf_nb.ddpm.diffusion import DiffusionConfig, GaussianDiffusion
from bdgf_nb.ddpm.feature_balance import feature_balance, patch_feature_r2
from bdgf_nb.ddpm.unet import DenoiserUNet, UNetConfig
from bdgf_nb.errors import DataError

GROUPS = {"hsi": 6, "dsm": 1}


def scene(seed: int = 0, size: int = 64) -> np.ndarray:
    """(7, size, size): 6 'HSI' bands sharing a smooth latent, and an independent smooth 'DSM'."""
    rng = np.random.default_rng(seed)

    def smooth() -> np.ndarray:
        coarse = rng.normal(size=(size // 8, size // 8))
        return np.kron(coarse, np.ones((8, 8))) + 0.1 * rng.normal(size=(size, size))

    latent = smooth()
    hsi = np.stack([latent * rng.normal() + 0.3 * rng.normal(size=(size, size)) for _ in range(6)])
    image = np.concatenate([hsi, smooth()[None]])
    return ((image - image.mean((1, 2), keepdims=True)) / image.std((1, 2), keepdims=True)).astype(np.float32)


def test_features_that_copy_the_dsm_carry_the_dsm_and_not_the_hsi() -> None:
    image = scene()
    rng = np.random.default_rng(1)
    copies = [np.concatenate([image[6:7] * 2 + 1, rng.normal(size=(3, 64, 64))]), rng.normal(size=(4, 64, 64))]
    report = feature_balance(copies, image, GROUPS)
    assert report.r2["dsm"] > 0.95 and report.r2["hsi"] < 0.1, report
    assert report.balance < 0.1


def test_random_features_carry_nothing_and_balanced_features_score_balanced() -> None:
    image = scene()
    rng = np.random.default_rng(2)
    noise = feature_balance([rng.normal(size=(8, 64, 64))], image, GROUPS)
    assert all(abs(v) < 0.05 for v in noise.r2.values()), noise
    both = feature_balance([image[[0, 6]] + 0.05 * rng.normal(size=(2, 64, 64))], image, GROUPS)
    assert both.r2["dsm"] > 0.9 and both.r2["hsi"] > 0.5 and both.balance > 0.5, both
    assert set(both.as_record()) == {"feature_r2_hsi", "feature_r2_dsm", "feature_balance"}


def test_held_out_pixels_come_from_other_blocks() -> None:
    """Smooth random features fit the training blocks but do not transfer: held-out R^2 stays ~0
    with spatial blocks, where a random pixel split would reward memorised neighbours."""
    image = scene()
    rng = np.random.default_rng(3)
    smooth_noise = np.kron(rng.normal(size=(40, 8, 8)), np.ones((1, 8, 8)))
    report = feature_balance([smooth_noise], image, GROUPS, block=8)
    assert report.r2["dsm"] < 0.05, report
    leaky = feature_balance([smooth_noise], image, GROUPS, block=1)  # every pixel its own block
    assert leaky.r2["dsm"] > 0.3, leaky


def test_shape_errors_name_what_was_expected() -> None:
    image = scene()
    with pytest.raises(DataError, match=r"feature map 0 must be \(G_k, 64, 64\), found shape \(2, 32, 32\)"):
        feature_balance([np.zeros((2, 32, 32))], image, GROUPS)
    with pytest.raises(DataError, match=r"sum to 8 channels, image has 7"):
        feature_balance([np.zeros((2, 64, 64))], image, {"hsi": 7, "dsm": 1})


def test_patch_r2_sees_only_what_reaches_the_features() -> None:
    """The measure the "feature" masking signal reads: a denoiser whose stem ignores the DSM
    carries nothing of it (R^2 ~ 0) while it carries the HSI; the value is seeded."""
    torch.manual_seed(0)
    unet = UNetConfig(in_channels=7, base_width=8, channel_mults=(1, 2), num_res_blocks=1, modality_channels=(6, 1))
    diffusion = GaussianDiffusion(DenoiserUNet(unet), DiffusionConfig(T=100), GROUPS).eval()
    patches = torch.from_numpy(scene(size=128)).unfold(1, 11, 11).unfold(2, 11, 11)  # (7, 11, 11, 11, 11)
    x0 = patches.permute(1, 2, 0, 3, 4).reshape(-1, 7, 11, 11).contiguous()
    r2 = patch_feature_r2(diffusion, x0, timesteps=(5, 50), seed=0)
    assert r2["hsi"] > 0.3 and r2["dsm"] > 0.3
    with torch.no_grad():
        diffusion.denoiser.stem.weight[:, 6] = 0.0  # the DSM no longer reaches the network
    blind = patch_feature_r2(diffusion, x0, timesteps=(5, 50), seed=0)
    assert blind["dsm"] < 0.05 and blind["hsi"] > 0.3
    assert patch_feature_r2(diffusion, x0, timesteps=(5, 50), seed=0) == blind
