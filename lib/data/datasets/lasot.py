"""LaSOT (Fan et al., CVPR 2019): ``<class>/<class>-<id>/{img/%08d.jpg, groundtruth.txt, full_occlusion.txt, out_of_view.txt}``.

Visibility (official): not fully occluded, not out of view, w, h > 0 (the flag files are one
comma-separated line). Splits: ``train`` (1120 names) and ``test`` (280 names) from the shipped lists,
``all`` = every sequence folder present.
"""

from __future__ import annotations

import logging
from typing import Optional

import numpy as np

from lib.data.datasets.base import (
    SequenceData,
    TrackingDataset,
    parse_boxes,
    parse_flags,
    read_optional,
    valid_boxes,
)
from lib.data.datasets.got10k import read_split_file
from lib.data.errors import DatasetError
from lib.data.image_source import ImageSource
from lib.data.sequence import TestSequence

logger = logging.getLogger(__name__)

LAYOUT = "lasot/<class>/<class>-<id>/{img/00000001.jpg,groundtruth.txt,full_occlusion.txt,out_of_view.txt}"
SPLIT_FILES = {"train": "lasot_train_split.txt", "test": "lasot_test_split.txt"}


class Lasot(TrackingDataset):
    """LaSOT reader; ``split`` is ``train`` | ``test`` | ``all``."""

    is_video = True

    def __init__(
        self, source: ImageSource, split: str = "train", cache_frames: bool = False, name: Optional[str] = None
    ):
        super().__init__(source, cache_frames=cache_frames)
        self.name = name or ("LASOT" if split == "train" else f"LASOT_{split}")
        self.split = split
        if split == "all":
            names = [
                seq
                for cls in source.list("")
                if source.exists(f"{cls}") and not cls.startswith(".")
                for seq in source.list(cls)
                if seq.rsplit("-", 1)[0] == cls
            ]
            if not names:
                raise DatasetError(f"{source.root}: no LaSOT sequence folders found; expected layout: {LAYOUT}")
        elif split in SPLIT_FILES:
            names = read_split_file(SPLIT_FILES[split])
        else:
            raise DatasetError(f"LaSOT split '{split}' unknown; valid: train, test, all")
        missing = [n for n in names if not source.exists(f"{self._folder(n)}/groundtruth.txt")]
        if missing:
            raise self._missing_error(
                f"split file {SPLIT_FILES.get(split, '(folder listing)')}",
                missing,
                len(names),
                "for a partial or generated set use the dataset name LASOT_all",
            )
        self._set_sequences([self._read(n) for n in names])

    @staticmethod
    def _folder(name: str) -> str:
        return f"{name.rsplit('-', 1)[0]}/{name}"

    def _read(self, name: str) -> SequenceData:
        folder = self._folder(name)
        gt_key = f"{folder}/groundtruth.txt"
        boxes = parse_boxes(self.source.read_text(gt_key), self.source.describe(gt_key))
        flag_visible = np.ones(len(boxes), dtype=bool)
        for flag_file in ("full_occlusion.txt", "out_of_view.txt"):
            text = read_optional(self.source, f"{folder}/{flag_file}")
            if text is not None:
                flag_visible &= parse_flags(text, self.source.describe(f"{folder}/{flag_file}"), len(boxes)) == 0
        frames = [f"{folder}/img/{i:08d}.jpg" for i in range(1, len(boxes) + 1)]
        return SequenceData(name, frames, boxes, valid_boxes(boxes) & flag_visible, flag_visible)

    def test_sequences(self) -> list[TestSequence]:
        return [
            TestSequence(s.name, "lasot", list(s.frames), s.boxes.copy(), self.source, s.flag_visible.copy())
            for s in self.sequences
        ]
