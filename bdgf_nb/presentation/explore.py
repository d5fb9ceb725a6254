"""Explorations that make the three core ideas of BDGF visible: pure functions that
return numbers, and headless matplotlib figures of them; `widgets.py` puts sliders around them.

(a) `forward_process`: DDPM's forward process on one patch, x_t = sqrt(a_t) x0 + sqrt(1 - a_t) eps
    (DDPM eq. 4, a_t = alpha_bar_t), and the signal-to-noise ratio SNR(t) = a_t / (1 - a_t) of the
    model's own schedule, marked at the feature timesteps (docs/METHOD.md §2).
(b) `masking_rule` / `masking_sweep` / `simulate_masking`: the closed-loop masking rule of
    ddpm/masking.py (e_m = s_m - 1/M, p*_m = p0 + gain * e_m clipped to [0, p_max], first-order
    lag), where it saturates, and a trajectory run through the real `ModalityMasker`.
(c) `trace_mamba_branch`: the selective scan of the Mamba branch on one pixel's spectral sequence:
    delta_t, the state norm ||h_t|| and the output gate silu(z_t) per token, re-computed from the
    block's own weights and checked against the block's output (forward hooks capture its input).

Glossary: b batch, C stacked channels, p patch side, l tokens, d d_inner, n d_state, T timesteps.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F
from einops import einsum, rearrange
from matplotlib.figure import Figure

from bdgf_nb.ddpm.diffusion import DiffusionConfig, GaussianDiffusion, beta_schedule
from bdgf_nb.ddpm.masking import MaskingConfig, ModalityMasker, imbalance
from bdgf_nb.errors import ConfigError, DataError, expect
from bdgf_nb.model.branches import MambaBranch
from bdgf_nb.model.mamba import MambaBlock

FEATURE_TIMESTEPS = (5, 50, 200)  # docs/METHOD.md §2: the timesteps the frozen denoiser is read at


def png(fig: Figure, dpi: int = 80) -> bytes:
    """A matplotlib Figure as PNG bytes (headless: no pyplot, no display needed)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def rgb_bands(n_bands: int) -> list[int]:
    """Three band indices spread over the spectrum, red = longest wavelength."""
    return [int(round(b)) for b in np.linspace(0, n_bands - 1, 5)[3:0:-1]]


