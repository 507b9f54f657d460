"""DETR-style encoder-decoder transformer as used by STARK (design from DETR, Apache-2.0; written fresh).

Sequence-first tensors, (L, B, C), as in the official code. Post-norm layers by default, no final
encoder norm, a final decoder norm, and a decoder target that starts at zeros with the learned query
as its positional term, as in the official code.
"""

from __future__ import annotations

import copy
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn


class Attention(nn.Module):
    """Multi-head attention with ``nn.MultiheadAttention``'s parameter names and numerics.

    Computes with ``F.scaled_dot_product_attention``; with ``need_weights`` it takes the explicit
    path and also returns the head-averaged attention weights (B, Lq, Lk).
    """

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"hidden_dim {dim} is not divisible by nheads {num_heads}")
        self.dim = dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * dim, dim))
        self.in_proj_bias = nn.Parameter(torch.empty(3 * dim))
        self.out_proj = nn.Linear(dim, dim)
        nn.init.xavier_uniform_(self.in_proj_weight)
        nn.init.zeros_(self.in_proj_bias)
        nn.init.zeros_(self.out_proj.bias)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        length, batch, _ = x.shape  # (L, B, C) -> (B, h, L, C/h)
        return x.reshape(length, batch, self.num_heads, self.dim // self.num_heads).permute(1, 2, 0, 3)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: Optional[torch.Tensor] = None,
        need_weights: bool = False,
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """query (Lq,B,C), key/value (Lk,B,C), key_padding_mask (B,Lk) True = ignore.

        Returns (Lq,B,C) output and, with ``need_weights``, (B,Lq,Lk) weights averaged over heads.
        """
        dim = self.dim
        if query is key:
            # encoder / decoder self-attention: q and k share their input, one matmul for both
            q, k = F.linear(query, self.in_proj_weight[: 2 * dim], self.in_proj_bias[: 2 * dim]).chunk(2, dim=-1)
        else:
            q = F.linear(query, self.in_proj_weight[:dim], self.in_proj_bias[:dim])
            k = F.linear(key, self.in_proj_weight[dim : 2 * dim], self.in_proj_bias[dim : 2 * dim])
        v = F.linear(value, self.in_proj_weight[2 * dim :], self.in_proj_bias[2 * dim :])
        q, k, v = self._heads(q), self._heads(k), self._heads(v)
        attn_mask = None
        # an all-False mask changes nothing; on CPU dropping it lets SDPA skip the masking work
        # (the check would be a device sync on GPU, and a data-dependent branch that tracing for
        # export or torch.compile would freeze, so there the mask is always passed)
        skip_mask = (
            key_padding_mask is not None
            and key_padding_mask.device.type == "cpu"
            and not (torch.jit.is_tracing() or torch.compiler.is_compiling())
            and not key_padding_mask.any()
        )
        if key_padding_mask is not None and not skip_mask:
            attn_mask = ~key_padding_mask[:, None, None, :]  # (B, 1, 1, Lk): True = attend
        dropout_p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            scores = (q * (q.shape[-1] ** -0.5)) @ k.transpose(-2, -1)  # (B, h, Lq, Lk)
            if attn_mask is not None:
                scores = scores.masked_fill(~attn_mask, float("-inf"))
            probs = scores.softmax(dim=-1)
            weights = probs.mean(dim=1)
            out = F.dropout(probs, dropout_p, self.training) @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout_p)
        out = out.permute(2, 0, 1, 3).reshape(query.shape[0], query.shape[1], self.dim)  # (Lq, B, C)
        return self.out_proj(out), weights


def _with_pos(x: torch.Tensor, pos: Optional[torch.Tensor]) -> torch.Tensor:
    return x if pos is None else x + pos


