"""The one square crop around a target, shared by training (processing) and the tracker.

Follows the official STARK crop (``lib/train/data/processing_utils.py`` upstream) exactly: crop side ``ceil(sqrt(w*h) * factor)``,
the top-left corner rounded half-to-even (Python ``round``), zero padding where the crop leaves the
image, including the official extra padded column/row as soon as the crop reaches the right/bottom
border (``x2_pad = max(x2 - W + 1, 0)``; the last image column is then replaced by padding), bilinear
resize, and a mask that is True wherever padding bleeds into a resized pixel.
"""

from __future__ import annotations

import array
import bisect
import functools
import math
import threading
from typing import Callable, Optional, Sequence, Union

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


@functools.lru_cache(maxsize=4096)
def _resize_taps(src: int, dst: int) -> Union[slice, np.ndarray]:
    """Indices along one axis that ``cv2.resize`` (INTER_LINEAR, ``src -> dst``) reads: a slice, or sorted
    indices (read-only) when they are sparse.

    Output ``i`` reads ``floor(x)`` and ``floor(x) + 1`` with ``x = (i + 0.5) * src / dst - 0.5`` (clamped);
    where ``x`` lies within 1e-3 of an integer both neighbours are added, so float rounding in OpenCV's
    own computation of ``x`` cannot make it read an index missing here. When at least half of the span
    from the first to the last index is read, the whole span is returned: filling it through slices
    costs less than numpy's row gathers. Below a ratio of 4 that is always the case (every output reads
    two indices at most ``src / dst`` apart), so only the span's ends are computed.
    """
    scale = src / dst
    if scale < 4:
        first, last = 0.5 * scale - 0.5, (dst - 0.5) * scale - 0.5
        lo = math.floor(first) - (abs(first - round(first)) < 1e-3)
        hi = math.floor(last) + 1 + (abs(last - round(last)) < 1e-3)
        return slice(min(max(lo, 0), src - 1), min(max(hi, 0), src - 1) + 1)
    x = (np.arange(dst) + 0.5) * scale - 0.5
    base = np.floor(x).astype(np.int64)
    near = base[np.abs(x - np.round(x)) < 1e-3]
    used = np.zeros(src, dtype=bool)
    used[np.clip(np.concatenate([base, base + 1, near - 1, near + 2]), 0, src - 1)] = True
    taps = np.flatnonzero(used)
    if 2 * len(taps) > taps[-1] - taps[0] + 1:
        return slice(int(taps[0]), int(taps[-1]) + 1)
    taps.setflags(write=False)
    return taps


def _as_slice(index: np.ndarray):
    """``index`` (sorted, unique) as a slice when it is one contiguous run (numpy copies slices fastest)."""
    if len(index) == 0:
        return slice(0, 0)
    return slice(int(index[0]), int(index[-1]) + 1) if index[-1] - index[0] + 1 == len(index) else index


_PROBE_WIDTH = 1 << 14  # one shared probe (320 KB) serves every crop side up to 16,384 px


@functools.lru_cache(maxsize=2)
def _tap_probe(width: int) -> np.ndarray:
    """(5, width) float32, read-only: the index itself, then four rows that are 1 where the index is 0, 1,
    2 or 3 modulo 4."""
    index = np.arange(width)
    probe = np.concatenate([index[None], index % 4 == np.arange(4)[:, None]]).astype(np.float32)
    probe.setflags(write=False)
    return probe


def _residue_tables() -> tuple[np.ndarray, np.ndarray]:
    """(first residue, whether two indices are read), indexed by the bits of the residues modulo 4 an
    output is fed by: ``p``'s bit alone for one index, ``p``'s and the next residue's for two."""
    first, two = np.zeros(16, dtype=np.int64), np.zeros(16, dtype=np.int64)
    for residue in range(4):
        pair = (1 << residue) | (1 << (residue + 1) % 4)
        first[1 << residue] = first[pair] = residue
        two[pair] = 1
    return first, two


_RESIDUE_BITS = np.array([1, 2, 4, 8])
_FIRST_RESIDUE, _TWO_INDICES = _residue_tables()


