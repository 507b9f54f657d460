"""Box heads (corner soft-argmax, DETR-style MLP) and the STARK-ST score head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lib.utils.box_ops import box_xyxy_to_cxcywh


def _conv_bn_relu(in_channels: int, out_channels: int) -> nn.Sequential:
    # indices 0 (conv) and 1 (BN) give the official keys conv1_tl.0.weight, conv1_tl.1.running_mean
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=True),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    )


def soft_argmax(
    score_map: torch.Tensor, coord_x: torch.Tensor, coord_y: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Expected (x, y) under a softmax over the cells of a score map.

    Args:
        score_map: (B, 1, H, W) logits.
        coord_x, coord_y: (H*W,) cell coordinates in row-major order (token index = y*W + x).
    Returns:
        x, y: (B,) in the units of the coordinates.
    """
    prob = F.softmax(score_map.flatten(1), dim=1)  # (B, HW)
    return (prob * coord_x).sum(dim=1), (prob * coord_y).sum(dim=1)


class CornerHead(nn.Module):
    """Two conv towers (top-left, bottom-right) -> score maps -> soft-argmax corners.

    Each tower is 4 x (conv3x3 + BatchNorm2d + ReLU) with widths C, C/2, C/4, C/8 and a 1x1 conv to
    one channel. The coordinate grid is cell index * stride (no half-cell offset), divided by the
    search size, as in the official code.
    """

    def __init__(self, in_channels: int, channels: int, feat_size: int, stride: int) -> None:
        super().__init__()
        self.feat_size = feat_size
        self.stride = stride
        self.img_size = feat_size * stride
        widths = [in_channels, channels, channels // 2, channels // 4, channels // 8]
        for corner in ("tl", "br"):
            for index in range(4):
                setattr(self, f"conv{index + 1}_{corner}", _conv_bn_relu(widths[index], widths[index + 1]))
            setattr(self, f"conv5_{corner}", nn.Conv2d(widths[4], 1, kernel_size=1))
        cells = torch.arange(feat_size, dtype=torch.float32) * stride
        self.register_buffer("coord_x", cells.repeat(feat_size), persistent=False)  # x varies fastest
        self.register_buffer("coord_y", cells.repeat_interleave(feat_size), persistent=False)

    def _tower(self, x: torch.Tensor, corner: str) -> torch.Tensor:
        for index in range(1, 6):
            x = getattr(self, f"conv{index}_{corner}")(x)
        return x

    def score_maps(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, H, W) -> top-left and bottom-right logits, each (B, 1, H, W)."""
        return self._tower(features, "tl"), self._tower(features, "br")

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(B, C, feat, feat) -> boxes (B, 4) as (x1, y1, x2, y2) normalised by the search size."""
        if features.shape[-1] != self.feat_size or features.shape[-2] != self.feat_size:
            raise ValueError(
                f"corner head expects a {self.feat_size}x{self.feat_size} map, got {tuple(features.shape[-2:])}"
            )
        score_tl, score_br = self.score_maps(features)
        x_tl, y_tl = soft_argmax(score_tl, self.coord_x, self.coord_y)
        x_br, y_br = soft_argmax(score_br, self.coord_x, self.coord_y)
        return torch.stack((x_tl, y_tl, x_br, y_br), dim=1) / self.img_size


class MLP(nn.Module):
    """Linear layers with ReLU between them (the DETR MLP): ``layers.0 .. layers.{n-1}``.

    ``input_norm`` puts a ``BatchNorm1d`` (``norm``) in front: it standardises each input feature over the
    batch, for inputs that vary little around a large common part (see ``model.score_head_norm``).
    """

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, num_layers: int, input_norm: bool = False) -> None:
        super().__init__()
        dims = [in_dim] + [hidden_dim] * (num_layers - 1) + [out_dim]
        self.norm = nn.BatchNorm1d(in_dim) if input_norm else None
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(dims[:-1], dims[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., in_dim) -> (..., out_dim)."""
        if self.norm is not None:
            x = self.norm(x.reshape(-1, x.shape[-1])).reshape(x.shape)
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.layers) - 1:
                x = F.relu(x)
        return x


class MLPBoxHead(MLP):
    """DETR box head (paper Table 6 #4): MLP on the query output, sigmoid, (cx, cy, w, h) normalised."""

    def __init__(self, dim: int, num_layers: int) -> None:
        super().__init__(dim, dim, 4, num_layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, C) -> (B, N, 4) cxcywh in [0, 1]."""
        return super().forward(x).sigmoid()


def corners_to_cxcywh(boxes_xyxy: torch.Tensor) -> torch.Tensor:
    """(..., 4) x1y1x2y2 -> cxcywh (the corner head's output convention)."""
    return box_xyxy_to_cxcywh(boxes_xyxy)
