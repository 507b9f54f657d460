"""The one square crop around a target, shared by training (processing) and the tracker.

Follows the official STARK crop (``lib/train/data/processing_utils.py`` upstream) exactly: crop side ``ceil(sqrt(w*h) * factor)``,
the top-left corner rounded half-to-even (Python ``round``), zero padding where the crop leaves the
image, including the official extra padded column/row as soon as the crop reaches the right/bottom
border (``x2_pad = max(x2 - W + 1, 0)``; the last image column is then replaced by padding), bilinear
resize, and a mask that is True wherever padding bleeds into a resized pixel.
"""

from __future__ import annotations

import math
from typing import Sequence

import cv2
import numpy as np
import torch


class CropError(ValueError):
    """A box too small (or degenerate) to define a crop."""


def crop_size(box_xywh: Sequence[float], factor: float) -> int:
    """Side in pixels of the square crop around ``box_xywh``: ``ceil(sqrt(w*h) * factor)``."""
    w, h = float(box_xywh[2]), float(box_xywh[3])
    if not (w > 0 and h > 0) or not math.isfinite(w * h):
        raise CropError(f"cannot crop around box {list(box_xywh)}: width and height must be positive")
    side = math.ceil(math.sqrt(w * h) * factor)
    if side < 1:
        raise CropError(f"box {list(box_xywh)} with factor {factor} gives a crop of {side} px")
    return side


def sample_target(
    image: np.ndarray, box_xywh: Sequence[float], factor: float, output_size: int, mirrored: bool = False
) -> tuple[np.ndarray, float, np.ndarray]:
    """Crop a square of ``factor`` times the box's sqrt(area) centred on the box, resized to ``output_size``.

    Args:
        image: (H, W, 3) uint8 RGB frame.
        box_xywh: ``[x, y, w, h]`` in pixels (top-left corner, 0-based).
        factor: crop side relative to ``sqrt(w * h)``.
        output_size: side S of the returned square patch.
        mirrored: crop from the left-right mirror of ``image`` (``box_xywh`` in mirrored coordinates) without
            building the mirrored frame; identical to ``sample_target(cv2.flip(image, 1), ...)``.

    Returns:
        patch: (S, S, 3) uint8, zeros where the crop leaves the image.
        resize_factor: ``S / crop_side`` (output pixels per image pixel).
        mask: (S, S) bool, True on every output pixel that padding contributes to.
    """
    x, y, w, h = (float(v) for v in box_xywh[:4])
    side = crop_size(box_xywh, factor)
    x1 = int(round(x + 0.5 * w - side * 0.5))
    y1 = int(round(y + 0.5 * h - side * 0.5))
    x2, y2 = x1 + side, y1 + side
    im_h, im_w = image.shape[:2]
    # the official right/bottom padding: one extra zero column/row once the crop reaches the border
    x1_pad, y1_pad = max(0, -x1), max(0, -y1)
    x2_pad, y2_pad = max(x2 - im_w + 1, 0), max(y2 - im_h + 1, 0)
    src_x1, src_x2 = x1 + x1_pad, x2 - x2_pad
    src_y1, src_y2 = y1 + y1_pad, y2 - y2_pad

    padded = bool(x1_pad or x2_pad or y1_pad or y2_pad)
    mask_full = np.ones((side, side), dtype=np.float32) if padded else None
    if src_x2 > src_x1 and src_y2 > src_y1:
        if mirrored:
            inner = cv2.flip(image[src_y1:src_y2, im_w - src_x2 : im_w - src_x1], 1)
        else:
            inner = image[src_y1:src_y2, src_x1:src_x2]
        if padded:
            canvas = np.zeros((side, side) + image.shape[2:], dtype=image.dtype)
            canvas[y1_pad : y1_pad + inner.shape[0], x1_pad : x1_pad + inner.shape[1]] = inner
            mask_full[y1_pad : y1_pad + inner.shape[0], x1_pad : x1_pad + inner.shape[1]] = 0.0
        else:
            canvas = inner
    else:
        # the crop lies entirely outside the image: all padding
        canvas = np.zeros((side, side) + image.shape[2:], dtype=image.dtype)

    resize_factor = output_size / side
    patch = cv2.resize(canvas, (output_size, output_size), interpolation=cv2.INTER_LINEAR)
    if mask_full is None:  # no padding anywhere: the resized mask is all False, skip the full-size resize
        return patch, resize_factor, np.zeros((output_size, output_size), dtype=bool)
    mask = cv2.resize(mask_full, (output_size, output_size), interpolation=cv2.INTER_LINEAR) != 0
    return patch, resize_factor, mask


def box_in_crop(
    box_xywh: Sequence[float],
    crop_center_box_xywh: Sequence[float],
    resize_factor: float,
    output_size: int,
    normalize: bool = True,
) -> np.ndarray:
    """Map an image box into the crop made around ``crop_center_box_xywh`` (the training-time GT mapping).

    The box centre lands at ``(output_size - 1) / 2 + (gt_c - crop_c) * resize_factor`` (as upstream).

    Returns:
        (4,) float64 ``[x, y, w, h]`` in crop pixels, or divided by ``output_size`` when ``normalize``.
    """
    box = np.asarray(box_xywh, dtype=np.float64)[:4]
    ref = np.asarray(crop_center_box_xywh, dtype=np.float64)[:4]
    centre = (output_size - 1) / 2 + (box[:2] + 0.5 * box[2:] - (ref[:2] + 0.5 * ref[2:])) * resize_factor
    size = box[2:] * resize_factor
    out = np.concatenate([centre - 0.5 * size, size])
    return out / output_size if normalize else out


def normalize_patch(patch: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """(S, S, 3) uint8 RGB -> (3, S, S) float32 tensor: ``/255``, ``-mean``, ``/std`` per channel."""
    tensor = torch.from_numpy(np.ascontiguousarray(patch)).permute(2, 0, 1).float().div_(255.0)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    return tensor.sub_(mean_t).div_(std_t)
