"""Does a DDPM pretrained on the whole scene give features that beat the raw 3 x 3 mean where labels are scarce?

BDGF's premise is that features of a DDPM pretrained without labels are worth more than the raw
data. The study reads the frozen features as the pipeline reads them (`FeatureConfig.at_patch`,
timesteps 5 / 50 / 200, mean over t) and judges them with the project's linear probe
(`analysis.probe.budget_probe`) at 5, 10, 25, 50 and all (capped at 4,000) labelled pixels per
class: the probe's training pixels are a class-stratified draw inside the spatially disjoint fit
region (draw d: seed d, the same pixels for every feature set), scored on the validation blocks
(where choices are made) and on the test blocks (recorded). Mean, sample std and 95 % t-interval
over the label draws, and each feature set's paired difference to the raw 3 x 3 mean.

DDPM arms (adaptive masking, the `full` preset's U-Net, batch 64, lr 5e-4, one DDPM draw each):
- `preset`: the full preset as it ships: 4,096 random patches, 16 epochs (896 steps), constant rate;
- `scene`: one patch at every pixel of the scene, about `--steps` optimiser steps, constant rate;
- `scene-cosine-ema`: the same patches and steps, warm-up + cosine decay and an EMA (0.999) of the weights;
- `untrained`: the U-Net at initialisation (a control: features of the same size that learned nothing).
Each DDPM arm is read with 1 noise draw per timestep, and `scene-cosine-ema` also with 4
(`FeatureConfig.noise_draws`). Feature sets: raw 3 x 3 mean; diffusion alone; raw 3 x 3 mean +
diffusion.

    OMP_WAIT_POLICY=PASSIVE python docs/experiments/scene_pretraining.py [--dataset synthetic] [--steps 4000]
    (--arms ARM ... trains only those DDPMs, e.g. two processes side by side; then run without it to probe)

The label draws are the unit of the intervals; the DDPM is one draw per arm, so a difference
between DDPM arms is one DDPM against one: read it as such. Writes
outputs/experiments/scene_pretraining_<dataset>.json; DDPM checkpoints and feature caches stay
under outputs/experiments/scene_pretraining/, so a rerun reloads them.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bdgf_nb.analysis.probe import budget_probe, budget_summary, neighbourhood_mean
from bdgf_nb.data.patches import unlabelled_patches
from bdgf_nb.ddpm.features import FeatureConfig, cached_features, extract_features, feature_cache_key
from bdgf_nb.pipeline.context import RunContext
from bdgf_nb.pipeline.steps import Prepared, prepare
from bdgf_nb.train.pretrain import PretrainConfig, build_diffusion, pretrain, steps_per_epoch

OUT = Path("outputs/experiments")
ARMS = ("preset", "scene", "scene-cosine-ema", "untrained")
BUDGETS: tuple[int | None, ...] = (5, 10, 25, 50, None)


def arm_config(arm: str, base: PretrainConfig, n_patches: int, steps: int) -> PretrainConfig:
    """The pretraining config of one arm; `scene*` arms run about `steps` optimiser steps."""
    if arm == "preset":
        return base
    epochs = max(1, math.ceil(steps / steps_per_epoch(n_patches, base)))
    cfg = replace(base, epochs=epochs)
    if arm == "scene-cosine-ema":
        cfg = replace(cfg, lr_schedule="cosine", ema_decay=0.999)
    return cfg


def arm_features(
    ctx: RunContext, prepared: Prepared, arm: str, steps: int, work: Path, noise_draws: int = 1
) -> list[np.ndarray]:
    """The arm's DDPM (trained or reloaded from its checkpoint) read as the pipeline reads it."""
    base = ctx.preset.pretrain_config("adaptive", 0)
    n = ctx.preset.ddpm_patches if arm == "preset" else None
    x0 = unlabelled_patches(prepared.image, n, prepared.patch, seed=0, mask=prepared.scene.metadata.get("valid"))
    cfg = arm_config(arm, base, x0.shape[0], steps)
    if arm == "untrained":
        torch.manual_seed(cfg.seed)  # the initial weights `pretrain` starts from
        diffusion = build_diffusion(cfg, prepared.channel_groups).eval()
    else:
        n_steps = cfg.epochs * steps_per_epoch(x0.shape[0], cfg)
        print(f"{arm}: {x0.shape[0]} patches, {cfg.epochs} epochs, {n_steps} steps", flush=True)
        diffusion = pretrain(x0, prepared.channel_groups, cfg, checkpoint_path=work / f"{arm}.ckpt").diffusion
    features: FeatureConfig = replace(ctx.preset.features.at_patch(prepared.patch), noise_draws=noise_draws)
    key = feature_cache_key(prepared.scene.name, tuple(prepared.image.shape), features, diffusion)
    maps, _ = cached_features(work / "cache", key, lambda: extract_features(diffusion, prepared.image, features))
    return maps


