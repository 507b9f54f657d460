"""DETR-style sine positional encoding (idea from DETR, Apache-2.0; written fresh).

The encoding is computed per feature map from its padding mask, so template and search each get
their own normalised coordinates, as in the official code.
"""

from __future__ import annotations

import math

import torch


def sine_position_encoding(
    mask: torch.Tensor,
    num_pos_feats: int,
    temperature: float = 10000.0,
    scale: float = 2 * math.pi,
    eps: float = 1e-6,
) -> torch.Tensor:
    """Sine encoding of the un-padded pixels of a feature map.

    Args:
        mask: (B, H, W) bool, True on padding.
        num_pos_feats: channels per axis (half the model width).
    Returns:
        (B, 2 * num_pos_feats, H, W) float32: channels [y (num_pos_feats), x (num_pos_feats)], each
        interleaving sin (even channels) and cos (odd channels).
    """
    not_mask = (~mask).to(torch.float32)
    y_embed = not_mask.cumsum(1)
    x_embed = not_mask.cumsum(2)
    # normalise by the last cumulative value of each row/column: padding at the end is excluded
    y_embed = y_embed / (y_embed[:, -1:, :] + eps) * scale
    x_embed = x_embed / (x_embed[:, :, -1:] + eps) * scale
    index = torch.arange(num_pos_feats, dtype=torch.float32, device=mask.device)
    dim_t = temperature ** (2 * torch.div(index, 2, rounding_mode="floor") / num_pos_feats)
    pos_x = x_embed[..., None] / dim_t  # (B, H, W, F)
    pos_y = y_embed[..., None] / dim_t
    pos_x = torch.stack((pos_x[..., 0::2].sin(), pos_x[..., 1::2].cos()), dim=4).flatten(3)
    pos_y = torch.stack((pos_y[..., 0::2].sin(), pos_y[..., 1::2].cos()), dim=4).flatten(3)
    return torch.cat((pos_y, pos_x), dim=3).permute(0, 3, 1, 2)


class SinePositionEncoding(torch.nn.Module):
    """Stateless module wrapper of :func:`sine_position_encoding` (no parameters, no buffers)."""

    def __init__(self, hidden_dim: int) -> None:
        super().__init__()
        if hidden_dim % 2:
            raise ValueError(f"sine position encoding needs an even hidden_dim, got {hidden_dim}")
        self.num_pos_feats = hidden_dim // 2

    def forward(self, mask: torch.Tensor) -> torch.Tensor:
        """(B, H, W) bool mask -> (B, hidden_dim, H, W) encoding."""
        return sine_position_encoding(mask, self.num_pos_feats)
