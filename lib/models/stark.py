"""The STARK network: one class for STARK-S and STARK-ST and the paper's ablations.

Output dict keys (all batch-first):

* ``pred_boxes``: (B, Nq, 4) ``(cx, cy, w, h)`` normalised by the search crop size.
* ``pred_logits``: (B, Nq, 1) raw score logits (apply sigmoid at use); only when the score head ran.
* ``encoder_attention``: (B, L, L) last encoder layer self-attention, heads averaged; with
  ``return_attention`` and at least one encoder layer. L = all template tokens + search tokens.
* ``decoder_attention``: (B, Nq, L) last decoder cross-attention; with ``return_attention`` and a decoder.
* ``query_embedding``: (B, Nq, C) the decoder output; with ``query_update`` (carried to the next frame).

Without a decoder (ablation ``dec_layers=0``) there is no query: the corner head reads the search
memory unweighted (no enc . hs similarity) and the MLP box head and the score head read the search
memory mean-pooled over its un-padded tokens (Nq = 1).

Table 7 variants (paper 4.4):

* template-as-query (``query_source="template"``): the templates and the search region go through the
  shared encoder separately (no template -> search flow); the encoded template tokens are the decoder
  queries (positional term: the template's), they attend to the search memory, and their outputs are
  mean-pooled over the un-padded template tokens into one target embedding (Nq = 1).
* update-query (``query_update``, TrackFormer-style): the query is ``query_embed + W h_prev`` where
  ``h_prev`` is the previous frame's decoder output (the learned query alone on the first frame).
  Training samples hold (template, previous frame) as their two templates: a first pass on the
  previous frame's crop gives ``h_prev`` for the pass on the search frame; only the template is memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch
from torch import nn

from lib.models.backbone import ResNetTrunk
from lib.models.heads import MLP, MLPBoxHead, corners_to_cxcywh
from lib.models.position_encoding import SinePositionEncoding
from lib.models.transformer import Transformer


@dataclass
class FeatureSequence:
    """Flattened features of one image batch.

    feat: (HW, B, C); mask: (B, HW) bool, True on padding; pos: (HW, B, C); size: (H, W) of the map.
    """

    feat: torch.Tensor
    mask: torch.Tensor
    pos: torch.Tensor
    size: tuple[int, int]


def merge_sequences(sequences: Sequence[FeatureSequence]) -> FeatureSequence:
    """Concatenate along the token axis in the given order (the search must come last)."""
    return FeatureSequence(
        feat=torch.cat([s.feat for s in sequences], dim=0),
        mask=torch.cat([s.mask for s in sequences], dim=1),
        pos=torch.cat([s.pos for s in sequences], dim=0),
        size=sequences[-1].size,
    )


def _masked_mean(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """tokens (B, HW, C), mask (B, HW) True on padding -> (B, 1, C) mean over valid tokens."""
    keep = (~mask).to(tokens.dtype)[..., None]
    return ((tokens * keep).sum(dim=1) / keep.sum(dim=1).clamp(min=1.0))[:, None, :]


class Stark(nn.Module):
    """Backbone -> bottleneck -> transformer -> box head (+ score head). Build with ``build_stark``.

    Args:
        trunk: ResNet trunk (registered as ``backbone.0`` to match the official keys).
        transformer: encoder/decoder (the decoder may be absent).
        box_head: CornerHead or MLPBoxHead.
        cls_head: score MLP or None.
        hidden_dim: transformer width.
        num_queries: decoder queries (1 in STARK; K in the Table 7 Hungarian variant).
        use_position_encoding: False zeroes the positional terms (ablation).
        template_queries: Table 7 template-as-query (no learned queries).
        query_update: Table 7 update-query (a linear map of the previous frame's output).
    """

    def __init__(
        self,
        trunk: ResNetTrunk,
        transformer: Transformer,
        box_head: nn.Module,
        cls_head: Optional[MLP],
        hidden_dim: int,
        num_queries: int = 1,
        use_position_encoding: bool = True,
        template_queries: bool = False,
        query_update: bool = False,
    ) -> None:
        super().__init__()
        self.backbone = nn.ModuleList([trunk])
        self.position_encoding = SinePositionEncoding(hidden_dim) if use_position_encoding else None
        self.bottleneck = nn.Conv2d(trunk.num_channels, hidden_dim, kernel_size=1)
        self.has_decoder = transformer.decoder is not None
        if (template_queries or query_update) and not self.has_decoder:
            raise ValueError("template queries and query updates need a decoder")
        self.template_queries = template_queries
        learned = self.has_decoder and not template_queries
        self.query_embed = nn.Embedding(num_queries, hidden_dim) if learned else None
        self.query_update = nn.Linear(hidden_dim, hidden_dim) if query_update else None
        self.transformer = transformer
        self.box_head = box_head
        self.cls_head = cls_head
        self.hidden_dim = hidden_dim

    # ------------------------------------------------------------------------------------------
    def encode(self, images: torch.Tensor, masks: torch.Tensor) -> FeatureSequence:
        """Backbone + bottleneck + positional encoding of one image batch.

        Args:
            images: (B, 3, H, W) normalised crops; masks: (B, H, W) bool, True on padding.
        Returns:
            FeatureSequence with H/16 x W/16 tokens.
        """
        features, feat_mask = self.backbone[0](images, masks)
        features = self.bottleneck(features)  # (B, C, h, w)
        batch, channels, height, width = features.shape
        if self.position_encoding is not None:
            pos = self.position_encoding(feat_mask).to(features.dtype)
            pos = pos.flatten(2).permute(2, 0, 1)  # (hw, B, C)
        else:
            pos = features.new_zeros(height * width, batch, channels)
        return FeatureSequence(
            feat=features.flatten(2).permute(2, 0, 1),  # (hw, B, C)
            mask=feat_mask.flatten(1),  # (B, hw)
            pos=pos,
            size=(height, width),
        )

    def decode(
        self,
        template_features: Sequence[FeatureSequence],
        search_features: FeatureSequence,
        run_box_head: bool = True,
        run_cls_head: bool = False,
        return_attention: bool = False,
        previous_query: Optional[torch.Tensor] = None,
    ) -> dict[str, torch.Tensor]:
        """Transformer and heads on cached template features and the current search features.

        ``previous_query``: (B, Nq, C) the previous frame's ``query_embedding`` (update-query only).
        """
        if self.template_queries:
            search_memory, hs, enc_attention, dec_attention = self._template_query_pass(
                template_features, search_features, return_attention
            )
        else:
            search_memory, hs, enc_attention, dec_attention = self._stark_pass(
                template_features, search_features, return_attention, previous_query
            )
        out: dict[str, torch.Tensor] = {}
        if self.query_update is not None:
            out["query_embedding"] = hs
        if run_box_head:
            out["pred_boxes"] = self._boxes(search_memory, hs, search_features.size)
        if run_cls_head:
            if self.cls_head is None:
                raise RuntimeError("run_cls_head=True but this model has no score head (model.score_head=false)")
            out["pred_logits"] = self.cls_head(hs)
        if return_attention:
            if enc_attention is not None:
                out["encoder_attention"] = enc_attention
            if dec_attention is not None:
                out["decoder_attention"] = dec_attention
        return out

    def _stark_pass(self, template_features, search_features, return_attention, previous_query):
        """STARK: templates and search encoded together, learned queries (updated when asked)."""
        merged = merge_sequences([*template_features, search_features])
        pos = merged.pos if self.position_encoding is not None else None
        memory, enc_attention = self.transformer.encode(merged.feat, merged.mask, pos, return_attention)
        num_search = search_features.feat.shape[0]
        search_memory = memory[-num_search:].transpose(0, 1)  # (B, HWs, C)
        if not self.has_decoder:
            return search_memory, _masked_mean(search_memory, search_features.mask), enc_attention, None
        query = self.query_embed.weight
        if self.query_update is not None and previous_query is not None:
            query = query[None] + self.query_update(previous_query)  # (B, Nq, C)
        hs, dec_attention = self.transformer.decode(memory, merged.mask, pos, query, return_attention)
        return search_memory, hs, enc_attention, dec_attention

    def _template_query_pass(self, template_features, search_features, return_attention):
        """Table 7 template-as-query: separate encoder passes, template tokens query the search memory."""
        use_pos = self.position_encoding is not None
        templates = merge_sequences(template_features)
        template_memory, _ = self.transformer.encode(templates.feat, templates.mask, templates.pos if use_pos else None)
        search_pos = search_features.pos if use_pos else None
        memory, enc_attention = self.transformer.encode(
            search_features.feat, search_features.mask, search_pos, return_attention
        )
        tokens, dec_attention = self.transformer.decode_queries(
            template_memory, templates.pos, memory, search_features.mask, search_pos, return_attention, templates.mask
        )
        hs = _masked_mean(tokens, templates.mask)  # (B, 1, C): one target embedding
        if dec_attention is not None:
            dec_attention = _masked_mean(dec_attention, templates.mask)
        return memory.transpose(0, 1), hs, enc_attention, dec_attention

    def _boxes(self, search_memory: torch.Tensor, hs: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """search_memory (B, HW, C), hs (B, N, C) -> (B, N, 4) cxcywh normalised."""
        if isinstance(self.box_head, MLPBoxHead):
            return self.box_head(hs)
        batch, num_queries = hs.shape[0], hs.shape[1]
        if self.has_decoder:
            # official: per-token scaling by the token-query similarity, no softmax
            similarity = search_memory @ hs.transpose(1, 2)  # (B, HW, N)
            weighted = search_memory[..., None] * similarity[:, :, None, :]  # (B, HW, C, N)
            maps = weighted.permute(0, 3, 2, 1).reshape(batch * num_queries, -1, *size)  # (B*N, C, h, w)
        else:
            maps = search_memory.transpose(1, 2).reshape(batch, -1, *size)  # (B, C, h, w)
        boxes_xyxy = self.box_head(maps)  # (B*N, 4)
        return corners_to_cxcywh(boxes_xyxy).view(batch, num_queries, 4)

    # ------------------------------------------------------------------------------------------
    def forward(
        self,
        template_images: torch.Tensor,
        template_masks: torch.Tensor,
        search_images: torch.Tensor,
        search_masks: torch.Tensor,
        run_box_head: bool = True,
        run_cls_head: bool = False,
        return_attention: bool = False,
    ) -> dict[str, torch.Tensor]:
        """One training step's network pass.

        Args:
            template_images: (B, T, 3, Ht, Wt); template_masks: (B, T, Ht, Wt) bool.
            search_images: (B, 3, Hs, Ws); search_masks: (B, Hs, Ws) bool.
        Returns:
            the dict described in the module docstring.
        """
        batch, num_templates = template_images.shape[:2]
        # all templates go through the backbone in one call; FrozenBN makes this batch-independent
        templates = self.encode(template_images.flatten(0, 1), template_masks.flatten(0, 1))
        tokens = templates.feat.shape[0]
        feat = templates.feat.view(tokens, batch, num_templates, -1)
        pos = templates.pos.view(tokens, batch, num_templates, -1)
        mask = templates.mask.view(batch, num_templates, tokens)
        per_template = [
            FeatureSequence(feat[:, :, t], mask[:, t], pos[:, :, t], templates.size) for t in range(num_templates)
        ]
        search = self.encode(search_images, search_masks)
        if self.query_update is None:
            return self.decode(per_template, search, run_box_head, run_cls_head, return_attention)
        # update-query: templates hold (template, previous frame); the previous frame's pass gives the query
        previous = self.decode(per_template[:1], per_template[1], run_box_head=False)["query_embedding"]
        return self.decode(per_template[:1], search, run_box_head, run_cls_head, return_attention, previous)
