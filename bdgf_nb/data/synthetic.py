"""A synthetic HSI + LiDAR (+ SAR) scene that needs fusion: the project's embedded default dataset.

Real benchmarks (Houston, Augsburg, Berlin) are HSI-dominated, yet some of their classes are only
separable with the DSM. This generator reproduces that on purpose, in well under a second:

- a land-cover map with spatial structure: smooth natural regions (grass, trees, bare soil,
  synthetic turf, water) from a domain-warped Voronoi tiling, a straight road grid, rectangular
  buildings with flat (asphalt) or pitched (clay tile) roofs;
- per-class reflectance curves over 400-1000 nm, an intra-class shape variation, a per-pixel
  brightness gain, a smooth illumination field, a small sensor blur and band-dependent noise;
- a DSM in metres: terrain trend + class heights (buildings tall, trees medium and rough, water
  below ground, everything else at ground) + noise; optionally speckled SAR backscatter in dB;
- labels as real scenes have them: class boundaries (mixed pixels) and a random fraction are
  left unlabelled, and small canopy gaps inside tree polygons are labelled "trees" although both
  sensors see grass there (only a patch, not the centre pixel, can resolve them).

Every natural class is seeded in both the left and the right half, and roads and buildings run
through both, so a left/right spatially disjoint split sees all classes on both sides (checked
for seeds 0-29 at size >= 80; at size 64 a roof type is occasionally missing from one half).

Three class pairs are confusable in the spectrum and differ only in height, so LiDAR is needed:
grass / trees (both vegetation), road / flat roof (both asphalt), bare soil / tile roof (both
reddish mineral). Five ground classes (grass, soil, turf, water, road) share height and differ
only in the spectrum, so LiDAR alone cannot win. `spectral_share` sets how much of each paired
class's own spectrum survives (docs/METHOD.md §0: a modality-imbalanced scene).

Glossary: H, W scene size (square, `size`); B = `n_bands`; K = 8 classes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np
from scipy.ndimage import gaussian_filter, maximum_filter

from bdgf_nb.config_checks import check_fields
from bdgf_nb.data.catalog import CatalogEntry
from bdgf_nb.data.checks import check
from bdgf_nb.data.scene import Scene
from bdgf_nb.data.stacking import entry_metadata
from bdgf_nb.errors import ConfigError, expect
from bdgf_nb.memory import check_memory, scene_bytes

CLASS_NAMES: tuple[str, ...] = (
    "grass",
    "trees",
    "bare soil",
    "synthetic turf",
    "water",
    "road",
    "flat roof",
    "tile roof",
)
GRASS, TREES, SOIL, TURF, WATER, ROAD, FLAT_ROOF, TILE_ROOF = range(1, 9)
NATURAL = (GRASS, TREES, SOIL, TURF, WATER)
# Class -> the class whose spectrum it converges to as `spectral_share` -> 0 (same material,
# different height): the fusion-only pairs.
SPECTRAL_PARTNER = {TREES: GRASS, FLAT_ROOF: ROAD, TILE_ROOF: SOIL}
# Backscatter (linear sigma0) per class, (VV, VH): double bounce on buildings, volume
# scattering in trees, specular (dark) water and asphalt.
SAR_SIGMA0 = np.array(
    [
        [0.0, 0.0],  # unused index 0
        [0.10, 0.020],  # grass
        [0.30, 0.090],  # trees
        [0.08, 0.012],  # bare soil
        [0.12, 0.020],  # synthetic turf
        [0.005, 0.001],  # water
        [0.012, 0.002],  # road
        [0.80, 0.100],  # flat roof
        [1.00, 0.150],  # tile roof
    ]
)


@dataclass(frozen=True)
class SyntheticSceneConfig:
    """How the synthetic scene is drawn; every random choice comes from `seed`.

    spectral_share: in [0, 1], how much class information lives in the HSI rather than the
        LiDAR. Each height-separable class (trees, flat roof, tile roof) gets the spectrum
        `partner + spectral_share * (own - partner)`: at 1 it has its own distinct spectrum (HSI
        alone separates nearly everything), at 0 it is spectrally identical to its ground-level
        partner (grass, road, bare soil) and only the height tells them apart. The layout and the
        DSM do not depend on it, so changing it moves information between modalities only.
        Default 0.2: on the default scene a RandomForest on centre pixels (left half -> right
        half) scores HSI 78%, LiDAR 43%, both stacked 96% (tests/test_synthetic.py).

    Difficulty knobs. Their defaults reproduce the easy scene (catalog `synthetic_easy`, where
    every method scores near 98 % OA); the catalog's default `synthetic` turns them up:
    spectral_contrast: in (0, 1], shrinks every class spectrum towards the mean spectrum of all
        classes (`mean + contrast * (s_k - mean)`): the classes stay separable in the spectrum
        but only through small differences spread over many bands, so no single band decides.
    class_variability: amplitude (relative) of the local intra-class spectral-shape variation,
        smooth over a few pixels (patches of healthier or drier cover).
    regional_variability: amplitude (relative) of a scene-scale spectral-shape drift per class
        (smooth over a quarter of the scene, like illumination or phenology changing across a
        flight): blocks on the test side see spectra the training blocks did not, which a
        spatially disjoint split measures and a random split hides.
    illumination: amplitude (relative) of the smooth scene-wide brightness field.
    brightness_jitter: std (relative) of the per-pixel brightness gain (slope, texture).
    height_scale: multiplies every above-ground height (trees, buildings); smaller values bring
        canopy and roofs closer to the ground and to each other relative to `lidar_noise`.
    terrain_relief: multiplies the ground's slope and undulation (about +-1 m at 1). The DSM is
        absolute, so with relief the same ground class sits higher on one side of the scene than
        on the other, and a centre-pixel model confuses grass with the canopy gaps of trees
        across a disjoint split; only relative height (a patch) undoes that.
    """

    size: int = 128  # scene side H = W in pixels
    n_bands: int = 64  # HSI bands evenly spaced over 400-1000 nm
    spectral_share: float = 0.2
    with_sar: bool = False  # add a "sar" modality (H, W, 2): VV, VH backscatter in dB
    seed: int = 0
    hsi_noise: float = 0.01  # per-band noise std, reflectance units (x2.5 at the band edges)
    lidar_noise: float = 0.2  # DSM noise std, metres
    sar_looks: int = 4  # equivalent number of looks of the gamma speckle
    unlabelled_fraction: float = 0.1  # share of interior pixels left unlabelled at random
    canopy_gap_fraction: float = 0.15  # tree pixels that see the grass below (labelled trees)
    spectral_contrast: float = 1.0
    class_variability: float = 0.12
    regional_variability: float = 0.0
    illumination: float = 0.08
    brightness_jitter: float = 0.06
    height_scale: float = 1.0
    terrain_relief: float = 1.0

    def __post_init__(self) -> None:
        check_fields(self)
        expect(
            self.size >= 64,
            ConfigError,
            f"size must be >= 64 (room for roads and buildings in each half), found {self.size}",
        )
        expect(self.n_bands >= 4, ConfigError, f"n_bands must be >= 4, found {self.n_bands}")
        expect(
            0.0 <= self.spectral_share <= 1.0,
            ConfigError,
            f"spectral_share must be in [0, 1], found {self.spectral_share}",
        )
        expect(self.seed >= 0, ConfigError, f"seed must be >= 0, found {self.seed}")
        expect(self.hsi_noise >= 0.0, ConfigError, f"hsi_noise must be >= 0, found {self.hsi_noise}")
        expect(
            self.lidar_noise >= 0.0,
            ConfigError,
            f"lidar_noise must be >= 0, found {self.lidar_noise}",
        )
        expect(self.sar_looks >= 1, ConfigError, f"sar_looks must be >= 1, found {self.sar_looks}")
        expect(
            0.0 <= self.unlabelled_fraction < 1.0,
            ConfigError,
            f"unlabelled_fraction must be in [0, 1), found {self.unlabelled_fraction}",
        )
        expect(
            0.0 <= self.canopy_gap_fraction < 1.0,
            ConfigError,
            f"canopy_gap_fraction must be in [0, 1), found {self.canopy_gap_fraction}",
        )
        expect(
            0.0 < self.spectral_contrast <= 1.0,
            ConfigError,
            f"spectral_contrast must be in (0, 1], found {self.spectral_contrast}",
        )
        for name in ("class_variability", "regional_variability", "illumination", "brightness_jitter"):
            value = getattr(self, name)
            expect(0.0 <= value <= 1.0, ConfigError, f"{name} must be in [0, 1], found {value}")
        expect(
            0.0 <= self.terrain_relief <= 10.0,
            ConfigError,
            f"terrain_relief must be in [0, 10], found {self.terrain_relief}",
        )
        expect(
            0.0 < self.height_scale <= 10.0,
            ConfigError,
            f"height_scale must be in (0, 10], found {self.height_scale}",
        )


def _smooth_field(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """White noise blurred by a Gaussian of `sigma` pixels, rescaled to zero mean and unit std."""
    field = gaussian_filter(rng.standard_normal(shape), sigma, mode="wrap")
    return (field - field.mean()) / (field.std() + 1e-12)


# ---------------------------------------------------------------------------------------------
# Layout: natural regions, then roads, then buildings drawn on top.
# ---------------------------------------------------------------------------------------------


def _half_columns(size: int, half: int) -> tuple[int, int]:
    """Column range [lo, hi) of the left (0) or right (1) half, kept clear of the centre gap."""
    gap = max(8, size // 16)
    return (2, size // 2 - gap) if half == 0 else (size // 2 + gap, size - 2)


def _roads(rng: np.random.Generator, size: int) -> np.ndarray:
    """(H, W) bool: two horizontal roads across the scene and one vertical road per half."""
    width = max(4, size // 32)
    mask = np.zeros((size, size), dtype=bool)
    band = size // 2
    for k in range(2):  # one horizontal road in the top half of the rows, one in the bottom
        r = int(rng.integers(k * band + band // 5, (k + 1) * band - band // 5 - width))
        mask[r : r + width, :] = True
    for half in (0, 1):
        lo, hi = _half_columns(size, half)
        c = int(rng.integers(lo + (hi - lo) // 4, hi - (hi - lo) // 4 - width + 1))
        mask[:, c : c + width] = True
    return mask


def _natural_regions(rng: np.random.Generator, roads: np.ndarray) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """(H, W) class map tiled by the five natural classes, and the seed pixels (row, col).

    Every class gets two seed pixels in each half of the scene, off the roads, so both halves of
    a left/right split hold every class. Each pixel takes the class of the nearest seed in
    domain-warped coordinates, which bends the Voronoi edges into natural-looking boundaries;
    seeds are placed in the same warped coordinates, so each seed pixel keeps its own class.
    """
    size = roads.shape[0]
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)
    warp = size / 10.0
    rows = rows + warp * _smooth_field(rng, (size, size), size / 10.0)
    cols = cols + warp * _smooth_field(rng, (size, size), size / 10.0)
    near_road = maximum_filter(roads, size=7)
    seeds: list[tuple[int, int]] = []
    owners = []
    for half in (0, 1):
        lo, hi = _half_columns(size, half)
        free = np.argwhere(~near_road[2 : size - 2, lo:hi]) + (2, lo)
        for cls in NATURAL:
            for r, c in free[rng.choice(len(free), size=2, replace=False)]:
                seeds.append((int(r), int(c)))
                owners.append(cls)
    pts = np.array([(rows[r, c], cols[r, c]) for r, c in seeds])  # (n_seeds, 2) warped
    dist = (rows[None] - pts[:, 0, None, None]) ** 2 + (cols[None] - pts[:, 1, None, None]) ** 2
    return np.asarray(owners, dtype=np.int64)[np.argmin(dist, axis=0)], seeds


def _buildings(
    rng: np.random.Generator,
    classes: np.ndarray,
    roads: np.ndarray,
    seeds: list[tuple[int, int]],
) -> list[tuple[int, int, int, int, int]]:
    """Place non-overlapping rectangles (r0, r1, c0, c1, roof class) off roads, water and seeds.

    Roof types alternate, so each half gets both flat and tile roofs; keeping clear of the
    region seeds keeps every natural class visible in each half.
    """
    size = classes.shape[0]
    per_half = max(2, size // 16)
    lo_side, hi_side = max(4, size // 20), max(6, size // 9)
    blocked = roads | (classes == WATER)
    for r, c in seeds:
        blocked[max(r - 1, 0) : r + 2, max(c - 1, 0) : c + 2] = True
    out: list[tuple[int, int, int, int, int]] = []
    for half in (0, 1):
        lo, hi = _half_columns(size, half)
        placed = 0
        for _ in range(100 * per_half):  # bounded rejection sampling
            if placed == per_half:
                break
            h, w = (int(v) for v in rng.integers(lo_side, hi_side + 1, size=2))
            r0 = int(rng.integers(1, size - h - 1))
            c0 = int(rng.integers(lo, hi - w))
            # A pixel of clearance all round: buildings never touch roads or each other.
            if blocked[r0 - 1 : r0 + h + 1, c0 - 1 : c0 + w + 1].any():
                continue
            roof = FLAT_ROOF if placed % 2 == 0 else TILE_ROOF
            out.append((r0, r0 + h, c0, c0 + w, roof))
            blocked[r0 : r0 + h, c0 : c0 + w] = True
            placed += 1
    return out


def _canopy_gaps(rng: np.random.Generator, classes: np.ndarray, fraction: float) -> np.ndarray:
    """(H, W) material map: `classes` with small clusters of tree pixels turned to grass.

    Labels come from polygons, so a gap in the canopy is still labelled "trees" while both
    sensors see the grass below; only the neighbourhood (a patch) can tell it apart.
    """
    field = _smooth_field(rng, classes.shape, 1.0)
    trees = classes == TREES
    material = classes.copy()
    if fraction > 0.0 and trees.any():
        material[trees & (field > np.quantile(field[trees], 1.0 - fraction))] = GRASS
    return material


# ---------------------------------------------------------------------------------------------
# HSI: per-class reflectance curves, then variability, illumination, blur and noise.
# ---------------------------------------------------------------------------------------------


def _sig(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _bump(lam: np.ndarray, mu: float, sd: float) -> np.ndarray:
    return np.exp(-0.5 * ((lam - mu) / sd) ** 2)


def class_spectra(wavelengths: np.ndarray, spectral_share: float, contrast: float = 1.0) -> np.ndarray:
    """(K + 1, B) reflectance per class (row 0 unused) at `wavelengths` in nm.

    Shapes follow textbook curves: vegetation has a green peak, red absorption and the red edge
    near 720 nm; soil rises with wavelength; water is dark and falls into the NIR; asphalt is
    flat and dark; clay tile has a sharp rise near 590 nm.
    """
    lam = wavelengths
    ramp = (lam - 400.0) / 600.0
    s = np.zeros((len(CLASS_NAMES) + 1, lam.size))
    s[GRASS] = (
        0.04
        + 0.06 * _bump(lam, 550, 30)
        - 0.025 * _bump(lam, 675, 15)
        + 0.41 * _sig((lam - 720) / 12)
        - 0.05 * _bump(lam, 970, 20)
    )
    s[TREES] = (
        0.03
        + 0.035 * _bump(lam, 555, 30)
        - 0.02 * _bump(lam, 675, 15)
        + 0.30 * _sig((lam - 728) / 15)
        - 0.06 * _bump(lam, 970, 25)
    )
    s[SOIL] = 0.09 + 0.22 * _sig((lam - 560) / 110) + 0.02 * _bump(lam, 900, 60)
    s[TURF] = 0.05 + 0.09 * _bump(lam, 540, 35) + 0.06 * _sig((lam - 800) / 50)
    s[WATER] = 0.006 + 0.055 * np.exp(-(lam - 400) / 150) + 0.012 * _bump(lam, 560, 40)
    s[ROAD] = 0.07 + 0.03 * ramp
    s[FLAT_ROOF] = 0.11 + 0.02 * ramp + 0.02 * _bump(lam, 620, 60)
    s[TILE_ROOF] = 0.07 + 0.26 * _sig((lam - 590) / 22) - 0.04 * ramp
    for cls, partner in SPECTRAL_PARTNER.items():  # the spectral_share knob (see the config)
        s[cls] = s[partner] + spectral_share * (s[cls] - s[partner])
    if contrast != 1.0:  # the spectral_contrast knob; pairs stay identical at share 0
        mean = s[1:].mean(axis=0)
        s[1:] = mean + contrast * (s[1:] - mean)
    return s


def _shape_curves(rng: np.random.Generator, n_curves: int, n_bands: int) -> np.ndarray:
    """(n_curves, B) smooth relative curves with max |value| 1, paired classes sharing their
    partner's curve so that, at spectral_share = 0, a pair is identical in distribution."""
    curves = np.stack([gaussian_filter(rng.standard_normal(n_bands + 16), n_bands / 12)[8:-8] for _ in range(n_curves)])
    curves /= np.abs(curves).max(axis=1, keepdims=True) + 1e-12
    for cls, partner in SPECTRAL_PARTNER.items():
        curves[cls] = curves[partner]
    return curves


