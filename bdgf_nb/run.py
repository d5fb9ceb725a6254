"""`bdgf-run`: execute the notebooks in order, headless, through papermill.

Each notebook gets the papermill parameters `dataset`, `quick`, `seed` and `out_dir`; executed
copies land in the output folder next to `summary.json` (dataset, split and every metric the
notebooks recorded). A failing notebook stops the run with its name and the cell's error, and
its executed copy is left for inspection.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import ConfigError, expect
from .results import load_results, write_json_atomic

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"


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
        expect(len(match) == 1, ConfigError, f"--notebooks: no notebook numbered {number!r}; available: {[p.name[:2] for p in available]}")
        chosen.append(match[0])
    return chosen


@dataclass(frozen=True)
class RunConfig:
    dataset: str = "synthetic"
    quick: bool = False
    seed: int = 0
    out: Path = Path("outputs")
    notebooks: str | None = None
    folder: Path = NOTEBOOK_DIR


def run_dataset(cfg: RunConfig) -> Path:
    """Run the chosen notebooks on one dataset; returns the path of summary.json."""
    import papermill  # heavy import: only when running

    out = cfg.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    parameters = {"dataset": cfg.dataset, "quick": cfg.quick, "seed": cfg.seed, "out_dir": str(out)}
    timings = {}
    for path in select_notebooks(cfg.notebooks, cfg.folder):
        target = out / path.name
        print(f"[bdgf-run] {cfg.dataset}: {path.name} ...", flush=True)
        start = time.perf_counter()
        try:
            papermill.execute_notebook(str(path), str(target), parameters=parameters, cwd=str(path.parent), progress_bar=False, kernel_name="python3")
        except papermill.PapermillExecutionError as err:
            first_line = next((line for line in str(err.source).splitlines() if line.strip()), "")
            raise SystemExit(
                f"[bdgf-run] {path.name} failed in the cell starting {first_line!r}: {err.ename}: {err.evalue}\n"
                f"           executed copy kept for inspection: {target}"
            ) from None
        timings[path.stem] = round(time.perf_counter() - start, 1)
        print(f"[bdgf-run] {path.name} done in {timings[path.stem]} s", flush=True)
    summary = {"dataset": cfg.dataset, "quick": cfg.quick, "seed": cfg.seed, "notebook_seconds": timings, **load_results(out)}
    write_json_atomic(out / "summary.json", summary)
    print(f"[bdgf-run] summary: {out / 'summary.json'}", flush=True)
    return out / "summary.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bdgf-run",
        description="Run the BDGF notebooks headless (papermill) and collect summary.json.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--dataset", default="synthetic", help="catalog dataset name (data_catalog.yaml), or 'all' for every dataset whose files are present")
    parser.add_argument("--quick", action="store_true", help="CI-size run: small models, few epochs")
    parser.add_argument("--seed", type=int, default=0, help="random seed passed to every notebook")
    parser.add_argument("--out", type=Path, default=Path("outputs"), help="output folder (per dataset: OUT/<dataset>)")
    parser.add_argument("--notebooks", default=None, help="comma-separated notebook numbers, e.g. 00,01 (default: all)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from .data import available_datasets, load_catalog

    catalog = load_catalog()
    if args.dataset == "all":
        names = available_datasets(catalog)
    else:
        expect(args.dataset in catalog, ConfigError, f"--dataset: unknown {args.dataset!r}; known: {sorted(catalog)}")
        names = [args.dataset]
    for name in names:
        run_dataset(RunConfig(name, args.quick, args.seed, args.out / name, args.notebooks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
