"""Box format conversions and IoU / GIoU on torch tensors.

Formats: ``xyxy`` = (x1, y1, x2, y2), ``cxcywh`` = (cx, cy, w, h), ``xywh`` = (x, y, w, h) with
(x, y) the top-left corner. All functions work on (..., 4) tensors and keep the dtype.
"""

from __future__ import annotations

import torch
import torchvision


def box_cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack((cx - 0.5 * w, cy - 0.5 * h, cx + 0.5 * w, cy + 0.5 * h), dim=-1)


def box_xyxy_to_cxcywh(boxes: torch.Tensor) -> torch.Tensor:
    x1, y1, x2, y2 = boxes.unbind(-1)
    return torch.stack(((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1), dim=-1)


def box_xywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    x, y, w, h = boxes.unbind(-1)
    return torch.stack((x, y, x + w, y + h), dim=-1)


def box_xyxy_to_xywh(boxes: torch.Tensor) -> torch.Tensor:
    x1, y1, x2, y2 = boxes.unbind(-1)
    return torch.stack((x1, y1, x2 - x1, y2 - y1), dim=-1)


def box_xywh_to_cxcywh(boxes: torch.Tensor) -> torch.Tensor:
    x, y, w, h = boxes.unbind(-1)
    return torch.stack((x + 0.5 * w, y + 0.5 * h, w, h), dim=-1)


def box_cxcywh_to_xywh(boxes: torch.Tensor) -> torch.Tensor:
    cx, cy, w, h = boxes.unbind(-1)
    return torch.stack((cx - 0.5 * w, cy - 0.5 * h, w, h), dim=-1)


def box_iou_pairwise(boxes1_xyxy: torch.Tensor, boxes2_xyxy: torch.Tensor) -> torch.Tensor:
    """IoU of matching rows: (N, 4), (N, 4) -> (N,)."""
    lt = torch.maximum(boxes1_xyxy[:, :2], boxes2_xyxy[:, :2])
    rb = torch.minimum(boxes1_xyxy[:, 2:], boxes2_xyxy[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=1)
    area1 = (boxes1_xyxy[:, 2:] - boxes1_xyxy[:, :2]).prod(dim=1)
    area2 = (boxes2_xyxy[:, 2:] - boxes2_xyxy[:, :2]).prod(dim=1)
    return inter / (area1 + area2 - inter)


def generalized_box_iou_pairwise(
    boxes1_xyxy: torch.Tensor, boxes2_xyxy: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """GIoU and IoU of matching rows: (N, 4), (N, 4) -> ((N,), (N,)).

    Uses the diagonal of ``torchvision.ops.generalized_box_iou`` semantics without forming the
    N x N matrix (the training loss compares prediction i with ground truth i only).
    """
    iou = box_iou_pairwise(boxes1_xyxy, boxes2_xyxy)
    lt = torch.minimum(boxes1_xyxy[:, :2], boxes2_xyxy[:, :2])
    rb = torch.maximum(boxes1_xyxy[:, 2:], boxes2_xyxy[:, 2:])
    hull = (rb - lt).clamp(min=0).prod(dim=1)
    area1 = (boxes1_xyxy[:, 2:] - boxes1_xyxy[:, :2]).prod(dim=1)
    area2 = (boxes2_xyxy[:, 2:] - boxes2_xyxy[:, :2]).prod(dim=1)
    inter_rb = torch.minimum(boxes1_xyxy[:, 2:], boxes2_xyxy[:, 2:])
    inter_lt = torch.maximum(boxes1_xyxy[:, :2], boxes2_xyxy[:, :2])
    inter = (inter_rb - inter_lt).clamp(min=0).prod(dim=1)
    union = area1 + area2 - inter
    return iou - (hull - union) / hull, iou


def generalized_box_iou(boxes1_xyxy: torch.Tensor, boxes2_xyxy: torch.Tensor) -> torch.Tensor:
    """All-pairs GIoU (N, 4) x (M, 4) -> (N, M), via torchvision.ops."""
    return torchvision.ops.generalized_box_iou(boxes1_xyxy, boxes2_xyxy)
