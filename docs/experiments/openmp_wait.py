"""How fast do training steps run under each OpenMP wait policy, alone and two processes side by side?

Training steps under OpenMP wait policies: one bench process alone, and two side by side.

Each measurement is `bdgf-bench --quick --only training --threads 2` in a fresh process under
the environment named (libgomp reads it once, when torch loads), the policies taken in turn
round after round (a, b, c, a, b, c, ...) so that a shared machine slows each alike; medians
over the rounds are printed as a markdown table (samples/s, and BDGF's fraction of the fp32
matmul the same process timed). `--pair` runs two such processes at the same time instead and
reports BDGF's samples/s of each: what a spinning policy costs when the cores are shared.
`--busy` times each policy alone and beside one busy process per core (`yes > /dev/null`,
started before the bench and ended after it: another user's work on a shared machine), alone and
busy in turn within each round, and prints each policy's slowdown busy / alone paired by round:
a run that loses half the cores should run about 2x slower, not 5-10x. `--then DIR` adds the
code of an older checkout (a `git worktree` of the issue-era commit f9bb05b, whose bench is
`bdgf_nb.bench`) under PASSIVE, its default, as one more arm, so "then" and "now" are timed in
the same rounds; a second table then gives each arm's speed-up over it, paired by round
(geometric mean of the per-round ratios, Student-t 95 % interval). docs/BENCH.md, "OpenMP wait
policy". From the repo root:

    python docs/experiments/openmp_wait.py [--rounds 3] [--pair | --busy] [--then /tmp/f9]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from scipy import stats

from bdgf_nb import openmp

MODELS = ("ddpm", "cnn_only", "mamba_only", "transformer_only", "bdgf")  # the bench's training entries
BENCH = [sys.executable, "-m", "bdgf_nb.cli.bench", "--quick", "--only", "training", "--threads", "2"]
POLICIES = {
    "PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
    "GOMP_SPINCOUNT=100000": {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "100000"},
    "GOMP_SPINCOUNT=30000 (bdgf_nb.openmp)": {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "30000"},
}
# libgomp's default when nothing is set (what a JupyterLab kernel got before bdgf_nb set PASSIVE on
# import) is a 300,000-iteration spin; named explicitly so bdgf-bench does not add its own spin
BUSY_POLICIES = {
    "libgomp default (GOMP_SPINCOUNT=300000)": {"GOMP_SPINCOUNT": "300000"},
    "GOMP_SPINCOUNT=30000": {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "30000"},
    "PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
}
PAIR_POLICIES = {
    "PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
    "GOMP_SPINCOUNT=30000": {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "30000"},
    "GOMP_SPINCOUNT=1000": {"OMP_WAIT_POLICY": "PASSIVE", "GOMP_SPINCOUNT": "1000"},
}


def _start(policy: dict[str, str], checkout: str | None, out: Path) -> subprocess.Popen[bytes]:
    """One bench under `policy`; with `checkout`, that older tree's code (first on the path, its
    bench module `bdgf_nb.bench`) instead of this one's."""
    env = {k: v for k, v in os.environ.items() if k not in openmp.VARIABLES} | policy
    command = BENCH if checkout is None else [BENCH[0], "-m", "bdgf_nb.bench", *BENCH[3:]]
    if checkout is not None:
        env["PYTHONPATH"] = checkout
    return subprocess.Popen(
        [*command, "--out", str(out)], env=env, cwd=checkout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )


def _read(process: subprocess.Popen[bytes], out: Path) -> dict[str, float]:
    _, err = process.communicate()
    if process.returncode != 0:
        raise SystemExit(f"bdgf-bench failed ({process.returncode}): {err.decode()[-2000:]}")
    report = json.loads(out.read_text())
    row = {model: r["samples_per_s"] for model, r in report["training"].items()}
    return {
        **row,
        "bdgf of matmul": report["training"]["bdgf"]["fraction_of_matmul"],
        "matmul GFLOP/s": report["machine"]["matmul_flops"] / 1e9,
    }


def _busy(n: int) -> list[subprocess.Popen[bytes]]:
    """n processes that keep one core each busy (`yes` into /dev/null)."""
    return [subprocess.Popen(["yes"], stdout=subprocess.DEVNULL) for _ in range(n)]


