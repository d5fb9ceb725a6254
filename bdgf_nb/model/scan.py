"""Selective scan (Mamba's S6 recurrence, Gu & Dao 2023, Algorithm 2): reference, fused CPU path,
and `mamba_ssm` CUDA kernels, all with the signature of mamba's `selective_scan_ref`.

Glossary (mamba-minimal style):
    b: batch size                  l: sequence length (docs/METHOD.md §3: band groups of a spectrum)
    d: d_inner (channels scanned)  n: d_state (SSM state size per channel)

For every (b, d) channel the scan runs the discretised SSM (Mamba eq. 2a-2b, 4, ZOH for A and
Euler for B):
    dA_t = exp(delta_t * A)                       (n,)
    h_t  = dA_t * h_{t-1} + delta_t * B_t * u_t    (n,)  h_{-1} = 0
    y_t  = C_t . h_t + D * u_t
    out  = y * silu(z)                             (optional gate)
with delta = softplus(delta + delta_bias) when asked (Mamba eq. 4's s_delta parameterisation).

Backends (`selective_scan(..., backend=...)`, see `resolve_backend`):
    "reference": `selective_scan_reference`, readable and sequential; materialises the
                 (b, d, l, n) tensors dA and delta*B*u. Ground truth for the tests.
    "fused":     numba loops that never build (b, d, l, n) tensors (`scan_numba.py`, imported
                 behind a guard); about 20x faster than the reference forward + backward at
                 b=256, l=128, d=64, n=16, agreeing to ~1e-6 relative.
    "mamba_ssm": the CUDA kernels of state-spaces/mamba (`selective_scan_fn`).
    "auto":      mamba_ssm on CUDA when installed, fused on CPU, reference otherwise.
Only the core recurrence lives in the kernels; delta_bias/softplus, D and the z gate are plain
torch ops around it, so autograd differentiates them the same way for every backend.

The module reads top to bottom: the readable reference first, then the backend choice.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F
from einops import einsum, rearrange

from bdgf_nb.errors import ConfigError, DataError, expect

Core = Callable[[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]

scan_core_fused: Core | None
FUSED_UNAVAILABLE = ""  # why the fused path did not import, if it did not
try:  # the fused CPU path: numba kernels, tested against the reference below
    from bdgf_nb.model.scan_numba import scan_core_fused
except ImportError as err:
    scan_core_fused, FUSED_UNAVAILABLE = None, f"{type(err).__name__}: {err}"

try:
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
except ImportError:
    selective_scan_fn = None

BACKENDS = ("auto", "reference", "fused", "mamba_ssm")


# --- the readable reference (u, delta (b, d, l); A (d, n); B, C (b, n, l) -> y (b, d, l)) -------


def _scan_core_reference(
    u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor
) -> torch.Tensor:
    deltaA = torch.exp(einsum(delta, A, "b d l, d n -> b d l n"))  # ZOH, Mamba eq. 4
    deltaB_u = einsum(delta, B, u, "b d l, b n l, b d l -> b d l n")  # Euler step for B
    h = u.new_zeros(u.shape[0], u.shape[1], A.shape[1])
    ys = []
    # unbind, not deltaA[:, :, t]: the backward of each slice would allocate a zeroed
    # (b, d, l, n) gradient, which made the backward ~50x slower at b=256, l=128.
    for deltaA_t, deltaB_u_t, C_t in zip(deltaA.unbind(2), deltaB_u.unbind(2), C.unbind(2), strict=True):
        h = deltaA_t * h + deltaB_u_t  # Mamba eq. 2a
        ys.append(einsum(h, C_t, "b d n, b n -> b d"))  # Mamba eq. 2b
    return torch.stack(ys, dim=2)


def _full_scan(
    core: Core,
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None,
    z: torch.Tensor | None,
    delta_bias: torch.Tensor | None,
    delta_softplus: bool,
) -> torch.Tensor:
    """The torch ops around the core recurrence, shared by the reference and the fused path."""
    if delta_bias is not None:
        delta = delta + rearrange(delta_bias, "d -> d 1")
    if delta_softplus:
        delta = F.softplus(delta)  # Mamba eq. 4: delta = softplus(s_delta(x) + bias)
    y = core(u, delta, A, B, C)
    if D is not None:
        y = y + u * rearrange(D, "d -> d 1")  # skip connection
    if z is not None:
        y = y * F.silu(z)  # gate branch of the Mamba block
    return y


def selective_scan_reference(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
) -> torch.Tensor:
    """Sequential selective scan (mamba's `selective_scan_ref`, real A, input-dependent B, C).

    u, delta, z: (b, d, l); A: (d, n); B, C: (b, n, l); D, delta_bias: (d,). Returns y (b, d, l).
    Materialises (b, d, l, n) tensors: memory and backward time grow with b*d*l*n."""
    return _full_scan(_scan_core_reference, u, delta, A, B, C, D, z, delta_bias, delta_softplus)


# --- the backend choice -------------------------------------------------------------------------


def resolve_backend(backend: str, u: torch.Tensor) -> str:
    """The backend `selective_scan` runs for `backend` and tensors on `u.device`.

    "auto" -> "mamba_ssm" on CUDA with mamba_ssm installed, "fused" on CPU, else "reference"."""
    expect(backend in BACKENDS, ConfigError, f"backend must be one of {list(BACKENDS)}, found {backend!r}")
    cuda = u.is_cuda
    if backend == "auto":
        if cuda:
            return "mamba_ssm" if selective_scan_fn is not None else "reference"
        if u.device.type == "cpu" and scan_core_fused is None:  # numba is a dependency: a broken install
            warnings.warn(
                f"the fused CPU scan did not import ({FUSED_UNAVAILABLE}); the reference runs, ~20x slower",
                stacklevel=3,
            )
        return "fused" if u.device.type == "cpu" and scan_core_fused is not None else "reference"
    if backend == "mamba_ssm":
        found = "mamba_ssm not installed" if selective_scan_fn is None else "mamba_ssm installed"
        expect(
            selective_scan_fn is not None and cuda,
            ConfigError,
            "backend='mamba_ssm' needs the mamba_ssm package and CUDA tensors, "
            f"found {found} and tensors on {u.device}",
        )
    if backend == "fused":
        expect(scan_core_fused is not None, ConfigError, "backend='fused' needs numba, which did not import")
        expect(u.device.type == "cpu", ConfigError, f"backend='fused' runs on CPU tensors, found tensors on {u.device}")
    return backend


def _check_shapes(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None,
    z: torch.Tensor | None,
    delta_bias: torch.Tensor | None,
) -> None:
    expect(u.dim() == 3, DataError, f"u must be (b, d, l), found shape {tuple(u.shape)}")
    b, d, length = u.shape
    expect(A.dim() == 2 and A.shape[0] == d, DataError, f"A must be (d={d}, n), found shape {tuple(A.shape)}")
    n = A.shape[1]
    named = {
        "delta": (delta, (b, d, length)),
        "B": (B, (b, n, length)),
        "C": (C, (b, n, length)),
        "D": (D, (d,)),
        "z": (z, (b, d, length)),
        "delta_bias": (delta_bias, (d,)),
    }
    for name, (x, shape) in named.items():
        if x is not None:
            expect(tuple(x.shape) == shape, DataError, f"{name} must have shape {shape}, found {tuple(x.shape)}")


def selective_scan(
    u: torch.Tensor,
    delta: torch.Tensor,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    D: torch.Tensor | None = None,
    z: torch.Tensor | None = None,
    delta_bias: torch.Tensor | None = None,
    delta_softplus: bool = False,
    backend: str = "auto",
) -> torch.Tensor:
    """Selective scan with the fastest available backend (see module docstring).

    u, delta, z: (b, d, l); A: (d, n); B, C: (b, n, l); D, delta_bias: (d,). Returns y (b, d, l)
    in u's dtype. Every backend gives the reference's outputs and gradients up to rounding."""
    _check_shapes(u, delta, A, B, C, D, z, delta_bias)
    chosen = resolve_backend(backend, u)
    if chosen == "mamba_ssm":
        assert selective_scan_fn is not None  # resolve_backend checked it
        return selective_scan_fn(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    core = scan_core_fused if chosen == "fused" else _scan_core_reference
    assert core is not None  # resolve_backend checked it
    return _full_scan(core, u, delta, A, B, C, D, z, delta_bias, delta_softplus)
