"""Would a different schedule of the quick `make run` beat its two phases (scheduler, then notebooks)?

List scheduling on 2 workers of the task durations measured on 2026-12-03 (`bdgf-run --dataset
synthetic --quick --seed 0 --jobs 2`: the scheduler's `[jobs]` lines, then the notebooks' own
durations when run two at a time). Compares today's two phases with one task graph in which the
notebooks start as soon as what they reload exists (00: nothing; 01: the three DDPMs; 02: the
guided single-branch trainings; 03: every comparison task; 04: 03; 05: all).

    python docs/experiments/schedule_simulation.py
    # two phases: 221 + 90 = 311 s; one graph, critical path first: 311 s; longest first: 331 s
    # and the moves of `variants()`: 304-323 s; the best (all three in one graph) 304 s

The simulation ignores start-up and contention, so its 311 s is below the measured 331.7 s.
"""

from __future__ import annotations

import argparse
import heapq

# seconds, prerequisites
COMPARISON = {
    "features none": (54, []),
    "features adaptive": (54, []),
    "features random_matched": (50, ["features adaptive"]),
    "bdgf (none)": (48, ["features none"]),
    "no_guidance_equal_size": (39, ["features adaptive"]),
    "bdgf": (42, ["features adaptive"]),
    "no_mutual": (37, ["features adaptive"]),
    "bdgf (random_matched)": (38, ["features random_matched"]),
    "cnn_only": (15, ["features adaptive"]),
    "mamba_only": (10, ["features adaptive"]),
    "no_guidance": (30, ["features adaptive"]),
    "baselines": (3, []),
    "transformer_only": (20, ["features adaptive"]),
}
NOTEBOOKS = {
    "00": (21, []),
    "01": (21, ["features none", "features adaptive", "features random_matched"]),
    "02": (39, ["cnn_only", "mamba_only", "transformer_only"]),
    "03": (38, list(COMPARISON)),
    "04": (46, ["03"]),
    "05": (6, [*COMPARISON, "00", "01", "02", "03", "04"]),
}
Tasks = dict[str, tuple[int, list[str]]]


def makespan(tasks: Tasks, priority: dict[str, float], workers: int = 2) -> float:
    """Greedy list scheduling: whenever a worker is free, start the ready task of highest priority."""
    done: dict[str, float] = {}
    pending, running, now = set(tasks), [], 0.0
    while pending or running:
        ready = sorted((k for k in pending if all(a in done for a in tasks[k][1])), key=lambda k: -priority[k])
        while ready and len(running) < workers:
            key = ready.pop(0)
            pending.remove(key)
            heapq.heappush(running, (now + tasks[key][0], key))
        now, key = heapq.heappop(running)
        done[key] = now
    return now


def critical_path(tasks: Tasks) -> dict[str, float]:
    """Each task's duration plus the longest chain of tasks that wait for it."""
    after = {k: [j for j in tasks if k in tasks[j][1]] for k in tasks}
    memo: dict[str, float] = {}

    def length(k: str) -> float:
        if k not in memo:
            memo[k] = tasks[k][0] + max((length(j) for j in after[k]), default=0)
        return memo[k]

    return {k: length(k) for k in tasks}


def two_phases(comparison: Tasks, notebooks: Tasks) -> tuple[float, float]:
    """bdgf-run's schedule: the comparison tasks longest first, then the notebooks longest chain first."""
    first = makespan(comparison, {k: v[0] for k, v in comparison.items()})
    among = {k: (v[0], [a for a in v[1] if a in notebooks]) for k, v in notebooks.items()}
    return first, makespan(among, critical_path(among))


def one_graph(comparison: Tasks, notebooks: Tasks) -> float:
    """Every task in one graph, critical path first."""
    graph = {**comparison, **notebooks}
    return makespan(graph, critical_path(graph))


# Moves tried on 2026-12-04, with estimated durations (the 24 s of notebook 02's three unguided
# trainings, split by branch; umap's numba compile ~9 s, which notebook 04's UMAP cell then
# skips, ~18 s in a fresh clone; notebook 03's scene maps ~17 s). The best, all three in one graph: 304 s.
UNGUIDED = {
    "cnn unguided": (8, ["features adaptive"]),
    "mamba unguided": (6, ["features adaptive"]),
    "transformer unguided": (10, ["features adaptive"]),
}
UMAP_WARM = {"umap compile": (9, [])}
MAPS = {"scene maps": (17, ["bdgf", "baselines"])}


def variants() -> dict[str, tuple[Tasks, Tasks]]:
    """(comparison, notebooks) for each move: notebook 02's unguided trainings in the scheduler,
    umap compiled ahead of notebook 04, the scene maps drawn in the scheduler (04 then needs
    nothing of 03), and the three together."""
    unguided_nb = {**NOTEBOOKS, "02": (15, NOTEBOOKS["02"][1])}
    warm_nb = {**NOTEBOOKS, "04": (28, ["03"])}
    maps_nb = {**NOTEBOOKS, "03": (21, NOTEBOOKS["03"][1]), "04": (46, [])}
    all_nb = {**maps_nb, "02": (15, NOTEBOOKS["02"][1]), "04": (28, [])}
    return {
        "02's unguided trainings scheduled": ({**COMPARISON, **UNGUIDED}, unguided_nb),
        "umap compiled ahead": ({**COMPARISON, **UMAP_WARM}, warm_nb),
        "scene maps scheduled": ({**COMPARISON, **MAPS}, maps_nb),
        "all three": ({**COMPARISON, **UNGUIDED, **UMAP_WARM, **MAPS}, all_nb),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args()
    first, second = two_phases(COMPARISON, NOTEBOOKS)
    print(f"two phases: {first:.0f} + {second:.0f} = {first + second:.0f} s")
    print(f"one graph, critical path first: {one_graph(COMPARISON, NOTEBOOKS):.0f} s")
    graph = {**COMPARISON, **NOTEBOOKS}
    print(f"one graph, longest first: {makespan(graph, {k: v[0] for k, v in graph.items()}):.0f} s")
    for name, (comparison, notebooks) in variants().items():
        first, second = two_phases(comparison, notebooks)
        print(
            f"{name}: two phases {first:.0f} + {second:.0f} = {first + second:.0f} s; "
            f"one graph {one_graph(comparison, notebooks):.0f} s"
        )


if __name__ == "__main__":
    main()
