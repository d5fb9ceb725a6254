import numpy as np
import pytest
import torch

from bdgf_nb.ddpm.diffusion import DiffusionConfig, GaussianDiffusion
from bdgf_nb.ddpm.masking import MaskingConfig
from bdgf_nb.ddpm.unet import DenoiserUNet, UNetConfig
from bdgf_nb.errors import ConfigError
from bdgf_nb.model.branches import MambaBranch
from bdgf_nb.model.config import BDGFConfig
from bdgf_nb.presentation.widgets import (
    build_forward_panel,
    build_mask_panel,
    build_masking_panel,
    build_scan_panel,
    mask_and_reconstruct,
    rgb_bands,
)

GROUPS = {"hsi": 8, "lidar": 1}


@pytest.fixture(scope="module")
def diffusion():
    torch.manual_seed(0)
    d = GaussianDiffusion(
        DenoiserUNet(UNetConfig(in_channels=9, base_width=8, num_res_blocks=1, modality_channels=(8, 1))),
        DiffusionConfig(T=1000),
        GROUPS,
    )
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


def test_mask_panel_selects_among_named_ddpms(diffusion):
    """One patch, mask and noise; the selector swaps the DDPM that reconstructs it."""
    torch.manual_seed(1)
    other = GaussianDiffusion(
        DenoiserUNet(UNetConfig(in_channels=9, base_width=8, num_res_blocks=1, modality_channels=(8, 1))),
        DiffusionConfig(T=1000),
        GROUPS,
    )
    panel = build_mask_panel({"none": other, "adaptive": diffusion}, np.stack([patch(0)]), GROUPS)
    assert panel.sliders["ddpm"].value == "adaptive" and panel.text.value.startswith("DDPM: adaptive masking")
    shown = panel.image.value
    panel.sliders["ddpm"].value = "none"
    assert panel.text.value.startswith("DDPM: none masking") and panel.image.value != shown


def test_mask_panel_explains_partial_ratios_and_shows_the_noise_level(diffusion):
    panel = build_mask_panel(diffusion, np.stack([patch(0)]), GROUPS)
    assert "never occur in training" in panel.text.value and "partial mask ratio" not in panel.text.value
    assert f"{100 * float(diffusion.alpha_bar[50]):.2f} % of the variance of x_t is signal" in panel.text.value
    panel.sliders["lidar"].value = 0.5
    assert "<b>partial mask ratio</b> on lidar" in panel.text.value
    panel.sliders["t"].value = 900
    assert "t = 900:" in panel.text.value and f"{100 * float(diffusion.alpha_bar[900]):.2f} %" in panel.text.value


def test_forward_panel_redraws_for_every_t(diffusion):
    panel = build_forward_panel(diffusion, np.stack([patch(0), patch(1)]))
    first = panel.image.value
    assert first[:4] == b"\x89PNG" and "t = 500:" in panel.text.value and "t = 200:" in panel.text.value
    panel.sliders["t"].value = 999
    assert panel.image.value != first and "t = 999:" in panel.text.value


def test_masking_panel_names_saturation_and_shows_invalid_settings():
    panel = build_masking_panel(MaskingConfig(signal="reliance", p0=0.1, p_max=0.5, gain=0.8))
    assert (
        "lidar: reliance 0.010, share 12 %" in panel.text.value and "clipped to 0" in panel.text.value
    )  # reliance 0.2 vs 0.01
    first = panel.image.value
    panel.sliders["signal_lidar"].value = 0.2  # balanced: both at p0, nothing saturates
    assert (
        "saturated" not in panel.text.value and "target p* = 0.100" in panel.text.value and panel.image.value != first
    )
    panel.sliders["p0"].value = 0.6  # above p_max
    assert "invalid setting" in panel.text.value and "p0 must be in [0, p_max=0.5], found 0.6" in panel.text.value


def test_masking_panel_replays_a_runs_history_and_exposes_every_constant():
    history = [
        {"p_mask_hsi": 0.1, "p_mask_lidar": 0.1, "patch_r2_hsi": 0.70, "patch_r2_lidar": 0.90},
        {"p_mask_hsi": 0.08, "p_mask_lidar": 0.12, "patch_r2_hsi": 0.75, "patch_r2_lidar": 0.85},
    ]
    panel = build_masking_panel(MaskingConfig(signal="feature"), history=history, steps_per_epoch=4)
    assert {"p0", "p_max", "gain", "tau", "reliance_eps", "warmup_fraction", "epoch"} <= set(panel.sliders)
    assert "the run's feature R² at epoch 2" in panel.text.value and "lidar: feature R² 0.850" in panel.text.value
    panel.sliders["epoch"].value = 1
    assert "lidar: feature R² 0.900" in panel.text.value
    panel.sliders["epoch"].value = 0  # back to the sliders' pair
    assert "from the sliders" in panel.text.value
    first = panel.image.value
    panel.sliders["warmup_fraction"].value = 0.5
    assert panel.image.value != first


