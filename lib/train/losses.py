"""The STARK training objective (paper 3.1-3.2): box losses for stage 1, score BCE for stage 2.

Stage 1 (STARK-S, STARK-ST stage 1): predicted ``(cx, cy, w, h)`` boxes become ``(x1, y1, x2, y2)``;
the ground truth ``(x, y, w, h)`` (normalised by the search crop) becomes ``(x1, y1, x2, y2)`` clamped to
``[0, 1]``; loss = ``giou_weight * mean(1 - GIoU) + l1_weight * mean |pred - gt|`` over all coordinates.

GIoU guard. The official code asserts ``x2 >= x1, y2 >= y1`` inside GIoU and, when a single predicted
box of the batch is degenerate, catches the error and sets the GIoU loss (and the logged IoU) of the
*whole batch* to 0. Here the default is per box: areas and intersections use clamped widths, so a
degenerate box has area 0 and IoU 0 while the enclosing-box term still gives it a finite GIoU in
``[-1, 0]`` and a gradient towards the target. ``official_giou_fallback=True`` restores the official
behaviour and counts how often it fires (``fallback_count``, also reported per call).

Stage 2 (STARK-ST): ``cls_weight * BCEWithLogits(pred_logits, label)``.

The idea of a criterion object that returns a loss and a dict of detached statistics is DETR's
(Apache-2.0), written fresh here.
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


class StarkCriterion(torch.nn.Module):
    """Loss of one training step; ``forward(outputs, batch) -> (loss, stats)``.

    Args:
        stage: 1 (box losses) or 2 (score BCE).
        giou_weight, l1_weight, cls_weight: the loss weights (official 2, 5, 1).
        official_giou_fallback: zero the whole batch's GIoU when any predicted box is degenerate.
    """

    def __init__(
        self,
        stage: int,
        giou_weight: float = 2.0,
        l1_weight: float = 5.0,
        cls_weight: float = 1.0,
        official_giou_fallback: bool = False,
    ) -> None:
        super().__init__()
        if stage not in (1, 2):
            raise ValueError(f"stage must be 1 or 2, got {stage}")
        self.stage = stage
        self.giou_weight = giou_weight
        self.l1_weight = l1_weight
        self.cls_weight = cls_weight
        self.official_giou_fallback = official_giou_fallback
        self.fallback_count = 0  # batches whose GIoU the official fallback zeroed, over this object's life

    def forward(self, outputs: dict, batch: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """
        Args:
            outputs: model output; stage 1 reads ``pred_boxes`` (B, Nq, 4) cxcywh normalised,
                stage 2 reads ``pred_logits`` (B, Nq, 1).
            batch: stage 1 reads ``search_boxes`` (B, 4) xywh normalised, stage 2 ``label`` (B,).
        Returns:
            ``(loss, stats)``: the scalar weighted loss (float32) and detached 0-dim tensors named
            ``loss``, plus ``giou``, ``l1``, ``iou``, ``degenerate``, ``giou_fallback`` (stage 1) or
            ``cls``, ``accuracy`` (stage 2).
        """
        if self.stage == 1:
            return self._box_loss(outputs["pred_boxes"].float(), batch["search_boxes"].float())
        return self._score_loss(outputs["pred_logits"].float(), batch["label"].float())

    def _box_loss(self, pred_boxes: torch.Tensor, gt_xywh: torch.Tensor) -> tuple[torch.Tensor, dict]:
        num_queries = pred_boxes.shape[1]
        pred_xyxy = box_cxcywh_to_xyxy(pred_boxes).reshape(-1, 4)  # (B*Nq, 4)
        gt_xyxy = box_xywh_to_xyxy(gt_xywh).clamp(0.0, 1.0)  # (B, 4)
        gt_xyxy = gt_xyxy[:, None, :].expand(-1, num_queries, -1).reshape(-1, 4)  # (B*Nq, 4)
        degenerate = degenerate_mask(pred_xyxy)
        giou, iou = paired_giou(pred_xyxy, gt_xyxy)
        fired = bool(self.official_giou_fallback and degenerate.any())
        if fired:
            self.fallback_count += 1
            giou_loss = pred_xyxy.new_zeros(())
            mean_iou = pred_xyxy.new_zeros(())
        else:
            giou_loss = (1.0 - giou).mean()
            mean_iou = iou.detach().mean()
        l1_loss = F.l1_loss(pred_xyxy, gt_xyxy)
        loss = self.giou_weight * giou_loss + self.l1_weight * l1_loss
        stats = {
            "loss": loss.detach(),
            "giou": giou_loss.detach(),
            "l1": l1_loss.detach(),
            "iou": mean_iou.detach(),
            "degenerate": degenerate.float().sum(),
            "giou_fallback": pred_xyxy.new_tensor(float(fired)),
        }
        return loss, stats

    def _score_loss(self, pred_logits: torch.Tensor, label: torch.Tensor) -> tuple[torch.Tensor, dict]:
        logits = pred_logits.reshape(label.shape[0], -1)  # (B, Nq)
        target = label[:, None].expand_as(logits)
        cls_loss = F.binary_cross_entropy_with_logits(logits, target)
        loss = self.cls_weight * cls_loss
        accuracy = ((logits > 0).float() == target).float().mean()
        return loss, {"loss": loss.detach(), "cls": cls_loss.detach(), "accuracy": accuracy.detach()}


def build_criterion(cfg) -> StarkCriterion:
    """The criterion of ``cfg.train.stage`` with the configured weights."""
    train = cfg.train
    return StarkCriterion(
        stage=train.stage,
        giou_weight=train.giou_weight,
        l1_weight=train.l1_weight,
        cls_weight=train.cls_weight,
        official_giou_fallback=train.official_giou_fallback,
    )
