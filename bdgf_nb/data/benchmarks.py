"""The five standard multimodal benchmarks by name, as users download them: Houston 2013, Trento,
MUUFL Gulfport, Augsburg and Berlin.

A `Benchmark` is a recipe: where to get the files and under which licence, and one or more
`Layout`s, each a distribution of the files as it circulates (names, `.mat` keys, which array is
which modality, how the labels and the official split are stored), with what the published
sources say can be checked: shapes, band counts, per-class pixel counts and sha256 pins.
benchmark_load.py reads a layout into the same `Scene` the catalog loader returns; fetch.py
checks and downloads the files. Every number below comes from the project's spec sheet of the
five datasets (compiled from public loaders and papers, 2026-12; docs/BENCHMARKS.md lists its
sources and what stays unverified); a comment names the sheet's section.

Files live in `data_dir() / <benchmark name>`: `bdgf-run --data-dir DIR` / `bdgf-data --data-dir
DIR`, else the environment variable BDGF_DATA_DIR, else `$XDG_CACHE_HOME/bdgf-data` (default
`~/.cache/bdgf-data`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from bdgf_nb.data.checks import check

DATA_DIR_ENV = "BDGF_DATA_DIR"


def data_dir(explicit: str | Path | None = None) -> Path:
    """The folder holding one sub-folder per benchmark: `explicit`, else $BDGF_DATA_DIR, else
    $XDG_CACHE_HOME/bdgf-data (~/.cache/bdgf-data), the per-user cache convention."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]).expanduser().resolve()
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return (Path(cache).expanduser() / "bdgf-data").resolve()


@dataclass(frozen=True)
class Member:
    """One file as distributed: its path under the benchmark's folder (the name it ships with),
    its sha256 pin if a source pins it, and whether it is text with CRLF line endings (the
    official DFC2013 text files are; copies that went through git have LF, so lines are
    normalised to CRLF before hashing)."""

    path: str
    sha256: str | None = None
    crlf: bool = False

    @property
    def name(self) -> str:
        return Path(self.path).name


@dataclass(frozen=True)
class Download:
    """A published location: `url` (None when only a manual download works, e.g. a cloud
    drive) and the sha256 of the whole download where it is stable (GitHub's generated archives
    are not: their members are pinned instead). Archive members are found by name."""

    what: str
    url: str | None
    sha256: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Ref:
    """One array: a member's file and the `.mat` key; `field` is a dotted path into a MATLAB
    struct (MUUFL's `hsi.Lidar[0].z`) when the key holds one."""

    file: str
    key: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        return self.file + (f" key {self.key!r}" if self.key else "") + (f" field {self.field!r}" if self.field else "")


@dataclass(frozen=True)
class Labels:
    """How a layout stores labels and the official split, one of:
    - "images": `train` and `test` label images (0 = unlabelled); gt = train + test, cast to
      int64 first (Augsburg's train is uint8 and its test float32).
    - "index": a `gt` image and `train` / `test` (N, 2) (row, col) index arrays; 0- or 1-based
      is decided on load (every index must hit a labelled gt pixel).
    - "all": one `gt` image of every labelled pixel and no official split.
    - "roi": `train` and `test` ENVI ROI ASCII files (envi_roi.py: 1-based X, Y), ROI k -> class
      k, the ROIs named `roi_names` in that order.
    `unlabelled`: the value that means unlabelled in the file (MUUFL: -1), mapped to 0."""

    kind: str
    gt: Ref | None = None
    train: Ref | None = None
    test: Ref | None = None
    unlabelled: int = 0
    roi_names: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Counts:
    """Per-class pixel counts (class 1 first) and whether the source measured or cites them
    (`verified`: a mismatch is an error) or the spec sheet marks them unverified (a warning)."""

    train: tuple[int, ...] | None = None
    test: tuple[int, ...] | None = None
    total: tuple[int, ...] | None = None
    verified: bool = True
    source: str = ""


