"""The ensemble rules (docs/METHOD.md §4): each rule against its formula, fitted weights on the
simplex, and the rule chosen on validation with every rule reported on test."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from test_mutual import logits

from bdgf_nb.errors import ConfigError, DataError
from bdgf_nb.model.ensemble import (
    ENSEMBLE_RULES,
    choose_ensemble_rule,
    ensemble_probabilities,
    entropy,
    fit_ensemble_weights,
)


@pytest.mark.parametrize("mode", ["mean", "entropy"])
def test_ensemble_is_a_probability_distribution(mode: str) -> None:
    probs = ensemble_probabilities(logits(3, b=20, c=7), mode)
    assert probs.shape == (20, 7) and (probs >= 0).all()
    torch.testing.assert_close(probs.sum(-1), torch.ones(20))


def test_ensemble_modes() -> None:
    zs = logits(3)
    torch.testing.assert_close(ensemble_probabilities(zs, "mean"), torch.stack([z.softmax(-1) for z in zs]).mean(0))
    confident, unsure = torch.tensor([[8.0, 0.0, 0.0]]), torch.tensor([[0.0, 0.1, 0.0]])
    mean, weighted = (
        ensemble_probabilities([confident, unsure], "mean"),
        ensemble_probabilities([confident, unsure], "entropy"),
    )
    assert weighted[0, 0] > mean[0, 0]  # the low-entropy branch counts more
    H = torch.stack([entropy(confident), entropy(unsure)])[:, 0]
    w = torch.exp(H.max() - H) / torch.exp(H.max() - H).sum()
    torch.testing.assert_close(weighted[0], w[0] * confident.softmax(-1)[0] + w[1] * unsure.softmax(-1)[0])
    with pytest.raises(ConfigError, match=r"ensemble mode must be one of \['mean', 'entropy', 'fitted'\], found 'max'"):
        ensemble_probabilities(zs, "max")
    w = torch.tensor([0.7, 0.2, 0.1])
    torch.testing.assert_close(
        ensemble_probabilities(zs, "fitted", w), sum(wk * z.softmax(-1) for wk, z in zip(w, zs, strict=True))
    )


def branch_probabilities(seed: int = 0, n: int = 400, c: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """(3, n, c): a strong branch (right 90 %), a weaker one (70 %), a useless one (uniform-random)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)

    def branch(accuracy: float) -> np.ndarray:
        guess = np.where(rng.random(n) < accuracy, y, rng.integers(0, c, n))
        return F.softmax(torch.tensor(3.0 * np.eye(c)[guess] + 0.3 * rng.normal(size=(n, c))), -1).numpy()

    return np.stack([branch(0.9), branch(0.7), rng.dirichlet(np.ones(c), n)]), y


def test_fitted_weights_beat_the_mean_and_drop_the_useless_branch() -> None:
    P, y = branch_probabilities()
    w = fit_ensemble_weights(P, y)
    assert w.shape == (3,) and w.sum() == pytest.approx(1.0) and (w >= 0).all()
    assert w[0] > w[1] > w[2] and w[2] < 0.05, w

    def loglik(weights: np.ndarray) -> float:
        return float(np.log(np.einsum("k,kn->n", weights, P[:, np.arange(len(y)), y])).mean())

    assert loglik(w) > loglik(np.ones(3) / 3) + 0.05
    assert loglik(w) >= max(loglik(np.eye(3)[k]) for k in range(3)) - 1e-6  # at least the best single branch
    for k in range(3):  # a maximum on the simplex: no move towards a vertex improves it
        assert loglik(0.99 * w + 0.01 * np.eye(3)[k]) <= loglik(w) + 1e-6
    held_out, y2 = branch_probabilities(seed=1)  # and it transfers to fresh pixels
    acc = lambda probs: float((probs.argmax(-1) == y2).mean())  # noqa: E731
    assert acc(np.einsum("k,knc->nc", w, held_out)) >= acc(held_out.mean(0))
    assert fit_ensemble_weights(P[:1], y).tolist() == [1.0]
    with pytest.raises(DataError, match=r"y_val must be \(400,\) labels, found shape \(3,\)"):
        fit_ensemble_weights(P, y[:3])
    with pytest.raises(DataError, match=r"y_val must hold 0-based labels in \[0, 5\), found \[1, 5\]"):
        fit_ensemble_weights(P, np.where(y == 0, 5, y))


def test_the_rule_is_chosen_on_validation_and_every_rule_is_reported_on_test() -> None:
    P, y = branch_probabilities()
    test_P, y_test = branch_probabilities(seed=1)
    choice = choose_ensemble_rule(P, y, test_P, y_test, n_classes=5)
    w = fit_ensemble_weights(P, y)
    assert choice.weights == pytest.approx(w.tolist())
    zs = [torch.tensor(np.log(p)) for p in P]
    expected_val = {
        "mean": P.mean(0),
        "entropy": ensemble_probabilities(zs, "entropy").numpy(),
        "fitted": np.einsum("k,knc->nc", w, P),
    }
    for rule, probs in expected_val.items():
        assert choice.val_oa[rule] == pytest.approx(100 * float((probs.argmax(1) == y).mean()))
    assert choice.chosen == max(ENSEMBLE_RULES, key=lambda r: (choice.val_oa[r], r == "mean"))
    assert set(choice.test) == set(ENSEMBLE_RULES)  # every rule reported on test, none chosen there
    assert choice.test["mean"]["overall_accuracy"] == pytest.approx(
        100 * float((test_P.mean(0).argmax(1) == y_test).mean())
    )
    same = np.stack([P[0], P[0], P[0]])  # identical branches: every rule ties, and a tie keeps "mean"
    assert choose_ensemble_rule(same, y, same, y, n_classes=5).chosen == "mean"
