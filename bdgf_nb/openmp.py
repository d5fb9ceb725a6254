"""How idle OpenMP threads wait, chosen so that a run sharing the machine slows by the share of
the cores it loses, not several times more.

torch (its bundled libgomp) and numba (the system's libgomp) each keep a pool of OpenMP threads.
Between two parallel regions an idle thread either spins, burning its core, or sleeps, and a
sleeping thread costs a futex wake-up at the next region. BDGF's steps are many small parallel
regions. A short spin runs training steps 1.2-1.5x faster on cores nobody else uses; beside any
other work (a second kernel, another user's job) a spinning process ran 5-10x slower, and slowed
the others too (docs/BENCH.md, "OpenMP wait policy"). Users run kernels side by side and machines
are shared, so sleeping (PASSIVE) is the default everywhere a run can meet other work:
- `apply_shared_default()`: OMP_WAIT_POLICY=PASSIVE for the process and every process it starts
  (`bdgf-run`, its workers and all its notebook kernels, `bdgf-bench`, the torchrun command line);
- `apply_kernel_default()`: the same on `import bdgf_nb` in a Jupyter kernel (JupyterLab) that has
  not loaded torch yet, since libgomp reads the variables once, when it loads;
- `exclusive_env()`: the short spin, only for `bdgf-bench`, which restarts itself with it to
  measure the code on cores it has to itself (its figures in docs/BENCH.md are taken so).
A choice the user made in the environment (either variable) is never overridden. The number of
threads, and so every result, is the same either way: only the waiting differs.
"""

from __future__ import annotations

import os
import sys

VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
SPIN = {"GOMP_SPINCOUNT": "30000"}  # libgomp prefers it to OMP_WAIT_POLICY; ~0.3 ms at its 100,000 spins/ms
PASSIVE = {"OMP_WAIT_POLICY": "PASSIVE"}
MARK = "BDGF_OPENMP_DEFAULT"  # holds the OMP_WAIT_POLICY this module set, so it is not taken for the user's


def user_choice() -> dict[str, str]:
    """The wait-policy variables set in the environment, less the default this module set: the
    user's choice, or the spin an entry point gave a child (which is then kept, never doubled)."""
    chosen = {k: os.environ[k] for k in VARIABLES if k in os.environ}
    if MARK in os.environ and chosen.get("OMP_WAIT_POLICY") == os.environ[MARK]:
        del chosen["OMP_WAIT_POLICY"]
    return chosen


def apply_shared_default() -> None:
    """PASSIVE for this process and everything it starts, unless a policy was chosen. Call it
    first in an entry point: it reaches this process's own OpenMP pools only if torch (or
    numba's OpenMP layer) has not loaded yet, and every child started afterwards."""
    if not user_choice():
        os.environ.update({**PASSIVE, MARK: PASSIVE["OMP_WAIT_POLICY"]})


def apply_kernel_default() -> None:
    """On `import bdgf_nb` inside a Jupyter kernel (ipykernel loaded): PASSIVE, as the entry
    points set it, unless the user chose a policy or torch has loaded already (libgomp read the
    environment then, so setting it would change nothing and only misreport). JupyterLab users
    run several kernels at once, and a kernel left with libgomp's default 300,000-iteration spin
    slows every other process on the cores (docs/BENCH.md, "OpenMP wait policy"). A plain
    `python` or IPython process is left as it is."""
    if "ipykernel" in sys.modules and "torch" not in sys.modules:
        apply_shared_default()


def exclusive_env() -> dict[str, str]:
    """Variables to add for a child process that will have the cores alone: the short spin, or
    nothing when a policy was chosen (a shared machine: `OMP_WAIT_POLICY=PASSIVE`)."""
    return {} if user_choice() else dict(SPIN)


def current() -> dict[str, str | None]:
    """The two variables as this process sees them (libgomp read them when it loaded)."""
    return {k: os.environ.get(k) for k in VARIABLES}
