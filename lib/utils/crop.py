"""The one square crop around a target, shared by training (processing) and the tracker.

Follows the official STARK crop (``lib/train/data/processing_utils.py`` upstream) exactly: crop side ``ceil(sqrt(w*h) * factor)``,
the top-left corner rounded half-to-even (Python ``round``), zero padding where the crop leaves the
image, including the official extra padded column/row as soon as the crop reaches the right/bottom
border (``x2_pad = max(x2 - W + 1, 0)``; the last image column is then replaced by padding), bilinear
resize, and a mask that is True wherever padding bleeds into a resized pixel.
"""

from __future__ import annotations

import functools
import math
from typing import Callable, Optional, Sequence

import cv2
import numpy as np
import torch

# Output sides for which OpenCV's bilinear resize of uint8 images commutes with a left-right flip, checked
# for every source side up to MIRROR_EXACT_MAX_SIDE (tests/data/test_crop.py re-checks the installed
# OpenCV): the coefficients of mirrored output columns are then mirrored exactly. Most other sides differ
# by one grey level here and there, so their mirrored crops flip the source pixels instead.
MIRROR_EXACT_SIZES = frozenset({64, 128, 320})
MIRROR_EXACT_MAX_SIDE = 8192


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


@functools.lru_cache(maxsize=2048)
def _resize_taps(src: int, dst: int) -> np.ndarray:
    """Sorted indices along one axis that ``cv2.resize`` (INTER_LINEAR, ``src -> dst``) reads (read-only).

    Output ``i`` reads ``floor(x)`` and ``floor(x) + 1`` with ``x = (i + 0.5) * src / dst - 0.5`` (clamped);
    where ``x`` lies within 1e-3 of an integer both neighbours are added, so float rounding in OpenCV's
    own computation of ``x`` cannot make it read an index missing here. When at least half of the span
    from the first to the last index is read, the whole span is returned: filling it through slices
    costs less than numpy's row gathers.
    """
    x = (np.arange(dst) + 0.5) * (src / dst) - 0.5
    base = np.floor(x).astype(np.int64)
    near = base[np.abs(x - np.round(x)) < 1e-3]
    used = np.zeros(src, dtype=bool)
    used[np.clip(np.concatenate([base, base + 1, near - 1, near + 2]), 0, src - 1)] = True
    taps = np.flatnonzero(used)
    if 2 * len(taps) > taps[-1] - taps[0] + 1:
        taps = np.arange(taps[0], taps[-1] + 1)
    taps.setflags(write=False)
    return taps


def _as_slice(index: np.ndarray):
    """``index`` (sorted, unique) as a slice when it is one contiguous run (numpy copies slices fastest)."""
    if len(index) == 0:
        return slice(0, 0)
    return slice(int(index[0]), int(index[-1]) + 1) if index[-1] - index[0] + 1 == len(index) else index


def _padding_reach(src: int, dst: int, lo: int, hi: int) -> np.ndarray:
    """(dst,) bool: outputs of a ``src -> dst`` linear resize that a position outside ``[lo, hi)`` feeds."""
    # two rows: OpenCV resizes a single row differently (it then drops weights of ~1e-15 that the
    # full-size mask keeps); from two rows on, each row equals a row of the full (src, src) resize
    padding = np.ones((2, src), dtype=np.float32)
    padding[:, max(lo, 0) : max(hi, lo, 0)] = 0.0
    return cv2.resize(padding, (dst, 2), interpolation=cv2.INTER_LINEAR)[0] != 0