def _hsi(
    rng: np.random.Generator, classes: np.ndarray, cfg: SyntheticSceneConfig, rng_region: np.random.Generator
) -> np.ndarray:
    """(H, W, B) float32 reflectance cube of the material map `classes`."""
    size, n_bands = classes.shape[0], cfg.n_bands
    lam = np.linspace(400.0, 1000.0, n_bands)
    spectra = class_spectra(lam, cfg.spectral_share, cfg.spectral_contrast)
    # Intra-class variability: each class varies along its own smooth relative curve (e.g. leaf
    # area changes the NIR plateau), with a coefficient that is smooth in space (patches of
    # healthier or drier cover).
    curves = _shape_curves(rng, len(spectra), n_bands)
    coeff = _smooth_field(rng, (size, size), 2.0)[..., None]
    cube = spectra[classes] * (1.0 + cfg.class_variability * coeff * curves[classes])
    if cfg.regional_variability > 0.0:  # own generator: the knobs at 0 leave the easy scene as it was
        regional = _shape_curves(rng_region, len(spectra), n_bands)
        field = np.stack([_smooth_field(rng_region, (size, size), size / 4.0) for _ in spectra], -1)  # (H, W, K+1)
        own = np.take_along_axis(field, classes[..., None], axis=-1)  # each class drifts on its own field
        cube = cube * (1.0 + cfg.regional_variability * own * regional[classes])
    gain = 1.0 + cfg.brightness_jitter * rng.standard_normal((size, size, 1))  # slope, texture
    illumination = 1.0 + cfg.illumination * _smooth_field(rng, (size, size), size / 4.0)[..., None]
    cube = cube * gain * illumination
    cube = gaussian_filter(cube, sigma=(0.6, 0.6, 0.0))  # sensor point-spread: mixed edge pixels
    # Noise grows towards both ends of the range, where real sensors have the lowest SNR.
    band_std = cfg.hsi_noise * (1.0 + 1.5 * np.abs(np.linspace(-1.0, 1.0, n_bands)) ** 3)
    cube = cube + band_std * rng.standard_normal(cube.shape)
    return cube.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# LiDAR DSM and SAR.
