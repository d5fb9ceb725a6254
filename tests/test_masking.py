import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bdgf_nb.ddpm.masking import MaskingConfig, ModalityMasker, imbalance, matched_rate
from bdgf_nb.errors import ConfigError, DataError


def test_unknown_mode_names_field_and_choices():
    with pytest.raises(
        ConfigError, match=r"mode must be one of \['none', 'random', 'random_matched', 'adaptive'\], found 'always'"
    ):
        MaskingConfig(mode="always")
    with pytest.raises(ConfigError, match=r"p0 must be in \[0, p_max=0.5\], found 0.7"):
        MaskingConfig(p0=0.7)
    with pytest.raises(ConfigError, match=r"matched_p must be set for mode 'random_matched'"):
        MaskingConfig(mode="random_matched")
    with pytest.raises(ConfigError, match=r"matched_p must be in \[0, p_max=0.5\], found 0.6"):
        MaskingConfig(mode="random_matched", matched_p=0.6)


def test_modes_and_warmup():
    assert ModalityMasker(MaskingConfig(mode="none"), 2, 100).probabilities == [0.0, 0.0]
    assert ModalityMasker(MaskingConfig(mode="random", random_p=0.3), 2, 100).probabilities == [0.3, 0.3]
    assert ModalityMasker(MaskingConfig(mode="random_matched", matched_p=0.17), 2, 100).probabilities == [0.17, 0.17]
    assert ModalityMasker(MaskingConfig(mode="random"), 1, 100).probabilities == [0.0]  # never hide the only modality
    masker = ModalityMasker(MaskingConfig(signal="reliance", warmup_fraction=0.1), 2, 100)
    masker.observe_reliance([0.5, 0.0])
    for _ in range(10):
        assert masker.probabilities == [0.1, 0.1]  # warm-up: p0 whatever the signal
        masker.update([1.0, 1.0])
    masker.update([1.0, 1.0])
    assert masker.probabilities[0] > 0.1 > masker.probabilities[1]  # the loop starts after it


def test_imbalance_is_bounded_and_defined_when_a_reliance_is_zero():
    """No ratio that explodes at reliance ~0, no saturating fallback."""
    assert imbalance([0.2, 0.2], 0.02) == [pytest.approx(0.0)] * 2
    assert imbalance([0.0, 0.0], 0.02) == [pytest.approx(0.0)] * 2  # nothing relied on: balanced, not "10x dominant"
    assert imbalance([0.0, 0.0]) == [0.0, 0.0]
    small, large = imbalance([0.05, 0.0], 0.02), imbalance([0.5, 0.0], 0.02)
    assert 0.0 < small[0] < large[0] < 0.5 and large[1] == pytest.approx(-large[0])  # graded, not a step
    assert imbalance([1e12, -3.0], 0.02)[0] <= 0.5 and imbalance([0.1, 0.2, 0.3])[2] == pytest.approx(0.5 - 1 / 3)


def run(masker: ModalityMasker, reliance: list[float], steps: int) -> list[list[float]]:
    """Feed one reliance measurement, then `steps` training steps; p after each step."""
    masker.observe_reliance(reliance)
    trajectory = []
    for _ in range(steps):
        masker.update([1.0] * masker.n)
        trajectory.append(masker.probabilities)
    return trajectory


def test_p_rises_for_a_dominant_modality_and_falls_when_the_imbalance_goes():
    """The closed loop: p follows the measured balance up AND down. Fails if `update` stops
    moving p (p would sit at p0) or if p can only grow (the old saturating rule)."""
    masker = ModalityMasker(MaskingConfig(signal="reliance", warmup_fraction=0.0, tau=0.1), 2, 100)
    up = run(masker, [0.3, 0.0], 40)  # the others lean on modality 0 only
    p_up = [p[0] for p in up]
    assert all(b >= a for a, b in zip(p_up, p_up[1:], strict=False)) and p_up[-1] > 0.35
    assert up[-1][1] < 0.05  # the weak modality is hidden less than p0
    down = run(masker, [0.15, 0.15], 40)  # balance restored
    assert down[-1][0] == pytest.approx(0.1, abs=0.01) and down[-1][1] == pytest.approx(0.1, abs=0.01)
    flipped = run(masker, [0.0, 0.3], 40)  # now modality 1 dominates
    assert flipped[-1][1] > 0.35 and flipped[-1][0] < 0.05


