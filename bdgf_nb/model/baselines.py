"""Classical baselines in the same harness: SVM and random forest on pixel features.

Each modality alone and all modalities stacked, so a table shows what fusion adds. Features are
the standardised centre pixel, optionally with 'patch statistics' (mean and std over the
p x p window, as in the published peers' runs, docs/PROTOCOL.md) for a spatial-context baseline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.ndimage import uniform_filter
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import GridSearchCV
from sklearn.svm import SVC

from bdgf_nb.config_checks import check_fields
from bdgf_nb.data.sampling import stratified_subsample
from bdgf_nb.errors import ConfigError, expect
from bdgf_nb.metrics import ClassificationReport, classification_report


@dataclass(frozen=True)
class BaselineConfig:
    """models: subset of ("svm", "rf"); max_train caps (stratified) SVM training pixels on CPU."""

    models: tuple[str, ...] = ("svm", "rf")
    features: str = "centre"  # "centre" | "patch_stats"
    patch: int = 11
    rf_trees: int = 200
    svm_grid: bool = True  # 3-fold CV over C (gamma 'scale'); False -> C = 10
    max_train: int = 3000
    seed: int = 0

    def __post_init__(self) -> None:
        check_fields(self)
        unknown = set(self.models) - {"svm", "rf"}
        expect(not unknown, ConfigError, f"models: unknown {sorted(unknown)}, expected a subset of ['rf', 'svm']")
        expect(
            self.features in ("centre", "patch_stats"),
            ConfigError,
            f"features must be 'centre' or 'patch_stats', found {self.features!r}",
        )
        expect(self.rf_trees >= 1, ConfigError, f"rf_trees must be >= 1, found {self.rf_trees}")


def pixel_features(image: np.ndarray, features: str, patch: int) -> np.ndarray:
    """image: (H, W, C) standardised -> (H, W, F): the centre pixel, plus window mean/std."""
    if features == "centre":
        return image
    size = (patch, patch, 1)
    mean = uniform_filter(image, size=size, mode="reflect")
    var = np.maximum(uniform_filter(image**2, size=size, mode="reflect") - mean**2, 0.0)
    return np.concatenate([image, mean, np.sqrt(var)], axis=2)


def fit_predict(
    model: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray, cfg: BaselineConfig
) -> np.ndarray:
    if model == "rf":
        # As many threads as torch may use in this process (1 in `bdgf-run --jobs` workers and
        # side-by-side kernels), not every core: the forest is the same either way (trees are
        # seeded up front), but n_jobs=-1 put 2 threads in each one-thread process.
        rf = RandomForestClassifier(n_estimators=cfg.rf_trees, random_state=cfg.seed, n_jobs=torch.get_num_threads())
        return rf.fit(x_train, y_train).predict(x_test)
    keep = stratified_subsample(y_train, cfg.max_train, cfg.seed)
    x_fit, y_fit = x_train[keep], y_train[keep]
    if cfg.svm_grid and np.bincount(y_fit).max() >= 3 and np.min(np.bincount(y_fit)[np.unique(y_fit)]) >= 3:
        search = GridSearchCV(SVC(kernel="rbf", gamma="scale"), {"C": [1.0, 10.0, 100.0]}, cv=3, n_jobs=1)
        return search.fit(x_fit, y_fit).predict(x_test)
    return SVC(kernel="rbf", C=10.0, gamma="scale").fit(x_fit, y_fit).predict(x_test)


def run_baselines(
    modalities: dict[str, np.ndarray],
    labels: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    n_classes: int,
    cfg: BaselineConfig | None = None,
) -> list[dict[str, object]]:
    """One row per (model, modality set): each modality alone, then all fused.

    modalities: name -> standardised (H, W, C) image or (N, C) pixel table; labels / train /
    test over the same grid. Rows carry the ClassificationReport fields."""
    cfg = cfg or BaselineConfig()
    sets: list[tuple[str, list[str]]] = [(name, [name]) for name in modalities]
    if len(modalities) > 1:
        sets.append(("+".join(modalities), list(modalities)))
    rows = []
    for set_name, names in sets:
        stacked = np.concatenate([modalities[n] for n in names], axis=-1)
        if stacked.ndim == 3:
            stacked = pixel_features(stacked, cfg.features, cfg.patch)
        x_train, y_train = stacked[train], labels[train]
        x_test, y_test = stacked[test], labels[test]
        for model in cfg.models:
            y_pred = fit_predict(model, x_train, y_train, x_test, cfg)
            report: ClassificationReport = classification_report(y_test, y_pred, n_classes)
            rows.append({"method": model.upper(), "modalities": set_name, "features": cfg.features, **report.to_dict()})
    return rows
