"""Label budgets (n labelled pixels per class), fixed-length training, and the pretraining
options of a DDPM that learns the whole scene (issue: what diffusion pretraining buys)."""

import math

import numpy as np
import pytest
import torch

from bdgf_nb.analysis.probe import budget_probe, budget_summary
from bdgf_nb.analysis.selection import epoch_choices
from bdgf_nb.data.load import load_scene
from bdgf_nb.data.patches import unlabelled_patches
from bdgf_nb.data.sampling import per_class_mask
from bdgf_nb.ddpm.diffusion import DiffusionConfig, GaussianDiffusion
from bdgf_nb.ddpm.features import FeatureConfig, extract_features
from bdgf_nb.ddpm.unet import DenoiserUNet, UNetConfig
from bdgf_nb.errors import ConfigError, DataError
from bdgf_nb.pipeline.context import RunContext
from bdgf_nb.pipeline.parameters import RunParameters
from bdgf_nb.pipeline.steps import DiffusionFeatures, fused_baselines, labelled_pixels, prepare, training_pixels
from bdgf_nb.pipeline.steps import train_variant as train_variant_step
from bdgf_nb.pipeline.variants import branch_variant
from bdgf_nb.train.classifier import TrainConfig, epochs_to_run
from bdgf_nb.train.loop import lr_at
from bdgf_nb.train.pretrain import PretrainConfig, pretrain


def test_per_class_mask_keeps_the_budget_in_every_class_inside_the_mask():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=(30, 30))  # 0: unlabelled
    labels[0, :3] = 5  # a rare class: 3 pixels
    mask = np.zeros_like(labels, dtype=bool)
    mask[:, :20] = True
    kept = per_class_mask(mask, labels, 7, seed=1)
    assert not np.any(kept & ~mask) and not np.any(kept & (labels == 0))
    counts = {int(c): int(((labels == c) & kept).sum()) for c in range(1, 6)}
    assert counts == {1: 7, 2: 7, 3: 7, 4: 0, 5: 3}  # class 4 does not occur; the rare class keeps all it has
    assert np.array_equal(kept, per_class_mask(mask, labels, 7, seed=1))
    assert not np.array_equal(kept, per_class_mask(mask, labels, 7, seed=2))
    # nested draws: a class's draw does not depend on the other classes present
    only_1 = per_class_mask(mask & (labels == 1), labels, 7, seed=1)
    assert np.array_equal(only_1, kept & (labels == 1))
    assert np.array_equal(per_class_mask(mask, labels, None), mask & (labels > 0))
    with pytest.raises(ConfigError, match="per_class must be >= 1"):
        per_class_mask(mask, labels, 0)


@pytest.fixture(scope="module")
def tiny():
    return prepare(RunContext.create("synthetic", quick=True), load_scene("synthetic", size=64, n_bands=8))


def test_a_budget_draws_fit_and_val_per_class_and_baselines_learn_from_the_same_pixels(tiny, tmp_path):
    ctx = RunContext.create("synthetic", quick=True, out_dir=tmp_path, labels_per_class=5)
    fit, val = training_pixels(ctx, tiny, seed=3)
    assert not np.any(fit & ~tiny.split.fit) and not np.any(val & ~tiny.split.val)
    for mask, region in ((fit, tiny.split.fit), (val, tiny.split.val)):
        present, available = np.unique(tiny.labels[mask], return_counts=True)
        for c, n in zip(present, available, strict=True):
            assert n == min(5, int(((tiny.labels == c) & region).sum()))
    assert np.array_equal(labelled_pixels(ctx, tiny, 3), fit)
    unbudgeted = RunContext.create("synthetic", quick=True, out_dir=tmp_path)
    assert np.array_equal(labelled_pixels(unbudgeted, tiny, 3), tiny.split.train)
    assert ctx.classifier_checkpoint("s", "bdgf", None, 3).name == "clf_s_bdgf_quick_lpc5_seed3.pt"
    assert ctx.baseline_results("s", 3).name == "baselines_s_quick_lpc5_seed3.json"
    rows = fused_baselines(ctx, tiny, seed=3)
    assert rows and all(0 <= r["overall_accuracy"] <= 100 for r in rows)


