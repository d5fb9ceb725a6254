"""`bdgf-run`: execute the notebooks in order, headless, through papermill.

Each notebook gets the run's parameters that its parameters cell declares (`RunParameters`,
one option of `bdgf-run` each); executed copies land in the output folder next to
`summary.json` (dataset, split and every metric the notebooks recorded). A failing notebook
stops the run with its name and the cell's error, and its executed copy is left for
inspection. Every argument is checked before the first notebook starts (`RunParameters`,
`RunConfig`): a bad one ends `bdgf-run` with one line naming it and exit status 2, as argparse
does.

With `--jobs N` > 1 the notebooks too run N at a time, each kernel on one thread, in the order
`NOTEBOOK_NEEDS` allows (a notebook kernel keeps about one core busy on average, so two share
two cores well). A failing notebook then stops what waits for it; the
others finish, and the run ends with the failure as above.

`--labels-per-class 5,10,all` sweeps label budgets: the run once per budget, in that order, each
into its own subfolder of the output folder (`lpc5/`, `lpc10/`, `all/`) with its own summary.json
and executed notebooks, all sharing the output folder's artifacts/ and cache/ (the DDPMs, which see
no label, are trained once; classifier files carry `_lpcN`); `sweep.json` lists the budgets run.
A single value keeps the single run's layout.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bdgf_nb import openmp
from bdgf_nb.config_checks import check_fields
from bdgf_nb.data.benchmarks import BENCHMARKS, DATA_DIR_ENV, benchmark, data_dir
from bdgf_nb.data.catalog import catalog_entry
from bdgf_nb.errors import BDGFError, ConfigError, DataError, expect
from bdgf_nb.pipeline.parameters import RunParameters, add_arguments, from_arguments
from bdgf_nb.pipeline.presets import preset
from bdgf_nb.pipeline.records import load_results
from bdgf_nb.storage import atomic_write_json

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"


def notebook_paths(folder: Path = NOTEBOOK_DIR) -> list[Path]:
    return sorted(p for p in folder.glob("[0-9][0-9]_*.ipynb"))


def select_notebooks(spec: str | None, folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """'00,01' -> those notebooks, by number prefix; None -> all, in order."""
    available = notebook_paths(folder)
    if spec is None:
        return available
    chosen = []
    for number in (s.strip() for s in spec.split(",") if s.strip()):
        match = [p for p in available if p.name.startswith(f"{int(number):02d}_")] if number.isdigit() else []
        expect(
            len(match) == 1,
            ConfigError,
            f"--notebooks: no notebook numbered {number!r}; available: {[p.name[:2] for p in available]}",
        )
        chosen.append(match[0])
    return chosen


@dataclass(frozen=True)
class RunConfig:
    """One dataset's run: its parameters (pipeline.parameters), where its outputs go, which
    notebooks (numbers, e.g. "00,01"; None: all) from which folder, and `jobs`: > 1 trains
    notebook 03's runs that many at a time first (pipeline.schedule), then runs the notebooks
    that many at a time. Checked on construction."""

    params: RunParameters = field(default_factory=RunParameters)
    out: Path = Path("outputs")
    notebooks: str | None = None
    folder: Path = NOTEBOOK_DIR
    jobs: int = 1

    def __post_init__(self) -> None:
        check_fields(self)
        expect(self.jobs >= 1, ConfigError, f"RunConfig.jobs: expected an integer >= 1, found {self.jobs}")
        select_notebooks(self.notebooks, self.folder)  # ConfigError for an unknown number


# Executed copies are for static viewing too (nbviewer, `jupyter nbconvert --to html`): plotly
# emits its JupyterLab mimetype AND text/html with plotly.js inlined (self-contained, works
# offline), unless the caller set PLOTLY_RENDERER; the ipywidgets state (last values, image
# buffers) is stored in the notebook metadata, so exports show the widgets as they were left.
STATIC_VIEW_ENV = {"PLOTLY_RENDERER": "plotly_mimetype+notebook"}


# A kernel that shares the cores with another notebook's: one intra-op thread (torch, numba's scan
# and the BLAS all read it) and no spinning (bdgf_nb.openmp: two spinning processes on two cores
# run 7x slower). `main` has set OMP_WAIT_POLICY=PASSIVE for every process it starts.
SHARED_KERNEL_ENV = {"OMP_NUM_THREADS": "1"}


def execute_notebook(path: Path, target: Path, parameters: dict[str, Any], exclusive: bool = True) -> None:
    """Run one notebook with papermill (kernel `python3`, cwd = its folder) into `target`.

    `exclusive`: the kernel is the run's only one (notebooks one after another, after any
    `--jobs` workers have finished) and keeps torch's thread count; otherwise (notebooks side by
    side) it runs on one thread. Either way its OpenMP threads sleep when idle (PASSIVE, set by
    `main`): it may still share the cores with work outside this run, beside which a spinning
    kernel ran 5-10x slower (docs/BENCH.md, "OpenMP wait policy"). A thread count or wait policy
    the user set is kept."""
    import papermill

    threads = {} if exclusive else SHARED_KERNEL_ENV
    added = {k: v for k, v in {**STATIC_VIEW_ENV, **threads}.items() if k not in os.environ}
    os.environ.update(added)  # the kernel inherits this process's environment
    try:
        with tempfile.TemporaryDirectory(prefix="bdgf-kernel-") as sockets:
            papermill.execute_notebook(
                str(path),
                str(target),
                parameters=parameters,
                cwd=str(path.parent),
                progress_bar=False,
                kernel_name="python3",
                store_widget_state=True,
                **_socket_transport(sockets),
            )
    finally:
        for key in added:
            os.environ.pop(key, None)


def _socket_transport(folder: str) -> dict[str, Any]:
    """papermill keywords that make the kernel listen on Unix sockets in `folder` (private to
    this run, removed after it) instead of localhost TCP ports: no port another local user could
    reach, and no "Kernel is running over TCP without encryption" warning from ipykernel 7 in
    every run's log. Windows has no ZeroMQ IPC: there the kernel keeps papermill's TCP default."""
    if os.name == "nt":
        return {}
    from jupyter_client.manager import AsyncKernelManager

    class SocketKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**{"transport": "ipc", "ip": os.path.join(folder, "kernel"), **kwargs})

    return {"kernel_manager_class": SocketKernelManager}


def declared_parameters(path: Path) -> set[str]:
    """The names `path`'s parameters cell declares (papermill injects only these)."""
    import papermill

    return set(papermill.inspect_notebook(str(path)))


