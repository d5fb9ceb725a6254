import math

import pytest
import torch

from bdgf_nb.ddpm.balance import EvalBatch, balance_index, dominance_gap, measure_balance
from bdgf_nb.ddpm.diffusion import DiffusionConfig
from bdgf_nb.ddpm.masking import MaskingConfig
from bdgf_nb.ddpm.unet import UNetConfig
from bdgf_nb.errors import CheckpointError, DataError
from bdgf_nb.train.pretrain import PretrainConfig, build_diffusion, pretrain

GROUPS = {"hsi": 8, "lidar": 1}


def tiny(**overrides):
    base = dict(
        epochs=3,
        batch_size=16,
        lr=1e-3,
        balance_samples=12,
        ema_decay=0.9,
        unet=UNetConfig(base_width=8, num_res_blocks=1, dropout=0.1),
        diffusion=DiffusionConfig(T=100),
        feature_timesteps=(5, 50),
        masking=MaskingConfig(mode="adaptive", warmup_fraction=0.2, start_window=2),
    )
    base.update(overrides)
    return PretrainConfig(**base)


def data(n=60, p=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 9, p, p, generator=g)
    x[:, 8] = x[:, :8].mean(1) * 2  # lidar predictable from hsi
    return x


def test_resume_gives_exactly_the_uninterrupted_weights(tmp_path):
    x, cfg = data(), tiny()
    straight = pretrain(x, GROUPS, cfg, progress=False)
    path = tmp_path / "ddpm.ckpt"
    first = pretrain(x, GROUPS, cfg, checkpoint_path=path, progress=False, stop_after_epoch=2)
    assert len(first.history) == 2
    resumed = pretrain(x, GROUPS, cfg, checkpoint_path=path, progress=False)
    for (name, a), (_, b) in zip(
        straight.diffusion.state_dict().items(), resumed.diffusion.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    assert repr(resumed.history) == repr(straight.history)  # repr: NaN-safe exact comparison
    assert not resumed.diffusion.training
    with pytest.raises(CheckpointError, match=r"another config.*pretrain\.lr: checkpoint has 0\.001, expected 0\.002"):
        pretrain(x, GROUPS, tiny(lr=2e-3), checkpoint_path=path, progress=False)
    with pytest.raises(CheckpointError, match=r"data\.sha256"):
        pretrain(data(seed=1), GROUPS, cfg, checkpoint_path=path, progress=False)


def test_history_records_every_modality_and_training_reduces_loss():
    hist = pretrain(
        data(), GROUPS, tiny(epochs=4, ema_decay=0.0, unet=UNetConfig(base_width=8, num_res_blocks=1)), progress=False
    ).history
    assert [h["epoch"] for h in hist] == [1, 2, 3, 4]
    for key in (
        "loss",
        "loss_hsi",
        "loss_lidar",
        "p_mask_hsi",
        "p_mask_lidar",
        "reliance_hsi",
        "reliance_lidar",
        "balance",
        "dominance_gap",
        "eval_loss_lidar",
        "hidden_loss_hsi",
        "patch_r2_hsi",
        "patch_r2_lidar",
    ):
        assert key in hist[-1]
    assert all(h["patch_r2_lidar"] <= 1.0 for h in hist)
    assert all(0.0 <= h[f"p_mask_{m}"] <= 0.5 for h in hist for m in GROUPS)
    assert hist[-1]["loss"] < hist[0]["loss"]


def test_three_modalities_and_bad_input():
    groups = {"hsi": 6, "sar": 2, "dsm": 1}
    hist = pretrain(data(n=30), groups, tiny(epochs=1, ema_decay=0.0), progress=False).history
    assert {"reliance_sar", "p_mask_dsm", "loss_sar"} <= set(hist[0])
    with pytest.raises(DataError, match=r"sum to 8 channels, x0 has 9"):
        pretrain(data(), {"hsi": 7, "lidar": 1}, tiny(), progress=False)


def test_balance_index_definition():
    assert balance_index([0.2, 0.2]) == pytest.approx(1.0)
    assert balance_index([0.5, 0.0]) == pytest.approx(0.0)
    assert balance_index([0.3, 0.1]) == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)) / math.log(2))
    assert math.isnan(balance_index([-0.1, 0.0]))


