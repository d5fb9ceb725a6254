"""`bdgf-data`: the standard benchmarks' files (bdgf_nb.data.benchmarks).

    bdgf-data list            what is known, present or missing, where to get it, its licence
    bdgf-data check NAME      sha256 of every member against its pin (CRLF-normalised text)
    bdgf-data fetch NAME      download from the published location, verify, place atomically

The data folder: --data-dir, else $BDGF_DATA_DIR, else ~/.cache/bdgf-data ($XDG_CACHE_HOME);
each benchmark in its own sub-folder. Exit status 0 when all is well, 1 when a check finds a
mismatch or files are missing, 2 on an error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bdgf_nb.data.benchmarks import BENCHMARKS, benchmark, data_dir, find_member, present_layout
from bdgf_nb.data.fetch import check_members, fetch, fetchable_layout
from bdgf_nb.errors import BDGFError


def list_benchmarks(root: Path) -> int:
    print(f"data folder: {root}")
    for name, spec in BENCHMARKS.items():
        folder = spec.folder(root)
        layout = present_layout(spec, folder)
        state = f"present ({layout.name} layout)" if layout else "missing"
        print(f"\n{name}: {spec.title}\n  {state}: {folder}")
        for lay in spec.layouts:
            missing = [m.path for m in lay.members if find_member(folder, m) is None]
            print(f"  layout {lay.name!r}: {lay.note}" + (f"; missing {missing}" if missing and not layout else ""))
            for d in lay.downloads:
                print(f"    get: {d.what}: {d.url or d.note}")
        print(f"  fetch: {'bdgf-data fetch ' + name if fetchable_layout(spec) else 'by hand (no public URL)'}")
        print(f"  licence: {spec.licence}")
    return 0


def check_benchmark(name: str, root: Path) -> int:
    spec = benchmark(name)
    folder = spec.folder(root)
    layout = present_layout(spec, folder)
    layouts = [layout] if layout else list(spec.layouts)
    bad = layout is None
    for lay in layouts:
        print(f"{name}, layout {lay.name!r} under {folder}:")
        for result in check_members(lay, folder):
            print("  " + result.line())
            bad |= result.status in ("mismatch", "missing")
    print(f"{name}: {'FAILED' if bad else 'ok'}")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bdgf-data", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir", default=None, help="data folder (default: $BDGF_DATA_DIR, else ~/.cache/bdgf-data)"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="known benchmarks: present or missing, where to get them, licence")
    for command, text in (("check", "sha256 of the members against their pins"), ("fetch", "download and verify")):
        sub.add_parser(command, help=text).add_argument("name", choices=sorted(BENCHMARKS))
    args = parser.parse_args(argv)
    root = data_dir(args.data_dir)
    try:
        if args.command == "list":
            return list_benchmarks(root)
        if args.command == "check":
            return check_benchmark(args.name, root)
        spec = benchmark(args.name)
        print(f"{args.name}: licence: {spec.licence}")
        for path in fetch(spec, spec.folder(root)):
            print(f"  verified and placed: {path}")
        return check_benchmark(args.name, root)
    except BDGFError as err:
        print(f"bdgf-data: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
