import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from sklearn.metrics import confusion_matrix as sk_confusion

from bdgf_nb.errors import DataError
from bdgf_nb.metrics import classification_report, confusion_matrix


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_metrics_match_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(1, 7, size=500)
    y_pred = np.where(rng.random(500) < 0.6, y_true, rng.integers(1, 7, size=500))
    cm = confusion_matrix(y_true, y_pred, 6)
    np.testing.assert_array_equal(cm, sk_confusion(y_true, y_pred, labels=range(1, 7)))
    report = classification_report(y_true, y_pred, 6)
    assert report.overall_accuracy == pytest.approx(100 * np.mean(y_true == y_pred))
    assert report.kappa == pytest.approx(100 * cohen_kappa_score(y_true, y_pred))
    recalls = [np.mean(y_pred[y_true == c] == c) for c in range(1, 7)]
    assert report.average_accuracy == pytest.approx(100 * np.mean(recalls))


def test_absent_class_is_nan_and_excluded_from_aa():
    report = classification_report(np.array([1, 1, 2, 2]), np.array([1, 1, 2, 1]), 3)
    assert np.isnan(report.per_class_accuracy[2])
    assert report.average_accuracy == pytest.approx(75.0)
    assert report.to_dict()["per_class_accuracy"][2] is None


def test_out_of_range_labels_are_refused():
    with pytest.raises(DataError, match=r"y_pred must hold labels in 1..3, found range 0..2"):
        confusion_matrix(np.array([1, 2]), np.array([0, 2]), 3)
