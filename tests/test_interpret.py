import subprocess
import sys

import numpy as np
import pytest
from scipy.stats import ortho_group
from threadpoolctl import threadpool_limits

from bdgf_nb.analysis.interpret import (
    complementarity_report,
    disagreement,
    double_fault,
    embed,
    embed_all,
    linear_cka,
)
from bdgf_nb.data.sampling import stratified_subsample as subsample_indices
from bdgf_nb.errors import ConfigError, DataError
from bdgf_nb.presentation.viz import accuracy_bars, embedding_panels, pairwise_heatmap


def _blobs(n_per_class: int = 50, n_classes: int = 3, d: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_classes), n_per_class)
    centres = 6.0 * rng.normal(size=(n_classes, d))
    return centres[labels] + rng.normal(size=(len(labels), d)), labels


# --- CKA ---------------------------------------------------------------------------------------


def _cka_gram_reference(x, y):
    """Kernel form with the centring matrix H: HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L))."""
    n = len(x)
    h = np.eye(n) - 1.0 / n
    k, m = h @ x @ x.T @ h, h @ y @ y.T @ h
    return np.sum(k * m) / np.sqrt(np.sum(k * k) * np.sum(m * m))


def test_cka_matches_gram_form_and_is_one_on_itself():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 5)), rng.normal(size=(60, 9))
    y[:, :5] += x  # partly shared
    assert linear_cka(x, y) == pytest.approx(_cka_gram_reference(x, y), rel=1e-10)
    assert linear_cka(x, x) == pytest.approx(1.0, abs=1e-12)


def test_cka_invariant_to_orthogonal_transform_scale_and_shift():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(80, 6)), rng.normal(size=(80, 4))
    y[:, 0] += 2 * x[:, 0]
    q = ortho_group.rvs(6, random_state=2)
    base = linear_cka(x, y)
    assert linear_cka(3.5 * x @ q + 7.0, y) == pytest.approx(base, rel=1e-10)
    assert linear_cka(x, 0.01 * y @ ortho_group.rvs(4, random_state=3)) == pytest.approx(base, rel=1e-10)
    assert linear_cka(x, y) == pytest.approx(linear_cka(y, x), rel=1e-12)
    assert 0.0 < base < 1.0


def test_cka_near_zero_for_independent_features_and_bounded():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(4000, 4)), rng.normal(size=(4000, 4))
    value = linear_cka(x, y)
    assert 0.0 <= value < 0.01
    # a non-isotropic scaling is *not* an invariance: CKA moves but stays in [0, 1]
    scaled = linear_cka(x, x * np.array([10.0, 1.0, 1.0, 1.0]))
    assert 0.0 < scaled < 0.999


def test_cka_refuses_constant_features_and_mismatched_n():
    x = np.random.default_rng(0).normal(size=(10, 3))
    with pytest.raises(DataError, match="y has zero variance after centring"):
        linear_cka(x, np.ones((10, 2)))
    with pytest.raises(DataError, match=r"equal N, found \(10, 3\) and \(9, 3\)"):
        linear_cka(x, x[:9])


# --- disagreement, double-fault, report ---------------------------------------------------------


def test_disagreement_and_double_fault_exact():
    y = np.array([0, 1, 2, 0, 1])
    a = np.array([0, 1, 0, 1, 1])  # wrong on 2, 3
    b = np.array([0, 2, 0, 1, 0])  # wrong on 1, 2, 3, 4
    assert disagreement(a, b) == pytest.approx(2 / 5)  # differ on 1 and 4
    assert double_fault(a, b, y) == pytest.approx(2 / 5)
    with pytest.raises(DataError, match="equal length"):
        disagreement(a, b[:4])


def _one_hot(pred, n_classes=3):
    return np.eye(n_classes)[pred]


