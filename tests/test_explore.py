"""Explorations (explore.py): each function checked against the library piece it explains."""

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bdgf_nb.ddpm.diffusion import DiffusionConfig, GaussianDiffusion
from bdgf_nb.ddpm.masking import MaskingConfig, ModalityMasker
from bdgf_nb.ddpm.unet import DenoiserUNet, UNetConfig
from bdgf_nb.errors import ConfigError, DataError
from bdgf_nb.model.branches import MambaBranch
from bdgf_nb.model.config import BDGFConfig
from bdgf_nb.model.mamba import MambaBlock, MambaConfig
from bdgf_nb.presentation import explore
from bdgf_nb.train.pretrain import PretrainConfig, pretrain, steps_per_epoch

GROUPS = {"hsi": 8, "lidar": 1}


@pytest.fixture(scope="module")
def diffusion():
    torch.manual_seed(0)
    unet = DenoiserUNet(UNetConfig(in_channels=9, base_width=8, num_res_blocks=1, modality_channels=(8, 1)))
    return GaussianDiffusion(unet, DiffusionConfig(T=1000), GROUPS).eval()


def patch(seed=0):
    return np.random.default_rng(seed).normal(size=(9, 11, 11)).astype(np.float32)


# --- (a) forward process -----------------------------------------------------------------------


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_snr_matches_the_models_schedule_and_falls_with_t(schedule):
    cfg = DiffusionConfig(T=200, schedule=schedule)
    alpha_bar, snr = explore.schedule_snr(cfg)
    unet = DenoiserUNet(UNetConfig(in_channels=9, base_width=8, num_res_blocks=1, modality_channels=(8, 1)))
    model = GaussianDiffusion(unet, cfg, GROUPS)
    np.testing.assert_allclose(alpha_bar, model.alpha_bar.double().numpy(), rtol=1e-6)
    assert np.all(np.diff(alpha_bar) < 0) and np.all(np.diff(snr) < 0)
    np.testing.assert_allclose(snr, alpha_bar / (1 - alpha_bar))


def test_forward_process_uses_one_shared_noise_and_reports_the_signal_share(diffusion):
    x0 = patch()
    fp = explore.forward_process(diffusion, x0, timesteps=(0, 50, 999), seed=3)
    # same views as q_sample with the seed's noise drawn once (DDPM eq. 4)
    noise = torch.randn((1, 9, 11, 11), generator=torch.Generator().manual_seed(3))
    a = float(diffusion.alpha_bar[50])
    x50 = np.sqrt(a) * x0 + np.sqrt(1 - a) * noise[0].numpy()
    expected = explore.display_views(x50, x0, GROUPS)
    for name in GROUPS:
        np.testing.assert_allclose(fp.views[50][name], expected[name], atol=1e-5)
    # t = 0 keeps the patch, t = T-1 has (almost) none of it left
    corr = lambda t: np.corrcoef(fp.views[t]["lidar"].ravel(), fp.views[-1]["lidar"].ravel())[0, 1]  # noqa: E731
    assert corr(0) > 0.99 and abs(corr(999)) < 0.5
    assert fp.views[-1]["hsi"].shape == (11, 11, 3) and fp.views[-1]["lidar"].shape == (11, 11)
    sentences = fp.sentences()
    assert len(sentences) == 3 and sentences[2].startswith(f"t = 200: {100 * fp.alpha_bar[200]:.2f} % of the variance")
    assert fp.signal_fraction(5) > fp.signal_fraction(50) > fp.signal_fraction(200)
    assert explore.png(explore.forward_process_figure(fp))[:8] == b"\x89PNG\r\n\x1a\n"


def test_forward_process_rejects_bad_inputs(diffusion):
    with pytest.raises(ConfigError, match=r"timesteps must lie in \[0, T-1=999\], found 1000"):
        explore.forward_process(diffusion, patch(), timesteps=(1000,))
    with pytest.raises(DataError, match=r"patch must be \(C=9, p, p\), found \(8, 11, 11\)"):
        explore.forward_process(diffusion, patch()[:8])


# --- (b) masking rule --------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    r0=st.floats(0.0, 1.0),
    r1=st.floats(0.0, 1.0),
    p0=st.floats(0.0, 0.3),
    p_max=st.floats(0.3, 0.5),
    gain=st.floats(0.0, 2.0),
)
def test_rule_target_is_where_the_real_masker_settles(r0, r1, p0, p_max, gain):
    cfg = MaskingConfig(signal="reliance", p0=p0, p_max=p_max, gain=gain, tau=0.0, warmup_fraction=0.0)
    rule = explore.masking_rule(cfg, [r0, r1])
    masker = ModalityMasker(cfg, 2, total_steps=10)
    masker.observe_reliance([r0, r1])
    masker.update([1.0, 1.0])
    np.testing.assert_allclose(rule.target, masker.probabilities, atol=1e-12)
    for raw, target, sat in zip(rule.raw_target, rule.target, rule.saturated, strict=True):
        assert (sat == "p_max") == (raw >= p_max) and (sat == "0") == (raw <= 0.0)
        assert 0.0 <= target <= p_max
    assert abs(sum(rule.shares) - 1.0) < 1e-9
    # the dominant modality is never masked less than the weak one
    if r0 > r1:
        assert rule.target[0] >= rule.target[1]