def busy_table(rounds: int) -> None:
    """Each BUSY_POLICIES arm alone, then beside one `yes` per core, in turn within each round;
    BDGF and DDPM samples/s medians and the slowdown alone / busy paired by round."""
    cores = os.cpu_count() or 1
    rows: dict[str, dict[str, list[dict[str, float]]]] = {n: {"alone": [], "busy": []} for n in BUSY_POLICIES}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            for name, policy in BUSY_POLICIES.items():
                for state in ("alone", "busy"):
                    out = Path(tmp) / f"{r}_{state}.json"
                    hogs = _busy(cores) if state == "busy" else []
                    try:
                        rows[name][state].append(_read(_start(policy, None, out), out))
                    finally:
                        for hog in hogs:
                            hog.kill()
                            hog.wait()
                    print(f"round {r}: {name}, {state}: {rows[name][state][-1]}", file=sys.stderr, flush=True)
    print(
        f"| policy ({rounds} rounds; {cores} cores; busy: {cores} x `yes`) | BDGF alone | BDGF busy | "
        "BDGF slowdown [95 % CI] | DDPM alone | DDPM busy | DDPM slowdown [95 % CI] |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, measured in rows.items():
        cells = []
        for model in ("bdgf", "ddpm"):
            alone, busy = ([m[model] for m in measured[s]] for s in ("alone", "busy"))
            cells += [f"{statistics.median(alone):,.0f}", f"{statistics.median(busy):,.0f}", _ratio(alone, busy)]
        print(f"| {name} | " + " | ".join(cells) + " |")


def _ratio(a: list[float], b: list[float]) -> str:
    """Geometric mean of a_i / b_i with a Student-t 95 % interval on the logarithms."""
    logs = [math.log(x / y) for x, y in zip(a, b, strict=True)]
    mean = statistics.mean(logs)
    if len(logs) < 2:
        return f"{math.exp(mean):.2f}x"
    half = stats.t.ppf(0.975, len(logs) - 1) * statistics.stdev(logs) / math.sqrt(len(logs))
    return f"{math.exp(mean):.2f}x [{math.exp(mean - half):.2f}, {math.exp(mean + half):.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pair", action="store_true", help="two bench processes at a time, BDGF samples/s of each")
    parser.add_argument("--then", default=None, help="an older checkout whose code is timed too, under PASSIVE")
    parser.add_argument("--busy", action="store_true", help="each policy alone and beside one `yes` per core")
    args = parser.parse_args()
    if args.busy:
        busy_table(args.rounds)
        return
    arms: dict[str, tuple[dict[str, str], str | None]] = {
        name: (policy, None) for name, policy in (PAIR_POLICIES if args.pair else POLICIES).items()
    }
    if args.then:
        arms = {f"then: {Path(args.then).name}, PASSIVE": (openmp.PASSIVE, str(Path(args.then).resolve())), **arms}
    rows: dict[str, list[dict[str, float]]] = {name: [] for name in arms}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for name, (policy, checkout) in arms.items():
                outs = [Path(tmp) / f"{r}_{i}.json" for i in range(2 if args.pair else 1)]
                started = [_start(policy, checkout, out) for out in outs]
                measured = [_read(p, out) for p, out in zip(started, outs, strict=True)]
                rows[name].append(
                    {"bdgf (first)": measured[0]["bdgf"], "bdgf (second)": measured[1]["bdgf"]}
                    if args.pair
                    else measured[0]
                )
                print(f"round {r}: {name}: {rows[name][-1]}", file=sys.stderr, flush=True)
    keys = list(next(iter(rows.values()))[0])
    print(f"| policy ({args.rounds} rounds, medians) | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    for name, measured in rows.items():
        cells = [statistics.median(m[k] for m in measured) for k in keys]
        print(
            f"| {name} | "
            + " | ".join(
                f"{c:.1%}" if k.endswith("of matmul") else f"{c:,.0f}" for k, c in zip(keys, cells, strict=True)
            )
            + " |"
        )
    if args.then and not args.pair and args.rounds >= 2:
        _paired_speedups(rows, next(iter(rows)), [k for k in keys if k in MODELS])


def _paired_speedups(rows: dict[str, list[dict[str, float]]], then: str, models: list[str]) -> None:
    """Each arm against the older code, paired by round: the geometric mean of the per-round
    ratios of samples/s with a Student-t 95 % interval on their logarithms."""
    print(
        f"\n| now / then, paired by round ({len(rows[then])} rounds; geometric mean [95 % CI]) | "
        + " | ".join(models)
        + " |"
    )
    print("|---|" + "---|" * len(models))
    for name, measured in rows.items():
        if name == then:
            continue
        cells = []
        for model in models:
            logs = [math.log(now[model] / old[model]) for now, old in zip(measured, rows[then], strict=True)]
            half = stats.t.ppf(0.975, len(logs) - 1) * statistics.stdev(logs) / math.sqrt(len(logs))
            mean = statistics.mean(logs)
            cells.append(f"{math.exp(mean):.2f}x [{math.exp(mean - half):.2f}, {math.exp(mean + half):.2f}]")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
