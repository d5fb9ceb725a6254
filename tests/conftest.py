"""Runs before any test module imports torch: PASSIVE, the package default, chosen explicitly so
that no notebook kernel a test starts spins (bdgf_nb/openmp.py says why)."""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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
