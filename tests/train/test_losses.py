import math

import pytest
import torch

from lib.train.losses import degenerate_mask, paired_giou
from lib.train.objectives import BoxObjective, ScoreObjective
from lib.utils.box_ops import box_cxcywh_to_xyxy


def _xyxy_to_cxcywh(b):
    x1, y1, x2, y2 = b
    return [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]


def test_giou_hand_computed():
    pred = torch.tensor([[0.0, 0.0, 0.5, 0.5], [0.1, 0.1, 0.3, 0.3]])
    gt = torch.tensor([[0.25, 0.25, 0.75, 0.75], [0.1, 0.1, 0.3, 0.3]])
    giou, iou = paired_giou(pred, gt)
    # inter 0.0625, union 0.4375, enclosing 0.5625
    assert iou[0].item() == pytest.approx(0.0625 / 0.4375, abs=1e-6)
    assert giou[0].item() == pytest.approx(0.0625 / 0.4375 - (0.5625 - 0.4375) / 0.5625, abs=1e-6)
    assert iou[1].item() == pytest.approx(1.0, abs=1e-5) and giou[1].item() == pytest.approx(1.0, abs=1e-5)


def test_stage1_loss_weights_and_clamped_ground_truth():
    crit = BoxObjective(giou_weight=2.0, l1_weight=5.0)
    pred_xyxy = [0.0, 0.2, 0.4, 1.0]
    outputs = {"pred_boxes": torch.tensor([[_xyxy_to_cxcywh(pred_xyxy)]])}
    # GT (x, y, w, h) = (-0.1, 0.2, 0.5, 1.0) -> xyxy (-0.1, 0.2, 0.4, 1.2) -> clamped (0, 0.2, 0.4, 1.0) == pred
    batch = {"search_boxes": torch.tensor([[-0.1, 0.2, 0.5, 1.0]])}
    loss, stats = crit(outputs, batch)
    assert loss.item() == pytest.approx(0.0, abs=1e-5)
    assert stats["iou"].item() == pytest.approx(1.0, abs=1e-5)
    # shift the prediction: L1 = mean |d| over 4 coords, GIoU computed by hand
    outputs = {"pred_boxes": torch.tensor([[_xyxy_to_cxcywh([0.1, 0.2, 0.5, 1.0])]])}
    loss, stats = crit(outputs, batch)
    inter, union, enclose = 0.3 * 0.8, 2 * 0.32 - 0.24, 0.5 * 0.8
    giou = inter / union - (enclose - union) / enclose
    assert stats["l1"].item() == pytest.approx(0.2 / 4, abs=1e-6)
    assert stats["giou"].item() == pytest.approx(1 - giou, abs=1e-5)
    assert loss.item() == pytest.approx(2 * (1 - giou) + 5 * 0.05, abs=1e-5)


def _degenerate_batch():
    # second box has w < 0 (x2 < x1): what the official assertion rejects
    boxes = torch.tensor([[[0.5, 0.5, 0.2, 0.2]], [[0.5, 0.5, -0.1, 0.2]]], requires_grad=True)
    batch = {"search_boxes": torch.tensor([[0.4, 0.4, 0.2, 0.2], [0.4, 0.4, 0.2, 0.2]])}
    return boxes, batch


def test_per_box_guard_keeps_a_finite_loss_and_gradient_for_degenerate_boxes():
    boxes, batch = _degenerate_batch()
    assert degenerate_mask(box_cxcywh_to_xyxy(boxes.detach()).reshape(-1, 4)).tolist() == [False, True]
    crit = BoxObjective()
    loss, stats = crit({"pred_boxes": boxes}, batch)
    loss.backward()
    assert math.isfinite(loss.item()) and torch.isfinite(boxes.grad).all()
    assert stats["degenerate"].item() == 1 and stats["giou_fallback"].item() == 0
    # valid box matches its GT (1 - giou = 0); the flipped box (x 0.55..0.45) lies inside its GT, so
    # IoU 0, enclosing box = GT = union, GIoU 0 -> mean GIoU loss (0 + 1) / 2
    assert stats["giou"].item() == pytest.approx(0.5, abs=1e-5)
    assert stats["iou"].item() == pytest.approx(0.5, abs=1e-5)
    assert boxes.grad[1].abs().sum() > 0
    assert crit.fallback_count == 0


def test_official_fallback_zeroes_the_whole_batch_and_counts():
    boxes, batch = _degenerate_batch()
    crit = BoxObjective(official_giou_fallback=True)
    loss, stats = crit({"pred_boxes": boxes}, batch)
    assert stats["giou"].item() == 0.0 and stats["iou"].item() == 0.0 and stats["giou_fallback"].item() == 1
    assert loss.item() == pytest.approx(5 * stats["l1"].item())
    assert crit.fallback_count == 1
    valid = boxes.detach()[:1]
    crit({"pred_boxes": valid}, {"search_boxes": batch["search_boxes"][:1]})
    assert crit.fallback_count == 1  # a valid batch does not fire


def test_stage2_bce_on_score_logits():
    crit = ScoreObjective(cls_weight=1.0)
    logits = torch.tensor([[[0.0]], [[2.0]]])
    label = torch.tensor([1.0, 0.0])
    loss, stats = crit({"pred_logits": logits}, {"label": label})
    expected = (math.log(2) + math.log(1 + math.exp(2.0))) / 2
    assert loss.item() == pytest.approx(expected, abs=1e-6)
    assert stats["accuracy"].item() == 0.0
