"""LaSOT (Fan et al., CVPR 2019): ``<class>/<class>-<id>/{img/%08d.jpg, groundtruth.txt, full_occlusion.txt, out_of_view.txt}``.

Visibility (official): not fully occluded, not out of view, w, h > 0 (the flag files are one
comma-separated line). Splits: ``train`` (1120 names) and ``test`` (280 names) from the shipped lists,
``all`` = every sequence folder present.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import numpy as np

from lib.data.datasets.base import (
    TrackingDataset,
    parse_boxes,
    parse_flags,
    read_annotation,
    read_optional,
    stat_files,
    valid_boxes,
)
from lib.data.datasets.got10k import read_split_file
from lib.data.errors import DatasetError
from lib.data.image_source import ImageSource
from lib.data.index import ParsedSequence
from lib.data.index_build import parse_sequences
from lib.data.sequence import TestSequence

logger = logging.getLogger(__name__)

LAYOUT = "lasot/<class>/<class>-<id>/{img/00000001.jpg,groundtruth.txt,full_occlusion.txt,out_of_view.txt}"
SPLIT_FILES = {"train": "lasot_train_split.txt", "test": "lasot_test_split.txt"}


FILES = ("groundtruth.txt", "full_occlusion.txt", "out_of_view.txt")


def _folder(name: str) -> str:
    return f"{name.rsplit('-', 1)[0]}/{name}"


def _parse_sequence(source: ImageSource, item: tuple) -> ParsedSequence:
    """``item = (name,)``: boxes and the two flag files (official visibility)."""
    folder = _folder(item[0])
    gt_key = f"{folder}/groundtruth.txt"
    boxes = parse_boxes(read_annotation(source, gt_key), source.describe(gt_key))
    flag_visible = np.ones(len(boxes), dtype=bool)
    for flag_file in FILES[1:]:
        text = read_optional(source, f"{folder}/{flag_file}")
        if text is not None:
            flag_visible &= parse_flags(text, source.describe(f"{folder}/{flag_file}"), len(boxes)) == 0
    return ParsedSequence(boxes, valid_boxes(boxes) & flag_visible, flag_visible)


class Lasot(TrackingDataset):
    """LaSOT reader; ``split`` is ``train`` | ``test`` | ``all``; frame ``i`` is ``<class>/<name>/img/%08d.jpg`` from 1."""

    is_video = True

    def __init__(
        self,
        source: ImageSource,
        split: str = "train",
        cache_frames: bool = False,
        name: Optional[str] = None,
        index_cache: Optional[Path] = None,
    ):
        super().__init__(source, cache_frames=cache_frames, index_cache=index_cache)
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
        stats = stat_files(source, [f"{_folder(n)}/{f}" for n in names for f in FILES])
        missing = [n for n, (_, stat) in zip(names, stats[:: len(FILES)]) if stat is None]
        if missing:
            raise self._missing_error(
                f"split file {SPLIT_FILES.get(split, '(folder listing)')}",
                missing,
                len(names),
                "for a partial or generated set use the dataset name LASOT_all",
            )
        items = [(n,) for n in names]
        self._load_index(stats, lambda: parse_sequences(_parse_sequence, source, items, self.name), split=split)

    def frame_key(self, seq_index: int, frame: int) -> str:
        return f"{_folder(self.index.name(seq_index))}/img/{frame + 1:08d}.jpg"

    def test_sequences(self) -> list[TestSequence]:
        return [
            TestSequence(s.name, "lasot", list(s.frames), s.boxes.copy(), self.source, s.flag_visible.copy())
            for s in self.sequences
        ]