def test_scan_panel_compares_guided_and_unguided():
    torch.manual_seed(0)
    groups = {"hsi": 12, "lidar": 1}
    guided = MambaBranch(groups, 4, BDGFConfig(width=8, stages=2), guide_channels=[4, 4])
    unguided = MambaBranch(groups, 4, BDGFConfig(width=8, stages=2, guidance=False))
    x = torch.randn(3, 13, 5, 5)
    panel = build_scan_panel(
        {"guided": (guided, [torch.randn(3, 4, 5, 5) for _ in range(2)]), "unguided": (unguided, [])}, x, groups
    )
    assert panel.text.value.startswith("guided: mean delta") and "unguided: mean delta" in panel.text.value
    assert panel.sliders["layer"].value == 1  # the last layer: every guidance module before it has acted
    shown = panel.text.value
    panel.sliders["pixel"].value = 2
    assert panel.text.value != shown
    panel.sliders["layer"].value = 0
    assert set(panel.sliders) == {"pixel", "layer"}


def test_scan_panel_compares_one_guided_branch_with_real_and_shuffled_guides():
    """The same trained branch, its own guides against another pixel's: on the last layer they
    differ (guidance acts), on the first they cannot (no guidance runs before it)."""
    from bdgf_nb.presentation.explore import shuffled_guides

    torch.manual_seed(0)
    groups = {"hsi": 12, "lidar": 1}
    branch = MambaBranch(groups, 4, BDGFConfig(width=8, stages=2), guide_channels=[4, 4])
    x, guides = torch.randn(3, 13, 5, 5), [torch.randn(3, 4, 5, 5) for _ in range(2)]
    panel = build_scan_panel(
        {"real guides": (branch, guides), "shuffled guides": (branch, shuffled_guides(guides))},
        x,
        groups,
        pixel_names=["grass", "road", "water"],
    )
    assert panel.text.value.startswith("pixel 0: class grass")
    assert "shuffled guides against real guides: max |Δdelta|" in panel.text.value
    real, shuffled = panel.traces["real guides"], panel.traces["shuffled guides"]
    assert not np.allclose(real[1].delta, shuffled[1].delta)  # the last layer reads the gated sequence
    np.testing.assert_array_equal(real[0].delta, shuffled[0].delta)  # the first runs before any guidance
    panel.sliders["layer"].value = 0
    assert "max |Δdelta| 0.00e+00" in panel.text.value


def test_ensemble_panel_scores_the_slider_weights_beside_mean_fitted_and_the_test_bound():
    from bdgf_nb.presentation.widgets import build_ensemble_panel

    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=(3, 50))
    labels = rng.integers(0, 4, 50)
    panel = build_ensemble_panel(probs, labels, ["cnn", "mamba", "transformer"], fitted=[0.5, 0.3, 0.2], steps=5)
    text = panel.text.value
    assert "sliders: weights cnn 0.33, mamba 0.33, transformer 0.33" in text and "mean rule:" in text
    assert "fitted on validation (0.50, 0.30, 0.20)" in text and "no rule may use" in text
    assert panel.image.value[:4] == b"\x89PNG"
    panel.sliders["mamba"].value = 0.0
    panel.sliders["transformer"].value = 0.0
    assert "cnn 1.00, mamba 0.00, transformer 0.00" in panel.text.value
    panel.sliders["cnn"].value = 0.0
    assert "every weight is 0" in panel.text.value


def test_feature_panel_redraws_per_decoder_level():
    from bdgf_nb.presentation.widgets import build_feature_panel

    rng = np.random.default_rng(0)
    maps = [rng.normal(size=(4, 8, 8)), rng.normal(size=(8, 8, 8))]
    panel = build_feature_panel({"t = 5": maps, "mean over t": maps}, rng.normal(size=(9, 8, 8)), GROUPS)
    first = panel.image.value
    assert first[:4] == b"\x89PNG" and "level 0 (0 = finest): 4 channels" in panel.text.value
    panel.sliders["level"].value = 1
    assert panel.image.value != first and "8 channels" in panel.text.value
