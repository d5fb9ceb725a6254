"""Bad inputs at every public entry point: one clear project error, nothing left half-written.

`CASES` is the table of malformed inputs: (id, setup, error type, message pattern). `setup`
prepares files under tmp_path and returns the call that must fail; the test asserts the
exception type, the message (it names the file / key / field, what was expected and found), that
the raising frame is project code (not a traceback from deep inside numpy or torch), and that
the folder holds exactly the files it held before the call (no temp or partial file).
Properties that hold for every input of a kind (any truncation, any flipped byte, any config
value) are checked with hypothesis below the table; bdgf-run is checked through its `main`.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import resumable_jobs as jobs
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bdgf_nb
from bdgf_nb import memory
from bdgf_nb.checkpoint import load_checkpoint, load_module_state, save_checkpoint
from bdgf_nb.cli.run import RunConfig, main
from bdgf_nb.data.catalog import load_catalog
from bdgf_nb.data.load import load_scene
from bdgf_nb.data.patches import PatchDataset, Standardizer
from bdgf_nb.data.readers import read_array
from bdgf_nb.data.scene import PixelScene, Scene
from bdgf_nb.data.synthetic import SyntheticSceneConfig
from bdgf_nb.ddpm.diffusion import DiffusionConfig, GaussianDiffusion
from bdgf_nb.ddpm.features import FeatureConfig, cached_features, extract_features
from bdgf_nb.ddpm.masking import MaskingConfig
from bdgf_nb.ddpm.unet import DenoiserUNet, UNetConfig
from bdgf_nb.errors import (
    BDGFError,
    CheckpointError,
    ConfigError,
    CorruptCheckpointError,
    DataError,
    ResourceError,
)
from bdgf_nb.evaluate.maps import predict_map
from bdgf_nb.evaluate.predict import predict
from bdgf_nb.model.baselines import BaselineConfig
from bdgf_nb.model.mamba import MambaConfig
from bdgf_nb.pipeline.parameters import RunParameters, run_context
from bdgf_nb.train.classifier import TrainConfig, train_classifier
from bdgf_nb.train.pretrain import PretrainConfig, pretrain

PACKAGE = Path(bdgf_nb.__file__).resolve().parent
H, W = 4, 5


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --- builders ---------------------------------------------------------------------------------


def gt_map() -> np.ndarray:
    """(4, 5) labels, classes 1..3 all present, some unlabelled."""
    return np.array([[0, 1, 1, 2, 2], [1, 1, 2, 2, 0], [3, 3, 0, 2, 1], [3, 3, 3, 0, 1]], dtype=np.int16)


def arrays(**changes: np.ndarray) -> dict[str, np.ndarray]:
    out = {
        "hsi": np.random.default_rng(0).random((H, W, 3)).astype(np.float32),
        "lidar": np.arange(H * W, dtype=np.float64).reshape(H, W),
        "gt": gt_map(),
    }
    out.update(changes)
    return out


def with_value(name: str, index: tuple[int, ...], value: float, dtype: Any = np.float32) -> np.ndarray:
    array = arrays()[name].astype(dtype)
    array[index] = value
    return array


def catalog(tmp: Path, data: dict[str, np.ndarray] | None = None, **fields: Any) -> Path:
    """scene.npz holding `data` (default: good arrays) and a one-entry catalog 's' reading it."""
    np.savez(tmp / "scene.npz", **(arrays() if data is None else data))
    entry: dict[str, Any] = {
        "kind": "scene",
        "path": "scene.npz",
        "modalities": {"hsi": "hsi", "lidar": "lidar"},
        "gt": "gt",
    }
    entry.update(fields)
    path = tmp / "catalog.yaml"
    path.write_text(yaml.safe_dump({"s": entry}, sort_keys=False))
    return path


def load(data: dict[str, np.ndarray] | None = None, **fields: Any) -> Callable[[Path], Callable[[], Any]]:
    def setup(tmp: Path) -> Callable[[], Any]:
        path = catalog(tmp, data, **fields)
        return lambda: load_scene("s", path)

    return setup


def broken_file(name: str, write: Callable[[Path], None], **fields: Any) -> Callable[[Path], Callable[[], Any]]:
    """A catalog whose hsi lives in the damaged file `name` (written by `write`)."""

    def setup(tmp: Path) -> Callable[[], Any]:
        write(tmp / name)
        path = catalog(tmp, modalities={"hsi": {"path": name, "key": "hsi"}, "lidar": "lidar"}, **fields)
        return lambda: load_scene("s", path)

    return setup


def truncated_npz(path: Path) -> None:
    np.savez(path, hsi=arrays()["hsi"])
    path.write_bytes(path.read_bytes()[:150])


def truncated_hdf5(path: Path) -> None:
    with h5py.File(path, "w") as f:
        f.create_dataset("hsi", data=arrays()["hsi"].T)
    path.write_bytes(path.read_bytes()[:600])


def write_catalog_text(text: str) -> Callable[[Path], Callable[[], Any]]:
    def setup(tmp: Path) -> Callable[[], Any]:
        (tmp / "c.yaml").write_text(text)
        return lambda: load_catalog(tmp / "c.yaml")

    return setup


def call(fn: Callable[[], Any]) -> Callable[[Path], Callable[[], Any]]:
    """A case that needs no files."""
    return lambda tmp: fn


def scene(**changes: Any) -> Callable[[], Scene]:
    data = arrays()
    kwargs: dict[str, Any] = {
        "name": "mem",
        "modalities": {"hsi": data["hsi"], "lidar": data["lidar"][:, :, None]},
        "gt": data["gt"],
        "class_names": ("a", "b", "c"),
    }
    kwargs.update(changes)
    return lambda: Scene(**kwargs)


IMAGE = np.random.default_rng(0).normal(size=(3, 8, 8)).astype(np.float32)


def patches(
    image: Any = IMAGE, pixels: Any = None, labels: Any = None, patch: Any = 3, guides: Any = ()
) -> Callable[[], Any]:
    pixels = np.array([[1, 2], [3, 4]]) if pixels is None else pixels
    labels = np.array([1, 2]) if labels is None else labels
    return lambda: PatchDataset(image, pixels, labels, patch, guides)


def tiny_classifier_job(n_classes: int = jobs.N_CLASSES, empty_val: bool = False, **cfg: Any) -> Callable[[], Any]:
    train_set, val_set = jobs.train_sets()
    if empty_val:
        val_set = PatchDataset(IMAGE, np.zeros((0, 2), np.int64), np.zeros(0, np.int64), 3)
    return lambda: train_classifier(
        jobs.TinyNet(4, n_classes),
        train_set,
        val_set,
        n_classes,
        TrainConfig(epochs=1, **cfg),
        progress=False,
        device="cpu",
    )


def tiny_pretrain(x0: torch.Tensor | None = None, groups: dict[str, int] | None = None) -> Callable[[], Any]:
    x0 = jobs.pretrain_data() if x0 is None else x0
    cfg = PretrainConfig(
        epochs=1,
        batch_size=8,
        balance_samples=4,
        unet=UNetConfig(base_width=8, channel_mults=(1,), num_res_blocks=1),
        diffusion=DiffusionConfig(T=10),
        feature_timesteps=(2, 5),
    )
    return lambda: pretrain(x0, groups or jobs.GROUPS, cfg, progress=False, device="cpu")


def tiny_diffusion() -> GaussianDiffusion:
    unet = DenoiserUNet(
        UNetConfig(in_channels=5, base_width=8, channel_mults=(1,), num_res_blocks=1, modality_channels=(4, 1))
    )
    return GaussianDiffusion(unet, DiffusionConfig(T=10), jobs.GROUPS)


def checkpoint(
    damage: Callable[[bytes], bytes] | None = None, expected: Any = None
) -> Callable[[Path], Callable[[], Any]]:
    def setup(tmp: Path) -> Callable[[], Any]:
        path = tmp / "ck.pt"
        save_checkpoint(path, {"w": torch.arange(50.0)}, {"width": 8})
        if damage is not None:
            path.write_bytes(damage(path.read_bytes()))
        return lambda: load_checkpoint(path, expected_config=expected)

    return setup


def flip(offset: int) -> Callable[[bytes], bytes]:
    def damage(data: bytes) -> bytes:
        out = bytearray(data)
        out[offset] ^= 0xFF
        return bytes(out)

    return damage


def resume_train(change: str) -> Callable[[Path], Callable[[], Any]]:
    """A finished tiny classifier checkpoint, resumed with another config / architecture / data."""

    def setup(tmp: Path) -> Callable[[], Any]:
        path = tmp / "clf.ckpt"
        train_set, val_set = jobs.train_sets()
        cfg = TrainConfig(epochs=1, batch_size=32)
        train_classifier(
            jobs.TinyNet(4, 3), train_set, val_set, 3, cfg, checkpoint_path=path, progress=False, device="cpu"
        )
        model = jobs.TinyNet(4, 3, width=16 if change == "model" else 8)
        if change == "config":
            cfg = TrainConfig(epochs=1, batch_size=32, lr=5e-3)
        if change == "data":
            train_set, val_set = jobs.train_sets(seed=1)
        return lambda: train_classifier(
            model, train_set, val_set, 3, cfg, checkpoint_path=path, progress=False, device="cpu"
        )

    return setup


def architecture_mismatch(tmp: Path) -> Callable[[], Any]:
    path = tmp / "ck.pt"
    save_checkpoint(path, {"model": jobs.TinyNet(4, 3, width=8).state_dict()}, {})
    return lambda: load_module_state(jobs.TinyNet(4, 3, width=6), load_checkpoint(path)["model"], f"checkpoint {path}")


def memory_limited(setup: Callable[[Path], Callable[[], Any]]) -> Callable[[Path], Callable[[], Any]]:
    """The same call on a machine that pretends to have 1 KiB free."""

    def wrapped(tmp: Path) -> Callable[[], Any]:
        inner = setup(tmp)

        def run() -> Any:
            original = memory.available_bytes
            memory.available_bytes = lambda: 1024
            try:
                return inner()
            finally:
                memory.available_bytes = original

        return run

    return wrapped


# --- the table --------------------------------------------------------------------------------

CASES: list[tuple[str, Callable[[Path], Callable[[], Any]], type[BDGFError], str]] = [
    # catalog and files
    (
        "catalog missing",
        call(lambda: load_catalog("/nonexistent/nope.yaml")),
        DataError,
        r"catalog not found: .*nope\.yaml",
    ),
    ("catalog not YAML", write_catalog_text("a: [1,\n"), DataError, r"c\.yaml: not valid YAML"),
    (
        "catalog unknown kind",
        write_catalog_text("s: {kind: tiff}\n"),
        DataError,
        r"catalog entry 's', field 'kind': expected one of \[.*'tiles', 'benchmark'\], found 'tiff'",
    ),
    (
        "catalog unknown field",
        write_catalog_text("s: {kind: synthetic, parms: {}}\n"),
        DataError,
        r"'s': unknown field\(s\) \['parms'\] for kind 'synthetic'",
    ),
    (
        "unknown dataset name",
        lambda tmp: (lambda path: lambda: load_scene("nope", path))(catalog(tmp)),
        DataError,
        r"unknown dataset 'nope'; known: \['s'\]",
    ),
    (
        "missing file",
        load(modalities={"hsi": {"path": "absent.npz", "key": "hsi"}, "lidar": "lidar"}),
        DataError,
        r"modality 'hsi' .*file not found: .*absent\.npz",
    ),
    (
        "truncated .npz",
        broken_file("cut.npz", truncated_npz),
        DataError,
        r"cannot read .*cut\.npz as \.npz archive .*truncated or corrupt",
    ),
    (
        "corrupt .npz (random bytes)",
        broken_file("junk.npz", lambda p: p.write_bytes(np.random.default_rng(0).bytes(300))),
        DataError,
        r"cannot read .*junk\.npz as \.npz archive \(ValueError: not a zip archive, starts with b'",
    ),
    (
        ".npy saved as .npz",
        broken_file("one.npz", lambda p: np.save(p.open("wb"), arrays()["hsi"])),
        DataError,
        r"one\.npz is a single \.npy array, expected an \.npz archive",
    ),
    (
        "corrupt .mat v5",
        broken_file("a.mat", lambda p: p.write_bytes(b"MATLAB 5.0 MAT-file" + np.random.default_rng(1).bytes(200))),
        DataError,
        r"cannot read .*a\.mat as MATLAB v5 file",
    ),
    ("truncated .mat v7.3 (HDF5)", broken_file("b.mat", truncated_hdf5), DataError, r"cannot read .*b\.mat as MATLAB"),
    (
        "unsupported file type",
        broken_file("x.jp2", lambda p: p.write_bytes(b"\x00\x00\x00\x0cjP")),
        DataError,
        r"unsupported file type '\.jp2' of .*x\.jp2; expected \.npz, \.npy, \.mat",
    ),
    (
        "wrong key",
        load(modalities={"hsi": "hsix", "lidar": "lidar"}),
        DataError,
        r"modality 'hsi' .*has no key 'hsix'; available keys: \['gt', 'hsi', 'lidar'\]",
    ),
    (
        "mismatched spatial shapes",
        load(arrays(lidar=np.zeros((3, W)))),
        DataError,
        r"modality 'lidar' .*does not match the first modality's \(4, 5\)",
    ),
    (
        "2-D HSI",
        load(arrays(hsi=np.zeros((H, W), np.float32))),
        DataError,
        r"modality 'hsi' .*expected \(H, W, C\), found shape \(4, 5\)",
    ),
    (
        "NaN in HSI",
        load(arrays(hsi=with_value("hsi", (0, 0, 0), np.nan))),
        DataError,
        r"modality 'hsi' .*expected finite values, found 1 NaN and 0 inf of 60 values",
    ),
    (
        "inf in LiDAR",
        load(arrays(lidar=with_value("lidar", (1, 1), np.inf, np.float64))),
        DataError,
        r"modality 'lidar' .*found 0 NaN and 1 inf of 20 values",
    ),
    (
        "complex HSI",
        load(arrays(hsi=np.zeros((H, W, 3), np.complex64))),
        DataError,
        r"modality 'hsi' .*expected a real numeric array .*found dtype complex64",
    ),
    (
        "negative labels",
        load(arrays(gt=with_value("gt", (0, 0), -1, np.int16))),
        DataError,
        r"gt .*expected labels >= 0 \(0 = unlabelled\), found 1 below, minimum -1",
    ),
    (
        "labels above n_classes",
        load(n_classes=2),
        DataError,
        r"gt .*expected labels <= 2 \(2 classes declared\), found 5 above, maximum 3",
    ),
    ("empty class", load(n_classes=4), DataError, r"gt .*declared class\(es\) \[4\] of 1\.\.4 have no pixel"),
    (
        "fractional labels",
        load(arrays(gt=with_value("gt", (0, 1), 1.5, np.float64))),
        DataError,
        r"gt .*expected integer values, found 1 non-integer",
    ),
    (
        "no labelled pixel",
        load(arrays(gt=np.zeros((H, W), np.int16))),
        DataError,
        r"gt .*expected labelled pixels \(labels 1\.\.n\), found none",
    ),
    (
        "train/test masks overlap",
        load(arrays(tr=np.ones((H, W), bool), te=np.eye(H, W, dtype=bool)), train_mask="tr", test_mask="te"),
        DataError,
        r"expected disjoint train and test, found 4 pixels in both",
    ),
    (
        "scene too large for memory",
        memory_limited(load()),
        ResourceError,
        r"dataset 's': a 4 x 5 scene of 4 channels needs about .* of memory, found 1\.0 KiB available; crop the scene",
    ),
    (
        "synthetic scene too large",
        call(lambda: load_scene("synthetic", size=1_000_000)),
        ResourceError,
        r"1000000 x 1000000 synthetic scene of 65 channels needs about .* TiB of memory",
    ),
    (
        "synthetic unknown parameter",
        call(lambda: load_scene("synthetic", bands=3)),
        DataError,
        r"unknown synthetic parameter\(s\) \['bands'\]",
    ),
    (
        "synthetic out of range",
        call(lambda: load_scene("synthetic", size=10)),
        ConfigError,
        r"size must be >= 64 .*found 10",
    ),
    # scenes built in memory
    (
        "Scene: 2-D HSI",
        call(scene(modalities={"hsi": np.zeros((H, W), np.float32)})),
        DataError,
        r"scene 'mem', modality 'hsi': must be \(H, W, C\) with \(H, W\) = \(4, 5\), found ndarray of shape \(4, 5\)",
    ),
    (
        "Scene: mismatched shapes",
        call(scene(modalities={"hsi": np.zeros((H, W + 1, 2), np.float32)})),
        DataError,
        r"modality 'hsi': must be \(H, W, C\) .*found ndarray of shape \(4, 6, 2\)",
    ),
    (
        "Scene: NaN",
        call(scene(modalities={"hsi": with_value("hsi", (1, 1, 1), np.nan)})),
        DataError,
        r"scene 'mem', modality 'hsi': expected finite values, found 1 NaN",
    ),
    (
        "Scene: negative label",
        call(scene(gt=with_value("gt", (0, 0), -3, np.int64))),
        DataError,
        r"scene 'mem', gt: expected labels >= 0",
    ),
    (
        "Scene: label above classes",
        call(scene(class_names=("a", "b"))),
        DataError,
        r"scene 'mem', gt: expected labels <= 2 \(2 classes declared\)",
    ),
    (
        "Scene: empty class",
        call(scene(class_names=("a", "b", "c", "d"))),
        DataError,
        r"scene 'mem', gt: declared class\(es\) \[4\] of 1\.\.4 have no pixel",
    ),
    (
        "Scene: gt is a list",
        call(scene(gt=gt_map().tolist())),
        DataError,
        r"gt must be a 2-D \(H, W\) numpy array, found list",
    ),
    (
        "Scene: mask not bool",
        call(scene(train_mask=np.ones((H, W)), test_mask=np.zeros((H, W), bool))),
        DataError,
        r"train_mask must be bool \(4, 5\), found float64",
    ),
    (
        "PixelScene: unlabelled row",
        call(
            lambda: PixelScene(
                "px", {"f": np.zeros((3, 2))}, np.array([1, 0, 2]), np.zeros((3, 2), int), (4, 4), ("a", "b")
            )
        ),
        DataError,
        r"pixel scene 'px', labels: expected labels >= 1 \(every row labelled\)",
    ),
    (
        "PixelScene: coords shape",
        call(
            lambda: PixelScene(
                "px", {"f": np.zeros((3, 2))}, np.array([1, 2, 2]), np.zeros((3, 3), int), (4, 4), ("a", "b")
            )
        ),
        DataError,
        r"coords must be \(3, 2\), found \(3, 3\)",
    ),
    # patches and standardisation
    ("patch larger than scene", call(patches(patch=11)), DataError, r"patch size 11 is larger than the scene 8x8"),
    ("even patch", call(patches(patch=4)), DataError, r"patch size must be an odd integer >= 1, found 4"),
    ("float patch", call(patches(patch=3.0)), DataError, r"patch size must be an odd integer >= 1, found 3\.0"),
    (
        "pixel outside scene",
        call(patches(pixels=np.array([[1, 2], [8, 0]]))),
        DataError,
        r"pixels must lie inside the 8x8 scene, found 1 outside",
    ),
    (
        "float pixel coordinates",
        call(patches(pixels=np.array([[1.5, 2.0], [3.0, 4.0]]))),
        DataError,
        r"pixels must be integer \(N, 2\) \(row, col\), found float64",
    ),
    (
        "NaN in image",
        call(patches(image=np.where(IMAGE > 1.5, np.nan, IMAGE))),
        DataError,
        r"image: expected finite values, found \d+ NaN or inf of 192",
    ),
    ("2-D image", call(patches(image=IMAGE[0])), DataError, r"image must be \(C, H, W\), found shape \(8, 8\)"),
    (
        "label 0 in a patch set",
        call(patches(labels=np.array([0, 1]))),
        DataError,
        r"labels must be >= 1 \(0 = unlabelled\), found 0",
    ),
    (
        "guide of another size",
        call(patches(guides=[np.zeros((2, 8, 7), np.float32)])),
        DataError,
        r"guide 0 must be \(G, 8, 8\), found \(2, 8, 7\)",
    ),
    (
        "zero-variance band",
        call(lambda: Standardizer.fit(np.stack([IMAGE[0], np.ones((8, 8))], -1), np.ones((8, 8), bool))),
        DataError,
        r"channels \[1\] have zero variance over the training pixels",
    ),
    (
        "standardizer on NaN",
        call(lambda: Standardizer.fit(np.full((8, 8, 2), np.nan), np.ones((8, 8), bool))),
        DataError,
        r"training pixels: expected finite values, found 128 NaN",
    ),
    (
        "standardizer without training pixels",
        call(lambda: Standardizer.fit(np.ones((8, 8, 2)), np.zeros((8, 8), bool))),
        DataError,
        r"0 training pixels",
    ),
    # config objects
    (
        "unknown masking mode",
        call(lambda: MaskingConfig(mode="bogus")),
        ConfigError,
        r"mode must be one of \['none', 'random', 'random_matched', 'adaptive'\], found 'bogus'",
    ),
    (
        "masking p0 > p_max",
        call(lambda: MaskingConfig(p0=0.6)),
        ConfigError,
        r"p0 must be in \[0, p_max=0\.5\], found 0\.6",
    ),
    (
        "epochs as text",
        call(lambda: PretrainConfig(epochs="3")),
        ConfigError,
        r"PretrainConfig\.epochs: expected int, found str '3'",
    ),
    (
        "infinite learning rate",
        call(lambda: PretrainConfig(lr=math.inf)),
        ConfigError,
        r"PretrainConfig\.lr: expected a finite number, found float inf",
    ),
    (
        "nested config as dict",
        call(lambda: PretrainConfig(masking={"mode": "none"})),
        ConfigError,
        r"PretrainConfig\.masking: expected MaskingConfig, found dict",
    ),
    (
        "NaN learning rate",
        call(lambda: TrainConfig(lr=math.nan)),
        ConfigError,
        r"TrainConfig\.lr: expected a finite number, found float nan",
    ),
    (
        "bool epochs",
        call(lambda: TrainConfig(epochs=True)),
        ConfigError,
        r"TrainConfig\.epochs: expected int, found bool True",
    ),
    (
        "negative weight decay",
        call(lambda: TrainConfig(weight_decay=-1.0)),
        ConfigError,
        r"TrainConfig\.weight_decay must be >= 0, found -1\.0",
    ),
    (
        "unknown selection score",
        call(lambda: TrainConfig(select_on="f1")),
        ConfigError,
        r"TrainConfig\.select_on must be one of oa, aa, kappa; found 'f1'",
    ),
    (
        "timesteps not a tuple",
        call(lambda: FeatureConfig(timesteps=5)),
        ConfigError,
        r"FeatureConfig\.timesteps: expected tuple\[int, \.\.\.\], found int 5",
    ),
    (
        "tile too small for overlap",
        call(lambda: FeatureConfig(tile=8, overlap=4)),
        ConfigError,
        r"tile must exceed 2 \* overlap = 8, found 8",
    ),
    (
        "unknown feature reduction",
        call(lambda: FeatureConfig(reduce="max")),
        ConfigError,
        r"reduce must be one of \['mean', 'concat'\], found 'max'",
    ),
    (
        "U-Net width vs groups",
        call(lambda: UNetConfig(base_width=12)),
        ConfigError,
        r"base_width must be a positive multiple of norm_groups=8, found 12",
    ),
    (
        "U-Net mults as text",
        call(lambda: UNetConfig(channel_mults="12")),
        ConfigError,
        r"UNetConfig\.channel_mults: expected tuple\[int, \.\.\.\], found str '12'",
    ),
    (
        "unknown noise schedule",
        call(lambda: DiffusionConfig(schedule="quadratic")),
        ConfigError,
        r"schedule must be one of \['linear', 'cosine'\], found 'quadratic'",
    ),
    (
        "unknown baseline model",
        call(lambda: BaselineConfig(models=("knn",))),
        ConfigError,
        r"models: unknown \['knn'\]",
    ),
    ("Mamba width 0", call(lambda: MambaConfig(d_model=0)), ConfigError, r"d_model must be an int >= 1, found 0"),
    (
        "synthetic share out of range",
        call(lambda: SyntheticSceneConfig(spectral_share=1.5)),
        ConfigError,
        r"spectral_share must be in \[0, 1\], found 1\.5",
    ),
    (
        "timestep beyond T",
        call(
            lambda: extract_features(
                tiny_diffusion(), IMAGE[:1].repeat(5, 0), FeatureConfig(timesteps=(10,)), progress=False
            )
        ),
        ConfigError,
        r"timesteps must be < T=10",
    ),
    # papermill / bdgf-run parameters (the CLI itself: test_bdgf_run_rejects_bad_arguments)
    (
        "parameter seed as text",
        call(lambda: RunParameters(seed="0")),
        ConfigError,
        r"RunParameters\.seed: expected int, found str '0'",
    ),
    (
        "parameter seed negative",
        call(lambda: RunParameters(seed=-2)),
        ConfigError,
        r"RunParameters\.seed: expected an integer >= 0, found -2",
    ),
    (
        "parameter quick as text",
        call(lambda: RunParameters(quick="yes")),
        ConfigError,
        r"RunParameters\.quick: expected bool, found str 'yes'",
    ),
    (
        "parameter masking unknown",
        call(lambda: RunParameters(masking="bogus")),
        ConfigError,
        r"RunParameters\.masking: expected one of \['none', 'random', 'random_matched', 'adaptive'\]",
    ),
    (
        "parameter dataset unknown",
        call(lambda: RunParameters(dataset="nope")),
        ConfigError,
        r"RunParameters\.dataset: unknown 'nope'; known: \[.*'synthetic'",
    ),
    (
        "notebook parameter of another type",
        call(lambda: run_context({"seed": True})),
        ConfigError,
        r"RunParameters\.seed: expected int, found bool True",
    ),
    (
        "RunConfig parameters not RunParameters",
        call(lambda: RunConfig(params="yes")),
        ConfigError,
        r"RunConfig\.params: expected RunParameters, found str 'yes'",
    ),
    (
        "RunConfig unknown notebook",
        call(lambda: RunConfig(notebooks="42")),
        ConfigError,
        r"--notebooks: no notebook numbered '42'",
    ),
    # training entry points
    (
        "pretrain on NaN patches",
        call(tiny_pretrain(x0=jobs.pretrain_data().index_fill(0, torch.tensor([3]), math.nan))),
        DataError,
        r"x0 must hold finite values, found 320 NaN or inf",
    ),
    (
        "pretrain channel groups",
        call(tiny_pretrain(groups={"hsi": 3, "lidar": 1})),
        DataError,
        r"channel_groups \{'hsi': 3, 'lidar': 1\} sum to 4 channels, x0 has 5",
    ),
    (
        "pretrain on 4 patches",
        call(tiny_pretrain(x0=jobs.pretrain_data()[:4])),
        DataError,
        r"need at least 5 patches .*found 4",
    ),
    (
        "DDPM too large for memory",
        memory_limited(call(tiny_pretrain())),
        ResourceError,
        r"pretraining the DDPM \(batch 8 of \(5, 8, 8\) patches\) needs about .* found 1\.0 KiB available",
    ),
    (
        "labels above the classifier's classes",
        call(tiny_classifier_job(n_classes=2)),
        DataError,
        r"train_set holds label 3, expected labels 1\.\.n_classes=2",
    ),
    ("empty validation set", call(tiny_classifier_job(empty_val=True)), DataError, r"val_set holds no pixels"),
    (
        "classifier too large for memory",
        memory_limited(call(tiny_classifier_job())),
        ResourceError,
        r"training TinyNet with batch 64 needs about .* found 1\.0 KiB available",
    ),
    (
        "features of a NaN image",
        call(
            lambda: extract_features(
                tiny_diffusion(), np.full((5, 8, 8), np.nan, np.float32), FeatureConfig(timesteps=(1,)), progress=False
            )
        ),
        DataError,
        r"image must hold finite values, found 320 NaN or inf",
    ),
    (
        "map with patch larger than scene",
        call(lambda: predict_map(jobs.TinyNet(3, 2), IMAGE, 9)),
        DataError,
        r"patch size must be an int in \[1, 8\] for a 8x8 scene, found 9",
    ),
    (
        "map with 0 rows per tile",
        call(lambda: predict_map(jobs.TinyNet(3, 2), IMAGE, 3, tile_rows=0)),
        ConfigError,
        r"tile_rows must be an int >= 1, found 0",
    ),
    # checkpoints
    (
        "checkpoint missing",
        lambda tmp: lambda: load_checkpoint(tmp / "nope.ckpt"),
        CheckpointError,
        r"nope\.ckpt: file not found",
    ),
    (
        "checkpoint truncated",
        checkpoint(lambda d: d[:-7]),
        CorruptCheckpointError,
        r"ck\.pt: truncated or padded payload \(expected \d+ bytes, found \d+\)",
    ),
    (
        "checkpoint byte flipped",
        checkpoint(flip(-20)),
        CorruptCheckpointError,
        r"ck\.pt: corrupt payload \(sha256 does not match the header\)",
    ),
    ("checkpoint header cut", checkpoint(lambda d: d[:30]), CorruptCheckpointError, r"ck\.pt: corrupt header"),
    (
        "not a checkpoint",
        checkpoint(lambda d: b"PK\x03\x04" + d[4:]),
        CorruptCheckpointError,
        r"ck\.pt: not a bdgf checkpoint",
    ),
    (
        "checkpoint of another config",
        checkpoint(expected={"width": 16}),
        CheckpointError,
        r"ck\.pt: written for another config; width: checkpoint has 8, expected 16",
    ),
    (
        "weights of another architecture",
        architecture_mismatch,
        CheckpointError,
        r"weights do not fit this TinyNet \(another architecture\?\): "
        r"shape mismatch conv\.weight: checkpoint \(8, 4, 3, 3\), model \(6, 4, 3, 3\)",
    ),
    (
        "resume with another train config",
        resume_train("config"),
        CheckpointError,
        r"clf\.ckpt: written for another config; train\.lr: checkpoint has 0\.001, expected 0\.005",
    ),
    (
        "resume with another model",
        resume_train("model"),
        CheckpointError,
        r"another config; model\.width: checkpoint has 8, expected 16",
    ),
    (
        "resume on other data",
        resume_train("data"),
        CheckpointError,
        r"another config; data\.train: checkpoint has '[0-9a-f]{16}', expected '[0-9a-f]{16}'; data\.val",
    ),
]


def snapshot(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize(("setup", "error", "pattern"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_one_clear_project_error(
    tmp_path: Path, setup: Callable[[Path], Callable[[], Any]], error: type[BDGFError], pattern: str
) -> None:
    run = setup(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(error) as caught:
        run()
    assert re.search(pattern, str(caught.value)), f"message {str(caught.value)!r} does not match {pattern!r}"
    raised_in = Path(str(caught.traceback[-1].path)).resolve()
    assert PACKAGE in raised_in.parents, f"raised from {raised_in}, not from project code"
    assert snapshot(tmp_path) == before, "files were written, changed or left behind"


def test_every_case_has_a_unique_name() -> None:
    names = [c[0] for c in CASES]
    assert len(names) == len(set(names))


# --- bdgf-run ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "pattern"),
    [
        (["--dataset", "nope"], r"bdgf-run: error: --dataset: unknown 'nope'; known: \["),
        (["--seed", "-1"], r"bdgf-run: error: argument --seed: expected an integer >= 0, found '-1'"),
        (["--seed", "abc"], r"bdgf-run: error: argument --seed: expected an integer >= 0, found 'abc'"),
        (["--seeds", "-2"], r"bdgf-run: error: argument --seeds: expected an integer >= 0, found '-2'"),
        (["--notebooks", "42"], r"bdgf-run: error: --notebooks: no notebook numbered '42'; available: \['00'"),
        (["--notebooks", "x1"], r"no notebook numbered 'x1'"),
        (["--quick=yes"], r"bdgf-run: error: argument --quick: ignored explicit argument 'yes'"),
        (["--epochs", "3"], r"bdgf-run: error: unrecognized arguments: --epochs 3"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else "",
)
def test_bdgf_run_rejects_bad_arguments(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], pattern: str
) -> None:
    """One line on stderr, exit status 2, no traceback, no notebook started, nothing written."""
    try:
        status = main([*argv, "--out", str(tmp_path / "out")])
    except SystemExit as exit_:  # argparse's own errors
        status = exit_.code
    err = capsys.readouterr().err
    assert status == 2
    assert re.search(pattern, err), err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_bdgf_run_help_lists_every_parameter_with_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for option, default in [
        ("--dataset", "synthetic"),
        ("--quick", "False"),
        ("--seed", "0"),
        ("--seeds", "0"),
        ("--out", "outputs"),
        ("--notebooks", "None"),
    ]:
        assert re.search(rf"{option} (?:(?! --).)*?\(default: {default}\)", text), option


@pytest.mark.slow
@pytest.mark.parametrize(
    ("parameters", "ename", "evalue"),
    [
        ({"dataset": "nope"}, "ConfigError", r"RunParameters\.dataset: unknown 'nope'; known: \["),
        (
            {"masking": "bogus"},
            "ConfigError",
            r"RunParameters\.masking: "
            r"expected one of \['none', 'random', 'random_matched', 'adaptive'\], found 'bogus'",
        ),
    ],
    ids=["unknown dataset", "unknown masking mode"],
)
def test_papermill_parameters_fail_in_the_first_cell_with_a_project_error(
    tmp_path: Path, parameters: dict[str, Any], ename: str, evalue: str
) -> None:
    """Notebooks run directly through papermill (not bdgf-run) report the project error."""
    import papermill

    from bdgf_nb.cli.run import NOTEBOOK_DIR

    source = NOTEBOOK_DIR / "01_masked_ddpm_pretraining.ipynb"
    with pytest.raises(papermill.PapermillExecutionError) as caught:
        papermill.execute_notebook(
            str(source),
            str(tmp_path / source.name),
            cwd=str(NOTEBOOK_DIR),
            progress_bar=False,
            kernel_name="python3",
            parameters={"quick": True, "out_dir": str(tmp_path / "out"), **parameters},
        )
    assert caught.value.ename == ename and re.search(evalue, caught.value.evalue), caught.value.evalue
    assert not (tmp_path / "out").exists()  # failed before writing anything


# --- properties over every input of a kind ----------------------------------------------------

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(cut=st.floats(0.0, 0.999))
def test_any_truncation_of_an_npz_is_a_data_error(tmp_path: Path, cut: float) -> None:
    path = tmp_path / "t.npz"
    np.savez(path, hsi=arrays()["hsi"])
    data = path.read_bytes()
    path.write_bytes(data[: int(cut * len(data))])
    with pytest.raises(DataError, match=r"t\.npz"):
        read_array(path, "hsi")


@FAST
@given(offset=st.integers(0, 10**6), cut=st.booleans())
def test_any_damage_to_a_checkpoint_is_detected_or_harmless(tmp_path: Path, offset: int, cut: bool) -> None:
    """Truncation anywhere, or any flipped byte: CheckpointError, or (a flip that leaves the
    header's JSON meaning intact, e.g. a space turned into a tab) the original state."""
    path = tmp_path / "ck.pt"
    state = {"w": torch.arange(20.0), "epoch": 3}
    save_checkpoint(path, state, {"width": 8})
    data = path.read_bytes()
    offset %= len(data)
    path.write_bytes(data[:offset] if cut else flip(offset)(data))
    try:
        loaded = load_checkpoint(path, expected_config={"width": 8})
    except CheckpointError:
        return
    assert torch.equal(loaded["w"], state["w"]) and loaded["epoch"] == 3


@FAST
@given(offset=st.integers(0, 10**6), cut=st.booleans())
def test_a_damaged_feature_cache_is_rebuilt_never_used(tmp_path: Path, offset: int, cut: bool) -> None:
    maps = [np.arange(24, dtype=np.float32).reshape(2, 3, 4), np.ones((1, 3, 4), np.float32)]
    key = {"dataset": "toy", "shape": [5, 3, 4]}
    cached_features(tmp_path, key, lambda: maps)
    (path,) = tmp_path.glob("*.npz")
    data = path.read_bytes()
    offset %= len(data)
    path.write_bytes(data[:offset] if cut else flip(offset)(data))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got, _ = cached_features(tmp_path, key, lambda: maps)
    for a, b in zip(got, maps, strict=True):
        np.testing.assert_array_equal(a, b)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 300),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.integers(-2, 5), max_size=3),
    st.tuples(st.integers(0, 9)),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
