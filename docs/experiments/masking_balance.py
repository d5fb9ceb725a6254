"""Does modality masking balance what the frozen diffusion features carry, judged per DDPM draw?

Masking is meant to make the DDPM modality-balanced. What the branches receive are the frozen
features, so the study judges the features, with the DDPM draw as the unit (every arm differs by
its DDPM; draw d of every arm shares its seed: the same patches, initial weights and batches):

1. the feature R^2 of each modality (`ddpm.feature_balance.feature_balance`, ridge on spatially
   held-out blocks of the whole scene, the same pixels for every arm); the under-carried
   modality is the one with the lower R^2 in the `none` arm;
2. the linear probe (`analysis.probe.linear_probe`) on the diffusion features, on all classes
   and on the classes that need the auxiliary modality: those whose validation recall, for a
   probe on the raw 3 x 3 mean, rises by >= 10 points when the auxiliary modalities join the
   spectral one (on the synthetic default: the three height-only pairs). Fitted on the fit
   pixels, scored on the spatially separate validation blocks (where choices are made) and on
   the test blocks (recorded).

3. with `--bdgf`, BDGF itself (quick preset, model seed = draw, guided by that arm's features):
   test OA / AA / kappa, validation kappa, and the mean test accuracy of the aux classes.

Arms (quick preset sizes; `hidden_target` "x0" = eq. (5b), "none" = the former loss):
none; adaptive on reliance with the former loss (the rule as it shipped); adaptive on reliance;
adaptive on the feature R^2 ("feature" signal); random masking at the feature arm's own mean
rate (`random_matched`, the same budget spent blindly). Mean, sample std and 95 % t-interval over
draws, and the paired difference draw by draw with its interval.

    OMP_WAIT_POLICY=PASSIVE python docs/experiments/masking_balance.py [--dataset synthetic] [--draws 4] [--bdgf]

(PASSIVE: on cores shared with other work, the default spin-waiting made one DDPM epoch 30x slower.)

Writes outputs/experiments/masking_balance_<dataset>.json; DDPM checkpoints and features are kept
under outputs/experiments/masking_balance/, so a rerun reloads them.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, recall_score
from sklearn.preprocessing import StandardScaler

from bdgf_nb.analysis.probe import linear_probe, neighbourhood_mean, pixels_at
from bdgf_nb.analysis.stats import paired_difference, summarize
from bdgf_nb.data.patches import unlabelled_patches
from bdgf_nb.data.sampling import limit_mask
from bdgf_nb.data.synthetic import SPECTRAL_PARTNER
from bdgf_nb.ddpm.feature_balance import feature_balance
from bdgf_nb.ddpm.features import extract_features
from bdgf_nb.ddpm.masking import matched_rate
from bdgf_nb.metrics import METRICS, SHORT_NAMES
from bdgf_nb.pipeline.context import DDPMSource, RunContext
from bdgf_nb.pipeline.steps import DiffusionFeatures, Prepared, prepare, train_variant
from bdgf_nb.pipeline.variants import BDGF_VARIANT
from bdgf_nb.train.pretrain import pretrain

OUT = Path("outputs/experiments")


@dataclass(frozen=True)
class Arm:
    mode: str
    signal: str = "reliance"
    hidden_target: str = "x0"
    matched_to: str = ""  # random_matched: the arm whose mean rate it spends


ARMS = {
    "none": Arm("none"),
    "adaptive, reliance, former loss": Arm("adaptive", "reliance", "none"),
    "adaptive, reliance": Arm("adaptive", "reliance"),
    "adaptive, feature": Arm("adaptive", "feature"),
    "random_matched": Arm("random_matched", matched_to="adaptive, feature"),
}


def aux_classes(prepared: Prepared, spectral: str, threshold: float = 0.10) -> list[int]:
    """The classes that need the auxiliary modality (labels 1..n). The synthetic scenes know
    them: the height-only pairs (`SPECTRAL_PARTNER`, both members). Elsewhere: the classes whose
    validation recall of a raw-3x3 probe rises by >= `threshold` when the auxiliary modalities
    join the spectral one, with the class each is most often taken for without them."""
    if prepared.scene.name.startswith("synthetic"):
        return sorted({c for pair in SPECTRAL_PARTNER.items() for c in pair})
    mean = neighbourhood_mean(prepared.image)
    spectral_channels = prepared.channel_groups[spectral]
    fit, val = limit_mask(prepared.split.fit, prepared.labels, 4000, 0), prepared.split.val
    assert val is not None
    recalls, predictions = [], []
    for maps in ([mean[:spectral_channels]], [mean]):
        x_fit, x_val = pixels_at(maps, fit), pixels_at(maps, val)
        scaler = StandardScaler().fit(x_fit)
        probe = LogisticRegression(max_iter=2000, class_weight="balanced").fit(
            scaler.transform(x_fit), prepared.labels[fit]
        )
        classes = list(range(1, prepared.n_classes + 1))
        predicted = probe.predict(scaler.transform(x_val))
        predictions.append(predicted)
        recalls.append(recall_score(prepared.labels[val], predicted, labels=classes, average=None, zero_division=0))
    gain = recalls[1] - recalls[0]
    gaining = [c + 1 for c in np.nonzero(gain >= threshold)[0].tolist()]
    confusion = confusion_matrix(prepared.labels[val], predictions[0], labels=classes)
    np.fill_diagonal(confusion, 0)
    return sorted({*gaining, *(classes[int(np.argmax(confusion[c - 1]))] for c in gaining)})


def measure(prepared: Prepared, maps: list[np.ndarray], aux: list[int]) -> dict[str, float]:
    """Feature R^2 per modality, probe OA / kappa on all classes and on the aux classes."""
    out = {f"r2_{k}": v for k, v in feature_balance(maps, prepared.image, prepared.channel_groups, seed=0).r2.items()}
    in_aux = np.isin(prepared.labels, aux)
    split = prepared.split
    assert split.val is not None
    for where, mask in (("val", split.val), ("test", split.test)):
        row = linear_probe({"d": maps}, prepared.labels, split.fit, mask, prepared.n_classes, seed=0)[0]
        out[f"probe_oa_{where}"] = float(row["overall_accuracy"])
        out[f"probe_kappa_{where}"] = float(row["kappa"])
        if aux:
            row = linear_probe({"d": maps}, prepared.labels, split.fit & in_aux, mask & in_aux, prepared.n_classes)[0]
            out[f"aux_probe_oa_{where}"] = float(row["overall_accuracy"])
    return out


def bdgf_scores(
    ctx: RunContext, prepared: Prepared, maps: list[np.ndarray], arm: Arm, slug: str, draw: int, aux: list[int]
) -> dict[str, float]:
    """BDGF (quick, model seed `draw`) guided by one arm's features; checkpoints per arm."""
    arm_ctx = replace(ctx, out_dir=ctx.out_dir / "bdgf" / slug)
    run = train_variant(
        arm_ctx, prepared, DiffusionFeatures(maps, DDPMSource(arm.mode, draw)), BDGF_VARIANT, seed=draw, progress=False
    )
    row = run.row()
    per_class = [run.report["per_class_accuracy"][c - 1] for c in aux]
    return {
        **{f"bdgf_{SHORT_NAMES[k]}": float(row[k]) for k in METRICS},
        "bdgf_val_kappa": float(row["val_kappa"]),
        **({"bdgf_aux_accuracy": float(np.mean([v for v in per_class if v is not None]))} if aux else {}),
    }


