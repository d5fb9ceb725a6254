"""How BDGF combines its branches into one prediction (docs/METHOD.md §4), and which rule to
predict with, chosen on validation.

Glossary: K branches, b (or N) samples, c classes.

The rules (`ENSEMBLE_RULES`): "mean" averages the branch probabilities (the paper's ensemble);
"entropy" weights them per sample by w_k ∝ exp(max_j H_j - H_k), so a confident branch counts
more; "fitted" uses per-branch weights fitted on validation (`fit_ensemble_weights`).
`choose_ensemble_rule` scores every rule on the validation pixels, keeps the one with the
highest validation OA (ties keep "mean") and reports every rule on test, so a table can show
what the choice costs or gains. Nothing here looks at test labels to choose.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from scipy.optimize import minimize
from scipy.special import logsumexp, softmax

from bdgf_nb.errors import ConfigError, DataError, expect
from bdgf_nb.metrics import METRICS, classification_report


def entropy(logits: torch.Tensor) -> torch.Tensor:
    """(b, c) logits -> (b,) Shannon entropy (nats) of softmax(logits)."""
    log_p = F.log_softmax(logits, dim=-1)
    return -(log_p.exp() * log_p).sum(dim=-1)


ENSEMBLE_RULES: tuple[str, ...] = ("mean", "entropy", "fitted")


def ensemble_probabilities(
    logits: Sequence[torch.Tensor], mode: str = "mean", weights: torch.Tensor | None = None
) -> torch.Tensor:
    """K x (b, c) logits -> (b, c) ensemble probabilities (docs/METHOD.md §4, the prediction).

    "mean": the average of the branch probabilities. "entropy": per sample, weights
    w_k ∝ exp(max_j H_j - H_k), so a confident (low-entropy) branch counts more. "fitted":
    sum_k w_k p_k with per-branch `weights` (K,) on the simplex (`fit_ensemble_weights`)."""
    expect(mode in ENSEMBLE_RULES, ConfigError, f"ensemble mode must be one of {list(ENSEMBLE_RULES)}, found {mode!r}")
    expect(len(logits) >= 1, DataError, "ensemble_probabilities needs >= 1 branch of logits, found 0")
    probs = torch.stack([z.softmax(dim=-1) for z in logits])  # (K, b, c)
    if mode == "mean":
        return probs.mean(dim=0)
    if mode == "fitted":
        expect(
            weights is not None and tuple(weights.shape) == (len(logits),),
            DataError,
            f"ensemble mode 'fitted' needs weights of shape ({len(logits)},), "
            f"found {None if weights is None else tuple(weights.shape)}",
        )
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
    expect(
        P.ndim == 3 and P.shape[0] >= 1 and P.shape[1] >= 1,
        DataError,
        f"branch_probs_val must be (K, N, c) with K, N >= 1, found shape {P.shape}",
    )
    expect(y.shape == (P.shape[1],), DataError, f"y_val must be ({P.shape[1]},) labels, found shape {y.shape}")
    expect(
        bool(((y >= 0) & (y < P.shape[2])).all()),
        DataError,
        f"y_val must hold 0-based labels in [0, {P.shape[2]}), found [{y.min()}, {y.max()}]",
    )
    expect(
        bool(np.isfinite(P).all()) and bool((P >= 0).all()),
        DataError,
        "branch_probs_val must hold finite, non-negative probabilities",
    )
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


@dataclass
class EnsembleChoice:
    """Every rule scored: the one chosen on validation, the fitted weights, each rule's test report."""

    chosen: str  # the rule with the highest validation OA
    weights: list[float]  # fitted per-branch weights (validation log-likelihood)
    val_oa: dict[str, float]  # rule -> validation OA (%)
    test: dict[str, dict[str, Any]]  # rule -> test ClassificationReport as a dict

    def as_record(self) -> dict[str, Any]:
        return {
            "chosen": self.chosen,
            "weights": self.weights,
            "val_oa": self.val_oa,
            "test": {rule: {k: report[k] for k in METRICS} for rule, report in self.test.items()},
        }


def rule_probabilities(branch_probs: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """(K, N, c) branch probabilities -> rule -> (N, c) ensemble probabilities."""
    logits = [torch.from_numpy(np.log(np.clip(p, 1e-12, None))) for p in np.asarray(branch_probs, dtype=np.float64)]
    w = torch.as_tensor(np.asarray(weights, dtype=np.float64))
    return {
        rule: ensemble_probabilities(logits, rule, w if rule == "fitted" else None).numpy() for rule in ENSEMBLE_RULES
    }


def choose_ensemble_rule(
    val_branch_probs: np.ndarray, y_val: np.ndarray, test_branch_probs: np.ndarray, y_test: np.ndarray, n_classes: int
) -> EnsembleChoice:
    """Fit the weights on validation, score every rule on validation, report every rule on test.
    Labels 0-based (PatchDataset.targets)."""
    weights = fit_ensemble_weights(val_branch_probs, y_val)
    val = rule_probabilities(val_branch_probs, weights)
    val_oa = {rule: float(100 * (p.argmax(1) == y_val).mean()) for rule, p in val.items()}
    chosen = max(ENSEMBLE_RULES, key=lambda rule: (val_oa[rule], rule == "mean"))
    test = {
        rule: classification_report(y_test + 1, p.argmax(1) + 1, n_classes).to_dict()
        for rule, p in rule_probabilities(test_branch_probs, weights).items()
    }
    return EnsembleChoice(chosen, [float(w) for w in weights], val_oa, test)
