"""Diffusion features of a whole scene (docs/METHOD.md §2), stitched from tiles and cached on disk.

For each timestep t in `timesteps` the standardised scene is noised with a fixed noise tensor
(drawn per t from `noise_seed`, over the scene grid, so a pixel's noise does not depend on
the tiling: MTMSD's `share_noise`), the frozen denoiser runs once on each tile, and its K decoder
maps (fine to coarse, bilinearly upsampled to the tile inside `forward_features`) are stitched.
With `noise_draws` > 1 the maps are averaged over that many noise tensors per t, so a pixel's
feature depends less on its own noise draw.

Tiling: output blocks of `tile - 2 * overlap` pixels; each is computed on a tile extended by
`overlap` pixels on every side (reflect padding at the scene border) and only its centre is kept,
so stitched features see context across tile seams. The default tile is the training patch, so
features are read in the regime the denoiser was trained for (`FeatureConfig`). Maps are then averaged ("mean") or
concatenated ("concat", timestep-major) over t.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from bdgf_nb.checkpoint import state_dict_hash
from bdgf_nb.config_checks import check_fields
from bdgf_nb.ddpm.diffusion import GaussianDiffusion
from bdgf_nb.device import pick_device
from bdgf_nb.errors import ConfigError, DataError, expect
from bdgf_nb.storage import config_hash, stored_arrays


@dataclass
class FeatureConfig:
    """How the frozen denoiser is read. Default: tiles of the training patch size (11 x 11, each
    keeping its central 5 x 5 block, so every feature is computed on an input of the size and
    GroupNorm statistics the DDPM was trained on), averaged over t. Chosen on validation
    against larger tiles and against concatenation over t (docs/PROTOCOL.md, "What the method
    choices rest on": the probe's validation kappa on the synthetic scene rose from 74.2 to 88.0
    against 64 x 64 tiles)."""

    timesteps: tuple[int, ...] = (5, 50, 200)
    tile: int = 11
    overlap: int = 3
    batch_size: int = 256
    noise_seed: int = 0
    noise_draws: int = 1  # noise tensors per t, the maps averaged over them (less per-pixel noise in the reading)
    reduce: str = "mean"  # "mean" | "concat" over timesteps

    def __post_init__(self) -> None:
        check_fields(self)
        self.timesteps = tuple(int(t) for t in self.timesteps)
        expect(
            len(self.timesteps) >= 1 and min(self.timesteps) >= 0,
            ConfigError,
            f"timesteps must be non-empty and >= 0, found {self.timesteps}",
        )
        expect(self.overlap >= 0, ConfigError, f"overlap must be >= 0, found {self.overlap}")
        expect(
            self.tile > 2 * self.overlap,
            ConfigError,
            f"tile must exceed 2 * overlap = {2 * self.overlap}, found {self.tile}",
        )
        expect(self.batch_size >= 1, ConfigError, f"batch_size must be >= 1, found {self.batch_size}")
        expect(self.noise_draws >= 1, ConfigError, f"noise_draws must be >= 1, found {self.noise_draws}")
        expect(
            self.reduce in ("mean", "concat"),
            ConfigError,
            f"reduce must be one of ['mean', 'concat'], found {self.reduce!r}",
        )

    def at_patch(self, patch: int) -> FeatureConfig:
        """This config read at the DDPM's training patch `patch` (the pipeline pretrains on the
        scene's patch, e.g. 7 x 7 on idtrees_mlbs), so features stay in the regime it was
        trained in whatever the scene: tile = patch, overlap min(overlap, (patch - 1) // 3), so
        each tile keeps a central block of about a third of its side (11 -> 3, 5 x 5 kept;
        7 -> 2, 3 x 3 kept; 1 -> 0)."""
        expect(isinstance(patch, int) and patch >= 1, ConfigError, f"patch must be an int >= 1, found {patch!r}")
        return replace(self, tile=patch, overlap=min(self.overlap, (patch - 1) // 3))


@torch.no_grad()
def extract_features(
    diffusion: GaussianDiffusion,
    image: np.ndarray | torch.Tensor,
    cfg: FeatureConfig,
    progress: bool = True,
    device: str | torch.device | None = None,
) -> list[np.ndarray]:
    """image (C, H, W) standardised -> K maps (G_k, H, W) float32 (G_k * len(timesteps) for "concat").

    The denoiser runs on `device` (None = `distributed.pick_device()`, CUDA when present) in fp32;
    a model elsewhere is copied there, so the caller's model stays where it is."""
    image = torch.as_tensor(image, dtype=torch.float32)
    C = sum(diffusion.channel_groups.values())
    expect(
        image.ndim == 3 and image.shape[0] == C, DataError, f"image must be (C={C}, H, W), found {tuple(image.shape)}"
    )
    bad = int((~torch.isfinite(image)).sum())
    expect(bad == 0, DataError, f"image must hold finite values, found {bad} NaN or inf of {image.numel()}")
    expect(max(cfg.timesteps) < diffusion.T, ConfigError, f"timesteps must be < T={diffusion.T}, found {cfg.timesteps}")
    _, H, W = image.shape
    dev = pick_device(device)
    net = diffusion if next(diffusion.parameters()).device == dev else copy.deepcopy(diffusion).to(dev)
    was_training = net.training
    net.eval()
    stride, o = cfg.tile - 2 * cfg.overlap, cfg.overlap
    rows, cols = -(-H // stride), -(-W // stride)
    pad = ((0, 0), (o, rows * stride - H + o), (o, cols * stride - W + o))
    corners = [(i * stride, j * stride) for i in range(rows) for j in range(cols)]
    generator = torch.Generator().manual_seed(cfg.noise_seed)
    per_t: list[list[np.ndarray]] = []
    bar = tqdm(
        total=len(cfg.timesteps) * cfg.noise_draws * len(corners), desc="diffusion features", disable=not progress
    )
    for step in cfg.timesteps:
        t_all = torch.full((1,), step, dtype=torch.long)
        maps: list[np.ndarray] = []
        for _ in range(cfg.noise_draws):  # the mean over draws: E over the noise at this t, estimated
            noise = torch.randn(image.shape, generator=generator)
            x_t = net.q_sample(image[None].to(dev), t_all.to(dev), noise[None].to(dev))[0].cpu()
            padded = torch.from_numpy(np.pad(x_t.numpy(), pad, mode="reflect"))  # numpy reflects repeatedly if needed
            for start in range(0, len(corners), cfg.batch_size):
                chunk = corners[start : start + cfg.batch_size]
                tiles = torch.stack([padded[:, r : r + cfg.tile, c : c + cfg.tile] for r, c in chunk]).to(dev)
                feats = [f.cpu() for f in net.denoiser.forward_features(tiles, t_all.to(dev).expand(len(chunk)))]
                if not maps:
                    maps = [np.zeros((f.shape[1], rows * stride, cols * stride), np.float32) for f in feats]
                for k, f in enumerate(feats):
                    core = f[:, :, o : o + stride, o : o + stride].numpy() / cfg.noise_draws
                    for (r, c), block in zip(chunk, core, strict=True):
                        maps[k][:, r : r + stride, c : c + stride] += block
                bar.update(len(chunk))
        per_t.append([m[:, :H, :W] for m in maps])
    bar.close()
    net.train(was_training)
    K = len(per_t[0])
    if cfg.reduce == "mean":
        return [np.ascontiguousarray(np.mean([maps[k] for maps in per_t], axis=0, dtype=np.float32)) for k in range(K)]
    return [np.ascontiguousarray(np.concatenate([maps[k] for maps in per_t], axis=0)) for k in range(K)]


def feature_cache_key(
    dataset: str, image_shape: tuple[int, ...], cfg: FeatureConfig, diffusion: GaussianDiffusion
) -> dict[str, Any]:
    """What the features depend on: scene, feature config, and the exact model weights."""
    return {
        "dataset": dataset,
        "shape": [int(s) for s in image_shape],
        "features": asdict(cfg),
        "checkpoint": state_dict_hash(diffusion),
    }


def _check_maps(maps: list[np.ndarray], shape: Any) -> None:
    """ValueError unless `maps` are >= 1 float32 (G_k, H, W) maps of the key's scene (H, W)."""
    if not maps or any(m.ndim != 3 or m.dtype != np.float32 or m.shape[1:] != maps[0].shape[1:] for m in maps):
        raise ValueError(
            f"expected >= 1 float32 (G_k, H, W) maps of one (H, W), found {[(m.dtype, m.shape) for m in maps]}"
        )
    if shape is not None and list(maps[0].shape[1:]) != list(shape)[-2:]:
        raise ValueError(f"maps are {maps[0].shape[1:]}, the key's scene is {shape}")


def cached_features(
    cache_dir: str | Path, key: dict[str, Any], compute: Callable[[], list[np.ndarray]]
) -> tuple[list[np.ndarray], bool]:
    """Features from `<cache_dir>/<config_hash(key)>.npz`, or `compute()` stored there
    (`storage.stored_arrays`). Returns (maps, hit). A file that fails verification (unreadable,
    truncated, bad shapes) is rebuilt with a warning."""
    return stored_arrays(
        Path(cache_dir) / f"{config_hash(key)}.npz",
        key,
        lambda: [np.ascontiguousarray(m, dtype=np.float32) for m in compute()],
        check=lambda maps: _check_maps(maps, key.get("shape")),
    )