def schedule_comparison(cfg: RunConfig, params: RunParameters) -> dict[str, Any]:
    """Train notebook 03's runs `cfg.jobs` at a time (pipeline.schedule) with the context notebook
    03 builds from the same parameters, so it reloads them; returns the timing for summary.json."""
    from bdgf_nb.pipeline.comparison import model_seeds
    from bdgf_nb.pipeline.schedule import train_comparison

    ctx = params.context()
    seeds = model_seeds(ctx, params.seeds)
    print(
        f"[bdgf-run] {params.dataset}: training notebook 03's runs, {cfg.jobs} at a time (model seeds {seeds}) ...",
        flush=True,
    )
    report = train_comparison(ctx, params.masking, seeds, cfg.jobs)
    for key, error in report.failed.items():
        print(f"[bdgf-run] not trained ahead, notebook 03 trains it itself: {key}: {error}", flush=True)
    print(
        f"[bdgf-run] {len(report.results)} tasks (DDPMs with their features, "
        f"trainings, baselines) done in {report.seconds:.1f} s",
        flush=True,
    )
    return {
        "seconds": round(report.seconds, 1),
        "tasks": len(report.results),
        "failed": sorted(report.failed),
        "task_seconds": {k: round(v["seconds"], 1) for k, v in report.results.items()},
    }


# What a notebook reads that another one writes, by number: 04 draws the whole-scene maps 03
# stored (it would predict them again without them), 05 reads every other notebook's records.
# Side by side (`--jobs` > 1) a notebook starts only after those it needs, among the chosen ones.
# 04 reads 03's rows and 01's probes (both recorded before it starts; 01 ends long before 03 on 2 cores).
NOTEBOOK_NEEDS: dict[str, tuple[str, ...]] = {"04": ("01", "03"), "05": ("00", "01", "02", "03", "04")}
# Wall seconds of each quick notebook after the scheduler (fresh clone, 2026-12-03), only to start
# the longest chain first: 03 then 04 on one core while 01, 02 and 00 run on the other.
NOTEBOOK_SECONDS: dict[str, float] = {"00": 21.0, "01": 37.0, "02": 34.0, "03": 33.0, "04": 48.0, "05": 8.0}


