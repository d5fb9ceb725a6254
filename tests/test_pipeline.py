"""The notebooks' steps end to end on a tiny synthetic scene."""

import numpy as np
import pytest

from bdgf_nb.data.load import load_scene
from bdgf_nb.data.sampling import limit_mask
from bdgf_nb.errors import ConfigError
from bdgf_nb.pipeline.context import DDPMSource, RunContext
from bdgf_nb.pipeline.presets import preset
from bdgf_nb.pipeline.steps import (
    DiffusionFeatures,
    baseline_scene_map,
    fused_baselines,
    predict_scene,
    prepare,
    train_variant,
)
from bdgf_nb.pipeline.variants import Variant, branch_variant

NONE = DiffusionFeatures.absent()
CNN_UNGUIDED = branch_variant("cnn", guided=False)


@pytest.fixture(scope="module")
def tiny():
    return prepare(RunContext.create("synthetic", quick=True), load_scene("synthetic", size=64, n_bands=8))


def test_checkpoint_names_come_from_the_run_context_and_the_ddpm_provenance(tmp_path):
    ctx = RunContext.create("synthetic", quick=True, seed=2, out_dir=tmp_path)
    assert ctx.ddpm_checkpoint("s", DDPMSource("none", 2)).name == "ddpm_s_none_quick_seed2.pt"
    assert (
        ctx.classifier_checkpoint("s", "bdgf", DDPMSource("adaptive", 2), 3).name
        == "clf_s_bdgf_ddpm-adaptive_quick_seed3.pt"
    )
    assert (
        ctx.classifier_checkpoint("s", "bdgf", DDPMSource("adaptive", 5), 3).name
        == "clf_s_bdgf_ddpm-adaptive-seed5_quick_seed3.pt"
    )
    assert ctx.classifier_checkpoint("s", "bdgf", None, 3).name == "clf_s_bdgf_quick_seed3.pt"
    balanced = RunContext.create("synthetic", quick=True, seed=2, class_balanced=True, select_on="aa")
    assert balanced.classifier_checkpoint("s", "bdgf", None, 3).name == "clf_s_bdgf_balanced_select-aa_quick_seed3.pt"
    with pytest.raises(ConfigError, match="expected one of"):
        preset("huge")


def test_limit_mask_keeps_every_class_and_stays_inside_the_mask(tiny):
    mask = tiny.split.fit
    kept = limit_mask(mask, tiny.labels, 60, seed=0)
    assert kept.sum() == 60 and not np.any(kept & ~mask)
    assert set(np.unique(tiny.labels[kept])) == set(np.unique(tiny.labels[mask]))
    assert np.array_equal(limit_mask(mask, tiny.labels, None), mask)
    assert np.array_equal(kept, limit_mask(mask, tiny.labels, 60, seed=0))


