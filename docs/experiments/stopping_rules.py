"""Replay early-stopping rules on the validation histories of finished full-protocol runs.

Every classifier checkpoint keeps its per-epoch validation scores. Under the same epoch budget
and learning-rate schedule, a stricter stopping rule only cuts a run's trajectory shorter, so
its effect can be read off those histories exactly, without retraining: how many epochs each
rule would train, and how much validation kappa the selected epoch would lose against today's
rule (patience 6, any gain counts). Validation only: test scores are not read.

A rule is (patience, min_delta): stop after `patience` epochs without a gain of more than
`min_delta` kappa points over the last counted gain; the weights kept are the best seen.

Run from the repo root, after `bdgf-run ... --seeds 5` into each folder:
    python docs/experiments/stopping_rules.py /tmp/runs/synfull5 /tmp/runs/h18full5
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from bdgf_nb.checkpoint import load_checkpoint

RULES = [(6, 0.0), (6, 0.5), (6, 1.0), (4, 0.0), (4, 0.5), (3, 0.0), (2, 0.0)]


def replay(scores: list[float], patience: int, min_delta: float) -> tuple[int, float]:
    """(epochs trained, validation score of the kept weights) under one rule."""
    best, counted, stale, epochs = -np.inf, -np.inf, 0, 0
    for score in scores:
        if stale >= patience:
            break
        epochs += 1
        best = max(best, score)
        if score > counted + min_delta:
            counted, stale = score, 0
        else:
            stale += 1
    return epochs, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path, help="bdgf-run --out folders")
    args = parser.parse_args()
    for run in args.runs:
        paths = sorted(run.glob("*/artifacts/clf_*.pt"))
        if not paths:
            raise SystemExit(f"{run}: no classifier checkpoints under */artifacts/")
        # val_kappa: the full preset selects on kappa (TrainConfig.select_on), patience 6
        histories = [[row["val_kappa"] for row in load_checkpoint(p)["loop"]["history"]] for p in paths]
        now = [replay(h, 6, 0.0) for h in histories]
        replayed = [e == len(h) for (e, _), h in zip(now, histories, strict=True)]
        if not all(replayed):
            raise SystemExit(f"{run}: {replayed.count(False)} runs were not trained under patience 6 on val_kappa (not the full preset?)")
        print(f"\n{run}: {len(paths)} trainings, {sum(e for e, _ in now)} epochs under today's rule (patience 6)")
        print("| patience | min gain (kappa points) | epochs | of today's | val kappa lost, mean | max |")
        print("|---|---|---|---|---|---|")
        for patience, min_delta in RULES:
            rule = [replay(h, patience, min_delta) for h in histories]
            lost = np.array([b0 - b for (_, b0), (_, b) in zip(now, rule, strict=True)])
            epochs = sum(e for e, _ in rule)
            print(f"| {patience} | {min_delta} | {epochs} | {epochs / sum(e for e, _ in now):.0%} | {lost.mean():.2f} | {lost.max():.2f} |")


if __name__ == "__main__":
    main()
