"""Interactive "mask and reconstruct" panel for notebook 01, with callbacks testable headless.

Mask ratio per modality = the fraction of that modality's PIXELS hidden (a spatial random mask
drawn from `seed`; all channels of a hidden pixel are replaced by the learned mask embedding).
Ratio 1.0 hides the whole modality, which is what pretraining does (BDGF.md step 1); partial
ratios are an out-of-training probe of how much spatial context the denoiser uses. Training
never scores hidden entries, so their reconstruction shows what the denoiser infers from what
it sees, not a trained inpainting.

Images: HSI as false colour (3 bands spread over the spectrum, longest wavelength red),
auxiliary modality as its first channel; all three views of a modality share the 2-98 %
percentile stretch of its input, so they are comparable, and are clipped to [0, 1].
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import torch

from bdgf_nb.ddpm.diffusion import GaussianDiffusion
from bdgf_nb.errors import ConfigError, expect


def rgb_bands(n_bands: int) -> list[int]:
    """Three band indices spread over the spectrum, red = longest wavelength."""
    return [int(round(b)) for b in np.linspace(0, n_bands - 1, 5)[3:0:-1]]


def _stretch(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Per-channel 2-98 % percentile stretch of `image` using `reference`'s percentiles:
    (..., h, w) channels first -> same shape, in [0, 1]."""
    lo = np.percentile(reference, 2, axis=(-2, -1), keepdims=True)
    hi = np.percentile(reference, 98, axis=(-2, -1), keepdims=True)
    return np.clip((image - lo) / np.maximum(hi - lo, 1e-6), 0.0, 1.0).astype(np.float32)


def spatial_mask(channel_groups: dict[str, int], mask_ratio: dict[str, float], p: int, generator: torch.Generator) -> torch.Tensor:
    """(M, p, p) bool: round(ratio * p * p) random pixels hidden per modality."""
    unknown = set(mask_ratio) - set(channel_groups)
    expect(not unknown, ConfigError, f"mask_ratio names unknown modalities {sorted(unknown)}; modalities are {list(channel_groups)}")
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
    expect(x0.ndim == 4 and x0.shape[1] == sum(channel_groups.values()), ConfigError, f"patch must be (C={sum(channel_groups.values())}, p, p), found {tuple(x0.shape[1:])}")
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
        out[f"hsi_{view}"] = np.moveaxis(_stretch(array[bands], source[bands]), 0, -1)
        if len(channel_groups) > 1:
            out[f"lidar_{view}"] = _stretch(array[bounds[1]], source[bounds[1]])
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
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return buffer.getvalue()


def build_mask_panel(diffusion: GaussianDiffusion, patches: np.ndarray | torch.Tensor, channel_groups: dict[str, int], seed: int = 0) -> Any:
    """ipywidgets panel: a mask-ratio slider per modality, timestep and patch sliders, the image
    grid (an `ipywidgets.Image` PNG: works headless and in JupyterLab) and the per-modality MSE.

    patches (N, C, p, p). The returned VBox has attributes `sliders` (name -> slider; "t" and
    "patch" included), `image` and `text` for programmatic use."""
    import ipywidgets as widgets

    patches = torch.as_tensor(patches, dtype=torch.float32)
    names = list(channel_groups)
    sliders: dict[str, Any] = {
        name: widgets.FloatSlider(value=1.0 if m == 0 else 0.0, min=0.0, max=1.0, step=0.05, description=f"mask {name}") for m, name in enumerate(names)
    }
    sliders["t"] = widgets.IntSlider(value=min(50, diffusion.T - 1), min=0, max=diffusion.T - 1, description="timestep t")
    sliders["patch"] = widgets.IntSlider(value=0, min=0, max=patches.shape[0] - 1, description="patch")
    image = widgets.Image(format="png")
    text = widgets.HTML()

    def refresh(_: Any = None) -> None:
        ratios = {name: sliders[name].value for name in names}
        shown = mask_and_reconstruct(diffusion, patches[sliders["patch"].value], channel_groups, ratios, sliders["t"].value, seed)
        image.value = render_png(shown, names[:2])
        text.value = " &nbsp; ".join(f"MSE {name}: {shown[f'mse_{name}']:.4f}" for name in names)

    for slider in sliders.values():
        slider.observe(refresh, names="value")
    refresh()
    panel = widgets.VBox([widgets.HBox(list(sliders.values())[: len(names)]), widgets.HBox([sliders["t"], sliders["patch"]]), image, text])
    panel.sliders, panel.image, panel.text = sliders, image, text
    return panel