@dataclass(frozen=True)
class Layout:
    """One distribution of a benchmark's files. `modalities`: name -> array, spectral first.
    `shape`: expected (H, W); `bands`: expected channels per modality. `transposed_ok`: the
    sheet leaves open whether copies store (W, H) (Trento); such arrays are transposed back, loudly."""

    name: str
    members: tuple[Member, ...]
    modalities: dict[str, Ref]
    labels: Labels
    shape: tuple[int, int]
    bands: dict[str, int]
    counts: Counts
    downloads: tuple[Download, ...] = ()
    transposed_ok: bool = False
    note: str = ""

    def member(self, file: str) -> Member:
        found = [m for m in self.members if m.name == file or m.path == file]
        check(len(found) == 1, f"layout {self.name!r}: expected one member named {file!r}, found {len(found)}")
        return found[0]


@dataclass(frozen=True)
class ReducedCopy:
    """What a spatially reduced copy of a benchmark's files holds: the same files, keys, dtypes,
    orientation and bands as a layout distributes, on a smaller (H, W) grid (a crop of a scene
    too big for the machine, or the tests' stand-ins, tests/benchmark_files.py). Its `shape` and
    per-class counts replace the published ones in the load's checks, which all still run: a
    count the layout checks (train and test for an official split, total otherwise) must be
    given, so no check is switched off by leaving it out. Declared in a catalog entry of kind
    "benchmark" (field `reduced`); the load warns and records it in
    `Scene.metadata["benchmark"]["reduced"]`."""

    shape: tuple[int, int]
    train: tuple[int, ...] | None = None
    test: tuple[int, ...] | None = None
    total: tuple[int, ...] | None = None

    def apply(self, layout: Layout, n_classes: int, where: str) -> Layout:
        """`layout` with this copy's shape and counts (the counts keep their `verified`: an
        unverified published table stays a warning); DataError naming a missing or misfit field."""
        check(
            len(self.shape) == 2 and all(isinstance(v, int) and v > 0 for v in self.shape),
            f"{where}, reduced copy: expected shape [H, W] of positive integers, found {list(self.shape)}",
        )
        kinds = ("train", "test", "total")
        checked = [w for w in kinds if getattr(layout.counts, w) is not None]
        given = [w for w in kinds if getattr(self, w) is not None]
        check(
            given == checked,
            f"{where}, reduced copy: layout {layout.name!r} checks per-class {checked} counts; "
            f"expected exactly those, found {given}",
        )
        for what in given:
            found = len(getattr(self, what))
            check(
                found == n_classes,
                f"{where}, reduced copy: expected {n_classes} per-class {what} counts, found {found}",
            )
        counts = replace(
            layout.counts, train=self.train, test=self.test, total=self.total, source="the reduced copy's catalog entry"
        )
        return replace(layout, shape=self.shape, counts=counts)


@dataclass(frozen=True)
class PaperDefaults:
    """The `paper` preset on this benchmark (docs/BENCHMARKS.md): the patch side (the preset's
    own, pipeline/presets.py), which bands, and the split published tables report, which the
    `paper` preset scores on (Preset.split); the other presets score on the leak-free split, and
    notebook 00 shows both."""

    patch: int = 11
    bands: str = "all bands of every modality"
    split: str = "official"


@dataclass(frozen=True)
class Benchmark:
    """A standard benchmark by name: its layouts (the first whose files are present is read),
    published class names, licence and citation, and the `paper` preset's defaults."""

    name: str
    title: str
    class_names: tuple[str, ...]
    layouts: tuple[Layout, ...]
    licence: str
    citation: str
    homepage: str
    paper: PaperDefaults = field(default_factory=PaperDefaults)
    unchecked: tuple[str, ...] = ()  # spec-sheet items marked unverified that no load can check

    def folder(self, root: str | Path | None = None) -> Path:
        return data_dir(root) / self.name

    def layout(self, name: str) -> Layout:
        found = [layout for layout in self.layouts if layout.name == name]
        check(bool(found), f"benchmark {self.name!r}: unknown layout {name!r}; known: {[x.name for x in self.layouts]}")
        return found[0]


