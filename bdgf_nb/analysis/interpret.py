"""Interpretation (docs/METHOD.md §5, notebook 04): 2-D embeddings of branch features and numbers
that say how complementary the branches are.

The paper argues from t-SNE pictures that the CNN, Mamba and Transformer branches learn
complementary features. Pictures depend on perplexity and seeds, so next to them we report
numbers: linear CKA between branch features (representation similarity), pairwise disagreement
and double-fault of branch predictions (diversity of errors), the oracle accuracy (a sample counts
as right when any branch is right: an upper bound on what fusing the branches could reach) and
the gain of the ensemble over the best single branch.

Conventions: N samples, d feature width, K branches, C classes. Labels and predictions here are
**0-based** class indices 0..C-1, as `PatchDataset.targets` and `predict(...)["probabilities"]
.argmax(1)` give them (the metrics module uses scene labels 1..C; add 1 before calling it).
Accuracies are in percent and gains in percentage points, like the metric tables; pairwise
measures (CKA, disagreement, double-fault) are fractions in [0, 1].
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from functools import cache
from types import ModuleType
from typing import Any, Literal

import numpy as np
from sklearn.manifold import TSNE

from bdgf_nb.errors import ConfigError, DataError, expect

EmbedMethod = Literal["tsne", "umap"]


# ---------------------------------------------------------------------------------------------
# subsampling and 2-D embeddings
# ---------------------------------------------------------------------------------------------


def standardise(features: np.ndarray) -> np.ndarray:
    """(N, d) -> (N, d) float64, each column at zero mean and unit variance (constant columns -> 0)."""
    x = np.asarray(features, dtype=np.float64)
    std = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)


def embed(features: np.ndarray, method: EmbedMethod, seed: int, **kw: Any) -> np.ndarray:
    """(N, d) features -> (N, 2) t-SNE or UMAP coordinates (float64).

    Features are standardised first (`standardise`): branch features come out of different layers
    (LayerNorm, ReLU, attention) at different scales, and without it a few large columns decide
    every neighbourhood. t-SNE: scikit-learn, PCA init, perplexity min(30, (N - 1) / 3).
    UMAP: umap-learn, 15 neighbours (fewer when N <= 15); with a random_state it runs
    single-threaded (n_jobs=1, set explicitly), which makes it reproducible. `kw` overrides these
    defaults; `method` is ours, so t-SNE's own `method` cannot be passed (Barnes-Hut is used).
    """
    expect(np.ndim(features) == 2, DataError, f"features must be 2-D (N, d), found shape {np.shape(features)}")
    x = standardise(features)
    expect(len(x) >= 4, DataError, f"features need at least 4 samples to embed, found {len(x)}")
    expect(bool(np.isfinite(x).all()), DataError, "features hold NaN or infinite values")
    if method == "tsne":
        opts: dict[str, Any] = {"init": "pca", "perplexity": min(30.0, (len(x) - 1) / 3), "random_state": seed}
        return np.asarray(TSNE(n_components=2, **{**opts, **kw}).fit_transform(x), dtype=np.float64)
    if method == "umap":
        umap = umap_with_disk_cache()
        opts = {"n_neighbors": min(15, len(x) - 1), "random_state": seed, "n_jobs": 1}
        return np.asarray(umap.UMAP(n_components=2, **{**opts, **kw}).fit_transform(x), dtype=np.float64)
    raise ConfigError(f"method must be 'tsne' or 'umap', found {method!r}")


@cache
def umap_with_disk_cache() -> ModuleType:
    """umap-learn, imported on first use (slow), with numba's on-disk cache switched on for the
    functions it compiles: most of them are not declared `cache=True`, so every new process
    compiled them again, 8.5 s before its first UMAP of 600 points, against 0.8 s for the fit
    itself (measured on 2 cores). With the cache a later process (notebook 04 again,
    the tests) loads the machine code instead; the embedding is identical. numba keeps the cache in
    the package's `__pycache__`, or in a user cache folder where that is read-only, and checks each
    entry against its source file, so an upgraded umap-learn compiles afresh."""
    import umap
    from numba.core.dispatcher import Dispatcher

    modules: list[ModuleType] = [
        m for name, m in list(sys.modules.items()) if name.split(".")[0] in ("umap", "pynndescent")
    ]
    for module in modules:
        for value in list(vars(module).values()):
            if isinstance(value, Dispatcher):
                value.enable_caching()  # numba's own switch, what cache=True sets at decoration
    return umap


def embed_all(features: Mapping[str, np.ndarray], method: EmbedMethod, seed: int, **kw: Any) -> dict[str, np.ndarray]:
    """Embed each named (N, d_k) feature set with the same method and seed (one panel each)."""
    return {name: embed(f, method, seed, **kw) for name, f in features.items()}


# ---------------------------------------------------------------------------------------------
# complementarity measures
# ---------------------------------------------------------------------------------------------


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA of (N, d1) and (N, d2) features (Kornblith et al. 2019, eq. 5, feature space).

    CKA = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F) on column-centred X, Y. 1 for the same
    representation up to rotation and isotropic scale, near 0 for unrelated ones (when N >> d).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    expect(
        x.ndim == 2 and y.ndim == 2 and len(x) == len(y),
        DataError,
        f"x and y must be (N, d1) and (N, d2) with equal N, found {x.shape} and {y.shape}",
    )
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    for name, m in (("x", x), ("y", y)):
        expect(
            bool(np.abs(m).max(initial=0.0) > 0),
            DataError,
            f"{name} has zero variance after centring: CKA is undefined",
        )
    # Unit Frobenius norm first: CKA is scale-invariant and this keeps the products in range.
    x /= np.linalg.norm(x)
    y /= np.linalg.norm(y)
    cross = np.linalg.norm(y.T @ x) ** 2
    return float(cross / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


def _same_length(**arrays: np.ndarray) -> None:
    shapes = {name: np.shape(a) for name, a in arrays.items()}
    first = next(iter(shapes.values()))
    expect(
        len(first) == 1 and first[0] > 0 and all(s == first for s in shapes.values()),
        DataError,
        f"expected non-empty 1-D arrays of equal length, found shapes {shapes}",
    )


def disagreement(pred_a: np.ndarray, pred_b: np.ndarray) -> float:
    """Fraction of the (N,) samples on which two branches predict different classes."""
    _same_length(pred_a=pred_a, pred_b=pred_b)
    return float(np.mean(np.asarray(pred_a) != np.asarray(pred_b)))


def double_fault(pred_a: np.ndarray, pred_b: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of the (N,) samples that both branches get wrong (low = errors do not overlap)."""
    _same_length(pred_a=pred_a, pred_b=pred_b, labels=labels)
    y = np.asarray(labels)
    return float(np.mean((np.asarray(pred_a) != y) & (np.asarray(pred_b) != y)))


