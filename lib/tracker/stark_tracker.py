"""The STARK test-time tracker: one class for STARK-S and STARK-ST (paper 3.1-3.2; the official
lib/test/tracker/stark_s.py and stark_st.py).

Per frame: crop a search region around the previous state (factor ``cfg.test.search_factor``, side
``cfg.test.search_size``), one encoder/decoder pass against the cached template features, average
the queries' boxes, map the box back to the image with the unrounded previous centre and
``crop_side / 2``, and clip it with a 10-pixel margin. With a score head (STARK-ST) the score is
``sigmoid(pred_logits)`` and the dynamic template ``i`` is re-cropped around the new clipped state
when ``frame_id % interval_i == 0`` and ``score > cfg.test.score_threshold`` (strict). Intervals come
from ``cfg.test.update_intervals[dataset_name.upper()]``, else ``cfg.data.max_sample_interval``.
Without a score head but with several templates (the Table 6 #5 ablation, which the official code has
no tracker for) the dynamic template is replaced on the interval alone.

Table 7 variants: with several queries and a score head (Hungarian, K = 10) the box of the
highest-confidence query is taken and its confidence is the score; with a query update (update-query)
there is one template and each frame's decoder output is carried to the next frame's query.

Template features are computed once per template (``backend.encode_template``) and reused on every
frame; the network is reached only through the backend (``lib.tracker.backends``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch

from lib.config.schema import Config
from lib.tracker.backends import TorchBackend
from lib.utils.crop import normalize_patch, sample_target

logger = logging.getLogger(__name__)

CLIP_MARGIN = 10  # official clip_box margin in pixels


def map_box_back(
    pred_box_cxcywh: Sequence[float], prev_state_xywh: Sequence[float], search_size: int, resize_factor: float
) -> list[float]:
    """Search-crop box (pixels of the resized crop divided back by ``resize_factor``) -> image ``[x, y, w, h]``.

    ``pred_box_cxcywh`` is already in image scale (``pred * search_size / resize_factor``); its centre
    is relative to the crop's top-left corner, which sits at ``prev_centre - crop_side / 2``.
    """
    cx_prev = prev_state_xywh[0] + 0.5 * prev_state_xywh[2]
    cy_prev = prev_state_xywh[1] + 0.5 * prev_state_xywh[3]
    cx, cy, w, h = pred_box_cxcywh
    half_side = 0.5 * search_size / resize_factor
    cx_real = cx + (cx_prev - half_side)
    cy_real = cy + (cy_prev - half_side)
    return [cx_real - 0.5 * w, cy_real - 0.5 * h, w, h]


def clip_box(box_xywh: Sequence[float], height: int, width: int, margin: int = CLIP_MARGIN) -> list[float]:
    """Keep at least ``margin`` pixels of the box inside the image and make it at least ``margin`` wide/high."""
    x1, y1, w, h = box_xywh
    x2, y2 = x1 + w, y1 + h
    x1 = min(max(0, x1), width - margin)
    x2 = min(max(margin, x2), width)
    y1 = min(max(0, y1), height - margin)
    y2 = min(max(margin, y2), height)
    return [x1, y1, max(margin, x2 - x1), max(margin, y2 - y1)]


def update_intervals(cfg: Config, dataset_name: str) -> list[int]:
    """Per-dynamic-template update interval for ``dataset_name`` (official lookup by upper-case name).

    ``lasot_all`` (every LaSOT sequence present) takes LaSOT's interval.
    """
    name = dataset_name.upper()
    intervals = cfg.test.update_intervals.get(name, cfg.test.update_intervals.get(name.removesuffix("_ALL")))
    return list(intervals if intervals is not None else cfg.data.max_sample_interval)


@dataclass
class SearchInput:
    """One frame's search crop, ready for the network: (1,3,S,S) tensor, (1,S,S) bool mask, scale, image size."""

    crop: torch.Tensor
    mask: torch.Tensor
    resize_factor: float
    image_hw: tuple[int, int]


