"""The fused CPU selective scan equals the sequential reference on outputs and all gradients."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from bdgf_nb.errors import ConfigError, DataError
from bdgf_nb.model import scan, scan_numba
from bdgf_nb.model.scan import resolve_backend, selective_scan, selective_scan_reference

NAMES = ("u", "delta", "A", "B", "C", "D", "z", "delta_bias")


def make_inputs(
    b: int,
    d: int,
    length: int,
    n: int,
    *,
    with_D: bool = True,
    with_z: bool = True,
    with_bias: bool = True,
    softplus: bool = True,
    dtype: torch.dtype = torch.float32,
    seed: int = 0,
) -> dict[str, torch.Tensor | None]:
    """Inputs shaped like a Mamba block's: delta > 0 when no softplus is applied, A < 0."""
    g = torch.Generator().manual_seed(seed)

    def rand(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=g, dtype=torch.float64).to(dtype)

    delta = rand(b, d, length) if softplus else torch.rand(b, d, length, generator=g, dtype=torch.float64).to(dtype)
    x: dict[str, torch.Tensor | None] = {
        "u": rand(b, d, length),
        "delta": delta,
        "A": -torch.rand(d, n, generator=g, dtype=torch.float64).to(dtype) * 2 - 0.1,
        "B": rand(b, n, length),
        "C": rand(b, n, length),
        "D": rand(d) if with_D else None,
        "z": rand(b, d, length) if with_z else None,
        "delta_bias": rand(d) * 0.5 if with_bias else None,
    }
    for t in x.values():
        if t is not None:
            t.requires_grad_()
    return x