def test_sweep_saturation_points_are_where_the_targets_hit_the_bounds():
    cfg = MaskingConfig(p0=0.1, p_max=0.4, gain=1.0)
    sweep = explore.masking_sweep(cfg, n=1001)
    assert sweep.saturates_at_pmax == pytest.approx(0.8) and sweep.saturates_at_zero == pytest.approx(0.4)
    s, target = sweep.share, sweep.target
    assert np.all(target[s >= 0.8 + 1e-9, 0] == 0.4) and np.all(target[s < 0.8 - 1e-9, 0] < 0.4)
    assert np.all(target[s <= 0.4 - 1e-9, 0] == 0.0) and np.all(target[s > 0.4 + 1e-9, 0] > 0.0)
    np.testing.assert_allclose(target[:, 1], target[::-1, 0])  # mirror rule
    assert explore.masking_sweep(MaskingConfig(gain=0.1)).saturates_at_pmax is None  # never reached


def test_simulated_trajectory_holds_p0_in_warmup_then_approaches_the_target():
    cfg = MaskingConfig(signal="reliance", p0=0.1, p_max=0.5, gain=0.8, tau=0.1, warmup_fraction=0.1)
    path = explore.simulate_masking(cfg, [0.3, 0.0], epochs=20, steps_per_epoch=10)
    target = explore.masking_rule(cfg, [0.3, 0.0]).target
    assert path.shape == (200, 2)
    np.testing.assert_allclose(path[:20], 0.1)  # warm-up: 10 % of 200 steps
    assert np.all(np.diff(path[20:, 0]) >= 0) and np.all(np.diff(path[20:, 1]) <= 0)
    np.testing.assert_allclose(path[-1], target, atol=1e-3)
    # a reliance path per epoch: the target follows it
    flipped = explore.simulate_masking(cfg, [[0.3, 0.0]] * 10 + [[0.0, 0.3]], epochs=40, steps_per_epoch=10)
    assert flipped[-1, 1] == pytest.approx(target[0], abs=1e-3)
    assert explore.png(explore.masking_figure(cfg, [0.3, 0.01]))[:4] == b"\x89PNG"


# --- (c) selective-scan tracer -----------------------------------------------------------------


@pytest.mark.parametrize("backend", ["reference", "fused"])
def test_block_trace_reproduces_the_block_output(backend):
    torch.manual_seed(0)
    block = MambaBlock(MambaConfig(d_model=8, d_state=4, backend=backend)).eval()
    x = torch.randn(3, 7, 8)
    trace = explore.trace_mamba_block(block, x)
    with torch.no_grad():
        expected = block(x).numpy()
    print("max |trace - block|:", np.abs(trace.out - expected).max())
    np.testing.assert_allclose(trace.out, expected, atol=1e-5)
    assert trace.delta.shape == (3, 7, 16) and trace.gate.shape == (3, 7, 16) and trace.state_norm.shape == (3, 7)
    assert np.all(trace.delta > 0)  # softplus


def test_branch_trace_guidance_acts_only_after_the_first_stage():
    torch.manual_seed(0)
    groups = {"hsi": 12, "lidar": 1}
    branch = MambaBranch(groups, 4, BDGFConfig(width=8, stages=2), guide_channels=[4, 4])
    x = torch.randn(2, 13, 5, 5)
    guides_a = [torch.randn(2, 4, 5, 5) for _ in range(2)]
    guides_b = [torch.randn(2, 4, 5, 5) for _ in range(2)]
    a, b = explore.trace_mamba_branch(branch, x, guides_a), explore.trace_mamba_branch(branch, x, guides_b)
    assert len(a) == 2 and a[0].delta.shape[1] == branch.tokens.length == 13
    np.testing.assert_allclose(a[0].state_norm, b[0].state_norm)  # stage 0 runs before any guidance
    assert not np.allclose(a[1].state_norm, b[1].state_norm)  # stage 1 reads the gated sequence
    assert explore.token_labels(branch, groups) == [f"b{k}-{k}" for k in range(12)] + ["lidar"]
    fig = explore.scan_figure(
        {"guided": a, "other guides": b}, pixel=1, layer=1, token_labels=explore.token_labels(branch, groups)
    )
    assert explore.png(fig)[:4] == b"\x89PNG"
    with pytest.raises(ConfigError, match=r"layer must be in \[0, 1\], found 2"):
        explore.scan_figure({"guided": a}, layer=2)


def test_branch_trace_refuses_a_reimplementation_that_drifts(monkeypatch):
    torch.manual_seed(0)
    branch = MambaBranch({"hsi": 6}, 3, BDGFConfig(width=8, stages=1))
    real = explore.trace_mamba_block

    def drifting(block, x):
        trace = real(block, x)
        return dataclasses.replace(trace, out=trace.out + 1e-2)

    monkeypatch.setattr(explore, "trace_mamba_block", drifting)
    with pytest.raises(DataError, match="scan tracer disagrees with the MambaBlock output"):
        explore.trace_mamba_branch(branch, torch.randn(2, 6, 3, 3))


