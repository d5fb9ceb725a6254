"""Which modality carries each class: per-class accuracy with each modality alone and fused.

BDGF is about modality imbalance: the HSI has many bands and dominates a plain DDPM's loss, while
some classes (trees vs grass, flat roof vs road) are told apart only by height. Notebook 00 shows
this per class before any deep model runs: a random forest on centre-pixel features of every
modality subset, trained on the default split's training pixels and scored on its test pixels.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import f1_score

from bdgf_nb.data.scene import PixelScene, Scene
from bdgf_nb.data.splits import Split, default_split
from bdgf_nb.errors import ConfigError, expect


def modality_information(
    scene: Scene | PixelScene,
    patch: int = 11,
    seed: int = 0,
    split: Split | None = None,
    trees: int = 100,
    max_train: int = 4000,
    needs_drop: float = 10.0,
) -> pd.DataFrame:
    """One row per class: test F1 (%) of a RandomForest (`trees` trees, at most `max_train`
    training pixels) on centre pixels of each modality alone ("hsi only", ...), of all stacked
    ("all"), and "needs": the modalities whose removal from "all" costs the class at least
    `needs_drop` F1 points (e.g. "lidar" for a class only the DSM separates), or "-". F1, not
    recall: a modality that calls every vegetation pixel "trees" has a high trees recall.

    `split` defaults to the scene's leak-free default split for `patch`."""
    expect(trees >= 1, ConfigError, f"trees must be >= 1, found {trees}")
    expect(max_train >= 1, ConfigError, f"max_train must be >= 1, found {max_train}")
    labels = (scene.labels if isinstance(scene, PixelScene) else scene.gt).ravel()
    split = split or default_split(scene, patch=patch, seed=seed, allow_unmeasurable=True)
    train, test = np.flatnonzero(split.train.ravel()), np.flatnonzero(split.test.ravel())
    rng = np.random.default_rng(seed)
    if train.size > max_train:
        train = np.sort(rng.choice(train, size=max_train, replace=False))
    features = {m: x.reshape(labels.size, -1) for m, x in scene.modalities.items()}
    names = list(features)
    classes = np.arange(1, scene.n_classes + 1)

    def recall(subset: tuple[str, ...]) -> np.ndarray:
        x = np.concatenate([features[m] for m in subset], axis=1)
        rf = RandomForestClassifier(n_estimators=trees, random_state=seed, n_jobs=1).fit(x[train], labels[train])
        predicted = rf.predict(x[test])
        return 100.0 * f1_score(labels[test], predicted, labels=classes, average=None, zero_division=0.0)

    scores = {
        subset: recall(subset) for k in {1, len(names) - 1, len(names)} if k >= 1 for subset in combinations(names, k)
    }
    full = scores[tuple(names)]
    table = pd.DataFrame({"class": list(scene.class_names)})
    for m in names:
        table[f"{m} only"] = scores[(m,)]
    table["all"] = full
    needs = []
    for i in range(classes.size):
        lost = [
            m for m in names if len(names) > 1 and full[i] - scores[tuple(n for n in names if n != m)][i] >= needs_drop
        ]
        needs.append(" + ".join(lost) if lost else "-")
    table["needs"] = needs
    table["test pixels"] = np.bincount(labels[test], minlength=classes.size + 1)[1:]
    return table.round(1)
