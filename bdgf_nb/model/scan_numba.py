"""The selective scan's core recurrence on CPU, fused in numba (the fast path of `scan.py`).

Layouts inside the kernels: u, delta, y (b, l, d); A transposed to (n, d); B, C to (b, l, n).
One thread owns one batch element and keeps its (n, d) state in a local array, so the
(b, d, l, n) tensors of the reference are never built; a hand-written backward recomputes one
batch element's states at a time. The innermost loops run over d, element-wise, so LLVM
vectorises them without reordering any float sum. exp was the bottleneck (numba has no SVML
here, so math.exp stays scalar); a polynomial exp that vectorises cut the forward about 6x.
Chosen by measurement (`python -m bdgf_nb.cli.bench_scan`): parallel cumsum / log-space forms
ran slower than the reference loop on 2 cores and lose precision as l grows.

numba compiles each kernel on first use (a few seconds per dtype) and caches the machine code in
`__pycache__` next to this file (`cache=True`), so later processes start at once. `scan.py`
imports this module behind a guard and tests it against the reference.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np
import torch
from einops import rearrange
from numba import njit, prange


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
        p = (
            (
                (
                    (
                        (
                            (np.float32(1.9875691500e-4) * r + np.float32(1.3981999507e-3)) * r
                            + np.float32(8.3334519073e-3)
                        )
                        * r
                        + np.float32(4.1665795894e-2)
                    )
                    * r
                    + np.float32(1.6666665459e-1)
                )
                * r
                + np.float32(5.0000001201e-1)
            )
            * (r * r)
            + r
            + np.float32(1.0)
        )
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
    def forward(
        ctx: Any, u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor
    ) -> torch.Tensor:
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
            _numpy(ut),
            _numpy(deltat),
            _numpy(At),
            _numpy(Bt),
            _numpy(Ct),
            _numpy(rearrange(dy, "b d l -> b l d")),
            du.numpy(),
            ddelta.numpy(),
            dAt_part.numpy(),
            dBt.numpy(),
            dCt.numpy(),
            ut.dtype == torch.float32,
        )
        return (
            rearrange(du, "b l d -> b d l"),
            rearrange(ddelta, "b l d -> b d l"),
            rearrange(dAt_part.sum(0), "n d -> d n"),
            rearrange(dBt, "b l n -> b n l"),
            rearrange(dCt, "b l n -> b n l"),
        )


def scan_core_fused(
    u: torch.Tensor, delta: torch.Tensor, A: torch.Tensor, B: torch.Tensor, C: torch.Tensor
) -> torch.Tensor:
    """The core recurrence y (b, d, l) of u, delta (b, d, l), A (d, n), B, C (b, n, l), in
    float32 or float64 (other dtypes run in float32 and are cast back)."""
    dtype = u.dtype
    work = dtype if dtype in (torch.float32, torch.float64) else torch.float32  # numba: fp32/fp64
    y = _FusedScan.apply(*(x.to(work) for x in (u, delta, A, B, C)))
    return y.to(dtype)
