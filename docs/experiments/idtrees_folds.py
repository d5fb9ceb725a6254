"""Over IDTReeS's 5 plot-disjoint folds, does BDGF beat the data README's RF bar and the baselines?

BDGF on IDTReeS pooled over the 5 plot-disjoint folds, beside the data README's bar on the same
folds ("full mode's BDGF row on idtrees_mlbs stands next to the plot-disjoint baselines").

Fold f is the split of `--seed f` (the catalog's group k-fold: seed % 5 picks the fold), so each
fold has its own adaptive DDPM draw and classifier seed: one model per fold, 5 in all. Every
method is scored on exactly the same test pixels per fold (the fold's test plots), and reported
two ways: pooled (one confusion matrix over the 5 folds' test pixels, as the data README pools),
and per fold as mean, sample std, 95 % t-interval over the 5 folds, with the paired difference
BDGF minus each baseline over folds (t-interval, 4 degrees of freedom).

Baselines, fitted on the fold's whole training side (fit + validation plots; they select nothing):
- "RF bar (HSI PCA-20 + CHM)": the data README's recipe, 300 trees on 20 HSI principal components
  and canopy height (docs/experiments/idtrees_rf_bar.py pools it over sklearn GroupKFold instead).
- the pipeline's fused baselines of notebook 03 (SVM / RF, centre pixel and patch statistics).

With --masking, BDGF on a DDPM pretrained without masking and with random masking at the adaptive
rate joins the table (Δ BDGF − it is the effect of adaptive masking, paired over folds).

Run from the repo root: python docs/experiments/idtrees_folds.py [--quick] [--masking] [--folds 0 1 2 3 4].
Resumable: models are checkpointed under outputs/experiments/idtrees_folds*/, and each finished
fold's predictions are kept in fold<f>.npz there.
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.preprocessing import StandardScaler

from bdgf_nb.analysis.stats import paired_difference, summarize
from bdgf_nb.metrics import classification_report
from bdgf_nb.model.baselines import fit_predict, pixel_features
from bdgf_nb.pipeline.context import RunContext
from bdgf_nb.pipeline.steps import (
    extract_diffusion_features,
    predict_test,
    prepare,
    pretrain_ddpm,
    train_variant,
)
from bdgf_nb.pipeline.variants import BDGF_VARIANT

METRICS = {"OA": "overall_accuracy", "AA": "average_accuracy", "kappa": "kappa"}


def rf_bar(prepared, seed: int) -> np.ndarray:
    """The data README's RF on the fold: PCA-20 of the HSI (fitted on training pixels) + CHM."""
    split, image, groups = prepared.split, prepared.image, prepared.channel_groups
    hsi = image[: groups["hsi"]]
    chm = image[groups["hsi"] : groups["hsi"] + groups["chm"]]
    pixels = lambda m: np.concatenate([hsi[:, m].T, chm[:, m].T], axis=1)  # noqa: E731
    train, test = pixels(split.train), pixels(split.test)
    pca = PCA(20, random_state=seed).fit(train[:, : groups["hsi"]])
    reduce = lambda x: np.concatenate([pca.transform(x[:, : groups["hsi"]]), x[:, groups["hsi"] :]], axis=1)  # noqa: E731
    scaler = StandardScaler().fit(reduce(train))
    forest = RandomForestClassifier(300, n_jobs=1, random_state=seed).fit(
        scaler.transform(reduce(train)), prepared.labels[split.train]
    )
    return forest.predict(scaler.transform(reduce(test)))


@functools.cache
def fold_setup(fold: int, quick: bool, out_dir: Path) -> tuple[RunContext, Any]:
    """The run context and prepared scene of fold `fold` (seed % 5 picks the fold), loaded once
    per fold however many arms need them (46 GeoTIFF triples to read and standardise)."""
    ctx = RunContext.create("idtrees_mlbs", quick=quick, seed=fold, out_dir=str(out_dir))
    return ctx, prepare(ctx)


def run_fold(fold: int, quick: bool, out_dir: Path) -> dict[str, np.ndarray]:
    cached = out_dir / f"fold{fold}.npz"
    if cached.exists():
        return dict(np.load(cached))
    start = time.time()
    ctx, prepared = fold_setup(fold, quick, out_dir)
    split = prepared.split
    y = prepared.labels[split.test]
    predictions = {"y": y, "n_classes": np.array(prepared.n_classes)}
    predictions["RF bar (HSI PCA-20 + CHM)"] = rf_bar(prepared, fold)
    stacked = np.moveaxis(prepared.image, 0, -1)
    for kind in ("centre", "patch_stats"):
        x = pixel_features(stacked, kind, prepared.patch)
        for model in ("svm", "rf"):
            cfg = ctx.preset.baseline_config(fold, kind, (model,))
            predictions[f"{model.upper()} ({kind.replace('_', ' ')})"] = fit_predict(
                model, x[split.train], prepared.labels[split.train], x[split.test], cfg
            )
    predictions["BDGF"] = bdgf_predictions(ctx, prepared, "adaptive", fold)
    print(
        f"fold {fold}: {len(y)} test pixels, {int(split.fit.sum())} fit, "
        f"{int(split.val.sum()) if split.val is not None else 0} val, "
        f"{time.time() - start:.0f} s",
        flush=True,
    )
    np.savez(cached, **predictions)
    return predictions


