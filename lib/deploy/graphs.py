"""The two exported graphs and the facts that tie an exported pair to a config.

* template graph: ``crop (B,3,Ht,Wt)``, ``mask (B,Ht,Wt)`` -> ``feat (HWt,B,C)``, ``mask (B,HWt)``,
  ``pos (HWt,B,C)`` (the cached features of one template).
* search graph: ``crop (B,3,Hs,Ws)``, ``mask (B,Hs,Ws)``, then ``z{i}_feat``, ``z{i}_mask``, ``z{i}_pos`` for
  every template (initial first, dynamic after) -> ``boxes (B,Nq,4)`` cxcywh normalised (+ ``logits (B,Nq,1)``
  with a score head).

Every mask crosses the graph boundary as float32, 1.0 on padding, and becomes bool inside (a comparison):
bool inputs and bool gathers are what some runtimes (TensorRT) reject.
"""

from __future__ import annotations

import json

import torch
from torch import nn

from lib.config import Config
from lib.models.stark import FeatureSequence

TEMPLATE_FILE = "template.onnx"
SEARCH_FILE = "search.onnx"
METADATA_KEY = "stark_graph_signature"


def graph_signature(cfg: Config) -> dict:
    """What an exported pair must share with the config it is run with (the variant and the crop sizes)."""
    m = cfg.model
    return {
        "backbone": m.backbone.type,
        "hidden_dim": m.hidden_dim,
        "enc_layers": m.transformer.enc_layers,
        "dec_layers": m.transformer.dec_layers,
        "nheads": m.transformer.nheads,
        "dim_feedforward": m.transformer.dim_feedforward,
        "head_type": m.head_type,
        "score_head": m.score_head,
        "position_embedding": m.position_embedding,
        "num_queries": m.num_object_queries,
        "query_source": m.query_source,
        "num_templates": cfg.data.template.number,
        "template_size": cfg.test.template_size,
        "search_size": cfg.test.search_size,
    }


def signature_json(cfg: Config) -> str:
    return json.dumps(graph_signature(cfg), sort_keys=True)


def template_names(num_templates: int) -> list[str]:
    return [f"z{i}_{part}" for i in range(num_templates) for part in ("feat", "mask", "pos")]


class TemplateGraph(nn.Module):
    """``Stark.encode`` with a float mask in and out."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, crop: torch.Tensor, mask: torch.Tensor):
        features = self.model.encode(crop, mask > 0.5)
        return features.feat, features.mask.to(crop.dtype), features.pos


class SearchGraph(nn.Module):
    """``Stark.encode`` of the search crop + ``Stark.decode`` against the templates given as inputs."""

    def __init__(self, model: nn.Module, num_templates: int, template_map: tuple[int, int]) -> None:
        super().__init__()
        self.model = model
        self.num_templates = num_templates
        self.template_map = template_map
        self.has_score = getattr(model, "cls_head", None) is not None

    def forward(self, crop: torch.Tensor, mask: torch.Tensor, *template_tensors: torch.Tensor):
        templates = [
            FeatureSequence(feat, template_mask > 0.5, pos, self.template_map)
            for feat, template_mask, pos in zip(*[iter(template_tensors)] * 3)
        ]
        search = self.model.encode(crop, mask > 0.5)
        out = self.model.decode(templates, search, run_box_head=True, run_cls_head=self.has_score)
        return (out["pred_boxes"], out["pred_logits"]) if self.has_score else out["pred_boxes"]
