"""Mutual learning (BDGF.md step 4): the loss against a hand-written formula, its limits
(one branch = CE, agreement = no KL), the detached target, and the ensembles."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from bdgf_nb.errors import ConfigError
from bdgf_nb.model.mutual import (
    MutualConfig,
    cosine_disagreement,
    ensemble_probabilities,
    entropy,
    entropy_gap,
    mutual_kl,
    mutual_learning_loss,
)


def logits(K: int, b: int = 6, c: int = 4, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, c, generator=g, requires_grad=True) for _ in range(K)]


@pytest.mark.parametrize(("field", "value", "message"), [
    ("lambda_kl", -1.0, r"MutualConfig.lambda_kl must be >= 0, found -1.0"),
    ("temperature", 0.0, r"MutualConfig.temperature must be > 0, found 0.0"),
    ("proj_dim", 0, r"MutualConfig.proj_dim must be >= 1, found 0"),
    ("lambda_cos", "high", r"MutualConfig.lambda_cos: expected a finite number, found str 'high'"),
])
def test_config_rejects_bad_fields(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MutualConfig(**{field: value})  # type: ignore[arg-type]


def test_single_branch_loss_is_cross_entropy() -> None:
    (z,), y = logits(1), torch.tensor([0, 1, 2, 3, 0, 1])
    loss, parts = mutual_learning_loss([z], [torch.randn(6, 8)], y, MutualConfig(entropy_matching=True))
    torch.testing.assert_close(loss, F.cross_entropy(z, y))
    assert parts["kl"] == 0.0 and parts["cos"] == 0.0 and parts["entropy"] == 0.0


def test_kl_is_zero_when_branches_agree_and_positive_otherwise() -> None:
    z = logits(1)[0]
    assert mutual_kl([z, z.clone(), z.clone()]).item() == pytest.approx(0.0, abs=1e-6)
    assert mutual_kl(logits(3)).item() > 0.01


def test_kl_matches_the_formula_with_temperature() -> None:
    """sum_k 1/(K-1) sum_{j!=k} T^2 KL(p_j^T || p_k^T), batch mean, written out with explicit sums."""
    zs, T = logits(3), 2.0
    p = [F.softmax(z / T, dim=-1) for z in zs]
    expected = sum(
        (p[j] * (p[j].log() - p[k].log())).sum(dim=-1).mean() for k in range(3) for j in range(3) if j != k
    ) * T**2 / 2
    torch.testing.assert_close(mutual_kl(zs, temperature=T), expected)


def test_kl_gradient_does_not_flow_into_the_detached_target() -> None:
    """Branch k's gradient comes only from its own student terms KL(p_j || p_k): the same as
    when the peers are constants."""
    z1, z2 = logits(2)
    mutual_kl([z1, z2]).backward()
    student_only = F.kl_div(F.log_softmax(z1, -1), F.softmax(z2, -1).detach(), reduction="batchmean")
    (expected,) = torch.autograd.grad(student_only, z1)
    assert z1.grad is not None
    torch.testing.assert_close(z1.grad, expected)


def test_cosine_term_limits() -> None:
    f = torch.randn(5, 8)
    assert float(cosine_disagreement([f, f.clone(), 3 * f])) == pytest.approx(0.0, abs=1e-6)
    assert float(cosine_disagreement([f, -f])) == pytest.approx(2.0)
    e = torch.eye(4)
    assert float(cosine_disagreement([e[:2], e[2:]])) == pytest.approx(1.0)  # orthogonal rows


def test_full_loss_matches_the_formula() -> None:
    zs, y = logits(3), torch.tensor([0, 1, 2, 3, 0, 1])
    feats = [torch.randn(6, 5, generator=torch.Generator().manual_seed(k)) for k in range(3)]
    cfg = MutualConfig(lambda_kl=0.7, temperature=1.5, lambda_cos=0.3, entropy_matching=True, lambda_entropy=0.2)
    loss, parts = mutual_learning_loss(zs, feats, y, cfg, names=["cnn", "mamba", "transformer"])
    ce = sum(F.cross_entropy(z, y) for z in zs)
    cos = sum(1 - F.cosine_similarity(feats[j], feats[k]).mean() for j, k in [(0, 1), (0, 2), (1, 2)]) / 3
    H = torch.stack([entropy(z) for z in zs])
    gap = sum((H[k] - H.mean(0)).abs().mean() for k in range(3))
    expected = ce + 0.7 * mutual_kl(zs, 1.5) + 0.3 * cos + 0.2 * gap
    torch.testing.assert_close(loss, expected)
    assert parts["loss"] == pytest.approx(expected.item(), rel=1e-5)
    assert parts["ce"] == pytest.approx(ce.item(), rel=1e-5)
    assert parts["ce_mamba"] == pytest.approx(F.cross_entropy(zs[1], y).item(), rel=1e-5)
    assert set(parts) == {"ce_cnn", "ce_mamba", "ce_transformer", "ce", "kl", "cos", "entropy", "loss"}


def test_entropy_gap_zero_for_equal_confidence() -> None:
    z = logits(1)[0]
    assert entropy_gap([z, z.roll(1, dims=-1)]).item() == pytest.approx(0.0, abs=1e-6)  # permuted classes, same H
    assert entropy_gap([z, 5 * z]).item() > 0.01
    assert float(entropy(torch.zeros(1, 4))) == pytest.approx(math.log(4))


@pytest.mark.parametrize("mode", ["mean", "entropy"])
def test_ensemble_is_a_probability_distribution(mode: str) -> None:
    probs = ensemble_probabilities(logits(3, b=20, c=7), mode)
    assert probs.shape == (20, 7) and (probs >= 0).all()
    torch.testing.assert_close(probs.sum(-1), torch.ones(20))


def test_ensemble_modes() -> None:
    zs = logits(3)
    torch.testing.assert_close(ensemble_probabilities(zs, "mean"), torch.stack([z.softmax(-1) for z in zs]).mean(0))
    confident, unsure = torch.tensor([[8.0, 0.0, 0.0]]), torch.tensor([[0.0, 0.1, 0.0]])
    mean, weighted = ensemble_probabilities([confident, unsure], "mean"), ensemble_probabilities([confident, unsure], "entropy")
    assert weighted[0, 0] > mean[0, 0]  # the low-entropy branch counts more
    H = torch.stack([entropy(confident), entropy(unsure)])[:, 0]
    w = torch.exp(H.max() - H) / torch.exp(H.max() - H).sum()
    torch.testing.assert_close(weighted[0], w[0] * confident.softmax(-1)[0] + w[1] * unsure.softmax(-1)[0])
    with pytest.raises(ConfigError, match="ensemble mode must be 'mean' or 'entropy', found 'max'"):
        ensemble_probabilities(zs, "max")