def bdgf_predictions(ctx: RunContext, prepared, masking: str, fold: int) -> np.ndarray:
    """Test labels (1-based) of BDGF guided by the features of the `masking` DDPM of this fold."""
    features = extract_diffusion_features(
        ctx, prepared, pretrain_ddpm(ctx, prepared, masking, progress=False), progress=False
    )
    run = train_variant(ctx, prepared, features, BDGF_VARIANT, seed=fold, progress=False)
    out = predict_test(prepared, run, features)
    assert np.array_equal(out["labels"] + 1, prepared.labels[prepared.split.test])
    print(f"  fold {fold}, BDGF on the {masking} DDPM: best epoch {run.best_epoch}, {run.seconds:.0f} s", flush=True)
    return out["probabilities"].argmax(1) + 1


MASKING_ARMS = {"no masking (DDPM trained without)": "none", "random masking at the adaptive rate": "random_matched"}


def run_masking_arms(fold: int, quick: bool, out_dir: Path) -> dict[str, np.ndarray]:
    """The masking idea on this fold: BDGF on the features of a DDPM pretrained without masking
    and with random masking at the adaptive DDPM's own mean rate (same fold, seed and pixels)."""
    cached = out_dir / f"fold{fold}_masking.npz"
    if cached.exists():
        return dict(np.load(cached))
    ctx, prepared = fold_setup(fold, quick, out_dir)
    predictions = {name: bdgf_predictions(ctx, prepared, masking, fold) for name, masking in MASKING_ARMS.items()}
    np.savez(cached, **predictions)
    return predictions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--folds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument(
        "--masking", action="store_true", help="also BDGF without masking and with random masking at the adaptive rate"
    )
    args = parser.parse_args()
    out_dir = Path("outputs/experiments") / ("idtrees_folds_quick" if args.quick else "idtrees_folds")
    start = time.time()
    folds = {f: run_fold(f, args.quick, out_dir) for f in args.folds}
    if args.masking:
        folds = {f: {**p, **run_masking_arms(f, args.quick, out_dir)} for f, p in folds.items()}
    n_classes = int(folds[args.folds[0]]["n_classes"])
    methods = ["BDGF"] + [m for m in folds[args.folds[0]] if m not in ("y", "n_classes", "BDGF")]
    per_fold = {
        m: {f: classification_report(p["y"], p[m], n_classes).to_dict() for f, p in folds.items()} for m in methods
    }
    result = {"folds": args.folds, "quick": args.quick, "seconds": round(time.time() - start, 1), "methods": {}}
    print(f"\n{len(args.folds)} folds ({'quick' if args.quick else 'full'} preset), one model per fold")
    print(
        "| method | pooled OA / AA / kappa | "
        + " | ".join(f"{k} over folds (mean ± std [95 % CI])" for k in METRICS)
        + " | "
        + " | ".join(f"Δ{k} BDGF − method [95 % CI]" for k in METRICS)
        + " |"
    )
    print("|---" * (2 + 2 * len(METRICS)) + "|")
    for m in methods:
        y = np.concatenate([folds[f]["y"] for f in args.folds])
        pooled = classification_report(y, np.concatenate([folds[f][m] for f in args.folds]), n_classes).to_dict()
        cells, deltas, entry = [], [], {"pooled": {k: pooled[v] for k, v in METRICS.items()}}
        for k, key in METRICS.items():
            s = summarize([per_fold[m][f][key] for f in args.folds])
            cells.append(f"{s.mean:.2f} ± {s.std:.2f} [{s.low:.2f}, {s.high:.2f}]")
            entry[k] = {"mean": s.mean, "std": s.std, "low": s.low, "high": s.high}
            if m != "BDGF":
                d = paired_difference(
                    {f: per_fold["BDGF"][f][key] for f in args.folds}, {f: per_fold[m][f][key] for f in args.folds}
                )
                deltas.append(f"{d.mean:+.2f} [{d.low:+.2f}, {d.high:+.2f}]")
                entry[f"delta_{k}"] = {"mean": d.mean, "low": d.low, "high": d.high}
            else:
                deltas.append("reference")
        result["methods"][m] = entry
        print(
            f"| {m} | {pooled['overall_accuracy']:.2f} / {pooled['average_accuracy']:.2f} / {pooled['kappa']:.2f} | "
            + " | ".join(cells)
            + " | "
            + " | ".join(deltas)
            + " |"
        )
    (out_dir / "summary.json").write_text(json.dumps(result, indent=1))
    print(f"\n{time.time() - start:.0f} s; {out_dir / 'summary.json'}")


if __name__ == "__main__":
    main()
