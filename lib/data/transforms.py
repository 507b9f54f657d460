"""Augmentations of the training pipeline (fresh implementations of the official ones).

Joint transforms act on every frame of a sample with one random draw (grayscale, horizontal flip);
per-crop transforms act on one crop with its own draw (brightness, flip of the normalised crop).
All randomness comes from the caller's ``numpy.random.Generator``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np


def to_grayscale(image: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 RGB -> the same shape with the luma copied into the three channels."""
    gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)


def flip_x(x, w, width, official: bool = False):
    """``x`` of the box ``x, w`` mirrored in an image of ``width`` pixels: ``W - x - w`` (pixel-edge coordinates).

    Floats or arrays. The official transform maps ``x -> W - 1 - x - w``, a one-pixel shift against the
    mirrored image; this uses the exact mirror (documented deviation) unless ``official``
    (``train.official_parity``). A normalised crop box mirrors with ``width`` 1: ``x -> 1 - x - w``.
    """
    return width - float(official) - x - w


def jitter_xywh(
    x: float, y: float, w: float, h: float, scale_jitter: float, center_jitter: float, rng: np.random.Generator
) -> tuple[float, float, float, float]:
    """Official jitter of the box ``x, y, w, h``: size ``wh * exp(N(0,1) * scale_jitter)`` (per axis), centre
    moved by up to ``sqrt(w' h') * center_jitter / 2`` per axis, uniformly. Returns ``x, y, w, h``."""
    # per-axis float arithmetic (the pipeline calls this per crop): the same operations in the same order as
    # on (2,) arrays, with less overhead
    normals = rng.standard_normal(2)  # drawn even without jitter: the draws that follow stay the same
    # exp(+-0.0) is exactly 1: the template's unjittered box skips the array arithmetic
    scale_w, scale_h = np.exp(normals * scale_jitter).tolist() if scale_jitter else (1.0, 1.0)
    w, h, x_centre, y_centre = w * scale_w, h * scale_h, x + 0.5 * w, y + 0.5 * h
    max_offset = math.sqrt(w * h) * center_jitter
    shift_x, shift_y = rng.random(2).tolist()
    x_centre += max_offset * (shift_x - 0.5)
    y_centre += max_offset * (shift_y - 0.5)
    return x_centre - 0.5 * w, y_centre - 0.5 * h, w, h