def test_complementarity_report_exact_numbers():
    y = np.array([0, 1, 2, 0, 1, 2])
    p_cnn = np.array([0, 1, 0, 0, 0, 2])  # right on 0, 1, 3, 5 -> 4/6
    p_mamba = np.array([0, 0, 2, 1, 1, 2])  # right on 0, 2, 4, 5 -> 4/6
    p_tr = np.array([1, 1, 2, 0, 0, 0])  # right on 1, 2, 3 -> 3/6
    branch = np.stack([_one_hot(p) for p in (p_cnn, p_mamba, p_tr)])
    ensemble = _one_hot(y.copy())
    ensemble[0] = _one_hot(np.array([2]))[0]  # ensemble right on 5/6
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(3, 6, 4))
    feats[1] = feats[0] @ ortho_group.rvs(4, random_state=0)  # mamba = rotated cnn

    rep = complementarity_report(["cnn", "mamba", "transformer"], branch, ensemble, feats, y)
    assert rep["branch_accuracy"] == pytest.approx({"cnn": 400 / 6, "mamba": 400 / 6, "transformer": 50.0})
    assert rep["best_branch"] == "cnn"  # ties -> first branch
    assert rep["ensemble_accuracy"] == pytest.approx(500 / 6)
    assert rep["ensemble_gain"] == pytest.approx(100 / 6)
    assert rep["oracle_accuracy"] == pytest.approx(100.0)  # every sample right in some branch
    np.testing.assert_allclose(rep["disagreement"], [[0, 4 / 6, 3 / 6], [4 / 6, 0, 5 / 6], [3 / 6, 5 / 6, 0]])
    # cnn wrong {2, 4}; mamba wrong {1, 3}; transformer wrong {0, 4, 5}
    np.testing.assert_allclose(rep["double_fault"], [[2 / 6, 0, 1 / 6], [0, 2 / 6, 0], [1 / 6, 0, 3 / 6]])
    assert rep["mean_double_fault"] == pytest.approx((0 + 1 / 6 + 0) / 3)
    assert rep["cka"][0][1] == pytest.approx(1.0) and rep["cka"][2][2] == pytest.approx(1.0)
    assert rep["mean_disagreement"] == pytest.approx((4 / 6 + 3 / 6 + 5 / 6) / 3)


def test_complementarity_report_refuses_one_based_labels():
    branch = np.stack([_one_hot(np.array([0, 1, 2]))] * 2)
    with pytest.raises(DataError, match=r"0-based class indices in 0..2, found range 1..3"):
        complementarity_report(["a", "b"], branch, branch[0], np.ones((2, 3, 2)), np.array([1, 2, 3]))
    with pytest.raises(DataError, match=r"branch_probabilities must be \(K=3, N, C\)"):
        complementarity_report(["a", "b", "c"], branch, branch[0], np.ones((3, 3, 2)), np.array([0, 1, 2]))


# --- subsampling --------------------------------------------------------------------------------


def test_subsample_is_deterministic_stratified_and_keeps_rare_classes():
    labels = np.concatenate([np.zeros(900, int), np.ones(90, int), np.full(3, 2), np.full(7, 5)])
    idx = subsample_indices(labels, 100, seed=4)
    assert len(idx) == 100 and len(np.unique(idx)) == 100 and np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(idx, subsample_indices(labels, 100, seed=4))
    assert not np.array_equal(idx, subsample_indices(labels, 100, seed=5))
    counts = np.bincount(labels[idx], minlength=6)
    # floor = 100 // (2 * 4) = 12: floors 12, 12, 3, 7; the other 66 go 888 : 78 -> 61, 5
    np.testing.assert_array_equal(counts, [73, 17, 3, 0, 0, 7])


def test_subsample_returns_everything_when_budget_is_large_and_refuses_tiny_budget():
    labels = np.array([3, 3, 1, 2, 2])
    np.testing.assert_array_equal(subsample_indices(labels, 10, seed=0), np.arange(5))
    with pytest.raises(
        ConfigError, match=r"n must be >= the number of classes \(3\) so every class keeps a point, found 2"
    ):
        subsample_indices(labels, 2, seed=0)


# --- embeddings ---------------------------------------------------------------------------------