@dataclass(frozen=True)
class NotebookTask:
    """One notebook to execute: from `path` into `target` with `parameters`, after the notebooks
    named in `after` (file names); `cost` orders ready notebooks (pipeline.schedule.run_tasks)."""

    path: Path
    target: Path
    parameters: dict[str, Any] = field(default_factory=dict)
    after: tuple[str, ...] = ()
    cost: float = 1.0

    @property
    def key(self) -> str:
        return self.path.name


def notebook_tasks(paths: list[Path], out: Path, parameters: dict[str, dict[str, Any]]) -> list[NotebookTask]:
    """The chosen notebooks as tasks: each after the chosen notebooks it needs (NOTEBOOK_NEEDS),
    costed by its own seconds plus the longest chain of notebooks waiting for it."""
    by_number = {p.name[:2]: p for p in paths}
    needs = {n: tuple(m for m in NOTEBOOK_NEEDS.get(n, ()) if m in by_number) for n in by_number}

    def chain(number: str) -> float:  # its seconds + the longest chain that waits for it
        waiting = [chain(m) for m, before in needs.items() if number in before]
        return NOTEBOOK_SECONDS.get(number, 1.0) + max(waiting, default=0.0)

    return [
        NotebookTask(p, out / p.name, parameters[p.name], tuple(by_number[m].name for m in needs[n]), chain(n))
        for n, p in by_number.items()
    ]


def failure_message(task: NotebookTask, err: Any) -> str:
    """One line naming the notebook, the first line of the failing cell and its error."""
    first_line = next((line for line in str(err.source).splitlines() if line.strip()), "")
    return (
        f"{task.key} failed in the cell starting {first_line!r}: {err.ename}: {err.evalue}\n"
        f"           executed copy kept for inspection: {task.target}"
    )


class NotebookFailed(RuntimeError):
    """A notebook's cell raised, in a side-by-side worker (the message is failure_message's)."""


def execute_shared(task: NotebookTask) -> dict[str, Any]:
    """A side-by-side worker's job: the notebook on one thread; its wall seconds."""
    import papermill

    start = time.perf_counter()
    try:
        execute_notebook(task.path, task.target, task.parameters, exclusive=False)
    except papermill.PapermillExecutionError as err:
        raise NotebookFailed(failure_message(task, err)) from None
    return {"seconds": time.perf_counter() - start}


def run_notebooks_side_by_side(cfg: RunConfig, tasks: list[NotebookTask]) -> dict[str, float]:
    """Execute `tasks` `cfg.jobs` at a time in worker processes, each notebook after those it
    needs; notebook stem -> wall seconds. A failure ends the run (SystemExit) once the
    notebooks already running have finished, naming it and what was left unrun."""
    from bdgf_nb.pipeline.schedule import run_tasks

    print(
        f"[bdgf-run] {cfg.params.dataset}: {len(tasks)} notebooks, {cfg.jobs} at a time, one thread each ...",
        flush=True,
    )
    report = run_tasks(tasks, execute_shared, cfg.jobs, desc="notebooks")
    if report.failed:
        failed = [t for t in tasks if t.key in report.failed]
        first = next((t for t in failed if not report.failed[t.key].startswith(("skipped", "not run"))), failed[0])
        error = report.failed[first.key].removeprefix(f"{NotebookFailed.__name__}: ")
        unrun = [t.key for t in failed if t is not first]
        raise SystemExit(f"[bdgf-run] {error}" + (f"\n           not run or failed too: {unrun}" if unrun else ""))
    return {t.path.stem: round(report.results[t.key]["seconds"], 1) for t in tasks}