# --- Houston 2013 (spec sheet §1) -------------------------------------------------------------
# Class names: the published (MFT Fig. 4) names; ids follow the official ROIs.
_HOUSTON_NAMES = (
    "Healthy grass",
    "Stressed grass",
    "Synthetic grass",
    "Trees",
    "Soil",
    "Water",
    "Residential",
    "Commercial",
    "Road",
    "Highway",
    "Railway",
    "Parking Lot 1",
    "Parking Lot 2",
    "Tennis Court",
    "Running Track",
)
# §1 "Classes and official split" (counted from S2FL's TIFFs [M]; MFT Fig. 4).
_HOUSTON_TRAIN = (198, 190, 192, 188, 186, 182, 196, 191, 193, 191, 181, 192, 184, 181, 187)
_HOUSTON_TEST = (1053, 1064, 505, 1056, 1056, 143, 1072, 1053, 1059, 1036, 1054, 1041, 285, 247, 473)

# §1 "Classes and official split": the ROI names of the official TR.txt, class order
_HOUSTON_ROIS = (
    "grass_healthy",
    "grass_stressed",
    "grass_synthetic",
    "tree",
    "soil",
    "water",
    "residential",
    "commercial",
    "road",
    "highway",
    "railway",
    "parking_lot1",
    "parking_lot2",
    "tennis_court",
    "running_track",
)
_DFC = "2013_IEEE_GRSS_DF_Contest"

