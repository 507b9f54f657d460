"""What the tracker calls the network through: ``encode_template`` and ``predict``, whatever runs them.

A backend takes batch-first tensors and returns torch tensors on the CPU or its device:

* ``encode_template(crops (B,3,Ht,Wt) float, masks (B,Ht,Wt) bool) -> FeatureSequence``: the cached
  features of a template crop (computed when a template is set, reused on every frame).
* ``predict(templates: list[FeatureSequence], crops (B,3,Hs,Ws), masks (B,Hs,Ws) bool, previous_query=None)
  -> dict`` with ``pred_boxes`` (B, Nq, 4) cxcywh normalised to the search crop, ``pred_logits`` (B, Nq, 1)
  when ``has_score``, and ``query_embedding`` (B, Nq, C) when ``updates_query`` (the Table 7 update-query
  variant: passed back as ``previous_query`` on the next frame).

:class:`TorchBackend` runs the PyTorch network (optionally ``torch.compile``-d at fixed shapes);
``lib.deploy.onnx_backend.OnnxBackend`` runs the exported graphs. The batch axis lets one call serve
several sequences at once (``batch_features`` stacks their template caches).
"""

from __future__ import annotations

import contextlib
from typing import Sequence

import torch

from lib.models.stark import FeatureSequence

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def batch_features(sequences: Sequence[FeatureSequence]) -> FeatureSequence:
    """Stack per-sequence features of one template slot along the batch axis (all of one size)."""
    if len(sequences) == 1:
        return sequences[0]
    return FeatureSequence(
        feat=torch.cat([s.feat for s in sequences], dim=1),
        mask=torch.cat([s.mask for s in sequences], dim=0),
        pos=torch.cat([s.pos for s in sequences], dim=1),
        size=sequences[0].size,
    )


# Inductor options of ``--compile``, passed per compiled function (never set globally, so training and other
# compiled code keep the defaults). ``freezing`` turns the weights into constants, so inductor can pre-pack
# them for oneDNN/MKL and fuse conv/linear + ReLU: an ST50 step measured ~190 -> ~155 ms on 2 CPU threads.
# It needs the weights to stay fixed, which they do in a tracker (inference mode).
COMPILE_OPTIONS = {"freezing": True}


class TorchBackend:
    """The PyTorch network on ``device``, under optional autocast; ``compile`` wraps encode/decode in
    ``torch.compile`` with :data:`COMPILE_OPTIONS` (one graph per crop size: shapes are fixed at test time)."""

    name = "torch"

    def __init__(self, model: torch.nn.Module, device="cpu", amp: str = "none", compile: bool = False) -> None:
        if amp not in ("none", *AMP_DTYPES):
            raise ValueError(f"amp must be none, bf16 or fp16, got '{amp}'")
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.amp = amp
        self.has_score = getattr(model, "cls_head", None) is not None
        self.updates_query = getattr(model, "query_update", None) is not None
        self._compiled = None
        if compile:
            self._compiled = (
                torch.compile(self.model.encode, dynamic=False, options=COMPILE_OPTIONS),
                torch.compile(self.model.decode, dynamic=False, options=COMPILE_OPTIONS),
            )

    def autocast(self):
        if self.amp == "none":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=AMP_DTYPES[self.amp])

    def _encode(self, crops: torch.Tensor, masks: torch.Tensor) -> FeatureSequence:
        encode = self._compiled[0] if self._compiled else self.model.encode
        return encode(crops.to(self.device), masks.to(self.device))

    def encode_template(self, crops: torch.Tensor, masks: torch.Tensor) -> FeatureSequence:
        with torch.inference_mode(), self.autocast():
            return self._encode(crops, masks)

    def predict(
        self, templates: Sequence[FeatureSequence], crops: torch.Tensor, masks: torch.Tensor, previous_query=None
    ) -> dict:
        with torch.inference_mode(), self.autocast():
            search = self._encode(crops, masks)
            decode = self._compiled[1] if self._compiled else self.model.decode
            if previous_query is not None:
                previous_query = previous_query.to(self.device)
            return decode(
                list(templates), search, run_box_head=True, run_cls_head=self.has_score, previous_query=previous_query
            )