def run_notebooks_in_turn(cfg: RunConfig, tasks: list[NotebookTask]) -> dict[str, float]:
    """Execute `tasks` one after another, each kernel with the cores to itself; notebook stem ->
    wall seconds. The first failure ends the run (SystemExit) naming its cell."""
    import papermill

    timings: dict[str, float] = {}
    for task in tasks:
        print(f"[bdgf-run] {cfg.params.dataset}: {task.key} ...", flush=True)
        start = time.perf_counter()
        try:
            execute_notebook(task.path, task.target, task.parameters)
        except papermill.PapermillExecutionError as err:
            raise SystemExit(f"[bdgf-run] {failure_message(task, err)}") from None
        timings[task.path.stem] = round(time.perf_counter() - start, 1)
        print(f"[bdgf-run] {task.key} done in {timings[task.path.stem]} s", flush=True)
    return timings


# A run folder is output, never source: `*` in its .gitignore (git, and ruff inside a git checkout)
# and in its .ignore (ruff and other ripgrep-style tools anywhere), so `make lint` and `git status`
# skip the executed notebooks wherever `--out` puts them, inside the checkout included. pytest
# collects from tests/ only (pyproject's testpaths). tests/test_load_report.py checks both.
RUN_FOLDER_IGNORES = (".gitignore", ".ignore")


def mark_run_folder(out: Path) -> None:
    """Write the ignore files of a run folder (kept if present: a user may have edited them)."""
    for name in RUN_FOLDER_IGNORES:
        path = out / name
        if not path.exists():
            path.write_text("# written by bdgf-run: a run's outputs, never linted nor committed\n*\n")


def run_dataset(cfg: RunConfig) -> Path:
    """Run the chosen notebooks on one dataset; returns the path of summary.json."""
    out = cfg.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    mark_run_folder(out)
    catalog = str(Path(cfg.params.catalog).resolve()) if cfg.params.catalog else ""  # notebooks run in their own folder
    shared = str(Path(cfg.params.shared_dir).resolve()) if cfg.params.shared_dir else ""
    params = dataclasses.replace(cfg.params, out_dir=str(out), catalog=catalog, shared_dir=shared)
    paths = select_notebooks(cfg.notebooks, cfg.folder)
    entry = catalog_entry(params.dataset, catalog or None)
    scheduled = None
    if cfg.jobs > 1 and any(p.name.startswith("03_") for p in paths):
        scheduled = schedule_comparison(cfg, params)
    tasks = notebook_tasks(paths, out, {p.name: params.for_notebook(declared_parameters(p)) for p in paths})
    timings = (
        run_notebooks_side_by_side(cfg, tasks) if cfg.jobs > 1 and len(tasks) > 1 else run_notebooks_in_turn(cfg, tasks)
    )
    summary = {
        "dataset": params.dataset,
        "quick": params.quick,
        "preset": params.preset_name,
        # the split chapters 01-04 score on: "leak-free" (the project's default) or "official" (the paper
        # preset: the scene's official masks where it ships them; 00_data.split names the one used)
        "split_protocol": preset(params.preset_name).split,
        "seed": params.seed,
        "seeds": params.seeds,
        "class_balanced": params.class_balanced,
        "select_on": params.select_on,
        "masking": params.masking,
        "masking_signal": params.masking_signal,
        "width": params.width,
        "lambda_kl": params.lambda_kl,
        "entropy_matching": params.entropy_matching,
        "labels_per_class": params.labels_per_class or None,  # a label budget; None: every training pixel
        **({"shared_dir": shared} if shared else {}),  # a sweep's checkpoints and caches, outside this folder
        "allow_unmeasurable": params.allow_unmeasurable,
        "split_block": params.split_block,
        "split_stripes": params.split_stripes,
        "jobs": cfg.jobs,
        "scheduled": scheduled,
        "catalog": catalog or None,
        "data_dir": str(entry.benchmark_folder()) if entry.kind == "benchmark" else None,
        "notebook_seconds": timings,
        **load_results(out),
    }
    atomic_write_json(summary, out / "summary.json")
    print(f"[bdgf-run] summary: {out / 'summary.json'}", flush=True)
    return out / "summary.json"


def budget_folder(budget: int) -> str:
    """A sweep's subfolder for `budget` labels per class (0: every label)."""
    return f"lpc{budget}" if budget else "all"


