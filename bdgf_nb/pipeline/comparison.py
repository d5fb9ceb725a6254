"""What notebook 03 compares: full BDGF, its ablations and the fused baselines, over model seeds.

The variants are `variants.COMPARISON`: BDGF, its model ablations, and BDGF guided by the DDPM
trained without masking ("none") or with random masking at the adaptive run's rate
("random_matched"). Rows that only make sense with diffusion features are skipped on a pixel
table (no DDPM there).

Pairing: every variant of model seed s uses the same split, training pixels and batch order
(seeded by s), and the DDPM draw s's index picks (`ddpm_seed`), so "no masking" averages over
DDPM draws exactly as BDGF does. One more row comes free from BDGF's own runs: the ensemble
rule chosen on validation (model.ensemble), paired with BDGF's mean rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bdgf_nb.metrics import METRICS
from bdgf_nb.pipeline.context import RunContext
from bdgf_nb.pipeline.steps import (
    ClassifierRun,
    DiffusionFeatures,
    Prepared,
    diffusion_features,
    fused_baselines,
    train_variant,
)
from bdgf_nb.pipeline.variants import COMPARISON, Variant, comparison_variants


@dataclass
class Comparison:
    rows: list[dict[str, Any]]  # one per (variant, seed) and per baseline, with "family" and "seed"
    runs: dict[tuple[str, int], ClassifierRun]  # (display name, seed) -> run
    features: dict[tuple[str, int], DiffusionFeatures] = field(
        default_factory=dict
    )  # (masking mode, DDPM seed) -> features
    variants: tuple[Variant, ...] = COMPARISON

    def features_of(self, run: ClassifierRun) -> DiffusionFeatures:
        """The diffusion features `run` was trained with (absent for a pixel table)."""
        return DiffusionFeatures.absent() if run.ddpm is None else self.features[(run.ddpm.masking, run.ddpm.seed)]


def model_seeds(ctx: RunContext, seeds: int) -> list[int]:
    """seed, seed + 1, ...: `seeds` of them (0: the preset's, 1 in quick mode, 5 in full mode)."""
    return [ctx.seed + i for i in range(seeds or ctx.preset.model_seeds)]


def ddpm_seed(ctx: RunContext, index: int) -> int:
    """The DDPM draw the `index`-th model seed is guided by: draws cycle over the preset's
    `ddpm_seeds`, the same for every variant of that model seed."""
    return ctx.seed + index % ctx.preset.ddpm_seeds


ENSEMBLE_ROW = "BDGF, ensemble rule chosen on validation"


def compare(ctx: RunContext, prepared: Prepared, masking: str, seeds: list[int], progress: bool = True) -> Comparison:
    """Train every variant of `COMPARISON` for each model seed (reloading checkpoints that other
    chapters left) and the fused baselines once; rows for the tables of notebooks 03 and 05."""
    variants = comparison_variants(prepared.is_pixel_scene)
    features: dict[tuple[str, int], DiffusionFeatures] = {}
    rows, runs = [], {}
    for index, seed in enumerate(seeds):
        draw = ddpm_seed(ctx, index)
        for variant in variants:
            key = (variant.masking(masking), draw)
            if key not in features:
                features[key] = diffusion_features(ctx, prepared, key[0], seed=draw, progress=progress)
            run = train_variant(ctx, prepared, features[key], variant, seed=seed, progress=progress)
            runs[(variant.name, seed)] = run
            rows.append(
                {**run.row(), "method": variant.name, "seed": seed, "ddpm_seed": draw, "family": "BDGF / ablation"}
            )
            if variant.name == "BDGF" and run.ensembles is not None:
                chosen = run.ensembles.test[run.ensembles.chosen]
                rows.append(
                    {
                        "method": ENSEMBLE_ROW,
                        **{k: chosen[k] for k in METRICS},
                        "rule": run.ensembles.chosen,
                        "seed": seed,
                        "ddpm_seed": draw,
                        "family": "BDGF / ablation",
                    }
                )
        rows += [{**row, "seed": seed, "family": "baseline"} for row in fused_baselines(ctx, prepared, seed)]
    # every row says which label budget it learned from (None: all) and which draw of the labelled
    # pixels (`pipeline.steps.training_pixels`: the model seed; None without a budget: no draw)
    budget = ctx.labels_per_class
    drawn = [{**row, "labels_per_class": budget, "label_draw": None if budget is None else row["seed"]} for row in rows]
    return Comparison(drawn, runs, features, variants)
