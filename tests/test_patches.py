import numpy as np
import pytest
import torch

from bdgf_nb.data.patches import (
    PatchDataset,
    Standardizer,
    gather_patches,
    hwc_storage,
    pixels_of,
    unlabelled_patches,
)
from bdgf_nb.errors import DataError


def test_patches_match_reflect_padded_crops_at_borders():
    rng = np.random.default_rng(0)
    image = rng.normal(size=(3, 12, 15)).astype(np.float32)
    pixels = np.array([[0, 0], [11, 14], [5, 7], [0, 14]])
    ds = PatchDataset(image, pixels, np.array([1, 2, 3, 1]), patch=5, guides=[image[:1] * 2])
    padded = np.pad(image, ((0, 0), (2, 2), (2, 2)), mode="reflect")
    x, guides, y = ds.batch(torch.arange(4))
    for i, (r, c) in enumerate(pixels):
        np.testing.assert_array_equal(x[i].numpy(), padded[:, r : r + 5, c : c + 5])
        np.testing.assert_array_equal(x[i, :, 2, 2].numpy(), image[:, r, c])  # centre is the pixel
    np.testing.assert_array_equal(guides[0].numpy(), 2 * x[:, :1].numpy())
    assert y.tolist() == [0, 1, 2, 0]  # 0-based targets
    assert ds[2][0].shape == (3, 5, 5)


def test_standardizer_uses_training_pixels_only():
    stacked = np.zeros((4, 4, 2), np.float32)
    stacked[:2] = np.random.default_rng(0).normal(size=(2, 4, 2))
    stacked[2:] = 1000.0  # test region: must not influence the statistics
    stacked[2:, :, 1] += np.arange(4)
    train = np.zeros((4, 4), bool)
    train[:2] = True
    std = Standardizer.fit(stacked, train)
    out = std.transform(stacked)
    np.testing.assert_allclose(out[train].mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(out[train].std(0), 1.0, atol=1e-4)


def test_bad_inputs_have_clear_errors():
    image = np.zeros((2, 6, 6), np.float32)
    with pytest.raises(DataError, match="patch size 7 is larger than the scene 6x6"):
        PatchDataset(image, np.array([[0, 0]]), np.array([1]), patch=7)
    with pytest.raises(DataError, match="odd"):
        PatchDataset(image, np.array([[0, 0]]), np.array([1]), patch=4)
    with pytest.raises(DataError, match=r"labels must be >= 1"):
        PatchDataset(image, np.array([[0, 0]]), np.array([0]), patch=3)
    with pytest.raises(DataError, match="zero variance"):
        Standardizer.fit(np.ones((3, 3, 2), np.float32), np.ones((3, 3), bool))


def test_unlabelled_patches_are_seeded():
    image = np.random.default_rng(0).normal(size=(2, 20, 20)).astype(np.float32)
    a, b = unlabelled_patches(image, 16, 5, seed=1), unlabelled_patches(image, 16, 5, seed=1)
    assert a.shape == (16, 2, 5, 5) and torch.equal(a, b)
    assert pixels_of(np.eye(3, dtype=bool)).tolist() == [[0, 0], [1, 1], [2, 2]]


def _advanced_index_gather(padded: torch.Tensor, rows: torch.Tensor, cols: torch.Tensor, patch: int) -> torch.Tensor:
    """The pre-speed-up gather: broadcast (b, p, p) index grids into (C, H, W)."""
    offsets = torch.arange(patch)
    r_idx = (rows[:, None] + offsets[None, :])[:, :, None]
    c_idx = (cols[:, None] + offsets[None, :])[:, None, :]
    return padded[:, r_idx, c_idx].permute(1, 0, 2, 3).contiguous()


@pytest.mark.parametrize("patch", [1, 5, 11])
def test_gather_equals_advanced_indexing_and_is_contiguous(patch):
    g = torch.Generator().manual_seed(0)
    padded = torch.randn(7, 20 + patch, 23 + patch, generator=g)
    rows, cols = torch.randint(0, 21, (9,), generator=g), torch.randint(0, 24, (9,), generator=g)
    expected = _advanced_index_gather(padded, rows, cols, patch)
    for layout in (padded, hwc_storage(padded)):
        got = gather_patches(layout, rows, cols, patch)
        assert got.is_contiguous() and torch.equal(got, expected)


def test_fingerprint_does_not_depend_on_the_storage_layout():
    """Checkpoints store the fingerprint: the (H, W, C) storage must hash like the (C, H, W) one."""
    import hashlib

    rng = np.random.default_rng(0)
    image = rng.normal(size=(3, 12, 15)).astype(np.float32)
    ds = PatchDataset(image, np.array([[1, 2], [3, 4]]), np.array([1, 2]), patch=5, guides=[image[:2]])
    digest = hashlib.sha256(b"5;")
    for tensor in (ds.rows, ds.cols, ds.targets):
        digest.update(tensor.numpy().tobytes())
    for tensor in (ds.padded, *ds.padded_guides):
        chw = tensor.contiguous()  # what the (C, H, W)-stored dataset hashed
        flat = chw.reshape(-1)
        digest.update(f"{tuple(chw.shape)};".encode() + flat[:: max(1, flat.numel() // 2**16)].numpy().tobytes())
    assert ds.fingerprint() == digest.hexdigest()[:16]
