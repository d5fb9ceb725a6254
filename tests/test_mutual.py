"""Mutual learning (docs/METHOD.md §4): the loss against a hand-written formula, its limits
(one branch = CE, agreement = no KL), the detached target."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from bdgf_nb.errors import ConfigError
from bdgf_nb.model.ensemble import entropy
from bdgf_nb.model.mutual import (
    MutualConfig,
    entropy_gap,
    feature_correlation_loss,
    kl_weight,
    mutual_kl,
    mutual_learning_loss,
)


def logits(K: int, b: int = 6, c: int = 4, seed: int = 0) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(b, c, generator=g, requires_grad=True) for _ in range(K)]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("lambda_kl", -1.0, r"MutualConfig.lambda_kl must be >= 0, found -1.0"),
        ("temperature", 0.0, r"MutualConfig.temperature must be > 0, found 0.0"),
        ("proj_dim", 0, r"MutualConfig.proj_dim must be >= 1, found 0"),
        ("kl_warmup", 1.5, r"MutualConfig.kl_warmup must be in \[0, 1\], found 1.5"),
        ("lambda_cos", "high", r"MutualConfig.lambda_cos: expected a finite number, found str 'high'"),
    ],
)
def test_config_rejects_bad_fields(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MutualConfig(**{field: value})  # type: ignore[arg-type]


def test_single_branch_loss_is_cross_entropy() -> None:
    (z,), y = logits(1), torch.tensor([0, 1, 2, 3, 0, 1])
    loss, parts = mutual_learning_loss([z], [torch.randn(6, 8)], y, MutualConfig(entropy_matching=True))
    torch.testing.assert_close(loss, F.cross_entropy(z, y))
    assert parts["kl"] == 0.0 and parts["feature"] == 0.0 and parts["entropy"] == 0.0


def test_kl_is_zero_when_branches_agree_and_positive_otherwise() -> None:
    z = logits(1)[0]
    assert mutual_kl([z, z.clone(), z.clone()]).item() == pytest.approx(0.0, abs=1e-6)
    assert mutual_kl(logits(3)).item() > 0.01


def test_kl_matches_the_formula_with_temperature() -> None:
    """sum_k 1/(K-1) sum_{j!=k} T^2 KL(p_j^T || p_k^T), batch mean, written out with explicit sums."""
    zs, T = logits(3), 2.0
    p = [F.softmax(z / T, dim=-1) for z in zs]
    expected = (
        sum((p[j] * (p[j].log() - p[k].log())).sum(dim=-1).mean() for k in range(3) for j in range(3) if j != k)
        * T**2
        / 2
    )
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


def test_feature_term_limits() -> None:
    """Per pair: 0 for features that co-vary, 2 for anti-correlated ones, 1 for a constant;
    invariant to shifting and scaling a branch; summed (not averaged) over the pairs."""
    f = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))
    assert float(feature_correlation_loss([f, f.clone(), 3 * f + 2])) == pytest.approx(0.0, abs=1e-4)
    assert float(feature_correlation_loss([f, -f])) == pytest.approx(2.0, abs=1e-4)
    constant = torch.ones(50, 8) * torch.randn(8)
    assert float(feature_correlation_loss([f, constant])) == pytest.approx(1.0)  # a shared vector agrees with nothing
    assert float(feature_correlation_loss([constant, constant.clone()])) == pytest.approx(1.0)
    assert float(feature_correlation_loss([f, -f, f])) == pytest.approx(2.0 + 0.0 + 2.0, abs=1e-4)


def heads(K: int = 3, d: int = 32, e: int = 16) -> list[torch.nn.Module]:
    """Projection heads as BDGF builds them (with biases): Linear-GELU-Linear."""
    torch.manual_seed(0)
    return [torch.nn.Sequential(torch.nn.Linear(d, d), torch.nn.GELU(), torch.nn.Linear(d, e)) for _ in range(K)]


def optimise_alignment(term, shared: float, steps: int = 300) -> list[float]:  # type: ignore[no-untyped-def]
    """Train three heads on the alignment `term` alone; branch features f_k = shared * z + noise_k
    with z common to the branches (shared = 0: independent across branches), fresh each step."""
    hs = heads()
    optimizer = torch.optim.Adam([p for h in hs for p in h.parameters()], lr=1e-2)
    g = torch.Generator().manual_seed(1)
    values = []
    for _ in range(steps):
        z = torch.randn(64, 32, generator=g)
        loss = term([h(shared * z + torch.randn(64, 32, generator=g)) for h in hs])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        values.append(loss.item())
    return values


def old_cosine_term(projected: list[torch.Tensor]) -> torch.Tensor:
    """The term before mean over pairs of 1 - raw cosine."""
    pairs = [(0, 1), (0, 2), (1, 2)]
    return torch.stack([1 - F.cosine_similarity(projected[j], projected[k], dim=-1).mean() for j, k in pairs]).mean()


def test_alignment_cannot_be_satisfied_by_features_independent_across_branches() -> None:
    """Issue 15: heads with biases drove the raw-cosine term to ~0 on independent random features
    (a constant output). The correlation term must stay near 1 per pair there, and still be
    reducible when the branch features do share information."""
    collapsed = optimise_alignment(old_cosine_term, shared=0.0)
    assert collapsed[0] > 0.8 and collapsed[-1] < 0.05  # the failure the new term must not have
    independent = optimise_alignment(feature_correlation_loss, shared=0.0)
    assert min(v / 3 for v in independent[-50:]) > 0.85, independent[-50:]  # 3 pairs, each ~1
    shared = optimise_alignment(feature_correlation_loss, shared=2.0)
    assert max(v / 3 for v in shared[-50:]) < 0.4, shared[-50:]  # ~0.2 per pair


def test_kl_weight_warms_up_with_training_progress() -> None:
    cfg = MutualConfig(lambda_kl=2.0, kl_warmup=0.4)
    assert [kl_weight(cfg, p) for p in (0.0, 0.1, 0.2, 0.4, 0.9, 1.0)] == pytest.approx([0.0, 0.5, 1.0, 2.0, 2.0, 2.0])
    assert kl_weight(MutualConfig(lambda_kl=2.0, kl_warmup=0.0), 0.0) == 2.0
    zs, y = logits(3), torch.tensor([0, 1, 2, 3, 0, 1])
    start, parts = mutual_learning_loss(zs, [], y, cfg, progress=0.0)
    torch.testing.assert_close(start, sum(F.cross_entropy(z, y) for z in zs))  # no KL pull at the start
    assert parts["kl"] > 0.01 and parts["kl_weight"] == 0.0
    late, _ = mutual_learning_loss(zs, [], y, cfg, progress=0.5)
    torch.testing.assert_close(late, start + 2.0 * mutual_kl(zs))
    with pytest.raises(ConfigError, match=r"training progress must be in \[0, 1\], found 1.2"):
        kl_weight(cfg, 1.2)


def test_full_loss_matches_the_formula() -> None:
    zs, y = logits(3), torch.tensor([0, 1, 2, 3, 0, 1])
    feats = [torch.randn(6, 5, generator=torch.Generator().manual_seed(k)) for k in range(3)]
    cfg = MutualConfig(lambda_kl=0.7, temperature=1.5, lambda_cos=0.3, entropy_matching=True, lambda_entropy=0.2)
    loss, parts = mutual_learning_loss(zs, feats, y, cfg, names=["cnn", "mamba", "transformer"])
    ce = sum(F.cross_entropy(z, y) for z in zs)
    corr = [
        torch.corrcoef(torch.stack([feats[j][:, e], feats[k][:, e]]))[0, 1]
        for j, k in [(0, 1), (0, 2), (1, 2)]
        for e in range(5)
    ]
    cos = sum(1 - c for c in corr) / 5  # sum over pairs of 1 - mean over dimensions of the batch correlation
    H = torch.stack([entropy(z) for z in zs])
    gap = sum((H[k] - H.mean(0)).abs().mean() for k in range(3))
    expected = ce + 0.7 * mutual_kl(zs, 1.5) + 0.3 * cos + 0.2 * gap
    torch.testing.assert_close(loss, expected)
    assert parts["loss"] == pytest.approx(expected.item(), rel=1e-5)
    assert parts["ce"] == pytest.approx(ce.item(), rel=1e-5)
    assert parts["ce_mamba"] == pytest.approx(F.cross_entropy(zs[1], y).item(), rel=1e-5)
    assert set(parts) == {"ce_cnn", "ce_mamba", "ce_transformer", "ce", "kl", "feature", "entropy", "loss", "kl_weight"}


def test_entropy_gap_zero_for_equal_confidence() -> None:
    z = logits(1)[0]
    assert entropy_gap([z, z.roll(1, dims=-1)]).item() == pytest.approx(0.0, abs=1e-6)  # permuted classes, same H
    assert entropy_gap([z, 5 * z]).item() > 0.01
    assert float(entropy(torch.zeros(1, 4))) == pytest.approx(math.log(4))