CONFIGS = {
    MaskingConfig: {},
    PretrainConfig: {},
    TrainConfig: {},
    FeatureConfig: {},
    UNetConfig: {},
    DiffusionConfig: {},
    SyntheticSceneConfig: {},
    BaselineConfig: {},
    MambaConfig: {"d_model": 16},
    RunConfig: {},
    RunParameters: {},
}


@pytest.mark.parametrize("cls", list(CONFIGS), ids=lambda c: c.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_config_value_is_accepted_or_a_config_error_naming_a_field(cls: type, data: st.DataObject) -> None:
    base = CONFIGS[cls]
    names = [f.name for f in cls.__dataclass_fields__.values() if f.init]
    name = data.draw(st.sampled_from(names))
    value = data.draw(VALUES)
    try:
        cls(**{**base, name: value})
    except ConfigError as err:
        assert any(n in str(err) for n in names), str(err)


@settings(max_examples=60, deadline=None)
@given(
    gt=st.lists(st.integers(-1, 4), min_size=12, max_size=12),
    n_classes=st.integers(1, 4),
    nan_at=st.one_of(st.none(), st.integers(0, 23)),
)
def test_any_scene_is_valid_or_a_data_error(gt: list[int], n_classes: int, nan_at: int | None) -> None:
    hsi = np.random.default_rng(0).random((3, 4, 2))
    if nan_at is not None:
        hsi.flat[nan_at] = np.nan
    labels = np.array(gt).reshape(3, 4)
    try:
        made = Scene("h", {"hsi": hsi}, labels, tuple(f"c{i}" for i in range(n_classes)))
    except DataError:
        return
    assert nan_at is None and labels.min() >= 0 and set(range(1, n_classes + 1)) == set(labels[labels > 0].tolist())
    assert made.n_classes == n_classes


# --- atomic writes, corrupt checkpoints, memory guards, tiled inference -----------------------


def test_a_corrupt_checkpoint_is_set_aside_and_training_starts_afresh(tmp_path: Path) -> None:
    path = tmp_path / "clf.ckpt"
    path.write_bytes(b"BDGFCKPT1\n{not json")
    with pytest.warns(
        UserWarning, match=r"clf\.ckpt: corrupt header .*moved it to .*clf\.ckpt\.corrupt and starting afresh"
    ):
        resumed = jobs.run_train(path)
    fresh = jobs.run_train(None)
    for (name, a), b in zip(resumed.model.state_dict().items(), fresh.model.state_dict().values(), strict=True):
        assert torch.equal(a, b), name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clf.ckpt", "clf.ckpt.corrupt"]
    assert (tmp_path / "clf.ckpt.corrupt").read_bytes() == b"BDGFCKPT1\n{not json"  # kept, never used


def test_temp_files_of_killed_writers_are_swept_but_live_ones_kept(tmp_path: Path) -> None:
    target = tmp_path / "ck.pt"
    dead = tmp_path / ".ck.pt.4194305.abc.tmp"  # above Linux's pid_max: no such process
    live = tmp_path / f".ck.pt.{os.getpid()}.def.tmp"  # a concurrent writer in this process
    other = tmp_path / ".other.pt.4194305.abc.tmp"  # another file's temp: not ours to judge
    for p in (dead, live, other):
        p.write_bytes(b"half")
    save_checkpoint(target, {"a": 1}, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([target.name, live.name, other.name])
    assert load_checkpoint(target)["a"] == 1


def test_memory_estimates_and_check() -> None:
    assert memory.scene_bytes(10, 20, 3, patch=5) == 4 * 3 * (3 * 200 + 14 * 24)
    free = memory.available_bytes()
    assert free is not None and free > 0
    net = jobs.TinyNet(4, 3)
    x = torch.zeros(2, 4, 5, 5)
    params = sum(p.numel() for p in net.parameters()) * 4
    one, many = (memory.training_bytes(net, lambda: net(x, []), 2, b) for b in (1, 100))
    assert params * 4 < one < many and net.training  # the eval-mode probe restores train mode
    memory.check_memory(1, "a byte")
    with pytest.raises(ResourceError, match=r"a lot needs about 1024\.0 TiB of memory, found .* available; buy more"):
        memory.check_memory(2**50, "a lot", hint="buy more")
    os.environ[memory.SKIP_ENV] = "1"
    try:
        memory.check_memory(2**50, "a lot")  # bypassed on request
    finally:
        del os.environ[memory.SKIP_ENV]


@pytest.mark.parametrize("tile_rows", [1, 3, 7, 64])
def test_tiled_scene_map_equals_one_pass(tile_rows: int) -> None:
    torch.manual_seed(0)
    net = jobs.TinyNet(3, 4)
    image = np.random.default_rng(1).normal(size=(3, 13, 9)).astype(np.float32)
    guide = np.random.default_rng(2).normal(size=(2, 13, 9)).astype(np.float32)
    everything = np.argwhere(np.ones((13, 9), bool))
    one_pass = predict(net, PatchDataset(image, everything, np.ones(len(everything), np.int64), 5, [guide]))[
        "probabilities"
    ]
    expected = (one_pass.argmax(1) + 1).reshape(13, 9)
    np.testing.assert_array_equal(predict_map(net, image, 5, [guide], tile_rows=tile_rows), expected)
    mask = np.random.default_rng(3).random((13, 9)) < 0.4
    np.testing.assert_array_equal(
        predict_map(net, image, 5, [guide], mask=mask, tile_rows=tile_rows), np.where(mask, expected, 0)
    )
