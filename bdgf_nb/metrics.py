"""Classification metrics of remote-sensing papers: OA, AA, Cohen's kappa, per-class accuracy.

The scores every layer reports (training selects epochs on them, tables print them).

Labels follow the scene convention 1..n_classes (0 = unlabelled never reaches a metric).
AA averages recall over the classes present in the evaluated pixels, so a class absent from a
test region does not count as 0% (stated in every table that reports AA).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from bdgf_nb.errors import DataError, expect

# The three scores every table reports, as ClassificationReport names them, and their short
# names (validation histories: val_oa, ...; the selection metric: --select-on oa|aa|kappa).
METRICS: tuple[str, ...] = ("overall_accuracy", "average_accuracy", "kappa")
SHORT_NAMES: dict[str, str] = {"overall_accuracy": "oa", "average_accuracy": "aa", "kappa": "kappa"}
LABELS: dict[str, str] = {"overall_accuracy": "OA", "average_accuracy": "AA", "kappa": "kappa"}  # table headers
SELECTION_METRICS: tuple[str, ...] = tuple(SHORT_NAMES.values())


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_classes, n_classes) counts; row = true class, column = predicted class (labels 1..n)."""
    y_true = np.asarray(y_true).ravel()
    y_pred = np.asarray(y_pred).ravel()
    expect(
        y_true.shape == y_pred.shape,
        DataError,
        f"y_true and y_pred must have equal length, found {y_true.shape} vs {y_pred.shape}",
    )
    for name, y in (("y_true", y_true), ("y_pred", y_pred)):
        if y.size:
            expect(
                int(y.min()) >= 1 and int(y.max()) <= n_classes,
                DataError,
                f"{name} must hold labels in 1..{n_classes}, found range {int(y.min())}..{int(y.max())}",
            )
    flat = (y_true.astype(np.int64) - 1) * n_classes + (y_pred.astype(np.int64) - 1)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


@dataclass(frozen=True)
class ClassificationReport:
    """OA, AA and kappa in percent (kappa x100), per-class recall in percent (NaN if absent)."""

    overall_accuracy: float
    average_accuracy: float
    kappa: float
    per_class_accuracy: tuple[float, ...]
    n_test: int

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["per_class_accuracy"] = [None if np.isnan(v) else v for v in self.per_class_accuracy]
        return data


def classification_report(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> ClassificationReport:
    """All metrics from one confusion matrix."""
    cm = confusion_matrix(y_true, y_pred, n_classes).astype(np.float64)
    total = cm.sum()
    expect(total > 0, DataError, "cannot score an empty prediction set (0 test pixels)")
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, np.diag(cm) / support, np.nan)
    observed = np.trace(cm) / total
    # Cohen's kappa: agreement beyond the chance agreement of the marginals.
    expected = float((cm.sum(axis=0) * support).sum()) / total**2
    kappa = (observed - expected) / (1.0 - expected) if expected < 1.0 else 0.0
    return ClassificationReport(
        overall_accuracy=100.0 * observed,
        average_accuracy=100.0 * float(np.nanmean(recall)),
        kappa=100.0 * kappa,
        per_class_accuracy=tuple(float(v) for v in 100.0 * recall),
        n_test=int(total),
    )
