"""The STARK loss terms (paper 3.1-3.2): box losses (stage 1) and the score BCE (stage 2).

``lib.train.objectives`` combines them into the training objectives.

Stage 1 (STARK-S, STARK-ST stage 1): predicted ``(cx, cy, w, h)`` boxes become ``(x1, y1, x2, y2)``;
the ground truth ``(x, y, w, h)`` (normalised by the search crop) becomes ``(x1, y1, x2, y2)`` clamped to
``[0, 1]``; loss = ``giou_weight * mean(1 - GIoU) + l1_weight * mean |pred - gt|`` over all coordinates.

GIoU guard. The official code asserts ``x2 >= x1, y2 >= y1`` inside GIoU and, when a single predicted
box of the batch is degenerate, catches the error and sets the GIoU loss (and the logged IoU) of the
*whole batch* to 0. Here the default is per box: areas and intersections use clamped widths, so a
degenerate box has area 0 and IoU 0 while the enclosing-box term still gives it a finite GIoU in
``[-1, 0]`` and a gradient towards the target. ``official_giou_fallback=True`` restores the official
behaviour; the box objective counts how often it fires (also reported per call).

Stage 2 (STARK-ST): ``cls_weight * BCEWithLogits(pred_logits, label)``.

Returning a loss and a dict of detached statistics is DETR's habit (Apache-2.0), written fresh here.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from lib.utils.box_ops import box_cxcywh_to_xyxy, box_xywh_to_xyxy

_EPS = 1e-7


def degenerate_mask(boxes_xyxy: torch.Tensor) -> torch.Tensor:
    """``(N,)`` True where ``x2 < x1`` or ``y2 < y1`` (what the official GIoU assertion rejects)."""
    return (boxes_xyxy[..., 2] < boxes_xyxy[..., 0]) | (boxes_xyxy[..., 3] < boxes_xyxy[..., 1])


def paired_giou(pred_xyxy: torch.Tensor, gt_xyxy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """GIoU and IoU of matching rows, guarded per box.

    Args:
        pred_xyxy, gt_xyxy: ``(N, 4)`` corner boxes.
    Returns:
        ``(giou (N,), iou (N,))``. Widths/heights are clamped at 0 for areas and intersections, so
        degenerate boxes give IoU 0 and a finite GIoU; ``_EPS`` keeps empty unions finite.
    """
    pred_wh = (pred_xyxy[:, 2:] - pred_xyxy[:, :2]).clamp(min=0)
    gt_wh = (gt_xyxy[:, 2:] - gt_xyxy[:, :2]).clamp(min=0)
    area_pred = pred_wh[:, 0] * pred_wh[:, 1]
    area_gt = gt_wh[:, 0] * gt_wh[:, 1]
    inter_wh = (torch.min(pred_xyxy[:, 2:], gt_xyxy[:, 2:]) - torch.max(pred_xyxy[:, :2], gt_xyxy[:, :2])).clamp(min=0)
    inter = inter_wh[:, 0] * inter_wh[:, 1]
    union = area_pred + area_gt - inter
    iou = inter / (union + _EPS)
    # The enclosing box spans all four corner coordinates, so it is valid even for a flipped box.
    lo = torch.min(torch.min(pred_xyxy[:, :2], pred_xyxy[:, 2:]), torch.min(gt_xyxy[:, :2], gt_xyxy[:, 2:]))
    hi = torch.max(torch.max(pred_xyxy[:, :2], pred_xyxy[:, 2:]), torch.max(gt_xyxy[:, :2], gt_xyxy[:, 2:]))
    enclose_wh = hi - lo
    enclose = enclose_wh[:, 0] * enclose_wh[:, 1]
    giou = iou - (enclose - union) / (enclose + _EPS)
    return giou, iou


BOX_STATS = ("loss", "giou", "l1", "iou", "degenerate", "giou_fallback")


def box_loss(
    pred_boxes: torch.Tensor, gt_xywh: torch.Tensor, giou_weight: float, l1_weight: float, official_fallback: bool
) -> tuple[torch.Tensor, dict[str, torch.Tensor], bool]:
    """The stage-1 box loss.

    Args:
        pred_boxes: (B, Nq, 4) ``(cx, cy, w, h)`` normalised; every query is compared with its sample's target.
        gt_xywh: (B, 4) ``(x, y, w, h)`` normalised by the search crop.
        giou_weight, l1_weight: the loss weights (official 2 and 5).
        official_fallback: zero the whole batch's GIoU (and logged IoU) when any predicted box is degenerate.
    Returns:
        ``(loss, stats, fired)``: the weighted scalar loss, detached 0-dim tensors named ``BOX_STATS``,
        and whether the official fallback fired.
    """
    num_queries = pred_boxes.shape[1]
    pred_xyxy = box_cxcywh_to_xyxy(pred_boxes).reshape(-1, 4)  # (B*Nq, 4)
    gt_xyxy = box_xywh_to_xyxy(gt_xywh).clamp(0.0, 1.0)  # (B, 4)
    gt_xyxy = gt_xyxy[:, None, :].expand(-1, num_queries, -1).reshape(-1, 4)  # (B*Nq, 4)
    degenerate = degenerate_mask(pred_xyxy)
    giou, iou = paired_giou(pred_xyxy, gt_xyxy)
    fired = bool(official_fallback and degenerate.any())
    if fired:
        giou_loss = pred_xyxy.new_zeros(())
        mean_iou = pred_xyxy.new_zeros(())
    else:
        giou_loss = (1.0 - giou).mean()
        mean_iou = iou.detach().mean()
    l1_loss = F.l1_loss(pred_xyxy, gt_xyxy)
    loss = giou_weight * giou_loss + l1_weight * l1_loss
    stats = {
        "loss": loss.detach(),
        "giou": giou_loss.detach(),
        "l1": l1_loss.detach(),
        "iou": mean_iou.detach(),
        "degenerate": degenerate.float().sum(),
        "giou_fallback": pred_xyxy.new_tensor(float(fired)),
    }
    return loss, stats, fired


def score_loss(
    pred_logits: torch.Tensor, label: torch.Tensor, cls_weight: float
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """``cls_weight * BCEWithLogits``: pred_logits (B, Nq, 1), label (B,) -> (loss, {loss, cls, accuracy})."""
    logits = pred_logits.reshape(label.shape[0], -1)  # (B, Nq)
    target = label[:, None].expand_as(logits)
    cls_loss = F.binary_cross_entropy_with_logits(logits, target)
    loss = cls_weight * cls_loss
    accuracy = ((logits > 0).float() == target).float().mean()
    return loss, {"loss": loss.detach(), "cls": cls_loss.detach(), "accuracy": accuracy.detach()}
