"""What does the data README's random-forest bar score on the catalog's 10 IDTReeS species?

IDTReeS pixel bar on the 10 species of the catalog entry (the README of 2026-11-27, "Quick mode,
IDTReeS"): RF of 300 trees on 20 HSI principal components (+ canopy height, + RGB), plot-disjoint
5 folds pooled. Run from the repo root: python docs/experiments/idtrees_rf_bar.py."""

import argparse
import time

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, balanced_accuracy_score, cohen_kappa_score
from sklearn.model_selection import GroupKFold
from sklearn.preprocessing import StandardScaler

from bdgf_nb.data.load import load_scene
from bdgf_nb.data.splits import group_folds


def score(y, p):
    return (
        f"{100 * accuracy_score(y, p):.2f} / {100 * balanced_accuracy_score(y, p):.2f} "
        f"/ {100 * cohen_kappa_score(y, p):.2f}"
    )


def run(scene, sets, partition):
    m = scene.gt > 0
    y, g = scene.gt[m], scene.metadata["groups"][m]
    X = {k: v[m].astype(np.float64) for k, v in scene.modalities.items()}
    if partition == "GroupKFold":
        folds = [(tr, te) for tr, te in GroupKFold(5).split(y, y, g)]
    else:
        idx = -np.ones(scene.gt.shape, int)
        idx[m] = np.arange(m.sum())
        folds = [(idx[f.train], idx[f.test]) for f in group_folds(scene.gt, scene.metadata["groups"], patch=7)]
    for mods in sets:
        t = time.time()
        pred = np.zeros_like(y)
        for tr, te in folds:
            parts_tr, parts_te = [], []
            for mo in mods:
                a = X[mo]
                if mo == "hsi":
                    pca = PCA(20, random_state=0).fit(a[tr])
                    a = pca.transform(a)
                parts_tr.append(a[tr])
                parts_te.append(a[te])
            sc = StandardScaler().fit(np.hstack(parts_tr))
            rf = RandomForestClassifier(300, n_jobs=1, random_state=0).fit(sc.transform(np.hstack(parts_tr)), y[tr])
            pred[te] = rf.predict(sc.transform(np.hstack(parts_te)))
        print(
            f"{scene.n_classes} species, {partition}, RF {'+'.join(mods)}: "
            f"OA/AA/kappa {score(y, pred)}  ({time.time() - t:.0f}s)",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args()
    s10 = load_scene("idtrees_mlbs")
    run(s10, [("hsi",), ("chm",), ("hsi", "chm"), ("hsi", "chm", "rgb")], "GroupKFold")
    run(s10, [("hsi", "chm")], "group_folds")


if __name__ == "__main__":
    main()
