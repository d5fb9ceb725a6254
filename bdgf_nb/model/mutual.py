"""Mutual learning between the branches and their ensemble (BDGF.md step 4).

Glossary: K branches, b batch size, c classes, e projection width (proj_dim).

    L = sum_k CE(y, z_k)                                                     (supervision)
      + w_kl(progress) * sum_k 1/(K-1) sum_{j!=k} T^2 KL(p_j^T || p_k^T)      (Deep Mutual Learning)
      + lambda_cos * sum_{j<k} (1 - mean_e corr_b(g_j(f_j)_e, g_k(f_k)_e))     (feature similarity)
      [+ lambda_entropy * sum_k mean_b |H(p_k) - mean_j H(p_j)|]              (entropy matching, optional)

with p_k^T = softmax(z_k / T). In the KL term the peer p_j is the target and is detached, so
each branch is pulled towards its peers and never pushes them (DML's alternating update done in
one backward pass). T^2 keeps the KL gradient on the scale of the CE gradient (Hinton et al.'s
distillation). With K = 1 every peer term vanishes and L is the plain cross-entropy.

Two guards against degenerate solutions (issue 15):
- The feature term is the correlation over the batch of each projection dimension in two
  branches (the diagonal of Barlow Twins' cross-correlation). A constant projection has no
  correlation with anything, so heads with biases can no longer satisfy the term by emitting one
  shared vector (the raw cosine did: on independent random features three heads drove it from
  0.96 to 0.008). Nor can skewed outputs game it: a per-sample cosine of batch-standardised
  projections was measured falling to 0.55 on independent features (sign agreement of the many
  samples near the mean), while correlations of independent variables average to 0. Summed
  over the pairs, as BDGF.md step 4 writes it.
- The KL weight is warmed up with the training progress in [0, 1]:
  w_kl = lambda_kl * min(1, progress / kl_warmup), so early, still-random peers do not pull a
  branch towards their errors.

The prediction combines the branch probabilities (`ensemble_probabilities`): their mean, per-sample
entropy weights, or per-branch weights fitted on validation (`fit_ensemble_weights`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import minimize
from scipy.special import logsumexp, softmax

from bdgf_nb.errors import ConfigError, DataError, expect
from bdgf_nb.fields import check_fields


@dataclass(frozen=True)
class MutualConfig:
    lambda_kl: float = 1.0  # DML weight (src: Deep Mutual Learning uses 1)
    temperature: float = 1.0  # T of the softened peer distributions
    kl_warmup: float = 0.3  # fraction of training over which the KL weight ramps 0 -> lambda_kl (0 = full from step 1)
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
        expect(0.0 <= self.kl_warmup <= 1.0, ConfigError, f"MutualConfig.kl_warmup must be in [0, 1], found {self.kl_warmup}")


def kl_weight(cfg: MutualConfig, progress: float) -> float:
    """w_kl = lambda_kl * min(1, progress / kl_warmup); progress in [0, 1] = step / total steps."""
    expect(0.0 <= progress <= 1.0, ConfigError, f"training progress must be in [0, 1], found {progress}")
    return cfg.lambda_kl * (min(1.0, progress / cfg.kl_warmup) if cfg.kl_warmup > 0 else 1.0)


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


def standardise(u: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """(b, e) -> (b, e), each dimension to zero mean and unit variance over the batch (a constant
    dimension becomes 0). Computed in float32 (bf16 autocast would lose the small variances)."""
    u = u.float()
    return (u - u.mean(dim=0, keepdim=True)) / torch.sqrt(u.var(dim=0, unbiased=False, keepdim=True) + eps)


def feature_disagreement(projected: Sequence[torch.Tensor]) -> torch.Tensor:
    """sum over pairs j<k of 1 - mean_e corr_b(u_j[:, e], u_k[:, e]); 0 for K = 1.

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
    """The BDGF.md step 4 loss. logits: K x (b, c); projected_features: K x (b, e) (g_k(f_k); may be
    empty when lambda_cos = 0); y: (b,) 0-based targets; progress: step / total steps in [0, 1]
    (sets the KL warm-up; 1.0 = fully warmed up).

    Returns (loss, parts): parts holds the loss, each branch's CE ("ce_<name>"), their sum ("ce"),
    the unweighted "kl", "cos" and (when on) "entropy" terms and the KL weight used ("kl_weight"),
    as floats for logging."""
    K = len(logits)
    expect(K >= 1, DataError, "mutual_learning_loss needs >= 1 branch of logits, found 0")
    expect(len(projected_features) in (0, K), DataError, f"expected {K} projected features (one per branch) or none, found {len(projected_features)}")
    names = list(names) if names is not None else [str(k) for k in range(K)]
    expect(len(names) == K, DataError, f"expected {K} branch names, found {len(names)}")
    ce = [F.cross_entropy(z, y) for z in logits]
    kl, w_kl = mutual_kl(logits, cfg.temperature), kl_weight(cfg, progress)
    cos = feature_disagreement(projected_features) if projected_features else kl.new_zeros(())
    loss = torch.stack(ce).sum() + w_kl * kl + cfg.lambda_cos * cos
    parts = {f"ce_{name}": c.item() for name, c in zip(names, ce, strict=True)}
    parts.update(ce=sum(c.item() for c in ce), kl=kl.item(), cos=cos.item(), kl_weight=w_kl)
    if cfg.entropy_matching:
        gap = entropy_gap(logits)
        loss = loss + cfg.lambda_entropy * gap
        parts["entropy"] = gap.item()
    parts["loss"] = loss.item()
    return loss, parts