def stretch_like(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per-channel 2-98 % percentile stretch of `image` using `reference`'s percentiles:
    (..., h, w) channels first -> same shape, in [0, 1]. Views sharing a reference are comparable."""
    lo = np.percentile(reference, 2, axis=(-2, -1), keepdims=True)
    hi = np.percentile(reference, 98, axis=(-2, -1), keepdims=True)
    return np.clip((image - lo) / np.maximum(hi - lo, 1e-6), 0.0, 1.0).astype(np.float32)


def display_views(x: np.ndarray, reference: np.ndarray, channel_groups: Mapping[str, int]) -> dict[str, np.ndarray]:
    """(C, p, p) stacked modalities -> {first modality: (p, p, 3) false colour, each other: (p, p)
    its first channel}, stretched like `reference` (C, p, p)."""
    bounds = np.cumsum([0, *channel_groups.values()])
    names = list(channel_groups)
    bands = [int(bounds[0]) + b for b in rgb_bands(int(bounds[1]))]
    out = {names[0]: np.moveaxis(stretch_like(x[bands], reference[bands]), 0, -1)}
    for m, name in enumerate(names[1:], start=1):
        out[name] = stretch_like(x[bounds[m]], reference[bounds[m]])
    return out


# --- (a) the forward process -------------------------------------------------------------------


def schedule_snr(cfg: DiffusionConfig) -> tuple[np.ndarray, np.ndarray]:
    """(alpha_bar (T,), SNR (T,)) in float64: a_t = prod_{s<=t} (1 - beta_s) (DDPM eq. 4) and
    SNR(t) = a_t / (1 - a_t). Float64 because 1 - a_t underflows in fp32 at small t."""
    alpha_bar = torch.cumprod(1 - beta_schedule(cfg.schedule, cfg.T), dim=0).numpy()
    return alpha_bar, alpha_bar / (1.0 - alpha_bar)


@dataclass(frozen=True)
class ForwardProcess:
    """timesteps shown; views[t] = display_views of x_t (t = -1 is x0); alpha_bar / snr (T,);
    feature_timesteps marked on the SNR curve."""

    timesteps: tuple[int, ...]
    views: dict[int, dict[str, np.ndarray]]
    alpha_bar: np.ndarray
    snr: np.ndarray
    feature_timesteps: tuple[int, ...]
    schedule: str

    def signal_fraction(self, t: int) -> float:
        """Share of x_t's variance that is signal, a_t (for unit-variance x0 and eps)."""
        return float(self.alpha_bar[t])

    def sentences(self) -> list[str]:
        """One sentence per feature timestep: how much signal remains at that t."""
        return [noise_level(self.alpha_bar, t, self.schedule) for t in self.feature_timesteps]


def noise_level(alpha_bar: np.ndarray, t: int, schedule: str = "") -> str:
    """How much of x_t is signal at timestep t, in words (alpha_bar (T,) from `schedule_snr`)."""
    a = float(alpha_bar[t])
    snr = a / (1.0 - a)
    return (
        f"t = {t}: {100 * a:.2f} % of the variance of x_t is signal, {100 * (1 - a):.2g} % noise "
        f"(SNR {snr:.3g} = {10 * math.log10(snr):+.1f} dB; "
        f"{schedule + ' ' if schedule else ''}schedule, T = {len(alpha_bar)})"
    )


def forward_process(
    diffusion: GaussianDiffusion,
    patch: np.ndarray | torch.Tensor,
    timesteps: Sequence[int] = (0, 5, 50, 200, 500),
    seed: int = 0,
    feature_timesteps: Sequence[int] = FEATURE_TIMESTEPS,
) -> ForwardProcess:
    """patch (C, p, p) standardised -> x_t at each t with ONE shared noise tensor (as the feature
    extractor does, docs/METHOD.md §2), so the views differ only by t. Uses the model's q_sample."""
    x0 = torch.as_tensor(patch, dtype=torch.float32)[None]
    C = sum(diffusion.channel_groups.values())
    expect(x0.ndim == 4 and x0.shape[1] == C, DataError, f"patch must be (C={C}, p, p), found {tuple(x0.shape[1:])}")
    for t in (*timesteps, *feature_timesteps):
        expect(0 <= int(t) < diffusion.T, ConfigError, f"timesteps must lie in [0, T-1={diffusion.T - 1}], found {t}")
    noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(seed))
    source = x0[0].numpy()
    views = {-1: display_views(source, source, diffusion.channel_groups)}
    with torch.no_grad():
        for t in timesteps:
            x_t = diffusion.q_sample(x0, torch.full((1,), int(t), dtype=torch.long), noise)[0].numpy()  # DDPM eq. 4
            views[int(t)] = display_views(x_t, source, diffusion.channel_groups)
    alpha_bar, snr = schedule_snr(diffusion.cfg)
    return ForwardProcess(
        tuple(int(t) for t in timesteps),
        views,
        alpha_bar,
        snr,
        tuple(int(t) for t in feature_timesteps),
        diffusion.cfg.schedule,
    )


