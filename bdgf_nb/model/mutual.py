"""Mutual learning between the branches (docs/METHOD.md §4); their ensemble is ensemble.py.

Glossary: K branches, b batch size, c classes, e projection width (proj_dim).

    L = sum_k CE(y, z_k)                                                     (supervision)
      + w_kl(progress) * sum_k 1/(K-1) sum_{j!=k} T^2 KL(p_j^T || p_k^T)      (Deep Mutual Learning)
      + lambda_cos * sum_{j<k} (1 - mean_e corr_b(g_j(f_j)_e, g_k(f_k)_e))     (feature-correlation term)
      [+ lambda_entropy * sum_k mean_b |H(p_k) - mean_j H(p_j)|]              (entropy matching, optional)

with p_k^T = softmax(z_k / T). In the KL term the peer p_j is the target and is detached, so
each branch is pulled towards its peers and never pushes them (DML's alternating update done in
one backward pass). T^2 keeps the KL gradient on the scale of the CE gradient (Hinton et al.'s
distillation). With K = 1 every peer term vanishes and L is the plain cross-entropy.

The feature-correlation term L_feat is one minus the mean correlation, so MINIMISING it RAISES
the correlation of the branches' projections: it aligns them (it is not a decorrelation).

Two guards against degenerate solutions:
- The feature-correlation term is the correlation over the batch of each projection dimension in two
  branches (the diagonal of Barlow Twins' cross-correlation). A constant projection has no
  correlation with anything, so heads with biases can no longer satisfy the term by emitting one
  shared vector (the raw cosine did: on independent random features three heads drove it from
  0.96 to 0.008). Nor can skewed outputs game it: a per-sample cosine of batch-standardised
  projections was measured falling to 0.55 on independent features (sign agreement of the many
  samples near the mean), while correlations of independent variables average to 0. Summed
  over the pairs, as docs/METHOD.md §4 writes it.
- The KL weight is warmed up with the training progress in [0, 1]:
  w_kl = lambda_kl * min(1, progress / kl_warmup), so early, still-random peers do not pull a
  branch towards their errors.

The prediction that combines the branches lives in `ensemble.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import torch
import torch.nn.functional as F

from bdgf_nb.config_checks import check_fields
from bdgf_nb.errors import ConfigError, DataError, expect
from bdgf_nb.model.ensemble import entropy


@dataclass(frozen=True)
class MutualConfig:
    lambda_kl: float = 1.0  # DML weight (src: Deep Mutual Learning uses 1)
    temperature: float = 1.0  # T of the softened peer distributions
    kl_warmup: float = 0.3  # fraction of training over which the KL weight ramps 0 -> lambda_kl (0 = full from step 1)
    lambda_cos: float = 0.1  # weight of the feature-correlation term (name kept from a cosine design; METHOD.md §4)
    proj_dim: int = 32  # width e of the projection heads g_k (built by the model)
    entropy_matching: bool = False  # add |H(p_k) - mean_j H(p_j)| ("aligning the probability entropy")
    lambda_entropy: float = 0.1  # weight of entropy matching when it is on

    def __post_init__(self) -> None:
        check_fields(self)
        for name in ("lambda_kl", "lambda_cos", "lambda_entropy"):
            expect(
                getattr(self, name) >= 0, ConfigError, f"MutualConfig.{name} must be >= 0, found {getattr(self, name)}"
            )
        expect(self.temperature > 0, ConfigError, f"MutualConfig.temperature must be > 0, found {self.temperature}")
        expect(self.proj_dim >= 1, ConfigError, f"MutualConfig.proj_dim must be >= 1, found {self.proj_dim}")
        expect(
            0.0 <= self.kl_warmup <= 1.0,
            ConfigError,
            f"MutualConfig.kl_warmup must be in [0, 1], found {self.kl_warmup}",
        )


def kl_weight(cfg: MutualConfig, progress: float) -> float:
    """w_kl = lambda_kl * min(1, progress / kl_warmup); progress in [0, 1] = step / total steps."""
    expect(0.0 <= progress <= 1.0, ConfigError, f"training progress must be in [0, 1], found {progress}")
    return cfg.lambda_kl * (min(1.0, progress / cfg.kl_warmup) if cfg.kl_warmup > 0 else 1.0)


def mutual_kl(logits: Sequence[torch.Tensor], temperature: float = 1.0) -> torch.Tensor:
    """sum_k 1/(K-1) sum_{j!=k} T^2 KL(p_j^T || p_k^T), batch-mean, peers p_j detached. 0 for K = 1."""
    K = len(logits)
    total = logits[0].new_zeros(())
    if K < 2:
        return total
    log_p = [F.log_softmax(z / temperature, dim=-1) for z in logits]
    for k in range(K):
        for j in range(K):
            if j != k:  # KL(target p_j || student p_k) = sum p_j (log p_j - log p_k)
                total = total + F.kl_div(log_p[k], log_p[j].detach(), reduction="batchmean", log_target=True)
    return total * temperature**2 / (K - 1)


def standardise(u: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """(b, e) -> (b, e), each dimension to zero mean and unit variance over the batch (a constant
    dimension becomes 0). Computed in float32 (bf16 autocast would lose the small variances)."""
    u = u.float()
    return (u - u.mean(dim=0, keepdim=True)) / torch.sqrt(u.var(dim=0, unbiased=False, keepdim=True) + eps)


def feature_correlation_loss(projected: Sequence[torch.Tensor]) -> torch.Tensor:
    """The feature-correlation term L_feat (docs/METHOD.md eq. (19)): sum over pairs j<k of
    1 - mean_e corr_b(u_j[:, e], u_k[:, e]); 0 for K = 1. Lower = more correlated projections.

    corr_b = Pearson correlation over the batch of one projection dimension in the two branches
    (the diagonal of Barlow Twins' cross-correlation matrix): 1 - corr is in [0, 2] per pair,
    and a constant (or batch-independent) projection scores 1 against anything."""
    pairs = list(combinations(range(len(projected)), 2))
    if not pairs:
        return projected[0].new_zeros(()) if projected else torch.zeros(())
    u = [standardise(p) for p in projected]
    return torch.stack([1 - (u[j] * u[k]).mean(dim=0).mean() for j, k in pairs]).sum()


def entropy_gap(logits: Sequence[torch.Tensor]) -> torch.Tensor:
    """sum_k batch-mean |H(p_k) - mean_j H(p_j)|: how unequal the branches' confidences are."""
    H = torch.stack([entropy(z) for z in logits])  # (K, b)
    return (H - H.mean(dim=0, keepdim=True)).abs().mean(dim=1).sum()


def mutual_learning_loss(
    logits: Sequence[torch.Tensor],
    projected_features: Sequence[torch.Tensor],
    y: torch.Tensor,
    cfg: MutualConfig,
    names: Sequence[str] | None = None,
    progress: float = 1.0,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The docs/METHOD.md §4 loss. logits: K x (b, c); projected_features: K x (b, e) (g_k(f_k); may be
    empty when lambda_cos = 0); y: (b,) 0-based targets; progress: step / total steps in [0, 1]
    (sets the KL warm-up; 1.0 = fully warmed up).

    Returns (loss, parts): parts holds the loss, each branch's CE ("ce_<name>"), their sum ("ce"),
    the unweighted "kl", "feature" (the feature-correlation term) and (when on) "entropy" terms
    and the KL weight used ("kl_weight"), as floats for logging."""
    K = len(logits)
    expect(K >= 1, DataError, "mutual_learning_loss needs >= 1 branch of logits, found 0")
    expect(
        len(projected_features) in (0, K),
        DataError,
        f"expected {K} projected features (one per branch) or none, found {len(projected_features)}",
    )
    names = list(names) if names is not None else [str(k) for k in range(K)]
    expect(len(names) == K, DataError, f"expected {K} branch names, found {len(names)}")
    ce = [F.cross_entropy(z, y) for z in logits]
    kl, w_kl = mutual_kl(logits, cfg.temperature), kl_weight(cfg, progress)
    feature = feature_correlation_loss(projected_features) if projected_features else kl.new_zeros(())
    loss = torch.stack(ce).sum() + w_kl * kl + cfg.lambda_cos * feature
    parts = {f"ce_{name}": c.item() for name, c in zip(names, ce, strict=True)}
    parts.update(ce=sum(c.item() for c in ce), kl=kl.item(), feature=feature.item(), kl_weight=w_kl)
    if cfg.entropy_matching:
        gap = entropy_gap(logits)
        loss = loss + cfg.lambda_entropy * gap
        parts["entropy"] = gap.item()
    parts["loss"] = loss.item()
    return loss, parts
