"""COCO 2017 (Lin et al., ECCV 2014) as a tracking source: each non-crowd annotation is a one-frame sequence.

Layout ``annotations/instances_train2017.json`` + ``images/train2017/<file_name>``. ``min_size`` keeps
boxes whose w and h both exceed it (the official 50 px filter; 0 keeps every box with w, h > 0).
"""

from __future__ import annotations

import json
import logging
from typing import Optional

import numpy as np

from lib.data.datasets.base import SequenceData, TrackingDataset, read_required
from lib.data.errors import DatasetError
from lib.data.image_source import ImageSource

logger = logging.getLogger(__name__)

LAYOUT = "coco/{annotations/instances_train2017.json,images/train2017/*.jpg}"


class Coco(TrackingDataset):
    """COCO reader (``is_video = False``: the sampler repeats the image for every frame of a sample)."""

    is_video = False

    def __init__(
        self,
        source: ImageSource,
        split: str = "train",
        version: str = "2017",
        min_size: float = 50.0,
        cache_frames: bool = False,
        name: Optional[str] = None,
    ):
        super().__init__(source, cache_frames=cache_frames)
        self.name = name or f"COCO{version[-2:]}"
        key = f"annotations/instances_{split}{version}.json"
        text = read_required(source, key, LAYOUT)
        try:
            data = json.loads(text)
            images = {im["id"]: im for im in data["images"]}
            annotations = data["annotations"]
        except (ValueError, KeyError, TypeError) as exc:
            raise DatasetError(f"{source.describe(key)}: not a COCO instances file ({exc})") from exc
        sequences, too_small = [], 0
        for ann in annotations:
            if not isinstance(ann, dict) or not {"bbox", "image_id"} <= ann.keys():
                raise DatasetError(f"{source.describe(key)}: annotation {ann!r:.80} lacks 'bbox' or 'image_id'")
            if ann.get("iscrowd", 0):
                continue
            try:
                box = np.asarray(ann["bbox"], dtype=np.float64).reshape(1, 4)
            except (TypeError, ValueError):
                raise DatasetError(f"{source.describe(key)}: annotation {ann.get('id')}: bbox {ann['bbox']!r} is not 4 numbers") from None
            if not (box[0, 2] > min_size and box[0, 3] > min_size):
                too_small += 1
                continue
            image = images.get(ann["image_id"])
            if image is None:
                raise DatasetError(
                    f"{source.describe(key)}: annotation {ann.get('id')} names unknown image {ann['image_id']}"
                )
            if "file_name" not in image:
                raise DatasetError(f"{source.describe(key)}: image {ann['image_id']} has no 'file_name'")
            frame = f"images/{split}{version}/{image['file_name']}"
            sequences.append(SequenceData(str(ann.get("id", len(sequences))), [frame], box, np.ones(1, dtype=bool)))
        if too_small:
            logger.info("%s: skipped %d annotations with w or h <= %g px", self.name, too_small, min_size)
        self._set_sequences(sequences)
