"""Did a rerun under the new stopping rule follow the old runs' validation histories?

Compare the validation histories of two full-protocol runs of the same trainings: the first
trained under patience 6 with any gain counting, the second under the full preset's rule
(patience 4, a gain counts above 1 kappa point). The README of 2026-11-27, "Full mode". For each training present
in both: is the new history an exact prefix of the old one, does it stop where replaying the new
rule on the old history says (stopping_rules.replay), and how far apart are the two runs'
validation kappa at the same epoch (0 when they share their trajectory). Run from the repo root:

    python docs/experiments/rerun_histories.py /tmp/runs/h18jobs /tmp/runs/h18p4
    python docs/experiments/rerun_histories.py /tmp/runs/synfull5 /tmp/runs/synp4
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from stopping_rules import replay  # run as a script: docs/experiments is on sys.path

from bdgf_nb.checkpoint import load_checkpoint
from bdgf_nb.pipeline.presets import preset


def kappa_history(path: Path) -> list[float]:
    return [row["val_kappa"] for row in load_checkpoint(path)["loop"]["history"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path, help="bdgf-run --out folder trained under patience 6, any gain")
    parser.add_argument("new", type=Path, help="bdgf-run --out folder of the same trainings under today's full preset")
    args = parser.parse_args()
    rule = preset("full").train
    pairs = [(old, args.new / old.relative_to(args.old)) for old in sorted(args.old.glob("*/artifacts/clf_*.pt"))]
    pairs = [(old, new) for old, new in pairs if new.is_file()]
    if not pairs:
        raise SystemExit(f"no classifier checkpoint of {args.old} has a namesake under {args.new}")
    prefixes, replayed, apart = 0, 0, []
    for old, new in pairs:
        before, after = kappa_history(old), kappa_history(new)
        shared = min(len(before), len(after))
        prefixes += after == before[: len(after)]
        replayed += len(after) == replay(before, rule.patience, rule.min_gain)[0]
        apart.append(float(np.abs(np.subtract(before[:shared], after[:shared])).max()))
    print(
        f"{len(pairs)} trainings in both; {prefixes} new histories are exact prefixes of the old; "
        f"{replayed} stopped at the replayed epoch (patience {rule.patience}, min gain {rule.min_gain})"
    )
    print(
        "largest |val kappa difference| at the same epoch, per training: "
        f"median {np.median(apart):.1f}, max {max(apart):.1f} points"
    )


if __name__ == "__main__":
    main()