def test_loop_settles_inside_the_range_on_a_plant_that_responds():
    """A toy denoiser whose reliance on modality 0 drops as it is hidden more: the loop finds an
    interior equilibrium instead of pinning p at p_max (what the old open-loop rule did)."""
    masker = ModalityMasker(MaskingConfig(signal="reliance", warmup_fraction=0.0), 2, 200)
    trajectory = []
    for _ in range(20):  # 20 "epochs" of 10 steps, reliance measured after each
        p = masker.probabilities[0]
        trajectory += run(masker, [max(0.4 - 0.8 * p, 0.0), 0.02 + 0.1 * p], 10)
    last = [p[0] for p in trajectory[-20:]]
    assert 0.15 < last[-1] < 0.45 and max(last) - min(last) < 0.01


def test_loss_signal_masks_the_faster_learner_more():
    cfg = MaskingConfig(ema=0.0, warmup_fraction=0.0, start_window=1, signal="loss", tau=0.0)
    masker = ModalityMasker(cfg, 2, 100)
    masker.update([1.0, 1.0])
    assert masker.probabilities == [pytest.approx(0.1)] * 2  # equal progress: p0
    masker.update([0.25, 0.5])  # hsi learned faster: r = (0.25, 0.5), shares of 1/r = (2/3, 1/3)
    assert masker.probabilities == [pytest.approx(0.1 + 0.8 / 6), 0.0]  # 0.1 - 0.8 / 6 < 0: clipped at 0
    three = ModalityMasker(cfg, 3, 100)
    three.update([1.0, 1.0, 1.0])
    three.update([0.5, 1.0, 1.0])  # shares (1/2, 1/4, 1/4)
    assert three.probabilities == [
        pytest.approx(0.1 + 0.8 / 6),
        pytest.approx(0.1 - 0.8 / 12),
        pytest.approx(0.1 - 0.8 / 12),
    ]


def test_unusable_reliance_keeps_the_last_measurement():
    masker = ModalityMasker(MaskingConfig(signal="reliance", warmup_fraction=0.0, tau=0.0), 2, 100)
    run(masker, [0.3, 0.1], 1)
    p = masker.probabilities
    run(masker, [float("nan"), 0.2], 1)
    assert masker.probabilities == p and masker.reliance == [0.3, 0.1]
    with pytest.raises(ConfigError, match=r"signal must be one of \['reliance', 'loss', 'feature'\], found 'grad'"):
        MaskingConfig(signal="grad")


def test_random_matched_spends_the_adaptive_runs_budget():
    """matched_rate = mean over epochs and modalities of p_mask; random_matched hides at that
    rate (within 4 binomial standard errors)."""
    history = [
        {"p_mask_hsi": 0.1, "p_mask_lidar": 0.1},
        {"p_mask_hsi": 0.42, "p_mask_lidar": 0.0},
        {"p_mask_hsi": 0.3, "p_mask_lidar": 0.04},
    ]
    target = matched_rate(history, ["hsi", "lidar"])
    assert target == pytest.approx((0.1 + 0.1 + 0.42 + 0.0 + 0.3 + 0.04) / 6)
    n = 40000
    hidden = ModalityMasker(MaskingConfig(mode="random_matched", matched_p=target), 2, 10).sample(
        n, torch.Generator().manual_seed(1)
    )
    rate = hidden.float().mean().item()  # hidden (sample, modality) pairs / (n * M)
    se = math.sqrt(target * (1 - target) / (2 * n))
    assert abs(rate - target) < 4 * se, (rate, target, se)
    with pytest.raises(DataError, match=r"history rows lack \['p_mask_dsm'\]"):
        matched_rate(history, ["hsi", "dsm"])


