"""Interactive panels of the notebooks (ipywidgets), with callbacks testable headless: the
"mask and reconstruct" panel of notebook 01 and one panel per exploration of explore.py
(forward process, masking rule, selective-scan tracer). Every panel draws a PNG into an
`ipywidgets.Image` (works headless and in JupyterLab) and exposes `sliders`, `image`, `text`.

Mask ratio per modality = the fraction of that modality's PIXELS hidden (a spatial random mask
drawn from `seed`; all channels of a hidden pixel are replaced by the learned mask embedding).
Ratio 1.0 hides the whole modality, which is what pretraining does (docs/METHOD.md §1); partial
ratios never occur in training and are an out-of-training probe of how much spatial context the
denoiser uses. Training never scores hidden entries, so their reconstruction shows what the
denoiser infers from what it sees, not a trained inpainting.

Images: HSI as false colour (3 bands spread over the spectrum, longest wavelength red),
auxiliary modality as its first channel; all three views of a modality share the 2-98 %
percentile stretch of its input, so they are comparable, and are clipped to [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from bdgf_nb.ddpm.diffusion import GaussianDiffusion
from bdgf_nb.ddpm.masking import MaskingConfig
from bdgf_nb.errors import BDGFError, ConfigError, expect
from bdgf_nb.model.branches import MambaBranch
from bdgf_nb.presentation.explore import (
    FEATURE_TIMESTEPS,
    ensemble_figure,
    feature_pca_figure,
    forward_process,
    forward_process_figure,
    masking_figure,
    masking_rule,
    noise_level,
    png,
    rgb_bands,
    scan_figure,
    schedule_snr,
    signal_key,
    signal_label,
    stretch_like,
    token_labels,
    trace_mamba_branch,
    weight_grid,
    weighted_accuracy,
)

__all__ = [
    "build_ensemble_panel",
    "build_feature_panel",
    "build_forward_panel",
    "build_mask_panel",
    "build_masking_panel",
    "build_scan_panel",
    "mask_and_reconstruct",
    "render_png",
    "rgb_bands",
    "spatial_mask",
]

PARTIAL_RATIOS = (
    "Training hides a modality of a sample <b>whole or not at all</b> (ratio 1 or 0, at most one modality "
    "per sample). Partial ratios never occur in training: they probe how much spatial context the denoiser "
    "uses, and the hidden pixels' reconstruction is inferred, not a trained inpainting."
)


def spatial_mask(
    channel_groups: dict[str, int], mask_ratio: dict[str, float], p: int, generator: torch.Generator
) -> torch.Tensor:
    """(M, p, p) bool: round(ratio * p * p) random pixels hidden per modality."""
    unknown = set(mask_ratio) - set(channel_groups)
    expect(
        not unknown,
        ConfigError,
        f"mask_ratio names unknown modalities {sorted(unknown)}; modalities are {list(channel_groups)}",
    )
    mask = torch.zeros(len(channel_groups), p * p, dtype=torch.bool)
    for m, name in enumerate(channel_groups):
        ratio = float(mask_ratio.get(name, 0.0))
        expect(0.0 <= ratio <= 1.0, ConfigError, f"mask_ratio[{name!r}] must be in [0, 1], found {ratio}")
        mask[m, torch.randperm(p * p, generator=generator)[: int(round(ratio * p * p))]] = True
    return mask.reshape(-1, p, p)


@torch.no_grad()
def mask_and_reconstruct(
    diffusion: GaussianDiffusion,
    patch: np.ndarray | torch.Tensor,
    channel_groups: dict[str, int],
    mask_ratio: dict[str, float],
    t: int,
    seed: int,
) -> dict[str, Any]:
    """patch (C, p, p) standardised -> display images and errors (see module docstring):
    hsi_input / hsi_masked_noised / hsi_reconstruction (p, p, 3) in [0, 1]; lidar_* (p, p) in
    [0, 1] for the first auxiliary modality (when there is one); mse_<modality> floats (x0_hat vs
    x0 over the modality's channels, standardised units)."""
    x0 = torch.as_tensor(patch, dtype=torch.float32)[None]
    expect(
        x0.ndim == 4 and x0.shape[1] == sum(channel_groups.values()),
        ConfigError,
        f"patch must be (C={sum(channel_groups.values())}, p, p), found {tuple(x0.shape[1:])}",
    )
    expect(0 <= t < diffusion.T, ConfigError, f"t must be in [0, {diffusion.T - 1}], found {t}")
    p = x0.shape[-1]
    generator = torch.Generator().manual_seed(seed)
    mask = spatial_mask(channel_groups, mask_ratio, p, generator)[None]
    noise = torch.randn(x0.shape, generator=generator)
    tt = torch.full((1,), t, dtype=torch.long)
    diffusion.eval()
    x_seen = diffusion.noised_input(x0, tt, mask, noise)[0].numpy()
    x0_hat = diffusion.reconstruct(x0, tt, mask, noise)[0].numpy()
    source = x0[0].numpy()
    bounds = np.cumsum([0, *channel_groups.values()])
    out: dict[str, Any] = {}
    for m, name in enumerate(channel_groups):
        sl = slice(bounds[m], bounds[m + 1])
        out[f"mse_{name}"] = float(np.mean((x0_hat[sl] - source[sl]) ** 2))
    views = {"input": source, "masked_noised": x_seen, "reconstruction": x0_hat}
    bands = [bounds[0] + b for b in rgb_bands(int(bounds[1]))]
    for view, array in views.items():
        out[f"hsi_{view}"] = np.moveaxis(stretch_like(array[bands], source[bands]), 0, -1)
        if len(channel_groups) > 1:
            out[f"lidar_{view}"] = stretch_like(array[bounds[1]], source[bounds[1]])
    return out


def render_png(images: dict[str, Any], names: list[str]) -> bytes:
    """A 2 x 3 (or 1 x 3) grid of the `mask_and_reconstruct` images as PNG bytes (headless)."""
    from matplotlib.figure import Figure

    rows = ["hsi"] + (["lidar"] if "lidar_input" in images else [])
    fig = Figure(figsize=(7.5, 2.6 * len(rows)))
    axes = fig.subplots(len(rows), 3, squeeze=False)
    for i, row in enumerate(rows):
        for j, view in enumerate(("input", "masked_noised", "reconstruction")):
            ax = axes[i][j]
            ax.imshow(images[f"{row}_{view}"], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            ax.set_title(f"{names[i]} {view.replace('_', ' + ')}", fontsize=9)
            ax.set_axis_off()
    fig.tight_layout()
    return png(fig)


def build_mask_panel(
    diffusion: GaussianDiffusion | Mapping[str, GaussianDiffusion],
    patches: np.ndarray | torch.Tensor,
    channel_groups: dict[str, int],
    seed: int = 0,
) -> Any:
    """ipywidgets panel: a mask-ratio slider per modality, timestep and patch sliders, the image
    grid, the per-modality MSE, the noise level of the chosen t and what partial ratios mean.
    With several named DDPMs ({"none": ..., "adaptive": ...}, the masking arms), a "ddpm" selector
    (default: the last) picks which one reconstructs, on the same patch, mask and noise.

    patches (N, C, p, p): give them at the training patch size, the input size the DDPM learned.
    The returned VBox has attributes `sliders` (name -> widget; "t", "patch" and "ddpm" included),
    `image` and `text` for programmatic use."""
    import ipywidgets as widgets

    patches = torch.as_tensor(patches, dtype=torch.float32)
    names = list(channel_groups)
    ddpms = dict(diffusion) if isinstance(diffusion, Mapping) else {"ddpm": diffusion}
    expect(bool(ddpms), ConfigError, "build_mask_panel needs at least one DDPM, found none")
    first = next(iter(ddpms.values()))
    alpha_bar, _ = schedule_snr(first.cfg)
    sliders: dict[str, Any] = {
        name: widgets.FloatSlider(value=1.0 if m == 0 else 0.0, min=0.0, max=1.0, step=0.05, description=f"mask {name}")
        for m, name in enumerate(names)
    }
    sliders["t"] = widgets.IntSlider(value=min(50, first.T - 1), min=0, max=first.T - 1, description="timestep t")
    sliders["patch"] = widgets.IntSlider(value=0, min=0, max=patches.shape[0] - 1, description="patch")
    if len(ddpms) > 1:
        sliders["ddpm"] = widgets.Dropdown(options=list(ddpms), value=list(ddpms)[-1], description="DDPM")
    image = widgets.Image(format="png")
    text = widgets.HTML()

    def refresh() -> None:
        ratios = {name: sliders[name].value for name in names}
        chosen = sliders["ddpm"].value if "ddpm" in sliders else next(iter(ddpms))
        model = ddpms[chosen]
        shown = mask_and_reconstruct(
            model, patches[sliders["patch"].value], channel_groups, ratios, sliders["t"].value, seed
        )
        image.value = render_png(shown, names[:2])
        partial = [name for name in names if 0.0 < ratios[name] < 1.0]
        text.value = "<br>".join(
            [
                (f"DDPM: {chosen} masking &nbsp; " if "ddpm" in sliders else "")
                + " &nbsp; ".join(f"MSE {name}: {shown[f'mse_{name}']:.4f}" for name in names),
                f"noise level: {noise_level(alpha_bar, sliders['t'].value, model.cfg.schedule)}",
                (f"<b>partial mask ratio</b> on {', '.join(partial)}: " if partial else "") + PARTIAL_RATIOS,
            ]
        )

    controls = [sliders["t"], sliders["patch"], *([sliders["ddpm"]] if "ddpm" in sliders else [])]
    return _panel(sliders, image, text, refresh, [list(sliders.values())[: len(names)], controls])


def _panel(
    sliders: dict[str, Any], image: Any, text: Any, refresh: Callable[[], None], rows: Sequence[Sequence[Any]]
) -> Any:
    """VBox of slider rows, the image and the text; every slider redraws; attributes for tests."""
    import ipywidgets as widgets

    for slider in sliders.values():
        slider.observe(lambda _change: refresh(), names="value")
    refresh()
    panel = widgets.VBox([*(widgets.HBox(list(row)) for row in rows), image, text])
    panel.sliders, panel.image, panel.text = sliders, image, text
    return panel


def build_forward_panel(
    diffusion: GaussianDiffusion,
    patches: np.ndarray | torch.Tensor,
    seed: int = 0,
    feature_timesteps: Sequence[int] = FEATURE_TIMESTEPS,
) -> Any:
    """Exploration (a): one patch at t = 0, the feature timesteps and a slider timestep t, with
    the SNR curve of the model's schedule; the text says how much signal each t keeps.
    patches (N, C, p, p); sliders "t" and "patch"."""
    import ipywidgets as widgets

    patches = torch.as_tensor(patches, dtype=torch.float32)
    sliders: dict[str, Any] = {
        "t": widgets.IntSlider(value=min(500, diffusion.T - 1), min=0, max=diffusion.T - 1, description="timestep t"),
        "patch": widgets.IntSlider(value=0, min=0, max=patches.shape[0] - 1, description="patch"),
    }
    image, text = widgets.Image(format="png"), widgets.HTML()

    def refresh() -> None:
        t = sliders["t"].value
        shown = sorted({0, *feature_timesteps, t})
        fp = forward_process(diffusion, patches[sliders["patch"].value], shown, seed, feature_timesteps)
        image.value = png(forward_process_figure(fp))
        text.value = "<br>".join([noise_level(fp.alpha_bar, t, fp.schedule) + " (slider)", *fp.sentences()])

    return _panel(sliders, image, text, refresh, [list(sliders.values())])


def build_masking_panel(
    cfg: MaskingConfig | None = None,
    names: Sequence[str] = ("hsi", "lidar"),
    epochs: int = 20,
    history: Sequence[Mapping[str, float]] | None = None,
    steps_per_epoch: int = 20,
) -> Any:
    """Exploration (b): sliders for every constant of the rule (p0, p_max, gain, tau, eps,
    warm-up) and a signal pair (reliance, or feature R^2 with `cfg.signal == "feature"`); the
    target p_mask of each modality over every share split, where it saturates, and the real
    ModalityMasker's trajectory. With a pretraining `history` the trajectory replays the run's own
    measured signal beside its recorded p_mask, and an "epoch" slider (0 = the pair sliders)
    shows the signal the run measured at that epoch. An invalid setting is shown, not raised."""
    import ipywidgets as widgets

    base = cfg or MaskingConfig()
    names = list(names)
    key, label = signal_key(base), signal_label(base)
    top, start = (0.5, (0.2, 0.01)) if base.signal == "reliance" else (1.0, (0.7, 0.9))
    sliders: dict[str, Any] = {
        "p0": widgets.FloatSlider(value=base.p0, min=0.0, max=1.0, step=0.01, description="p0"),
        "p_max": widgets.FloatSlider(value=base.p_max, min=0.0, max=1.0, step=0.01, description="p_max"),
        "gain": widgets.FloatSlider(value=base.gain, min=0.0, max=3.0, step=0.05, description="gain"),
        "tau": widgets.FloatSlider(value=base.tau, min=0.0, max=1.0, step=0.01, description="tau"),
        "reliance_eps": widgets.FloatSlider(
            value=base.reliance_eps, min=0.001, max=0.2, step=0.001, description="eps", readout_format=".3f"
        ),
        "warmup_fraction": widgets.FloatSlider(
            value=base.warmup_fraction, min=0.0, max=1.0, step=0.05, description="warm-up"
        ),
        **{
            f"signal_{n}": widgets.FloatSlider(
                value=v, min=0.0, max=top, step=0.005, description=f"{label} {n}", readout_format=".3f"
            )
            for n, v in zip(names, start, strict=True)
        },
    }
    if history:
        sliders["epoch"] = widgets.IntSlider(value=len(history), min=0, max=len(history), description="run epoch")
    image, text = widgets.Image(format="png"), widgets.HTML()
    constants = ("p0", "p_max", "gain", "tau", "reliance_eps", "warmup_fraction")

    def refresh() -> None:
        try:
            current = replace(base, **{k: sliders[k].value for k in constants})
        except BDGFError as error:
            text.value = f"<b>invalid setting</b>: {error}"
            return
        epoch = sliders["epoch"].value if history else 0
        if epoch:
            pair = [float(history[epoch - 1].get(f"{key}{n}", float("nan"))) for n in names]  # type: ignore[index]
        else:
            pair = [sliders[f"signal_{n}"].value for n in names]
        rule = masking_rule(current, pair)
        image.value = png(masking_figure(current, pair, names, epochs, steps_per_epoch, history=history))
        source = f"the run's {label} at epoch {epoch}" if epoch else f"{label} from the sliders"
        text.value = f"signal: {source}<br>" + "<br>".join(
            f"{n}: {label} {v:.3f}, share {100 * s:.0f} %, imbalance e = {e:+.3f}, target p* = {raw:.3f}"
            + (f" -> clipped to {'p_max' if sat == 'p_max' else '0'} = {p:.3f} (saturated)" if sat else "")
            for n, v, s, e, raw, p, sat in zip(
                names, pair, rule.shares, rule.imbalance, rule.raw_target, rule.target, rule.saturated, strict=True
            )
        )

    rows = [
        [sliders["p0"], sliders["p_max"], sliders["gain"]],
        [sliders["tau"], sliders["reliance_eps"], sliders["warmup_fraction"]],
        [sliders[f"signal_{n}"] for n in names] + ([sliders["epoch"]] if history else []),
    ]
    return _panel(sliders, image, text, refresh, rows)


def build_scan_panel(
    models: Mapping[str, tuple[MambaBranch, Sequence[torch.Tensor]]],
    x: np.ndarray | torch.Tensor,
    channel_groups: Mapping[str, int],
    pixel_names: Sequence[str] | None = None,
) -> Any:
    """Exploration (c): delta, state norm and gate along one pixel's token sequence for each
    named Mamba branch and its guides (e.g. the same guided branch with {"real guides": (branch,
    guides), "shuffled guides": (branch, explore.shuffled_guides(guides))}) on the patches x
    (N, C, p, p). Traces are computed once; sliders "pixel" and "layer" (default: the last, which
    every guidance module before it has acted on); `pixel_names` (N,) label each pixel (its class)."""
    import ipywidgets as widgets

    x = torch.as_tensor(x, dtype=torch.float32)
    traces = {name: trace_mamba_branch(branch, x, guides) for name, (branch, guides) in models.items()}
    first = next(iter(models.values()))[0]
    labels = token_labels(first, channel_groups)
    sliders: dict[str, Any] = {
        "pixel": widgets.IntSlider(value=0, min=0, max=x.shape[0] - 1, description="pixel"),
    }
    last = min(len(t) for t in traces.values()) - 1
    sliders["layer"] = widgets.IntSlider(value=last, min=0, max=last, description="layer")
    image, text = widgets.Image(format="png"), widgets.HTML()

    def refresh() -> None:
        pixel, layer = sliders["pixel"].value, sliders["layer"].value
        name = pixel_names[pixel] if pixel_names is not None else ""
        image.value = png(scan_figure(traces, pixel, layer, labels, name))
        text.value = (f"pixel {pixel}: class {name}<br>" if name else "") + "<br>".join(
            f"{name}: mean delta {tr[layer].delta[pixel].mean():.4f}, "
            f"final state norm {tr[layer].state_norm[pixel, -1]:.3f}, "
            f"mean gate {tr[layer].gate[pixel].mean():.3f}"
            for name, tr in traces.items()
        )
        if len(traces) == 2:  # what the second setting changes on this pixel and layer
            (a, ta), (b, tb) = traces.items()
            delta = np.abs(tb[layer].delta[pixel] - ta[layer].delta[pixel]).max()
            gate = np.abs(tb[layer].gate[pixel] - ta[layer].gate[pixel]).max()
            text.value += f"<br>{b} against {a}: max |Δdelta| {delta:.2e}, max |Δgate| {gate:.2e}"

    panel = _panel(sliders, image, text, refresh, [list(sliders.values())])
    panel.traces = traces
    return panel


def build_ensemble_panel(
    branch_probs: np.ndarray,
    labels: np.ndarray,
    names: Sequence[str],
    fitted: Sequence[float] | None = None,
    steps: int = 20,
) -> Any:
    """Exploration (d): a weight slider per branch over the run's cached test probabilities
    (K, N, c) with 0-based labels (N,): the weighted ensemble's test OA (normalised weights),
    against the mean rule, the `fitted` weights (chosen on validation) and the best branch; with
    three branches, the OA over the whole weight simplex with those points marked. The best grid
    point is printed as what test labels would pick, which no rule may use."""
    import ipywidgets as widgets

    probs = np.asarray(branch_probs, dtype=np.float64)
    names = list(names)
    expect(probs.shape[0] == len(names), ConfigError, f"expected {probs.shape[0]} branch names, found {names}")
    grid = weight_grid(probs, labels, steps) if len(names) == 3 else None
    equal = [1.0 / len(names)] * len(names)
    sliders: dict[str, Any] = {
        name: widgets.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.05, description=f"w {name}") for name in names
    }
    image, text = widgets.Image(format="png"), widgets.HTML()
    alone = {name: weighted_accuracy(probs, labels, np.eye(len(names))[k]) for k, name in enumerate(names)}

    def refresh() -> None:
        raw = [sliders[n].value for n in names]
        if sum(raw) == 0:
            text.value = "<b>every weight is 0</b>: raise one"
            return
        weights = [v / sum(raw) for v in raw]
        marks = {"sliders": weights, "mean": equal, **({"fitted on validation": list(fitted)} if fitted else {})}
        lines = [
            f"sliders: weights {', '.join(f'{n} {w:.2f}' for n, w in zip(names, weights, strict=True))} -> "
            f"test OA {weighted_accuracy(probs, labels, weights):.1f} %",
            f"mean rule: {weighted_accuracy(probs, labels, equal):.1f} %; best branch alone: "
            f"{max(alone, key=alone.__getitem__)} {max(alone.values()):.1f} %",
        ]
        if fitted:
            lines.append(
                f"fitted on validation ({', '.join(f'{w:.2f}' for w in fitted)}): "
                f"{weighted_accuracy(probs, labels, fitted):.1f} %"
            )
        if grid is not None:
            best_w, best_oa = grid.best
            lines.append(
                f"best grid point on the test labels ({', '.join(f'{w:.2f}' for w in best_w)}): {best_oa:.1f} %, "
                "an upper bound no rule may use (it looks at the test labels)"
            )
            image.value = png(ensemble_figure(grid, names, marks, probs, labels))
        text.value = "<br>".join(lines)

    return _panel(sliders, image, text, refresh, [list(sliders.values())])


def build_feature_panel(
    per_timestep: Mapping[str, Sequence[np.ndarray]], image: np.ndarray, channel_groups: Mapping[str, int]
) -> Any:
    """Exploration (e): what the frozen denoiser's features encode. The scene beside the three
    leading principal components (as RGB) of the features read at each timestep alone and
    averaged (per_timestep: label -> K maps (G_k, H, W)); slider "level" picks the decoder level
    (0 = finest). Regions the features tell apart get different colours."""
    import ipywidgets as widgets

    levels = min(len(maps) for maps in per_timestep.values())
    sliders: dict[str, Any] = {"level": widgets.IntSlider(value=0, min=0, max=levels - 1, description="level")}
    image_widget, text = widgets.Image(format="png"), widgets.HTML()

    def refresh() -> None:
        level = sliders["level"].value
        image_widget.value = png(feature_pca_figure(per_timestep, image, channel_groups, level), dpi=70)
        channels = next(iter(per_timestep.values()))[level].shape[0]
        text.value = f"decoder level {level} (0 = finest): {channels} channels per timestep, reduced to 3 components"

    return _panel(sliders, image_widget, text, refresh, [list(sliders.values())])