@functools.lru_cache(maxsize=4096)  # at most ~10 MB; a miss costs one resize of five rows
def _weighted_taps(src: int, dst: int) -> tuple[array.array, array.array]:
    """(first, last), ``dst`` ints each (arrays, for bisect: cheaper than numpy per lookup): per output of
    OpenCV's linear resize of float rows ``src -> dst``, the lowest and highest source index it gives a
    nonzero weight (weights of ~1e-15 included).

    Read off OpenCV itself, not recomputed (its coefficients differ from a float64 or float32 evaluation
    of ``(i + 0.5) * src / dst - 0.5`` near integers), by one resize of :func:`_tap_probe`. An output reads
    one index ``p`` or two, ``p`` and ``p + 1``. On the index row it is ``p`` plus the second weight, so
    ``p`` is its floor, one less or one more (float rounding); the residue rows it is fed by (``p``'s
    alone, or ``p``'s and the next) say which of the three. tests/data/test_crop.py checks the reach
    built on these against resizes of every padding prefix and suffix.
    """
    width = max(_PROBE_WIDTH, 1 << (src - 1).bit_length())
    out = cv2.resize(_tap_probe(width)[:, :src], (dst, 5), interpolation=cv2.INTER_LINEAR)
    residues = _RESIDUE_BITS @ (out[1:] != 0)  # per output, a bit per residue modulo 4 of the indices read
    below = np.floor(out[0]).astype(np.int64) - 1  # p - 2, p - 1 or p
    first = below + (_FIRST_RESIDUE[residues] - below) % 4
    last = first + _TWO_INDICES[residues]
    return array.array("i", first.astype(np.int32).tobytes()), array.array("i", last.astype(np.int32).tobytes())


def _unfed_run(src: int, dst: int, lo: int, hi: int) -> tuple[int, int]:
    """``(start, stop)``: the outputs of a ``src -> dst`` linear resize that no position outside ``[lo, hi)``
    feeds, a run of consecutive outputs (empty when everything is padding).

    Weights are never negative, so an output is fed by padding exactly when one of its nonzero-weight
    source indices is padding: all but the outputs whose first index is at least ``lo`` and whose last
    is below ``hi``, consecutive ones since both bounds are non-decreasing.
    """
    lo, hi = min(max(lo, 0), src), min(max(hi, lo, 0), src)
    if hi <= lo:
        return 0, 0
    first, last = _weighted_taps(src, dst)
    start, stop = bisect.bisect_left(first, lo), bisect.bisect_left(last, hi)
    return start, max(start, stop)


