"""GOT-10k (Huang et al., TPAMI 2019): ``{train,val,test}/list.txt`` and one folder per sequence.

Train/val sequences hold ``groundtruth.txt`` (``x,y,w,h``), ``absence.label`` (1 = absent),
``cover.label`` (0-8, visible share in eighths), ``cut_by_image.label`` and ``meta_info.ini``; test
sequences only the first ground-truth line. Visibility (official): not absent, cover > 0, w, h > 0.
The training splits (``vottrain``, ``votval``, ``train_full``, ``train``, ``val``) are the shipped
0-based index lists into ``train/list.txt``; ``all`` takes every listed sequence.
"""

from __future__ import annotations

import logging
import re
from importlib import resources
from pathlib import Path
from typing import Optional

import numpy as np

from lib.data.datasets.base import (
    TrackingDataset,
    pad_known_boxes,
    parse_boxes,
    parse_flags,
    read_annotation,
    read_optional,
    read_required,
    stat_files,
    valid_boxes,
)
from lib.data.errors import DatasetError
from lib.data.image_source import ImageSource
from lib.data.index import ParsedSequence
from lib.data.index_build import parse_sequences
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


def _parse_sequence(source: ImageSource, item: tuple) -> ParsedSequence:
    """Train/val sequence ``item = (name, folder)``: boxes, absence and cover labels (official visibility)."""
    _, folder = item
    boxes = parse_boxes(read_annotation(source, f"{folder}/groundtruth.txt"), source.describe(f"{folder}/groundtruth.txt"))
    n = len(boxes)
    flag_visible = np.ones(n, dtype=bool)
    absence = read_optional(source, f"{folder}/absence.label")
    if absence is not None:
        flag_visible &= parse_flags(absence, source.describe(f"{folder}/absence.label"), n) == 0
    cover_text = read_optional(source, f"{folder}/cover.label")
    cover = None
    if cover_text is not None:
        cover = parse_flags(cover_text, source.describe(f"{folder}/cover.label"), n)
        flag_visible &= cover > 0
    return ParsedSequence(boxes, valid_boxes(boxes) & flag_visible, flag_visible, cover)


def _parse_test_sequence(source: ImageSource, item: tuple) -> ParsedSequence:
    """Test sequence: the first box, NaN after it, one row per ``%08d.jpg`` frame in the folder."""
    _, folder = item
    first = parse_boxes(read_annotation(source, f"{folder}/groundtruth.txt"), source.describe(f"{folder}/groundtruth.txt"))
    listed = [f for f in source.list(folder) if f.endswith(".jpg")]
    if listed != [f"{i:08d}.jpg" for i in range(1, len(listed) + 1)]:
        raise DatasetError(f"{source.describe(folder)}: frames are not 00000001.jpg ... {len(listed):08d}.jpg")
    boxes = pad_known_boxes(first, len(listed))
    return ParsedSequence(boxes, valid_boxes(boxes))


class Got10k(TrackingDataset):
    """GOT-10k reader; frame ``i`` of a sequence is ``<split>/<name>/%08d.jpg`` numbered from 1.

    Args:
        source: folder or lmdb source rooted at the GOT-10k root.
        split: folder ``train`` | ``val`` | ``test``.
        subset: for ``split="train"``: ``vottrain`` | ``votval`` | ``train_full`` | ``train`` | ``val`` (shipped
            index lists) or ``all`` (every sequence of ``train/list.txt``).
        index_cache: index cache folder (train and val splits; the test split is read every time).
    """

    is_video = True

    def __init__(
        self,
        source: ImageSource,
        split: str = "train",
        subset: str = "all",
        cache_frames: bool = False,
        name: Optional[str] = None,
        index_cache: Optional[Path] = None,
    ):
        super().__init__(source, cache_frames=cache_frames, index_cache=index_cache)
        if split not in ("train", "val", "test"):
            raise DatasetError(f"GOT-10k split '{split}' unknown; valid: train, val, test")
        self.name = name or f"GOT10K_{split}" + (f"_{subset}" if split == "train" else "")
        self.split = split
        listed = [n.strip() for n in read_required(source, f"{split}/list.txt", LAYOUT).splitlines() if n.strip()]
        names = self._select(listed, subset) if split == "train" else listed
        files = ("groundtruth.txt",) if split == "test" else ("groundtruth.txt", "absence.label", "cover.label")
        stats = stat_files(source, [f"{split}/{n}/{f}" for n in names for f in files])
        missing = [n for n, (_, stat) in zip(names, stats[:: len(files)]) if stat is None]
        if missing:
            raise self._missing_error(
                f"{split}/list.txt", missing, len(names), f"expected {split}/<name>/groundtruth.txt; layout: {LAYOUT}"
            )
        items = [(n, f"{split}/{n}") for n in names]
        test = split == "test"
        parse = _parse_test_sequence if test else _parse_sequence
        build = lambda: parse_sequences(parse, source, items, self.name, keep_unusable=test)  # noqa: E731
        self._load_index(stats, build, cached=not test, split=split, subset=subset)

    def frame_key(self, seq_index: int, frame: int) -> str:
        return f"{self.split}/{self.index.name(seq_index)}/{frame + 1:08d}.jpg"

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

    def _resolution(self, name: str) -> Optional[tuple[int, int]]:
        """``(W, H)`` from ``meta_info.ini`` (GOT-10k toolkit clips boxes to it); None if absent."""
        text = read_optional(self.source, f"{self.split}/{name}/meta_info.ini")
        match = re.search(r"resolution\s*:\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)", text or "")
        return (int(match.group(1)), int(match.group(2))) if match else None

    def test_sequences(self) -> list[TestSequence]:
        """GOT-10k val/test sequences (test: NaN ground truth after frame 0; no visibility)."""
        dataset = "got10k_test" if self.split == "test" else f"got10k_{self.split}"
        out = []
        for s in self.sequences:
            visible = None if s.flag_visible is None else s.flag_visible.copy()
            cover = None if s.cover is None else s.cover.copy()
            out.append(
                TestSequence(
                    s.name, dataset, list(s.frames), s.boxes.copy(), self.source, visible, cover, self._resolution(s.name)
                )
            )
        return out
