"""How idle OpenMP threads wait, chosen by whether a process has the cores to itself.

torch (its bundled libgomp) and numba (the system's libgomp) each keep a pool of OpenMP threads.
Between two parallel regions an idle thread either spins, burning its core, or sleeps, and a
sleeping thread costs a futex wake-up at the next region. BDGF's steps are many small parallel
regions, so the choice decides the speed. Measured on the 2-core KVM machine, quick bench
sizes, BDGF training samples/s, medians (`python docs/experiments/openmp_wait.py`, 2026-12-02,
a host running 2-4x slower than usual; docs/BENCH.md "OpenMP wait policy"):

    OMP_WAIT_POLICY=PASSIVE (sleep at once)      alone 183; two processes side by side 146 + 163
    GOMP_SPINCOUNT=30000 (spin briefly)          alone 244; two side by side 22 + 22 (7x slower)
    GOMP_SPINCOUNT=1000                          two side by side 119 + 120

No single setting is both safe and fast, so the package sets PASSIVE on import (interactive
kernels, tests, `bdgf-run --jobs` workers: anything that may share the cores), and the two
commands that own the machine by construction ask for the short spin: the notebook kernels
`bdgf-run` starts one after another (not those it runs side by side with `--jobs`), and
`bdgf-bench`. A choice the user made in the environment (either variable) is never
overridden. The number of threads, and so every result, is the same either way: only the
waiting differs.
"""

from __future__ import annotations

import os

VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
SPIN = {"GOMP_SPINCOUNT": "30000"}  # libgomp prefers it to OMP_WAIT_POLICY; ~0.3 ms at its 100,000 spins/ms
PASSIVE = {"OMP_WAIT_POLICY": "PASSIVE"}

# What the environment held when bdgf_nb was first imported, before the default below.
USER_CHOICE: dict[str, str] = {k: os.environ[k] for k in VARIABLES if k in os.environ}
for _key, _value in PASSIVE.items():
    os.environ.setdefault(_key, _value)


def exclusive_env() -> dict[str, str]:
    """Variables to add for a child process that will have the cores alone: the short spin,
    or nothing when the user chose a policy (a shared machine: `OMP_WAIT_POLICY=PASSIVE`)."""
    return {} if USER_CHOICE else dict(SPIN)


def current() -> dict[str, str | None]:
    """The two variables as this process sees them (libgomp read them when it loaded)."""
    return {k: os.environ.get(k) for k in VARIABLES}
