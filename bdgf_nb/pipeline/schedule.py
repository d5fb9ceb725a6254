"""Train the runs of notebook 03's comparison N at a time, in one-thread worker processes,
before the notebook reloads them (`bdgf-run --jobs N`).

Why processes and not threads: BDGF's tensors are small, so a second intra-op thread buys
almost nothing on two cores, while two one-thread processes side by side train nearly twice as
fast between them (docs/BENCH.md). The protocol's runs are independent
once their DDPM exists, so they form a small task graph:

    features(adaptive, d), features(none, d)       one DDPM pretrained + its features cached
    features(random_matched, d)  after  features(adaptive, d)   (it needs the adaptive rate)
    train(variant, seed)  after  the features of the DDPM draw that seed is guided by
    baselines(seed)      the fused SVM and RF of that model seed (no prerequisite)

Each task writes what the pipeline already reloads (the DDPM checkpoint, the feature cache, the
classifier checkpoint with its stored evaluation, the stored baseline rows; all written
atomically, storage.py), so `comparison.compare` in the notebook then trains and predicts
nothing, and its tables are exactly those of a run without `--jobs`, up to float rounding: a
run trained on one thread may round differently from one trained on two. A task that fails
is reported and skipped, with everything that depends on it; the notebook then trains those
runs itself and fails there, in the open, if the error is real.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, TypeVar

from tqdm.auto import tqdm

from bdgf_nb.data.catalog import catalog_entry
from bdgf_nb.errors import ConfigError, expect
from bdgf_nb.pipeline.comparison import ddpm_seed
from bdgf_nb.pipeline.context import RunContext
from bdgf_nb.pipeline.steps import (
    DiffusionFeatures,
    Prepared,
    diffusion_features,
    fused_baselines,
    prepare,
    train_variant,
)
from bdgf_nb.pipeline.variants import Variant, comparison_variants

KINDS = ("features", "train", "baselines")
FEATURE_MEMO_BYTES = 2**30  # feature sets a worker keeps; houston2018_west's six take 165 MB
BASELINE_COST = 0.06  # one seed's fused SVM and RF: ~11 s, against ~170 s for a BDGF training on houston2018_west


@dataclass(frozen=True)
class Task:
    """One unit of the comparison: `kind` "features" (pretrain or reload the DDPM of `masking`,
    draw `ddpm_seed`, and cache its features), "train" (`variant`, model seed `seed`, guided by
    that DDPM) or "baselines" (the fused baselines of model seed `seed`; `masking`
    and `ddpm_seed` unused). `after`: keys of the tasks that must finish first."""

    kind: str
    masking: str
    ddpm_seed: int
    variant: Variant | None = None
    seed: int = 0
    after: tuple[str, ...] = ()
    cost: float = 1.0  # relative, only to start the longest tasks first

    def __post_init__(self) -> None:
        expect(self.kind in KINDS, ConfigError, f"Task.kind: expected one of {list(KINDS)}, found {self.kind!r}")
        expect(
            (self.kind == "train") == (self.variant is not None),
            ConfigError,
            "Task: a variant for kind 'train' and none otherwise, "
            f"found kind {self.kind!r} with variant {self.variant}",
        )

    @property
    def key(self) -> str:
        if self.kind == "features":
            return f"features {self.masking} draw {self.ddpm_seed}"
        if self.kind == "baselines":
            return f"baselines seed {self.seed}"
        assert self.variant is not None
        return f"train {self.variant.key} ({self.masking} draw {self.ddpm_seed}) seed {self.seed}"


def training_cost(ctx: RunContext, variant: Variant) -> float:
    """A training's cost relative to full BDGF, for longest-first order (which keeps every worker
    busy to the end): proportional to its branches, and an unguided model of the same width
    somewhat cheaper (the guidance modules are about a third of a step, docs/BENCH.md)."""
    full = ctx.preset.model
    cfg = variant.config(full)
    guided = cfg.guidance or variant.equal_size  # widened back to BDGF's size
    return len(cfg.branches) / len(full.branches) * (1.0 if guided else 0.7)


def comparison_tasks(ctx: RunContext, masking: str, seeds: list[int], pixel_scene: bool) -> list[Task]:
    """The task graph of `comparison.compare(ctx, prepared, masking, seeds)`: the same variants,
    model seeds and DDPM draws (`ddpm_seed`), so every checkpoint it asks for is produced, and
    each model seed's baselines. Their cost is small, so longest-first runs them last, where they
    fill the end of the schedule when one worker would otherwise wait for the other."""
    tasks: dict[str, Task] = {}
    for index, seed in enumerate(seeds):
        draw = ddpm_seed(ctx, index)
        baselines = Task("baselines", "", 0, seed=seed, cost=BASELINE_COST)
        tasks[baselines.key] = baselines
        for variant in comparison_variants(pixel_scene):
            mode = variant.masking(masking)
            after: tuple[str, ...] = ()
            if not pixel_scene:
                before = (Task("features", "adaptive", draw).key,) if mode == "random_matched" else ()
                features = Task("features", mode, draw, after=before, cost=2.0)
                tasks.setdefault(features.key, features)
                after = (features.key,)
            train = Task("train", mode, draw, variant, seed, after, training_cost(ctx, variant))
            tasks[train.key] = train
    for task in list(tasks.values()):  # random_matched's prerequisite, when no variant asked for adaptive itself
        for key in task.after:
            if key not in tasks and key.startswith("features adaptive"):
                tasks[key] = Task("features", "adaptive", task.ddpm_seed, cost=2.0)
    return list(tasks.values())


class Schedulable(Protocol):
    """What `run_tasks` needs of a task: a unique key, the keys it waits for, a relative cost."""

    @property
    def key(self) -> str: ...

    @property
    def after(self) -> tuple[str, ...]: ...

    @property
    def cost(self) -> float: ...


T = TypeVar("T", bound=Schedulable)

_WORKER: dict[str, Any] = {}  # per worker process: the run's context and its prepared scene


def _one_thread() -> None:
    """Worker initializer: one intra-op thread (numba's scan follows torch's count)."""
    import torch

    torch.set_num_threads(1)


def _prepared(ctx: RunContext) -> Prepared:
    if _WORKER.get("ctx") != ctx:  # prepared once per worker, not per task
        _WORKER.update(ctx=ctx, prepared=prepare(ctx), features={})  # another run: none of its feature sets either
    prepared: Prepared = _WORKER["prepared"]
    return prepared


def _features(ctx: RunContext, prepared: Prepared, masking: str, draw: int) -> DiffusionFeatures:
    """`diffusion_features`, kept in the worker between tasks (reading the DDPM checkpoint and the
    feature cache takes ~1 s, and each feature set guides up to 25 trainings); the oldest
    sets are dropped beyond `FEATURE_MEMO_BYTES`."""
    memo: dict[tuple[str, int], DiffusionFeatures] = _WORKER["features"]  # emptied by _prepared for a new context
    if (masking, draw) not in memo:
        memo[(masking, draw)] = diffusion_features(ctx, prepared, masking, seed=draw, progress=False)
        while len(memo) > 1 and sum(m.nbytes for f in memo.values() for m in f.maps) > FEATURE_MEMO_BYTES:
            del memo[next(iter(memo))]
    return memo[(masking, draw)]


def run_task(ctx: RunContext, task: Task) -> dict[str, Any]:
    """Do one task in this process, through the pipeline functions the notebook calls (so the
    artefacts land where it looks). Returns its seconds, and a training's result row."""
    start = time.perf_counter()
    prepared = _prepared(ctx)
    row: dict[str, Any] = {}
    if task.kind == "baselines":
        fused_baselines(ctx, prepared, task.seed)
    else:
        features = _features(ctx, prepared, task.masking, task.ddpm_seed)
        if task.kind == "train":
            assert task.variant is not None
            row = train_variant(ctx, prepared, features, task.variant, seed=task.seed, progress=False).row()
    return {"seconds": time.perf_counter() - start, "row": row}


