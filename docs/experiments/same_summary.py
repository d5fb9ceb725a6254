"""Do two runs' summary.json files agree in every field but times and paths?

A change that moves code without changing behaviour must leave every number a run records as it
was. This prints each field where the two summaries differ, leaving out what is expected to
differ between two runs of the same code (wall seconds, the output folder, the scheduler's task
times), and exits 1 if any other field differs. From the repo root:

    python docs/experiments/same_summary.py BEFORE/synthetic/summary.json AFTER/synthetic/summary.json
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

IGNORED = {"seconds", "notebook_seconds", "task_seconds", "pretrain_seconds", "catalog"}  # times and paths


def differences(a: Any, b: Any, where: str = "") -> list[str]:
    """Dotted paths where two JSON values differ (floats compared exactly, NaN equal to NaN)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if key in IGNORED:
                continue
            path = f"{where}.{key}" if where else str(key)
            out += [f"{path}: only in one"] if (key in a) != (key in b) else differences(a[key], b[key], path)
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{where}: {len(a)} against {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True)) for d in differences(x, y, f"{where}[{i}]")]
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return []
    return [] if a == b else [f"{where}: {a!r} against {b!r}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("before", type=Path, help="a summary.json")
    parser.add_argument("after", type=Path, help="the summary.json to compare with it")
    args = parser.parse_args()
    found = differences(json.loads(args.before.read_text()), json.loads(args.after.read_text()))
    print("\n".join(found) if found else "identical in every field but times and paths")
    raise SystemExit(1 if found else 0)


if __name__ == "__main__":
    main()
