"""COCO 2017 (Lin et al., ECCV 2014) as a tracking source: each non-crowd annotation is a one-frame sequence.

Layout ``annotations/instances_train2017.json`` + ``images/train2017/<file_name>``. ``min_size`` keeps
boxes whose w and h both exceed it (the official 50 px filter; 0 keeps every box with w, h > 0).
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Optional

import numpy as np

from lib.data.datasets.base import TrackingDataset, read_required, stat_files
from lib.data.errors import DatasetError
from lib.data.image_source import ImageSource
from lib.data.index import SequenceIndex

logger = logging.getLogger(__name__)

LAYOUT = "coco/{annotations/instances_train2017.json,images/train2017/*.jpg}"


def _bbox_error(where: str, annotations: list) -> DatasetError:
    for ann in annotations:
        try:
            np.asarray(ann["bbox"], dtype=np.float64).reshape(1, 4)
        except (TypeError, ValueError):
            return DatasetError(f"{where}: annotation {ann.get('id')}: bbox {ann['bbox']!r} is not 4 numbers")
    return DatasetError(f"{where}: malformed bbox")


# a polygon list ("segmentation": [[x, y, ...], ...]) holds most of the file and is never read here
_POLYGONS = re.compile(rb'"segmentation":\s*\[\s*(?:\[[^\[\]]*\]\s*,?\s*)*\]')


def parse_instances(text: bytes, where: str, min_size: float) -> tuple[SequenceIndex, int]:
    """COCO instances JSON (bytes) -> (index of the kept annotations, number skipped as too small).

    Per annotation (sequence): its id as name, one box, one visible frame, the row of its image in the
    ``file_names`` table (only referenced images are kept there).
    """
    try:
        # dropping the polygons before parsing spares millions of Python floats (a third of the time)
        data = json.loads(_POLYGONS.sub(b'"segmentation": null', text))
        images = {im["id"]: im for im in data["images"]}
        annotations = data["annotations"]
    except (ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{where}: not a COCO instances file ({exc})") from exc
    for ann in annotations:
        if not isinstance(ann, dict) or "bbox" not in ann or "image_id" not in ann:
            raise DatasetError(f"{where}: annotation {ann!r:.80} lacks 'bbox' or 'image_id'")
    candidates = [ann for ann in annotations if not ann.get("iscrowd", 0)]
    try:
        boxes = np.array([ann["bbox"] for ann in candidates], dtype=np.float64).reshape(-1, 4)
        if len(boxes) != len(candidates):
            raise ValueError
    except (TypeError, ValueError):
        raise _bbox_error(where, candidates) from None
    big = (boxes[:, 2] > min_size) & (boxes[:, 3] > min_size)
    kept = [ann for ann, ok in zip(candidates, big.tolist()) if ok]
    rows: dict = {}
    image_rows, file_names = np.zeros(len(kept), dtype=np.int64), []
    for position, ann in enumerate(kept):
        image_id = ann["image_id"]
        if image_id not in rows:
            image = images.get(image_id)
            if image is None:
                raise DatasetError(f"{where}: annotation {ann.get('id')} names unknown image {image_id}")
            if "file_name" not in image:
                raise DatasetError(f"{where}: image {image_id} has no 'file_name'")
            rows[image_id] = len(file_names)
            file_names.append(image["file_name"].encode("utf-8"))
        image_rows[position] = rows[image_id]
    count = len(kept)
    arrays = {
        "names": np.array([str(ann.get("id", i)).encode("utf-8") for i, ann in enumerate(kept)]).astype("S")
        if count else np.zeros(0, dtype="S1"),
        "lengths": np.ones(count, dtype=np.int64),
        "visible_counts": np.ones(count, dtype=np.int64),
        "boxes": boxes[big],
        "visible": np.ones(count, dtype=bool),
        "image": image_rows,
        "file_names": np.array(file_names, dtype="S") if file_names else np.zeros(0, dtype="S1"),
    }
    return SequenceIndex(arrays, {"tables": ["file_names"], "dropped": 0, "total": count}), int((~big).sum())


class Coco(TrackingDataset):
    """COCO reader (``is_video = False``: the sampler repeats the image for every frame of a sample).

    The frame of annotation ``i`` is ``images/<split><version>/<file_names[image[i]]>``.
    """

    is_video = False

    def __init__(
        self,
        source: ImageSource,
        split: str = "train",
        version: str = "2017",
        min_size: float = 50.0,
        cache_frames: bool = False,
        name: Optional[str] = None,
        index_cache: Optional[Path] = None,
    ):
        super().__init__(source, cache_frames=cache_frames, index_cache=index_cache)
        self.name = name or f"COCO{version[-2:]}"
        self.images_folder = f"images/{split}{version}"
        key = f"annotations/instances_{split}{version}.json"
        stats = stat_files(source, [key])
        if stats[0][1] is None:
            read_required(source, key, LAYOUT)  # raises the missing-file error with the layout

        def build() -> list[SequenceIndex]:
            try:
                text = source.read_bytes(key)
            except OSError as exc:
                raise DatasetError(f"{source.describe(key)}: cannot read annotation file ({exc})") from None
            index, too_small = parse_instances(text, source.describe(key), min_size)
            index.meta["too_small"] = too_small
            return [index]

        self._load_index(stats, build, split=split, version=version, min_size=min_size)
        if self.index.meta.get("too_small"):
            logger.info("%s: skipped %d annotations with w or h <= %g px", self.name, self.index.meta["too_small"], min_size)

    def frame_key(self, seq_index: int, frame: int) -> str:
        image = int(self.index.arrays["image"][seq_index])
        return f"{self.images_folder}/{self.index.arrays['file_names'][image].decode('utf-8')}"