# ---------------------------------------------------------------------------------------------


def _dsm(
    rng: np.random.Generator,
    classes: np.ndarray,
    buildings: list[tuple[int, int, int, int, int]],
    cfg: SyntheticSceneConfig,
) -> np.ndarray:
    """(H, W, 1) float32 surface height in metres."""
    size = classes.shape[0]
    rows, cols = np.mgrid[0:size, 0:size] / size
    slope = rng.uniform(-1.0, 1.0, size=2)
    relief = slope[0] * rows + slope[1] * cols + 0.4 * _smooth_field(rng, (size, size), size / 6.0)
    terrain = 10.0 + (relief if cfg.terrain_relief == 1.0 else cfg.terrain_relief * relief)
    dsm = terrain.copy()
    dsm[classes == WATER] -= 0.5
    dsm[classes == GRASS] += 0.05
    # Tree canopy: crowns from a blurred field plus leaf-level roughness.
    canopy = 8.0 + 2.5 * _smooth_field(rng, (size, size), 1.5) + 0.8 * rng.standard_normal((size, size))
    trees = classes == TREES
    dsm[trees] += cfg.height_scale * np.clip(canopy[trees], 2.0, None)
    for r0, r1, c0, c1, roof in buildings:
        base = terrain[r0:r1, c0:c1].mean()
        if roof == FLAT_ROOF:
            dsm[r0:r1, c0:c1] = base + cfg.height_scale * rng.uniform(6.0, 15.0)
        else:  # gable roof, ridge along the longer side
            eave, rise = rng.uniform(4.0, 8.0), rng.uniform(2.0, 4.0)
            along_rows = (r1 - r0) < (c1 - c0)
            n = (r1 - r0) if along_rows else (c1 - c0)
            profile = 1.0 - np.abs(np.linspace(-1.0, 1.0, n))
            ridge = profile[:, None] if along_rows else profile[None, :]
            dsm[r0:r1, c0:c1] = base + cfg.height_scale * (eave + rise * ridge)
    dsm = dsm + cfg.lidar_noise * rng.standard_normal((size, size))
    return dsm[..., None].astype(np.float32)


