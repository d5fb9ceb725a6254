"""MambaBlock: shapes, causality along l, backend agreement, gradients, seeded init, config checks."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from bdgf_nb.errors import ConfigError, DataError
from bdgf_nb.model.mamba import MambaBlock, MambaConfig, ResidualMambaLayer, causal_depthwise_conv


def build(seed: int = 0, **overrides: object) -> MambaBlock:
    torch.manual_seed(seed)
    return MambaBlock(MambaConfig(d_model=16, d_state=8, **overrides))  # type: ignore[arg-type]


def test_config_derives_d_inner_and_dt_rank() -> None:
    c = MambaConfig(d_model=40, expand=3)
    assert c.d_inner == 120
    assert c.dt_rank == 3  # ceil(40 / 16)
    assert MambaConfig(d_model=40, dt_rank=5).dt_rank == 5


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("d_state", 0, r"d_state must be an int >= 1, found 0"),
        ("dt_rank", "big", r"dt_rank must be 'auto' or an int >= 1, found 'big'"),
        ("dt_min", 0.5, r"dt_min and dt_max must satisfy 0 < dt_min <= dt_max, found dt_min=0.5, dt_max=0.1"),
        ("norm", "batchnorm", r"norm must be one of \['rmsnorm', 'layernorm'\], found 'batchnorm'"),
        ("backend", "gpu", r"backend must be one of \['auto', 'reference', 'fused', 'mamba_ssm'\], found 'gpu'"),
    ],
)
def test_config_rejects_bad_fields(field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        MambaConfig(d_model=16, **{field: value})  # type: ignore[arg-type]


@pytest.mark.parametrize("length", [1, 7, 33])
def test_output_shape_for_odd_lengths(length: int) -> None:
    block = build()
    assert block(torch.randn(3, length, 16)).shape == (3, length, 16)


def test_block_is_causal() -> None:
    """Changing inputs after position t leaves outputs up to t unchanged (and changes later ones)."""
    block = build()
    x = torch.randn(2, 12, 16, generator=torch.Generator().manual_seed(3))
    t = 5
    x2 = x.clone()
    x2[:, t + 1 :] = torch.randn(2, 12 - t - 1, 16, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        y, y2 = block(x), block(x2)
    print(f"max change up to t: {(y[:, : t + 1] - y2[:, : t + 1]).abs().max().item():.2e}")
    assert torch.allclose(y[:, : t + 1], y2[:, : t + 1], atol=1e-6)
    assert not torch.allclose(y[:, t + 1 :], y2[:, t + 1 :], atol=1e-3)


def test_fused_and_reference_backends_agree_on_output_and_gradients() -> None:
    fused = build(seed=1, backend="fused")
    ref = build(seed=1, backend="reference")
    ref.load_state_dict(fused.state_dict())
    x = torch.randn(3, 9, 16, generator=torch.Generator().manual_seed(5))
    y_f, y_r = fused(x), ref(x)
    print(f"block output max diff {(y_f - y_r).abs().max().item():.2e}")
    assert torch.allclose(y_f, y_r, rtol=1e-4, atol=1e-6)
    y_f.square().sum().backward()
    y_r.square().sum().backward()
    for (name, pf), pr in zip(fused.named_parameters(), ref.parameters(), strict=True):
        assert pf.grad is not None and pr.grad is not None
        assert torch.allclose(pf.grad, pr.grad, rtol=1e-4, atol=1e-5), name


def test_gradients_reach_every_parameter_and_the_input() -> None:
    layer = ResidualMambaLayer(MambaConfig(d_model=16, d_state=4))
    x = torch.randn(2, 7, 16, requires_grad=True)
    layer(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    for name, p in layer.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_same_seed_same_init_and_output() -> None:
    a, b, c = build(seed=7), build(seed=7), build(seed=8)
    x = torch.randn(2, 5, 16)
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    assert torch.equal(a(x), b(x))
    assert not torch.equal(a.in_proj.weight, c.in_proj.weight)


def test_init_follows_mamba() -> None:
    """S4D-real A = -(1..n), D = 1, softplus(dt bias) inside [dt_min, dt_max]."""
    block = build()
    c = block.config
    A = -torch.exp(block.A_log)
    assert torch.allclose(A, -torch.arange(1, c.d_state + 1).float().expand(c.d_inner, -1))
    assert torch.equal(block.D, torch.ones(c.d_inner))
    dt = torch.nn.functional.softplus(block.dt_proj.bias)
    assert (dt >= c.dt_min * 0.999).all() and (dt <= c.dt_max * 1.001).all()


def test_residual_layers_stack_with_either_norm() -> None:
    cfg = MambaConfig(d_model=16, d_state=4)
    for config in (cfg, dataclasses.replace(cfg, norm="layernorm")):
        stack = torch.nn.Sequential(*(ResidualMambaLayer(config) for _ in range(2)))
        assert stack(torch.randn(2, 6, 16)).shape == (2, 6, 16)
    assert isinstance(ResidualMambaLayer(dataclasses.replace(cfg, norm="layernorm")).norm, torch.nn.LayerNorm)


def test_wrong_input_width_is_a_data_error() -> None:
    with pytest.raises(DataError, match=r"MambaBlock input must be \(b, l, d_model=16\), found shape \(2, 5, 8\)"):
        build()(torch.randn(2, 5, 8))


@pytest.mark.parametrize("length", [1, 6, 17])
def test_causal_depthwise_conv_equals_conv1d_on_outputs_and_gradients(length: int) -> None:
    """The shifted multiply-adds give nn.Conv1d(padding=w-1)'s first l outputs (the old path)."""
    torch.manual_seed(0)
    conv = torch.nn.Conv1d(6, 6, 4, groups=6, padding=3)
    x = torch.randn(3, 6, length, requires_grad=True)
    reference = conv(x)[..., :length]
    fast = causal_depthwise_conv(x, conv.weight, conv.bias)
    grad_out = torch.randn_like(fast)
    ref_grads = torch.autograd.grad(reference, [x, conv.weight, conv.bias], grad_out)
    fast_grads = torch.autograd.grad(fast, [x, conv.weight, conv.bias], grad_out)
    diff = max((a - b).abs().max().item() for a, b in zip([fast, *fast_grads], [reference, *ref_grads], strict=True))
    print(f"max |fast - reference| = {diff:.2e}")
    assert diff < 1e-5