@dataclass(frozen=True)
class Sweep:
    """A label-budget sweep of one dataset: `runs`, one per budget in the order given, each into
    its own subfolder of `out`, all keeping their checkpoints and caches in `out` (shared_dir)."""

    out: Path
    runs: tuple[RunConfig, ...]

    @classmethod
    def of(cls, base: RunConfig, budgets: Sequence[int]) -> Sweep:
        """`base` once per budget (labels per class, 0: all); each run's parameters are checked."""
        shared = str(base.out.resolve())
        return cls(
            base.out,
            tuple(
                dataclasses.replace(
                    base,
                    params=dataclasses.replace(base.params, labels_per_class=budget, shared_dir=shared),
                    out=base.out / budget_folder(budget),
                )
                for budget in budgets
            ),
        )


def run_sweep(sweep: Sweep) -> Path:
    """Run each budget of `sweep` in turn (run_dataset); returns the path of sweep.json, rewritten
    after each budget so it lists what finished. A failing budget ends the sweep (SystemExit naming
    it); the budgets before it keep their folders."""
    out = sweep.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    mark_run_folder(out)
    path, dataset = out / "sweep.json", sweep.runs[0].params.dataset
    done: list[dict[str, Any]] = []
    folders = [budget_folder(cfg.params.labels_per_class) for cfg in sweep.runs]
    atomic_write_json(_sweep_record(dataset, out, done, None, folders), path)  # a killed sweep leaves it listed
    for cfg, folder in zip(sweep.runs, folders, strict=True):
        print(f"[bdgf-run] {dataset}: label budget {folder} ({len(done) + 1} of {len(sweep.runs)}) ...", flush=True)
        entry = {"labels_per_class": cfg.params.labels_per_class or None, "folder": folder}
        start = time.perf_counter()
        try:
            summary = run_dataset(cfg)
        except (SystemExit, BDGFError) as err:
            unrun = folders[len(done) + 1 :]
            atomic_write_json(_sweep_record(dataset, out, done, {**entry, "error": str(err)}, unrun), path)
            raise SystemExit(
                f"[bdgf-run] {dataset}: label budget {folder} failed; finished: {[d['folder'] for d in done]}, "
                f"not run: {unrun} ({path})\n{err}"
            ) from None
        seconds = round(time.perf_counter() - start, 1)
        done.append({**entry, "summary": Path(summary).relative_to(out).as_posix(), "seconds": seconds})
        atomic_write_json(_sweep_record(dataset, out, done, None, folders[len(done) :]), path)
    print(f"[bdgf-run] sweep: {path}", flush=True)
    return path


def _sweep_record(
    dataset: str, shared: Path, done: list[dict[str, Any]], failed: dict[str, Any] | None, unrun: list[str]
) -> dict[str, Any]:
    """sweep.json: the budgets finished (summary paths relative to its folder, wall seconds), the
    one that failed, if any, and those not run (yet)."""
    return {"dataset": dataset, "shared_dir": str(shared), "budgets": done, "failed": failed, "not_run": unrun}


def label_budgets(text: str) -> tuple[int, ...]:
    """argparse type of --labels-per-class: "5,10,all" -> (5, 10, 0), 0 meaning every label; a
    lone "0" still means all, as before the sweep existed."""
    items = [item.strip() for item in text.split(",")]
    if items == ["0"]:
        return (0,)
    if not all(item == "all" or (item.isascii() and item.isdigit() and int(item) >= 1) for item in items):
        raise argparse.ArgumentTypeError(
            f"expected integers >= 1 or 'all', comma-separated (e.g. 5,10,25,50,all), found {text!r}"
        )
    budgets = tuple(0 if item == "all" else int(item) for item in items)
    repeated = sorted({budget_folder(b) for b in budgets if budgets.count(b) > 1})
    if repeated:
        raise argparse.ArgumentTypeError(f"expected each budget once, found {text!r} (repeated: {repeated})")
    return budgets