def test_dominance_gap_compares_each_modality_with_the_mean_of_the_others():
    assert dominance_gap([0.3, 0.1]) == pytest.approx(0.2)
    assert dominance_gap([0.2, 0.2, 0.2]) == pytest.approx(0.0)
    assert dominance_gap([0.6, 0.0, 0.0]) == pytest.approx(0.6)
    assert math.isnan(dominance_gap([0.4]))


def test_reliance_measures_the_rise_of_the_other_modalities_loss():
    torch.manual_seed(0)
    d = build_diffusion(tiny(), GROUPS).eval()
    for p in d.parameters():  # an arbitrary, non-trivial denoiser
        p.data.normal_(0, 0.1)
    batch = EvalBatch.draw(data(n=20), T=100, seed=0)
    report = measure_balance(d, batch, batch_size=7)
    again = measure_balance(d, batch)
    for name in GROUPS:  # fixed noise / timesteps: batching changes only the float rounding
        assert report.reliance[name] == pytest.approx(again.reliance[name], rel=1e-4)
    with torch.no_grad():
        full = (
            d.modality_errors(d.denoiser(d.q_sample(batch.x0, batch.t, batch.noise), batch.t), batch.noise)
            .double()
            .mean(0)
        )
        other = batch.x0.clone()
        other[:, 8] = batch.x0[[19, *range(19)], 8]  # lidar from the previous patch
        hidden = (
            d.modality_errors(d.denoiser(d.q_sample(other, batch.t, batch.noise), batch.t), batch.noise)
            .double()
            .mean(0)
        )
        assert report.reliance["lidar"] == pytest.approx(float((hidden[0] - full[0]) / full[0]), rel=1e-4)
    assert abs(report.reliance["hsi"]) > 1e-3 and not d.training
    assert report.loss["hsi"] == pytest.approx(float(full[0]), rel=1e-5)


def test_adaptive_masking_follows_the_measured_reliance_and_random_matched_spends_its_budget():
    """Closed loop inside pretraining: p_mask changes from epoch to epoch after the warm-up and
    leans towards the modality the measured reliance favours; random_matched at the adaptive
    run's matched_rate hides at exactly that rate every epoch."""
    from bdgf_nb.ddpm.masking import matched_rate

    cfg = tiny(
        epochs=6,
        lr=3e-3,
        ema_decay=0.0,
        masking=MaskingConfig(signal="reliance", mode="adaptive", warmup_fraction=0.2, tau=0.05),
    )
    hist = pretrain(
        data(n=200), GROUPS, cfg, progress=False
    ).history  # lidar = 2 * mean(hsi): the denoiser learns to lean on hsi
    assert hist[0]["p_mask_hsi"] == pytest.approx(0.1) and hist[0]["p_mask_lidar"] == pytest.approx(0.1)  # warm-up
    later = [(h["p_mask_hsi"], h["p_mask_lidar"]) for h in hist[1:]]
    assert len(set(later)) == len(later)  # it moves every epoch
    leaned = 0
    for prev, (p_hsi, p_lidar) in zip(hist[:-1], later, strict=True):  # towards the modality relied on more
        if prev["reliance_hsi"] > prev["reliance_lidar"] + 0.05:
            assert p_hsi > 0.1 > p_lidar
            leaned += 1
    assert leaned >= 3, hist
    rate = matched_rate(hist, list(GROUPS))
    random = pretrain(
        data(),
        GROUPS,
        tiny(epochs=2, ema_decay=0.0, masking=MaskingConfig(mode="random_matched", matched_p=rate)),
        progress=False,
    ).history
    assert all(h[f"p_mask_{m}"] == pytest.approx(rate) for h in random for m in GROUPS)
