import numpy as np
import pytest
import torch

from bdgf_nb.ddpm.diffusion import DiffusionConfig, GaussianDiffusion
from bdgf_nb.ddpm.features import (
    FeatureConfig,
    cached_features,
    extract_features,
    feature_cache_key,
)
from bdgf_nb.ddpm.unet import DenoiserUNet, UNetConfig
from bdgf_nb.errors import ConfigError

GROUPS = {"hsi": 4, "lidar": 1}


@pytest.fixture(scope="module")
def diffusion():
    torch.manual_seed(0)
    d = GaussianDiffusion(
        DenoiserUNet(UNetConfig(in_channels=5, base_width=8, num_res_blocks=1, modality_channels=(4, 1))),
        DiffusionConfig(T=100),
        GROUPS,
    )
    for p in d.parameters():
        p.data.normal_(0, 0.1)
    return d.eval()


def image(h=19, w=23):
    return np.random.default_rng(0).normal(size=(5, h, w)).astype(np.float32)


def test_shapes_dtype_and_determinism(diffusion):
    cfg = FeatureConfig(timesteps=(5, 50), tile=16, overlap=4, batch_size=3)
    a = extract_features(diffusion, image(), cfg, progress=False)
    b = extract_features(diffusion, image(), cfg, progress=False)
    assert [m.shape for m in a] == [(8, 19, 23), (16, 19, 23), (16, 19, 23)]
    assert all(m.dtype == np.float32 and np.isfinite(m).all() for m in a)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


def test_concat_is_timestep_major_and_mean_is_its_average(diffusion):
    mean = extract_features(diffusion, image(), FeatureConfig(timesteps=(5, 50), tile=16, overlap=4), progress=False)
    cat = extract_features(
        diffusion, image(), FeatureConfig(timesteps=(5, 50), tile=16, overlap=4, reduce="concat"), progress=False
    )
    for m, c in zip(mean, cat, strict=True):
        g = m.shape[0]
        assert c.shape[0] == 2 * g
        np.testing.assert_allclose((c[:g] + c[g:]) / 2, m, atol=1e-6)


def test_single_tile_equals_direct_forward_on_the_padded_scene(diffusion):
    img = image(12, 12)
    cfg = FeatureConfig(timesteps=(50,), tile=20, overlap=4)  # one 20 x 20 tile covers 12 x 12 + 4 each side
    maps = extract_features(diffusion, img, cfg, progress=False)
    noise = torch.randn(img.shape, generator=torch.Generator().manual_seed(0))
    t = torch.tensor([50])
    x_t = diffusion.q_sample(torch.from_numpy(img)[None], t, noise[None])[0].numpy()
    padded = torch.from_numpy(np.pad(x_t, ((0, 0), (4, 4), (4, 4)), mode="reflect"))[None]
    with torch.no_grad():
        direct = diffusion.denoiser.forward_features(padded, t)
    for m, d in zip(maps, direct, strict=True):
        np.testing.assert_allclose(m, d[0, :, 4:16, 4:16].numpy(), atol=1e-5)


def test_tiles_agree_with_one_big_tile_in_the_interior(diffusion):
    img = image(24, 24)
    big = extract_features(diffusion, img, FeatureConfig(timesteps=(50,), tile=40, overlap=8), progress=False)
    tiled = extract_features(diffusion, img, FeatureConfig(timesteps=(50,), tile=24, overlap=8), progress=False)
    # identical noise per pixel; seams differ only by context beyond the overlap, far from the border
    for b, t in zip(big, tiled, strict=True):
        err = np.abs(b - t)[:, 4:-4, 4:-4].mean() / np.abs(b).mean()
        assert err < 0.1, err


def test_config_validation(diffusion):
    with pytest.raises(ConfigError, match=r"reduce must be one of \['mean', 'concat'\], found 'max'"):
        FeatureConfig(reduce="max")
    with pytest.raises(ConfigError, match=r"timesteps must be < T=100"):
        extract_features(diffusion, image(), FeatureConfig(timesteps=(100,)), progress=False)


def test_cache_hit_miss_and_corrupt_rebuild(tmp_path, diffusion):
    key = feature_cache_key("toy", (5, 4, 6), FeatureConfig(), diffusion)
    calls = []

    def compute():
        calls.append(1)
        return [np.full((2, 4, 6), len(calls), np.float32), np.zeros((3, 4, 6), np.float32)]

    maps, hit = cached_features(tmp_path, key, compute)
    assert not hit and len(calls) == 1
    again, hit = cached_features(tmp_path, key, compute)
    assert hit and len(calls) == 1
    np.testing.assert_array_equal(again[0], maps[0])
    other, hit = cached_features(tmp_path, {**key, "dataset": "other"}, compute)
    assert not hit and len(calls) == 2
    (path,) = [p for p in tmp_path.glob("*.npz") if p.read_bytes() and "toy" in str(np.load(p)["key"])]
    path.write_bytes(path.read_bytes()[:100])
    with pytest.warns(UserWarning, match="unusable.*rebuilding"):
        rebuilt, hit = cached_features(tmp_path, key, compute)
    assert not hit and len(calls) == 3 and rebuilt[0][0, 0, 0] == 3
    assert cached_features(tmp_path, key, compute)[1]
    assert (
        key["checkpoint"]
        != feature_cache_key(
            "toy",
            (5, 4, 6),
            FeatureConfig(),
            GaussianDiffusion(
                DenoiserUNet(UNetConfig(in_channels=5, base_width=8, num_res_blocks=1, modality_channels=(4, 1))),
                DiffusionConfig(T=100),
                GROUPS,
            ),
        )["checkpoint"]
    )


@pytest.mark.parametrize("patch", [1, 3, 5, 7, 9, 11, 13, 21])
def test_features_are_read_at_the_training_patch(patch):
    """The pipeline pretrains on the scene's patch (7 on idtrees_mlbs, 11 elsewhere) and reads
    features through `at_patch`: tiles of exactly that size, a valid overlap, other fields kept."""
    base = FeatureConfig(timesteps=(5, 50), batch_size=32)
    cfg = base.at_patch(patch)
    assert cfg.tile == patch and 0 <= cfg.overlap <= base.overlap and cfg.tile > 2 * cfg.overlap
    assert (cfg.timesteps, cfg.batch_size, cfg.reduce) == (base.timesteps, base.batch_size, base.reduce)
    if patch == 11:
        assert cfg == FeatureConfig(
            timesteps=(5, 50), batch_size=32
        )  # the validated default: unchanged, same cache key
    with pytest.raises(ConfigError, match=r"patch must be an int >= 1, found 0"):
        base.at_patch(0)
