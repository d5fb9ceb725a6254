"""Which ensemble rule to predict with, chosen on the validation set and reported on test.

BDGF predicts with a combination of its branches' probabilities (BDGF.md step 4). The rules
compared: "mean" (the paper's average), "entropy" (confident branches count more, per pixel)
and "fitted" (per-branch weights maximising the validation log-likelihood,
`model.mutual.fit_ensemble_weights`). The rule with the highest validation OA is chosen (ties
keep "mean"); every rule's test report is kept so a table can show what the choice costs or
gains, paired over seeds. Nothing here looks at test labels to choose.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from bdgf_nb.evaluate.metrics import classification_report
from bdgf_nb.model.mutual import ensemble_probabilities, fit_ensemble_weights

RULES = ("mean", "entropy", "fitted")


@dataclass
class EnsembleChoice:
    chosen: str  # the rule with the highest validation OA
    weights: list[float]  # fitted per-branch weights (validation log-likelihood)
    val_oa: dict[str, float]  # rule -> validation OA (%)
    test: dict[str, dict[str, Any]]  # rule -> test ClassificationReport as a dict

    def as_record(self) -> dict[str, Any]:
        keys = ("overall_accuracy", "average_accuracy", "kappa")
        return {"chosen": self.chosen, "weights": self.weights, "val_oa": self.val_oa,
                "test": {rule: {k: report[k] for k in keys} for rule, report in self.test.items()}}


def rule_probabilities(branch_probs: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """(K, N, c) branch probabilities -> rule -> (N, c) ensemble probabilities."""
    logits = [torch.from_numpy(np.log(np.clip(p, 1e-12, None))) for p in np.asarray(branch_probs, dtype=np.float64)]
    w = torch.as_tensor(np.asarray(weights, dtype=np.float64))
    return {rule: ensemble_probabilities(logits, rule, w if rule == "fitted" else None).numpy() for rule in RULES}


def choose_ensemble_rule(val_branch_probs: np.ndarray, y_val: np.ndarray, test_branch_probs: np.ndarray, y_test: np.ndarray,
                         n_classes: int) -> EnsembleChoice:
    """Fit the weights on validation, score every rule on validation, report every rule on test.
    Labels 0-based (PatchDataset.targets)."""
    weights = fit_ensemble_weights(val_branch_probs, y_val)
    val = rule_probabilities(val_branch_probs, weights)
    val_oa = {rule: float(100 * (p.argmax(1) == y_val).mean()) for rule, p in val.items()}
    chosen = max(RULES, key=lambda rule: (val_oa[rule], rule == "mean"))
    test = {rule: classification_report(y_test + 1, p.argmax(1) + 1, n_classes).to_dict()
            for rule, p in rule_probabilities(test_branch_probs, weights).items()}
    return EnsembleChoice(chosen, [float(w) for w in weights], val_oa, test)
