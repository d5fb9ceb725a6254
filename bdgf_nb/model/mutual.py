"""Mutual learning between the branches and their ensemble (BDGF.md step 4).

Glossary: K branches, b batch size, c classes, e projection width (proj_dim).

    L = sum_k CE(y, z_k)                                                     (supervision)
      + lambda_kl  * sum_k 1/(K-1) sum_{j!=k} T^2 KL(p_j^T || p_k^T)          (Deep Mutual Learning)
      + lambda_cos * mean_{j<k} (1 - cos(g_k(f_k), g_j(f_j)))                 (feature similarity)
      [+ lambda_entropy * sum_k mean_b |H(p_k) - mean_j H(p_j)|]              (entropy matching, optional)

with p_k^T = softmax(z_k / T). In the KL term the peer p_j is the target and is detached, so
each branch is pulled towards its peers and never pushes them (DML's alternating update done in
one backward pass). T^2 keeps the KL gradient on the scale of the CE gradient (Hinton et al.'s
distillation). With K = 1 every peer term vanishes and L is the plain cross-entropy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import torch
import torch.nn.functional as F

from bdgf_nb.errors import ConfigError, DataError, check_fields, expect


@dataclass(frozen=True)
class MutualConfig:
    lambda_kl: float = 1.0  # DML weight (src: Deep Mutual Learning uses 1)
    temperature: float = 1.0  # T of the softened peer distributions
    lambda_cos: float = 0.1  # feature-similarity weight (our choice, BDGF.md step 4)
    proj_dim: int = 32  # width e of the projection heads g_k (built by the model)
    entropy_matching: bool = False  # add |H(p_k) - mean_j H(p_j)| ("aligning the probability entropy")
    lambda_entropy: float = 0.1  # weight of entropy matching when it is on

    def __post_init__(self) -> None:
        check_fields(self)
        for name in ("lambda_kl", "lambda_cos", "lambda_entropy"):
            expect(getattr(self, name) >= 0, ConfigError, f"MutualConfig.{name} must be >= 0, found {getattr(self, name)}")
        expect(self.temperature > 0, ConfigError, f"MutualConfig.temperature must be > 0, found {self.temperature}")
        expect(self.proj_dim >= 1, ConfigError, f"MutualConfig.proj_dim must be >= 1, found {self.proj_dim}")


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """(b, c) logits -> (b,) Shannon entropy (nats) of softmax(logits)."""
    log_p = F.log_softmax(logits, dim=-1)
    return -(log_p.exp() * log_p).sum(dim=-1)


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


def cosine_disagreement(projected: Sequence[torch.Tensor]) -> torch.Tensor:
    """mean over pairs j<k and the batch of 1 - cos(g_k(f_k), g_j(f_j)); 0 for K = 1."""
    pairs = list(combinations(range(len(projected)), 2))
    if not pairs:
        return projected[0].new_zeros(()) if projected else torch.zeros(())
    terms = [1 - F.cosine_similarity(projected[j], projected[k], dim=-1).mean() for j, k in pairs]
    return torch.stack(terms).mean()


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
) -> tuple[torch.Tensor, dict[str, float]]:
    """The BDGF.md step 4 loss. logits: K x (b, c); projected_features: K x (b, e) (g_k(f_k); may be
    empty when lambda_cos = 0); y: (b,) 0-based targets.

    Returns (loss, parts): parts holds the loss, each branch's CE ("ce_<name>"), their sum ("ce")
    and the unweighted "kl", "cos" and (when on) "entropy" terms, as floats for logging."""
    K = len(logits)
    expect(K >= 1, DataError, "mutual_learning_loss needs >= 1 branch of logits, found 0")
    expect(len(projected_features) in (0, K), DataError, f"expected {K} projected features (one per branch) or none, found {len(projected_features)}")
    names = list(names) if names is not None else [str(k) for k in range(K)]
    expect(len(names) == K, DataError, f"expected {K} branch names, found {len(names)}")
    ce = [F.cross_entropy(z, y) for z in logits]
    kl = mutual_kl(logits, cfg.temperature)
    cos = cosine_disagreement(projected_features) if projected_features else kl.new_zeros(())
    loss = torch.stack(ce).sum() + cfg.lambda_kl * kl + cfg.lambda_cos * cos
    parts = {f"ce_{name}": c.item() for name, c in zip(names, ce, strict=True)}
    parts.update(ce=sum(c.item() for c in ce), kl=kl.item(), cos=cos.item())
    if cfg.entropy_matching:
        gap = entropy_gap(logits)
        loss = loss + cfg.lambda_entropy * gap
        parts["entropy"] = gap.item()
    parts["loss"] = loss.item()
    return loss, parts


def ensemble_probabilities(logits: Sequence[torch.Tensor], mode: str = "mean") -> torch.Tensor:
    """K x (b, c) logits -> (b, c) ensemble probabilities (BDGF.md step 4 prediction).

    "mean": the average of the branch probabilities. "entropy": per sample, weights
    w_k ∝ exp(max_j H_j - H_k), so a confident (low-entropy) branch counts more."""
    expect(mode in ("mean", "entropy"), ConfigError, f"ensemble mode must be 'mean' or 'entropy', found {mode!r}")
    expect(len(logits) >= 1, DataError, "ensemble_probabilities needs >= 1 branch of logits, found 0")
    probs = torch.stack([z.softmax(dim=-1) for z in logits])  # (K, b, c)
    if mode == "mean":
        return probs.mean(dim=0)
    H = torch.stack([entropy(z) for z in logits])  # (K, b)
    weights = torch.softmax(H.max(dim=0, keepdim=True).values - H, dim=0)  # exp(max H - H_k), normalised
    return (weights[..., None] * probs).sum(dim=0)
