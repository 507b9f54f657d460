"""TrackingNet (Mueller et al., ECCV 2018): ``TRAIN_0..TRAIN_11`` and ``TEST``, each ``{anno/<seq>.txt, frames/<seq>/<i>.jpg}``.

Frames are 0-based and ordered numerically (``10.jpg`` after ``9.jpg``). Visibility = w, h > 0
(official). TEST annotations hold the first frame only.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional, Sequence

from lib.data.datasets.base import (
    TrackingDataset,
    pad_known_boxes,
    parse_boxes,
    read_annotation,
    stat_files,
    valid_boxes,
)
from lib.data.errors import DatasetError
from lib.data.image_source import ImageSource
from lib.data.index import ParsedSequence
from lib.data.index_build import parse_sequences
from lib.data.sequence import TestSequence

logger = logging.getLogger(__name__)

LAYOUT = "trackingnet/TRAIN_0..TRAIN_11,TEST/{anno/<seq>.txt,frames/<seq>/0.jpg}"
ALL_TRAIN_CHUNKS = tuple(f"TRAIN_{i}" for i in range(12))


def _parse_sequence(source: ImageSource, item: tuple) -> ParsedSequence:
    """``item = (name, chunk index, chunk)``: the boxes (visibility = w, h > 0)."""
    name, chunk_index, chunk = item
    key = f"{chunk}/anno/{name}.txt"
    boxes = parse_boxes(read_annotation(source, key), source.describe(key))
    return ParsedSequence(boxes, valid_boxes(boxes), extras={"chunk": chunk_index})


def _parse_test_sequence(source: ImageSource, item: tuple) -> ParsedSequence:
    """TEST sequence: the first box, NaN after it, one row per ``<i>.jpg`` frame (from 0) in the folder."""
    name, chunk_index, chunk = item
    first = _parse_sequence(source, item).boxes
    folder = f"{chunk}/frames/{name}"
    numbers = sorted(int(f[:-4]) for f in source.list(folder) if f.endswith(".jpg") and f[:-4].isdigit())
    if numbers != list(range(len(numbers))):
        raise DatasetError(f"{source.describe(folder)}: frames are not 0.jpg ... {len(numbers) - 1}.jpg")
    boxes = pad_known_boxes(first, len(numbers))
    return ParsedSequence(boxes, valid_boxes(boxes), extras={"chunk": chunk_index})


class TrackingNet(TrackingDataset):
    """TrackingNet reader; frame ``i`` of a sequence is ``<chunk>/frames/<name>/<i>.jpg`` numbered from 0.

    Args:
        chunks: chunk folders to read (default: all twelve ``TRAIN_*``); ``"present"`` = every ``TRAIN_*``
            folder that exists; ``["TEST"]`` for the test split (read every time, never cached).
    """

    is_video = True

    def __init__(
        self,
        source: ImageSource,
        chunks: Sequence[str] | str = ALL_TRAIN_CHUNKS,
        cache_frames: bool = False,
        name: Optional[str] = None,
        index_cache: Optional[Path] = None,
    ):
        super().__init__(source, cache_frames=cache_frames, index_cache=index_cache)
        if chunks == "present":
            chunks = sorted(
                (c for c in source.list("") if c.startswith("TRAIN_")),
                key=lambda c: int(c[6:]) if c[6:].isdigit() else 99,
            )
            if not chunks:
                raise DatasetError(f"{source.root}: no TRAIN_* folder; expected layout: {LAYOUT}")
        self.chunks = list(chunks)
        self.is_test = self.chunks == ["TEST"]
        self.name = name or ("TRACKINGNET_TEST" if self.is_test else "TRACKINGNET")
        missing = [c for c in self.chunks if not source.exists(f"{c}/anno")]
        if missing:
            raise self._missing_error(
                "the chunk list",
                missing,
                len(self.chunks),
                f"expected <chunk>/anno/; layout: {LAYOUT}; "
                "for a partial or generated set use the dataset name TRACKINGNET_all",
            )
        items = [
            (anno[:-4], index, chunk)
            for index, chunk in enumerate(self.chunks)
            for anno in source.list(f"{chunk}/anno")
            if anno.endswith(".txt")
        ]
        stats = stat_files(source, [f"{chunk}/anno/{name}.txt" for name, _, chunk in items])
        parse = _parse_test_sequence if self.is_test else _parse_sequence
        build = lambda: parse_sequences(parse, source, items, self.name, keep_unusable=self.is_test)  # noqa: E731
        self._load_index(stats, build, cached=not self.is_test, chunks=self.chunks)

    def frame_key(self, seq_index: int, frame: int) -> str:
        chunk = self.chunks[int(self.index.arrays["chunk"][seq_index])]
        return f"{chunk}/frames/{self.index.name(seq_index)}/{frame}.jpg"

    def test_sequences(self) -> list[TestSequence]:
        return [
            TestSequence(s.name, "trackingnet", list(s.frames), s.boxes.copy(), self.source, None)
            for s in self.sequences
        ]
