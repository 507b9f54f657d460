"""Turn the frames of one sample into network inputs (the official STARK processing).

1. joint transforms with one draw for all frames: grayscale (p = ``grayscale_prob``), horizontal flip (p 0.5);
2. per frame, jitter the GT box (template: none; search: scale 0.5, centre 4.5 by default);
3. crop around the jittered box as :func:`lib.utils.crop.sample_target` does, through its steps
   (``plan_crop``, ``crop_pixels``, ``crop_mask``; factor 2 / 5, size 128 / 320); GT in the crop via
   :func:`lib.utils.crop.map_box`, normalised by the crop size;
4. training only, per crop: brightness ``U(1 - b, 1 + b)`` (x/255, clamp [0, 1]), horizontal flip of the
   crop (p 0.5, ``x -> 1 - x - w``), then normalisation; validation: normalisation only. Samples carry
   the uint8 crops and each crop's 256-entry table of those values; :func:`normalize_images` applies
   them where the batch is used (on the GPU in training);
5. the sample is invalid (``None``) if a crop size is < 1 px or a mask is all padding, at full size or
   nearest-downsampled to the feature grid (``size // 16``).
"""

from __future__ import annotations

import bisect
import functools
import math
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch

from lib.data.transforms import flip_x, jitter_xywh, to_grayscale
from lib.utils.crop import CropError, crop_mask, crop_pixels, map_box, padding_reach, plan_crop


@dataclass(frozen=True)
class CropSpec:
    """How one kind of frame (template or search) is cropped."""

    size: int
    factor: float
    center_jitter: float
    scale_jitter: float