def run(
    dataset: str, steps: int, draws: int, arms: tuple[str, ...] | None, probed: tuple[str, ...] = ARMS
) -> dict[str, Any] | None:
    start = time.time()
    work = OUT / "scene_pretraining" / dataset
    ctx = RunContext.create(dataset, quick=False, seed=0, out_dir=work)
    prepared = prepare(ctx)
    if arms is not None:  # training only
        for arm in arms:
            arm_features(ctx, prepared, arm, steps, work)
        return None
    mean3 = neighbourhood_mean(prepared.image)
    sets: dict[str, list[np.ndarray]] = {"raw 3x3 mean": [mean3]}
    readings = [(arm, 1) for arm in probed] + [("scene-cosine-ema", 4)] * ("scene-cosine-ema" in probed)
    for arm, noise_draws in readings:
        maps = arm_features(ctx, prepared, arm, steps, work, noise_draws)
        name = arm + ("" if noise_draws == 1 else f", {noise_draws} noise draws")
        sets[f"diffusion ({name})"] = maps
        sets[f"raw 3x3 + diffusion ({name})"] = [mean3, *maps]
    split = prepared.split
    assert split.val is not None
    rows = budget_probe(
        sets,
        prepared.labels,
        split.fit,
        {"val": split.val, "test": split.test},
        prepared.n_classes,
        budgets=BUDGETS,
        draws=draws,
    )
    result = {
        "dataset": dataset,
        "steps": steps,
        "arms": list(probed),
        "label_draws": draws,
        "fit_pixels_per_class": np.bincount(prepared.labels[split.fit], minlength=prepared.n_classes + 1)[1:].tolist(),
        "summary": {where: budget_summary(rows, "raw 3x3 mean", where=where) for where in ("val", "test")},
        "rows": rows,
        "minutes": (time.time() - start) / 60,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"scene_pretraining_{dataset}.json"
    path.write_text(json.dumps(result, indent=1))
    for where in ("val", "test"):
        print(f"\n{dataset}, probe OA on {where} ({draws} label draws; difference to the raw 3x3 mean, paired)")
        for r in result["summary"][where]:
            diff = f"  {r['diff']:+6.2f} [{r['diff_low']:+6.2f}, {r['diff_high']:+6.2f}]" if "diff" in r else ""
            print(f"  {r['budget']:>9}  {r['features']:<52} {r['mean']:6.2f} (sd {r['std']:5.2f}){diff}")
    print(f"{result['minutes']:.1f} min; wrote {path}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--steps", type=int, default=4000, help="optimiser steps of the scene arms (default 4000)")
    parser.add_argument("--draws", type=int, default=5, help="label draws per budget (default 5)")
    parser.add_argument("--arms", nargs="+", choices=ARMS[:3], help="only train these DDPMs, then stop")
    parser.add_argument("--probe", nargs="+", choices=ARMS, default=list(ARMS), help="the arms to probe (default all)")
    args = parser.parse_args()
    run(args.dataset, args.steps, args.draws, tuple(args.arms) if args.arms else None, tuple(args.probe))


if __name__ == "__main__":
    main()