def run(dataset: str, draws: int, preset_name: str, with_bdgf: bool = False) -> dict[str, Any]:
    start = time.time()
    work = OUT / "masking_balance" / dataset / preset_name
    ctx = RunContext.create(dataset, quick=preset_name == "quick", preset_name=preset_name, seed=0, out_dir=work)
    prepared = prepare(ctx)
    names = list(prepared.channel_groups)
    aux = aux_classes(prepared, names[0])
    print(f"{dataset}: classes that need {names[1:]}: {[prepared.scene.class_names[c - 1] for c in aux]}")
    cfg_features = ctx.preset.features.at_patch(prepared.patch)
    rows: dict[str, dict[int, dict[str, float]]] = {arm: {} for arm in ARMS}
    histories: dict[str, dict[int, list[dict[str, float]]]] = {arm: {} for arm in ARMS}
    for draw in range(draws):
        x0 = unlabelled_patches(prepared.image, ctx.preset.ddpm_patches, prepared.patch, seed=draw)
        for name, arm in ARMS.items():
            t0 = time.time()
            matched = matched_rate(histories[arm.matched_to][draw], names) if arm.matched_to else None
            base = ctx.preset.pretrain_config(arm.mode, draw, matched)
            cfg = replace(
                base,
                masking=replace(base.masking, signal=arm.signal),
                diffusion=replace(base.diffusion, hidden_target=arm.hidden_target),
            )
            slug = name.replace(", ", "_").replace(" ", "-")
            result = pretrain(x0, prepared.channel_groups, cfg, checkpoint_path=work / f"{slug}_d{draw}.ckpt")
            histories[name][draw] = result.history
            maps = extract_features(result.diffusion, prepared.image, cfg_features, progress=False)
            last = result.history[-1]
            rows[name][draw] = {
                **measure(prepared, maps, aux),
                **(bdgf_scores(ctx, prepared, maps, arm, slug, draw, aux) if with_bdgf else {}),
                **{f"p_mask_{k}": float(np.mean([h[f"p_mask_{k}"] for h in result.history])) for k in names},
                **{f"reliance_{k}": last[f"reliance_{k}"] for k in names},
                "seconds": time.time() - t0,
            }
            print(f"draw {draw} {name}: { ({k: round(v, 3) for k, v in rows[name][draw].items()}) }", flush=True)
    under = min(names, key=lambda k: float(np.mean([r[f"r2_{k}"] for r in rows["none"].values()])))
    keys = [*(f"r2_{k}" for k in names), "probe_oa_val", "probe_oa_test", "probe_kappa_val", "probe_kappa_test"]
    if aux:
        keys += ["aux_probe_oa_val", "aux_probe_oa_test"]
    if with_bdgf:
        keys += ["bdgf_val_kappa", "bdgf_oa", "bdgf_aa", "bdgf_kappa", *(["bdgf_aux_accuracy"] if aux else [])]
    summary: dict[str, Any] = {}
    for name in ARMS:
        summary[name] = {}
        for key in keys:
            values = {d: r[key] for d, r in rows[name].items()}
            entry = {"per_draw": [values[d] for d in sorted(values)], **vars(summarize(list(values.values())))}
            for reference in ("none", "random_matched"):
                if reference != name:
                    ref = {d: r[key] for d, r in rows[reference].items()}
                    entry[f"minus_{reference}"] = vars(paired_difference(values, ref, name=name))
            summary[name][key] = entry
    result = {
        "dataset": dataset,
        "preset": preset_name,
        "draws": draws,
        "bdgf": with_bdgf,
        "aux_classes": aux,
        "under_carried": under,
        "arms": {k: vars(v) for k, v in ARMS.items()},
        "summary": summary,
        "rows": {k: {str(d): r for d, r in v.items()} for k, v in rows.items()},
        "minutes": (time.time() - start) / 60,
    }
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"masking_balance_{dataset}{'_bdgf' * with_bdgf}.json"
    path.write_text(json.dumps(result, indent=1))
    print_table(result, keys)
    print(f"{result['minutes']:.1f} min; wrote {path}")
    return result


def print_table(result: dict[str, Any], keys: list[str]) -> None:
    under = result["under_carried"]
    print(f"\nunder-carried modality (lower feature R^2 without masking): {under}; {result['draws']} draws per arm")
    for key in keys:
        print(f"\n{key}")
        for name, per_key in result["summary"].items():
            s = per_key[key]
            diffs = "  ".join(
                f"{ref[6:]} {d['mean']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"
                for ref, d in s.items()
                if ref.startswith("minus_")
            )
            print(f"  {name:<32} {s['mean']:.3f} (sd {s['std']:.3f})  {diffs}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--draws", type=int, default=4, help="DDPM draws per arm (default 4)")
    parser.add_argument("--preset", default="quick", choices=["quick", "full"])
    parser.add_argument("--bdgf", action="store_true", help="also train BDGF on each arm's features (one per draw)")
    args = parser.parse_args()
    run(args.dataset, args.draws, args.preset, args.bdgf)


if __name__ == "__main__":
    main()
