"""Tracking metrics, one explicitly named function family per public toolkit convention.

Every function is pure numpy on ``(N, 4)`` ``[x, y, w, h]`` arrays. The toolkits disagree on almost
every detail (frame 0, invisible frames, IoU pixel rule, thresholds, averaging), so each convention is
implemented separately:

* **pytracking / STARK** (default; the convention of STARK's published LaSOT numbers,
  ``lib/test/analysis/extract_results.py`` upstream): prediction of frame 0 := GT; predictions with a zero
  width or height take the previous prediction; IoU with inclusive pixel corners (``x + w - 1``, the
  "+1" rule); centre ``x + (w - 1) / 2``; GT with ``w <= 0`` or ``h <= 0`` (or, on LaSOT, an invisible
  target) is invalid: IoU -1 and centre error Inf, normalised centre error -1 (Inf on LaSOT invisible
  frames), all kept in the denominator; success = fraction of frames with IoU **>** each of the 21
  thresholds 0:0.05:1, averaged over sequences; AUC = mean of the curve x 100; OP50/OP75 = curve at
  0.5/0.75; precision = fraction with centre error **<=** 20 px; normalised precision at 0.20.
* **GOT-10k toolkit** (``got10k/experiments/got10k.py``): first frame excluded; frames with
  ``cover == 0`` dropped (not in the denominator); continuous IoU (no +1) with both boxes clipped to
  the image; AO = mean IoU **pooled over all frames of all sequences**; SR0.5 / SR0.75 = pooled
  fraction with IoU > 0.5 / 0.75 (the server's SR0.75); success curve on 101 thresholds.
* **TrackingNet devkit** (``metrics.py``, the EvalAI scorer): every coordinate rounded to an integer
  (half-to-even, ``np.round``); frame 0 := GT; inclusive-pixel intersection; success **>=** 21
  thresholds, precision <= linspace(0, 50, 21) px, normalised precision <= linspace(0, 0.5, 21);
  per-sequence mean; all three scores are trapezoid areas over ``x = linspace(0, 1, 21)`` x 100
  (so "precision" is not P@20px).
* **LaSOT MATLAB toolkit** (``utils/calc_seq_err_robust.m``): frame 0 := GT; NaN / non-positive-size
  predictions take the previous one; GT with any coordinate <= 0 gets IoU -1 but centre error -1
  (a precision success); absent frames are removed but the denominator stays the full length.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch


class MetricsError(ValueError):
    """Inconsistent predictions / annotations (one-line message)."""


# The official analysis builds its thresholds with torch.arange in float64; numpy's arange differs in
# the last bit at 0.65 and 0.75, which changes a frame's verdict when its IoU sits exactly there.
SUCCESS_THRESHOLDS = torch.arange(0.0, 1.0 + 0.05, 0.05, dtype=torch.float64).numpy()  # (21,)
CENTER_THRESHOLDS_PX = np.arange(0, 51, dtype=np.float64)  # (51,) 0..50 px
NORM_CENTER_THRESHOLDS = np.arange(0, 51, dtype=np.float64) / 100.0  # (51,) 0..0.5
PRECISION_INDEX = 20  # 20 px / 0.20 in the two centre-threshold sets above
OP50_INDEX, OP75_INDEX = 10, 15  # 0.5 / 0.75 in SUCCESS_THRESHOLDS

GOT10K_THRESHOLDS = np.linspace(0.0, 1.0, 101)
TRACKINGNET_SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)
TRACKINGNET_PRECISION_THRESHOLDS = np.linspace(0.0, 50.0, 21)
TRACKINGNET_NORM_THRESHOLDS = np.linspace(0.0, 0.5, 21)
LASOT_MATLAB_SUCCESS_THRESHOLDS = np.linspace(0.0, 1.0, 21)  # MATLAB 0:0.05:1 (exact 0.65, 0.75)


def _as_boxes(boxes: np.ndarray, name: str) -> np.ndarray:
    arr = np.array(boxes, dtype=np.float64, copy=True)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise MetricsError(f"{name}: expected an (N, 4) array of x, y, w, h, got shape {arr.shape}")
    return arr


def trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    """Trapezoid rule (``np.trapz`` of the toolkits; removed from NumPy 2.x under that name)."""
    y = np.asarray(y, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    return float(np.sum((y[1:] + y[:-1]) * 0.5 * np.diff(x)))


# ----------------------------------------------------------------------------------------------
# box geometry


def iou_inclusive(pred_xywh: np.ndarray, gt_xywh: np.ndarray) -> np.ndarray:
    """IoU with inclusive pixel corners (pytracking / OTB / LaSOT): (N, 4), (N, 4) -> (N,).

    Right edge ``x + w - 1``; intersection side ``br - tl + 1`` clamped at 0; union ``w*h + w'*h' - inter``.
    """
    pred = np.asarray(pred_xywh, dtype=np.float64)
    gt = np.asarray(gt_xywh, dtype=np.float64)
    tl = np.maximum(pred[:, :2], gt[:, :2])
    br = np.minimum(pred[:, :2] + pred[:, 2:] - 1.0, gt[:, :2] + gt[:, 2:] - 1.0)
    inter = np.clip(br - tl + 1.0, 0.0, None).prod(axis=1)
    union = pred[:, 2:].prod(axis=1) + gt[:, 2:].prod(axis=1) - inter
    with np.errstate(divide="ignore", invalid="ignore"):
        return inter / union


def centers_inclusive(boxes_xywh: np.ndarray) -> np.ndarray:
    """Centre ``x + (w - 1) / 2`` of inclusive-pixel boxes: (N, 4) -> (N, 2)."""
    boxes = np.asarray(boxes_xywh, dtype=np.float64)
    return boxes[:, :2] + 0.5 * (boxes[:, 2:] - 1.0)


def center_error(pred_xywh: np.ndarray, gt_xywh: np.ndarray, normalized: bool = False) -> np.ndarray:
    """Euclidean centre distance (N,); ``normalized`` divides both centres by the GT ``w, h`` first."""
    pred_c = centers_inclusive(pred_xywh)
    gt_c = centers_inclusive(gt_xywh)
    with np.errstate(divide="ignore", invalid="ignore"):
        if normalized:
            gt_wh = np.asarray(gt_xywh, dtype=np.float64)[:, 2:]
            pred_c = pred_c / gt_wh
            gt_c = gt_c / gt_wh
        return np.sqrt(((pred_c - gt_c) ** 2).sum(axis=1))


def iou_clipped_continuous(
    pred_xywh: np.ndarray, gt_xywh: np.ndarray, image_size: Optional[tuple[float, float]] = None
) -> np.ndarray:
    """GOT-10k toolkit IoU: continuous corners (no +1), both boxes clipped to ``image_size = (W, H)``.

    Clipping: ``x`` to ``[0, W]``, then ``w`` to ``[0, W - x]`` (same for y, h). The result is clipped
    to ``[0, 1]``; ``eps`` in the union as in the toolkit. (N, 4), (N, 4) -> (N,).
    """
    boxes = [_as_boxes(pred_xywh, "prediction"), _as_boxes(gt_xywh, "ground truth")]
    if image_size is not None:
        width, height = float(image_size[0]), float(image_size[1])
        for b in boxes:
            b[:, 0] = np.clip(b[:, 0], 0, width)
            b[:, 1] = np.clip(b[:, 1], 0, height)
            b[:, 2] = np.clip(b[:, 2], 0, width - b[:, 0])
            b[:, 3] = np.clip(b[:, 3], 0, height - b[:, 1])
    a, b = boxes
    x1 = np.maximum(a[:, 0], b[:, 0])
    y1 = np.maximum(a[:, 1], b[:, 1])
    x2 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y2 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.maximum(x2 - x1, 0) * np.maximum(y2 - y1, 0)
    union = a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter
    return np.clip(inter / (union + np.finfo(float).eps), 0.0, 1.0)


# ----------------------------------------------------------------------------------------------
# pytracking / STARK


@dataclass
class SequenceErrors:
    """Per-frame errors of one sequence, (N,) each; ``valid`` marks frames with a usable GT."""

    overlap: np.ndarray
    center: np.ndarray
    center_norm: np.ndarray
    valid: np.ndarray


def pytracking_sequence_errors(
    pred_xywh: np.ndarray,
    gt_xywh: np.ndarray,
    target_visible: Optional[np.ndarray] = None,
    dataset: str = "",
) -> SequenceErrors:
    """Per-frame IoU and centre errors in the pytracking/STARK convention.

    ``dataset`` selects the two dataset-specific branches of the official analysis: ``"lasot"`` (too
    long predictions are truncated, too short ones are an error; invisible frames get centre errors
    Inf) and ``"uav"`` (NaN GT tolerated; invalid frames get centre error -1).
    """
    pred = _as_boxes(pred_xywh, "prediction")
    gt = _as_boxes(gt_xywh, "ground truth")
    dataset = dataset.lower()
    if np.isnan(pred).any() or (pred[:, 2:] < 0).any():
        raise MetricsError("prediction has NaN or negative-size boxes")
    if np.isnan(gt).any() and dataset != "uav":
        raise MetricsError("ground truth has NaN rows (not allowed outside UAV)")

    # Zero-size boxes take the previous prediction (before the length fix, as upstream).
    for i in range(1, min(pred.shape[0], gt.shape[0])):
        if (pred[i, 2:] == 0).any() and not np.isnan(gt[i]).any():
            pred[i] = pred[i - 1]

    n = gt.shape[0]
    if pred.shape[0] > n:
        pred = pred[:n]
    elif pred.shape[0] < n:
        if dataset == "lasot":
            raise MetricsError(f"prediction has {pred.shape[0]} frames, ground truth {n}")
        pred = np.concatenate([pred, np.zeros((n - pred.shape[0], 4))], axis=0)
    pred[0] = gt[0]

    valid = (gt[:, 2:] > 0).sum(axis=1) == 2
    visible = None
    if target_visible is not None:
        visible = np.asarray(target_visible, dtype=bool).reshape(-1)
        if visible.shape[0] != n:
            raise MetricsError(f"target_visible has {visible.shape[0]} frames, ground truth {n}")
        valid = valid & visible

    center = center_error(pred, gt)
    center_norm = center_error(pred, gt, normalized=True)
    overlap = iou_inclusive(pred, gt)
    center[~valid] = -1.0 if dataset == "uav" else np.inf
    center_norm[~valid] = -1.0
    overlap[~valid] = -1.0
    if dataset == "lasot" and visible is not None:
        center[~visible] = np.inf
        center_norm[~visible] = np.inf
    if np.isnan(overlap).any():
        raise MetricsError("NaN in the computed overlaps")
    return SequenceErrors(overlap=overlap, center=center, center_norm=center_norm, valid=valid)


def pytracking_sequence_curves(errors: SequenceErrors, exclude_invalid_frames: bool = False) -> dict:
    """Success (21,), precision (51,) and normalised-precision (51,) curves of one sequence, in [0, 1].

    The denominator is the full sequence length (invalid frames count as failures) unless
    ``exclude_invalid_frames``.
    """
    length = int(errors.valid.sum()) if exclude_invalid_frames else errors.overlap.shape[0]
    if length <= 0:
        raise MetricsError("sequence has no frame to evaluate")
    success = (errors.overlap[:, None] > SUCCESS_THRESHOLDS[None, :]).sum(axis=0) / length
    precision = (errors.center[:, None] <= CENTER_THRESHOLDS_PX[None, :]).sum(axis=0) / length
    norm = (errors.center_norm[:, None] <= NORM_CENTER_THRESHOLDS[None, :]).sum(axis=0) / length
    return {"success": success, "precision": precision, "norm_precision": norm}


def pytracking_summary(sequence_curves: Sequence[dict]) -> dict:
    """Average per-sequence curves and read off the scores (percent).

    Returns ``auc``, ``op50``, ``op75``, ``precision`` (@20 px), ``norm_precision`` (@0.20) and the
    averaged curves ``success_curve`` (21,), ``precision_curve`` (51,), ``norm_precision_curve`` (51,).
    """
    if not sequence_curves:
        raise MetricsError("no sequence to summarise")
    success = np.mean([c["success"] for c in sequence_curves], axis=0) * 100.0
    precision = np.mean([c["precision"] for c in sequence_curves], axis=0) * 100.0
    norm = np.mean([c["norm_precision"] for c in sequence_curves], axis=0) * 100.0
    return {
        "auc": float(success.mean()),
        "op50": float(success[OP50_INDEX]),
        "op75": float(success[OP75_INDEX]),
        "precision": float(precision[PRECISION_INDEX]),
        "norm_precision": float(norm[PRECISION_INDEX]),
        "success_curve": success,
        "precision_curve": precision,
        "norm_precision_curve": norm,
    }


# ----------------------------------------------------------------------------------------------
# GOT-10k toolkit


def got10k_sequence_ious(
    pred_xywh: np.ndarray,
    gt_xywh: np.ndarray,
    image_size: Optional[tuple[float, float]],
    cover: Optional[np.ndarray] = None,
) -> np.ndarray:
    """IoUs that enter GOT-10k's AO for one sequence: frame 0 dropped, then frames with ``cover == 0``.

    ``cover`` (N,) is the sequence's ``cover.label`` (0..8) or any visibility flag (0/False = absent).
    ``image_size`` = ``(W, H)`` from ``meta_info.ini`` (``None`` skips the clipping). Returns (M,).
    """
    pred = _as_boxes(pred_xywh, "prediction")
    gt = _as_boxes(gt_xywh, "ground truth")
    if pred.shape != gt.shape:
        raise MetricsError(f"prediction has {pred.shape[0]} frames, ground truth {gt.shape[0]}")
    ious = iou_clipped_continuous(pred[1:], gt[1:], image_size)
    if cover is not None:
        cover_arr = np.asarray(cover, dtype=np.float64).reshape(-1)
        if cover_arr.shape[0] != gt.shape[0]:
            raise MetricsError(f"cover has {cover_arr.shape[0]} frames, ground truth {gt.shape[0]}")
        ious = ious[cover_arr[1:] > 0]
    return ious


def got10k_summary(sequence_ious: Sequence[np.ndarray], sequence_times: Sequence[np.ndarray] = ()) -> dict:
    """Frame-pooled AO, SR0.5, SR0.75 (percent), success curve (101,) and speed (mean 1/t, Hz).

    All IoUs of all sequences are concatenated before averaging (a long sequence weighs more).
    Times: NaN and non-positive entries are ignored as in the toolkit; ``speed_fps`` is -1 without times.
    """
    ious = np.concatenate([np.asarray(s, dtype=np.float64).reshape(-1) for s in sequence_ious])
    if ious.size == 0:
        raise MetricsError("no frame to evaluate")
    times = [np.asarray(t, dtype=np.float64).reshape(-1) for t in sequence_times]
    times_all = np.concatenate(times) if times else np.zeros(0)
    times_all = times_all[~np.isnan(times_all)]
    times_all = times_all[times_all > 0]
    curve = (ious[:, None] > GOT10K_THRESHOLDS[None, :]).mean(axis=0)
    return {
        "ao": float(ious.mean() * 100.0),
        "sr50": float((ious > 0.5).mean() * 100.0),
        "sr75": float((ious > 0.75).mean() * 100.0),
        "success_curve": curve * 100.0,
        "speed_fps": float(np.mean(1.0 / times_all)) if times_all.size else -1.0,
    }


# ----------------------------------------------------------------------------------------------
# TrackingNet devkit


def trackingnet_sequence_curves(pred_xywh: Optional[np.ndarray], gt_xywh: np.ndarray) -> dict:
    """Per-sequence success / precision / normalised-precision curves (21,) each, devkit rules.

    ``pred_xywh=None`` stands for a missing submission file (the devkit scores it with zero boxes).
    """
    gt = np.round(_as_boxes(gt_xywh, "ground truth"))
    n = gt.shape[0]
    if pred_xywh is None:
        pred = np.zeros_like(gt)
    else:
        raw = _as_boxes(pred_xywh, "prediction")
        # The devkit aligns by row index (pandas): missing rows read as NaN, extra rows are ignored.
        pred = np.full((n, 4), np.nan)
        pred[: min(n, raw.shape[0])] = np.round(raw[:n])
    pred[0] = gt[0]
    gt_br = gt[:, :2] + gt[:, 2:] - 1.0
    pred_br = pred[:, :2] + pred[:, 2:] - 1.0
    gt_c = gt[:, :2] + (gt[:, 2:] + 1.0) / 2.0
    pred_c = pred[:, :2] + (pred[:, 2:] + 1.0) / 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        inter_wh = np.clip(np.round(np.minimum(gt_br, pred_br) - np.maximum(gt[:, :2], pred[:, :2]) + 1), 0, None)
        inter = inter_wh.prod(axis=1)
        iou = inter / (gt[:, 2:].prod(axis=1) + pred[:, 2:].prod(axis=1) - inter)
        dist = np.sqrt(((gt_c - pred_c) ** 2).sum(axis=1))
        ndist = np.sqrt((((gt_c - pred_c) / gt[:, 2:]) ** 2).sum(axis=1))
        # NaN compares False, as in the devkit's per-element comparisons.
        success = (iou[:, None] >= TRACKINGNET_SUCCESS_THRESHOLDS[None, :]).sum(axis=0) / n
        precision = (dist[:, None] <= TRACKINGNET_PRECISION_THRESHOLDS[None, :]).sum(axis=0) / n
        norm = (ndist[:, None] <= TRACKINGNET_NORM_THRESHOLDS[None, :]).sum(axis=0) / n
        covered = int((pred.sum(axis=1) > 0).sum())
    return {"success": success, "precision": precision, "norm_precision": norm, "covered": np.array([covered, n])}


def trackingnet_summary(sequence_curves: Sequence[dict]) -> dict:
    """Devkit scores (percent): trapezoid areas of the mean curves over ``x = linspace(0, 1, 21)``, and coverage."""
    if not sequence_curves:
        raise MetricsError("no sequence to summarise")
    x = np.linspace(0.0, 1.0, 21)
    success = np.mean([c["success"] for c in sequence_curves], axis=0)
    precision = np.mean([c["precision"] for c in sequence_curves], axis=0)
    norm = np.mean([c["norm_precision"] for c in sequence_curves], axis=0)
    # the devkit's "sanity check": share of all frames (pooled) whose rounded x + y + w + h > 0, frame 0 := GT;
    # NaN when a per-sequence entry predates it (an old analysis cache)
    covered = [c.get("covered") for c in sequence_curves]
    coverage = float("nan")
    if all(c is not None for c in covered):
        frames_covered, frames = np.sum(covered, axis=0)
        coverage = 100.0 * float(frames_covered) / float(frames)
    return {
        "coverage": coverage,
        "success_auc": trapezoid(success, x) * 100.0,
        "precision_auc": trapezoid(precision, x) * 100.0,
        "norm_precision_auc": trapezoid(norm, x) * 100.0,
        "success_curve": success * 100.0,
        "precision_curve": precision * 100.0,
        "norm_precision_curve": norm * 100.0,
    }


# ----------------------------------------------------------------------------------------------
# LaSOT MATLAB toolkit


def lasot_matlab_sequence_curves(
    pred_xywh: np.ndarray, gt_xywh: np.ndarray, absent: Optional[np.ndarray] = None
) -> dict:
    """Per-sequence curves of LaSOT's MATLAB toolkit: success (21,), precision (51,), norm precision (51,).

    ``absent`` (N,) flags (1 = target absent, from full_occlusion | out_of_view) remove frames from
    the numerator only; the denominator is the full length. Summarise with ``pytracking_summary``
    (the same mean-of-21 AUC and index-20 precision read-offs).
    """
    gt = _as_boxes(gt_xywh, "ground truth")
    pred = _as_boxes(pred_xywh, "prediction")
    n = gt.shape[0]
    if pred.shape[0] < n:
        raise MetricsError(f"prediction has {pred.shape[0]} frames, ground truth {n}")
    pred = pred[:n]
    pred[0] = gt[0]
    for i in range(1, n):
        if np.isnan(pred[i]).any() or (pred[i, 2:] <= 0).any():
            pred[i] = pred[i - 1]
    bad_gt = (gt <= 0).any(axis=1) | np.isnan(gt).any(axis=1)
    overlap = iou_inclusive(pred, gt)
    center = center_error(pred, gt)
    center_norm = center_error(pred, gt, normalized=True)
    overlap[bad_gt] = -1.0
    center[bad_gt] = -1.0
    center_norm[bad_gt] = -1.0
    keep = np.ones(n, dtype=bool) if absent is None else ~np.asarray(absent, dtype=bool).reshape(-1)
    success = (overlap[keep, None] > LASOT_MATLAB_SUCCESS_THRESHOLDS[None, :]).sum(axis=0) / n
    precision = (center[keep, None] <= CENTER_THRESHOLDS_PX[None, :]).sum(axis=0) / n
    norm = (center_norm[keep, None] <= NORM_CENTER_THRESHOLDS[None, :]).sum(axis=0) / n
    return {"success": success, "precision": precision, "norm_precision": norm}
