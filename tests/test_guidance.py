"""Guidance modules: disabled = exact identity without parameters, guide dependence, per-group
gating, centre pooling, and the guide checks' messages."""

from __future__ import annotations

import pytest
import torch

from bdgf_nb.errors import ConfigError, DataError
from bdgf_nb.model.guidance import (
    CrossAttention,
    FeatureFusion,
    GroupChannelAttention,
    centre_region,
    check_guides,
)


@pytest.mark.parametrize(
    "module",
    [
        FeatureFusion(8, 5, enabled=False),
        GroupChannelAttention(8, 5, enabled=False),
        CrossAttention(8, 5, heads=2, enabled=False),
    ],
)
def test_disabled_guidance_is_identity_without_parameters(module: torch.nn.Module) -> None:
    h = torch.randn(3, 8, 4, 4) if isinstance(module, FeatureFusion) else torch.randn(3, 6, 8)
    assert sum(p.numel() for p in module.parameters()) == 0
    assert module(h, None) is h
    assert module(h, torch.full((3, 999), float("nan"))) is h  # the guide is never read


@pytest.mark.parametrize("p", [1, 5, 11])
def test_feature_fusion_shape_residual_and_guide_dependence(p: int) -> None:
    torch.manual_seed(0)
    fusion = FeatureFusion(8, 5).eval()
    h, g = torch.randn(2, 8, p, p), torch.randn(2, 5, p, p)
    out = fusion(h, g)
    assert out.shape == h.shape
    assert not torch.allclose(out, fusion(h, torch.randn(2, 5, p, p)))
    with pytest.raises(DataError, match="FeatureFusion is enabled but got no guide"):
        fusion(h, None)


def test_group_channel_attention_gates_lie_in_0_1_and_scale_the_state() -> None:
    torch.manual_seed(0)
    gca = GroupChannelAttention(16, 5, groups=4).eval()
    h = torch.randn(3, 7, 16).abs() + 0.1
    ratio = gca(h, torch.randn(3, 5)) / h
    assert ((ratio > 0) & (ratio < 1)).all()
    assert torch.allclose(ratio, ratio[:, :1].expand_as(ratio))  # one gate per channel, the same at every l


def test_group_channel_attention_groups_are_independent() -> None:
    """Perturbing the sequence inside group 0's channels moves only group 0's gates."""
    torch.manual_seed(0)
    gca = GroupChannelAttention(16, 5, groups=4, reduction=2).eval()
    h, g = torch.randn(2, 7, 16), torch.randn(2, 5)
    h2 = h.clone()
    h2[..., :4] += torch.randn(2, 7, 4)
    gates, gates2 = gca(h, g) / h, gca(h2, g) / h2
    assert not torch.allclose(gates[..., :4], gates2[..., :4])
    torch.testing.assert_close(gates[..., 4:], gates2[..., 4:])


def test_group_channel_attention_depends_on_the_guide() -> None:
    torch.manual_seed(0)
    gca = GroupChannelAttention(16, 5).eval()
    h = torch.randn(2, 7, 16)
    assert not torch.allclose(gca(h, torch.randn(2, 5)), gca(h, torch.randn(2, 5)))


def test_group_channel_attention_rejects_indivisible_channels() -> None:
    with pytest.raises(ConfigError, match=r"channels \(30\) must be divisible by groups \(4\)"):
        GroupChannelAttention(30, 5, groups=4)


@pytest.mark.parametrize("p", [1, 5, 11])
def test_cross_attention_shape_and_guide_and_position_dependence(p: int) -> None:
    torch.manual_seed(0)
    cross = CrossAttention(8, 5, heads=2).eval()
    h, g = torch.randn(2, p * p + 1, 8), torch.randn(2, 5, p, p)
    out = cross(h, g)
    assert out.shape == h.shape
    assert not torch.allclose(out, cross(h, g, pos=torch.randn(p * p, 8)))
    assert not torch.allclose(out, cross(h, torch.randn(2, 5, p, p)))


def test_cross_attention_rejects_indivisible_heads() -> None:
    with pytest.raises(ConfigError, match=r"dim \(10\) must be divisible by heads \(4\)"):
        CrossAttention(10, 5, heads=4)


def test_centre_region_means_the_central_3x3_or_the_whole_small_patch() -> None:
    x = torch.randn(2, 3, 5, 5)
    torch.testing.assert_close(centre_region(x), x[..., 1:4, 1:4].mean(dim=(-2, -1)))
    one = torch.randn(2, 3, 1, 1)
    torch.testing.assert_close(centre_region(one), one[..., 0, 0])


def test_check_guides_names_expected_and_found() -> None:
    x = torch.zeros(4, 6, 5, 5)
    check_guides([torch.zeros(4, 8, 5, 5), torch.zeros(4, 16, 5, 5)], [8, 16], x, "Branch")
    with pytest.raises(DataError, match=r"Branch: expected 2 guides \(one per stage, channels \[8, 16\]\), found 1"):
        check_guides([torch.zeros(4, 8, 5, 5)], [8, 16], x, "Branch")
    with pytest.raises(
        DataError, match=r"guide 1 expected shape \(b, G_k, p, p\) = \(4, 16, 5, 5\), found \(4, 12, 5, 5\)"
    ):
        check_guides([torch.zeros(4, 8, 5, 5), torch.zeros(4, 12, 5, 5)], [8, 16], x, "Branch")
    with pytest.raises(DataError, match=r"guide 0 expected shape .* = \(4, 8, 5, 5\), found \(4, 8, 3, 3\)"):
        check_guides([torch.zeros(4, 8, 3, 3), torch.zeros(4, 16, 5, 5)], [8, 16], x, "Branch")


def test_feature_fusion_equals_the_concatenating_reference_on_outputs_and_gradients() -> None:
    """The split-weight form (two 1x1 convs, no concatenated copy) computes conv1x1([h, norm(g)])."""
    torch.manual_seed(0)
    fusion = FeatureFusion(8, 5)
    h, g = torch.randn(3, 8, 5, 5, requires_grad=True), torch.randn(3, 5, 5, 5, requires_grad=True)
    reference = h + fusion.fuse(torch.cat([h, fusion.guide_norm(g)], dim=1))  # the pre-speed-up code
    fast = fusion(h, g)
    grad_out = torch.randn_like(fast)
    ref_grads = torch.autograd.grad(reference, [h, g, *fusion.parameters()], grad_out)
    fast_grads = torch.autograd.grad(fast, [h, g, *fusion.parameters()], grad_out)
    diff = max((a - b).abs().max().item() for a, b in zip([fast, *fast_grads], [reference, *ref_grads], strict=True))
    print(f"max |fast - reference| = {diff:.2e}")
    assert diff < 1e-5
