"""TrackingNet (Mueller et al., ECCV 2018): ``TRAIN_0..TRAIN_11`` and ``TEST``, each ``{anno/<seq>.txt, frames/<seq>/<i>.jpg}``.

Frames are 0-based and ordered numerically (``10.jpg`` after ``9.jpg``). Visibility = w, h > 0
(official). TEST annotations hold the first frame only.
"""

from __future__ import annotations

import logging
from typing import Optional, Sequence

import numpy as np

from lib.data.datasets.base import SequenceData, TrackingDataset, pad_known_boxes, parse_boxes, valid_boxes
from lib.data.errors import DatasetError
from lib.data.image_source import ImageSource
from lib.data.sequence import TestSequence

logger = logging.getLogger(__name__)

LAYOUT = "trackingnet/TRAIN_0..TRAIN_11,TEST/{anno/<seq>.txt,frames/<seq>/0.jpg}"
ALL_TRAIN_CHUNKS = tuple(f"TRAIN_{i}" for i in range(12))


class TrackingNet(TrackingDataset):
    """TrackingNet reader.

    Args:
        chunks: chunk folders to read (default: all twelve ``TRAIN_*``); ``"present"`` = every ``TRAIN_*``
            folder that exists; ``["TEST"]`` for the test split.
    """

    is_video = True

    def __init__(
        self,
        source: ImageSource,
        chunks: Sequence[str] | str = ALL_TRAIN_CHUNKS,
        cache_frames: bool = False,
        name: Optional[str] = None,
    ):
        super().__init__(source, cache_frames=cache_frames)
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
        sequences = []
        for chunk in self.chunks:
            for anno in source.list(f"{chunk}/anno"):
                if anno.endswith(".txt"):
                    sequences.append(self._read(chunk, anno[:-4]))
        if self.is_test:
            self.sequences = sequences
        else:
            self._set_sequences(sequences)

    def _read(self, chunk: str, name: str) -> SequenceData:
        key = f"{chunk}/anno/{name}.txt"
        boxes = parse_boxes(self.source.read_text(key), self.source.describe(key))
        folder = f"{chunk}/frames/{name}"
        if self.is_test:
            numbers = sorted(int(f[:-4]) for f in self.source.list(folder) if f.endswith(".jpg") and f[:-4].isdigit())
            boxes = pad_known_boxes(boxes, len(numbers))
        else:
            numbers = list(range(len(boxes)))
        frames = [f"{folder}/{i}.jpg" for i in numbers]
        return SequenceData(name, frames, boxes, valid_boxes(boxes))

    def test_sequences(self) -> list[TestSequence]:
        return [
            TestSequence(s.name, "trackingnet", list(s.frames), s.boxes.copy(), self.source, None)
            for s in self.sequences
        ]
