"""Runs before any test module imports torch: PASSIVE, the entry points' default, chosen here so
that no notebook kernel a test starts spins (bdgf_nb/openmp.py says why); and under pytest-xdist
with N > 1 workers, one OpenMP thread per process (see below)."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# N xdist workers already keep N cores busy, and the slowest tests start processes of their own
# (notebook kernels, `--jobs` workers, bdgf-bench), so a second intra-op thread per process only
# oversubscribes the cores: `pytest -n 2 --maxschedchunk 2` on 2 idle cores, 2026-12-04, one run
# each, one after the other: 910 s with torch's default of 2 threads, 757 s with
# OMP_NUM_THREADS=1 (the sequential quick notebook run 838 -> 568 s). xdist sets the worker count
# before it loads this file. A thread count the user set is kept; tests that need 2 threads set
# them (test_openmp), and thread-sensitive comparisons already run on one (one_torch_thread).
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ.setdefault("OMP_NUM_THREADS", "1")

# The standard benchmarks' data folder (bdgf_nb/data/benchmarks.py): an empty one of the test
# session's own that does not exist, so a user's downloaded benchmarks never enter a test (the
# tests write stand-ins and name their folders).
import tempfile  # noqa: E402

os.environ["BDGF_DATA_DIR"] = os.path.join(tempfile.gettempdir(), f"bdgf-test-no-data-{os.getpid()}")

from collections.abc import Iterator  # noqa: E402

import pytest  # noqa: E402


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """Tiny models: one torch thread is faster than two on a shared 2-core runner, and
    bit-exact comparisons do not depend on how work is split across threads."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.hookimpl(trylast=True)  # after `-m` has deselected what will not run
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Order for `make unit` (pytest-xdist, `-n N --maxschedchunk 2`): xdist gives each of its N
    workers the next two tests in collection order, then two more to whichever asks (finishes a
    short test) first. So each worker starts on one of the N longest tests, by their measured
    `slow(seconds=...)` marker, followed by a short one (a long one queued behind another long one
    would wait for it, on a worker that asks for nothing while it runs); the remaining slow tests
    come next, then the rest in their usual order. Without xdist (N = 1) only the order changes."""

    def seconds(item: pytest.Item) -> float:
        marker = item.get_closest_marker("slow")
        return float(marker.kwargs.get("seconds", 0)) if marker else 0.0

    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    slow = sorted((item for item in items if seconds(item) > 0), key=seconds, reverse=True)
    fast = [item for item in items if seconds(item) == 0]
    pairs = list(zip(slow[:workers], fast, strict=False))
    items[:] = [*(item for pair in pairs for item in pair), *slow[len(pairs) :], *fast[len(pairs) :]]


def pytest_ignore_collect(collection_path: object) -> bool | None:
    """A bdgf-run output folder (its `.ignore` names bdgf-run, cli/run.py's mark_run_folder) is
    never collected, even when `--out` puts it under tests/: a run's outputs are not tests."""
    from pathlib import Path

    marker = Path(str(collection_path)) / ".ignore"
    return True if marker.is_file() and "bdgf-run" in marker.read_text(errors="replace") else None