class EncoderLayer(nn.Module):
    """Self-attention + FFN, each with residual, dropout and LayerNorm (post-norm unless pre_norm)."""

    def __init__(self, dim: int, nheads: int, dim_feedforward: int, dropout: float, pre_norm: bool) -> None:
        super().__init__()
        self.self_attn = Attention(dim, nheads, dropout)
        self.linear1 = nn.Linear(dim, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.pre_norm = pre_norm

    def _ffn(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(F.relu(self.linear1(x))))

    def forward(
        self, src: torch.Tensor, mask: Optional[torch.Tensor], pos: Optional[torch.Tensor], need_weights: bool = False
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """src (L,B,C), mask (B,L), pos (L,B,C) -> (L,B,C), optional (B,L,L) attention."""
        if self.pre_norm:
            x = self.norm1(src)
            q = _with_pos(x, pos)
            attn, weights = self.self_attn(q, q, x, mask, need_weights)
            src = src + self.dropout1(attn)
            return src + self.dropout2(self._ffn(self.norm2(src))), weights
        q = _with_pos(src, pos)
        attn, weights = self.self_attn(q, q, src, mask, need_weights)
        src = self.norm1(src + self.dropout1(attn))
        return self.norm2(src + self.dropout2(self._ffn(src))), weights


class DecoderLayer(nn.Module):
    """Query self-attention, cross-attention to the memory, FFN; three norms."""

    def __init__(self, dim: int, nheads: int, dim_feedforward: int, dropout: float, pre_norm: bool) -> None:
        super().__init__()
        self.self_attn = Attention(dim, nheads, dropout)
        self.multihead_attn = Attention(dim, nheads, dropout)
        self.linear1 = nn.Linear(dim, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, dim)
        self.norm1 = nn.LayerNorm(dim)
        self.norm2 = nn.LayerNorm(dim)
        self.norm3 = nn.LayerNorm(dim)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)
        self.pre_norm = pre_norm

    def _ffn(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(self.dropout(F.relu(self.linear1(x))))

    def forward(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        memory_mask: Optional[torch.Tensor],
        pos: Optional[torch.Tensor],
        query_pos: torch.Tensor,
        need_weights: bool = False,
        tgt_mask: Optional[torch.Tensor] = None,
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """tgt (N,B,C), memory (L,B,C), memory_mask (B,L) -> (N,B,C), optional (B,N,L) cross-attention.

        ``tgt_mask`` (B,N), True on padding: queries the self-attention ignores (template-as-query).
        """
        if self.pre_norm:
            x = self.norm1(tgt)
            q = x + query_pos
            tgt = tgt + self.dropout1(self.self_attn(q, q, x, tgt_mask)[0])
            x = self.norm2(tgt)
            attn, weights = self.multihead_attn(
                x + query_pos, _with_pos(memory, pos), memory, memory_mask, need_weights
            )
            tgt = tgt + self.dropout2(attn)
            return tgt + self.dropout3(self._ffn(self.norm3(tgt))), weights
        q = tgt + query_pos
        tgt = self.norm1(tgt + self.dropout1(self.self_attn(q, q, tgt, tgt_mask)[0]))
        attn, weights = self.multihead_attn(tgt + query_pos, _with_pos(memory, pos), memory, memory_mask, need_weights)
        tgt = self.norm2(tgt + self.dropout2(attn))
        return self.norm3(tgt + self.dropout3(self._ffn(tgt))), weights


class Encoder(nn.Module):
    """A stack of encoder layers without a final norm (official STARK)."""

    def __init__(self, layer: EncoderLayer, num_layers: int, final_norm: Optional[nn.Module] = None) -> None:
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(num_layers))
        self.norm = final_norm

    def forward(self, src, mask, pos, need_weights: bool = False):
        """src (L,B,C) -> memory (L,B,C), attention (B,L,L) of the last layer or None."""
        weights = None
        for index, layer in enumerate(self.layers):
            last = index == len(self.layers) - 1
            src, weights = layer(src, mask, pos, need_weights and last)
        if self.norm is not None:
            src = self.norm(src)
        return src, weights


class Decoder(nn.Module):
    """A stack of decoder layers followed by a LayerNorm; only the last output is returned."""

    def __init__(self, layer: DecoderLayer, num_layers: int, dim: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(num_layers))
        self.norm = nn.LayerNorm(dim)

    def forward(self, tgt, memory, memory_mask, pos, query_pos, need_weights: bool = False, tgt_mask=None):
        """tgt/query_pos (N,B,C), memory (L,B,C) -> (N,B,C), cross-attention (B,N,L) of the last layer."""
        weights = None
        for index, layer in enumerate(self.layers):
            last = index == len(self.layers) - 1
            tgt, weights = layer(tgt, memory, memory_mask, pos, query_pos, need_weights and last, tgt_mask)
        return self.norm(tgt), weights


class Transformer(nn.Module):
    """Encoder (may have 0 layers) + decoder (may be absent: ``num_decoder_layers=0``)."""

    def __init__(
        self,
        dim: int = 256,
        nheads: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        pre_norm: bool = False,
    ) -> None:
        super().__init__()
        self.dim = dim
        enc_layer = EncoderLayer(dim, nheads, dim_feedforward, dropout, pre_norm)
        # pre-norm stacks need a final encoder norm (DETR); the official post-norm STARK has none
        self.encoder = Encoder(
            enc_layer, num_encoder_layers, nn.LayerNorm(dim) if pre_norm and num_encoder_layers else None
        )
        self.decoder = None
        if num_decoder_layers > 0:
            dec_layer = DecoderLayer(dim, nheads, dim_feedforward, dropout, pre_norm)
            self.decoder = Decoder(dec_layer, num_decoder_layers, dim)
        for param in self.parameters():
            if param.dim() > 1:
                nn.init.xavier_uniform_(param)

    def encode(self, src, mask, pos, need_weights: bool = False):
        """src (L,B,C), mask (B,L), pos (L,B,C) or None -> memory (L,B,C), attention or None."""
        return self.encoder(src, mask, pos, need_weights)

    def decode(self, memory, mask, pos, query_embed: torch.Tensor, need_weights: bool = False):
        """memory (L,B,C), query_embed (N,C) or per sample (B,N,C) -> hs (B,N,C), cross-attention (B,N,L) or None.

        The target starts at zeros and the query is its positional term (official STARK).
        """
        if query_embed.dim() == 2:
            query_pos = query_embed[:, None, :].expand(-1, memory.shape[1], -1)  # (N, B, C)
        else:
            query_pos = query_embed.transpose(0, 1)
        return self.decode_queries(torch.zeros_like(query_pos), query_pos, memory, mask, pos, need_weights)

    def decode_queries(self, tgt, query_pos, memory, mask, pos, need_weights: bool = False, tgt_mask=None):
        """tgt/query_pos (N,B,C) given queries (tgt_mask (B,N) True on padding) -> hs (B,N,C), attention."""
        hs, weights = self.decoder(tgt, memory, mask, pos, query_pos, need_weights, tgt_mask)
        return hs.transpose(0, 1), weights
