"""`bdgf-results`: keep a finished run's results in the repository and publish them.

    bdgf-results add OUT/<dataset>/summary.json [--name NAME] [--code REVISION]
    bdgf-results write [--check]

`add` stores notebook 03's rows of the run, its command and wall time in `results/NAME.json`
(default NAME: <dataset>_<preset>_<n>seeds). `write` regenerates docs/RESULTS.md and the
README's headline table from every stored result; `--check` only says whether they are current.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from dataclasses import replace
from pathlib import Path

from bdgf_nb.pipeline.stored_results import (
    RESULTS_DIR,
    load_stored_results,
    stored_result,
    write_stored_result,
)
from bdgf_nb.presentation.report import headline, replace_headline, results_document
from bdgf_nb.storage import atomic_write_text

REPO = Path(__file__).resolve().parents[2]
RESULTS_MD = REPO / "docs" / "RESULTS.md"
README = REPO / "README.md"


def documents(results_dir: Path = RESULTS_DIR, readme: Path = README) -> dict[Path, str]:
    """What docs/RESULTS.md and README.md should hold, from the stored results."""
    results = load_stored_results(results_dir)
    protocol = [r for r in results if r.preset != "quick"] or results  # the README shows the full protocol's runs
    return {RESULTS_MD: results_document(results), readme: replace_headline(readme.read_text(), headline(protocol))}


def add(summary_path: Path, name: str | None, code: str) -> Path:
    """Store the run of `summary_path`, dated by when its summary was written."""
    summary = json.loads(summary_path.read_text())
    recorded = datetime.datetime.fromtimestamp(summary_path.stat().st_mtime, datetime.UTC).date().isoformat()
    result = stored_result(summary, name or "", recorded, code)
    if not name:
        masking = result.settings["masking"]
        suffix = "" if masking == "adaptive" else f"_{masking}"
        result = replace(result, name=f"{result.dataset}_{result.preset}_{len(result.seeds)}seeds{suffix}")
    if (RESULTS_DIR / f"{result.name}.json").exists():
        print(f"replacing results/{result.name}.json (--name NAME keeps both)")
    return write_stored_result(result)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bdgf-results", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    adding = commands.add_parser("add", help="store a finished run's notebook-03 results in results/")
    adding.add_argument("summary", type=Path, help="OUT/<dataset>/summary.json of a bdgf-run that ran notebook 03")
    adding.add_argument("--name", default=None, help="file name in results/ (default: <dataset>_<preset>_<n>seeds)")
    adding.add_argument("--code", default="", help="the revision the run's code was at, if not the checkout's")
    writing = commands.add_parser("write", help="regenerate docs/RESULTS.md and the README's headline table")
    writing.add_argument("--check", action="store_true", help="only report whether they are current (exit 1 if not)")
    args = parser.parse_args(argv)
    if args.command == "add":
        try:
            print(f"stored {add(args.summary, args.name, args.code)}")
        except (OSError, ValueError, KeyError) as err:
            print(f"bdgf-results: error: {args.summary}: {err}", file=sys.stderr)
            return 2
        return 0
    wanted = documents()
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text() != text]
    if args.check:
        print("stale: " + ", ".join(str(p.relative_to(REPO)) for p in stale) if stale else "current")
        return 1 if stale else 0
    for path in stale:
        atomic_write_text(wanted[path], path)
    print("wrote " + (", ".join(str(p.relative_to(REPO)) for p in stale) or "nothing: both current"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