def test_train_variant_scores_on_test_pixels_and_reloads_from_its_checkpoint(tiny, tmp_path, monkeypatch):
    import bdgf_nb.pipeline.steps

    ctx = RunContext.create("synthetic", quick=True, out_dir=tmp_path)
    first = train_variant(ctx, tiny, NONE, CNN_UNGUIDED, progress=False)
    assert (first.seed, first.ddpm) == (0, None)
    assert first.report["n_test"] == int(tiny.split.test.sum())
    assert 0 <= first.report["overall_accuracy"] <= 100 and first.n_parameters > 0
    stored = ctx.classifier_checkpoint(tiny.scene.name, "cnn_only+no_guidance", None, 0).with_suffix(".eval.json")
    assert stored.is_file()  # the evaluation, beside its checkpoint
    computed = {"calls": 0}
    original = bdgf_nb.pipeline.steps.predict

    def counted(*args, **kwargs):
        computed["calls"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(bdgf_nb.pipeline.steps, "predict", counted)
    again = train_variant(ctx, tiny, NONE, CNN_UNGUIDED, progress=False)
    assert (
        again.report == first.report and computed["calls"] == 0
    )  # reloaded with its stored evaluation: nothing predicted
    stored.write_text("{not json")  # a damaged stored evaluation is computed again, with the same result
    assert (
        train_variant(ctx, tiny, NONE, CNN_UNGUIDED, progress=False).report == first.report and computed["calls"] == 1
    )
    from dataclasses import replace

    fewer = tiny.split.test.copy()
    fewer[tuple(np.argwhere(fewer)[0])] = False  # other test pixels, same checkpoint: scored again, not read
    changed = train_variant(
        ctx, replace(tiny, split=replace(tiny.split, test=fewer)), NONE, CNN_UNGUIDED, progress=False
    )
    assert changed.report["n_test"] == first.report["n_test"] - 1 and computed["calls"] == 2
    scene_map = predict_scene(tiny, first, NONE)
    assert scene_map.shape == tiny.labels.shape and scene_map.min() >= 1 and scene_map.max() <= tiny.n_classes
    stored_map = predict_scene(tiny, first, NONE, ctx)  # stored beside the checkpoint: the same map
    assert np.array_equal(stored_map, scene_map) and stored_map.dtype == scene_map.dtype
    assert ctx.classifier_checkpoint(tiny.scene.name, first.variant, None, first.seed).with_suffix(".map.npz").is_file()
    monkeypatch.setattr(
        bdgf_nb.pipeline.steps, "predict_map", lambda *a, **k: pytest.fail("a stored scene map was predicted again")
    )
    assert np.array_equal(predict_scene(tiny, first, NONE, ctx), scene_map)  # read back, not predicted


def test_unknown_variant_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown ablation 'no_such_thing'"):
        Variant("bad", ("bdgf", "no_such_thing"))


def test_fused_baselines_are_stored_per_seed_and_their_scene_map(tiny, tmp_path, monkeypatch):
    import bdgf_nb.pipeline.steps

    ctx = RunContext.create("synthetic", quick=True, out_dir=tmp_path)
    rows = fused_baselines(ctx, tiny)
    assert {r["method"] for r in rows} == {"SVM (centre)", "RF (centre)", "SVM (patch stats)", "RF (patch stats)"}
    assert ctx.baseline_results(tiny.scene.name, 0).is_file() and not ctx.baseline_results(tiny.scene.name, 1).exists()
    fitted = bdgf_nb.pipeline.steps.run_baselines

    def refit(*args, **kwargs):
        raise AssertionError("stored baselines fitted again")

    monkeypatch.setattr(bdgf_nb.pipeline.steps, "run_baselines", refit)
    assert fused_baselines(ctx, tiny) == rows  # read back: same rows, same column order
    assert [list(r) for r in fused_baselines(ctx, tiny)] == [list(r) for r in rows]
    monkeypatch.setattr(bdgf_nb.pipeline.steps, "run_baselines", fitted)
    other = fused_baselines(ctx, tiny, seed=1)  # another seed: its own file
    assert ctx.baseline_results(tiny.scene.name, 1).is_file() and len(other) == len(rows)
    scene_map = baseline_scene_map(ctx, tiny)
    assert scene_map.shape == tiny.labels.shape and set(np.unique(scene_map)) <= set(range(1, tiny.n_classes + 1))
    assert ctx.baseline_map(tiny.scene.name, 0, "rf", "patch_stats").is_file()
    monkeypatch.setattr(
        bdgf_nb.pipeline.steps, "fit_predict", lambda *a, **k: pytest.fail("a stored baseline map was fitted again")
    )
    assert np.array_equal(baseline_scene_map(ctx, tiny), scene_map)


def test_paired_variants_of_one_seed_see_the_same_pixels_in_the_same_order(tiny, tmp_path, monkeypatch):
    """The protocol's pairing: two variants of model seed 1 draw the same training pixels and
    the same batches in the same order; another seed draws other batches."""
    from dataclasses import replace

    from bdgf_nb.data.patches import PatchDataset

    short = preset("quick")
    ctx = RunContext("synthetic", replace(short, train=replace(short.train, epochs=1)), seed=0, out_dir=tmp_path)
    calls: list[list[tuple[int, list[int]]]] = []
    original = PatchDataset.batch

    def recording(self, index):
        calls[-1].append((len(self), (self.rows[index] * 1000 + self.cols[index]).tolist()))
        return original(self, index)

    monkeypatch.setattr(PatchDataset, "batch", recording)
    for variant, seed in ((CNN_UNGUIDED, 1), (branch_variant("mamba", guided=False), 1), (CNN_UNGUIDED, 2)):
        calls.append([])
        train_variant(ctx, tiny, NONE, variant, seed=seed, progress=False)
    fit_size = len(training_pixels_of(ctx, tiny, 1))
    seen = [
        [key for size, keys in run if size == fit_size for key in keys] for run in calls
    ]  # training batches, in order
    assert seen[0] and seen[0] == seen[1]
    assert seen[0] != seen[2]


def training_pixels_of(ctx, prepared, seed):
    from bdgf_nb.pipeline.steps import training_pixels

    fit, _ = training_pixels(ctx, prepared, seed)
    return np.flatnonzero(fit)


def test_features_are_extracted_at_the_scene_patch_the_ddpm_was_trained_on(tiny, tmp_path, monkeypatch):
    """A scene with a 7 x 7 patch (idtrees_mlbs) pretrains its DDPM on 7 x 7 patches, so its
    features must be read on 7 x 7 tiles, not the preset's default 11 (FeatureConfig.at_patch)."""
    import dataclasses
    from types import SimpleNamespace

    from bdgf_nb.pipeline import steps

    seen = {}
    monkeypatch.setattr(
        steps, "feature_cache_key", lambda name, shape, cfg, diffusion: seen.setdefault("cfg", cfg) and "key"
    )
    monkeypatch.setattr(
        steps, "cached_features", lambda folder, key, compute: ([np.zeros((2, 64, 64), np.float32)], False)
    )
    ctx = RunContext.create("synthetic", quick=True, out_dir=tmp_path)
    ddpm = SimpleNamespace(diffusion=None, source=DDPMSource("adaptive", 0))
    for patch, overlap in ((7, 2), (11, 3)):
        seen.clear()
        steps.extract_diffusion_features(ctx, dataclasses.replace(tiny, patch=patch), ddpm, progress=False)
        assert (seen["cfg"].tile, seen["cfg"].overlap) == (patch, overlap)


def test_exercise_parameters_reach_the_configs_and_name_their_own_checkpoints(tmp_path):
    """The chapters' exercise knobs (masking signal, width, KL weight, entropy matching) are run
    parameters: they set the preset's configs and, away from the preset's values, the file names,
    so an exercise never reloads (or clashes with) the default run's checkpoints."""
    from bdgf_nb.pipeline.parameters import RunParameters

    default = RunParameters(out_dir=str(tmp_path)).context()
    params = RunParameters(
        out_dir=str(tmp_path), masking_signal="reliance", width=48, lambda_kl=0.0, entropy_matching=True
    )
    ctx = params.context()
    assert ctx.preset.pretrain.masking.signal == "reliance" and ctx.preset.model.width == 48
    assert ctx.preset.model.mutual_config.lambda_kl == 0.0 and ctx.preset.model.mutual_config.entropy_matching
    assert default.preset.model.width == 32 and default.preset.pretrain.masking.signal == "feature"
    source = DDPMSource("adaptive", 0)
    assert ctx.ddpm_checkpoint("s", source).name == "ddpm_s_adaptive_signal-reliance_quick_seed0.pt"
    assert default.ddpm_checkpoint("s", source).name == "ddpm_s_adaptive_quick_seed0.pt"
    assert ctx.ddpm_checkpoint("s", DDPMSource("none", 0)).name == "ddpm_s_none_quick_seed0.pt"  # no signal to follow
    assert (
        ctx.classifier_checkpoint("s", "bdgf", source, 0).name
        == "clf_s_bdgf_ddpm-adaptive_w48_kl0_entropy_quick_seed0.pt"
    )
    with pytest.raises(ConfigError, match="masking_signal"):
        RunParameters(masking_signal="entropy")
    with pytest.raises(ConfigError, match="lambda_kl"):
        RunParameters(lambda_kl=-1.0)
    with pytest.raises(ConfigError, match="width"):
        RunParameters(width=30).context()  # not divisible by the attention heads


def test_features_per_timestep_average_to_the_runs_features(tmp_path):
    """The per-timestep maps of chapter 01's feature view are the very maps BDGF's features
    average (same tiles, same noise draws): their mean is the run's feature map."""
    from types import SimpleNamespace

    import torch

    from bdgf_nb.ddpm.diffusion import DiffusionConfig, GaussianDiffusion
    from bdgf_nb.ddpm.unet import DenoiserUNet, UNetConfig
    from bdgf_nb.pipeline import steps

    torch.manual_seed(0)
    groups = {"hsi": 4, "lidar": 1}
    diffusion = GaussianDiffusion(
        DenoiserUNet(UNetConfig(in_channels=5, base_width=8, num_res_blocks=1, modality_channels=(4, 1))),
        DiffusionConfig(T=1000),
        groups,
    ).eval()
    image = np.random.default_rng(0).normal(size=(5, 16, 16)).astype(np.float32)
    prepared = SimpleNamespace(scene=SimpleNamespace(name="toy"), image=image, patch=11)
    ddpm = SimpleNamespace(diffusion=diffusion, source=DDPMSource("adaptive", 0))
    ctx = RunContext.create("synthetic", quick=True, out_dir=tmp_path)
    per_t = steps.features_per_timestep(ctx, prepared, ddpm, progress=False)
    mean = steps.extract_diffusion_features(ctx, prepared, ddpm, progress=False).maps
    assert sorted(per_t) == [5, 50, 200] and len(per_t[5]) == len(mean)
    for k, level in enumerate(mean):
        np.testing.assert_allclose(np.mean([per_t[t][k] for t in per_t], axis=0), level, atol=1e-5)
