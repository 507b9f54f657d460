"""oneDNN convs on pre-packed weights with fused ReLU/add: same outputs as the plain conv (fp32, and bf16 autocast),
packed once per input shape, repacked after a weight update, safe to copy and save, plain under autograd; linears
keep their bf16 weight copy under CPU bf16 autocast with the same outputs as autocast."""

from __future__ import annotations

import copy
import io

import pytest
import torch
from torch import nn

from lib.models.inference import Bf16CachedLinear, FusedConv

pytestmark = pytest.mark.skipif(
    not (torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")),
    reason="no oneDNN in this torch build",
)


def _conv(stride: int = 1, kernel: int = 3) -> nn.Conv2d:
    torch.manual_seed(0)
    return nn.Conv2d(8, 16, kernel, stride=stride, padding=kernel // 2).eval()


def _plain(conv: nn.Conv2d, x, residual=None, relu=True):
    y = conv(x)
    if residual is not None:
        y = y + residual
    return torch.relu(y) if relu else y


@pytest.mark.parametrize("stride,kernel,relu", [(1, 3, True), (2, 1, False), (1, 1, True)])
def test_fused_conv_matches_plain_at_two_shapes(stride, kernel, relu):
    conv = _conv(stride, kernel)
    fused = FusedConv(conv, relu=relu)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for size in (12, 20):  # template and search crops: one packed weight each
            x = torch.randn(2, 8, size, size, generator=gen).to(memory_format=torch.channels_last)
            out_size = (size + stride - 1) // stride
            residual = torch.randn(2, 16, out_size, out_size, generator=gen).to(memory_format=torch.channels_last)
            assert (fused(x) - _plain(conv, x, relu=relu)).abs().max() < 1e-5
            assert (fused(x, residual) - _plain(conv, x, residual, relu)).abs().max() < 1e-5
    assert len(fused._packed) == 2


def test_packed_weight_follows_a_weight_update():
    conv = _conv()
    fused = FusedConv(conv, relu=False)
    x = torch.randn(1, 8, 10, 10)
    with torch.no_grad():
        before = fused(x)  # packs the old weight
        conv.load_state_dict({k: v * 3 - 1 for k, v in conv.state_dict().items()})
        after = fused(x)
        assert (after - conv(x)).abs().max() < 1e-5 and (after - before).abs().max() > 0.1


def test_used_fused_conv_copies_and_saves():
    fused = FusedConv(_conv(), relu=True)
    x = torch.randn(1, 8, 10, 10)
    with torch.no_grad():
        expected = fused(x)  # the cache now holds an opaque oneDNN tensor
    torch.save(fused, io.BytesIO())  # pickles without the cache
    twin = copy.deepcopy(fused)
    assert not twin._packed
    with torch.no_grad():
        assert torch.equal(twin(x), expected)


def test_grad_mode_runs_the_plain_modules():
    conv = _conv()
    fused = FusedConv(conv, relu=True)
    x = torch.randn(1, 8, 10, 10, requires_grad=True)
    fused(x).sum().backward()
    assert x.grad is not None and conv.weight.grad is not None and not fused._packed


def _bf16_autocast():
    return torch.autocast("cpu", dtype=torch.bfloat16)


def test_fused_conv_under_bf16_autocast_runs_in_bf16_close_to_autocast():
    conv = _conv()
    fused = FusedConv(conv, relu=True)
    x = torch.randn(1, 8, 12, 12).to(memory_format=torch.channels_last)
    # in the network the residual is the bf16 output of an earlier conv
    residual = torch.randn(1, 16, 12, 12).to(torch.bfloat16, memory_format=torch.channels_last)
    with torch.no_grad(), _bf16_autocast():
        out, ref = fused(x, residual), torch.relu(conv(x) + residual)
    assert out.dtype == ref.dtype == torch.bfloat16
    # both round the conv output to bf16 (8 bits of mantissa); the fused add rounds once, not twice
    assert (out.float() - ref.float()).abs().max() <= 2e-2 * ref.float().abs().max()
    assert any(key[1] == torch.bfloat16 for key in fused._packed)


def test_bf16_cached_linear_equals_autocast_and_plain_in_fp32():
    torch.manual_seed(0)
    linear = nn.Linear(16, 24)
    cached = Bf16CachedLinear(linear)
    x = torch.randn(7, 2, 16)
    with torch.no_grad():
        assert torch.equal(cached(x), linear(x))
        with _bf16_autocast():
            first, again, ref = cached(x), cached(x), linear(x)
        assert first.dtype == torch.bfloat16 and torch.equal(first, ref) and torch.equal(again, ref)
        linear.weight.mul_(2)  # an in-place update: the bf16 copy is made again
        with _bf16_autocast():
            assert torch.equal(cached(x), linear(x))


def test_weights_made_in_inference_mode_pack():
    with torch.inference_mode():  # inference tensors have no version counter
        conv = _conv()
        linear = nn.Linear(8, 4)
        x = torch.randn(1, 8, 10, 10)
        assert (FusedConv(conv, relu=False)(x) - conv(x)).abs().max() < 1e-5
        with _bf16_autocast():
            assert torch.equal(Bf16CachedLinear(linear)(x.flatten(2).transpose(1, 2)), linear(x.flatten(2).transpose(1, 2)))