def test_the_budget_is_a_run_parameter_checked_up_front():
    assert RunParameters(labels_per_class=10).context().labels_per_class == 10
    assert RunParameters().context().labels_per_class is None  # 0: every training pixel
    with pytest.raises(ConfigError, match="labels_per_class"):
        RunParameters(labels_per_class=-1)
    with pytest.raises(ConfigError, match="labels_per_class"):
        RunContext.create("synthetic", quick=True).__class__(
            "synthetic", RunContext.create("synthetic", quick=True).preset, labels_per_class=0
        )


def test_budget_training_runs_a_fixed_length_and_keeps_the_last_weights(tiny, tmp_path):
    ctx = RunContext.create("synthetic", quick=True, out_dir=tmp_path, labels_per_class=4)
    cfg = ctx.preset.train_config(0, budget=True)
    assert cfg.fixed_length and cfg.min_steps == ctx.preset.budget_steps
    n_fit = int(training_pixels(ctx, tiny, 0)[0].sum())
    small = type(ctx.preset)(**{**vars(ctx.preset), "budget_steps": 60})
    run = train_variant_step(
        type(ctx)(ctx.dataset, small, ctx.seed, tmp_path, labels_per_class=4),
        tiny,
        DiffusionFeatures.absent(),
        branch_variant("cnn", guided=False),
        progress=False,
    )
    expected = epochs_to_run(n_fit, small.train_config(0, budget=True))
    assert len(run.history) == expected == max(small.train.epochs, math.ceil(60 / math.ceil(n_fit / 64)))
    assert run.best_epoch == expected  # the last epoch, whatever validation said
    scored = [h["epoch"] for h in run.history if not math.isnan(h["val_oa"])]
    every = max(1, expected // 20)
    assert scored == [e for e in range(1, expected + 1) if e % every == 0 or e == expected]  # ~20, the last always
    assert expected >= 40 and len(scored) <= 21
    assert run.row()["val_overall_accuracy"] == run.history[-1]["val_oa"]


def test_a_watched_run_trains_exactly_as_the_unwatched_one_and_records_test_at_the_scored_epochs(tiny, tmp_path):
    ctx = RunContext.create("synthetic", quick=True, out_dir=tmp_path)
    preset = type(ctx.preset)(**{**vars(ctx.preset), "budget_steps": 40})
    small = type(ctx)(ctx.dataset, preset, 0, tmp_path, labels_per_class=4)
    variant = branch_variant("cnn", guided=False)
    plain = train_variant_step(small, tiny, DiffusionFeatures.absent(), variant, progress=False)
    watched = train_variant_step(small, tiny, DiffusionFeatures.absent(), variant, progress=False, watch_test=True)
    stem = "clf_synthetic_cnn_only+no_guidance_quick_lpc4_seed0"
    assert sorted(p.name for p in (tmp_path / "artifacts").glob("*.pt")) == [f"{stem}.pt", f"{stem}_watched.pt"]
    assert watched.report == plain.report  # the test pixels select nothing: same weights, same scores
    scored = [h for h in watched.history if not math.isnan(h["val_oa"])]
    assert all(not math.isnan(h["test_oa"]) for h in scored)
    assert all(math.isnan(h["test_oa"]) for h in watched.history if math.isnan(h["val_oa"]))
    assert "test_oa" not in plain.history[-1]
    assert watched.history[-1]["test_oa"] == pytest.approx(plain.report["overall_accuracy"])
    choice = epoch_choices(watched.history, "oa", "kappa")
    assert choice.last["oa"] == pytest.approx(plain.report["overall_accuracy"])
    assert choice.best_test["oa"] == max(h["test_oa"] for h in scored) >= choice.validation["oa"]
    assert choice.scored_epochs == len(scored)


def test_epoch_choices_read_the_last_the_validation_and_the_test_choice():
    nan = math.nan
    history = [
        {"epoch": 1, "val_kappa": 50.0, "test_oa": 60.0, "test_aa": 1.0, "test_kappa": 2.0},
        {"epoch": 2, "val_kappa": nan, "test_oa": nan, "test_aa": nan, "test_kappa": nan},  # not scored
        {"epoch": 3, "val_kappa": 70.0, "test_oa": 65.0, "test_aa": 3.0, "test_kappa": 4.0},
        {"epoch": 4, "val_kappa": 70.0, "test_oa": 72.0, "test_aa": 5.0, "test_kappa": 6.0},  # a tie on validation
        {"epoch": 5, "val_kappa": 60.0, "test_oa": 68.0, "test_aa": 7.0, "test_kappa": 8.0},
    ]
    choice = epoch_choices(history, "oa", "kappa")
    assert (choice.validation_epoch, choice.best_test_epoch, choice.scored_epochs) == (3, 4, 4)
    assert choice.last == {"oa": 68.0, "aa": 7.0, "kappa": 8.0}
    assert choice.validation["oa"] == 65.0 and choice.best_test["oa"] == 72.0
    with pytest.raises(DataError, match="watch_set"):
        epoch_choices([{"epoch": 1, "val_kappa": 1.0}])
    with pytest.raises(DataError, match="metric and select_on"):
        epoch_choices(history, "f1")


def test_epochs_to_run_and_the_warm_up_follow_the_steps_actually_run():
    cfg = TrainConfig(epochs=4, batch_size=10, min_steps=30)
    assert epochs_to_run(25, cfg) == 10  # 3 steps an epoch
    assert epochs_to_run(1000, cfg) == 4  # the epochs already give more than 30 steps
    with pytest.raises(ConfigError, match="min_steps"):
        TrainConfig(min_steps=-1)


def test_cosine_pretraining_follows_lr_at_and_resumes_exactly(tmp_path):
    groups = {"hsi": 3, "lidar": 1}
    x = torch.randn(40, 4, 6, 6, generator=torch.Generator().manual_seed(0))
    cfg = PretrainConfig(
        epochs=2,
        batch_size=8,
        lr=1e-3,
        balance_samples=5,
        lr_schedule="cosine",
        warmup_fraction=0.25,
        ema_decay=0.5,
        unet=UNetConfig(base_width=8, num_res_blocks=1),
        diffusion=DiffusionConfig(T=50),
        feature_timesteps=(5,),
    )
    straight = pretrain(x, groups, cfg, progress=False)
    path = tmp_path / "d.ckpt"
    pretrain(x, groups, cfg, checkpoint_path=path, progress=False, stop_after_epoch=1)
    resumed = pretrain(x, groups, cfg, checkpoint_path=path, progress=False)
    for a, b in zip(straight.diffusion.state_dict().values(), resumed.diffusion.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    constant = pretrain(x, groups, PretrainConfig(**{**vars(cfg), "lr_schedule": "constant"}), progress=False)
    assert any(
        not torch.equal(a, b)
        for a, b in zip(straight.diffusion.state_dict().values(), constant.diffusion.state_dict().values(), strict=True)
    )
    assert lr_at(0, 10, 2, 1.0) == 0.5 and lr_at(9, 10, 2, 1.0) < 0.1
    with pytest.raises(ConfigError, match="lr_schedule"):
        PretrainConfig(lr_schedule="step")


def test_whole_scene_patches_take_every_allowed_pixel_once():
    image = np.arange(2 * 5 * 6, dtype=np.float32).reshape(2, 5, 6)
    x0 = unlabelled_patches(image, None, 3, seed=0)
    assert x0.shape == (30, 2, 3, 3)
    centres = sorted(x0[:, 0, 1, 1].tolist())
    assert centres == sorted(image[0].ravel().tolist())
    mask = np.zeros((5, 6), bool)
    mask[1:3, 2:5] = True
    assert unlabelled_patches(image, None, 3, seed=0, mask=mask).shape[0] == 6
    # a count below the scene's size is the former draw, pixel for pixel
    drawn = unlabelled_patches(image, 7, 3, seed=4)
    flat = np.random.default_rng(4).choice(30, size=7, replace=False)
    assert drawn[:, 0, 1, 1].tolist() == image[0].ravel()[flat].tolist()


def test_noise_draws_average_the_reading_over_noise_tensors():
    torch.manual_seed(0)
    diffusion = GaussianDiffusion(
        DenoiserUNet(UNetConfig(in_channels=3, base_width=8, num_res_blocks=1, modality_channels=(2, 1))),
        DiffusionConfig(T=100),
        {"hsi": 2, "lidar": 1},
    ).eval()
    image = np.random.default_rng(0).normal(size=(3, 9, 9)).astype(np.float32)
    one = extract_features(diffusion, image, FeatureConfig(timesteps=(50,), tile=9, overlap=0), progress=False)
    again = extract_features(
        diffusion, image, FeatureConfig(timesteps=(50,), tile=9, overlap=0, noise_draws=1), progress=False
    )
    two = extract_features(
        diffusion, image, FeatureConfig(timesteps=(50,), tile=9, overlap=0, noise_draws=2), progress=False
    )
    # draw 1 of two is the single draw; draw 2 uses the generator's next tensor: their mean
    second = extract_features(
        diffusion,
        image,
        FeatureConfig(timesteps=(50,), tile=9, overlap=0, noise_draws=2, reduce="concat"),
        progress=False,
    )
    for a, b in zip(one, again, strict=True):
        np.testing.assert_array_equal(a, b)
    for a, b, c in zip(one, two, second, strict=True):
        assert not np.allclose(a, b)
        np.testing.assert_allclose(c, b, atol=1e-6)  # one timestep: concat == mean
    with pytest.raises(ConfigError, match="noise_draws"):
        FeatureConfig(noise_draws=0)


def test_budget_probe_pairs_draws_and_summarises_against_the_reference():
    rng = np.random.default_rng(0)
    labels = rng.integers(1, 4, size=(30, 30))
    informative = (labels[None] == np.arange(1, 4)[:, None, None]).astype(np.float32) + 0.5 * rng.normal(
        size=(3, 30, 30)
    )
    noise = rng.normal(size=(3, 30, 30)).astype(np.float32)
    fit = np.zeros((30, 30), bool)
    fit[:15] = True
    rows = budget_probe(
        {"noise": [noise], "informative": [informative]}, labels, fit, {"test": ~fit}, 3, budgets=(5, None), draws=3
    )
    assert len(rows) == (3 + 1) * 2 and {r["budget"] for r in rows} == {"5 / class", "all"}  # "all": one draw
    table = budget_summary(rows, "noise")
    informative_rows = [r for r in table if r["features"] == "informative"]
    assert [r["draws"] for r in informative_rows] == [3, 1]
    assert informative_rows[0]["diff_low"] > 0 and math.isnan(informative_rows[1]["diff_low"])  # one draw: no interval
    assert all("diff" not in r for r in table if r["features"] == "noise")


def _study() -> dict:
    """A label-efficiency study in the stored layout: BDGF ahead of its twin at 5, behind at 50."""

    def entry(mean, low, high, diff=None):
        e = {"n": 3, "mean": mean, "low": low, "high": high, "std": 1.0}
        return e | ({"minus_bdgf": {"n": 3, "mean": diff[0], "low": diff[1], "high": diff[2]}} if diff else {})

    def budget(bdgf, twin, diff):
        return {
            "summary": {
                "BDGF": {m: entry(bdgf, bdgf - 2, bdgf + 2) for m in ("oa", "aa", "kappa")},
                "no guidance, widened": {m: entry(twin, twin - 2, twin + 2, diff) for m in ("oa", "aa", "kappa")},
            }
        }

    return {
        "preset": "full",
        "budgets": {"5": budget(60.0, 55.0, (-5.0, -7.0, -3.0)), "50": budget(80.0, 81.0, (1.0, -0.5, 2.5)), "all": {}},
    }


def test_stored_study_curves_reading_and_figure():
    from bdgf_nb.pipeline.stored_results import label_efficiency_curves
    from bdgf_nb.presentation import prose, viz

    study = _study()
    study["budgets"]["all"] = study["budgets"]["50"]
    curves = label_efficiency_curves(study)
    assert sorted(curves) == ["BDGF", "no guidance, widened"] and sorted(curves["BDGF"]) == [5, 50]  # "all" left out
    assert curves["BDGF"][5] == {"mean": 60.0, "low": 58.0, "high": 62.0}
    text = prose.label_efficiency_reading(study).splitlines()
    assert text[0].startswith(
        "5 labelled px / class (3 seeds): By OA, BDGF (60.0) is above no guidance, widened (55.0)"
    )
    assert "[3.0, 7.0] lies above zero, so the difference is resolved" in text[0]
    assert "includes zero, so the difference is not resolved" in text[1] and "below" in text[1]
    fig = viz.label_efficiency(curves, "t")
    assert fig.layout.xaxis.type == "log" and len(fig.data) == 4  # a band and a line per method


def test_the_study_table_and_the_inflation_reading_come_from_the_stored_numbers():
    from bdgf_nb.presentation import prose, tables, viz

    study = _study()
    del study["budgets"]["all"]
    assert prose.selection_inflation_reading(study) == ""  # a study run without --inflation
    best = "BDGF, best test point (how published numbers are selected; not a result)"
    for budget, (lift, val) in {"5": (4.0, -1.0), "50": (2.0, 0.5)}.items():
        bdgf = study["budgets"][budget]["summary"]["BDGF"]["oa"]["mean"]
        study["budgets"][budget]["selection"] = {
            "summary": {
                name: {
                    m: {
                        "n": 3,
                        "mean": bdgf + d,
                        "std": 1.0,
                        "minus_bdgf": {"n": 3, "mean": d, "low": d - 1, "high": d + 1},
                    }
                    for m in ("oa", "aa", "kappa")
                }
                for name, d in (("BDGF, best validation point", val), (best, lift))
            }
        }
    table = tables.label_efficiency_table(study)
    assert list(table.index) == ["5", "50"]
    assert table.loc["5", "BDGF"] == "60.00 ± 1.00" and table.loc["5", "no guidance, widened"] == "-5.00 [-7.00, -3.00]"
    assert table.loc["50", best] == "+2.00 [+1.00, +3.00]"
    lines = prose.selection_inflation_reading(study).splitlines()
    assert lines[0].startswith(
        "5 labelled px / class (3 seeds): the best test point would report OA 64.0 for BDGF's 60.0"
    )
    assert "(+4.0 [+3.0, +5.0])" in lines[0] and "the best validation point gives -1.0 [-2.0, +0.0]" in lines[0]
    curves = {"a": {"BDGF": {5: {"mean": 1.0, "low": 0.0, "high": 2.0}}}, "b": {"RF": {5: {"mean": 1.0}}}}
    fig = viz.label_efficiency_panels(curves, "t")
    assert [a.text for a in fig.layout.annotations] == ["a", "b"] and len(fig.data) == 3  # RF has no band
    assert fig.layout.xaxis2.type == "log"


def test_whole_scene_preset_sets_its_epochs_from_the_scene_and_names_its_files_apart():
    from bdgf_nb.pipeline.presets import preset, whole_scene

    scene = preset("full-scene")
    assert scene.name == "full-scene" and scene.ddpm_patches is None and scene.ddpm_steps == 4000
    assert scene.pretrain.lr_schedule == "cosine" and scene.pretrain.ema_decay == 0.999
    assert whole_scene(preset("full")) == scene
    cfg = scene.pretrain_config("adaptive", 0, n_patches=16384)  # 15,872 trained: 248 steps an epoch
    assert cfg.epochs == 17 and preset("full").pretrain_config("adaptive", 0).epochs == 16
    with pytest.raises(ConfigError, match="pass n_patches"):
        scene.pretrain_config("adaptive", 0)
    ctx = RunContext.create("synthetic", quick=False, preset_name="full-scene")
    from bdgf_nb.pipeline.context import DDPMSource

    assert ctx.ddpm_checkpoint("s", DDPMSource("adaptive", 0)).name == "ddpm_s_adaptive_full-scene_seed0.pt"