HOUSTON2013 = Benchmark(
    name="houston2013_full",
    title="Houston 2013 (IEEE GRSS DFC 2013): HSI 144 bands + LiDAR DSM, 349 x 1905, 2.5 m",
    class_names=_HOUSTON_NAMES,
    layouts=(
        Layout(
            name="dfc2013",
            # §1 "Zip members and their sha256" (RF fetch_houston2013.py; text pins after CRLF, [M])
            members=(
                Member(f"{_DFC}_CASI.tif", "1440f38594e8e82cc1944c084fc138ef55a70af54122828e999c4fb438574c14"),
                Member(f"{_DFC}_CASI.hdr", "869be3459978b535b873bca98b1cf05066c7acca9c160b486a86efd775005e8d", True),
                Member(f"{_DFC}_LiDAR.tif", "9f4facce8876ee84642d9cb03536baf0389506de97ddc01b73366fe4521de981"),
                Member(f"{_DFC}_LiDAR.hdr", "053c083de1cb0d9ad51c56964b29669733ef2c7db05997d4f4e0779ab2f6aade", True),
                Member(
                    f"{_DFC}_Samples_TR.txt", "16c69cf216535d7b4df2045b05d49c50a078609aa6d011a5e23e54f4cd08abda", True
                ),
                # RF's text export of the test ROI (the zip has it only as binary .roi); hashed as is
                Member(f"{_DFC}_Samples_VA.txt", "768bb02193d04c8020b45f1f31a49926a5b914040f77f71a81df756d6e8b8dcb"),
                Member("copyright.txt", "63d908383566b1ff6fd259aa202e31dab9a629808919d87d94970df7ad25180d", True),
            ),
            modalities={"hsi": Ref(f"{_DFC}_CASI.tif"), "lidar": Ref(f"{_DFC}_LiDAR.tif")},
            labels=Labels(
                "roi",
                train=Ref(f"{_DFC}_Samples_TR.txt"),
                test=Ref(f"{_DFC}_Samples_VA.txt"),
                roi_names=_HOUSTON_ROIS,
            ),
            shape=(349, 1905),
            bands={"hsi": 144, "lidar": 1},
            counts=Counts(train=_HOUSTON_TRAIN, test=_HOUSTON_TEST, source="spec sheet §1 (S2FL TIFFs, MFT Fig. 4)"),
            downloads=(
                Download(
                    "2013_DFTC.zip, the official contest zip (University of Houston)",
                    "https://machinelearning.ee.uh.edu/2egf4tg8hial13gt/2013_DFTC.zip",
                    "f4d619d5cbcb09d0301038f1b8fe83def6c2d484334b7b8127740a00ecf7e245",
                ),
                Download(
                    "the test ROI as ENVI ASCII (RF's export; mirror pastebin.com/raw/FJyu5SQX)",
                    "https://github.com/songyz2019/rs-fusion-datasets-dist/releases/download/v1.0.0/"
                    "2013_IEEE_GRSS_DF_Contest_Samples_VA.txt",
                    "768bb02193d04c8020b45f1f31a49926a5b914040f77f71a81df756d6e8b8dcb",
                ),
            ),
            note="the official contest files: CASI and LiDAR GeoTIFFs, ROIs as ENVI ASCII with 1-based X, Y",
        ),
        Layout(
            name="mmr",
            # §1 zip members, MMR variant (RF fetch_houston2013_mmr.py pins)
            members=(
                Member("HSI.mat", "6a0edba3c224df411623ed5774fc34e91929ab341709859b2f56cc38dbb3c6fd"),
                Member("LiDAR.mat", "7aa956e7c371fd29a495f0cb9bb8f572aaa4065fcfeda2b3e854a5cef74b35ad"),
                Member("TRLabel.mat", "96ce863eaf4dc548c3140a480dee33c812d46194ae5ed345fed6e71a3d72b527"),
                Member("TSLabel.mat", "46bd849d556c80ed67b33f23dd288eafa7ac9f97a847390be373b702b0bf5a45"),
                Member("gt.mat", "75ecccc08ac7709e48285bb098fda802da6efd6dc0168cb1c99c6ce09d0b6ae0"),
            ),
            modalities={"hsi": Ref("HSI.mat", "HSI"), "lidar": Ref("LiDAR.mat", "LiDAR")},
            labels=Labels("images", train=Ref("TRLabel.mat", "TRLabel"), test=Ref("TSLabel.mat", "TSLabel")),
            shape=(349, 1905),
            bands={"hsi": 144, "lidar": 1},
            counts=Counts(train=_HOUSTON_TRAIN, test=_HOUSTON_TEST, source="spec sheet §1 (S2FL TIFFs, MFT Fig. 4)"),
            downloads=(
                Download(
                    "houston2013-mmr.zip (RF's mirror of MMR's Google Drive copy)",
                    "https://github.com/songyz2019/rs-fusion-datasets-dist/releases/download/v1.0.0/houston2013-mmr.zip",
                    "7a2d719d12f49f1984e6f28821254cd6b217ba85599780a093ed3388ae1fd762",
                ),
            ),
            note="the .mat variant of MMR / AMS; labels already rasterised from the official ROIs",
        ),
    ),
    licence=(
        "DFC2013 copyright.txt: scientific use only; reference '2013_IEEE_GRSS_DF_Contest'; acknowledge the "
        "UH Hyperspectral Image Analysis group, NCALM and the GRSS DFTC; users may not distribute the dataset."
    ),
    citation="2013 IEEE GRSS Data Fusion Contest (University of Houston, NCALM).",
    homepage="https://machinelearning.ee.uh.edu/?page_id=459",
    unchecked=(
        "HSI dtype and radiometric units (RF annotates uint16): dtype and value range reported on load, not checked",
        "the dark eastern region called cloud shadow: not checked",
        "whether houston2013-mmr.zip holds its members in a sub-folder: members are found by name",
    ),
)

# --- Trento (spec sheet §2) -------------------------------------------------------------------
_TRENTO_NAMES = ("Apple trees", "Buildings", "Ground", "Woods", "Vineyard", "Roads")
# §2 "Classes and the standard disjoint split" (MFT Fig. 6; totals = TY allgrd counts [M]).
_TRENTO_TRAIN = (129, 125, 105, 154, 184, 122)
_TRENTO_TEST = (3905, 2778, 374, 8969, 10317, 3052)
_TRENTO_TOTAL = (4034, 2903, 479, 9123, 10501, 3174)

