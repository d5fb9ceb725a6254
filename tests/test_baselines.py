"""Classical baselines: the random forest keeps to the process's thread budget and predicts the
same whatever that budget is."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.ensemble import RandomForestClassifier

import bdgf_nb.model.baselines as baselines
from bdgf_nb.model.baselines import BaselineConfig, fit_predict


@pytest.fixture
def torch_threads():
    """Restore torch's thread count after a test changes it."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def _pixels(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, 400)
    x = rng.normal(size=(400, 6)) + y[:, None] * 0.7
    x[:20] = x[20:40]  # duplicated pixels with other labels: impure leaves, fractional votes
    return x[:300], y[:300], x[300:]


@pytest.mark.parametrize("threads", [1, 2])
def test_random_forest_uses_torchs_thread_count(
    threads: int, torch_threads: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int | None] = []

    class Recording(RandomForestClassifier):
        def fit(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            seen.append(self.n_jobs)
            return super().fit(*args, **kwargs)

    monkeypatch.setattr(baselines, "RandomForestClassifier", Recording)
    torch.set_num_threads(threads)
    x_train, y_train, x_test = _pixels()
    fit_predict("rf", x_train, y_train, x_test, BaselineConfig(rf_trees=10))
    assert seen == [threads]


def test_random_forest_predicts_the_same_on_one_and_two_threads(torch_threads: None) -> None:
    x_train, y_train, x_test = _pixels(1)
    cfg = BaselineConfig(rf_trees=40, seed=3)
    torch.set_num_threads(1)
    one = fit_predict("rf", x_train, y_train, x_test, cfg)
    torch.set_num_threads(2)
    two = fit_predict("rf", x_train, y_train, x_test, cfg)
    np.testing.assert_array_equal(one, two)
