"""Guided branches: shapes for p in {1, 5, 11}, guides wired per stage, guidance off / absent,
guide checks, the Mamba branch's tokens and centre-region input."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import pytest
import torch

from bdgf_nb.errors import ConfigError, DataError
from bdgf_nb.model.branches import (
    CNNBranch,
    GuidedBranch,
    MambaBranch,
    SpectralTokens,
    TransformerBranch,
    resolve_band_group,
)
from bdgf_nb.model.config import BDGFConfig

GROUPS = {"hsi": 12, "lidar": 1, "sar": 2}
C = sum(GROUPS.values())
GUIDES = (4, 8, 8)
N_CLASSES = 5

BUILDERS: dict[str, Callable[[BDGFConfig, Sequence[int]], GuidedBranch]] = {
    "cnn": lambda cfg, g: CNNBranch(C, N_CLASSES, cfg, g),
    "mamba": lambda cfg, g: MambaBranch(GROUPS, N_CLASSES, cfg, g),
    "transformer": lambda cfg, g: TransformerBranch(C, N_CLASSES, cfg, g),
    "transformer_all": lambda cfg, g: TransformerBranch(C, N_CLASSES, replace(cfg, cross_queries="all"), g),
}


def build(name: str, guide_channels: Sequence[int] = GUIDES, **kw: Any) -> GuidedBranch:
    """A branch of width 16 (5 bands per spectral token, 2 heads); `kw` overrides BDGFConfig fields."""
    torch.manual_seed(0)
    cfg = BDGFConfig(width=16, band_group=5, heads=2, **kw)
    return BUILDERS[name](cfg, guide_channels).eval()


def inputs(
    b: int, p: int, guide_channels: Sequence[int] = GUIDES, seed: int = 1
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(b, C, p, p, generator=g), [torch.randn(b, k, p, p, generator=g) for k in guide_channels]


@pytest.mark.parametrize("name", list(BUILDERS))
@pytest.mark.parametrize("p", [1, 5, 11])
def test_shapes_for_every_patch_size(name: str, p: int) -> None:
    x, guides = inputs(3, p)
    features, logits = build(name)(x, guides)
    assert features.shape == (3, 16) and logits.shape == (3, N_CLASSES)
    assert torch.isfinite(features).all() and torch.isfinite(logits).all()


@pytest.mark.parametrize("name", list(BUILDERS))
def test_every_stage_is_guided(name: str) -> None:
    """Changing the guide of any one depth changes the output: each stage reads its own guide."""
    branch = build(name)
    x, guides = inputs(2, 5)
    base = branch(x, guides)[1]
    for k in range(len(GUIDES)):
        changed = list(guides)
        changed[k] = torch.randn_like(guides[k])
        assert not torch.allclose(base, branch(x, changed)[1]), f"guide {k} is not used"


@pytest.mark.parametrize("name", list(BUILDERS))
def test_guidance_off_ignores_guides_and_builds_no_guidance_weights(name: str) -> None:
    off, on = build(name, guidance=False), build(name)
    x, guides = inputs(2, 5)
    out = off(x, guides)[1]
    torch.testing.assert_close(out, off(x, [torch.randn_like(g) for g in guides])[1])
    torch.testing.assert_close(out, off(x, [])[1])
    assert sum(p.numel() for p in off.parameters()) < sum(p.numel() for p in on.parameters())


@pytest.mark.parametrize("name", list(BUILDERS))
@pytest.mark.parametrize("p", [1, 11])
def test_without_diffusion_features_runs_on_empty_guides(name: str, p: int) -> None:
    branch = build(name, guide_channels=())
    x, _ = inputs(2, p)
    features, logits = branch(x, [])
    assert features.shape == (2, 16) and logits.shape == (2, N_CLASSES)
    with pytest.raises(
        DataError, match=r"built without diffusion features \(guide_channels=\[\]\), expected 0 guides, found 3"
    ):
        branch(x, inputs(2, p)[1])


@pytest.mark.parametrize("name", list(BUILDERS))
def test_guide_count_and_channels_are_checked(name: str) -> None:
    branch = build(name)
    x, guides = inputs(2, 5)
    with pytest.raises(DataError, match=r"expected 3 guides \(one per stage, channels \[4, 8, 8\]\), found 2"):
        branch(x, guides[:2])
    with pytest.raises(DataError, match=r"expected 3 guides .*, found 0"):
        branch(x, [])
    with pytest.raises(
        DataError, match=r"guide 2 expected shape \(b, G_k, p, p\) = \(2, 8, 5, 5\), found \(2, 6, 5, 5\)"
    ):
        branch(x, [guides[0], guides[1], torch.zeros(2, 6, 5, 5)])
    with pytest.raises(DataError, match=rf"expected x of shape \(b, C={C}, p, p\), found \(2, 4, 5, 5\)"):
        branch(torch.zeros(2, 4, 5, 5), guides)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_one_guide_count_per_stage_at_build(name: str) -> None:
    with pytest.raises(
        ConfigError, match=r"guide_channels must list one channel count per stage \(3\) or be empty, found \[4, 8\]"
    ):
        build(name, guide_channels=(4, 8))


def test_band_groups_and_auxiliary_tokens() -> None:
    tokens = SpectralTokens({"hsi": 12, "lidar": 1, "sar": 2}, width=8, band_group=5)
    assert tokens.length == 3 + 2  # ceil(12 / 5) spectral groups (last one padded) + lidar + sar
    assert tokens(torch.randn(4, 15)).shape == (4, 5, 8)
    assert resolve_band_group("auto", 144) == 9 and resolve_band_group("auto", 5) == 1
    with pytest.raises(ConfigError, match="band_group must be 'auto' or an int >= 1, found 0"):
        resolve_band_group(0, 10)


def test_mamba_reads_each_modality_and_only_the_centre_region() -> None:
    branch = build("mamba", guide_channels=())
    x, _ = inputs(2, 7)
    base = branch(x, [])[1]
    outside = x.clone()
    outside[..., 0, :] += 5.0  # rows outside the central 3x3 do not reach the spectrum
    torch.testing.assert_close(base, branch(outside, [])[1])
    for channel in (0, 12, 14):  # a band, the lidar channel, a sar channel
        moved = x.clone()
        moved[:, channel, 3, 3] += 5.0
        assert not torch.allclose(base, branch(moved, [])[1]), f"channel {channel} is ignored"


def test_transformer_cross_query_modes_differ_only_in_who_queries() -> None:
    cls_mode, all_mode = build("transformer"), build("transformer_all")
    all_mode.load_state_dict(cls_mode.state_dict())  # same weights, other wiring
    x, guides = inputs(2, 5)
    assert not torch.allclose(cls_mode(x, guides)[1], all_mode(x, guides)[1])
    off_cls, off_all = build("transformer", guidance=False), build("transformer_all", guidance=False)
    torch.testing.assert_close(off_cls(x, [])[1], off_all(x, [])[1])  # unguided: no cross-attention at all
    with pytest.raises(ConfigError, match="cross_queries must be 'cls' or 'all', found 'pixels'"):
        build("transformer", cross_queries="pixels")


def test_transformer_positions_are_centred_and_bounded() -> None:
    branch = build("transformer")
    assert isinstance(branch, TransformerBranch)
    torch.testing.assert_close(branch.positions(1), branch.pos[5, 5][None])
    torch.testing.assert_close(branch.positions(3)[4], branch.pos[5, 5])
    x, guides = inputs(1, 13)
    with pytest.raises(DataError, match="patch side must be odd and <= max_patch=11, found 13"):
        branch(x, guides)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_every_parameter_gets_a_gradient(name: str) -> None:
    """No dead weights: every parameter is reached by the loss (DDP needs that, and an unused
    guidance module would be a wiring bug)."""
    branch = build(name).train()
    x, guides = inputs(4, 5)
    branch(x, guides)[1].sum().backward()
    missing = [n for n, p in branch.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert not missing


def _full_layers_encode(branch: TransformerBranch, x: torch.Tensor, guides: list[torch.Tensor]) -> torch.Tensor:
    """The pre-speed-up encode: every token through every stage, class token read at the end."""
    pos = branch.positions(x.shape[-1])
    tokens = branch.embed(x.flatten(2).transpose(1, 2)) + pos
    h = branch.dropout(torch.cat([branch.cls.expand(x.shape[0], -1, -1), tokens], dim=1))
    for layer, cross, g in zip(branch.layers, branch.cross, guides, strict=True):
        h = layer(h)
        h = cross(h, g, pos) if branch.cross_queries == "all" else torch.cat([cross(h[:, :1], g, pos), h[:, 1:]], dim=1)
    return branch.norm(h[:, 0])


@pytest.mark.parametrize("name", ["transformer", "transformer_all"])
def test_transformer_last_stage_on_the_class_token_only_equals_all_tokens(name: str) -> None:
    """Computing only the class token in the last stage changes no output and no gradient."""
    branch = build(name).eval()
    x = torch.randn(4, C, 5, 5)
    guides = [torch.randn(4, g, 5, 5) for g in GUIDES]
    params = list(branch.parameters())
    fast = branch.encode(x, list(guides))
    reference = _full_layers_encode(branch, x, guides)
    fast_grads = torch.autograd.grad(fast.square().sum(), params, allow_unused=True)
    ref_grads = torch.autograd.grad(reference.square().sum(), params, allow_unused=True)
    pairs = [(fast, reference)] + [
        (a, b) for a, b in zip(fast_grads, ref_grads, strict=True) if a is not None and b is not None
    ]
    assert all((a is None) == (b is None) for a, b in zip(fast_grads, ref_grads, strict=True))
    # relative to the largest output / gradient entry: float32 sums run in another order
    scale = max(b.abs().max().item() for _, b in pairs)
    diffs = [(a - b).abs().max().item() / scale for a, b in pairs]
    print(f"max |fast - reference| / max |reference| = {max(diffs):.2e}")
    assert max(diffs) < 1e-5