TRENTO = Benchmark(
    name="trento",
    title="Trento: AISA Eagle HSI 63 bands + LiDAR, 166 x 600, 1 m",
    class_names=_TRENTO_NAMES,
    layouts=(
        Layout(
            name="mmr",
            members=(Member("HSI.mat"), Member("LiDAR.mat"), Member("TRLabel.mat"), Member("TSLabel.mat")),
            modalities={"hsi": Ref("HSI.mat", "HSI"), "lidar": Ref("LiDAR.mat", "LiDAR")},
            labels=Labels("images", train=Ref("TRLabel.mat", "TRLabel"), test=Ref("TSLabel.mat", "TSLabel")),
            shape=(166, 600),
            bands={"hsi": 63, "lidar": 1},
            counts=Counts(train=_TRENTO_TRAIN, test=_TRENTO_TEST, source="spec sheet §2 (MFT Fig. 6)"),
            transposed_ok=True,
            note="the MMR / AMS variant, the only one with the standard split; no public host, no pins",
        ),
        Layout(
            name="ty",
            # §2 checksums (RF fetch_trento.py); the archive hash is unstable (sheet, cross-cutting 2)
            members=(
                Member("Italy_hsi.mat", "7b965fd405314b5c91451042e547a1923be6f5a38c6da83969032cff79729280"),
                Member("Italy_lidar.mat", "a04dc90368d6a7b4f9d3936024ba9fef4105456c090daa14fff31b8b79e94ab1"),
                Member("allgrd.mat", "7e3fb2a2ea22c2661dfc768db3cb93c9643b324e7e64fadedfa57f5edbf1818f"),
            ),
            modalities={"hsi": Ref("Italy_hsi.mat", "data"), "lidar": Ref("Italy_lidar.mat", "data")},
            labels=Labels("all", gt=Ref("allgrd.mat", "mask_test")),
            shape=(166, 600),
            bands={"hsi": 63, "lidar": 2},
            counts=Counts(total=_TRENTO_TOTAL, source="spec sheet §2 (TY allgrd counts [M])"),
            transposed_ok=True,
            downloads=(
                Download(
                    "Trento at tyust-dayu/Trento b4afc44 (GitHub archive; members pinned, archive hash unstable)",
                    "https://github.com/tyust-dayu/Trento/archive/b4afc449ce5d6936ddc04fe267d86f9f35536afd.zip",
                ),
            ),
            note="TY's copy: `allgrd` holds all 30,214 labels, no training mask (no official split)",
        ),
    ),
    licence="No licence stated (data provided by Prof. L. Bruzzone, University of Trento); ask before redistributing.",
    citation="Trento HSI + LiDAR, courtesy of L. Bruzzone, University of Trento.",
    homepage="https://github.com/tyust-dayu/Trento",
    unchecked=(
        "meaning of TY's second LiDAR band (integer-valued, 0-2901): read as a second channel, not interpreted",
    ),
)

# --- MUUFL Gulfport (spec sheet §3) -----------------------------------------------------------
# Names: GS tech report, ordered per the README correction of 2018-12-06 (7 shadow, 8 buildings).
_MUUFL_NAMES = (
    "Trees",
    "Mostly grass",
    "Mixed ground surface",
    "Dirt and sand",
    "Road",
    "Water",
    "Shadow of buildings",
    "Buildings",
    "Sidewalk",
    "Yellow curb",
    "Cloth panels",
)
# §3 "Classes" (train + test of MFT's 5 % table, sum 53,687)
_MUUFL_TOTAL = (23246, 4270, 6882, 1826, 6687, 466, 2233, 6240, 1385, 183, 269)
_MUUFL_FILE = "MUUFLGulfportSceneLabels/muufl_gulfport_campus_1_hsi_220_label.mat"