class _Workspace(threading.local):
    """Buffers reused by the crops of one thread: a fresh multi-megabyte canvas per crop costs more in page
    faults than filling it. Contents never outlive a call (every value read is written first)."""

    MAX_BYTES = 32 << 20  # larger canvases (sides above ~3,300 px) are allocated per call and not kept

    def __init__(self):
        self.buffers: dict[str, np.ndarray] = {}

    def take(self, name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        """An uninitialised array of ``shape``, the same memory at every call with this ``name``."""
        count = math.prod(shape)
        if dtype != np.uint8 or count > self.MAX_BYTES:
            return np.empty(shape, dtype=dtype)
        buffer = self.buffers.get(name)
        if buffer is None or len(buffer) < count:
            buffer = self.buffers[name] = np.empty(count, dtype=np.uint8)
        return buffer[:count].reshape(shape)


_WORKSPACE = _Workspace()


class CropPlan:
    """Where the square crop of :func:`plan_crop` lies in its frame (what the pixels and the mask need).

    ``side``: crop side in frame pixels; ``size``: output side; ``x1_pad``/``y1_pad``: padding columns/rows
    before the frame's content and ``inner_w``/``inner_h`` the content's extent, in crop coordinates (0
    when the crop misses the frame); ``src_x1``/``src_y1``: the content's corner in the frame (mirrored
    crops: in the unmirrored frame); ``left``: the column where the content starts in the canvas that is
    resized; ``flip_patch``/``flip_rows``: a mirrored crop is the mirror of the resized crop, or is resized
    from mirrored rows (see :func:`sample_target`); ``reach``: see :func:`padding_reach`.
    """

    __slots__ = (
        "side", "size", "resize_factor", "x1_pad", "y1_pad", "inner_w", "inner_h",
        "src_x1", "src_y1", "left", "padded", "flip_patch", "flip_rows", "reach",
    )  # fmt: skip

    def __init__(self, side, size, x1_pad, y1_pad, inner_w, inner_h, src_x1, src_y1, padded, mirrored):
        self.side, self.size, self.resize_factor = side, size, size / side
        self.x1_pad, self.y1_pad, self.inner_w, self.inner_h = x1_pad, y1_pad, inner_w, inner_h
        self.src_x1, self.src_y1, self.padded = src_x1, src_y1, padded
        # a mirrored crop is the mirror of the resized crop of the frame (its left padding is the mirrored
        # crop's right padding) where the resize commutes with mirroring; elsewhere the source rows are mirrored
        self.flip_patch = mirrored and size in MIRROR_EXACT_SIZES and side <= MIRROR_EXACT_MAX_SIDE
        self.flip_rows = mirrored and not self.flip_patch
        self.left = side - x1_pad - inner_w if self.flip_patch else x1_pad
        self.reach = None  # set by padding_reach


def plan_crop(
    image_shape: Sequence[int], box_xywh: Sequence[float], factor: float, output_size: int, mirrored: bool = False
) -> CropPlan:
    """The crop :func:`sample_target` takes from a frame of ``image_shape`` ((H, W, ...)); :class:`CropError`
    when the box defines none."""
    x, y, w, h = map(float, box_xywh[:4])
    side = crop_size(box_xywh, factor)
    x1 = int(round(x + 0.5 * w - side * 0.5))
    y1 = int(round(y + 0.5 * h - side * 0.5))
    x2, y2 = x1 + side, y1 + side
    im_h, im_w = image_shape[:2]
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
    return CropPlan(side, output_size, x1_pad, y1_pad, inner_w, inner_h, src_x1, src_y1, padded, mirrored)


def padding_reach(plan: CropPlan) -> tuple[tuple[int, int], tuple[int, int]]:
    """(rows, columns): per axis, the run ``(start, stop)`` of output rows/columns that padding does not feed
    (computed once per plan; an unpadded crop's runs span the whole output). Padding reaches a pixel
    through its row or its column, so the mask is True everywhere but on the product of the two runs."""
    if plan.reach is None:
        if not plan.padded:
            plan.reach = ((0, plan.size),) * 2
        else:
            plan.reach = (
                _unfed_run(plan.side, plan.size, plan.y1_pad, plan.y1_pad + plan.inner_h),
                _unfed_run(plan.side, plan.size, plan.x1_pad, plan.x1_pad + plan.inner_w),
            )
    return plan.reach


def crop_mask(plan: CropPlan, flip: bool = False, out: Optional[np.ndarray] = None) -> np.ndarray:
    """(S, S) bool, True on every output pixel that padding contributes to (mirrored left-right when
    ``flip``); written into ``out`` when given."""
    (top, bottom), (left, right) = padding_reach(plan)
    if flip:
        left, right = plan.size - right, plan.size - left
    if out is None:
        out = np.empty((plan.size, plan.size), dtype=bool)
    out[...] = True
    out[top:bottom, left:right] = False
    return out


def _canvas(image: np.ndarray, plan: CropPlan, pixel_map) -> np.ndarray:
    """The zero-padded ``side x side`` crop, filled only in the rows the resize reads (the others keep
    whatever the reused buffer held: their values cannot reach the output)."""
    side, y1_pad, inner_h = plan.side, plan.y1_pad, plan.inner_h
    canvas = _WORKSPACE.take("canvas", (side, side) + image.shape[2:], image.dtype)
    rows = _resize_taps(side, plan.size)
    shift = plan.src_y1 - y1_pad  # canvas row -> frame row
    if isinstance(rows, slice):
        first, stop = max(rows.start, y1_pad), min(rows.stop, y1_pad + inner_h)  # the content rows read
        if stop <= first:
            canvas[rows] = 0
            return canvas
        strip = _strip(image, plan, slice(first + shift, stop + shift), pixel_map)
        right = side - plan.left - plan.inner_w
        # one call writes the rows read: zero rows above and below, zero columns beside the content
        top, bottom = first - rows.start, rows.stop - stop
        cv2.copyMakeBorder(strip, top, bottom, plan.left, right, cv2.BORDER_CONSTANT, dst=canvas[rows], value=0)
        return canvas
    canvas[_as_slice(rows[rows < y1_pad])] = 0
    canvas[_as_slice(rows[rows >= y1_pad + inner_h])] = 0
    rows = _as_slice(rows[(rows >= y1_pad) & (rows < y1_pad + inner_h)])
    if isinstance(rows, slice) and rows.stop <= rows.start:
        return canvas
    source_rows = rows + shift if not isinstance(rows, slice) else slice(rows.start + shift, rows.stop + shift)
    left, right = plan.left, plan.left + plan.inner_w
    canvas[rows, :left] = 0
    canvas[rows, right:] = 0
    canvas[rows, left:right] = _strip(image, plan, source_rows, pixel_map)
    return canvas


def _strip(image: np.ndarray, plan: CropPlan, source_rows, pixel_map) -> np.ndarray:
    """The frame's content in ``source_rows`` as the canvas holds it (pixel-mapped, mirrored for ``flip_rows``)."""
    strip = image[source_rows, plan.src_x1 : plan.src_x1 + plan.inner_w]
    if pixel_map is not None:
        strip = pixel_map(strip)
    return cv2.flip(strip, 1) if plan.flip_rows else strip


def crop_pixels(
    image: np.ndarray,
    plan: CropPlan,
    pixel_map: Optional[Callable[[np.ndarray], np.ndarray]] = None,
    out: Optional[np.ndarray] = None,
    flip: bool = False,
) -> np.ndarray:
    """(S, S, 3) uint8 crop of ``image`` as ``plan`` places it, mirrored left-right when ``flip``; written into
    ``out`` when given (C-contiguous or row-strided), else a new array. ``pixel_map`` as in :func:`sample_target`."""
    size = (plan.size, plan.size)
    if not plan.padded and not plan.flip_rows and pixel_map is None:
        source = image[plan.src_y1 : plan.src_y1 + plan.inner_h, plan.src_x1 : plan.src_x1 + plan.inner_w]
    else:
        source = _canvas(image, plan, pixel_map)
    if flip == plan.flip_patch:  # no flip, or the mirrored crop's flip undone by the requested one
        return cv2.resize(source, size, dst=out, interpolation=cv2.INTER_LINEAR)
    patch = _WORKSPACE.take("patch", size + image.shape[2:], image.dtype)
    cv2.resize(source, size, dst=patch, interpolation=cv2.INTER_LINEAR)
    return cv2.flip(patch, 1, dst=out)


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
    filled, and the mask from the run of outputs per axis that padding leaves unfed (the resize's taps are
    read off OpenCV once per crop side and output size), so the cost follows the output size rather than the
    crop's area. :func:`plan_crop`, :func:`crop_pixels` and :func:`crop_mask` are its steps.
    """
    plan = plan_crop(image.shape, box_xywh, factor, output_size, mirrored)
    return crop_pixels(image, plan, pixel_map), plan.resize_factor, crop_mask(plan)


def map_box(
    box_xywh: Sequence[float],
    crop_center_box_xywh: Sequence[float],
    resize_factor: float,
    output_size: int,
    normalize: bool = True,
) -> tuple[float, float, float, float]:
    """Map an image box into the crop made around ``crop_center_box_xywh`` (the training-time GT mapping).

    The box centre lands at ``(output_size - 1) / 2 + (gt_c - crop_c) * resize_factor`` (as upstream).
    Returns ``x, y, w, h`` in crop pixels, or divided by ``output_size`` when ``normalize``.
    """
    # per-axis float arithmetic (the pipeline calls this per crop): the same operations in the same order as
    # on (2,) arrays, with less overhead
    x, y, w, h = box_xywh[:4]
    ref_x, ref_y, ref_w, ref_h = crop_center_box_xywh[:4]
    middle = (output_size - 1) / 2
    x_centre = middle + (x + 0.5 * w - (ref_x + 0.5 * ref_w)) * resize_factor
    y_centre = middle + (y + 0.5 * h - (ref_y + 0.5 * ref_h)) * resize_factor
    w, h = w * resize_factor, h * resize_factor
    out = (x_centre - 0.5 * w, y_centre - 0.5 * h, w, h)
    return tuple(v / output_size for v in out) if normalize else out


def normalize_patch(patch: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """(S, S, 3) uint8 RGB -> (3, S, S) float32 tensor: ``/255``, ``-mean``, ``/std`` per channel."""
    tensor = torch.from_numpy(np.ascontiguousarray(patch)).permute(2, 0, 1).float().div_(255.0)
    mean_t = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    return tensor.sub_(mean_t).div_(std_t)
