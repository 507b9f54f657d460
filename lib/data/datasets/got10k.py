"""GOT-10k (Huang et al., TPAMI 2019): ``{train,val,test}/list.txt`` and one folder per sequence.

Train/val sequences hold ``groundtruth.txt`` (``x,y,w,h``), ``absence.label`` (1 = absent),
``cover.label`` (0-8, visible share in eighths), ``cut_by_image.label`` and ``meta_info.ini``; test
sequences only the first ground-truth line. Visibility (official): not absent, cover > 0, w, h > 0.
The training splits (``vottrain``, ``votval``, ``train_full``, ``train``, ``val``) are the shipped
0-based index lists into ``train/list.txt``; ``all`` takes every listed sequence.
"""

from __future__ import annotations

import re

import logging
from importlib import resources
from typing import Optional

import numpy as np

from lib.data.datasets.base import (
    pad_known_boxes,
    SequenceData,
    TrackingDataset,
    parse_boxes,
    parse_flags,
    read_optional,
    read_required,
    valid_boxes,
)
from lib.data.errors import DatasetError
from lib.data.image_source import ImageSource
from lib.data.sequence import TestSequence

logger = logging.getLogger(__name__)

LAYOUT = "got10k/{train,val,test}/list.txt and got10k/train/GOT-10k_Train_000001/{00000001.jpg,groundtruth.txt,absence.label,cover.label}"
SPLIT_FILES = {
    "vottrain": "got10k_vot_train_split.txt",
    "votval": "got10k_vot_val_split.txt",
    "train_full": "got10k_train_full_split.txt",
    "train": "got10k_train_split.txt",
    "val": "got10k_val_split.txt",
}


def read_split_file(file_name: str) -> list[str]:
    """Lines of a shipped split list in ``lib/data_specs``; one-line error if it is missing."""
    try:
        text = resources.files("lib").joinpath("data_specs", file_name).read_text()
    except FileNotFoundError as exc:
        raise DatasetError(f"split file lib/data_specs/{file_name} not found (package data missing?)") from exc
    return [line.strip() for line in text.splitlines() if line.strip()]


class Got10k(TrackingDataset):
    """GOT-10k reader.

    Args:
        source: folder or lmdb source rooted at the GOT-10k root.
        split: folder ``train`` | ``val`` | ``test``.
        subset: for ``split="train"``: ``vottrain`` | ``votval`` | ``train_full`` | ``train`` | ``val`` (shipped
            index lists) or ``all`` (every sequence of ``train/list.txt``).
    """

    is_video = True

    def __init__(
        self,
        source: ImageSource,
        split: str = "train",
        subset: str = "all",
        cache_frames: bool = False,
        name: Optional[str] = None,
    ):
        super().__init__(source, cache_frames=cache_frames)
        if split not in ("train", "val", "test"):
            raise DatasetError(f"GOT-10k split '{split}' unknown; valid: train, val, test")
        self.name = name or f"GOT10K_{split}" + (f"_{subset}" if split == "train" else "")
        self.split = split
        listed = [n.strip() for n in read_required(source, f"{split}/list.txt", LAYOUT).splitlines() if n.strip()]
        names = self._select(listed, subset) if split == "train" else listed
        missing = [n for n in names if not source.exists(f"{split}/{n}/groundtruth.txt")]
        if missing:
            raise self._missing_error(
                f"{split}/list.txt", missing, len(names), f"expected {split}/<name>/groundtruth.txt; layout: {LAYOUT}"
            )
        if split == "test":
            self.sequences = [self._read_test(n) for n in names]
        else:
            self._set_sequences([self._read(n) for n in names])

    def _select(self, listed: list[str], subset: str) -> list[str]:
        if subset == "all":
            return listed
        if subset not in SPLIT_FILES:
            raise DatasetError(f"GOT-10k subset '{subset}' unknown; valid: all, {', '.join(SPLIT_FILES)}")
        indices = [int(v) for v in read_split_file(SPLIT_FILES[subset])]
        missing = [f"#{i}" for i in indices if i >= len(listed)]
        if missing:
            raise self._missing_error(
                f"split file {SPLIT_FILES[subset]} (0-based indices into train/list.txt, which lists {len(listed)})",
                missing,
                len(indices),
                "for a partial or generated set use the dataset name GOT10K_all",
            )
        return [listed[i] for i in indices]

    def _read(self, name: str) -> SequenceData:
        folder = f"{self.split}/{name}"
        boxes = parse_boxes(
            self.source.read_text(f"{folder}/groundtruth.txt"), self.source.describe(f"{folder}/groundtruth.txt")
        )
        n = len(boxes)
        flag_visible = np.ones(n, dtype=bool)
        absence = read_optional(self.source, f"{folder}/absence.label")
        if absence is not None:
            flag_visible &= parse_flags(absence, self.source.describe(f"{folder}/absence.label"), n) == 0
        cover_text = read_optional(self.source, f"{folder}/cover.label")
        cover = None
        if cover_text is not None:
            cover = parse_flags(cover_text, self.source.describe(f"{folder}/cover.label"), n)
            flag_visible &= cover > 0
        frames = [f"{folder}/{i:08d}.jpg" for i in range(1, n + 1)]
        return SequenceData(name, frames, boxes, valid_boxes(boxes) & flag_visible, flag_visible, cover)

    def _resolution(self, name: str) -> Optional[tuple[int, int]]:
        """``(W, H)`` from ``meta_info.ini`` (GOT-10k toolkit clips boxes to it); None if absent."""
        text = read_optional(self.source, f"{self.split}/{name}/meta_info.ini")
        match = re.search(r"resolution\s*:\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)", text or "")
        return (int(match.group(1)), int(match.group(2))) if match else None

    def _read_test(self, name: str) -> SequenceData:
        folder = f"{self.split}/{name}"
        first = parse_boxes(
            self.source.read_text(f"{folder}/groundtruth.txt"), self.source.describe(f"{folder}/groundtruth.txt")
        )
        frames = [f"{folder}/{f}" for f in self.source.list(folder) if f.endswith(".jpg")]
        boxes = pad_known_boxes(first, len(frames))
        return SequenceData(name, frames, boxes, valid_boxes(boxes))

    def test_sequences(self) -> list[TestSequence]:
        """GOT-10k val/test sequences (test: NaN ground truth after frame 0; no visibility)."""
        dataset = "got10k_test" if self.split == "test" else f"got10k_{self.split}"
        out = []
        for s in self.sequences:
            visible = None if s.flag_visible is None else s.flag_visible.copy()
            out.append(
                TestSequence(
                    s.name, dataset, list(s.frames), s.boxes.copy(), self.source, visible, s.cover, self._resolution(s.name)
                )
            )
        return out