MUUFL = Benchmark(
    name="muufl",
    title="MUUFL Gulfport campus 1: CASI HSI 64 bands + LiDAR (2 rasters), 325 x 220, 1 m",
    class_names=_MUUFL_NAMES,
    layouts=(
        Layout(
            name="gatorsense",
            # §3 checksums (RF fetch_muufl.py); archive hash unstable
            members=(Member(_MUUFL_FILE, "69420a72866dff4a858ae503e6e2981af46f406a4ad8f4dd642efa43feb59edc"),),
            modalities={
                "hsi": Ref(_MUUFL_FILE, "hsi", "Data"),
                "lidar": Ref(_MUUFL_FILE, "hsi", "Lidar[0].z"),
            },
            labels=Labels("all", gt=Ref(_MUUFL_FILE, "hsi", "sceneLabels.labels"), unlabelled=-1),
            shape=(325, 220),
            bands={"hsi": 64, "lidar": 2},
            counts=Counts(total=_MUUFL_TOTAL, source="spec sheet §3 (MFT 5 % table, train + test)"),
            downloads=(
                Download(
                    "GatorSense/MUUFLGulfport tag v0.1 (GitHub archive; member pinned, archive hash unstable)",
                    "https://github.com/GatorSense/MUUFLGulfport/archive/refs/tags/v0.1.zip",
                ),
            ),
            note="struct `hsi`: Data, Lidar{1}.z (RF's choice of LiDAR cell), sceneLabels.labels (-1 unlabelled)",
        ),
    ),
    licence="MIT, Copyright (c) 2016 TigerSense (GatorSense LICENSE).",
    citation=(
        "Gader et al., MUUFL Gulfport hyperspectral and LiDAR airborne data set, Tech. Rep. REP-2013-570 (2013); "
        "Du & Zare, scene labelling, Tech. Rep. 20170417 (2017)."
    ),
    homepage="https://github.com/GatorSense/MUUFLGulfport (Zenodo 10.5281/zenodo.1186326)",
    paper=PaperDefaults(
        split="none official: 5 % per class (MFT) or 20 per class (GLT-Net); we use the disjoint split"
    ),
    unchecked=(
        "array dtypes (RF annotates float32) and value ranges: reported on load, not checked",
        "which LiDAR cell / return the benchmark's '2 rasters' are: Lidar{1}.z is read, as RF does",
        "sensor CASI-1500: not checkable from the files",
        "sceneLabels.Materials_Type (the names to trust for 7 / 8): not compared, its strings are not in the "
        "sources; a 7 / 8 swap shows in the per-class counts, which name it",
    ),
)

# --- Augsburg (spec sheet §4) -----------------------------------------------------------------
_AUGSBURG_NAMES = (
    "Forest",
    "Residential Area",
    "Industrial Area",
    "Low Plants",
    "Allotment",
    "Commercial Area",
    "Water",
)
# §4 "Classes and official split" (counted from YG's copies [M]).
_AUGSBURG_TRAIN = (146, 264, 21, 248, 52, 7, 23)
_AUGSBURG_TEST = (13361, 30065, 3830, 26609, 523, 1638, 1507)
_HONG_DRIVE = (
    "Google Drive 1dLJJrNJpQoQeDHybs37iGxmrSU6aP2xv or Baidu pan.baidu.com/s/14OQW-9EpGRODOEnWfBXnag "
    "(code ekqq), from danfenghong/ISPRS_S2FL's README"
)


def _ouc(
    city: str, shape: tuple[int, int], bands: dict[str, int], counts: Counts, pins: dict[str, str], zip_sha: str
) -> Layout:
    """The OUC repack (`<city>_hsi/_sar/_gt/_index.mat`), mirrored by RF."""
    return Layout(
        name="ouc",
        members=tuple(Member(f"{city}_{part}.mat", pins[part]) for part in ("hsi", "sar", "gt", "index")),
        modalities={"hsi": Ref(f"{city}_hsi.mat", f"{city}_hsi"), "sar": Ref(f"{city}_sar.mat", f"{city}_sar")},
        labels=Labels(
            "index",
            gt=Ref(f"{city}_gt.mat", f"{city}_gt"),
            train=Ref(f"{city}_index.mat", f"{city}_train"),
            test=Ref(f"{city}_index.mat", f"{city}_test"),
        ),
        shape=shape,
        bands=bands,
        counts=counts,
        downloads=(
            Download(
                f"{city}-ouc.zip (RF's mirror of the OUC repack)",
                f"https://github.com/songyz2019/rs-fusion-datasets-dist/releases/download/v1.0.0/{city}-ouc.zip",
                zip_sha,
            ),
        ),
        note="OUC repack: no DSM; train/test as (row, col) index lists, base decided on load",
    )