def forward_process_figure(fp: ForwardProcess) -> Figure:
    """Rows: each modality at x0 and every t (shared stretch); bottom: log SNR(t) with the
    feature timesteps marked and labelled by their signal share."""
    names = list(fp.views[-1])
    cols = [-1, *fp.timesteps]
    fig = Figure(figsize=(1.5 * len(cols) + 0.5, 1.6 * len(names) + 2.6))
    grid = fig.add_gridspec(len(names) + 1, len(cols), height_ratios=[1.0] * len(names) + [1.6])
    for i, name in enumerate(names):
        for j, t in enumerate(cols):
            ax = fig.add_subplot(grid[i, j])
            ax.imshow(fp.views[t][name], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_title(
                ("x0" if t < 0 else f"t = {t}\n{100 * fp.signal_fraction(t):.1f} % signal") if i == 0 else "",
                fontsize=8,
            )
            ax.set_axis_off()
            if j == 0:
                ax.text(-0.15, 0.5, name, transform=ax.transAxes, rotation=90, va="center", ha="right", fontsize=8)
    ax = fig.add_subplot(grid[-1, :])
    ax.semilogy(np.arange(len(fp.snr)), fp.snr, color="black", lw=1)
    for t in fp.feature_timesteps:
        ax.axvline(t, color="tab:red", lw=0.8, ls="--")
        ax.annotate(
            f"t={t}: {100 * fp.signal_fraction(t):.2f} %",
            (t, fp.snr[t]),
            textcoords="offset points",
            xytext=(4, 4),
            fontsize=7,
            color="tab:red",
        )
    ax.axhline(1.0, color="grey", lw=0.6, ls=":")
    ax.set_xlabel("timestep t")
    ax.set_ylabel("SNR = a_t / (1 - a_t)")
    ax.set_title(f"{fp.schedule} schedule: signal-to-noise ratio (dotted: SNR 1 = half signal)", fontsize=9)
    fig.tight_layout()
    return fig


# --- (b) the masking rule ----------------------------------------------------------------------


@dataclass(frozen=True)
class MaskingRule:
    """For one reliance vector: shares s_m, imbalance e_m, unclipped target p0 + gain * e_m, the
    clipped target in [0, p_max], and which bound (if any) each modality sits at."""

    shares: tuple[float, ...]
    imbalance: tuple[float, ...]
    raw_target: tuple[float, ...]
    target: tuple[float, ...]
    saturated: tuple[str | None, ...]  # "p_max", "0" or None per modality


# The signals the rule's panel can replay (not the loss ratios): history key prefix (pretrain.py), label.
PANEL_SIGNALS = {"reliance": ("reliance_", "reliance"), "feature": ("patch_r2_", "feature R²")}


def _panel_signal(cfg: MaskingConfig) -> tuple[str, str]:
    expect(
        cfg.signal in PANEL_SIGNALS,
        ConfigError,
        f"the masking panel shows signals {list(PANEL_SIGNALS)}, found {cfg.signal!r}",
    )
    return PANEL_SIGNALS[cfg.signal]


def signal_key(cfg: MaskingConfig) -> str:
    """The history key prefix of the rule's signal: reliance_<m> or patch_r2_<m> (pretrain.py)."""
    return _panel_signal(cfg)[0]


def signal_label(cfg: MaskingConfig) -> str:
    """How the panel names the rule's signal: "reliance" or "feature R²"."""
    return _panel_signal(cfg)[1]


def masking_rule(cfg: MaskingConfig, reliance: Sequence[float]) -> MaskingRule:
    """The adaptive rule's set point for a signal vector (masking.py docstring, 1.-2.): the
    reliance d_m, or with `cfg.signal == "feature"` the feature R^2_m (eps = 0 then)."""
    expect(len(reliance) >= 2, DataError, f"reliance needs one value per modality (>= 2), found {len(reliance)}")
    e = imbalance(reliance, cfg.reliance_eps if cfg.signal == "reliance" else 0.0)  # e_m = s_m - 1/M
    shares = [v + 1.0 / len(e) for v in e]
    raw = [cfg.p0 + cfg.gain * v for v in e]  # p*_m = p0 + gain * e_m
    target = [min(max(v, 0.0), cfg.p_max) for v in raw]
    saturated = ["p_max" if v >= cfg.p_max else "0" if v <= 0.0 else None for v in raw]
    return MaskingRule(tuple(shares), tuple(e), tuple(raw), tuple(target), tuple(saturated))


@dataclass(frozen=True)
class MaskingSweep:
    """Two modalities: the share s of modality 0 from 0 to 1, each modality's clipped target
    (n, 2), and the shares where modality 0 reaches p_max and 0 (None if never in [0, 1])."""

    share: np.ndarray
    target: np.ndarray
    saturates_at_pmax: float | None
    saturates_at_zero: float | None


def masking_sweep(cfg: MaskingConfig, n: int = 201) -> MaskingSweep:
    """Targets over every share split of two modalities. With M = 2, e_0 = s - 1/2, so modality 0
    reaches p_max at s = 1/2 + (p_max - p0) / gain and 0 at s = 1/2 - p0 / gain."""
    share = np.linspace(0.0, 1.0, n)
    raw = cfg.p0 + cfg.gain * np.stack([share - 0.5, 0.5 - share], axis=1)
    target = np.clip(raw, 0.0, cfg.p_max)
    at_max = 0.5 + (cfg.p_max - cfg.p0) / cfg.gain if cfg.gain > 0 else math.inf
    at_zero = 0.5 - cfg.p0 / cfg.gain if cfg.gain > 0 else -math.inf
    return MaskingSweep(share, target, at_max if at_max <= 1.0 else None, at_zero if at_zero >= 0.0 else None)


def simulate_masking(
    cfg: MaskingConfig,
    reliance: Sequence[Sequence[float]] | Sequence[float],
    epochs: int = 20,
    steps_per_epoch: int = 20,
) -> np.ndarray:
    """p_m of every step of the real `ModalityMasker` (adaptive, `cfg.signal`: reliance or
    feature R^2), as the step samples with it: (steps, M).

    reliance: one signal vector held for all epochs, or one per epoch (the last repeats). Fed a
    recorded history's vectors it replays the run's rule; held fixed it is an open loop: in
    training, hiding a modality changes the signal measured next epoch."""
    vectors = [reliance] if not isinstance(reliance[0], Sequence) else reliance
    pairs = [[float(v) for v in vector] for vector in vectors]  # type: ignore[union-attr, arg-type]
    expect(
        epochs >= 1 and steps_per_epoch >= 1,
        ConfigError,
        f"epochs and steps_per_epoch must be >= 1, found {epochs} and {steps_per_epoch}",
    )
    signal_key(cfg)  # a signal the panel can show
    masker = ModalityMasker(replace(cfg, mode="adaptive"), len(pairs[0]), epochs * steps_per_epoch)
    observe = masker.observe_reliance if cfg.signal == "reliance" else masker.observe_feature_r2
    path = []
    for epoch in range(epochs):
        observe(pairs[min(epoch, len(pairs) - 1)])  # measured once per epoch
        for _ in range(steps_per_epoch):
            path.append(masker.probabilities)  # what this step samples with (pretrain.py records the same)
            masker.update([1.0] * masker.n)  # losses only feed the "loss" signal
    return np.asarray(path)


def replay_masking(
    cfg: MaskingConfig, history: Sequence[Mapping[str, float]], names: Sequence[str], steps_per_epoch: int = 20
) -> np.ndarray:
    """The rule `cfg` driven by a pretraining history's own measured signal: p_m of every step,
    (epochs * steps_per_epoch, M). The signal measured at the end of epoch e steers epoch
    e + 1, as in training; epoch 1 runs before any measurement. With the run's configuration and
    steps per epoch, each epoch's mean equals the history's recorded p_mask_<m>."""
    key = signal_key(cfg)
    measured = [[float(row.get(f"{key}{n}", math.nan)) for n in names] for row in history]
    return simulate_masking(cfg, [[math.nan] * len(names), *measured[:-1]], len(history), steps_per_epoch)


def masking_figure(
    cfg: MaskingConfig,
    reliance: Sequence[float],
    names: Sequence[str] = ("hsi", "lidar"),
    epochs: int = 20,
    steps_per_epoch: int = 20,
    history: Sequence[Mapping[str, float]] | None = None,
) -> Figure:
    """Left: target p_mask of each modality against the share of modality 0, the saturation
    points and the chosen signal pair; right: the simulated trajectory towards that target, or
    with a pretraining `history` the rule replayed on the run's own measured signal (the
    run's signal of epoch e drives epoch e + 1, as in training) beside the run's recorded
    per-epoch mean p_mask (dots)."""
    expect(
        len(reliance) == 2 == len(names),
        DataError,
        f"masking_figure draws two modalities, found {len(reliance)} reliance values and names {list(names)}",
    )
    rule = masking_rule(cfg, reliance)
    sweep = masking_sweep(cfg)
    if history:
        epochs = len(history)
        path = replay_masking(cfg, history, names, steps_per_epoch)
    else:
        path = simulate_masking(cfg, reliance, epochs, steps_per_epoch)
    fig = Figure(figsize=(9.0, 3.4))
    left, right = fig.subplots(1, 2)
    colours = ("tab:purple", "tab:orange")
    for m in range(2):
        left.plot(sweep.share, sweep.target[:, m], color=colours[m], label=f"p_mask({names[m]})")
        left.plot([rule.shares[0]], [rule.target[m]], "o", color=colours[m])
        right.plot(np.arange(1, len(path) + 1) / steps_per_epoch, path[:, m], color=colours[m], label=names[m])
        if history:
            recorded = [float(row.get(f"p_mask_{names[m]}", math.nan)) for row in history]
            right.plot(np.arange(len(history)) + 0.5, recorded, "o", color=colours[m], ms=4, label=f"{names[m]}, run")
        else:
            right.axhline(rule.target[m], color=colours[m], lw=0.6, ls=":")
    for s, y, label in (
        (sweep.saturates_at_pmax, cfg.p_max, f"{names[0]} at p_max"),
        (sweep.saturates_at_zero, 0.0, f"{names[0]} at 0"),
    ):
        if s is not None:
            left.axvline(s, color="grey", lw=0.7, ls="--")
            left.annotate(label, (s, y), fontsize=7, xytext=(-2, 4), textcoords="offset points", ha="right")
    left.axvline(0.5, color="black", lw=0.5, ls=":")
    left.set_xlabel(f"share s of {names[0]} in the {signal_label(cfg)} (0.5 = balanced)")
    left.set_ylabel("target masking probability p*")
    left.set_ylim(-0.02, max(cfg.p_max, 0.05) * 1.1)
    left.legend(fontsize=7, loc="upper center")
    left.set_title(f"p* = p0 + gain (s - 1/2), clipped to [0, {cfg.p_max:g}]", fontsize=9)
    right.axvspan(0, cfg.warmup_fraction * epochs, color="grey", alpha=0.15, label="warm-up (p = p0)")
    right.set_xlabel(
        "epoch (the run's measured signal, replayed)" if history else "epoch (signal held fixed: open loop)"
    )
    right.set_ylabel("masking probability p")
    right.set_ylim(-0.02, max(cfg.p_max, 0.05) * 1.1)
    right.legend(fontsize=7)
    right.set_title(f"first-order lag, tau = {cfg.tau:g} of training", fontsize=9)
    fig.tight_layout()
    return fig


# --- (c) the selective-scan tracer -------------------------------------------------------------


@dataclass(frozen=True)
class ScanTrace:
    """One MambaBlock on a batch: delta (b, l, d) = softplus(dt + bias), the step size of each
    channel; state_norm (b, l) = ||h_t|| over the (d, n) state; gate (b, l, d) = silu(z); out
    (b, l, d_model) the block's output, recomputed."""

    delta: np.ndarray
    state_norm: np.ndarray
    gate: np.ndarray
    out: np.ndarray


@torch.no_grad()
def trace_mamba_block(block: MambaBlock, x: torch.Tensor) -> ScanTrace:
    """MambaBlock.forward written out with the S6 recurrence unrolled (scan.py glossary):
    dA_t = exp(delta_t A), h_t = dA_t h_{t-1} + delta_t B_t u_t, y_t = C_t . h_t + D u_t,
    out = out_proj(y * silu(z)) (Mamba eq. 2a-2b, 4). x (b, l, d_model)."""
    c = block.config
    xz = rearrange(block.in_proj(x), "b l e -> b e l")
    u, z = xz.chunk(2, dim=1)  # (b, d, l)
    u = block._conv(u)
    dt, B, C = torch.split(block.x_proj(rearrange(u, "b d l -> b l d")), [c.rank, c.d_state, c.d_state], dim=-1)
    delta = F.softplus(dt @ block.dt_proj.weight.T + block.dt_proj.bias)  # (b, l, d), Mamba eq. 4
    A = -torch.exp(block.A_log.float())  # (d, n)
    h = torch.zeros(x.shape[0], c.d_inner, c.d_state, dtype=x.dtype)
    ys, norms = [], []
    for t in range(x.shape[1]):
        dA = torch.exp(einsum(delta[:, t], A, "b d, d n -> b d n"))
        h = dA * h + einsum(delta[:, t], B[:, t], u[:, :, t], "b d, b n, b d -> b d n")
        ys.append(einsum(h, C[:, t], "b d n, b n -> b d") + block.D * u[:, :, t])
        norms.append(h.flatten(1).norm(dim=1))
    gate = F.silu(rearrange(z, "b d l -> b l d"))
    out = block.out_proj(torch.stack(ys, dim=1) * gate)
    return ScanTrace(delta.numpy(), torch.stack(norms, dim=1).numpy(), gate.numpy(), out.numpy())


@torch.no_grad()
def trace_mamba_branch(
    branch: MambaBranch, x: torch.Tensor, guides: Sequence[torch.Tensor] = (), atol: float = 1e-4
) -> list[ScanTrace]:
    """One ScanTrace per Mamba layer of `branch` on x (b, C, p, p) with its guides: forward hooks
    capture each block's input during the branch's own forward, then `trace_mamba_block` reruns
    it. Raises DataError if the re-implementation drifts from the block's output by > atol."""
    blocks = [layer.mixer for layer in branch.layers if isinstance(layer.mixer, MambaBlock)]
    expect(
        len(blocks) == len(branch.layers),
        DataError,
        f"every layer of the branch must hold a MambaBlock, found {len(blocks)} of {len(branch.layers)}",
    )
    captured: list[tuple[torch.Tensor, torch.Tensor]] = []
    hooks = [
        block.register_forward_hook(lambda _m, inp, out: captured.append((inp[0].detach(), out.detach())))
        for block in blocks
    ]
    was_training = branch.training
    try:
        branch.eval()
        branch(torch.as_tensor(x, dtype=torch.float32), list(guides))
    finally:
        for hook in hooks:
            hook.remove()
        branch.train(was_training)
    traces = []
    for block, (inp, out) in zip(blocks, captured, strict=True):
        trace = trace_mamba_block(block, inp)
        gap = float(np.abs(trace.out - out.numpy()).max())
        expect(
            gap <= atol * max(1.0, float(out.abs().max())),
            DataError,
            f"scan tracer disagrees with the MambaBlock output: max |diff| {gap:.2e} > atol {atol}",
        )
        traces.append(trace)
    return traces


def one_per_class(labels: np.ndarray, seed: int = 0) -> np.ndarray:
    """labels (N,) -> the index of one pixel of each class present, drawn with `seed`, in class
    order: a tracer's pixels that span the classes instead of one corner of the scene."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    return np.array([rng.choice(np.flatnonzero(labels == c)) for c in np.unique(labels)], dtype=np.int64)


def shuffled_guides(guides: Sequence[torch.Tensor], shift: int = 1) -> list[torch.Tensor]:
    """Each guide (b, G, p, p) with its batch rolled by `shift`: pixel i reads pixel i - shift's (cyclic)
    diffusion features. Fed to the SAME trained branch, the difference from the real guides is what
    the features of this pixel change (two separately trained models would also differ by training)."""
    expect(
        all(g.shape[0] > 1 for g in guides),
        DataError,
        "shuffled_guides needs a batch of at least 2 pixels to shuffle",
    )
    return [torch.roll(g, shifts=shift, dims=0) for g in guides]


def scan_figure(
    traces: Mapping[str, Sequence[ScanTrace]],
    pixel: int = 0,
    layer: int = 0,
    token_labels: Sequence[str] | None = None,
    pixel_name: str = "",
) -> Figure:
    """Three panels along the token sequence of one pixel, one line per model (e.g. guided vs
    unguided): mean delta over channels, state norm ||h_t||, mean output gate silu(z)."""
    expect(len(traces) >= 1, DataError, "scan_figure needs at least one named trace")
    fig = Figure(figsize=(10.0, 3.0))
    axes = fig.subplots(1, 3)
    panels = (
        ("delta", "mean step size delta_t", lambda tr: tr.delta[pixel].mean(-1)),
        ("state", "state norm ||h_t||", lambda tr: tr.state_norm[pixel]),
        ("gate", "mean gate silu(z_t)", lambda tr: tr.gate[pixel].mean(-1)),
    )
    for name, per_layer in traces.items():
        expect(0 <= layer < len(per_layer), ConfigError, f"layer must be in [0, {len(per_layer) - 1}], found {layer}")
        trace = per_layer[layer]
        expect(
            0 <= pixel < trace.delta.shape[0],
            ConfigError,
            f"pixel must be in [0, {trace.delta.shape[0] - 1}], found {pixel}",
        )
        for ax, (_, ylabel, value) in zip(axes, panels, strict=True):
            ax.plot(value(trace), marker=".", label=name)
            ax.set_ylabel(ylabel)
    length = next(iter(traces.values()))[layer].delta.shape[1]
    for ax in axes:
        ax.set_xlabel("token (band groups, then auxiliary)")
        if token_labels is not None:
            ax.set_xticks(range(length), list(token_labels), rotation=90, fontsize=6)
        ax.legend(fontsize=7)
    fig.suptitle(
        f"selective scan of Mamba layer {layer} on pixel {pixel}{f' ({pixel_name})' if pixel_name else ''}", fontsize=9
    )
    fig.tight_layout()
    return fig


def token_labels(branch: MambaBranch, channel_groups: Mapping[str, int]) -> list[str]:
    """Names of the branch's tokens: 'b0-8', 'b9-17', ... then one per auxiliary modality."""
    g, n = branch.tokens.band_group, branch.tokens.n_spectral
    first = list(channel_groups.values())[0]
    return [f"b{k * g}-{min((k + 1) * g, first) - 1}" for k in range(n)] + list(channel_groups)[1:]


# --- (d) ensemble weights ----------------------------------------------------------------------


def weighted_accuracy(branch_probs: np.ndarray, labels: np.ndarray, weights: Sequence[float]) -> float:
    """OA (%) of the weighted ensemble sum_k w_k p_k (docs/METHOD.md eq. (21), P_fit with any w):
    branch_probs (K, N, c), labels (N,) 0-based, weights (K,) >= 0 (normalised here)."""
    P = np.asarray(branch_probs, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    expect(
        P.ndim == 3 and w.shape == (P.shape[0],) and bool((w >= 0).all()) and w.sum() > 0,
        DataError,
        f"expected (K, N, c) probabilities and K non-negative weights, not all 0; found {P.shape} and {w.tolist()}",
    )
    mixed = np.einsum("k,knc->nc", w / w.sum(), P)
    return float(100.0 * (mixed.argmax(1) == np.asarray(labels)).mean())


@dataclass(frozen=True)
class WeightGrid:
    """Every weight vector on the simplex with steps of 1 / `steps` (G, K) and its test OA (G,)."""

    weights: np.ndarray
    accuracy: np.ndarray

    @property
    def best(self) -> tuple[np.ndarray, float]:
        i = int(self.accuracy.argmax())
        return self.weights[i], float(self.accuracy[i])


def weight_grid(branch_probs: np.ndarray, labels: np.ndarray, steps: int = 20) -> WeightGrid:
    """OA of the weighted ensemble over a grid of the weight simplex (K branches, all w_k = i / steps)."""
    K = int(np.asarray(branch_probs).shape[0])
    expect(steps >= 1, ConfigError, f"steps must be >= 1, found {steps}")

    def compositions(k: int, total: int) -> list[list[int]]:
        if k == 1:
            return [[total]]
        return [[i, *rest] for i in range(total + 1) for rest in compositions(k - 1, total - i)]

    weights = np.asarray(compositions(K, steps), dtype=np.float64) / steps
    return WeightGrid(weights, np.array([weighted_accuracy(branch_probs, labels, w) for w in weights]))


def simplex_xy(weights: np.ndarray) -> np.ndarray:
    """Barycentric (G, 3) -> (G, 2) in the equilateral triangle with corners (0, 0), (1, 0), (1/2, sqrt(3)/2)."""
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum(axis=-1, keepdims=True)
    return np.stack([w[..., 1] + 0.5 * w[..., 2], w[..., 2] * math.sqrt(3) / 2], axis=-1)


def ensemble_figure(
    grid: WeightGrid,
    names: Sequence[str],
    marks: Mapping[str, Sequence[float]],
    probs: np.ndarray | None = None,
    labels: np.ndarray | None = None,
) -> Figure:
    """Three branches: the test OA of every weight vector on the simplex (colour, with its bar),
    the corners (one branch alone) labelled, and the `marks` (e.g. "mean", "fitted on validation",
    "sliders") as labelled points, each with its own OA when `probs` (K, N, c) and `labels` (N,)
    are given (the first mark is drawn largest: the one a person moves)."""
    expect(grid.weights.shape[1] == 3 == len(names), DataError, "ensemble_figure draws three branches")
    fig = Figure(figsize=(6.4, 5.0))
    ax = fig.add_subplot()
    xy = simplex_xy(grid.weights)
    dots = ax.scatter(xy[:, 0], xy[:, 1], c=grid.accuracy, cmap="viridis", s=38, marker="h")
    fig.colorbar(dots, ax=ax, label="test OA of the weighted ensemble (%)")
    for k, (name, corner) in enumerate(zip(names, simplex_xy(np.eye(3)), strict=True)):
        oa = float(grid.accuracy[np.argmax(grid.weights[:, k])])
        ax.annotate(
            f"{name} alone\n{oa:.1f} %",
            corner,
            xytext=(0, -22 if corner[1] == 0 else 8),
            textcoords="offset points",
            ha="center",
            fontsize=8,
        )
    for i, ((label, w), marker) in enumerate(zip(marks.items(), ("*", "o", "s", "D", "^"), strict=False)):
        point = simplex_xy(np.asarray([w]))[0]
        ax.plot(*point, marker, mfc="none", mec="red", ms=20 if i == 0 else 11, mew=2.0 if i == 0 else 1.4)
        score = f": {weighted_accuracy(probs, labels, w):.1f} %" if probs is not None and labels is not None else ""
        right = point[0] > 0.6  # labels near the right edge go to the left of their point
        ax.annotate(
            label + score,
            point,
            xytext=(-10 if right else 10, 5),
            textcoords="offset points",
            ha="right" if right else "left",
            fontsize=9 if i == 0 else 8,
            color="red",
            bbox=dict(boxstyle="round,pad=0.2", fc="white", ec="red", alpha=0.85) if i == 0 else None,
        )
    ax.set_xlim(-0.12, 1.12)
    ax.set_ylim(-0.14, 1.0)
    ax.set_aspect("equal")
    ax.set_axis_off()
    ax.set_title("ensemble weights on the simplex (a corner = one branch alone)", fontsize=9)
    fig.tight_layout()
    return fig


# --- (e) what the diffusion features encode ----------------------------------------------------


@dataclass(frozen=True)
class FeaturePCA:
    """The first principal components of one feature map: rgb (H, W, 3) the three leading
    components as colour (2-98 % stretched), explained (3,) their shares of the variance."""

    rgb: np.ndarray
    explained: np.ndarray


def feature_pca(feature_map: np.ndarray, max_fit: int = 20000, seed: int = 0) -> FeaturePCA:
    """feature_map (G, H, W) -> its 3 leading principal components over the pixels (fitted on at
    most `max_fit` pixels, projected on all), shown as an RGB image: pixels the features treat alike
    get alike colours."""
    G, H, W = feature_map.shape
    expect(G >= 3, DataError, f"feature_pca needs at least 3 channels, found {G}")
    X = feature_map.reshape(G, -1).T.astype(np.float64)
    rng = np.random.default_rng(seed)
    fit = X[rng.choice(len(X), min(max_fit, len(X)), replace=False)]
    mean = fit.mean(0)
    _, s, vt = np.linalg.svd(fit - mean, full_matrices=False)
    scores = ((X - mean) @ vt[:3].T).T.reshape(3, H, W)
    return FeaturePCA(np.moveaxis(stretch_like(scores, scores), 0, -1), (s[:3] ** 2) / (s**2).sum())


def feature_pca_figure(
    per_timestep: Mapping[str, Sequence[np.ndarray]],
    image: np.ndarray,
    channel_groups: Mapping[str, int],
    level: int = 0,
) -> Figure:
    """The scene (false colour and each auxiliary modality) beside the 3 leading principal
    components of decoder level `level`'s features at every named timestep (e.g. "t = 5", ...,
    "mean over t"), with each one's explained variance."""
    views = display_views(image, image, channel_groups)
    panels = len(views) + len(per_timestep)
    fig = Figure(figsize=(2.3 * panels, 2.9))
    axes = fig.subplots(1, panels)
    for ax, (name, view) in zip(axes, views.items(), strict=False):
        ax.imshow(view, cmap=None if view.ndim == 3 else "gray", interpolation="nearest")
        ax.set_title(f"scene: {name}", fontsize=8)
    for ax, (label, maps) in zip(axes[len(views) :], per_timestep.items(), strict=True):
        expect(0 <= level < len(maps), ConfigError, f"level must be in [0, {len(maps) - 1}], found {level}")
        pca = feature_pca(maps[level])
        ax.imshow(pca.rgb, interpolation="nearest")
        ax.set_title(f"{label}: PCs 1-3\n{100 * pca.explained.sum():.0f} % of the variance", fontsize=8)
    for ax in axes:
        ax.set_axis_off()
    fig.suptitle(f"diffusion features, decoder level {level} (0 = finest): 3 principal components as RGB", fontsize=9)
    fig.tight_layout()
    return fig