@dataclass
class ScheduleReport:
    """What the workers did: per task key, its result (`run_task`'s dict) or its error."""

    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def run_tasks(
    tasks: Sequence[T],
    work: Callable[[T], dict[str, Any]],
    jobs: int,
    progress: bool = True,
    desc: str = "comparison runs",
) -> ScheduleReport:
    """Run `work(task)` for every task in `jobs` one-thread worker processes (spawned: no
    forked torch state), each task once all of its `after` keys have succeeded, longest first.
    `work` must be picklable (a module-level function, or a `functools.partial` of one). Tasks
    are this module's `Task`s or anything `Schedulable` (bdgf-run's notebooks)."""
    expect(isinstance(jobs, int) and jobs >= 1, ConfigError, f"jobs: expected an integer >= 1, found {jobs!r}")
    keys = [t.key for t in tasks]
    expect(len(set(keys)) == len(keys), ConfigError, "tasks: expected unique keys, found duplicates")
    unknown = sorted({a for t in tasks for a in t.after} - set(keys))
    expect(not unknown, ConfigError, f"tasks: expected prerequisites among the tasks, found unknown {unknown}")
    report, start = ScheduleReport(), time.perf_counter()
    pending = sorted(tasks, key=lambda t: -t.cost)
    bar = tqdm(total=len(tasks), desc=desc, disable=not progress)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=_one_thread) as pool:
        running: dict[Future[dict[str, Any]], T] = {}
        while pending or running:
            while blocked := [t for t in pending if any(a in report.failed for a in t.after)]:
                for task in blocked:  # a prerequisite failed: left to the notebook, with what depends on it
                    pending.remove(task)
                    report.failed[task.key] = "skipped: a task it needs failed"
                    bar.update()
            ready = [t for t in pending if all(a in report.results for a in t.after)]
            for task in ready[: jobs - len(running)]:
                pending.remove(task)
                running[pool.submit(work, task)] = task
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            broken = False
            for future in finished:
                task = running.pop(future)
                try:
                    report.results[task.key] = future.result()
                except BrokenProcessPool as err:  # a worker died (e.g. out of memory): stop scheduling
                    report.failed[task.key] = f"{type(err).__name__}: {err}"
                    broken = True
                except Exception as err:  # reported; the notebook retrains it and shows the error
                    report.failed[task.key] = f"{type(err).__name__}: {err}"
                bar.update()
                if progress:
                    seconds = report.results.get(task.key, {}).get("seconds")
                    bar.write(
                        f"[jobs] {task.key}: "
                        + (f"{seconds:.0f} s" if seconds is not None else report.failed[task.key])
                    )
            if broken:
                break
    left = [*running.values(), *pending]  # after a broken pool (or a cycle in `after`): never run
    report.failed.update({t.key: "not run: the worker pool broke or a prerequisite never ran" for t in left})
    bar.update(len(left))
    bar.close()
    report.seconds = time.perf_counter() - start
    return report


def train_comparison(
    ctx: RunContext, masking: str, seeds: list[int], jobs: int, progress: bool = True
) -> ScheduleReport:
    """Pretrain every DDPM and train every run of notebook 03's comparison, `jobs` at a time,
    leaving the checkpoints the notebook reloads."""
    # The catalog says whether it is a pixel table (PixelScene comes only from kind "pixel"): no
    # need to load the scene here. A scene that fails to load fails in each worker's task instead.
    pixel_scene = catalog_entry(ctx.dataset, ctx.catalog).kind == "pixel"
    return run_tasks(comparison_tasks(ctx, masking, seeds, pixel_scene), partial(run_task, ctx), jobs, progress)
