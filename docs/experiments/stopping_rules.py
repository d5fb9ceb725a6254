"""Which early-stopping rule loses least validation kappa while the full protocol fits in the hour?

Replay early-stopping rules on the validation histories of finished full-protocol runs.

Every classifier checkpoint keeps its per-epoch validation scores. Under the same epoch budget
and learning-rate schedule, a stricter stopping rule only cuts a run's trajectory shorter, so
its effect can be read off those histories exactly, without retraining: how many epochs each
rule would train, and how much validation kappa the selected epoch would lose against the rule
the runs were trained under (patience 6, any gain counts: the full preset before 785a896).
Validation only: test scores are not read.

A rule is (patience, min_gain): stop after `patience` epochs without a gain of more than
`min_gain` kappa points over the last counted gain; the weights kept are the best seen (what
train.loop.run_epochs does with LoopConfig.min_gain).

With `--log` (the output of the `bdgf-run --jobs N` that made the folder, one per folder, in
the same order; its `[jobs] ... : N s` lines give each task's seconds), it also estimates the
scheduler's wall time under each rule: each training's seconds per epoch times the epochs the
rule keeps, plus the DDPM tasks, over N workers. The full preset's rule (patience 4, min gain 1)
was chosen with it: the rule losing the least validation kappa among those whose estimate for
houston2018_west leaves notebook 03's ~4 minutes inside the hour.

Run from the repo root, after `bdgf-run ... --seeds 5` into each folder:
    python docs/experiments/stopping_rules.py /tmp/runs/synfull5 /tmp/runs/h18jobs --log - /tmp/runs/h18jobs.log
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import numpy as np

from bdgf_nb.checkpoint import load_checkpoint

RULES = [(6, 0.0), (6, 1.0), (5, 1.0), (4, 0.0), (4, 0.5), (4, 1.0), (3, 0.0), (3, 0.5), (3, 1.0), (2, 0.0)]


def replay(scores: list[float], patience: int, min_gain: float) -> tuple[int, float]:
    """(epochs trained, validation score of the kept weights) under one rule."""
    best, counted, stale, epochs = -np.inf, -np.inf, 0, 0
    for score in scores:
        if stale >= patience:
            break
        epochs += 1
        best = max(best, score)
        if score > counted + min_gain:
            counted, stale = score, 0
        else:
            stale += 1
    return epochs, best


def task_seconds(log: Path, run: Path, paths: list[Path], epochs: list[int]) -> tuple[list[float], float, int]:
    """(seconds per epoch of each checkpoint in `paths`, which trained `epochs`; seconds of the
    DDPM tasks; workers) read from a `bdgf-run --jobs N` log; SystemExit when the log does not
    cover every training."""
    text = log.read_text(errors="replace").replace("\r", "\n")
    workers = re.search(r"training notebook 03's runs, (\d+) at a time", text)
    if workers is None:
        raise SystemExit(f"{log}: not the log of a bdgf-run --jobs run (no 'N at a time' line)")
    ddpm = sum(float(s) for s in re.findall(r"\[jobs\] features \S+ draw \d+: (\d+) s", text))
    seconds = {}  # checkpoint name after "clf_<dataset>" (RunContext.classifier_checkpoint) -> task seconds
    for variant, arm, draw, seed, sec in re.findall(
        r"\[jobs\] train (\S+) \((\S+) draw (\d+)\) seed (\d+): (\d+) s", text
    ):
        tag = f"ddpm-{arm}" + (f"-seed{draw}" if draw != "0" else "")
        seconds[f"_{variant}_{tag}_full_seed{seed}.pt"] = float(sec)
    per_epoch = []
    for path, trained in zip(paths, epochs, strict=True):
        dataset = path.parent.parent.name  # OUT/<dataset>/artifacts/clf_<dataset>_<variant>_<ddpm>_full_seed<k>.pt
        sec = seconds.get(path.name.removeprefix(f"clf_{dataset}"))
        if sec is None:
            raise SystemExit(f"{log}: no '[jobs] train' line for {path.name} (a log of another run than {run}?)")
        per_epoch.append(sec / trained)
    return per_epoch, ddpm, int(workers.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", type=Path, help="bdgf-run --out folders")
    parser.add_argument(
        "--log", nargs="+", default=[], help="the bdgf-run --jobs log of each folder, in order; '-' for none"
    )
    args = parser.parse_args()
    if args.log and len(args.log) != len(args.runs):
        raise SystemExit(f"--log: expected one log (or '-') per run folder, {len(args.runs)}; found {len(args.log)}")
    for run, log in zip(args.runs, args.log or ["-"] * len(args.runs), strict=True):
        paths = sorted(run.glob("*/artifacts/clf_*.pt"))
        if not paths:
            raise SystemExit(f"{run}: no classifier checkpoints under */artifacts/")
        # val_kappa: the full preset selects on kappa (TrainConfig.select_on), patience 6
        histories = [[row["val_kappa"] for row in load_checkpoint(p)["loop"]["history"]] for p in paths]
        now = [replay(h, 6, 0.0) for h in histories]
        replayed = [e == len(h) for (e, _), h in zip(now, histories, strict=True)]
        if not all(replayed):
            raise SystemExit(
                f"{run}: {replayed.count(False)} runs were not trained "
                "under patience 6 on val_kappa (not the full preset?)"
            )
        timing = task_seconds(Path(log), run, paths, [len(h) for h in histories]) if log != "-" else None
        print(
            f"\n{run}: {len(paths)} trainings, "
            f"{sum(e for e, _ in now)} epochs under the rule they ran with (patience 6, any gain)"
        )
        print(
            "| patience | min gain (kappa points) | epochs | of those run | val kappa lost, mean | max |"
            + (" scheduler wall, estimated |" if timing else "")
        )
        print("|---|---|---|---|---|---|" + ("---|" if timing else ""))
        for patience, min_gain in RULES:
            rule = [replay(h, patience, min_gain) for h in histories]
            lost = np.array([b0 - b for (_, b0), (_, b) in zip(now, rule, strict=True)])
            epochs = sum(e for e, _ in rule)
            row = (
                f"| {patience} | {min_gain} | {epochs} | {epochs / sum(e for e, _ in now):.0%} "
                f"| {lost.mean():.2f} | {lost.max():.2f} |"
            )
            if timing:
                per_epoch, ddpm, workers = timing
                wall = (sum(c * e for c, (e, _) in zip(per_epoch, rule, strict=True)) + ddpm) / workers
                row += f" {wall / 60:.1f} min |"
            print(row)


if __name__ == "__main__":
    main()