def _pairwise(items: Sequence[Any], fn: Any) -> list[list[float]]:
    return [[float(fn(a, b)) for b in items] for a in items]


def _off_diagonal_mean(matrix: list[list[float]]) -> float:
    m = np.asarray(matrix)
    return float(m[~np.eye(len(m), dtype=bool)].mean()) if len(m) > 1 else float("nan")


def complementarity_report(
    branch_names: Sequence[str],
    branch_probabilities: np.ndarray,
    ensemble_probabilities: np.ndarray,
    features: np.ndarray | Sequence[np.ndarray],
    labels: np.ndarray,
) -> dict[str, Any]:
    """How much the K branches complement each other, as plain JSON-ready numbers.

    Inputs as `train.predict()` returns them: branch_probabilities (K, N, C), ensemble
    probabilities (N, C), features (K, N, d) (or K arrays (N, d_k)); labels (N,) 0-based.
    Keys: `branches`; `branch_accuracy` {name: %}; `ensemble_accuracy` %; `best_branch`;
    `ensemble_gain` (ensemble minus best branch, points); `oracle_accuracy` % (any branch right:
    an upper bound for fusion); `cka`, `disagreement`, `double_fault` (K x K lists of fractions;
    the double-fault diagonal is each branch's error rate) and their off-diagonal means
    `mean_cka`, `mean_disagreement`, `mean_double_fault`.
    """
    probs = np.asarray(branch_probabilities)
    ens = np.asarray(ensemble_probabilities)
    y = np.asarray(labels)
    names = list(branch_names)
    expect(
        probs.ndim == 3 and len(probs) == len(names),
        DataError,
        f"branch_probabilities must be (K={len(names)}, N, C), found shape {probs.shape}",
    )
    expect(
        ens.shape == probs.shape[1:],
        DataError,
        f"ensemble_probabilities must be (N, C) = {probs.shape[1:]}, found {ens.shape}",
    )
    expect(
        len(features) == len(names),
        DataError,
        f"features must hold one (N, d) array per branch ({len(names)}), found {len(features)}",
    )
    _same_length(labels=y, ensemble=ens[:, 0])
    expect(
        bool(((y >= 0) & (y < probs.shape[2])).all()),
        DataError,
        f"labels must be 0-based class indices in 0..{probs.shape[2] - 1}, found range {y.min()}..{y.max()}",
    )
    preds = probs.argmax(axis=2)  # (K, N)
    correct = preds == y
    branch_acc = {n: 100.0 * float(c.mean()) for n, c in zip(names, correct, strict=True)}
    best = max(branch_acc, key=lambda n: branch_acc[n])
    ensemble_acc = 100.0 * float(np.mean(ens.argmax(axis=1) == y))
    cka = _pairwise(list(features), linear_cka)
    dis = _pairwise(list(preds), disagreement)
    df = _pairwise(list(preds), lambda a, b: double_fault(a, b, y))
    return {
        "branches": names,
        "branch_accuracy": branch_acc,
        "ensemble_accuracy": ensemble_acc,
        "best_branch": best,
        "ensemble_gain": ensemble_acc - branch_acc[best],
        "oracle_accuracy": 100.0 * float(correct.any(axis=0).mean()),
        "cka": cka,
        "disagreement": dis,
        "double_fault": df,
        "mean_cka": _off_diagonal_mean(cka),
        "mean_disagreement": _off_diagonal_mean(dis),
        "mean_double_fault": _off_diagonal_mean(df),
    }
