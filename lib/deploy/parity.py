"""How closely two tracker backends agree: network outputs on random and real crops, and a whole tracked
sequence with template updates (boxes per frame, the frames at which the dynamic template was replaced).

The real crops and the tracked sequence come from the synthetic generator (``lib.data.synthetic``), so
the report needs no dataset. During the tracked sequence the dynamic templates are due every
``update_interval`` frames, so a short sequence exercises the score-gated update several times.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from lib.config import Config
from lib.data.synthetic import difficulty_options, render_sequence
from lib.tracker.stark_tracker import StarkTracker
from lib.utils.crop import normalize_patch, sample_target

PARITY_DATASET = "parity"


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).abs().max())


def _compare_outputs(reference, candidate, count: int, templates_in: tuple, search_in: tuple) -> dict:
    """Encode the same template crops and predict on the same search crops (``count`` templates) with both."""
    ref_t = reference.encode_template(*templates_in)
    cand_t = candidate.encode_template(*templates_in)
    report = {
        "template_features": _max_diff(ref_t.feat, cand_t.feat),
        "template_positions": _max_diff(ref_t.pos, cand_t.pos),
        "template_masks_equal": bool(torch.equal(ref_t.mask, cand_t.mask)),
    }
    ref_out = reference.predict([ref_t] * count, *search_in)
    cand_out = candidate.predict([ref_t] * count, *search_in)  # the same cached features into both
    report["boxes"] = _max_diff(ref_out["pred_boxes"], cand_out["pred_boxes"])
    if "pred_logits" in ref_out:
        report["scores"] = _max_diff(ref_out["pred_logits"].sigmoid(), cand_out["pred_logits"].sigmoid())
    return report


def _random_inputs(cfg: Config, batch: int, generator: torch.Generator):
    t, s = cfg.test.template_size, cfg.test.search_size
    t_mask = torch.zeros(batch, t, t, dtype=torch.bool)
    t_mask[0, :, : t // 5] = True  # one crop padded on the left, the others not
    s_mask = torch.zeros(batch, s, s, dtype=torch.bool)
    s_mask[-1, -s // 4 :, :] = True
    return (
        (torch.randn(batch, 3, t, t, generator=generator), t_mask),
        (torch.randn(batch, 3, s, s, generator=generator), s_mask),
    )


def _real_inputs(cfg: Config, frames: list, boxes: np.ndarray):
    """Template crops around the first boxes, search crops around later (shifted) boxes of a generated video."""

    def crops(indices, factor, size, shift):
        tensors, masks = [], []
        for i in indices:
            box = boxes[i].copy()
            box[:2] += shift * box[2:]
            patch, _, mask = sample_target(frames[i], box, factor, size)
            tensors.append(normalize_patch(patch, cfg.data.mean, cfg.data.std))
            masks.append(torch.from_numpy(mask))
        return torch.stack(tensors), torch.stack(masks)

    picks = [0, len(frames) // 2, len(frames) - 1]
    return (
        crops(picks, cfg.test.template_factor, cfg.test.template_size, 0.0),
        crops(picks, cfg.test.search_factor, cfg.test.search_size, 0.3),
    )


def _with_interval(cfg: Config, interval: int) -> Config:
    copied = copy.deepcopy(cfg)
    copied.test.update_intervals[PARITY_DATASET.upper()] = [interval] * max(1, cfg.data.template.number - 1)
    return copied


def track_with_updates(cfg: Config, backend, frames: list, init_box, interval: int):
    """Track ``frames`` -> boxes (N, 4), scores (list), frames at which a dynamic template was replaced."""
    tracker = StarkTracker(_with_interval(cfg, interval), backend, PARITY_DATASET)
    boxes = [tracker.initialize(frames[0], {"init_bbox": list(init_box)})["target_bbox"]]
    scores, updates = [], []
    for frame in frames[1:]:
        before = list(tracker.templates)
        out = tracker.track(frame)
        boxes.append(out["target_bbox"])
        scores.append(out.get("conf_score"))
        if any(a is not b for a, b in zip(before, tracker.templates)):
            updates.append(tracker.frame_id)
    return np.asarray(boxes, dtype=np.float64), scores, updates


def parity_report(cfg: Config, reference, candidate, frames: int = 60, seed: int = 0, interval: int = 5) -> dict:
    """Compare ``candidate`` with ``reference`` (both backends of ``cfg``'s network); plain-data report."""
    generator = torch.Generator().manual_seed(seed)
    size = max(2 * cfg.test.search_size, 160)
    video = render_sequence(np.random.default_rng(seed), frames, difficulty_options("medium", width=size,
                            height=size * 3 // 4))  # fmt: skip
    count = cfg.data.template.number
    report = {
        "random_crops": _compare_outputs(reference, candidate, count, *_random_inputs(cfg, 2, generator)),
        "real_crops": _compare_outputs(reference, candidate, count, *_real_inputs(cfg, video.frames, video.boxes)),
    }
    ref_boxes, ref_scores, ref_updates = track_with_updates(cfg, reference, video.frames, video.boxes[0], interval)
    cand_boxes, cand_scores, cand_updates = track_with_updates(cfg, candidate, video.frames, video.boxes[0], interval)
    sequence = {
        "frames": frames,
        "update_interval": interval,
        "max_box_diff_px": float(np.abs(ref_boxes - cand_boxes).max()),
        "updates_reference": ref_updates,
        "updates_candidate": cand_updates,
        "identical_updates": ref_updates == cand_updates,
    }
    if ref_scores and ref_scores[0] is not None:
        sequence["max_score_diff"] = float(np.max(np.abs(np.asarray(ref_scores) - np.asarray(cand_scores))))
    report["tracked_sequence"] = sequence
    return report