AUGSBURG = Benchmark(
    name="augsburg",
    title="Augsburg: HySpex HSI 180 bands + Sentinel-1 SAR 4 (+ DSM), 332 x 485, 30 m",
    class_names=_AUGSBURG_NAMES,
    layouts=(
        Layout(
            name="hong",
            # §4 files and keys (Hong / S2FL); label pins: YG's copies [M]
            members=(
                Member("HS-SAR-DSM Augsburg/data_HS_LR.mat"),
                Member("HS-SAR-DSM Augsburg/data_SAR_HR.mat"),
                Member("HS-SAR-DSM Augsburg/data_DSM.mat"),
                Member(
                    "HS-SAR-DSM Augsburg/TrainImage.mat",
                    "b912b3807b703cbd511ba0e64fd8e5e040a59abc7ff6d51193dda0868c516d45",
                ),
                Member(
                    "HS-SAR-DSM Augsburg/TestImage.mat",
                    "87f9c9e0436007768ca7738c300b7c7812541e7043c69addd81c48c3bdc3c9fd",
                ),
            ),
            modalities={
                "hsi": Ref("data_HS_LR.mat", "data_HS_LR"),
                "sar": Ref("data_SAR_HR.mat", "data_SAR_HR"),
                "dsm": Ref("data_DSM.mat", "data_DSM"),
            },
            labels=Labels("images", train=Ref("TrainImage.mat", "TrainImage"), test=Ref("TestImage.mat", "TestImage")),
            shape=(332, 485),
            bands={"hsi": 180, "sar": 4, "dsm": 1},
            counts=Counts(train=_AUGSBURG_TRAIN, test=_AUGSBURG_TEST, source="spec sheet §4 (YG's copies [M])"),
            downloads=(Download("HS-SAR-DSM Augsburg (S2FL)", None, note=_HONG_DRIVE),),
            note="Hong et al.'s release (S2FL); TrainImage is uint8 and TestImage float32",
        ),
        _ouc(
            "augsburg",
            (332, 485),
            {"hsi": 180, "sar": 4},
            # per class: the official split's counts; the OUC lists' sizes (761, 77,533) are RF annotations
            Counts(_AUGSBURG_TRAIN, _AUGSBURG_TEST, verified=False, source="spec sheet §4 (Hong counts; OUC sizes)"),
            {
                "gt": "065df71257f06c075ff3b37327c0fba75cc9146015a0f095a093fd12b9eaacbe",
                "hsi": "2f13839d7840b32f55e0489d6934776dcfded7f678e23a9d8c2c092573946583",
                "index": "8bc57037447cb42dbf3a8478d42d4bc217a53a6a0b349c2d67db8c660bef2f43",
                "sar": "cd1dbfad2346f47e51d105b05e11aaefc872fe487a94bdc2913f4eaee3f8e82b",
            },
            "4d853be609eca98a5fb23ccd711bcd0985b7db86a6e89f53f461e1643a7ab6ae",
        ),
    ),
    licence="No separate data licence stated; 'freely and openly available' (S2FL README); cite Hong et al. 2021.",
    citation="Hong, Hu, Yao, Yokoya, Chanussot, Zhu, ISPRS J. Photogramm. Remote Sens. 178:68-80 (2021).",
    homepage="https://github.com/danfenghong/ISPRS_S2FL",
    unchecked=(
        "file names data_HS_LR.mat / data_SAR_HR.mat / data_DSM.mat of Hong's release (keys are cited, names assumed)",
        "value ranges of the HSI, SAR and DSM arrays: reported on load, not checked",
        "the OUC repack's per-class counts (only its list sizes are annotated): checked with a warning",
    ),
)

# --- Berlin (spec sheet §5) -------------------------------------------------------------------
_BERLIN_NAMES = (
    "Forest",
    "Residential Area",
    "Industrial Area",
    "Low Plants",
    "Soil",
    "Allotment",
    "Commercial Area",
    "Water",
)
# §5 "Official per-class counts: [U]": unverified, so a mismatch is a loud warning.
_BERLIN_TRAIN = (443, 423, 499, 376, 331, 280, 298, 170)
_BERLIN_TEST = (54511, 268219, 19067, 58906, 17095, 13025, 24526, 6502)
_BERLIN_COUNTS = Counts(_BERLIN_TRAIN, _BERLIN_TEST, verified=False, source="spec sheet §5 (marked unverified)")

