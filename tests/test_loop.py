"""The training skeleton's early stopping (train/loop.py): patience counts epochs without a
counted gain, `min_gain` decides what counts, and the weights kept are the best seen."""

from __future__ import annotations

import pytest
import torch

from bdgf_nb.errors import ConfigError
from bdgf_nb.train.classifier import TrainConfig
from bdgf_nb.train.loop import LoopConfig, Parts, run_epochs


def _run(scores: list[float], patience: int, min_gain: float) -> tuple[int, int, torch.Tensor]:
    """(epochs trained, best epoch, the weights left in the model) for scripted validation
    scores; epoch e sets the weight to e, so the kept weights name their epoch."""
    model = torch.nn.Linear(1, 1, bias=False)
    parts = Parts(model, torch.optim.SGD(model.parameters(), lr=0.1), torch.Generator())

    def train_epoch(epoch: int) -> dict[str, float]:
        with torch.no_grad():
            model.weight.fill_(epoch + 1)
        return {"epoch": epoch + 1, "val_kappa": scores[epoch]}

    state = run_epochs(
        train_epoch, parts, LoopConfig(len(scores), "val_kappa", patience, min_gain=min_gain), progress=False
    )
    return state.epoch, state.best_epoch, model.weight.detach().clone()


CREEPING = [40.0, 40.4, 40.8, 41.2, 41.6, 42.0, 50.0]  # gains of 0.4 per epoch, then a jump


def test_any_gain_counts_without_min_gain():
    epochs, best, weight = _run(CREEPING, patience=2, min_gain=0.0)
    assert (epochs, best) == (7, 7) and weight.item() == 7


def test_gains_below_min_gain_do_not_reset_patience_but_the_best_weights_are_kept():
    # 40.0 counts; 40.4 and 40.8 are under 40.0 + 1: two stale epochs, stop after epoch 3
    epochs, best, weight = _run(CREEPING, patience=2, min_gain=1.0)
    assert (epochs, best) == (3, 3) and weight.item() == 3


def test_a_gain_is_measured_from_the_last_counted_value_not_the_best():
    # 40.0 counts; 40.6 does not (stale 1); 41.1 beats 40.0 + 1 and counts (stale 0); 41.5 and 41.9 do not: stop
    epochs, best, _ = _run([40.0, 40.6, 41.1, 41.5, 41.9, 60.0], patience=2, min_gain=1.0)
    assert (epochs, best) == (5, 5)


def test_min_gain_must_not_be_negative():
    with pytest.raises(ConfigError, match="min_gain must be >= 0, found -0.5"):
        TrainConfig(min_gain=-0.5)
    with pytest.raises(ConfigError, match="min_gain must be >= 0"):
        LoopConfig(3, "val_kappa", 2, min_gain=-1.0)
