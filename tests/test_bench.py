"""`bdgf-bench`: the quick run writes every figure the benchmark promises; its tools measure."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from bdgf_nb.cli import bench
from bdgf_nb.cli.bench_scan import interleaved_medians

ROOT = Path(__file__).resolve().parent.parent
TRAINING_KEYS = {
    "samples_per_s",
    "step_s",
    "flops_per_step",
    "achieved_flops",
    "fraction_of_matmul",
    "matmul_fp32_flops",
    "peak_memory_mb",
    "memory_method",
}


@pytest.mark.slow(seconds=111)
def test_quick_bench_writes_every_figure(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "bdgf_nb.cli.bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    assert "selective scan" in done.stdout and "training step" in done.stdout  # the terminal table
    report = json.loads(out.read_text())
    assert report["machine"]["matmul_flops"] > 0
    # Scan: default path vs reference at several lengths, including the headline shape.
    rows = {r["length"]: r for r in report["scan"]}
    assert len(rows) >= 2 and 128 in rows
    headline = rows[128]
    assert (headline["batch"], headline["d_inner"], headline["d_state"]) == (256, 64, 16)
    assert headline["max_rel_err"] < 1e-4
    assert headline["speedup_fwd_bwd"] >= 3.0, headline  # measured ~20-30x on 2 cores
    assert 0 < headline["default_fwd_bwd_fraction_of_bound"] < 1
    # Training: every model, with throughput, FLOPs, fraction of the matmul and memory.
    assert set(report["training"]) == {"ddpm", *bench.BRANCH_MODELS}
    for name, row in report["training"].items():
        assert TRAINING_KEYS <= set(row), name
        assert row["samples_per_s"] > 0 and row["flops_per_step"] > 0 and 0 < row["fraction_of_matmul"] < 2, (name, row)
        assert row["peak_memory_mb"] is None or row["peak_memory_mb"] >= 0
    features = report["features"]
    assert features["cache_speedup"] > 1 and features["uncached_s"] > features["cached_s"]
    inference = report["inference"]
    assert inference["pixels"] == features["scene"][1] * features["scene"][2] and inference["map_pixels_per_s"] > 0
    pipeline = report["pipeline"]
    assert set(pipeline["stages_s"]) == {"prepare", "pretrain_ddpm", "features", "train_bdgf", "scene_map"}
    assert pipeline["total_s"] == pytest.approx(sum(pipeline["stages_s"].values()), rel=1e-3)
    assert pipeline["slowest"] in pipeline["stages_s"]


def test_interleaved_medians_time_each_call_in_turn():
    order: list[str] = []

    def call(name: str, seconds: float):
        def run() -> None:
            order.append(name)
            time.sleep(seconds)

        return run

    medians = interleaved_medians({"a": call("a", 0.02), "b": call("b", 0.001)}, repeats=3)
    assert order == ["a", "b"] * 3
    assert medians["a"] > medians["b"] > 0


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="RSS is read from /proc")
def test_peak_memory_sees_a_large_allocation():
    with bench.PeakMemory(torch.device("cpu")) as peak:
        block = torch.ones(64 * 2**20 // 4)  # 64 MiB, touched
        time.sleep(0.05)
        del block
    assert peak.bytes is not None and peak.bytes >= 48 * 2**20, peak.bytes
    assert "RSS" in peak.method


def test_table_reports_unavailable_models():
    report = {
        "machine": {"device": "cpu", "threads": 2, "matmul_flops": 1e11, "torch": "x"},
        "bench_seconds": 1.0,
        "training": {"bdgf": {"unavailable": "bdgf_nb.model.bdgf cannot be imported: no module"}},
    }
    assert "bdgf  unavailable: bdgf_nb.model.bdgf cannot be imported" in bench._table(report)


def test_step_profile_parts_cover_a_step_and_add_up():
    """Every part of a BDGF step is timed, the shares add up to 1, the table prints them."""
    from bdgf_nb.pipeline.presets import preset

    rng = np.random.default_rng(0)
    image = rng.standard_normal((5, 16, 16), dtype=np.float32)
    labels = rng.integers(0, 4, size=(16, 16))
    settings = preset("quick")
    settings = replace(
        settings,
        model=replace(settings.model, width=8),
        train=replace(settings.train, batch_size=8),
        pretrain=replace(settings.pretrain, unet=replace(settings.pretrain.unet, base_width=8)),
    )
    report = bench.step_profile_section(
        settings, image, labels, {"hsi": 4, "lidar": 1}, 3, torch.device("cpu"), repeats=1
    )
    branches = ("cnn", "mamba", "transformer")
    expected = {"data", "mutual_loss", "optimizer", *(f"{b}_{d}" for b in branches for d in ("forward", "backward"))}
    assert set(report["parts"]) == expected
    assert sum(p["share"] for p in report["parts"].values()) == pytest.approx(1.0)
    assert report["step_s"] == pytest.approx(sum(p["s"] for p in report["parts"].values()))
    assert report["real_step_s"] > 0 and report["included_in_branches"]["guidance_forward"]["s"] > 0
    table = bench._table(
        {
            "machine": {"device": "cpu", "threads": 1, "matmul_flops": 1e11, "torch": "x"},
            "bench_seconds": 1.0,
            "step_profile": report,
        }
    )
    assert "transformer_backward" in table and "(guidance_forward)" in table
