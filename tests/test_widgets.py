import numpy as np
import pytest
import torch

from bdgf_nb.analysis.widgets import build_mask_panel, mask_and_reconstruct, rgb_bands
from bdgf_nb.ddpm.diffusion import DiffusionConfig, GaussianDiffusion
from bdgf_nb.ddpm.unet import DenoiserUNet, UNetConfig
from bdgf_nb.errors import ConfigError

GROUPS = {"hsi": 8, "lidar": 1}


@pytest.fixture(scope="module")
def diffusion():
    torch.manual_seed(0)
    d = GaussianDiffusion(DenoiserUNet(UNetConfig(in_channels=9, base_width=8, num_res_blocks=1, modality_channels=(8, 1))), DiffusionConfig(T=1000), GROUPS)
    d.denoiser.mask_embedding.data.fill_(2.0)
    return d.eval()


def patch(seed=0):
    return np.random.default_rng(seed).normal(size=(9, 11, 11)).astype(np.float32)


def test_shapes_ranges_and_keys(diffusion):
    out = mask_and_reconstruct(diffusion, patch(), GROUPS, {"hsi": 0.5, "lidar": 0.2}, t=100, seed=0)
    for view in ("input", "masked_noised", "reconstruction"):
        assert out[f"hsi_{view}"].shape == (11, 11, 3) and out[f"lidar_{view}"].shape == (11, 11)
        for key in (f"hsi_{view}", f"lidar_{view}"):
            assert out[key].min() >= 0.0 and out[key].max() <= 1.0
    assert set(out) >= {"mse_hsi", "mse_lidar"} and all(np.isfinite(out[k]) for k in ("mse_hsi", "mse_lidar"))
    assert rgb_bands(8) == [5, 4, 2] and rgb_bands(1) == [0, 0, 0]


def test_ratio_changes_the_masked_image_and_seed_is_deterministic(diffusion):
    none = mask_and_reconstruct(diffusion, patch(), GROUPS, {"hsi": 0.0, "lidar": 0.0}, t=10, seed=3)
    full = mask_and_reconstruct(diffusion, patch(), GROUPS, {"hsi": 0.0, "lidar": 1.0}, t=10, seed=3)
    np.testing.assert_array_equal(none["hsi_masked_noised"], full["hsi_masked_noised"])
    assert not np.allclose(none["lidar_masked_noised"], full["lidar_masked_noised"])
    assert np.ptp(full["lidar_masked_noised"]) == 0.0  # every lidar pixel is the mask embedding
    again = mask_and_reconstruct(diffusion, patch(), GROUPS, {"hsi": 0.0, "lidar": 1.0}, t=10, seed=3)
    for key in full:
        np.testing.assert_array_equal(full[key], again[key])


def test_no_mask_at_t0_reconstructs_the_input(diffusion):
    out = mask_and_reconstruct(diffusion, patch(), GROUPS, {}, t=0, seed=0)
    assert np.abs(out["hsi_reconstruction"] - out["hsi_input"]).max() < 0.05
    assert out["mse_hsi"] < 1e-3 and out["mse_lidar"] < 1e-3


def test_bad_arguments(diffusion):
    with pytest.raises(ConfigError, match=r"unknown modalities \['sar'\]"):
        mask_and_reconstruct(diffusion, patch(), GROUPS, {"sar": 0.5}, t=0, seed=0)
    with pytest.raises(ConfigError, match=r"mask_ratio\['hsi'\] must be in \[0, 1\], found 1.5"):
        mask_and_reconstruct(diffusion, patch(), GROUPS, {"hsi": 1.5}, t=0, seed=0)


def test_panel_builds_headless_and_sliders_update_the_display(diffusion):
    patches = np.stack([patch(0), patch(1)])
    panel = build_mask_panel(diffusion, patches, GROUPS)
    first_png, first_text = panel.image.value, panel.text.value
    assert first_png[:8] == b"\x89PNG\r\n\x1a\n" and "MSE lidar" in first_text
    panel.sliders["lidar"].value = 1.0
    assert panel.image.value != first_png and panel.text.value != first_text
    shown = panel.text.value
    panel.sliders["patch"].value = 1
    assert panel.text.value != shown
    panel.sliders["t"].value = 0
    assert set(panel.sliders) == {"hsi", "lidar", "t", "patch"}