ENSEMBLES = ("mean", "entropy", "fitted")


def ensemble_probabilities(logits: Sequence[torch.Tensor], mode: str = "mean", weights: torch.Tensor | None = None) -> torch.Tensor:
    """K x (b, c) logits -> (b, c) ensemble probabilities (BDGF.md step 4 prediction).

    "mean": the average of the branch probabilities. "entropy": per sample, weights
    w_k ∝ exp(max_j H_j - H_k), so a confident (low-entropy) branch counts more. "fitted":
    sum_k w_k p_k with per-branch `weights` (K,) on the simplex (`fit_ensemble_weights`)."""
    expect(mode in ENSEMBLES, ConfigError, f"ensemble mode must be one of {list(ENSEMBLES)}, found {mode!r}")
    expect(len(logits) >= 1, DataError, "ensemble_probabilities needs >= 1 branch of logits, found 0")
    probs = torch.stack([z.softmax(dim=-1) for z in logits])  # (K, b, c)
    if mode == "mean":
        return probs.mean(dim=0)
    if mode == "fitted":
        expect(weights is not None and tuple(weights.shape) == (len(logits),), DataError,
               f"ensemble mode 'fitted' needs weights of shape ({len(logits)},), found {None if weights is None else tuple(weights.shape)}")
        assert weights is not None
        return torch.einsum("k,kbc->bc", weights.to(probs), probs)
    H = torch.stack([entropy(z) for z in logits])  # (K, b)
    weights = torch.softmax(H.max(dim=0, keepdim=True).values - H, dim=0)  # exp(max H - H_k), normalised
    return (weights[..., None] * probs).sum(dim=0)


def fit_ensemble_weights(branch_probs_val: np.ndarray, y_val: np.ndarray) -> np.ndarray:
    """Per-branch weights w (K,) on the simplex maximising the validation log-likelihood

        max_w mean_i log sum_k w_k p_k(y_i | x_i),   w = softmax(theta)

    (a concave objective in w; L-BFGS on theta with the analytic gradient). A branch that only
    adds errors gets a weight near 0, so the ensemble is at least as likely as its best branch on
    validation. branch_probs_val: (K, N, c) per-branch probabilities (`evaluate.predict.predict`'s
    "branch_probabilities" on the validation set); y_val: (N,) 0-based labels (PatchDataset.targets)."""
    P = np.asarray(branch_probs_val, dtype=np.float64)
    y = np.asarray(y_val).astype(np.int64)
    expect(P.ndim == 3 and P.shape[0] >= 1 and P.shape[1] >= 1, DataError, f"branch_probs_val must be (K, N, c) with K, N >= 1, found shape {P.shape}")
    expect(y.shape == (P.shape[1],), DataError, f"y_val must be ({P.shape[1]},) labels, found shape {y.shape}")
    expect(bool(((y >= 0) & (y < P.shape[2])).all()), DataError, f"y_val must hold 0-based labels in [0, {P.shape[2]}), found [{y.min()}, {y.max()}]")
    expect(bool(np.isfinite(P).all()) and bool((P >= 0).all()), DataError, "branch_probs_val must hold finite, non-negative probabilities")
    K = P.shape[0]
    if K == 1:
        return np.ones(1)
    log_p = np.log(np.clip(P[:, np.arange(len(y)), y], 1e-12, None))  # (K, N): log p_k(y_i)

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        log_w = theta - logsumexp(theta)
        joint = log_w[:, None] + log_p  # (K, N)
        log_mix = logsumexp(joint, axis=0)  # (N,)
        responsibility = np.exp(joint - log_mix)  # r_ki = w_k p_ki / sum_j w_j p_ji
        grad = -(responsibility.mean(axis=1) - np.exp(log_w))  # d(-mean log mix)/d theta (softmax chain rule)
        return float(-log_mix.mean()), grad

    result = minimize(nll, np.zeros(K), jac=True, method="L-BFGS-B")
    return np.asarray(softmax(result.x), dtype=np.float64)


def score_ensembles(branch_probs: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> dict[str, dict[str, float]]:
    """Overall accuracy (%) and mean log-likelihood of each rule on labelled pixels: every single
    branch ("branch_<k>"), "mean", "entropy" and, with `weights` (K,), "fitted". For choosing the
    rule on validation (and reporting it on test): branch_probs (K, N, c), y (N,) 0-based."""
    P = np.asarray(branch_probs, dtype=np.float64)
    y = np.asarray(y).astype(np.int64)
    expect(P.ndim == 3 and y.shape == (P.shape[1],), DataError, f"expected branch_probs (K, N, c) and y (N,), found {P.shape} and {y.shape}")
    logits = [torch.from_numpy(np.log(np.clip(p, 1e-12, None))) for p in P]  # log p: softmax gives p back
    rules = {f"branch_{k}": P[k] for k in range(P.shape[0])}
    rules.update(mean=P.mean(axis=0), entropy=ensemble_probabilities(logits, "entropy").numpy())
    if weights is not None:
        rules["fitted"] = ensemble_probabilities(logits, "fitted", torch.as_tensor(np.asarray(weights, dtype=np.float64))).numpy()
    rows = np.arange(len(y))
    return {name: {"oa": float(100 * (p.argmax(axis=1) == y).mean()), "log_likelihood": float(np.log(np.clip(p[rows, y], 1e-12, None)).mean())}
            for name, p in rules.items()}
