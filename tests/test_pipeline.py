"""The notebooks' steps end to end on a tiny synthetic scene."""

import numpy as np
import pytest

from bdgf_nb.app.pipeline import (
    baseline_scene_map,
    fused_baselines,
    limit_pixels,
    predict_scene,
    prepare,
    train_variant,
)
from bdgf_nb.data.catalog import load_scene
from bdgf_nb.errors import ConfigError


@pytest.fixture(scope="module")
def tiny():
    return prepare(load_scene("synthetic", size=64, n_bands=8), patch=11, seed=0)


def test_limit_pixels_keeps_every_class_and_stays_inside_the_mask(tiny):
    mask = tiny.split.fit
    kept = limit_pixels(mask, tiny.labels, 60, seed=0)
    assert kept.sum() <= 60 + 5 * tiny.n_classes and not np.any(kept & ~mask)
    assert set(np.unique(tiny.labels[kept])) == set(np.unique(tiny.labels[mask]))
    assert np.array_equal(limit_pixels(mask, tiny.labels, None), mask)
    assert np.array_equal(kept, limit_pixels(mask, tiny.labels, 60, seed=0))


def test_train_variant_scores_on_test_pixels_and_reloads_from_its_checkpoint(tiny, tmp_path):
    first = train_variant(tiny, [], "cnn_only+no_guidance", quick=True, seed=0, out_dir=tmp_path, progress=False)
    assert first.report["n_test"] == int(tiny.split.test.sum())
    assert 0 <= first.report["overall_accuracy"] <= 100 and first.n_parameters > 0
    again = train_variant(tiny, [], "cnn_only+no_guidance", quick=True, seed=0, out_dir=tmp_path, progress=False)
    assert again.report == first.report  # reloaded, not retrained differently
    scene_map = predict_scene(tiny, first, [])
    assert scene_map.shape == tiny.labels.shape and scene_map.min() >= 1 and scene_map.max() <= tiny.n_classes


def test_unknown_variant_is_a_config_error(tiny, tmp_path):
    with pytest.raises(ConfigError, match="unknown ablation"):
        train_variant(tiny, [], "bdgf+no_such_thing", quick=True, seed=0, out_dir=tmp_path, progress=False)


def test_fused_baselines_and_their_scene_map(tiny):
    rows = fused_baselines(tiny, quick=True, seed=0)
    assert {r["method"] for r in rows} == {"SVM (centre)", "RF (centre)", "SVM (patch stats)", "RF (patch stats)"}
    scene_map = baseline_scene_map(tiny, quick=True, seed=0)
    assert scene_map.shape == tiny.labels.shape and set(np.unique(scene_map)) <= set(range(1, tiny.n_classes + 1))