def sample_target(
    image: np.ndarray,
    box_xywh: Sequence[float],
    factor: float,
    output_size: int,
    mirrored: bool = False,
    pixel_map: Optional[Callable[[np.ndarray], np.ndarray]] = None,
) -> tuple[np.ndarray, float, np.ndarray]:
    """Crop a square of ``factor`` times the box's sqrt(area) centred on the box, resized to ``output_size``.

    Args:
        image: (H, W, 3) uint8 RGB frame.
        box_xywh: ``[x, y, w, h]`` in pixels (top-left corner, 0-based).
        factor: crop side relative to ``sqrt(w * h)``.
        output_size: side S of the returned square patch.
        mirrored: crop from the left-right mirror of ``image`` (``box_xywh`` in mirrored coordinates) without
            building the mirrored frame; identical to ``sample_target(cv2.flip(image, 1), ...)``.
        pixel_map: a per-pixel transform of (N, M, 3) uint8 pixels (e.g. grayscale), applied only to the
            pixels the crop reads; identical to ``sample_target(pixel_map(image), ...)`` when it maps black to black.

    Returns:
        patch: (S, S, 3) uint8, zeros where the crop leaves the image.
        resize_factor: ``S / crop_side`` (output pixels per image pixel).
        mask: (S, S) bool, True on every output pixel that padding contributes to.

    The result is the bilinear resize of the zero-padded ``side x side`` crop, but a padded or mirrored crop
    (often several times the output's side) is never built whole: only the rows the resize reads are
    filled, and the mask comes from two 1-D resizes (padding reaches an output pixel through its row or its
    column), so the cost follows the output size rather than the crop's area.
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
    if mirrored:
        src_x1, src_x2 = im_w - src_x2, im_w - src_x1
    inner_w, inner_h = max(src_x2 - src_x1, 0), max(src_y2 - src_y1, 0)
    if not inner_w or not inner_h:
        inner_w = inner_h = 0  # the crop lies entirely outside the image: all padding
    padded = bool(x1_pad or x2_pad or y1_pad or y2_pad)
    resize_factor = output_size / side
    size = (output_size, output_size)
    # a mirrored crop is the mirror of the resized crop of ``image`` (its left padding is the mirrored
    # crop's right padding) where the resize commutes with mirroring; elsewhere the source rows are mirrored
    flip_patch = mirrored and output_size in MIRROR_EXACT_SIZES and side <= MIRROR_EXACT_MAX_SIDE
    flip_rows = mirrored and not flip_patch
    left = side - x1_pad - inner_w if flip_patch else x1_pad

    if not padded and not flip_rows and pixel_map is None:
        patch = cv2.resize(image[src_y1:src_y2, src_x1:src_x2], size, interpolation=cv2.INTER_LINEAR)
        return (cv2.flip(patch, 1) if flip_patch else patch), resize_factor, np.zeros(size, dtype=bool)
    # rows the resize never reads stay uninitialised: their values cannot reach the output
    canvas = np.empty((side, side) + image.shape[2:], dtype=image.dtype)
    rows = _resize_taps(side, output_size)
    top, bottom = rows[rows < y1_pad], rows[rows >= y1_pad + inner_h]
    canvas[_as_slice(top)] = 0
    canvas[_as_slice(bottom)] = 0
    rows = _as_slice(rows[(rows >= y1_pad) & (rows < y1_pad + inner_h)])
    if not isinstance(rows, slice) or rows.stop > rows.start:
        source_rows = (
            rows - y1_pad + src_y1
            if not isinstance(rows, slice)
            else slice(rows.start - y1_pad + src_y1, rows.stop - y1_pad + src_y1)
        )
        strip = image[source_rows, src_x1:src_x2]
        if pixel_map is not None:
            strip = pixel_map(strip)
        canvas[rows, :left] = 0
        canvas[rows, left + inner_w :] = 0
        if flip_rows and isinstance(rows, slice):
            cv2.flip(strip, 1, dst=canvas[rows, left : left + inner_w])
        else:
            canvas[rows, left : left + inner_w] = cv2.flip(strip, 1) if flip_rows else strip
    patch = cv2.resize(canvas, size, interpolation=cv2.INTER_LINEAR)
    if flip_patch:
        patch = cv2.flip(patch, 1)
    if not padded:
        return patch, resize_factor, np.zeros(size, dtype=bool)
    mask = (
        _padding_reach(side, output_size, y1_pad, y1_pad + inner_h)[:, None]
        | _padding_reach(side, output_size, x1_pad, x1_pad + inner_w)[None, :]
    )
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
