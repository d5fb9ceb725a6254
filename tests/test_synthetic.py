"""The synthetic scene: shapes, determinism, physical sense, validation, and its need for fusion."""

from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier

from bdgf_nb.analysis.modality import modality_information
from bdgf_nb.data.catalog import load_catalog
from bdgf_nb.data.load import load_scene
from bdgf_nb.data.scene import Scene
from bdgf_nb.data.synthetic import (
    CLASS_NAMES,
    FLAT_ROOF,
    GRASS,
    ROAD,
    SOIL,
    SPECTRAL_PARTNER,
    TILE_ROOF,
    TREES,
    WATER,
    SyntheticSceneConfig,
    class_spectra,
    make_synthetic_scene,
)
from bdgf_nb.errors import ConfigError

SMALL = {"size": 64, "n_bands": 16}


@pytest.fixture(scope="module")
def default_scene() -> Scene:
    return make_synthetic_scene()


def _halves(scene: Scene) -> tuple[np.ndarray, np.ndarray]:
    """Left/right spatially disjoint split of the labelled pixels with a 10-column gap."""
    h, w = scene.shape
    cols = np.broadcast_to(np.arange(w)[None, :], (h, w))
    labelled = scene.gt > 0
    return labelled & (cols < w // 2 - 5), labelled & (cols >= w // 2 + 5)


def _rf_oa(scene: Scene, features: np.ndarray) -> float:
    """OA of a RandomForest (100 trees, seed 0) on centre-pixel features, left -> right half."""
    train, test = _halves(scene)
    rf = RandomForestClassifier(n_estimators=100, random_state=0, n_jobs=1)
    rf.fit(features[train], scene.gt[train])
    return float(np.mean(rf.predict(features[test]) == scene.gt[test]))


def test_default_scene_shapes_dtypes_and_labels(default_scene: Scene) -> None:
    s = default_scene
    assert s.modality_names == ("hsi", "lidar")
    assert s.modalities["hsi"].shape == (128, 128, 64) and s.modalities["hsi"].dtype == np.float32
    assert s.modalities["lidar"].shape == (128, 128, 1) and s.modalities["lidar"].dtype == np.float32
    assert s.gt.shape == (128, 128) and s.gt.dtype == np.int64
    assert all(np.isfinite(m).all() for m in s.modalities.values())
    assert s.gt.min() == 0 and s.gt.max() == len(CLASS_NAMES)
    assert set(np.unique(s.gt)) == set(range(len(CLASS_NAMES) + 1))
    unlabelled = float(np.mean(s.gt == 0))
    assert 0.1 < unlabelled < 0.6, unlabelled
    assert s.class_names == CLASS_NAMES and len(set(CLASS_NAMES)) == 8
    assert s.train_mask is None and s.test_mask is None
    assert s.metadata == {
        "generator": "bdgf_nb.data.synthetic",
        "config": asdict(SyntheticSceneConfig()),
    }


def test_every_class_in_both_halves() -> None:
    for seed in range(5):
        scene = make_synthetic_scene(SyntheticSceneConfig(seed=seed, n_bands=8))
        for mask in _halves(scene):
            counts = np.bincount(scene.gt[mask], minlength=9)[1:]
            assert (counts >= 20).all(), (seed, counts)


def test_same_seed_same_scene_other_seed_differs() -> None:
    a = make_synthetic_scene(SyntheticSceneConfig(seed=3, with_sar=True, **SMALL))
    b = make_synthetic_scene(SyntheticSceneConfig(seed=3, with_sar=True, **SMALL))
    c = make_synthetic_scene(SyntheticSceneConfig(seed=4, with_sar=True, **SMALL))
    np.testing.assert_array_equal(a.gt, b.gt)
    for key in a.modalities:
        np.testing.assert_array_equal(a.modalities[key], b.modalities[key])
        assert not np.array_equal(a.modalities[key], c.modalities[key])
    assert not np.array_equal(a.gt, c.gt)


def test_spectral_share_changes_only_the_hsi() -> None:
    low = make_synthetic_scene(SyntheticSceneConfig(spectral_share=0.0, **SMALL))
    high = make_synthetic_scene(SyntheticSceneConfig(spectral_share=1.0, **SMALL))
    np.testing.assert_array_equal(low.gt, high.gt)
    np.testing.assert_array_equal(low.modalities["lidar"], high.modalities["lidar"])
    assert not np.array_equal(low.modalities["hsi"], high.modalities["hsi"])


def test_with_sar_adds_a_third_modality_and_leaves_the_others() -> None:
    plain = make_synthetic_scene(SyntheticSceneConfig(**SMALL))
    scene = make_synthetic_scene(SyntheticSceneConfig(with_sar=True, **SMALL))
    assert scene.modality_names == ("hsi", "lidar", "sar")
    assert scene.channels == {"hsi": 16, "lidar": 1, "sar": 2}
    assert scene.modalities["sar"].dtype == np.float32 and np.isfinite(scene.modalities["sar"]).all()
    for key in ("hsi", "lidar"):
        np.testing.assert_array_equal(plain.modalities[key], scene.modalities[key])
    vv = scene.modalities["sar"][..., 0]
    roofs = np.isin(scene.gt, (FLAT_ROOF, TILE_ROOF))
    assert vv[roofs].mean() > vv[scene.gt == WATER].mean() + 15.0  # dB: double bounce vs specular
    assert vv[roofs].mean() > vv[scene.gt == ROAD].mean() + 10.0


def test_heights_and_spectra_are_physically_plausible(default_scene: Scene) -> None:
    dsm = default_scene.modalities["lidar"][..., 0]
    gt = default_scene.gt
    ground = np.median(dsm[gt == ROAD])
    assert np.median(dsm[np.isin(gt, (FLAT_ROOF, TILE_ROOF))]) > ground + 5.0  # buildings
    assert np.median(dsm[gt == TREES]) > ground + 4.0
    assert abs(np.median(dsm[gt == GRASS]) - ground) < 1.0
    assert dsm[gt == TREES].std() > dsm[gt == GRASS].std()  # rough canopy vs flat lawn
    lam = np.linspace(400.0, 1000.0, 64)
    s = class_spectra(lam, 1.0)
    red, nir = np.argmin(np.abs(lam - 670)), np.argmin(np.abs(lam - 850))
    assert s[GRASS, nir] > 4 * s[GRASS, red]  # red edge
    assert s[WATER, nir] == s[1:, nir].min()  # water darkest in the NIR
    assert s[SOIL, -1] > s[SOIL, 0]  # soil rises with wavelength


def test_spectral_share_blends_paired_classes_towards_their_partner() -> None:
    lam = np.linspace(400.0, 1000.0, 32)
    same, half, own = (class_spectra(lam, v) for v in (0.0, 0.5, 1.0))
    for cls, partner in SPECTRAL_PARTNER.items():
        np.testing.assert_allclose(same[cls], same[partner])
        np.testing.assert_allclose(half[cls], 0.5 * (own[cls] + own[partner]))
        assert np.abs(own[cls] - own[partner]).max() > 0.02


def test_default_generation_is_fast() -> None:
    start = time.perf_counter()
    make_synthetic_scene(SyntheticSceneConfig(with_sar=True))
    assert time.perf_counter() - start < 10.0


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("size", 4, r"size must be >= 64 .*found 4"),
        ("n_bands", 2, r"n_bands must be >= 4, found 2"),
        ("spectral_share", 1.5, r"spectral_share must be in \[0, 1\], found 1.5"),
        ("spectral_share", -0.1, r"spectral_share must be in \[0, 1\], found -0.1"),
        ("seed", -1, r"seed must be >= 0, found -1"),
        ("hsi_noise", -0.01, r"hsi_noise must be >= 0, found -0.01"),
        ("lidar_noise", -1.0, r"lidar_noise must be >= 0, found -1.0"),
        ("sar_looks", 0, r"sar_looks must be >= 1, found 0"),
        ("unlabelled_fraction", 1.0, r"unlabelled_fraction must be in \[0, 1\), found 1.0"),
        ("canopy_gap_fraction", 1.0, r"canopy_gap_fraction must be in \[0, 1\), found 1.0"),
        ("spectral_contrast", 0.0, r"spectral_contrast must be in \(0, 1\], found 0.0"),
        ("class_variability", -0.1, r"class_variability must be in \[0, 1\], found -0.1"),
        ("regional_variability", 1.5, r"regional_variability must be in \[0, 1\], found 1.5"),
        ("illumination", -1.0, r"illumination must be in \[0, 1\], found -1.0"),
        ("brightness_jitter", 2.0, r"brightness_jitter must be in \[0, 1\], found 2.0"),
        ("height_scale", 0.0, r"height_scale must be in \(0, 10\], found 0.0"),
        ("terrain_relief", -1.0, r"terrain_relief must be in \[0, 10\], found -1.0"),
    ],
)
def test_config_validation_names_the_field(field: str, value: float, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SyntheticSceneConfig(**{field: value})


def test_default_scene_needs_fusion(default_scene: Scene) -> None:
    """HSI alone beats LiDAR alone (HSI-dominated); stacking both beats either by >= 5 points."""
    hsi = _rf_oa(default_scene, default_scene.modalities["hsi"])
    lidar = _rf_oa(default_scene, default_scene.modalities["lidar"])
    fused = _rf_oa(default_scene, default_scene.stacked())
    print(f"RF OA left->right: hsi {hsi:.3f} lidar {lidar:.3f} fused {fused:.3f}")
    assert hsi > lidar + 0.2
    assert fused >= max(hsi, lidar) + 0.05


def test_lower_spectral_share_moves_information_to_lidar() -> None:
    ratios = []
    for share in (0.0, 0.6):
        scene = make_synthetic_scene(SyntheticSceneConfig(spectral_share=share))
        hsi = _rf_oa(scene, scene.modalities["hsi"])
        lidar = _rf_oa(scene, scene.modalities["lidar"])
        print(f"spectral_share {share}: hsi {hsi:.3f} lidar {lidar:.3f}")
        ratios.append(lidar / hsi)
    assert ratios[0] > ratios[1] + 0.05


# --- the catalog's default (hard) scene and the easy one kept beside it --------------------------


@pytest.fixture(scope="module")
def hard_scene() -> Scene:
    return load_scene("synthetic")


def test_synthetic_easy_is_the_earlier_default_scene(default_scene: Scene) -> None:
    """The knobs' defaults reproduce the earlier scene; `synthetic_easy` is exactly it."""
    assert load_catalog()["synthetic_easy"].params == {
        "size": 128,
        "n_bands": 64,
        "spectral_share": 0.2,
        "with_sar": False,
        "seed": 0,
    }
    easy = load_scene("synthetic_easy")
    np.testing.assert_array_equal(easy.gt, default_scene.gt)
    for key in default_scene.modalities:
        np.testing.assert_array_equal(easy.modalities[key], default_scene.modalities[key])


def test_difficulty_knobs_change_only_what_they_name() -> None:
    base = make_synthetic_scene(SyntheticSceneConfig(**SMALL))
    spectral = make_synthetic_scene(SyntheticSceneConfig(spectral_contrast=0.5, regional_variability=0.2, **SMALL))
    np.testing.assert_array_equal(base.modalities["lidar"], spectral.modalities["lidar"])
    assert not np.array_equal(base.modalities["hsi"], spectral.modalities["hsi"])
    terrain = make_synthetic_scene(SyntheticSceneConfig(terrain_relief=0.0, height_scale=0.5, **SMALL))
    np.testing.assert_array_equal(base.modalities["hsi"], terrain.modalities["hsi"])
    np.testing.assert_array_equal(base.gt, terrain.gt)
    ground = base.gt == ROAD
    assert terrain.modalities["lidar"][ground].std() < base.modalities["lidar"][ground].std()  # flat ground
    lam = np.linspace(400.0, 1000.0, 32)
    full, low = class_spectra(lam, 0.2), class_spectra(lam, 0.2, contrast=0.3)
    np.testing.assert_allclose(low[1:] - low[1:].mean(0), 0.3 * (full[1:] - full[1:].mean(0)), atol=1e-12)


def test_default_scene_is_off_the_ceiling_and_needs_the_dsm(default_scene: Scene, hard_scene: Scene) -> None:
    """Fused RF (left -> right half) loses >= 10 OA points against the easy scene; roofs, whose
    spectra equal road and soil, are found only with the DSM (F1 of HSI alone < 30, fused > 80)."""
    easy, hard = _rf_oa(default_scene, default_scene.stacked()), _rf_oa(hard_scene, hard_scene.stacked())
    print(f"RF OA fused left->right: easy {easy:.3f} hard {hard:.3f}")
    assert hard < easy - 0.10
    table = modality_information(hard_scene).set_index("class")
    print(table.to_string())
    assert list(table.columns) == ["hsi only", "lidar only", "all", "needs", "test pixels"]
    for roof in ("flat roof", "tile roof"):
        assert table.loc[roof, "hsi only"] < 30.0 and table.loc[roof, "all"] > 80.0
        assert "lidar" in table.loc[roof, "needs"]
    assert table.loc["water", "all"] > 50.0 and table["test pixels"].sum() > 1000
