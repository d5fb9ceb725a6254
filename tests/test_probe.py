import numpy as np
import pytest

from bdgf_nb.analysis.probe import linear_probe, neighbourhood_mean, pixels_at
from bdgf_nb.errors import DataError


def _scene(seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(1, 4, size=(20, 20))
    informative = (labels[None] == np.arange(1, 4)[:, None, None]).astype(np.float32) + 0.3 * rng.normal(
        size=(3, 20, 20)
    )
    noise = rng.normal(size=(3, 20, 20)).astype(np.float32)
    train = np.zeros((20, 20), bool)
    train[:10] = True
    return labels, informative, noise, train, ~train


def test_probe_ranks_informative_features_above_noise():
    labels, informative, noise, train, test = _scene()
    rows = linear_probe(
        {"noise": [noise], "informative": [informative], "both": [noise, informative]}, labels, train, test, 3
    )
    oa = {r["features"]: r["overall_accuracy"] for r in rows}
    assert oa["informative"] > 90 > 50 > oa["noise"]
    assert [r["dims"] for r in rows] == [3, 3, 6]


def test_probe_is_deterministic_and_respects_the_training_limit():
    labels, informative, _, train, test = _scene()
    a = linear_probe({"f": [informative]}, labels, train, test, 3, max_train=50, seed=1)
    b = linear_probe({"f": [informative]}, labels, train, test, 3, max_train=50, seed=1)
    assert a == b


def test_pixels_at_checks_shapes():
    with pytest.raises(DataError, match="spatial shape"):
        pixels_at([np.zeros((2, 5, 5))], np.ones((4, 4), bool))
    with pytest.raises(DataError, match="at least one"):
        pixels_at([], np.ones((4, 4), bool))


def test_neighbourhood_mean_of_a_constant_is_the_constant():
    image = np.full((2, 6, 7), 3.0)
    np.testing.assert_allclose(neighbourhood_mean(image), image)
