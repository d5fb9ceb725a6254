"""What notebook 03 compares: full BDGF, its ablations and the fused baselines, over model seeds.

`COMPARISON` is the table of variants: a display name, the model ablation (model.bdgf.ABLATIONS,
"+"-joined), and which DDPM guides it ("run": the run's masking mode; "none": the DDPM trained
without masking, which is how the "no masking" ablation differs from BDGF: same classifier,
features of another DDPM). Rows that only make sense with diffusion features are skipped on a
pixel table (no DDPM there).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bdgf_nb.app.context import RunContext
from bdgf_nb.app.pipeline import (
    ClassifierRun,
    DiffusionFeatures,
    Prepared,
    diffusion_features,
    fused_baselines,
    train_variant,
)


@dataclass(frozen=True)
class Variant:
    name: str  # display name in tables and plots
    model: str  # ablation of model.bdgf.ABLATIONS ("+"-joined to combine)
    ddpm: str = "run"  # "run": the run's masking mode, else a masking mode ("none")
    needs_ddpm: bool = False  # meaningless without diffusion features (pixel tables)

    def masking(self, run_masking: str) -> str:
        return run_masking if self.ddpm == "run" else self.ddpm


COMPARISON: tuple[Variant, ...] = (
    Variant("BDGF", "bdgf"),
    Variant("no guidance", "no_guidance", needs_ddpm=True),
    Variant("no mutual learning", "no_mutual"),
    Variant("no masking (DDPM trained without)", "bdgf", ddpm="none", needs_ddpm=True),
    Variant("CNN branch only", "cnn_only"),
    Variant("Mamba branch only", "mamba_only"),
    Variant("Transformer branch only", "transformer_only"),
)


@dataclass
class Comparison:
    rows: list[dict[str, Any]]  # one per (variant, seed) and per baseline, with "family" and "seed"
    runs: dict[tuple[str, int], ClassifierRun]  # (display name, seed) -> run
    features: dict[str, DiffusionFeatures] = field(default_factory=dict)  # masking mode -> features
    variants: tuple[Variant, ...] = COMPARISON


def model_seeds(ctx: RunContext, seeds: int) -> list[int]:
    """seed, seed + 1, ...: `seeds` of them (0: 1 in quick mode, 3 in full mode)."""
    return [ctx.seed + i for i in range(seeds or (1 if ctx.mode == "quick" else 3))]


def compare(ctx: RunContext, prepared: Prepared, masking: str, seeds: list[int], progress: bool = True) -> Comparison:
    """Train every variant of `COMPARISON` for each model seed (reloading checkpoints that other
    chapters left) and the fused baselines once; rows for the tables of notebooks 03 and 05."""
    variants = tuple(v for v in COMPARISON if not (prepared.is_pixel_scene and v.needs_ddpm))
    modes = dict.fromkeys(v.masking(masking) for v in variants)
    features = {mode: diffusion_features(ctx, prepared, mode, progress=progress) for mode in modes}
    rows, runs = [], {}
    for seed in seeds:
        for variant in variants:
            run = train_variant(ctx, prepared, features[variant.masking(masking)], variant.model, seed=seed, progress=progress)
            runs[(variant.name, seed)] = run
            rows.append({**run.row(), "method": variant.name, "seed": seed, "family": "BDGF / ablation"})
    rows += [{**row, "seed": ctx.seed, "family": "baseline"} for row in fused_baselines(ctx, prepared)]
    return Comparison(rows, runs, features, variants)