def run(x: dict[str, torch.Tensor | None], softplus: bool, backend: str) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Output and the gradients of sum(y * w) for a fixed random w, for every given input."""
    args = [x[k] for k in NAMES]
    if backend == "reference":
        y = selective_scan_reference(*args, delta_softplus=softplus)
    else:
        y = selective_scan(*args, delta_softplus=softplus, backend=backend)
    w = torch.randn(y.shape, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(y.dtype)
    given = [t for t in args if t is not None]
    return y, list(torch.autograd.grad((y * w).sum(), given))


CASES = [  # (b, d, l, n, with_D, with_z, with_bias, softplus)
    (1, 3, 1, 4, True, True, True, True),
    (2, 4, 7, 3, False, False, False, False),
    (3, 2, 33, 5, True, False, True, True),
    (1, 5, 33, 16, False, True, False, True),
    (4, 8, 64, 16, True, True, False, False),
]


@pytest.mark.parametrize(("b", "d", "length", "n", "with_D", "with_z", "with_bias", "softplus"), CASES)
def test_fused_matches_reference(
    b: int, d: int, length: int, n: int, with_D: bool, with_z: bool, with_bias: bool, softplus: bool
) -> None:
    x = make_inputs(b, d, length, n, with_D=with_D, with_z=with_z, with_bias=with_bias, softplus=softplus)
    y_ref, g_ref = run(x, softplus, "reference")
    y_fused, g_fused = run(x, softplus, "fused")
    print(f"shape b={b} d={d} l={length} n={n}: y max diff {(y_fused - y_ref).abs().max().item():.2e}")
    assert y_fused.shape == (b, d, length)
    assert torch.allclose(y_fused, y_ref, rtol=1e-4, atol=1e-5)
    names = [k for k in NAMES if x[k] is not None]
    for name, gf, gr in zip(names, g_fused, g_ref, strict=True):
        print(f"  grad {name}: max diff {(gf - gr).abs().max().item():.2e}")
        assert gf.shape == gr.shape
        assert torch.allclose(gf, gr, rtol=1e-4, atol=1e-5), name


def test_auto_backend_on_cpu_is_fused_and_exact_to_rounding() -> None:
    x = make_inputs(2, 3, 5, 4)
    assert resolve_backend("auto", x["u"]) == "fused"  # type: ignore[arg-type]
    y_auto, _ = run(x, True, "auto")
    y_fused, _ = run(x, True, "fused")
    assert torch.equal(y_auto, y_fused)


def test_fused_is_deterministic() -> None:
    x = make_inputs(3, 4, 17, 8)
    y1, g1 = run(x, True, "fused")
    y2, g2 = run(x, True, "fused")
    assert torch.equal(y1, y2)
    assert all(torch.equal(a, b) for a, b in zip(g1, g2, strict=True))


def test_fused_gradcheck_float64() -> None:
    x = make_inputs(2, 2, 5, 3, dtype=torch.float64)

    def f(*args: torch.Tensor) -> torch.Tensor:
        return selective_scan(*args, delta_softplus=True, backend="fused")

    assert torch.autograd.gradcheck(f, tuple(x[k] for k in NAMES), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_low_precision_is_upcast_and_returned_in_input_dtype() -> None:
    x = make_inputs(2, 3, 9, 4)
    args = [t.detach() if t is not None else None for t in (x[k] for k in NAMES)]
    half = [t.to(torch.bfloat16) if t is not None else None for t in args]
    y = selective_scan(*half, delta_softplus=True, backend="fused")
    ref = selective_scan_reference(*[t.float() if t is not None else None for t in half], delta_softplus=True)
    assert y.dtype == torch.bfloat16
    assert torch.allclose(y.float(), ref, rtol=2e-2, atol=2e-2)


def test_long_sequence_stays_finite_and_matches() -> None:
    """Large delta * |A| drives exp(delta A) to 0: no NaN from dividing states back out."""
    x = make_inputs(1, 2, 300, 4, softplus=False)
    with torch.no_grad():
        x["delta"].mul_(30.0)  # type: ignore[union-attr]
    y_ref, g_ref = run(x, False, "reference")
    y_fused, g_fused = run(x, False, "fused")
    assert torch.isfinite(y_fused).all()
    assert torch.allclose(y_fused, y_ref, rtol=1e-4, atol=1e-5)
    assert all(torch.allclose(a, b, rtol=1e-4, atol=1e-4) for a, b in zip(g_fused, g_ref, strict=True))


def test_vectorised_exp_is_within_a_few_ulp_of_float64_exp() -> None:
    x = np.linspace(-87.0, 88.0, 200_001, dtype=np.float32)
    out = np.empty_like(x)
    ibuf = np.empty(x.shape, dtype=np.int32)
    scan_numba._exp_block(x, ibuf, ibuf.view(np.float32), out, True)
    rel = np.abs(out.astype(np.float64) / np.exp(x.astype(np.float64)) - 1.0)
    print(f"max relative error of the float32 exp: {rel.max():.2e}")
    assert rel.max() < 4 * np.finfo(np.float32).eps


def test_mamba_ssm_backend_without_cuda_is_a_clear_error() -> None:
    x = make_inputs(1, 2, 3, 2)
    with pytest.raises(
        ConfigError, match=r"backend='mamba_ssm' needs the mamba_ssm package and CUDA tensors, found .* tensors on cpu"
    ):
        run(x, True, "mamba_ssm")


def test_auto_never_picks_mamba_ssm_for_cpu_tensors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan, "selective_scan_fn", lambda *a, **k: None)
    assert resolve_backend("auto", torch.zeros(1, 1, 1)) == "fused"


def test_unknown_backend_is_rejected() -> None:
    with pytest.raises(
        ConfigError, match=r"backend must be one of \['auto', 'reference', 'fused', 'mamba_ssm'\], found 'cuda'"
    ):
        resolve_backend("cuda", torch.zeros(1, 1, 1))


def test_shape_mismatch_names_the_input() -> None:
    x = make_inputs(2, 3, 5, 4)
    x["B"] = torch.zeros(2, 4, 6)
    with pytest.raises(DataError, match=r"B must have shape \(2, 4, 5\), found \(2, 4, 6\)"):
        run(x, True, "fused")


def test_fused_scan_keeps_torchs_thread_count_in_a_fresh_process() -> None:
    """numba's OpenMP pool, started by the first fused scan of a process, resets the process's
    OpenMP thread count, which torch reads as its own: a one-thread `bdgf-run --jobs` worker
    became a two-thread one. Needs a fresh process (the pool starts once per process)."""
    import subprocess
    import sys

    code = (
        "import torch\n"
        "torch.set_num_threads(1)\n"
        "from bdgf_nb.model.scan import selective_scan\n"
        "g = torch.Generator().manual_seed(0)\n"
        "u, delta = torch.randn(4, 8, 6, generator=g, requires_grad=True), torch.randn(4, 8, 6, generator=g)\n"
        "A, B, C = -torch.rand(8, 16, generator=g), "
        "torch.randn(4, 16, 6, generator=g), torch.randn(4, 16, 6, generator=g)\n"
        "selective_scan(u, delta, A, B, C, backend='fused').sum().backward()\n"
        "print(torch.get_num_threads())\n"
    )
    found = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        env={**os.environ, "NUMBA_NUM_THREADS": "2"},
    )
    assert found.returncode == 0, f"the child process failed:\n{found.stderr}"
    assert found.stdout.strip().splitlines()[-1] == "1", (
        f"expected torch to keep 1 thread after the fused scan, found {found.stdout!r}"
    )


def test_auto_without_the_fused_path_warns_and_runs_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """numba is a dependency: a broken install must not make every scan 20x slower in silence."""
    monkeypatch.setattr(scan, "scan_core_fused", None)
    monkeypatch.setattr(scan, "FUSED_UNAVAILABLE", "ImportError: no numba")
    with pytest.warns(UserWarning, match=r"fused CPU scan did not import \(ImportError: no numba\)"):
        assert resolve_backend("auto", torch.zeros(1, 1, 1)) == "reference"