@functools.lru_cache(maxsize=64)
def _nearest_index(size: int, stride: int) -> tuple[int, ...]:
    """Source indices of a nearest downsampling to ``size // stride`` (``floor(i * in / out)``, as torch),
    ascending (a tuple, for bisect)."""
    out = max(1, size // stride)
    return tuple(np.floor(np.arange(out) * (size / out)).astype(np.int64).tolist())


def _all_padding(rows: tuple[int, int], columns: tuple[int, int], size: int, stride: int) -> bool:
    """True when the mask of a crop whose padding leaves the runs ``rows`` x ``columns`` (see
    :func:`lib.utils.crop.padding_reach`) unfed, nearest-downsampled to the feature grid, is all padding
    (so is a mask that is all padding at full size): when no sampled row, or no sampled column, lies in
    its run, and only then."""
    index = _nearest_index(size, stride)
    sampled_rows = bisect.bisect_left(index, rows[1]) - bisect.bisect_left(index, rows[0])
    sampled_columns = bisect.bisect_left(index, columns[1]) - bisect.bisect_left(index, columns[0])
    return not sampled_rows or not sampled_columns


class StarkProcessing:
    """Callable turning (template frames, template boxes, search frames, search boxes) into tensors."""

    def __init__(
        self,
        template: CropSpec,
        search: CropSpec,
        mean: Sequence[float],
        std: Sequence[float],
        grayscale_prob: float = 0.05,
        brightness_jitter: float = 0.2,
        training: bool = True,
        feature_stride: int = 16,
        official_flip: bool = False,
    ):
        self.template, self.search = template, search
        self.mean = np.asarray(mean, dtype=np.float32)
        self.std = np.asarray(std, dtype=np.float32)
        self.grayscale_prob = grayscale_prob
        self.brightness_jitter = brightness_jitter
        self.training = training
        self.feature_stride = feature_stride
        self.official_flip = official_flip  # the joint flip maps x -> W - 1 - x - w (official parity)
        self._levels = np.arange(256, dtype=np.float64)[:, None] / 255.0
        self._eval_table = ((self._levels - self.mean) / self.std).T.astype(np.float32)  # no brightness draw

    def _tables(self, factors: list[float], count: int) -> np.ndarray:
        """(count, 3, 256) float32: per crop, brightness (training: ``factors``, one per crop), clamp and
        normalisation as one 256-entry table per channel, which :func:`normalize_images` applies (on the
        training device) with the same values as computing them per pixel."""
        if not self.training:
            return np.broadcast_to(self._eval_table, (count, 3, 256)).copy()
        # minimum/maximum: np.clip's values for finite input, without its Python-level checks
        values = np.minimum(np.maximum(self._levels * np.asarray(factors)[:, None, None], 0.0), 1.0)
        tables = np.empty((len(factors), 3, 256), dtype=np.float32)
        # float64 arithmetic rounded once into the float32 tables, as astype(np.float32) would
        np.divide(values - self.mean, self.std, out=tables.transpose(0, 2, 1), casting="same_kind")
        return tables

    def _crops(self, frames, boxes, spec: CropSpec, rng: np.random.Generator, mirrored: bool, pixel_map, factors):
        """(pixels (N,S,S,3) uint8, masks (N,S,S) bool, boxes (N,4) float32), or None if a crop is unusable;
        appends each crop's brightness factor to ``factors`` (training).

        Per crop: jitter, the crop's geometry and mask (an unusable crop is rejected before any pixel
        work), the per-crop draws (brightness, flip), then the pixels, resized straight into the sample's
        array. The crop flip acts on the uint8 patch (folded into the mirrored crop's own flip), which
        equals flipping the normalised crop since the table is per pixel.
        """
        size = spec.size
        pixels = np.empty((len(frames), size, size, 3), dtype=np.uint8)
        masks = np.empty((len(frames), size, size), dtype=bool)
        out_boxes = np.empty((len(frames), 4), dtype=np.float32)  # each float64 box rounded once on assignment
        for i, (frame, box) in enumerate(zip(frames, boxes)):
            jittered = jitter_xywh(*box, spec.scale_jitter, spec.center_jitter, rng)
            try:
                plan = plan_crop(frame.shape, jittered, spec.factor, size, mirrored)
            except CropError:
                return None
            if plan.padded and _all_padding(*padding_reach(plan), size, self.feature_stride):
                return None
            x, y, w, h = map_box(box, jittered, plan.resize_factor, size, normalize=True)
            flip = False
            if self.training:
                factors.append(rng.uniform(max(0.0, 1.0 - self.brightness_jitter), 1.0 + self.brightness_jitter))
                flip = rng.random() < 0.5
            out_boxes[i] = (flip_x(x, w, 1.0) if flip else x, y, w, h)
            crop_pixels(frame, plan, pixel_map, out=pixels[i], flip=flip)
            if plan.padded:
                crop_mask(plan, flip, out=masks[i])
            else:
                masks[i] = False
        return pixels, masks, out_boxes

    def __call__(
        self,
        template_frames: list[np.ndarray],
        template_boxes: list[np.ndarray],
        search_frames: list[np.ndarray],
        search_boxes: list[np.ndarray],
        rng: np.random.Generator,
    ) -> Optional[dict[str, torch.Tensor]]:
        """Frames (H, W, 3) uint8 RGB and boxes (4,) ``x,y,w,h`` -> batch-element dict, or None if invalid.

        Returns ``template_pixels`` (T,Ht,Wt,3) uint8 and ``template_lut`` (T,3,256) float32 (which
        :func:`normalize_images` turns into ``template_images`` (T,3,Ht,Wt)), ``template_masks`` (T,Ht,Wt) bool,
        ``template_boxes`` (T,4), ``search_pixels`` (Hs,Ws,3) + ``search_lut`` (3,256), ``search_masks``
        (Hs,Ws) bool, ``search_boxes`` (4,) normalised ``x,y,w,h``.
        """
        frames = list(template_frames) + list(search_frames)
        # per crop, floats: cheaper to compute with than (4,) arrays
        boxes = np.array(list(template_boxes) + list(search_boxes), dtype=np.float64)[:, :4].tolist()
        if not all(math.isfinite(v) for box in boxes for v in box):
            return None
        # joint transforms: one draw for the whole sample; grayscale converts only the pixels the crops read
        pixel_map = to_grayscale if rng.random() < self.grayscale_prob else None
        # the joint flip mirrors boxes here and frames inside the crop (only the cropped part is flipped)
        mirrored = rng.random() < 0.5
        if mirrored:
            for box, frame in zip(boxes, frames):
                box[0] = flip_x(box[0], box[2], frame.shape[1], self.official_flip)
        n_t = len(template_frames)
        factors: list[float] = []
        templates = self._crops(frames[:n_t], boxes[:n_t], self.template, rng, mirrored, pixel_map, factors)
        if templates is None:
            return None
        searches = self._crops(frames[n_t:], boxes[n_t:], self.search, rng, mirrored, pixel_map, factors)
        if searches is None:
            return None
        tables = self._tables(factors, len(frames))
        # arrays filled in place, then zero-copy tensors: torch's threaded copies are slow inside busy workers
        return {
            "template_pixels": torch.from_numpy(templates[0]),
            "template_lut": torch.from_numpy(tables[:n_t]),
            "template_masks": torch.from_numpy(templates[1]),
            "template_boxes": torch.from_numpy(templates[2]),
            "search_pixels": torch.from_numpy(searches[0][0]),
            "search_lut": torch.from_numpy(tables[n_t]),
            "search_masks": torch.from_numpy(searches[1][0]),
            "search_boxes": torch.from_numpy(searches[2][0]),
        }


def normalize_images(batch: dict) -> dict:
    """A sample or batch with ``{template,search}_images`` (..., 3, H, W) float32 in place of the uint8 crops.

    Every consumer of processed samples (trainer, validation, score-head accuracy, the sample grid) calls
    this, on the device the batch is on: each pixel of ``*_pixels`` (..., H, W, 3) becomes its crop's
    ``*_lut`` (..., 3, 256) entry, exactly the float32 values the per-pixel arithmetic gives, while the
    workers hand over a quarter of the bytes. A batch already holding float images (no ``*_pixels``)
    is returned as it is.
    """
    if "search_pixels" not in batch:
        return batch
    out = {k: v for k, v in batch.items() if not k.endswith(("_pixels", "_lut"))}
    for prefix in ("template", "search"):
        pixels, lut = batch[f"{prefix}_pixels"], batch[f"{prefix}_lut"]
        lead, (height, width) = pixels.shape[:-3], pixels.shape[-3:-1]
        index = pixels.movedim(-1, -3).reshape(*lead, 3, height * width).long()
        out[f"{prefix}_images"] = torch.gather(lut, -1, index).view(*lead, 3, height, width)
    return out
