import math

import pytest
import torch

from bdgf_nb.ddpm.diffusion import DiffusionConfig, GaussianDiffusion, beta_schedule, extract
from bdgf_nb.ddpm.unet import DenoiserUNet, UNetConfig
from bdgf_nb.errors import ConfigError

GROUPS = {"hsi": 8, "lidar": 1}


def make(p_channels=GROUPS, T=100, seed=0, hidden_target="x0", **unet):
    torch.manual_seed(seed)
    cfg = UNetConfig(
        in_channels=sum(p_channels.values()),
        base_width=8,
        num_res_blocks=1,
        modality_channels=tuple(p_channels.values()),
        **unet,
    )
    return GaussianDiffusion(DenoiserUNet(cfg), DiffusionConfig(T=T, hidden_target=hidden_target), p_channels)


def randomize_output(d):
    """The output conv starts at zero (eps_hat = 0); give it weights so inputs matter."""
    torch.manual_seed(1)
    for p in d.parameters():
        if p.abs().sum() == 0:
            p.data.normal_(0, 0.2)
    return d


@pytest.mark.parametrize("kind", ["linear", "cosine"])
def test_schedules_are_valid(kind):
    betas = beta_schedule(kind, 1000)
    assert betas.dtype == torch.float64 and betas.shape == (1000,)
    assert (betas > 0).all() and (betas <= 0.999).all()
    alpha_bar = torch.cumprod(1 - betas, 0)
    assert (alpha_bar[1:] < alpha_bar[:-1]).all() and alpha_bar[-1] < 1e-3 and alpha_bar[0] > 0.999
    if kind == "cosine":  # iDDPM eq. 17 at t = T/2
        expected = math.cos((0.5 + 0.008) / 1.008 * math.pi / 2) ** 2 / math.cos(0.008 / 1.008 * math.pi / 2) ** 2
        assert alpha_bar[499].item() == pytest.approx(expected, rel=1e-9)


def test_config_rejects_unknown_schedule():
    with pytest.raises(ConfigError, match=r"schedule must be one of \['linear', 'cosine'\], found 'sigmoid'"):
        DiffusionConfig(schedule="sigmoid")


def test_extract_and_q_sample_and_predict_x0_invert():
    d = make()
    assert d.betas.dtype == torch.float32
    t = torch.tensor([0, 10, 99])
    assert extract(d.alpha_bar, t, (3, 9, 5, 5)).shape == (3, 1, 1, 1)
    x0, noise = torch.randn(3, 9, 5, 5), torch.randn(3, 9, 5, 5)
    x_t = d.q_sample(x0, t, noise)
    torch.testing.assert_close(x_t[1], d.alpha_bar[10].sqrt() * x0[1] + (1 - d.alpha_bar[10]).sqrt() * noise[1])
    torch.testing.assert_close(d.predict_x0(x_t, t, noise), x0, atol=2e-3, rtol=1e-3)


@pytest.mark.parametrize("p", [8, 11])
def test_unet_shapes_and_features(p):
    d = make()
    x, t = torch.randn(2, 9, p, p), torch.tensor([3, 50])
    assert d.denoiser(x, t).shape == (2, 9, p, p)
    feats = d.denoiser.forward_features(x, t)
    assert [f.shape for f in feats] == [(2, g, p, p) for g in d.denoiser.feature_channels]
    assert d.denoiser.feature_channels == (8, 16, 16)  # fine to coarse


def test_mask_embedding_hides_the_modality():
    d = randomize_output(make())
    x, t = torch.randn(2, 9, 8, 8), torch.tensor([3, 3])
    mask = torch.tensor([[False, True], [False, True]])
    other = x.clone()
    other[:, 8:] = torch.randn(2, 1, 8, 8) * 5  # change only the hidden modality
    torch.testing.assert_close(d.denoiser(x, t, mask), d.denoiser(other, t, mask))
    assert not torch.allclose(d.denoiser(x, t), d.denoiser(other, t))
    with pytest.raises(ConfigError, match=r"modality_mask must be \(b, 2\)"):
        d.denoiser(x, t, torch.zeros(2, 3, dtype=torch.bool))


def test_former_loss_counts_only_visible_modalities_and_weights_modalities_equally():
    d = randomize_output(make(hidden_target="none"))
    x0 = torch.randn(4, 9, 8, 8)
    t, noise = torch.tensor([1, 2, 3, 4]), torch.randn(4, 9, 8, 8)
    mask = torch.tensor([[False, False], [True, False], [False, True], [False, False]])
    out = d(x0, mask, t=t, noise=noise)
    errors = d.modality_errors(d.denoiser(d.q_sample(x0, t, noise), t, mask), noise)
    hsi = errors[[0, 2, 3], 0].mean()
    lidar = errors[[0, 1, 3], 1].mean()
    torch.testing.assert_close(out.per_modality, torch.stack([hsi, lidar]))
    torch.testing.assert_close(out.total, (hsi + lidar) / 2)
    assert out.visible.tolist() == [3, 3] and not out.per_modality.requires_grad
    all_lidar_hidden = d(x0, torch.tensor([[False, True]] * 4), t=t, noise=noise)
    assert torch.isnan(all_lidar_hidden.per_modality[1])
    torch.testing.assert_close(all_lidar_hidden.total, all_lidar_hidden.per_modality[0])
    assert torch.isnan(out.hidden_per_modality).all()