def _sar(rng: np.random.Generator, classes: np.ndarray, cfg: SyntheticSceneConfig) -> np.ndarray:
    """(H, W, 2) float32 VV/VH backscatter in dB: class sigma0 times gamma speckle of L looks."""
    sigma0 = SAR_SIGMA0[classes]  # (H, W, 2)
    speckle = rng.gamma(shape=cfg.sar_looks, scale=1.0 / cfg.sar_looks, size=sigma0.shape)
    return (10.0 * np.log10(sigma0 * speckle + 1e-6)).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Labels and the scene.
# ---------------------------------------------------------------------------------------------


def _labels(rng: np.random.Generator, classes: np.ndarray, unlabelled_fraction: float) -> np.ndarray:
    """(H, W) int64 gt: class map with boundary (mixed) pixels and a random fraction set to 0."""
    padded = np.pad(classes, 1, mode="edge")
    boundary = np.zeros(classes.shape, dtype=bool)
    for dr, dc in ((0, 1), (2, 1), (1, 0), (1, 2)):  # 4-neighbours
        boundary |= padded[dr : dr + classes.shape[0], dc : dc + classes.shape[1]] != classes
    gt = classes.copy()
    gt[boundary | (rng.random(classes.shape) < unlabelled_fraction)] = 0
    return gt


