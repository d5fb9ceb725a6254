import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bdgf_nb.ddpm.masking import MaskingConfig, ModalityMasker
from bdgf_nb.errors import ConfigError


def test_unknown_mode_names_field_and_choices():
    with pytest.raises(ConfigError, match=r"mode must be one of \['none', 'random', 'adaptive'\], found 'always'"):
        MaskingConfig(mode="always")
    with pytest.raises(ConfigError, match=r"p0 must be in \[0, p_max=0.5\], found 0.7"):
        MaskingConfig(p0=0.7)


def test_modes_and_warmup():
    assert ModalityMasker(MaskingConfig(mode="none"), 2, 100).probabilities == [0.0, 0.0]
    assert ModalityMasker(MaskingConfig(mode="random", random_p=0.3), 2, 100).probabilities == [0.3, 0.3]
    assert ModalityMasker(MaskingConfig(mode="random"), 1, 100).probabilities == [0.0]  # never hide the only modality
    masker = ModalityMasker(MaskingConfig(warmup_fraction=0.1), 2, 100)
    for _ in range(9):
        masker.update([1.0, 1.0])
        assert masker.probabilities == [0.1, 0.1]  # warm-up: p0


def test_adaptive_rule_masks_the_faster_learner_more():
    cfg = MaskingConfig(ema=0.0, warmup_fraction=0.0, start_window=1, signal="loss")
    masker = ModalityMasker(cfg, 2, 100)
    masker.update([1.0, 1.0])
    masker.update([0.25, 0.5])  # hsi learned faster: r = (0.25, 0.5), rho_hsi = 2
    p = masker.probabilities
    assert p[0] == pytest.approx(0.1 + 0.4 * math.tanh(0.5 * 1.0))
    assert p[1] == pytest.approx(0.1)
    three = ModalityMasker(cfg, 3, 100)
    three.update([1.0, 1.0, 1.0])
    three.update([0.5, 1.0, 1.0])  # rho_0 = mean(1, 1) / 0.5 = 2
    assert three.probabilities[0] == pytest.approx(0.1 + 0.4 * math.tanh(0.5))
    assert three.probabilities[1:] == [pytest.approx(0.1)] * 2


def test_reliance_signal_masks_the_relied_on_modality_more():
    cfg = MaskingConfig(warmup_fraction=0.0)
    masker = ModalityMasker(cfg, 2, 100)
    masker.update([1.0, 1.0])
    assert masker.probabilities == [pytest.approx(0.1)] * 2  # no reliance measured yet: p0
    masker.observe_reliance([0.3, 0.1])  # the others lean on modality 0 three times as much
    p = masker.probabilities
    assert p[0] == pytest.approx(0.1 + 0.4 * math.tanh(0.5 * 2.0))
    assert p[1] == pytest.approx(0.1)
    masker.observe_reliance([float("nan"), 0.2])  # an unusable measurement keeps the last one
    assert masker.probabilities == p
    with pytest.raises(ConfigError, match=r"signal must be one of \['reliance', 'loss'\], found 'grad'"):
        MaskingConfig(signal="grad")


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
    losses=st.lists(st.lists(st.one_of(st.floats(1e-6, 1e3), st.just(float("nan"))), min_size=4, max_size=4), min_size=1, max_size=40),
    alpha=st.floats(0.0, 5.0),
)
def test_probabilities_stay_in_range_and_never_mask_all(n, losses, alpha):
    cfg = MaskingConfig(alpha=alpha, warmup_fraction=0.05, start_window=3)
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