def test_hidden_modality_is_scored_on_its_clean_signal():
    """Eq. (5b): visible entries score the noise, hidden ones the clean signal; every sample of
    every modality counts, so a hidden modality's term is in the loss."""
    d = randomize_output(make())
    x0 = torch.randn(4, 9, 8, 8)
    t, noise = torch.tensor([1, 2, 3, 4]), torch.randn(4, 9, 8, 8)
    mask = torch.tensor([[False, False], [True, False], [False, True], [False, False]])
    out = d(x0, mask, t=t, noise=noise)
    prediction = d.denoiser(d.q_sample(x0, t, noise), t, mask)
    eps_err, x0_err = d.modality_errors(prediction, noise), d.modality_errors(prediction, x0)
    per_sample = torch.where(mask, x0_err, eps_err)  # (b, M)
    torch.testing.assert_close(out.total, per_sample.mean(dim=0).mean())
    torch.testing.assert_close(
        out.per_modality, torch.stack([eps_err[[0, 2, 3], 0].mean(), eps_err[[0, 1, 3], 1].mean()])
    )
    torch.testing.assert_close(out.hidden_per_modality, torch.stack([x0_err[1, 0], x0_err[2, 1]]))
    assert out.visible.tolist() == [3, 3] and out.hidden.tolist() == [1, 1]
    # the hidden DSM never reaches the network, yet the loss depends on it: it is the target
    other = x0.clone()
    other[2, 8:] += 3.0
    assert not torch.allclose(d(other, mask, t=t, noise=noise).total, out.total)
    assert torch.allclose(d(other, mask, t=t, noise=noise, generator=None).per_modality, out.per_modality)
    # nothing hidden: the plain per-modality epsilon loss, as with the former loss
    plain = make(hidden_target="none")
    plain.load_state_dict(d.state_dict())
    torch.testing.assert_close(d(x0, None, t=t, noise=noise).total, plain(x0, None, t=t, noise=noise).total)


def test_hidden_modality_can_only_be_predicted_from_the_visible_one():
    """Trained on a scene where the DSM is a function of the HSI, the loss of a hidden DSM falls
    far below its variance, and only while the HSI it sees belongs to the same patch: the term
    cannot be met by an output that ignores the visible modality."""
    g = torch.Generator().manual_seed(0)
    hsi = torch.randn(256, 8, 8, 8, generator=g)
    dsm = hsi[:, :4].mean(dim=1, keepdim=True) * 2.0  # unit variance, carried by the HSI
    x0 = torch.cat([hsi, dsm], dim=1)
    d = make(T=100)
    opt = torch.optim.Adam(d.parameters(), lr=3e-3)
    hide_dsm = torch.tensor([[False, True]])
    for _ in range(150):
        rows = torch.randint(0, 256, (64,), generator=g)
        loss = d(x0[rows], hide_dsm.expand(64, 2), generator=g).total
        opt.zero_grad()
        loss.backward()
        opt.step()
    d.eval()
    t, noise = torch.full((256,), 5), torch.randn(x0.shape, generator=g)
    with torch.no_grad():
        hidden_loss = d(x0, hide_dsm.expand(256, 2), t=t, noise=noise).hidden_per_modality[1].item()
        shuffled = x0.clone()
        shuffled[:, 8:] = x0.roll(1, dims=0)[:, 8:]  # each patch's DSM now belongs to another patch's HSI
        shuffled_loss = d(shuffled, hide_dsm.expand(256, 2), t=t, noise=noise).hidden_per_modality[1].item()
    assert hidden_loss < 0.5 * dsm.var().item()  # predicted from the HSI
    assert shuffled_loss > 3 * hidden_loss  # and only from this patch's HSI


def test_reconstruct_returns_the_predicted_signal_where_hidden():
    d = randomize_output(make()).eval()
    x0, noise = torch.randn(2, 9, 8, 8), torch.randn(2, 9, 8, 8)
    mask = torch.tensor([[False, True], [False, False]])
    t = torch.tensor([10, 10])
    out = d.denoiser(d.noised_input(x0, t, mask, noise), t, mask)
    rec = d.reconstruct(x0, 10, mask, noise)
    torch.testing.assert_close(rec[0, 8:], out[0, 8:])
    torch.testing.assert_close(rec[1], d.predict_x0(d.q_sample(x0, t, noise), t, out)[1])


def test_config_rejects_unknown_hidden_target():
    with pytest.raises(ConfigError, match=r"hidden_target must be one of \['x0', 'none'\], found 'eps'"):
        DiffusionConfig(hidden_target="eps")


def test_untrained_loss_is_one_and_gradients_flow():
    d = make()
    out = d(torch.randn(16, 9, 8, 8), generator=torch.Generator().manual_seed(0))
    assert abs(out.total.item() - 1.0) < 0.1  # eps_hat = 0 at init
    out.total.backward()
    assert d.denoiser.out_conv.weight.grad.abs().sum() > 0


def test_sampler_and_reconstruct_shapes_and_determinism():
    d = randomize_output(make(T=50)).eval()
    a = d.sample((2, 9, 8, 8), steps=5, generator=torch.Generator().manual_seed(0))
    b = d.sample((2, 9, 8, 8), steps=5, generator=torch.Generator().manual_seed(0))
    assert a.shape == (2, 9, 8, 8) and torch.isfinite(a).all() and torch.equal(a, b)
    x0, noise = torch.randn(2, 9, 8, 8), torch.randn(2, 9, 8, 8)
    fresh = make(T=1000)  # eps_hat = 0: x0_hat = x_t / sqrt(alpha_bar_0) = x0 + tiny noise
    rec = fresh.reconstruct(x0, 0, None, noise)
    torch.testing.assert_close(rec, x0 + ((1 - fresh.alpha_bar[0]) / fresh.alpha_bar[0]).sqrt() * noise)
    assert (rec - x0).abs().max() < 0.05
