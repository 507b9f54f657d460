"""``train.official_parity``: every deliberate deviation from the official code undone at once."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torchvision.ops import box_convert, generalized_box_iou

from lib.config import load_config
from lib.data.errors import SamplingError
from lib.data.processing import CropSpec, StarkProcessing
from lib.data.sampler import SamplerOptions, TrackingSampleDataset
from lib.data.transforms import flip_x
from lib.train.objectives import BoxObjective, build_objective
from lib.train.optim import freeze_for_objective
from lib.train.trainer import TrainerOptions
from tests.data.test_sampler import ArrayDataset
from tests.train.objective_case import case_batch, case_model


def _official_box_loss(pred_cxcywh: torch.Tensor, gt_xywh: torch.Tensor) -> torch.Tensor:
    """The official STARKSActor arithmetic, written from the fact sheet: DETR GIoU that gives up (0) on a
    degenerate box anywhere in the batch, 2 GIoU + 5 L1 on (x1, y1, x2, y2), the target clamped to [0, 1]."""
    pred = box_convert(pred_cxcywh.reshape(-1, 4), "cxcywh", "xyxy")
    gt = box_convert(gt_xywh, "xywh", "xyxy").clamp(0.0, 1.0)
    if (pred[:, 2:] < pred[:, :2]).any():
        giou_loss = pred.new_zeros(())
    else:
        giou_loss = (1 - torch.diag(generalized_box_iou(pred, gt))).mean()
    return 2.0 * giou_loss + 5.0 * F.l1_loss(pred, gt)


@pytest.mark.parametrize("degenerate", [False, True])
def test_parity_box_loss_and_gradients_follow_the_official_arithmetic(degenerate):
    gen = torch.Generator().manual_seed(3)
    xy, wh = torch.rand(6, 2, generator=gen) * 0.5, torch.rand(6, 2, generator=gen) * 0.4 + 0.1
    pred = torch.cat([xy + wh / 2, wh], dim=1)[:, None, :]
    if degenerate:
        pred[2, 0, 2] = -0.05
    gt = torch.cat([torch.rand(6, 2, generator=gen) * 0.6, torch.rand(6, 2, generator=gen) * 0.5 + 0.05], dim=1)
    ours, theirs = pred.clone().requires_grad_(True), pred.clone().requires_grad_(True)
    objective = build_objective(load_config("stark_st1", "baseline_official"))
    loss, stats = objective({"pred_boxes": ours}, {"search_boxes": gt})
    loss.backward()
    reference = _official_box_loss(theirs, gt)
    reference.backward()
    torch.testing.assert_close(loss, reference, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-5, atol=1e-7)
    assert stats["giou_fallback"].item() == float(degenerate) and objective.fallback_count == int(degenerate)


def test_parity_turns_on_every_switch_and_leaves_the_default_off():
    default, parity = load_config("stark_st1", "baseline"), load_config("stark_st1", "baseline_official")
    assert not default.train.official_parity and parity.train.official_parity
    objective = build_objective(parity)
    assert isinstance(objective, BoxObjective) and objective.official_giou_fallback and objective.train_score_head
    assert TrainerOptions.from_config(parity).find_unused_parameters
    assert not TrainerOptions.from_config(default).find_unused_parameters
    cfg, model = case_model("stark_st1", "train.official_parity=true")
    freeze_for_objective(build_objective(cfg), model, cfg)
    # the official stage 1 leaves the score head trainable: it is in the optimiser but never gets a gradient
    assert all(p.requires_grad for p in model.cls_head.parameters())
    batch = case_batch()
    objective = build_objective(cfg)
    objective(objective.predict(model, batch), batch)[0].backward()
    assert all(p.grad is None for p in model.cls_head.parameters())


def test_official_flip_is_one_pixel_left_of_the_exact_mirror():
    assert flip_x(10.0, 20.0, 100) == 70.0  # exact: 100 - 10 - 20
    assert flip_x(10.0, 20.0, 100, official=True) == 69.0  # W - 1 - x - w
    processing = StarkProcessing(CropSpec(32, 2.0, 0, 0), CropSpec(64, 4.0, 0, 0), [0.5] * 3, [0.25] * 3)
    assert not processing.official_flip


def test_official_negatives_may_come_from_the_templates_own_sequence():
    """One always-visible sequence: the project finds no negative (no invisible frame, no other
    sequence) and gives up; the official rule draws the same sequence and labels its visible target 0."""
    processing = StarkProcessing(CropSpec(32, 2.0, 0, 0), CropSpec(64, 4.0, 0.5, 0.1), [0.5] * 3, [0.25] * 3)

    def sampler(official):
        opts = SamplerOptions(mode="trident_pro", num_templates=2, max_intervals=(10,), train_cls=True,
                              max_redraws=3, return_meta=True, official_negatives=official)  # fmt: skip
        return TrackingSampleDataset([ArrayDataset([np.ones(40, dtype=bool)])], [1.0], 64, processing, opts, seed=5)

    ours, official = sampler(False), sampler(True)
    negatives = [official[(0, i)] for i in range(40)]
    negatives = [s for s in negatives if float(s["label"]) == 0.0]
    assert negatives and all(s["meta"]["search_sequence"] == s["meta"]["sequence"] for s in negatives)
    labels = []
    for index in range(40):
        try:
            labels.append(float(ours[(0, index)]["label"]))
        except SamplingError as exc:  # the project's rule: no negative to draw, the sample fails
            assert "draws failed" in str(exc)
    assert 0.0 not in labels
