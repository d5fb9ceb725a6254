"""Interrupted runs resume exactly, and the same seed gives the same numbers (CPU).

A real subprocess (tests/resumable_jobs.py) pretrains the DDPM or trains a classifier with a
checkpoint; it stops inside a training batch in the middle of epoch 2 (after the checkpoint of
epoch 1 and at least one optimiser step of epoch 2) and is killed there (SIGTERM: default
handler, no cleanup; SIGKILL: cannot be caught). The run is then resumed in this process from
the last checkpoint and must end with exactly the weights and history of an uninterrupted run of
the same seed. Everything runs with one torch thread, in the child and here, so float
reductions are ordered alike.
"""

from __future__ import annotations

import math
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import resumable_jobs as jobs
import torch

from bdgf_nb.checkpoint import load_checkpoint
from bdgf_nb.evaluate.predict import score

SCRIPT = Path(jobs.__file__)
JOBS = {
    "pretrain": (jobs.run_pretrain, jobs.PRETRAIN.epochs, jobs.PRETRAIN_STEPS_PER_EPOCH),
    "train": (jobs.run_train, jobs.TRAIN.epochs, jobs.TRAIN_STEPS_PER_EPOCH),
}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def outcome(job: str, result: Any) -> dict[str, Any]:
    """What must not differ between two runs: every weight, the history (repr: NaN-safe and
    exact), and for the classifier its best epoch and validation score."""
    model = result.diffusion if job == "pretrain" else result.model
    out = {"weights": {k: v.clone() for k, v in model.state_dict().items()}, "history": repr(result.history)}
    if job == "train":
        out["best_epoch"] = result.best_epoch
        out["val_score"] = repr(score(model, jobs.train_sets()[1], jobs.N_CLASSES))
    return out


def assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for name, tensor in a["weights"].items():
        assert torch.equal(tensor, b["weights"][name]), name
    assert {k: v for k, v in a.items() if k != "weights"} == {k: v for k, v in b.items() if k != "weights"}


@pytest.fixture(scope="module")
def straight() -> dict[str, dict[str, Any]]:
    """One uninterrupted, checkpoint-free run of each job."""
    return {job: outcome(job, run(None)) for job, (run, _, _) in JOBS.items()}


def saved_epoch(checkpoint: Path) -> int:
    """Epochs completed in a checkpoint of either job."""
    state = load_checkpoint(checkpoint)
    return int(state["epoch"] if "epoch" in state else state["loop"]["epoch"])


def kill_mid_epoch(job: str, checkpoint: Path, sig: signal.Signals, hang_at: int) -> None:
    """Run the child until it hangs inside training batch `hang_at`, then kill it with `sig`."""
    child = subprocess.Popen(
        [sys.executable, str(SCRIPT), job, str(checkpoint), "--hang-at", str(hang_at)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    try:
        line = child.stdout.readline()
        assert line == f"hanging at step {hang_at}\n", f"child did not reach step {hang_at}: {line!r}"
        child.send_signal(sig)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -sig, f"child exited with {child.returncode}, expected death by {sig.name}"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=lambda s: s.name)
@pytest.mark.parametrize("job", list(JOBS))
def test_killed_run_resumes_to_the_uninterrupted_result(
    tmp_path: Path, job: str, sig: signal.Signals, straight: dict[str, dict[str, Any]]
) -> None:
    run, epochs, steps_per_epoch = JOBS[job]
    checkpoint = tmp_path / f"{job}.ckpt"
    hang_at = steps_per_epoch + steps_per_epoch // 2 + 1  # epoch 2, after >= 1 of its steps
    kill_mid_epoch(job, checkpoint, sig, hang_at)
    assert saved_epoch(checkpoint) == 1, "the last checkpoint is epoch 1's: epoch 2 was cut short"
    resumed = run(checkpoint)
    assert_same(outcome(job, resumed), straight[job])
    assert saved_epoch(checkpoint) == epochs
    leftovers = sorted(p.name for p in tmp_path.iterdir() if p.name != checkpoint.name)
    assert leftovers == [], f"temp or partial files left: {leftovers}"


@pytest.mark.parametrize("job", list(JOBS))
def test_same_seed_same_numbers_on_cpu(job: str, straight: dict[str, dict[str, Any]]) -> None:
    run, _, _ = JOBS[job]
    assert_same(outcome(job, run(None)), straight[job])


def test_resume_of_a_finished_run_changes_nothing(tmp_path: Path, straight: dict[str, dict[str, Any]]) -> None:
    checkpoint = tmp_path / "train.ckpt"
    first = outcome("train", jobs.run_train(checkpoint))
    again = outcome("train", jobs.run_train(checkpoint))  # every epoch done: nothing to train
    assert_same(first, straight["train"])
    assert_same(again, straight["train"])
    assert math.isfinite(float(load_checkpoint(checkpoint)["loop"]["best_score"]))