def _jobs(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, found {text!r}")
    return int(text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bdgf-run",
        description="Run the BDGF notebooks headless (papermill) and collect summary.json. "
        "Every notebook parameter is an option (pipeline.parameters.RunParameters).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    add_arguments(
        parser,
        skip=("out_dir", "shared_dir", "labels_per_class"),  # the run sets the folders, the sweep the budget
        more_help={
            "dataset": "; 'all': every dataset whose files are present (the others are named, with why)",
            "preset": "; paper scores on the scene's official split where it ships one (what published tables "
            "report), quick and full on the leak-free split",
        },
    )
    parser.add_argument(
        "--labels-per-class",
        dest="label_budgets",  # the budgets; each run's RunParameters.labels_per_class is one of them
        metavar="N[,N...]",
        type=label_budgets,
        default="all",
        help="label budget: labelled pixels per class the classifiers and baselines learn from (0 or all: every "
        "one); several, e.g. 5,10,25,50,all: one run per budget into OUT/<dataset>/lpc5 ... OUT/<dataset>/all, "
        "sharing the DDPMs, and OUT/<dataset>/sweep.json",
    )
    parser.add_argument(
        "--jobs",
        type=_jobs,
        default=1,
        help="train notebook 03's runs this many at a time, in one-thread processes, before the notebooks, "
        "then run the notebooks this many at a time (2 on 2 cores: about 2x faster for the trainings)",
    )
    parser.add_argument("--out", type=Path, default=Path("outputs"), help="output folder (per dataset: OUT/<dataset>)")
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder of the standard benchmarks' files (bdgf-data list), one sub-folder each; "
        f"default: ${DATA_DIR_ENV}, else ~/.cache/bdgf-data",
    )
    parser.add_argument(
        "--notebooks", default=None, help="comma-separated notebook numbers, e.g. 00,01; None runs them all"
    )
    parser.add_argument(
        "--list",
        action="store_true",
        help="list the catalog's datasets (with --catalog: that one's) as available / missing (which files) / "
        "broken (the error), and exit",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    openmp.apply_shared_default()  # for the `--jobs` workers and side-by-side kernels (bdgf_nb.openmp)
    args = parse_args(argv)
    from bdgf_nb.data.benchmark_load import missing_files_message
    from bdgf_nb.data.catalog import dataset_status, read_catalog, status_table

    if args.data_dir:  # the notebooks' kernels inherit it
        os.environ[DATA_DIR_ENV] = str(data_dir(args.data_dir))

    try:  # every argument is checked before the first notebook runs
        if args.list:
            print(status_table(dataset_status(args.catalog or None)))
            return 0
        if args.dataset == "all":
            statuses = dataset_status(args.catalog or None)
            names = [s.name for s in statuses if s.state == "available"]
            for s in statuses:
                if s.state != "available":
                    print(f"[bdgf-run] skipped {s.name} ({s.state}): {s.detail}", flush=True)
        else:
            _, raw = read_catalog(args.catalog or None)
            known = sorted({*raw, *BENCHMARKS})
            expect(args.dataset in known, ConfigError, f"--dataset: unknown {args.dataset!r}; known: {known}")
            entry = catalog_entry(args.dataset, args.catalog or None)
            if entry.kind == "benchmark" and not entry.available:  # say where to get it before any notebook
                raise DataError(missing_files_message(benchmark(entry.recipe), entry.benchmark_folder()))
            names = [args.dataset]
        configs: list[tuple[str, RunConfig | Sweep]] = []
        budgets = args.label_budgets
        for name in names:
            try:
                params = from_arguments(args, dataset=name, labels_per_class=budgets[0])
                one = RunConfig(params, args.out / name, args.notebooks, jobs=args.jobs)
                configs.append((name, one if len(budgets) == 1 else Sweep.of(one, budgets)))
            except BDGFError as err:
                if args.dataset != "all":
                    raise
                print(f"[bdgf-run] skipped {name} (broken): {err}", flush=True)
    except BDGFError as err:
        print(f"bdgf-run: error: {err}", file=sys.stderr)
        return 2
    if args.dataset != "all":
        _run(configs[0][1])
        return 0
    failed = []
    for name, cfg in configs:  # one dataset's failure (a file that does not load, a notebook) ends only its run
        try:
            _run(cfg)
        except (SystemExit, BDGFError) as err:
            print(f"[bdgf-run] {name} failed, going on with the others: {err}", flush=True)
            failed.append(name)
    if failed:
        print(f"[bdgf-run] --dataset all: {len(failed)} of {len(configs)} dataset(s) failed: {failed}", flush=True)
    return 1 if failed else 0


def _run(cfg: RunConfig | Sweep) -> Path:
    return run_dataset(cfg) if isinstance(cfg, RunConfig) else run_sweep(cfg)


if __name__ == "__main__":
    sys.exit(main())