BERLIN = Benchmark(
    name="berlin",
    title="Berlin: EnMAP-simulated HSI 244 bands + Sentinel-1 SAR 4, 1723 x 476",
    class_names=_BERLIN_NAMES,
    layouts=(
        Layout(
            name="hong",
            members=(
                Member("HS-SAR Berlin/data_HS_LR.mat"),
                Member("HS-SAR Berlin/data_SAR_HR.mat"),
                Member("HS-SAR Berlin/TrainImage.mat"),
                Member("HS-SAR Berlin/TestImage.mat"),
            ),
            modalities={"hsi": Ref("data_HS_LR.mat", "data_HS_LR"), "sar": Ref("data_SAR_HR.mat", "data_SAR_HR")},
            labels=Labels("images", train=Ref("TrainImage.mat", "TrainImage"), test=Ref("TestImage.mat", "TestImage")),
            shape=(1723, 476),
            bands={"hsi": 244, "sar": 4},
            counts=_BERLIN_COUNTS,
            downloads=(Download("HS-SAR Berlin (S2FL)", None, note=_HONG_DRIVE),),
            note="Hong et al.'s release (S2FL); no DSM",
        ),
        _ouc(
            "berlin",
            (1723, 476),
            {"hsi": 244, "sar": 4},
            _BERLIN_COUNTS,
            {
                "gt": "dd9286cd565535857721627878de3cbebffa2dacc625b539474d16cba3a7343e",
                "hsi": "580f397d9f249b4ec3f02b8cc570d910d765afa9f77b17d8a4f4799edee94b1f",
                "index": "1a66ec454ea95bbf5782525d9fcf9a04412a948b7b3aa6919ed324516d42a8b5",
                "sar": "a6cf2f86db7f1a02c340e813a7b46f9c6c58e297e1eb9b5fa19ed49244b2b8a7",
            },
            "5fdd156b0283bddab3cf9916f34d3d6b3a2ceb68e7c38c3f8022292199aafcf8",
        ),
    ),
    licence=(
        "No separate data licence stated (S2FL); HS source: Okujeni, van der Linden & Hostert, GFZ Data Services "
        "(2016); cite Hong et al. 2021."
    ),
    citation=(
        "Hong et al., ISPRS J. 178:68-80 (2021); Okujeni, van der Linden, Hostert, Berlin-Urban-Gradient dataset "
        "2009, GFZ Data Services (2016)."
    ),
    homepage="https://github.com/danfenghong/ISPRS_S2FL",
    unchecked=(
        "the SAR pixel size: not in the files' arrays",
        "value ranges of the HSI and SAR arrays: reported on load, not checked",
        "file names data_HS_LR.mat / data_SAR_HR.mat / TrainImage.mat / TestImage.mat (keys cited, names assumed)",
    ),
)

BENCHMARKS: dict[str, Benchmark] = {b.name: b for b in (HOUSTON2013, TRENTO, MUUFL, AUGSBURG, BERLIN)}


def benchmark(name: str) -> Benchmark:
    """The recipe called `name`; DataError naming the known ones."""
    check(name in BENCHMARKS, f"unknown benchmark {name!r}; known: {sorted(BENCHMARKS)}")
    return BENCHMARKS[name]


def find_member(folder: Path, member: Member) -> Path | None:
    """The member's file under `folder`: at its distributed path, else the one file of that name
    anywhere below (archives are unpacked in different ways); None if absent."""
    exact = folder / member.path
    if exact.is_file():
        return exact
    if not folder.is_dir():
        return None
    found = sorted(p for p in folder.rglob(member.name) if p.is_file())
    return found[0] if len(found) == 1 else None


def present_layout(spec: Benchmark, folder: Path) -> Layout | None:
    """The first layout whose members are all present under `folder`, None if none is."""
    for layout in spec.layouts:
        if all(find_member(folder, m) is not None for m in layout.members):
            return layout
    return None