def test_sampling_frequencies_and_at_most_one_hidden():
    masker = ModalityMasker(MaskingConfig(mode="random", random_p=0.3), 2, 10)
    hidden = masker.sample(20000, torch.Generator().manual_seed(0))
    assert hidden.sum(1).max() <= 1
    freq = hidden.float().mean(0)
    assert torch.allclose(freq, torch.tensor([0.3, 0.3]), atol=0.015)
    again = masker.sample(20000, torch.Generator().manual_seed(0))
    assert torch.equal(hidden, again)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 4),
    losses=st.lists(
        st.lists(st.one_of(st.floats(1e-6, 1e3), st.just(float("nan"))), min_size=4, max_size=4),
        min_size=1,
        max_size=40,
    ),
    alpha=st.floats(0.0, 5.0),
)
def test_probabilities_stay_in_range_and_never_mask_all(n, losses, alpha):
    cfg = MaskingConfig(signal="reliance", gain=alpha, warmup_fraction=0.05, start_window=3)
    masker = ModalityMasker(cfg, n, 40)
    for i, row in enumerate(losses):
        masker.update(row[:n])
        if i % 3 == 0:
            masker.observe_reliance([v - 1.0 for v in row[:n]])  # includes negative reliance
        p = masker.probabilities
        assert all(0.0 <= v <= cfg.p_max for v in p)
    hidden = masker.sample(64, torch.Generator().manual_seed(0))
    assert (hidden.sum(1) < n).all()


def test_state_dict_resumes_exactly():
    a = ModalityMasker(MaskingConfig(signal="loss"), 2, 50)
    a.observe_reliance([0.2, 0.1])
    stream = [[1.0 / (1 + 0.3 * i), 1.0 / (1 + 0.1 * i)] for i in range(30)]
    for row in stream[:12]:
        a.update(row)
    b = ModalityMasker(MaskingConfig(signal="loss"), 2, 50)
    b.load_state_dict(a.state_dict())
    for row in stream[12:]:
        a.update(row)
        b.update(row)
    assert a.probabilities == b.probabilities and a.probabilities[0] > a.probabilities[1]
    assert b.reliance == [0.2, 0.1]


def test_feature_signal_hides_the_over_carried_modality_and_turns_when_the_order_flips():
    """Signal "feature": the modality the features carry better (higher R^2) is hidden more."""
    masker = ModalityMasker(MaskingConfig(signal="feature", warmup_fraction=0.0, tau=0.0), 2, 100)
    masker.update([1.0, 1.0])
    assert masker.probabilities == [0.1, 0.1]  # nothing observed yet: the base rate
    masker.observe_reliance([0.5, 0.0])  # reliance is a diagnostic here, not the signal
    masker.observe_feature_r2([0.7, 0.9])  # the DSM is over-carried
    masker.update([1.0, 1.0])
    p_hsi, p_dsm = masker.probabilities
    assert p_dsm > 0.1 > p_hsi
    assert p_dsm == pytest.approx(0.1 + 0.8 * (0.9 / 1.6 - 0.5))  # eq. (8) with s_m = R^2_m / sum R^2
    masker.observe_feature_r2([0.9, 0.6])  # flipped
    masker.update([1.0, 1.0])
    assert masker.probabilities[0] > 0.1 > masker.probabilities[1]
    masker.observe_feature_r2([float("nan"), 0.9])  # unusable: the last measurement stays
    assert masker.feature_r2 == [0.9, 0.6]
    resumed = ModalityMasker(MaskingConfig(signal="feature", warmup_fraction=0.0, tau=0.0), 2, 100)
    resumed.load_state_dict(masker.state_dict())
    assert resumed.feature_r2 == [0.9, 0.6] and resumed.probabilities == masker.probabilities
