"""Linear probes: are the diffusion features worth guiding with? (docs/METHOD.md §2)

A logistic regression on frozen features of a pixel, trained on the training pixels and scored
on the test pixels of the same (leak-free) split. The probe sees the same pixels for every
feature set, so differences come from the features alone: raw standardised channels of the
pixel, raw channels averaged over its 3 x 3 neighbourhood (a fair control: diffusion features
carry spatial context), and the K hierarchical diffusion feature maps concatenated.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.ndimage import uniform_filter
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from bdgf_nb.data.sampling import limit_mask
from bdgf_nb.errors import DataError, expect
from bdgf_nb.metrics import METRICS, classification_report


def pixels_at(maps: list[np.ndarray], mask: np.ndarray) -> np.ndarray:
    """K maps (G_k, H, W) -> (N, sum G_k) features of the pixels where `mask` is true."""
    expect(len(maps) > 0, DataError, "pixels_at needs at least one feature map, found none")
    for m in maps:
        expect(
            m.shape[1:] == mask.shape, DataError, f"feature map spatial shape {m.shape[1:]} != mask shape {mask.shape}"
        )
    return np.concatenate([m[:, mask].T for m in maps], axis=1)


def neighbourhood_mean(image: np.ndarray, size: int = 3) -> np.ndarray:
    """(C, H, W) -> (C, H, W) mean over a size x size window (reflect at borders)."""
    return uniform_filter(image, size=(1, size, size), mode="reflect")


def linear_probe(
    feature_sets: dict[str, list[np.ndarray]],
    labels: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    n_classes: int,
    max_train: int = 4000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """One logistic-regression probe per feature set; rows of {features, dims, OA, AA, kappa}.

    feature_sets: name -> list of (G, H, W) maps (a raw image is a one-item list)."""
    train = limit_mask(train, labels, max_train, seed)  # stratified: the same pixels for every feature set
    rows = []
    for name, maps in feature_sets.items():
        x_train, x_test = pixels_at(maps, train), pixels_at(maps, test)
        scaler = StandardScaler().fit(x_train)
        # class-balanced: on scenes with one dominant class (Houston 2018: 72 %) an unweighted
        # probe predicts that class and every feature set scores alike.
        probe = LogisticRegression(max_iter=2000, C=1.0, class_weight="balanced")
        probe.fit(scaler.transform(x_train), labels[train])
        predicted = probe.predict(scaler.transform(x_test))
        report = classification_report(labels[test], predicted, n_classes).to_dict()
        rows.append({"features": name, "dims": int(x_train.shape[1]), **{k: report[k] for k in METRICS}})
    return rows
