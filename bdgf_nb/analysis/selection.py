"""Which epoch's weights a test score comes from, and what choosing that epoch on test is worth.

Every public peer we read (MFT, ExViT, GLT-Net, Cross-HL, MSFMamba, AMSFN) keeps the checkpoint
with the best test accuracy. A run whose test pixels were scored beside validation
(`train.classifier.train_classifier`'s `watch_set`) shows what that choice adds to the same
training: the best test epoch minus the protocol's own weights is the inflation of a published
figure over an honest one (docs/PROTOCOL.md, "Best test epoch"). It is never a result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bdgf_nb.errors import DataError, expect
from bdgf_nb.metrics import SELECTION_METRICS as METRIC_KEYS  # "oa", "aa", "kappa"


@dataclass(frozen=True)
class EpochChoice:
    """Test scores (`oa`, `aa`, `kappa`) of one watched run at three choices of its weights."""

    last: dict[str, float]  # the last scored epoch: a fixed-length run's own weights
    validation: dict[str, float]  # the epoch with the best validation score (the first of ties)
    best_test: dict[str, float]  # the epoch with the best test `metric`: how peers select, not a result
    validation_epoch: int
    best_test_epoch: int
    scored_epochs: int


def epoch_choices(history: Sequence[Mapping[str, float]], metric: str = "oa", select_on: str = "kappa") -> EpochChoice:
    """The test scores at the last, the best-validation (`val_<select_on>`) and the best-test
    (`test_<metric>`) epoch among the epochs where both sets were scored (unscored epochs hold NaN)."""
    expect(
        metric in METRIC_KEYS and select_on in METRIC_KEYS,
        DataError,
        f"epoch_choices: metric and select_on must be among {METRIC_KEYS}; found {metric!r}, {select_on!r}",
    )
    scored = [
        row
        for row in history
        if math.isfinite(row.get(f"test_{metric}", math.nan)) and math.isfinite(row.get(f"val_{select_on}", math.nan))
    ]
    expect(
        bool(scored),
        DataError,
        "epoch_choices: expected a history with test_* and val_* scores (a run trained with watch_set); "
        f"found keys {sorted(history[0]) if history else 'none'}",
    )

    def test_scores(row: Mapping[str, float]) -> dict[str, float]:
        return {k: float(row[f"test_{k}"]) for k in METRIC_KEYS}

    by_validation = max(scored, key=lambda row: row[f"val_{select_on}"])  # max keeps the first of ties
    by_test = max(scored, key=lambda row: row[f"test_{metric}"])
    return EpochChoice(
        last=test_scores(scored[-1]),
        validation=test_scores(by_validation),
        best_test=test_scores(by_test),
        validation_epoch=int(by_validation["epoch"]),
        best_test_epoch=int(by_test["epoch"]),
        scored_epochs=len(scored),
    )
