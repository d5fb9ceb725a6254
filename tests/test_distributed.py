"""Data-parallel training: two CPU processes under torchrun (gloo) follow the single-process run
with the same global batch; the helpers are no-ops in a single process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from bdgf_nb.checkpoint import load_checkpoint
from bdgf_nb.cli import torchrun
from bdgf_nb.device import autocast, pick_device
from bdgf_nb.errors import ConfigError
from bdgf_nb.train import distributed as ddp

WORKER = Path(__file__).with_name("ddp_worker.py")
ROOT = WORKER.parent.parent


def _launch(out: Path, processes: int) -> dict:
    out.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    launcher = (
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
        if processes > 1
        else [sys.executable]
    )
    done = subprocess.run(
        [*launcher, str(WORKER), str(out)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"{processes} process(es) failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    return torch.load(out / "result.pt", weights_only=False)


@pytest.mark.slow(seconds=12)
def test_two_processes_match_one_process(tmp_path):
    single, double = _launch(tmp_path / "one", 1), _launch(tmp_path / "two", 2)
    assert (single["world_size"], double["world_size"]) == (1, 2)
    # It trains: the losses fall, in both runs.
    for run in (single, double):
        assert run["ddpm_history"][-1]["loss"] < run["ddpm_history"][0]["loss"]
        assert run["clf_history"][-1]["train_loss"] < run["clf_history"][0]["train_loss"]
    # Same logged numbers (losses summed across ranks, the masker fed the global losses): only
    # the float summation order differs, so rtol 1e-5.
    for a, b in zip(single["ddpm_history"], double["ddpm_history"], strict=True):
        for key in ("loss", "loss_hsi", "loss_lidar", "p_mask_hsi", "p_mask_lidar", "eval_loss_hsi", "reliance_hsi"):
            assert b[key] == pytest.approx(a[key], rel=1e-5, abs=1e-7), (a["epoch"], key)
    for a, b in zip(single["clf_history"], double["clf_history"], strict=True):
        assert b["train_loss"] == pytest.approx(a["train_loss"], rel=1e-5)
        assert b["val_oa"] == a["val_oa"]
    # Same weights. Adam divides by the root of the squared gradient, so a gradient that is zero
    # up to rounding (a zero-initialised conv) can step +-lr either way: all weights within
    # lr = 1e-3, and 99.9 % of them within 1e-5.
    for key in ("ddpm", "clf"):
        diffs = torch.cat([(single[key][k].float() - double[key][k].float()).abs().flatten() for k in single[key]])
        print(f"{key}: max |w_1 - w_2| = {diffs.max():.2e}, 99.9th percentile {diffs.quantile(0.999):.2e}")
        assert diffs.max() <= 1e-3 and diffs.quantile(0.999) <= 1e-5, key
    # Rank 0 wrote the checkpoints (and nothing half-written is left); they hold the final
    # weights the run returned.
    two = tmp_path / "two"
    assert sorted(p.name for p in two.iterdir()) == ["clf.ckpt", "ddpm.ckpt", "result.pt"]
    saved = load_checkpoint(two / "ddpm.ckpt")
    assert saved["loop"]["epoch"] == 3 and torch.equal(
        saved["extras"]["ema"]["denoiser.stem.weight"], double["ddpm"]["denoiser.stem.weight"]
    )


def test_single_process_helpers_are_no_ops(monkeypatch):
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert ddp.init_from_env() is False
    assert (ddp.rank(), ddp.world_size(), ddp.is_main(), ddp.is_distributed()) == (0, 1, True, False)
    rows = torch.arange(10)
    assert torch.equal(rows[ddp.shard()], rows)
    assert ddp.batch_weight(7, 7) == 1.0 and ddp.usable(1)
    x = torch.tensor([1.5, 2.0])
    assert ddp.all_reduce_sum(x) is x
    model = nn.Linear(2, 2)
    assert ddp.wrap(model, find_unused=True) is model
    ddp.barrier()
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert ddp.init_from_env() is False


def test_device_choice_and_autocast(monkeypatch):
    assert pick_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device() == torch.device("cpu")
    with autocast(torch.device("cpu")):  # CPU stays fp32
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


def test_launch_without_torchrun_variables_is_explained(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    for name in ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigError, match=r"WORLD_SIZE=2 but RANK is not set: launch with torchrun"):
        ddp.init_from_env()


@pytest.mark.slow(seconds=92)
def test_command_line_writes_the_checkpoints_notebooks_reuse(tmp_path, capsys):
    """`python -m bdgf_nb.cli.torchrun train` alone (no torchrun) trains the quick preset and
    leaves its checkpoints under the names notebooks 01-04 look for, so `bdgf-run` reuses them."""
    assert torchrun.main(["train", "--dataset", "synthetic", "--quick", "--out", str(tmp_path)]) == 0
    assert "[1 process(es)] bdgf:" in capsys.readouterr().out
    artifacts = {p.name for p in (tmp_path / "synthetic" / "artifacts").glob("*.pt")}
    assert {"ddpm_synthetic_adaptive_quick_seed0.pt", "clf_synthetic_bdgf_ddpm-adaptive_quick_seed0.pt"} <= artifacts, (
        artifacts
    )
