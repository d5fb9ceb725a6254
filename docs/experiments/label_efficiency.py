"""Where labels are scarce, does BDGF beat its unguided twin, the probes and SVM, paired over seeds?

For each label budget (labelled pixels per class, `RunContext.labels_per_class`) and model seed
s, the classifiers and baselines learn from the same class-stratified draw inside the spatially
disjoint fit region (`pipeline.steps.training_pixels`, seed s), and are scored on the test blocks:
- BDGF, and "no guidance, widened to BDGF's size" (the unguided twin with as many weights),
  trained for a fixed length (at least `Preset.budget_steps` optimiser steps, the last weights
  kept: a budget leaves no labels for early stopping);
- the plain two-stream 2-D CNN, the best peer on houston2018_west (docs/PROTOCOL.md), rebuilt
  (`model.two_stream`) and trained on the same pixels for the same length;
- a linear probe on the diffusion features, on the raw 3 x 3 mean, and on both;
- SVM and RF on patch statistics (`fused_baselines`, the published peers' spatial baseline).
One DDPM (adaptive masking, the preset's, or with `--scene` one that learns the whole scene:
`pipeline.presets.whole_scene`; seed 0) guides every run: the seeds vary the labels,
weights and batches, not the DDPM. Mean, sample std and 95 % t-interval over seeds, and each
method's paired difference to BDGF.

`--inflation` adds, per budget, what published peers' checkpoint choice would make of BDGF: each
seed's BDGF is trained once more with the test pixels scored beside validation at the same
points (`train_variant(..., watch_test=True)`; the training is unchanged, so its last weights
are the study's BDGF, which the script checks), and the test score is read at the
best-validation point and at the best-test point (`analysis.selection.epoch_choices`). The
best test point is how MFT, ExViT, GLT-Net, Cross-HL, MSFMamba and AMSFN select: its paired
difference to BDGF is the inflation of such a figure, not a result (docs/PROTOCOL.md).

`--pilot` answers the protocol's own question first, on validation only: how many steps should a
budget run take? BDGF at 10 labels per class with 200, 600 and 1,200 steps, scored on the whole
validation blocks (which the budget runs never see), 3 seeds.

    OMP_WAIT_POLICY=PASSIVE python docs/experiments/label_efficiency.py --dataset NAME --budgets 5,10,25,50 --inflation
    OMP_WAIT_POLICY=PASSIVE python docs/experiments/label_efficiency.py --dataset synthetic --pilot

Writes outputs/experiments/label_efficiency_<dataset>.json (`_pilot` for the pilot); checkpoints
under outputs/experiments/label_efficiency/<dataset>/, so a rerun reloads them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bdgf_nb.analysis.probe import linear_probe, neighbourhood_mean
from bdgf_nb.analysis.selection import epoch_choices
from bdgf_nb.analysis.stats import paired_difference, summarize
from bdgf_nb.evaluate.predict import score
from bdgf_nb.metrics import METRICS, SHORT_NAMES
from bdgf_nb.pipeline.context import RunContext
from bdgf_nb.pipeline.presets import whole_scene
from bdgf_nb.pipeline.steps import (
    DiffusionFeatures,
    Prepared,
    diffusion_features,
    fused_baselines,
    prepare,
    train_two_stream,
    train_variant,
    training_pixels,
)
from bdgf_nb.pipeline.stored_results import LABEL_EFFICIENCY_DIR
from bdgf_nb.pipeline.variants import BDGF_VARIANT, COMPARISON

OUT = Path("outputs/experiments")
UNGUIDED = next(v for v in COMPARISON if v.equal_size)
REFERENCE = "BDGF"
TWO_STREAM = "two-stream CNN (the peers' design)"  # model.two_stream: the best peer on houston2018_west
MARKDOWN_COLUMNS = (  # prefixes of the stored methods, in the tables' order
    "no guidance, widened",
    "two-stream CNN",
    "SVM (patch stats)",
    "RF (patch stats)",
    "probe: raw 3x3 + diffusion",
    "BDGF, best validation point",
    "BDGF, best test point",
)
CHOICES = {  # EpochChoice field -> the row it gives (docs/PROTOCOL.md, "Best test epoch")
    "validation": "BDGF, best validation point",
    "best_test": "BDGF, best test point (how published numbers are selected; not a result)",
}


def parse_budgets(text: str) -> list[int | None]:
    return [None if b.strip() == "all" else int(b) for b in text.split(",")]


def budget_rows(
    ctx: RunContext, prepared: Prepared, features: DiffusionFeatures, seeds: list[int]
) -> dict[str, dict[int, dict[str, float]]]:
    """method -> seed -> {oa, aa, kappa} at the context's label budget."""
    mean3 = neighbourhood_mean(prepared.image)
    sets = {
        "probe: raw 3x3 mean": [mean3],
        "probe: diffusion": features.maps,
        "probe: raw 3x3 + diffusion": [mean3, *features.maps],
    }
    rows: dict[str, dict[int, dict[str, float]]] = {}

    def put(method: str, seed: int, row: dict[str, Any]) -> None:
        rows.setdefault(method, {})[seed] = {SHORT_NAMES[k]: float(row[k]) for k in METRICS}

    for seed in seeds:
        t0 = time.time()
        for variant, name in ((BDGF_VARIANT, "BDGF"), (UNGUIDED, "no guidance, widened")):
            put(name, seed, train_variant(ctx, prepared, features, variant, seed=seed, progress=False).row())
        put(TWO_STREAM, seed, train_two_stream(ctx, prepared, seed=seed, progress=False))
        fit, _ = training_pixels(ctx, prepared, seed)
        for row in linear_probe(sets, prepared.labels, fit, prepared.split.test, prepared.n_classes, seed=seed):
            put(row["features"], seed, row)
        for row in fused_baselines(ctx, prepared, seed):
            if "patch stats" in row["method"]:
                put(row["method"], seed, row)
        print(f"  seed {seed}: {time.time() - t0:.0f} s, fit pixels {int(fit.sum())}", flush=True)
    return rows