class StarkTracker:
    """``initialize(image, {"init_bbox": [x, y, w, h]})`` then ``track(image)`` on every later frame.

    ``track`` is ``prepare`` (crop the search region), one ``backend.predict`` and ``finish`` (map the
    box back, update the templates); the batched runner calls the three itself to serve several
    trackers with one network call.

    Args:
        cfg: the test-time config (``cfg.test`` crop parameters, ``cfg.data`` mean/std and templates).
        network: a built ``Stark`` network with weights loaded, or a backend (``lib.tracker.backends``).
        dataset_name: benchmark name, selects the update interval (``lasot`` -> ``LASOT``).
        device: torch device for a network given as a module.
        amp: ``none`` (fp32, default) | ``bf16`` | ``fp16`` autocast, for a network given as a module.
    """

    def __init__(self, cfg: Config, network, dataset_name: str = "", device="cpu", amp: str = "none"):
        self.cfg = cfg
        self.backend = TorchBackend(network, device, amp) if isinstance(network, torch.nn.Module) else network
        self.has_score = self.backend.has_score
        self.updates_query = self.backend.updates_query
        # STARK-ST: one dynamic template per interval (official z_dict_list = [z1] + copies); the
        # update-query variant's second training frame is the previous frame, not a template
        dynamic = cfg.data.template.number > 1 and not self.updates_query
        self.intervals = update_intervals(cfg, dataset_name) if dynamic else []
        if self.intervals and len(self.intervals) != cfg.data.template.number - 1:
            logger.warning(
                "%d update intervals for %d dynamic templates; using one dynamic template per interval",
                len(self.intervals),
                cfg.data.template.number - 1,
            )
        self.score_threshold = cfg.test.score_threshold
        self.templates: list = []
        self.state: list[float] = []
        self.frame_id = 0
        self.template_patches: list = []
        self._last_template_patch = None
        self.previous_query = None  # update-query: the previous frame's decoder output

    # ------------------------------------------------------------------------------------------
    def crop(self, image: np.ndarray, box: Sequence[float], factor: float, size: int):
        """Crop and normalise one patch -> ((1,3,S,S) tensor, (1,S,S) bool mask, resize_factor, (S,S,3) patch)."""
        patch, resize_factor, mask = sample_target(image, box, factor, size)
        tensor = normalize_patch(patch, self.cfg.data.mean, self.cfg.data.std)[None]
        return tensor, torch.from_numpy(mask)[None], resize_factor, patch

    def _template(self, image: np.ndarray, box: Sequence[float]):
        tensor, mask, _, patch = self.crop(image, box, self.cfg.test.template_factor, self.cfg.test.template_size)
        self._last_template_patch = patch
        return self.backend.encode_template(tensor, mask)

    # ------------------------------------------------------------------------------------------
    def initialize(self, image: np.ndarray, info: dict) -> dict:
        """Encode the initial template around ``info["init_bbox"]``; the dynamic ones start as copies of it."""
        init_box = [float(v) for v in info["init_bbox"]]
        template = self._template(image, init_box)
        self.templates = [template] * (1 + len(self.intervals))
        # template crops kept for visualisation (vis_attention), in the order of self.templates
        self.template_patches = [self._last_template_patch] * len(self.templates)
        self.state = init_box
        self.frame_id = 0
        self.previous_query = None
        return {"target_bbox": list(self.state)}

    def track(self, image: np.ndarray, info: Optional[dict] = None) -> dict:
        """Track one frame -> ``{"target_bbox": [x, y, w, h]}`` (+ ``"conf_score"`` with a score head)."""
        search = self.prepare(image)
        out = self.backend.predict(self.templates, search.crop, search.mask, self.previous_query)
        return self.finish(image, search, out)

    def prepare(self, image: np.ndarray) -> SearchInput:
        """The search crop around the current state (factor ``cfg.test.search_factor``)."""
        tensor, mask, resize_factor, _ = self.crop(
            image, self.state, self.cfg.test.search_factor, self.cfg.test.search_size
        )
        return SearchInput(tensor, mask, resize_factor, image.shape[:2])

    def finish(self, image: np.ndarray, search: SearchInput, out: dict) -> dict:
        """Map this frame's network output (batch entry 0 of ``out``) back to the image; update templates."""
        height, width = search.image_hw
        self.frame_id += 1
        search_size = self.cfg.test.search_size
        self.previous_query = out.get("query_embedding")
        pred_boxes = out["pred_boxes"][0].float().view(-1, 4).cpu()  # (Nq, 4) cxcywh normalised
        scores = out["pred_logits"][0].float().view(-1).sigmoid().cpu() if self.has_score else None
        if scores is not None and len(scores) > 1:
            best = int(scores.argmax())  # Hungarian variant: the most confident query's box
            pred_boxes, scores = pred_boxes[best : best + 1], scores[best : best + 1]
        # the official arithmetic: mean over queries, x search_size, / resize_factor in float32 tensors
        pred_box = (pred_boxes.mean(dim=0) * search_size / search.resize_factor).tolist()
        self.state = clip_box(map_box_back(pred_box, self.state, search_size, search.resize_factor), height, width)
        result: dict = {"target_bbox": list(self.state)}
        conf = None
        if scores is not None:
            conf = scores.item()
            result["conf_score"] = conf
        for index, interval in enumerate(self.intervals):
            # without a score head (ablation) the dynamic template is replaced on schedule alone
            if self.frame_id % interval == 0 and (conf is None or conf > self.score_threshold):
                self.templates[index + 1] = self._template(image, self.state)
                self.template_patches[index + 1] = self._last_template_patch
        return result
