"""Validate configured dataset roots and draw sampled crops (``tracking/check_datasets.py``).

For each dataset: the layout and split lists load (the reader raises one-line errors otherwise),
a spread of sequences has readable first/last frames and as many frame files as annotation lines,
boxes lie inside the first frame. Then a grid of processed template/search crops with their boxes
drawn shows what the network will see.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence, Union

import cv2
import numpy as np
import torch

from lib.config.loader import ConfigError
from lib.config.local import LocalSettings
from lib.config.schema import Config
from lib.data.datasets.base import TrackingDataset
from lib.data.errors import DatasetError, FrameReadError
from lib.data.loader import crop_spec
from lib.data.processing import StarkProcessing, normalize_images
from lib.data.registry import build_dataset, canonical_name
from lib.data.sampler import SamplerOptions, TrackingSampleDataset
from lib.utils.io import atomic_write_bytes

logger = logging.getLogger(__name__)

# what is checked by default for each configured root
DEFAULT_NAMES = {
    "got10k": ["GOT10K_vottrain", "GOT10K_votval"],
    "lasot": ["LASOT"],
    "trackingnet": ["TRACKINGNET"],
    "coco": ["COCO17"],
}


@dataclass
class CheckReport:
    name: str
    ok: bool
    message: str = ""
    sequences: int = 0
    frames: int = 0
    problems: list[str] = field(default_factory=list)
    nan_boxes: int = 0  # annotation rows with a NaN value
    empty_boxes: int = 0  # finite rows with w <= 0 or h <= 0 (never sampled; negative sizes are also problems)
    index: str = ""  # where the annotation index came from (index cache state)

    def line(self) -> str:
        if not self.ok:
            return f"{self.name}: FAILED {self.message}"
        status = "OK" if not self.problems else f"{len(self.problems)} PROBLEMS"
        return (
            f"{self.name}: {status}, {self.sequences} sequences, {self.frames} frames, "
            f"{self.nan_boxes} NaN boxes, {self.empty_boxes} boxes with w or h <= 0; index {self.index}"
        )


def count_bad_boxes(ds: TrackingDataset, report: CheckReport) -> None:
    """Count NaN and non-positive boxes over every sequence; a negative width or height is a problem."""
    for s in range(len(ds)):
        boxes = ds.sequence(s).boxes
        nan = np.isnan(boxes).any(axis=1)
        sizes = boxes[~nan, 2:]
        report.nan_boxes += int(nan.sum())
        report.empty_boxes += int((sizes <= 0).any(axis=1).sum())
        negative = np.flatnonzero(~nan)[(sizes < 0).any(axis=1)]
        if negative.size:
            report.problems.append(
                f"{ds.frame_path(s, int(negative[0]))}: box {boxes[negative[0]].tolist()} has a negative size "
                f"({negative.size} such frames in {ds.sequence(s).name})"
            )


def default_dataset_names(settings: LocalSettings, use_lmdb: bool = False) -> list[str]:
    """Official names of every dataset whose root exists."""
    names = []
    for key, dataset_names in DEFAULT_NAMES.items():
        root = getattr(settings, f"{key}_lmdb_dir" if use_lmdb else f"{key}_dir")
        if Path(root).exists():
            names += dataset_names
    return names


def check_dataset(
    name: str, settings: LocalSettings, use_lmdb: bool = False, max_sequences: int = 20, coco_min_size: float = 50.0
) -> tuple[CheckReport, Optional[TrackingDataset]]:
    """Load ``name`` and spot-check frames; never raises for data problems (they go in the report)."""
    try:
        name = canonical_name(name)
        ds = build_dataset(name, settings, use_lmdb=use_lmdb, coco_min_size=coco_min_size)
    except (ConfigError, DatasetError) as exc:
        return CheckReport(name, False, str(exc)), None
    report = CheckReport(ds.name, True, sequences=len(ds), frames=ds.num_frames, index=ds.index_origin)
    count_bad_boxes(ds, report)
    picks = sorted(set(np.linspace(0, len(ds) - 1, min(max_sequences, len(ds))).astype(int).tolist()))
    for s in picks:
        seq = ds.sequence(s)
        try:
            first = ds.read_frame(s, 0)
            ds.read_frame(s, len(seq) - 1)
        except FrameReadError as exc:
            report.problems.append(str(exc))
            continue
        if ds.is_video:
            folder, _, ext = seq.frames[0].rpartition("/")
            ext = ext.rsplit(".", 1)[-1]
            on_disk = sum(1 for f in ds.source.list(folder) if f.endswith("." + ext))
            if on_disk != len(seq):
                report.problems.append(
                    f"{ds.source.describe(folder)}: {len(seq)} annotated frames but {on_disk} .{ext} files"
                )
        h, w = first.shape[:2]
        x, y, bw, bh = seq.boxes[0]
        if np.isfinite(x) and (x >= w or y >= h or x + bw <= 0 or y + bh <= 0):
            report.problems.append(
                f"{ds.frame_path(s, 0)}: first box {seq.boxes[0].tolist()} lies outside the {w}x{h} frame"
            )
    return report, ds


def _denormalise(image: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """(3, S, S) normalised -> (S, S, 3) uint8 RGB."""
    out = image * torch.tensor(std).view(3, 1, 1) + torch.tensor(mean).view(3, 1, 1)
    return (out.clamp(0, 1) * 255).byte().permute(1, 2, 0).numpy().copy()


def _draw(image: np.ndarray, box_norm: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    size = image.shape[0]
    image[mask.numpy()] = (image[mask.numpy()] * 0.5 + np.array([0, 0, 90])).astype(np.uint8)  # padding tinted blue
    x, y, w, h = (box_norm.numpy() * size).tolist()
    cv2.rectangle(image, (int(round(x)), int(round(y))), (int(round(x + w)), int(round(y + h))), (0, 255, 0), 1)
    return image


def sample_grid(datasets: list[TrackingDataset], cfg: Config, samples: int = 8, seed: int = 0) -> np.ndarray:
    """(rows * Hs, (T + 1) * Hs, 3) uint8 RGB: per row the template crops then the search crop, boxes in green."""
    data = cfg.data
    processing = StarkProcessing(
        crop_spec(data.template),
        crop_spec(data.search),
        data.mean,
        data.std,
        data.grayscale_prob,
        data.brightness_jitter,
    )
    options = SamplerOptions(
        mode=data.sampler_mode,
        num_templates=data.template.number,
        max_intervals=list(data.max_sample_interval),
        max_redraws=data.max_redraws,
        min_length=1,
    )
    sampler = TrackingSampleDataset(datasets, [1.0] * len(datasets), samples, processing, options, seed=seed)
    size = data.search.size
    rows = []
    for index in range(samples):
        sample = normalize_images(sampler[(0, index)])
        tiles = []
        for t in range(sample["template_images"].shape[0]):
            tile = _draw(_denormalise(sample["template_images"][t], data.mean, data.std),
                         sample["template_boxes"][t], sample["template_masks"][t])  # fmt: skip
            canvas = np.zeros((size, size, 3), dtype=np.uint8)
            canvas[: tile.shape[0], : tile.shape[1]] = tile
            tiles.append(canvas)
        search = _draw(
            _denormalise(sample["search_images"], data.mean, data.std), sample["search_boxes"], sample["search_masks"]
        )
        tiles.append(search)
        rows.append(np.concatenate(tiles, axis=1))
    return np.concatenate(rows, axis=0)


def write_png(path: Union[str, Path], image_rgb: np.ndarray) -> None:
    ok, data = cv2.imencode(".png", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise OSError(f"{path}: PNG encoding failed")
    atomic_write_bytes(Path(path), data.tobytes())