def summary_of(rows: dict[str, dict[int, dict[str, float]]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for method, per_seed in rows.items():
        out[method] = {}
        for metric in ("oa", "aa", "kappa"):
            values = {s: r[metric] for s, r in per_seed.items()}
            entry: dict[str, Any] = {
                "per_seed": [values[s] for s in sorted(values)],
                **vars(summarize(list(values.values()))),
            }
            if method != REFERENCE:
                ref = {s: r[metric] for s, r in rows[REFERENCE].items()}
                entry["minus_bdgf"] = vars(paired_difference(values, ref, name=method))
            out[method][metric] = entry
    return out


def pilot(dataset: str, quick: bool) -> dict[str, Any]:
    """BDGF at 10 labels per class, 200 / 600 / 1,200 steps, scored on the whole validation blocks."""
    work = OUT / "label_efficiency" / dataset
    result: dict[str, Any] = {"dataset": dataset, "budget": 10, "by_steps": {}}
    for steps in (200, 600, 1200):
        base = RunContext.create(dataset, quick=quick, out_dir=work / f"pilot{steps}", labels_per_class=10)
        ctx = replace(base, preset=replace(base.preset, budget_steps=steps))
        prepared = prepare(ctx)
        features = diffusion_features(replace(ctx, out_dir=work), prepared, "adaptive", seed=0)
        assert prepared.split.val is not None
        val_set = prepared.dataset(prepared.split.val, features.maps)
        scores = {}
        for seed in (0, 1, 2):
            run = train_variant(ctx, prepared, features, BDGF_VARIANT, seed=seed, progress=False)
            scores[seed] = float(score(run.model, val_set, prepared.n_classes)["kappa"])
        result["by_steps"][steps] = {"per_seed": scores, **vars(summarize(list(scores.values())))}
        print(f"{steps} steps: whole-validation kappa {result['by_steps'][steps]['mean']:.2f} {scores}", flush=True)
    return result


def selection_rows(
    ctx: RunContext,
    prepared: Prepared,
    features: DiffusionFeatures,
    seeds: list[int],
    bdgf: dict[int, dict[str, float]],
) -> dict[str, Any]:
    """Each seed's BDGF trained again with the test pixels watched; its test scores at the
    best-validation and the best-test point, paired with the study's BDGF (`CHOICES`)."""
    rows: dict[str, dict[int, dict[str, float]]] = {name: {} for name in CHOICES.values()}
    rows[REFERENCE] = bdgf
    epochs: dict[str, dict[str, int]] = {}
    drift = 0.0
    for seed in seeds:
        run = train_variant(ctx, prepared, features, BDGF_VARIANT, seed=seed, progress=False, watch_test=True)
        choice = epoch_choices(run.history, "oa", ctx.preset.train.select_on)
        for field, name in CHOICES.items():
            rows[name][seed] = getattr(choice, field)
        drift = max(drift, abs(choice.last["oa"] - bdgf[seed]["oa"]))  # same training: 0 up to float order
        epochs[str(seed)] = {
            "validation": choice.validation_epoch,
            "best_test": choice.best_test_epoch,
            "last": int(run.history[-1]["epoch"]),
            "scored": choice.scored_epochs,
        }
    if drift > 0.05:
        print(f"  warning: the watched runs' last test OA differs from the study's BDGF by up to {drift:.2f}")
    summary = summary_of(rows)
    del summary[REFERENCE]
    return {
        "rows": {m: {str(s): r for s, r in v.items()} for m, v in rows.items() if m != REFERENCE},
        "summary": summary,
        "epochs": epochs,
        "last_minus_bdgf_max": drift,
    }


def run(
    dataset: str,
    budgets: list[int | None],
    n_seeds: int,
    quick: bool,
    store: bool = False,
    scene: bool = False,
    inflation: bool = False,
) -> dict[str, Any]:
    start = time.time()
    work = OUT / "label_efficiency" / dataset
    seeds = list(range(n_seeds))
    base = RunContext.create(dataset, quick=quick, out_dir=work)
    preset = whole_scene(base.preset) if scene else base.preset
    result: dict[str, Any] = {"dataset": dataset, "preset": preset.name, "seeds": seeds, "budgets": {}}
    result["ddpm"] = {"patches": preset.ddpm_patches or "every pixel", "steps": preset.ddpm_steps}
    result["ddpm"] |= {"epochs": preset.pretrain.epochs, "lr_schedule": preset.pretrain.lr_schedule}
    result["ddpm"] |= {"ema_decay": preset.pretrain.ema_decay}
    result["budget_steps"] = preset.budget_steps
    for budget in budgets:
        t0 = time.time()
        print(f"{dataset}: {budget or 'all'} labelled pixels per class", flush=True)
        ctx = replace(base, preset=preset, labels_per_class=budget)
        prepared = prepare(ctx)  # the scene once per budget; its DDPM's features from the cache
        features = diffusion_features(ctx, prepared, "adaptive", seed=0)
        rows = budget_rows(ctx, prepared, features, seeds)
        entry: dict[str, Any] = {
            "rows": {m: {str(s): r for s, r in v.items()} for m, v in rows.items()},
            "summary": summary_of(rows),
            "minutes": (time.time() - t0) / 60,
        }
        print_budget(str(budget or "all"), entry["summary"])
        if inflation:
            t0 = time.time()
            entry["selection"] = selection_rows(ctx, prepared, features, seeds, rows[REFERENCE])
            entry["selection"]["minutes"] = (time.time() - t0) / 60
            print_budget("  selection", entry["selection"]["summary"])
        result["budgets"][str(budget or "all")] = entry
    result["minutes"] = (time.time() - start) / 60
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"label_efficiency_{dataset}{'_scene' * scene}.json"
    path.write_text(json.dumps(result, indent=1))
    print(f"{result['minutes']:.1f} min; wrote {path}")
    if store:  # what chapter 05 and the README read (pipeline.stored_results.label_efficiency_studies)
        revision = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout
        stored = {
            **result,
            "command": "OMP_WAIT_POLICY=PASSIVE python docs/experiments/label_efficiency.py " + " ".join(sys.argv[1:]),
            "recorded": time.strftime("%Y-%m-%d"),
            "code": revision.strip(),
        }
        LABEL_EFFICIENCY_DIR.mkdir(parents=True, exist_ok=True)
        (LABEL_EFFICIENCY_DIR / f"{dataset}{'_scene' * scene}.json").write_text(json.dumps(stored, indent=1) + "\n")
    return result


def print_budget(budget: str, summary: dict[str, Any]) -> None:
    print(f"\n{budget} / class: test OA, mean (sd) over seeds; difference to BDGF paired by seed [95 % CI]")
    for method, per_metric in summary.items():
        s = per_metric["oa"]
        d = s.get("minus_bdgf")
        diff = f"  {d['mean']:+6.2f} [{d['low']:+6.2f}, {d['high']:+6.2f}]" if d else ""
        print(f"  {method:<30} {s['mean']:6.2f} (sd {s['std']:5.2f}){diff}", flush=True)


def markdown(columns: tuple[str, ...] = MARKDOWN_COLUMNS) -> str:
    """The README's and docs/STUDIES.md's table, from the stored studies (results/label_efficiency/;
    the whole-scene DDPM's, `--scene`, left aside):
    BDGF's test OA (mean ± sample std) per scene and budget, every other column its paired
    difference to BDGF [95 % CI], in bold where the interval excludes 0."""
    from bdgf_nb.pipeline.stored_results import label_efficiency_studies

    lines = ["| scene, labelled px / class | BDGF | " + " | ".join(columns) + " |", "|---" * (len(columns) + 2) + "|"]
    studies = {name: s for name, s in label_efficiency_studies().items() if not name.endswith("_scene")}
    for name, study in studies.items():
        for budget, entry in study["budgets"].items():
            summary = {**entry["summary"], **entry.get("selection", {}).get("summary", {})}
            bdgf = summary[REFERENCE]["oa"]
            cells = [f"{name}, {budget}", f"{bdgf['mean']:.1f} ± {bdgf['std']:.1f}"]
            for column in columns:
                method = next((m for m in summary if m.startswith(column)), None)
                if method is None:
                    cells.append("not run")
                    continue
                d = summary[method]["oa"]["minus_bdgf"]
                text = f"{d['mean']:+.1f} [{d['low']:+.1f}, {d['high']:+.1f}]"
                cells.append(f"**{text}**" if d["low"] > 0 or d["high"] < 0 else text)
            lines.append("| " + " | ".join(cells) + " |")
    from bdgf_nb.presentation.prose import label_efficiency_verdict

    verdicts = [label_efficiency_verdict(name, study) for name, study in studies.items()]
    return "\n".join(lines) + "\n\n" + "\n".join(verdicts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--budgets", default="5,10,25,50", help="labelled pixels per class, comma-separated; 'all'")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="the quick preset (default: full)")
    parser.add_argument("--pilot", action="store_true", help="only the steps pilot (validation)")
    parser.add_argument("--scene", action="store_true", help="a DDPM that learns the whole scene (presets.whole_scene)")
    parser.add_argument("--inflation", action="store_true", help="the best-validation and best-test point of BDGF")
    parser.add_argument("--store", action="store_true", help="also keep it in results/label_efficiency/ (chapter 05)")
    parser.add_argument("--markdown", action="store_true", help="only print the stored studies as a markdown table")
    args = parser.parse_args()
    if args.markdown:
        print(markdown())
        return
    if args.pilot:
        result = pilot(args.dataset, args.quick)
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / f"label_efficiency_{args.dataset}_pilot.json").write_text(json.dumps(result, indent=1))
        return
    run(args.dataset, parse_budgets(args.budgets), args.seeds, args.quick, args.store, args.scene, args.inflation)


if __name__ == "__main__":
    main()