def test_tsne_embedding_shape_determinism_and_separation():
    x, labels = _blobs()
    # One OpenMP thread: on a busy 2-core CI machine spinning OpenMP workers make the Barnes-Hut
    # gradient ~50x slower (0.2 s -> 11 s measured).
    with threadpool_limits(1, user_api="openmp"):
        a = embed(x, "tsne", seed=0, max_iter=250)
        np.testing.assert_array_equal(a, embed(x, "tsne", seed=0, max_iter=250))
    assert a.shape == (150, 2) and np.isfinite(a).all()
    # well-separated blobs stay separated: nearest neighbour in 2-D has the same class
    d = np.linalg.norm(a[:, None] - a[None], axis=2) + np.eye(len(a)) * 1e9
    assert np.mean(labels[d.argmin(1)] == labels) > 0.95


def test_umap_embedding_shape_and_determinism():
    x, _ = _blobs()
    out = embed_all({"a": x, "b": x[:, :4]}, "umap", seed=1, n_epochs=50)
    assert out["a"].shape == (150, 2) and out["b"].shape == (150, 2)
    np.testing.assert_array_equal(out["a"], embed(x, "umap", seed=1, n_epochs=50))


def test_umap_machine_code_is_reused_by_the_next_process():
    """umap's numba functions are compiled once and then loaded from disk by every later process
    (interpret.umap_with_disk_cache), with the same embedding. The first process here may itself
    load them already (the cache outlives the test run), so only the second is asserted on."""
    script = (
        "import numpy as np\n"
        "from bdgf_nb.analysis.interpret import embed, umap_with_disk_cache\n"
        "y = embed(np.random.default_rng(0).normal(size=(60, 5)), 'umap', seed=0, n_epochs=20)\n"
        "epoch = umap_with_disk_cache().layouts._nb_optimize_layout_euclidean_single_epoch\n"
        "print(sum(epoch.stats.cache_hits.values()), sum(epoch.stats.cache_misses.values()), y.sum().hex())\n"
    )
    runs = [
        subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
        for _ in range(2)
    ]
    hits, misses, digest = runs[1]
    assert int(hits) >= 1 and int(misses) == 0, runs
    assert digest == runs[0][2]  # same embedding, compiled or loaded


def test_embed_refuses_unknown_method_and_bad_shape():
    with pytest.raises(ConfigError, match="method must be 'tsne' or 'umap', found 'pca'"):
        embed(np.zeros((10, 3)), "pca", seed=0)  # type: ignore[arg-type]
    with pytest.raises(DataError, match=r"features must be 2-D \(N, d\), found shape \(10,\)"):
        embed(np.zeros(10), "tsne", seed=0)


# --- figures ------------------------------------------------------------------------------------


def test_embedding_panels_one_trace_per_class_and_panel_and_legend_once():
    rng = np.random.default_rng(0)
    labels = np.array([0, 0, 1, 1, 3, 3])  # class 2 absent
    names = ["water", "tree", "road", "roof"]
    emb = {k: rng.normal(size=(6, 2)) for k in ("raw pixels", "cnn", "mamba")}
    fig = embedding_panels(emb, labels, names, "t-SNE")
    assert len(fig.data) == 3 * 3
    assert [t.name for t in fig.data if t.showlegend] == ["water", "tree", "roof"]
    assert {t.marker.color for t in fig.data if t.name == "roof"} == {fig.data[2].marker.color}
    assert len({t.xaxis for t in fig.data}) == 3
    with pytest.raises(DataError, match=r"embedding 'cnn' must be \(N=6, 2\), found \(5, 2\)"):
        embedding_panels({"cnn": np.zeros((5, 2))}, labels, names)


def test_pairwise_heatmap_and_accuracy_bars():
    fig = pairwise_heatmap(np.eye(3), ["cnn", "mamba", "transformer"], "linear CKA")
    assert len(fig.data) == 1 and fig.data[0].z.shape == (3, 3) and fig.data[0].zmax == 1.0
    with pytest.raises(DataError, match=r"matrix must be \(2, 2\)"):
        pairwise_heatmap(np.eye(3), ["a", "b"], "x")
    report = {
        "branch_accuracy": {"cnn": 80.0, "mamba": 85.0},
        "ensemble_accuracy": 88.0,
        "oracle_accuracy": 93.0,
        "best_branch": "mamba",
        "ensemble_gain": 3.0,
    }
    bars = accuracy_bars(report)
    assert list(bars.data[0].x) == ["cnn", "mamba", "ensemble", "oracle (any branch)"]
    assert "+3.0 points" in bars.layout.title.text
