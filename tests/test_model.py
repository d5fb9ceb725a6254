"""BDGF model: config checks, ablations, output contract, loss switches, determinism, the
checkpoint config, and training to high accuracy on a small separable scene."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bdgf_nb.data.patches import PatchDataset
from bdgf_nb.errors import ConfigError, DataError
from bdgf_nb.model.bdgf import ABLATIONS, BDGF, BDGFOutput, ablation, equal_size_width
from bdgf_nb.model.config import BDGFConfig
from bdgf_nb.model.mutual import MutualConfig
from bdgf_nb.train.classifier import TrainConfig, train_classifier

GROUPS = {"hsi": 10, "lidar": 1}
GUIDES = [4, 8, 8]
SMALL = BDGFConfig(width=16, heads=2)


def build(cfg: BDGFConfig = SMALL, guide_channels: list[int] | None = None, n_classes: int = 4, seed: int = 0) -> BDGF:
    torch.manual_seed(seed)
    return BDGF(cfg, GROUPS, GUIDES if guide_channels is None else guide_channels, n_classes)


def inputs(
    b: int = 3, p: int = 5, guide_channels: list[int] | None = None, seed: int = 1
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    channels = GUIDES if guide_channels is None else guide_channels
    return torch.randn(b, 11, p, p, generator=g), [torch.randn(b, k, p, p, generator=g) for k in channels]


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"branches": ("cnn", "rnn")},
            r"BDGFConfig.branches must be a non-empty subset of "
            r"\['cnn', 'mamba', 'transformer'\] without repeats, found \['cnn', 'rnn'\]",
        ),
        ({"branches": ()}, r"BDGFConfig.branches must be a non-empty subset"),
        ({"width": 30, "heads": 4}, r"BDGFConfig.width \(30\) must be divisible by heads \(4\)"),
        ({"width": 18, "heads": 2}, r"BDGFConfig.width \(18\) must be divisible by attention_groups \(4\)"),
        ({"ensemble": "vote"}, r"BDGFConfig.ensemble must be one of \['mean', 'entropy', 'fitted'\], found 'vote'"),
        ({"dropout": 1.0}, r"BDGFConfig.dropout must be in \[0, 1\), found 1.0"),
        ({"width": "64"}, r"BDGFConfig.width: expected int, found str '64'"),
        ({"max_patch": 10}, r"BDGFConfig.max_patch must be odd and >= 1, found 10"),
        ({"scan_backend": "gpu"}, r"backend must be one of"),
        ({"cross_queries": "pixels"}, r"BDGFConfig.cross_queries must be 'cls' or 'all', found 'pixels'"),
    ],
)
def test_config_rejects_bad_fields(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        BDGFConfig(**overrides)  # type: ignore[arg-type]


def test_config_takes_lists_from_yaml_as_tuples() -> None:
    assert BDGFConfig(branches=["mamba", "cnn"]).branches == ("mamba", "cnn")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", list(ABLATIONS))
@pytest.mark.parametrize(("p", "with_guides"), [(1, False), (11, True)])
def test_each_ablation_builds_and_runs(name: str, p: int, with_guides: bool) -> None:
    cfg = ablation(SMALL, name)
    channels = GUIDES if with_guides and cfg.guidance else []
    model = build(cfg, channels).train()
    x, guides = inputs(p=p, guide_channels=channels)
    out = model(x, guides)
    assert isinstance(out, BDGFOutput) and out.branches == cfg.branches
    assert len(out.logits) == len(out.features) == len(cfg.branches)
    assert all(z.shape == (3, 4) for z in out.logits) and all(f.shape == (3, 16) for f in out.features)
    torch.testing.assert_close(out.probabilities.sum(-1), torch.ones(3))
    loss, parts = model.loss(out, torch.tensor([0, 1, 3]))
    loss.backward()
    assert torch.isfinite(loss) and parts["loss"] == pytest.approx(loss.item())


def test_ablation_overrides_and_unknown_names() -> None:
    assert ablation(SMALL, "bdgf") == SMALL
    assert ablation(SMALL, "no_guidance").guidance is False and ablation(SMALL, "no_guidance").width == 16
    assert ablation(SMALL, "no_mutual").mutual is False
    assert ablation(SMALL, "mamba_only").branches == ("mamba",)
    with pytest.raises(ConfigError, match=r"unknown ablation 'no_masking', expected one of \['bdgf', 'no_guidance'"):
        ablation(SMALL, "no_masking")


def test_mutual_switch_changes_only_the_loss_terms() -> None:
    on, off = build(), build(ablation(SMALL, "no_mutual"))
    x, guides = inputs()
    y = torch.tensor([0, 1, 3])
    out = off(x, guides)
    loss, parts = off.loss(out, y)
    torch.testing.assert_close(loss, sum(F.cross_entropy(z, y) for z in out.logits))
    assert parts["kl"] > 0  # still logged, not trained on
    assert out.projections == [] and len(on(x, guides).projections) == 3
    on_loss, on_parts = on.loss(on(x, guides), y)
    assert on_loss.item() == pytest.approx(on_parts["ce"] + on_parts["kl"] + 0.1 * on_parts["feature"], rel=1e-5)


def test_loss_warms_the_kl_weight_up_with_progress() -> None:
    model = build(BDGFConfig(width=16, heads=2, mutual_config=MutualConfig(kl_warmup=0.5)))
    x, guides = inputs()
    y = torch.tensor([0, 1, 3])
    out = model(x, guides)
    start, parts = model.loss(out, y, progress=0.0)
    assert start.item() == pytest.approx(parts["ce"] + 0.1 * parts["feature"], rel=1e-5) and parts["kl"] > 0
    half, _ = model.loss(out, y, progress=0.25)
    assert half.item() == pytest.approx(start.item() + 0.5 * parts["kl"], rel=1e-5)
    assert model.loss(out, y)[0].item() == pytest.approx(
        start.item() + parts["kl"], rel=1e-5
    )  # default: fully warmed up


def test_fitted_ensemble_uses_the_stored_weights_and_saves_them() -> None:
    model = build(BDGFConfig(width=16, heads=2, ensemble="fitted")).eval()
    x, guides = inputs()
    out = model(x, guides)
    branch = torch.stack([z.softmax(-1) for z in out.logits])
    torch.testing.assert_close(out.probabilities, branch.mean(0))  # uniform until fitted
    model.set_ensemble_weights([3.0, 1.0, 0.0])  # normalised to (0.75, 0.25, 0)
    torch.testing.assert_close(model(x, guides).probabilities, 0.75 * branch[0] + 0.25 * branch[1])
    again = build(BDGFConfig(width=16, heads=2, ensemble="fitted"), seed=5).eval()
    again.load_state_dict(model.state_dict())  # the weights travel with the checkpoint
    torch.testing.assert_close(again(x, guides).probabilities, model(x, guides).probabilities)
    with pytest.raises(DataError, match=r"ensemble weights must be 3 finite non-negative numbers"):
        model.set_ensemble_weights([1.0, -1.0, 1.0])
    with pytest.raises(ConfigError, match=r"set_ensemble_weights needs BDGFConfig.ensemble='fitted', found 'mean'"):
        build().set_ensemble_weights([1.0, 1.0, 1.0])
    assert "ensemble_weights" not in build().state_dict()  # other modes keep their old state dict


def test_single_branch_loss_is_cross_entropy() -> None:
    model = build(ablation(SMALL, "cnn_only"))
    x, guides = inputs()
    y = torch.tensor([0, 1, 3])
    out = model(x, guides)
    torch.testing.assert_close(model.loss(out, y)[0], F.cross_entropy(out.logits[0], y))
    assert len(model.projections) == 0


def test_no_guidance_has_fewer_weights_and_ignores_guides() -> None:
    full, bare = build(), build(ablation(SMALL, "no_guidance"))
    assert bare.n_parameters < full.n_parameters
    bare.eval()
    x, guides = inputs()
    torch.testing.assert_close(bare(x, guides).probabilities, bare(x, []).probabilities)


@pytest.mark.parametrize(
    "cfg", [SMALL, BDGFConfig(width=32, heads=2), BDGFConfig(width=24, heads=8, attention_groups=4)]
)
def test_equal_size_width_matches_the_guided_parameter_count(cfg: BDGFConfig) -> None:
    target = build(cfg).n_parameters
    width = equal_size_width(cfg, GROUPS, GUIDES, 4)
    step = int(np.lcm(cfg.heads, cfg.attention_groups))

    def size(w: int) -> int:
        return BDGF(dataclasses.replace(cfg, guidance=False, width=w), GROUPS, [], 4).n_parameters

    assert width >= cfg.width and width % step == 0  # guidance costs weights: the unguided model never narrows
    # no admissible width is closer to the guided model's size
    assert abs(size(width) - target) <= min(abs(size(width - step) - target), abs(size(width + step) - target))


def test_input_and_guide_checks() -> None:
    model = build()
    x, guides = inputs()
    with pytest.raises(
        DataError,
        match=r"BDGF: expected x of shape \(b, C=11, p, p\) "
        r"for channel groups \{'hsi': 10, 'lidar': 1\}, found \(3, 10, 5, 5\)",
    ):
        model(x[:, :10], guides)
    with pytest.raises(DataError, match=r"expected 3 guides \(one per stage, channels \[4, 8, 8\]\), found 2"):
        model(x, guides[:2])
    with pytest.raises(ConfigError, match=r"guide_channels must list one channel count per stage \(3\) or be empty"):
        build(guide_channels=[4, 8])


def test_same_seed_same_model_and_outputs() -> None:
    x, guides = inputs()
    a, b, c = build(seed=3).eval(), build(seed=3).eval(), build(seed=4).eval()
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert torch.equal(a(x, guides).probabilities, b(x, guides).probabilities)
    assert not torch.equal(a(x, guides).probabilities, c(x, guides).probabilities)


def test_every_parameter_is_used_in_forward() -> None:
    """DDP (train.py) needs every parameter reached by the loss within forward."""
    model = build().train()
    x, guides = inputs(b=4)
    model.loss(model(x, guides), torch.tensor([0, 1, 2, 3]))[0].backward()
    assert not [n for n, p in model.named_parameters() if p.grad is None]


def test_config_dict_is_json_and_describes_the_weights() -> None:
    model = build(BDGFConfig(width=16, heads=2, mutual_config=MutualConfig(proj_dim=8)))
    record = json.loads(json.dumps(model.config_dict()))
    assert record["channel_groups"] == GROUPS and record["guide_channels"] == GUIDES and record["n_classes"] == 4
    assert record["config"]["width"] == 16 and record["config"]["mutual_config"]["proj_dim"] == 8
    assert record == json.loads(
        json.dumps(
            build(
                BDGFConfig(width=16, heads=2, mutual_config=MutualConfig(proj_dim=8), scan_backend="reference")
            ).config_dict()
        )
    )
    assert record != json.loads(json.dumps(build(ablation(SMALL, "no_guidance")).config_dict()))


def toy_scene(seed: int = 0) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """A 24 x 24 scene of 3 classes in vertical stripes; each class has its own mean spectrum
    (plus noise), the guides are noise: separable, so any working model gets it right."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(1, 4), 8)[None, :].repeat(24, axis=0)  # (24, 24) in 1..3
    means = rng.normal(size=(3, 11)).astype(np.float32) * 1.5
    image = (means[labels - 1] + 0.5 * rng.normal(size=(24, 24, 11))).astype(np.float32).transpose(2, 0, 1)
    guides = [rng.normal(size=(k, 24, 24)).astype(np.float32) for k in GUIDES]
    return image, guides, labels


def test_trains_on_a_separable_toy_scene(tmp_path: Path) -> None:
    image, guides, labels = toy_scene()
    rng = np.random.default_rng(0)
    pixels = np.argwhere(labels > 0)
    order = rng.permutation(len(pixels))
    train_px, val_px = pixels[order[:180]], pixels[order[180:300]]
    train = PatchDataset(image, train_px, labels[tuple(train_px.T)], patch=5, guides=guides)
    val = PatchDataset(image, val_px, labels[tuple(val_px.T)], patch=5, guides=guides)
    cfg = TrainConfig(epochs=4, batch_size=32, lr=3e-3, warmup_epochs=1, patience=4, seed=0)
    model = build(n_classes=3)
    checkpoint = tmp_path / "clf.pt"
    result = train_classifier(model, train, val, 3, cfg, checkpoint_path=checkpoint, progress=False)
    assert max(r["val_oa"] for r in result.history) >= 95.0, result.history
    # The checkpoint's config record (model.config_dict()) matches a rebuilt model: it resumes.
    again = train_classifier(build(n_classes=3), train, val, 3, cfg, checkpoint_path=checkpoint, progress=False)
    assert again.history == result.history
