"""bdgf-run --jobs: the comparison's task graph, the scheduler's ordering and failure rules,
and an end-to-end run whose checkpoints notebook 03's `compare` reloads instead of retraining."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from bdgf_nb.errors import ConfigError
from bdgf_nb.metrics import METRICS
from bdgf_nb.pipeline.comparison import compare
from bdgf_nb.pipeline.context import RunContext
from bdgf_nb.pipeline.presets import preset
from bdgf_nb.pipeline.schedule import (
    Task,
    comparison_tasks,
    run_tasks,
    train_comparison,
    training_cost,
)
from bdgf_nb.pipeline.variants import BDGF_VARIANT, COMPARISON, Variant


def test_the_task_graph_holds_every_run_compare_asks_for_after_its_ddpm():
    ctx = RunContext("synthetic", preset("full"), seed=3)  # 2 DDPM draws per masking arm
    tasks = {t.key: t for t in comparison_tasks(ctx, "adaptive", [3, 4, 5], pixel_scene=False)}
    trains = [t for t in tasks.values() if t.kind == "train"]
    features = [t for t in tasks.values() if t.kind == "features"]
    assert len(trains) == 3 * len(COMPARISON)
    assert sorted((t.masking, t.ddpm_seed) for t in features) == [
        (m, d) for m in ("adaptive", "none", "random_matched") for d in (3, 4)
    ]
    for task in trains:  # guided by the draw its seed's index picks, after those features
        assert task.ddpm_seed == 3 + (task.seed - 3) % 2
        assert task.after == (Task("features", task.masking, task.ddpm_seed).key,)
    for task in features:
        assert task.after == (
            (Task("features", "adaptive", task.ddpm_seed).key,) if task.masking == "random_matched" else ()
        )
    baselines = [t for t in tasks.values() if t.kind == "baselines"]
    assert sorted(t.seed for t in baselines) == [3, 4, 5] and all(t.after == () for t in baselines)
    assert max(t.cost for t in baselines) < min(
        t.cost for t in trains
    )  # last in longest-first order: they fill the end
    pixel = comparison_tasks(ctx, "adaptive", [0], pixel_scene=True)
    assert {t.kind for t in pixel} == {"train", "baselines"} and len(pixel) == sum(
        not v.needs_ddpm for v in COMPARISON
    ) + 1
    assert all(t.after == () for t in pixel)
    cost = {
        name: training_cost(ctx, Variant(name, (name,)))
        for name in ("cnn_only", "no_guidance", "bdgf", "no_guidance_equal_size")
    }
    assert cost["cnn_only"] < cost["no_guidance"] < cost["bdgf"] == cost["no_guidance_equal_size"]
    with pytest.raises(ConfigError, match="Task.kind"):
        Task("pretrain", "adaptive", 0)
    with pytest.raises(ConfigError, match="a variant for kind 'train' and none otherwise"):
        Task("train", "adaptive", 0)


def stamp(task: Task) -> dict:
    """Worker for the scheduler tests (module level: it is pickled into spawned processes)."""
    if task.masking == "bad":
        raise ValueError("planned failure")
    start = time.time()
    time.sleep(0.2)
    return {"seconds": 0.2, "start": start, "end": time.time()}


def test_tasks_start_after_their_prerequisites_and_a_failure_skips_only_what_needs_it():
    first = Task("features", "adaptive", 0)
    second = Task("features", "random_matched", 0, after=(first.key,))
    bad = Task("features", "bad", 0)
    bdgf, cnn = BDGF_VARIANT, Variant("CNN", ("cnn_only",))
    tasks = [
        Task("train", "random_matched", 0, bdgf, 1, after=(second.key,), cost=9.0),
        second,
        first,
        bad,
        Task("train", "bad", 0, bdgf, 1, after=(bad.key,)),
        Task("train", "none", 0, cnn, 2),
    ]
    tasks.append(Task("train", "bad", 0, bdgf, 3, after=(tasks[4].key,)))  # two levels below the failure
    report = run_tasks(tasks, stamp, jobs=2, progress=False)
    done = report.results
    assert set(done) == {first.key, second.key, tasks[0].key, tasks[5].key}
    assert (
        done[second.key]["start"] >= done[first.key]["end"] and done[tasks[0].key]["start"] >= done[second.key]["end"]
    )
    assert "ValueError: planned failure" in report.failed[bad.key]
    assert report.failed[tasks[4].key].startswith("skipped") and report.failed[tasks[6].key].startswith("skipped")
    with pytest.raises(ConfigError, match="unknown"):
        run_tasks([Task("train", "none", 0, bdgf, 1, after=("nothing",))], stamp, jobs=1, progress=False)
    with pytest.raises(ConfigError, match="jobs"):
        run_tasks([], stamp, jobs=0, progress=False)


def test_notebook_03_reloads_what_the_workers_trained(tmp_path, monkeypatch):
    """Two workers train a tiny comparison; `compare` then reloads every DDPM, feature map and
    run (no DDPM or training step taken, no feature extracted, no pixel predicted, no baseline
    fitted: exactly the workers' test scores)."""
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("tiny:\n  kind: synthetic\n  params: {size: 64, n_bands: 8, seed: 0}\n")
    short = preset("quick")
    settings = replace(
        short,
        ddpm_patches=128,
        pretrain=replace(short.pretrain, epochs=1, balance_samples=32),
        train=replace(short.train, epochs=1, warmup_epochs=0),
        max_train_pixels=200,
        max_val_pixels=100,
    )
    ctx = RunContext("tiny", settings, seed=0, out_dir=tmp_path / "run", catalog=catalog)
    report = train_comparison(ctx, "adaptive", [0], jobs=2, progress=False)
    assert not report.failed
    import bdgf_nb.pipeline.steps
    import bdgf_nb.train.classifier
    import bdgf_nb.train.pretrain
    from bdgf_nb.pipeline.steps import prepare

    def redone(*args, **kwargs):
        raise AssertionError("compare redid work the workers had done")

    monkeypatch.setattr(bdgf_nb.train.classifier, "classifier_step", redone)
    monkeypatch.setattr(bdgf_nb.train.pretrain, "ddpm_step", redone)
    monkeypatch.setattr(bdgf_nb.pipeline.steps, "extract_features", redone)
    monkeypatch.setattr(bdgf_nb.pipeline.steps, "predict", redone)
    monkeypatch.setattr(bdgf_nb.pipeline.steps, "run_baselines", redone)
    comparison = compare(ctx, prepare(ctx), "adaptive", [0], progress=False)
    for variant in COMPARISON:
        run = comparison.runs[(variant.name, 0)]
        scheduled = report.results[Task("train", variant.masking("adaptive"), 0, variant, 0).key]["row"]
        assert run.best_epoch == scheduled["best_epoch"], variant.name
        for metric in METRICS:
            assert run.row()[metric] == scheduled[metric], variant.name
    assert {r["method"] for r in comparison.rows if r["family"] == "baseline"} >= {"SVM (centre)", "RF (patch stats)"}
    # every row names its budget, its label draw and (the classifiers') DDPM draw: summary.json's rows
    assert all(r["labels_per_class"] is None and r["label_draw"] is None for r in comparison.rows)
    assert all(r["ddpm_seed"] == 0 for r in comparison.rows if r["family"] != "baseline")


def test_a_worker_keeps_feature_sets_up_to_its_budget_and_drops_them_for_another_run(monkeypatch):
    import numpy as np

    import bdgf_nb.pipeline.schedule as schedule
    from bdgf_nb.pipeline.context import DDPMSource
    from bdgf_nb.pipeline.steps import DiffusionFeatures

    read: list[tuple[str, int]] = []

    def fake_features(ctx, prepared, masking, seed, progress):
        read.append((masking, seed))
        return DiffusionFeatures([np.zeros(100, dtype=np.uint8)], DDPMSource(masking, seed))

    monkeypatch.setattr(schedule, "diffusion_features", fake_features)
    monkeypatch.setattr(schedule, "prepare", lambda ctx: object())
    monkeypatch.setattr(schedule, "FEATURE_MEMO_BYTES", 250)  # room for two sets of 100 bytes
    monkeypatch.setattr(schedule, "_WORKER", {})
    ctx = RunContext("synthetic", preset("quick"))
    prepared = schedule._prepared(ctx)
    for masking, draw in (("adaptive", 0), ("adaptive", 0), ("none", 0), ("adaptive", 0)):
        assert schedule._features(ctx, prepared, masking, draw).source == DDPMSource(masking, draw)
    assert read == [("adaptive", 0), ("none", 0)]  # read once each
    schedule._features(ctx, prepared, "none", 1)  # a third set: the oldest goes
    schedule._features(ctx, prepared, "adaptive", 0)
    assert read[-2:] == [("none", 1), ("adaptive", 0)]
    other = replace(ctx, seed=1)
    schedule._features(other, schedule._prepared(other), "adaptive", 0)  # another run's context: read again
    assert read[-1] == ("adaptive", 0) and len(read) == 5