def make_synthetic_scene(cfg: SyntheticSceneConfig | None = None) -> Scene:
    """Draw the scene: modalities "hsi" (H, W, B), "lidar" (H, W, 1) and, with `with_sar`,
    "sar" (H, W, 2), all float32; gt (H, W) int64 with 0 = unlabelled; no official split.

    Each component draws from its own child seed, so the layout and the DSM are the same for
    every `spectral_share` and adding SAR leaves HSI and LiDAR unchanged.
    """
    cfg = cfg or SyntheticSceneConfig()
    rng_layout, rng_hsi, rng_dsm, rng_sar, rng_gt, rng_region = (
        np.random.default_rng(s) for s in np.random.SeedSequence(cfg.seed).spawn(6)
    )
    roads = _roads(rng_layout, cfg.size)
    classes, seeds = _natural_regions(rng_layout, roads)
    classes[roads] = ROAD
    buildings = _buildings(rng_layout, classes, roads, seeds)
    for r0, r1, c0, c1, roof in buildings:
        classes[r0:r1, c0:c1] = roof
    material = _canopy_gaps(rng_layout, classes, cfg.canopy_gap_fraction)
    modalities = {
        "hsi": _hsi(rng_hsi, material, cfg, rng_region),
        "lidar": _dsm(rng_dsm, material, buildings, cfg),
    }
    if cfg.with_sar:
        modalities["sar"] = _sar(rng_sar, material, cfg)
    return Scene(
        name="synthetic",
        modalities=modalities,
        gt=_labels(rng_gt, classes, cfg.unlabelled_fraction),
        class_names=CLASS_NAMES,
        metadata={"generator": "bdgf_nb.data.synthetic", "config": asdict(cfg)},
    )


def load_synthetic_scene(entry: CatalogEntry, overrides: dict[str, Any]) -> Scene:
    """The scene of a `kind: synthetic` entry: its `params`, then `overrides`, as a SyntheticSceneConfig."""
    params = {**entry.params, **overrides}
    known = sorted(f.name for f in fields(SyntheticSceneConfig))
    unknown = sorted(set(params) - set(known))
    check(not unknown, f"dataset {entry.name!r}: unknown synthetic parameter(s) {unknown}; known: {known}")
    cfg = SyntheticSceneConfig(**params)
    channels = cfg.n_bands + 1 + (2 if cfg.with_sar else 0)
    check_memory(
        scene_bytes(cfg.size, cfg.size, channels),
        f"dataset {entry.name!r}: a {cfg.size} x {cfg.size} synthetic scene of {channels} channels",
        hint="choose a smaller `size`",
    )
    scene = make_synthetic_scene(cfg)
    return replace(scene, name=entry.name, metadata={**scene.metadata, **entry_metadata(entry)})
