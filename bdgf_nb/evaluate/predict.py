"""Predictions of a trained classifier on a labelled or unlabelled PatchDataset, and its score.

The model contract (model/bdgf.py): `output = model(x, guides)` with per-branch `logits`,
ensemble `probabilities` and per-branch `features`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from bdgf_nb.data.patches import PatchDataset
from bdgf_nb.device import autocast
from bdgf_nb.metrics import classification_report


@torch.no_grad()
def predict(
    model: torch.nn.Module, dataset: PatchDataset, batch_size: int = 256, progress: bool = False
) -> dict[str, np.ndarray]:
    """Ensemble probabilities (N, n_classes), per-branch probabilities (n_branches, N, n_classes)
    and per-branch features f_k (`branch_features`, (n_branches, N, d)), in dataset order.
    Runs on the model's device."""
    model.eval()
    device = next(model.parameters()).device
    probs, branch_probs, feats = [], [], []
    starts = range(0, len(dataset), batch_size)
    for start in tqdm(starts, desc="predict", disable=not progress, leave=False):
        x, guides, _ = dataset.batch(torch.arange(start, min(start + batch_size, len(dataset))))
        with autocast(device):
            out = model(x.to(device), [g.to(device) for g in guides])
        probs.append(out.probabilities.float().cpu())
        branch_probs.append(torch.stack([z.float().softmax(-1) for z in out.logits]).cpu())
        feats.append(torch.stack(list(out.features)).float().cpu())
    return {
        "probabilities": torch.cat(probs).numpy(),
        "branch_probabilities": torch.cat(branch_probs, dim=1).numpy(),
        "branch_features": torch.cat(feats, dim=1).numpy(),
    }


def score(model: torch.nn.Module, dataset: PatchDataset, n_classes: int) -> dict[str, Any]:
    """ClassificationReport of the ensemble prediction on a labelled dataset, as a dict."""
    pred = predict(model, dataset)["probabilities"].argmax(1) + 1
    return classification_report(dataset.targets.numpy() + 1, pred, n_classes).to_dict()
