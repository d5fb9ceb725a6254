"""Selective scan (Mamba's S6 recurrence, Gu & Dao 2023, Algorithm 2): reference, fused CPU path,
and `mamba_ssm` CUDA kernels, all with the signature of mamba's `selective_scan_ref`.

Glossary (mamba-minimal style):
    b: batch size                  l: sequence length (BDGF.md: band groups of a spectrum)
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
    "fused":     numba loops, one thread per batch element, that keep its (n, d) state in a
                 local array and never build (b, d, l, n) tensors; a hand-written backward
                 recomputes one batch element's states at a time. Chosen by measurement on 2 CPU
                 cores (`python -m bdgf_nb.cli.bench_scan`): parallel cumsum / log-space forms ran
                 3-10x slower than the reference loop there (and lose precision as l grows);
                 this path runs ~20x faster than the reference forward+backward at b=256, l=128,
                 d=64, n=16, agreeing to ~1e-6 relative.
    "mamba_ssm": the CUDA kernels of state-spaces/mamba (`selective_scan_fn`).
    "auto":      mamba_ssm on CUDA when installed, fused on CPU, reference otherwise.
Only the core recurrence lives in the kernels; delta_bias/softplus, D and the z gate are plain
torch ops around it, so autograd differentiates them the same way for every backend.

numba compiles each kernel on first use (a few seconds per dtype) and caches the machine code in
`__pycache__` next to this file (`cache=True`), so later processes start at once.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
import torch
import torch.nn.functional as F
from einops import einsum, rearrange
from numba import njit, prange

from bdgf_nb.errors import ConfigError, DataError, expect

try:
    from mamba_ssm.ops.selective_scan_interface import selective_scan_fn
except ImportError:
    selective_scan_fn = None

BACKENDS = ("auto", "reference", "fused", "mamba_ssm")


# ---------------------------------------------------------------------------------------------
# Fused CPU kernels. Layouts: u, delta, y (b, l, d); A transposed to (n, d); B, C to (b, l, n).
# One thread owns one batch element and keeps its (n, d) state in a local array; the innermost
# loops run over d, element-wise, so LLVM vectorises them without reordering any float sum.
# Measured on 2 cores (b=256, l=128, d=64, n=16): exp was the bottleneck (numba has no SVML
# here, so math.exp stays scalar); the polynomial exp below vectorises and cut the forward ~6x.
# ---------------------------------------------------------------------------------------------


@njit(inline="always")
def _exp_block(x, ibuf, fbuf, out, fast):
    """out = exp(x) for 1-d arrays. fast (float32 only): Cephes expf, |rel err| ~ 1 ulp, with
    x = k ln2 + r, exp(r) a degree-7 polynomial and 2^k written into the exponent bits (ibuf is
    int32, fbuf its float32 view). x is clamped to [-87, 88], so exp(x < -87) gives ~1e-38, not 0."""
    if not fast:
        for i in range(x.shape[0]):
            out[i] = math.exp(x[i])
        return
    for i in range(x.shape[0]):
        v = min(max(x[i], np.float32(-87.0)), np.float32(88.0))
        k = np.floor(v * np.float32(1.44269504088896341) + np.float32(0.5))
        r = v - k * np.float32(0.693359375) - k * np.float32(-2.12194440e-4)  # Cody-Waite ln2 split
        p = (((((np.float32(1.9875691500e-4) * r + np.float32(1.3981999507e-3)) * r
                + np.float32(8.3334519073e-3)) * r + np.float32(4.1665795894e-2)) * r
              + np.float32(1.6666665459e-1)) * r + np.float32(5.0000001201e-1)) * (r * r) + r + np.float32(1.0)
        out[i] = p
        ibuf[i] = (np.int32(k) + np.int32(127)) << 23  # the float32 bits of 2^k
    for i in range(x.shape[0]):
        out[i] *= fbuf[i]


@njit(fastmath={"reassoc", "contract"})
def _dot(a, b):
    """sum(a * b) over 1-d arrays; reassoc only lets LLVM vectorise this sum (any fixed order)."""
    s = a.dtype.type(0.0)
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s


@njit(inline="always")
def _decay(delta_t, At, x, ibuf, fbuf, da, fast):
    """da (n * d,) = exp(delta_t * A), Mamba eq. 4 (ZOH), for one time step."""
    ns, nd = At.shape
    for k in range(ns):
        for j in range(nd):
            x[k * nd + j] = delta_t[j] * At[k, j]
    _exp_block(x, ibuf, fbuf, da, fast)


@njit(parallel=True, cache=True, fastmath=False)
def _scan_fwd_kernel(u, delta, At, Bt, Ct, y, fast):
    nb, nl, nd = u.shape
    ns = At.shape[0]
    for b in prange(nb):  # batch elements are independent recurrences
        h = np.zeros((ns, nd), dtype=u.dtype)
        x = np.empty(ns * nd, dtype=u.dtype)
        da = np.empty(ns * nd, dtype=u.dtype)
        ibuf = np.empty(ns * nd, dtype=np.int32)
        fbuf = ibuf.view(np.float32)
        acc = np.empty(nd, dtype=u.dtype)
        for t in range(nl):
            _decay(delta[b, t], At, x, ibuf, fbuf, da, fast)
            acc[:] = 0.0
            for k in range(ns):
                bk = Bt[b, t, k]
                ck = Ct[b, t, k]
                for j in range(nd):
                    hv = da[k * nd + j] * h[k, j] + delta[b, t, j] * u[b, t, j] * bk  # Mamba eq. 2a
                    h[k, j] = hv
                    acc[j] += ck * hv  # Mamba eq. 2b, summed over n in order k = 0 .. n-1
            y[b, t, :] = acc


@njit(parallel=True, cache=True, fastmath=False)
def _scan_bwd_kernel(u, delta, At, Bt, Ct, dy, du, ddelta, dAt_part, dBt, dCt, fast):
    """Reverse-time pass. With g_t = dL/dh_t = dy_t C_t + dA_{t+1} * g_{t+1}:
    dC_t = sum_d dy_t h_t, d(delta_t) = sum_n g_t (h_{t-1} dA_t A + B_t u_t),
    dA += g_t h_{t-1} dA_t delta_t, dB_t = sum_d g_t delta_t u_t, du_t = delta_t sum_n g_t B_t.
    One thread per batch element: it recomputes that element's states h (l + 1, n, d) locally
    (never a global (b, l, d, n) tensor) and writes its own row of dAt_part (b, n, d), which
    the caller sums over b."""
    nb, nl, nd = u.shape
    ns = At.shape[0]
    for b in prange(nb):
        hs = np.empty((nl + 1, ns, nd), dtype=u.dtype)  # hs[t + 1] = h_t, hs[0] = h_{-1} = 0
        hs[0] = 0.0
        x = np.empty(ns * nd, dtype=u.dtype)
        da = np.empty(ns * nd, dtype=u.dtype)
        ibuf = np.empty(ns * nd, dtype=np.int32)
        fbuf = ibuf.view(np.float32)
        g = np.zeros((ns, nd), dtype=u.dtype)
        gk = np.empty(nd, dtype=u.dtype)
        dtu = np.empty(nd, dtype=u.dtype)
        acc_delta = np.empty(nd, dtype=u.dtype)
        acc_u = np.empty(nd, dtype=u.dtype)
        for t in range(nl):
            _decay(delta[b, t], At, x, ibuf, fbuf, da, fast)
            for k in range(ns):
                bk = Bt[b, t, k]
                for j in range(nd):
                    hs[t + 1, k, j] = da[k * nd + j] * hs[t, k, j] + delta[b, t, j] * u[b, t, j] * bk
        for t in range(nl - 1, -1, -1):
            _decay(delta[b, t], At, x, ibuf, fbuf, da, fast)  # recomputed: cheaper than storing
            for j in range(nd):
                dtu[j] = delta[b, t, j] * u[b, t, j]
            acc_delta[:] = 0.0
            acc_u[:] = 0.0
            for k in range(ns):
                bk = Bt[b, t, k]
                ck = Ct[b, t, k]
                for j in range(nd):
                    gv = g[k, j] + dy[b, t, j] * ck
                    gk[j] = gv
                    g_lin = gv * hs[t, k, j] * da[k * nd + j]  # dL/d(delta_t A)
                    acc_delta[j] += g_lin * At[k, j] + gv * bk * u[b, t, j]
                    dAt_part[b, k, j] += g_lin * delta[b, t, j]
                    acc_u[j] += gv * bk
                    g[k, j] = gv * da[k * nd + j]  # carried to step t - 1
                dCt[b, t, k] = _dot(dy[b, t], hs[t + 1, k])
                dBt[b, t, k] = _dot(gk, dtu)
            ddelta[b, t, :] = acc_delta
            for j in range(nd):
                du[b, t, j] = acc_u[j] * delta[b, t, j]


def _numpy(x: torch.Tensor) -> np.ndarray:
    return x.detach().contiguous().numpy()


def _use_torch_threads() -> None:
    """Let torch.set_num_threads also bound numba's pool (cores here are shared).

    numba's OpenMP layer, when it starts its pool (the first call here), sets the process's
    OpenMP thread count to NUMBA_NUM_THREADS (all cores), and torch reads its own thread count
    from that setting: a one-thread `bdgf-run --jobs` worker silently became a two-thread one
    after its first Mamba forward, and two such workers ran four threads on two cores. BDGF
    training steps of two workers side by side (docs/experiments/threads_side_by_side.py):
    docs/BENCH.md, "A thread-count bug"."""
    wanted = torch.get_num_threads()
    numba.set_num_threads(max(1, min(wanted, numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)


class _FusedScan(torch.autograd.Function):
    """Core recurrence y = scan(u, delta, A, B, C) on CPU through the numba kernels above; takes
    and returns the (b, d, l) layout, runs the kernels in (b, l, d)."""

    @staticmethod
    def forward(ctx: Any, u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
        ut, deltat = (rearrange(x, "b d l -> b l d").contiguous() for x in (u, delta))
        At = rearrange(A, "d n -> n d").contiguous()
        Bt, Ct = (rearrange(x, "b n l -> b l n").contiguous() for x in (B, C))
        y = torch.empty_like(ut)
        fast = u.dtype == torch.float32
        _use_torch_threads()
        _scan_fwd_kernel(_numpy(ut), _numpy(deltat), _numpy(At), _numpy(Bt), _numpy(Ct), y.numpy(), fast)
        ctx.save_for_backward(ut, deltat, At, Bt, Ct)
        return rearrange(y, "b l d -> b d l")

    @staticmethod
    def backward(ctx: Any, dy: torch.Tensor) -> tuple[torch.Tensor, ...]:
        ut, deltat, At, Bt, Ct = ctx.saved_tensors
        nb = ut.shape[0]
        du = torch.empty_like(ut)
        ddelta = torch.empty_like(ut)
        dAt_part = ut.new_zeros(nb, *At.shape)
        dBt = torch.empty_like(Bt)
        dCt = torch.empty_like(Ct)
        _use_torch_threads()
        _scan_bwd_kernel(
            _numpy(ut), _numpy(deltat), _numpy(At), _numpy(Bt), _numpy(Ct),
            _numpy(rearrange(dy, "b d l -> b l d")), du.numpy(), ddelta.numpy(), dAt_part.numpy(),
            dBt.numpy(), dCt.numpy(), ut.dtype == torch.float32,
        )
        return (rearrange(du, "b l d -> b d l"), rearrange(ddelta, "b l d -> b d l"),
                rearrange(dAt_part.sum(0), "n d -> d n"), rearrange(dBt, "b l n -> b n l"),
                rearrange(dCt, "b l n -> b n l"))


# ---------------------------------------------------------------------------------------------
# Core recurrences (u, delta (b, d, l); A (d, n); B, C (b, n, l) -> y (b, d, l)).
# ---------------------------------------------------------------------------------------------


def _scan_core_reference(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
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


def _scan_core_fused(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    dtype = u.dtype
    work = dtype if dtype in (torch.float32, torch.float64) else torch.float32  # numba: fp32/fp64
    y = _FusedScan.apply(*(x.to(work) for x in (u, delta, A, B, C)))
    return y.to(dtype)


def _full_scan(core: Any, u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor, D: torch.Tensor | None, z: torch.Tensor | None, delta_bias: torch.Tensor | None, delta_softplus: bool) -> torch.Tensor:
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


def selective_scan_reference(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor, D: torch.Tensor | None = None, z: torch.Tensor | None = None, delta_bias: torch.Tensor | None = None, delta_softplus: bool = False) -> torch.Tensor:
    """Sequential selective scan (mamba's `selective_scan_ref`, real A, input-dependent B, C).

    u, delta, z: (b, d, l); A: (d, n); B, C: (b, n, l); D, delta_bias: (d,). Returns y (b, d, l).
    Materialises (b, d, l, n) tensors: memory and backward time grow with b*d*l*n."""
    return _full_scan(_scan_core_reference, u, delta, A, B, C, D, z, delta_bias, delta_softplus)


def resolve_backend(backend: str, u: torch.Tensor) -> str:
    """The backend `selective_scan` runs for `backend` and tensors on `u.device`.

    "auto" -> "mamba_ssm" on CUDA with mamba_ssm installed, "fused" on CPU, else "reference"."""
    expect(backend in BACKENDS, ConfigError, f"backend must be one of {list(BACKENDS)}, found {backend!r}")
    cuda = u.is_cuda
    if backend == "auto":
        if cuda:
            return "mamba_ssm" if selective_scan_fn is not None else "reference"
        return "fused" if u.device.type == "cpu" else "reference"
    if backend == "mamba_ssm":
        found = "mamba_ssm not installed" if selective_scan_fn is None else "mamba_ssm installed"
        expect(selective_scan_fn is not None and cuda, ConfigError,
               f"backend='mamba_ssm' needs the mamba_ssm package and CUDA tensors, found {found} and tensors on {u.device}")
    if backend == "fused":
        expect(u.device.type == "cpu", ConfigError, f"backend='fused' runs on CPU tensors, found tensors on {u.device}")
    return backend


def _check_shapes(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor, D: torch.Tensor | None, z: torch.Tensor | None, delta_bias: torch.Tensor | None) -> None:
    expect(u.dim() == 3, DataError, f"u must be (b, d, l), found shape {tuple(u.shape)}")
    b, d, length = u.shape
    expect(A.dim() == 2 and A.shape[0] == d, DataError, f"A must be (d={d}, n), found shape {tuple(A.shape)}")
    n = A.shape[1]
    named = {"delta": (delta, (b, d, length)), "B": (B, (b, n, length)), "C": (C, (b, n, length)),
             "D": (D, (d,)), "z": (z, (b, d, length)), "delta_bias": (delta_bias, (d,))}
    for name, (x, shape) in named.items():
        if x is not None:
            expect(tuple(x.shape) == shape, DataError, f"{name} must have shape {shape}, found {tuple(x.shape)}")


def selective_scan(u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor, D: torch.Tensor | None = None, z: torch.Tensor | None = None, delta_bias: torch.Tensor | None = None, delta_softplus: bool = False, backend: str = "auto") -> torch.Tensor:
    """Selective scan with the fastest available backend (see module docstring).

    u, delta, z: (b, d, l); A: (d, n); B, C: (b, n, l); D, delta_bias: (d,). Returns y (b, d, l)
    in u's dtype. Every backend gives the reference's outputs and gradients up to rounding."""
    _check_shapes(u, delta, A, B, C, D, z, delta_bias)
    chosen = resolve_backend(backend, u)
    if chosen == "mamba_ssm":
        assert selective_scan_fn is not None  # resolve_backend checked it
        return selective_scan_fn(u, delta, A, B, C, D, z, delta_bias, delta_softplus)
    core = _scan_core_fused if chosen == "fused" else _scan_core_reference
    return _full_scan(core, u, delta, A, B, C, D, z, delta_bias, delta_softplus)