@pytest.mark.parametrize("signal", ["reliance", "feature"])
def test_replay_of_a_pretraining_history_reproduces_its_recorded_masking(signal):
    """The panel's replay: the rule fed the run's own measured signal gives, epoch by epoch, the
    mean p_mask the run recorded (same config, same steps per epoch)."""
    groups = {"hsi": 4, "lidar": 1}
    x0 = torch.randn(80, 5, 8, 8, generator=torch.Generator().manual_seed(0))
    cfg = PretrainConfig(
        epochs=5,
        batch_size=16,
        balance_samples=16,
        feature_timesteps=(2, 5),
        unet=UNetConfig(base_width=8, channel_mults=(1,), num_res_blocks=1),
        diffusion=DiffusionConfig(T=10),
        masking=MaskingConfig(mode="adaptive", signal=signal, warmup_fraction=0.2, tau=0.1),
    )
    history = pretrain(x0, groups, cfg, progress=False).history
    assert steps_per_epoch(80, cfg) == 4  # 64 patches / 16 after 16 held out
    path = explore.replay_masking(cfg.masking, history, list(groups), steps_per_epoch=4)
    recorded = np.array([[row[f"p_mask_{m}"] for m in groups] for row in history])
    np.testing.assert_allclose(path.reshape(5, 4, 2).mean(axis=1), recorded, atol=1e-12)
    assert np.ptp(recorded) > 0  # the rule moved: the check is not of a constant
    assert explore.png(explore.masking_figure(cfg.masking, [0.5, 0.4], list(groups), history=history))[:4] == b"\x89PNG"


def test_one_pixel_per_class_and_shuffled_guides():
    labels = np.array([3, 1, 1, 2, 3, 3, 2])
    picked = explore.one_per_class(labels, seed=0)
    assert labels[picked].tolist() == [1, 2, 3]
    assert picked.tolist() == explore.one_per_class(labels, seed=0).tolist()
    guides = [torch.arange(3.0).view(3, 1, 1, 1)]
    assert explore.shuffled_guides(guides)[0].flatten().tolist() == [2.0, 0.0, 1.0]  # pixel i reads pixel i - 1's
    with pytest.raises(DataError, match="at least 2 pixels"):
        explore.shuffled_guides([torch.zeros(1, 1, 1, 1)])


def test_weighted_ensemble_and_its_grid():
    """Two branches right on different halves: each alone scores 50 %, their mean 100 % where the
    right one is more confident; the grid's corners are the branches alone."""
    p = np.zeros((3, 4, 2))
    p[0] = [[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.6, 0.4]]  # right (confidently) on pixels 0-1 only
    p[1] = [[0.4, 0.6], [0.4, 0.6], [0.1, 0.9], [0.1, 0.9]]  # right (confidently) on pixels 2-3 only
    p[2] = 0.5
    labels = np.array([0, 0, 1, 1])
    assert explore.weighted_accuracy(p, labels, [1, 0, 0]) == 50.0
    assert explore.weighted_accuracy(p, labels, [1, 1, 0]) == 100.0
    grid = explore.weight_grid(p, labels, steps=4)
    assert grid.weights.shape == (15, 3) and np.allclose(grid.weights.sum(1), 1.0)
    assert grid.best[1] == 100.0
    np.testing.assert_allclose(explore.simplex_xy(np.eye(3)), [[0, 0], [1, 0], [0.5, np.sqrt(3) / 2]], atol=1e-12)
    fig = explore.ensemble_figure(grid, ["cnn", "mamba", "transformer"], {"mean": [1 / 3] * 3})
    assert explore.png(fig)[:4] == b"\x89PNG"
    with pytest.raises(DataError, match="not all 0"):
        explore.weighted_accuracy(p, labels, [0, 0, 0])


def test_feature_pca_colours_what_the_features_separate():
    """Two regions with different feature vectors get different colours; the explained shares
    are a distribution's head."""
    rng = np.random.default_rng(0)
    maps = rng.normal(scale=0.01, size=(6, 8, 8))
    maps[:, :, 4:] += np.arange(6)[:, None, None]  # the right half differs along one direction
    pca = explore.feature_pca(maps)
    assert pca.rgb.shape == (8, 8, 3) and 0.0 <= pca.rgb.min() and pca.rgb.max() <= 1.0
    assert pca.explained[0] > 0.99 and pca.explained.sum() <= 1.0 + 1e-9
    assert abs(pca.rgb[:, :4, 0].mean() - pca.rgb[:, 4:, 0].mean()) > 0.9
    image = rng.normal(size=(5, 8, 8)).astype(np.float32)
    fig = explore.feature_pca_figure({"t = 5": [maps], "mean over t": [maps]}, image, {"hsi": 4, "lidar": 1})
    assert explore.png(fig)[:4] == b"\x89PNG"
    with pytest.raises(ConfigError, match="level must be in"):
        explore.feature_pca_figure({"t = 5": [maps]}, image, {"hsi": 4, "lidar": 1}, level=1)
