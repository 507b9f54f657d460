"""Unit tests of the building blocks against hand computations and torch reference modules."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from lib.models.backbone import ResNetTrunk, downsample_mask
from lib.models.heads import CornerHead, soft_argmax
from lib.models.position_encoding import sine_position_encoding
from lib.models.transformer import Attention
from lib.utils import box_ops


def test_sine_encoding_matches_hand_computation():
    # 2 x 3 map, last column padded; 2 features per axis -> dim_t = [1, 1]
    mask = torch.tensor([[[False, False, True], [False, False, True]]])
    pos = sine_position_encoding(mask, num_pos_feats=2)
    assert pos.shape == (1, 4, 2, 3)
    two_pi, eps = 2 * math.pi, 1e-6
    # y: cumsum down the rows of the unpadded mask, divided by the last row's value
    y = [[1 / (2 + eps), 1 / (2 + eps), 0.0], [2 / (2 + eps), 2 / (2 + eps), 0.0]]
    # x: cumsum along the row divided by the last column's cumsum (2, padding excluded)
    x = [[1 / (2 + eps), 2 / (2 + eps), 2 / (2 + eps)]] * 2
    for r in range(2):
        for c in range(3):
            yv, xv = y[r][c] * two_pi, x[r][c] * two_pi
            expected = [math.sin(yv), math.cos(yv), math.sin(xv), math.cos(xv)]
            assert pos[0, :, r, c].tolist() == pytest.approx(expected, abs=1e-6)


def test_sine_encoding_frequencies_interleave():
    mask = torch.zeros(1, 1, 1, dtype=torch.bool)  # one cell: y = x = 2*pi/(1+eps)
    pos = sine_position_encoding(mask, num_pos_feats=4)[0, :, 0, 0]
    value = 2 * math.pi / (1 + 1e-6)
    dim_t = [1.0, 1.0, 100.0, 100.0]  # 1e4 ** (2 * (i // 2) / 4)
    expected_axis = [
        math.sin(value / dim_t[0]),
        math.cos(value / dim_t[1]),
        math.sin(value / dim_t[2]),
        math.cos(value / dim_t[3]),
    ]
    assert pos.tolist() == pytest.approx(expected_axis * 2, abs=1e-6)


def test_soft_argmax_recovers_one_hot_peak():
    head = CornerHead(in_channels=8, channels=16, feat_size=8, stride=16)
    score = torch.full((1, 1, 8, 8), -1e4)
    score[0, 0, 3, 5] = 0.0  # row y=3, column x=5
    x, y = soft_argmax(score, head.coord_x, head.coord_y)
    assert (x.item(), y.item()) == (5 * 16.0, 3 * 16.0)  # index * stride, no half-cell offset
    # grids are non-persistent buffers: not in the state_dict, but they move with .to()
    assert "coord_x" not in head.state_dict() and "coord_x" in dict(head.named_buffers())


def test_corner_head_normalises_by_search_size(monkeypatch):
    head = CornerHead(in_channels=8, channels=16, feat_size=8, stride=16)
    tl = torch.full((2, 1, 8, 8), -1e4)
    br = torch.full((2, 1, 8, 8), -1e4)
    tl[:, 0, 1, 2] = 0.0
    br[:, 0, 6, 7] = 0.0
    monkeypatch.setattr(head, "score_maps", lambda features: (tl, br))
    boxes = head(torch.zeros(2, 8, 8, 8))
    expected = torch.tensor([2 * 16, 1 * 16, 7 * 16, 6 * 16]) / 128.0
    assert torch.equal(boxes, expected.expand(2, 4))


def test_frozen_batchnorm_equals_eval_batchnorm():
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(6).eval()
    with torch.no_grad():
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.2, 3.0)
        bn.weight.normal_()
        bn.bias.normal_()
    frozen = FrozenBatchNorm2d(6)
    frozen.load_state_dict(bn.state_dict())  # drops num_batches_tracked
    x = torch.randn(2, 6, 5, 5)
    assert torch.allclose(frozen(x), bn(x), atol=1e-6)
    trunk = ResNetTrunk("resnet18")
    norms = [m for m in trunk.modules() if isinstance(m, (nn.BatchNorm2d, FrozenBatchNorm2d))]
    assert norms and all(isinstance(m, FrozenBatchNorm2d) and m.eps == 1e-5 for m in norms)


def test_mask_downsampling_follows_padding():
    mask = torch.zeros(1, 128, 128, dtype=torch.bool)
    mask[:, :, 88:] = True  # right padding
    mask[:, 120:, :] = True  # bottom padding
    small = downsample_mask(mask, (8, 8))
    # nearest sampling reads source pixel 16 * j: columns j >= 6 (96 >= 88), rows i >= 8 (none)
    expected = torch.zeros(1, 8, 8, dtype=torch.bool)
    expected[:, :, 6:] = True
    assert torch.equal(small, expected)


@pytest.mark.parametrize("with_mask", [False, True])
def test_attention_matches_torch_multihead_attention(with_mask):
    torch.manual_seed(0)
    ours = Attention(16, 4).eval()
    with torch.no_grad():
        ours.in_proj_bias.normal_()
    ref = nn.MultiheadAttention(16, 4).eval()
    ref.load_state_dict(ours.state_dict())
    q, kv = torch.randn(3, 2, 16), torch.randn(7, 2, 16)
    mask = torch.zeros(2, 7, dtype=torch.bool)
    if with_mask:
        mask[0, 5:] = True
    out, weights = ours(q, kv, kv, mask, need_weights=True)
    fast, none = ours(q, kv, kv, mask)
    expected, expected_weights = ref(q, kv, kv, key_padding_mask=mask)
    assert none is None
    assert torch.allclose(out, expected, atol=1e-5) and torch.allclose(fast, expected, atol=1e-5)
    assert torch.allclose(weights, expected_weights, atol=1e-6)
    if with_mask:
        assert torch.all(weights[0, :, 5:] == 0)


def test_box_conversions_round_trip():
    boxes = torch.tensor([[0.5, 0.4, 0.2, 0.1], [0.3, 0.3, 0.6, 0.2]])
    assert torch.allclose(box_ops.box_xyxy_to_cxcywh(box_ops.box_cxcywh_to_xyxy(boxes)), boxes)
    assert box_ops.box_cxcywh_to_xyxy(boxes)[0].tolist() == pytest.approx([0.4, 0.35, 0.6, 0.45])
    assert box_ops.box_xywh_to_xyxy(boxes)[1].tolist() == pytest.approx([0.3, 0.3, 0.9, 0.5])


def test_score_head_input_norm_standardises_over_the_batch():
    from lib.models.heads import MLP

    torch.manual_seed(0)
    plain, normed = MLP(8, 8, 1, 3), MLP(8, 8, 1, 3, input_norm=True)
    assert [k for k in plain.state_dict()] == [k for k in normed.state_dict() if not k.startswith("norm.")]
    x = torch.randn(6, 1, 8) * 0.03 + 0.8  # small variation around a large common part
    normed.train()
    assert torch.allclose(normed(x), normed(x + 5.0), atol=1e-4)  # a common shift is removed
    normed.eval()  # running statistics at test time: one sample at a time works
    assert normed(x[:1]).shape == (1, 1, 1)
