"""What every training dataset offers the sampler, and the parsing shared by the benchmark readers.

A dataset is a list of sequences; sequence ``i`` has per-frame boxes, a visibility vector and frame
keys in its image source. Image datasets (COCO) are one-frame sequences with ``is_video = False``.
Annotations are read once at construction; sequences with no frames or no visible frame are
excluded there with a logged count.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from dataclasses import dataclass
from typing import Optional

import numpy as np

from lib.data.errors import DatasetError
from lib.data.image_source import ImageSource
from lib.data.sequence import TestSequence

logger = logging.getLogger(__name__)

DEFAULT_CACHE_BYTES = 1 << 30  # per process: decoded-frame cache budget when caching is on


@dataclass
class SequenceData:
    """Annotations of one training sequence.

    Attributes:
        name: sequence name.
        frames: (N,) frame keys relative to the source root.
        boxes: (N, 4) float64 ``x, y, w, h``.
        visible: (N,) bool, the official visibility (dataset-specific rules, always including w, h > 0).
        flag_visible: (N,) bool, the benchmark's own visibility flags alone (LaSOT ``~full_occlusion &
            ~out_of_view``, GOT-10k ``~absence & cover > 0``), as evaluation toolkits read them; None if none.
        cover: (N,) GOT-10k ``cover.label`` values (0-8), or None.
    """

    name: str
    frames: list[str]
    boxes: np.ndarray
    visible: np.ndarray
    flag_visible: Optional[np.ndarray] = None
    cover: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.frames)


def parse_boxes(text: str, where: str) -> np.ndarray:
    """Box file text (one ``x,y,w,h`` per line; commas, tabs or spaces) -> (N, 4) float64.

    Raises :class:`DatasetError` naming ``where`` and the 1-based line of the first malformed line.
    """
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    rows = [line.replace(",", " ").split() for line in lines]
    try:
        boxes = np.array(rows, dtype=np.float64)
        if boxes.size == 0:
            return np.zeros((0, 4), dtype=np.float64)
        if boxes.ndim == 2 and boxes.shape[1] == 4:
            return boxes
    except ValueError:
        pass
    for number, row in enumerate(rows, start=1):
        try:
            ok = len(row) == 4 and all(np.isfinite(float(v)) or v.lower() == "nan" for v in row)
        except ValueError:
            ok = False
        if not ok:
            raise DatasetError(f"{where} line {number}: expected 4 numbers x,y,w,h, got '{lines[number - 1].strip()}'")
    raise DatasetError(f"{where}: cannot parse boxes")


def pad_known_boxes(known: np.ndarray, n_frames: int) -> np.ndarray:
    """(n_frames, 4) boxes: the ``known`` rows (test splits give the first frame only), NaN after them."""
    boxes = np.full((n_frames, 4), np.nan)
    boxes[: min(len(known), n_frames)] = known[:n_frames]
    return boxes


def parse_flags(text: str, where: str, length: int) -> np.ndarray:
    """Per-frame integer labels (one per line, or one comma-separated line) -> (length,) int64."""
    values = text.replace(",", " ").split()
    try:
        flags = np.array([int(float(v)) for v in values], dtype=np.int64)
    except ValueError as exc:
        raise DatasetError(f"{where}: expected integer labels ({exc})") from exc
    if len(flags) != length:
        raise DatasetError(f"{where}: {len(flags)} labels for {length} frames")
    return flags


def valid_boxes(boxes: np.ndarray) -> np.ndarray:
    """(N,) bool: w > 0 and h > 0 (NaN rows are invalid)."""
    with np.errstate(invalid="ignore"):
        return (boxes[:, 2] > 0) & (boxes[:, 3] > 0)


class TrackingDataset:
    """Base of the benchmark readers: sequences, frame reading, optional decoded-frame cache.

    Subclasses fill ``self.sequences`` (list of :class:`SequenceData`) through :meth:`_set_sequences`.
    """

    name = "dataset"
    is_video = True

    def __init__(self, source: ImageSource, cache_frames: bool = False, cache_bytes: int = DEFAULT_CACHE_BYTES):
        self.source = source
        self.sequences: list[SequenceData] = []
        self.cache_frames = cache_frames
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_used = 0

    # -- construction helpers --
    def _set_sequences(self, sequences: list[SequenceData]) -> None:
        kept = [s for s in sequences if len(s) > 0 and s.visible.any()]
        dropped = len(sequences) - len(kept)
        if dropped:
            logger.warning(
                "%s: excluded %d of %d sequences with no frames or no visible frame", self.name, dropped, len(sequences)
            )
        if not kept:
            raise DatasetError(f"{self.name} at {self.source.root}: no usable sequence (all {len(sequences)} excluded)")
        self.sequences = kept

    def _missing_error(self, what: str, missing: list[str], total: int, hint: str) -> DatasetError:
        first = ", ".join(missing[:3])
        return DatasetError(
            f"{self.name} at {self.source.root}: {len(missing)} of {total} sequences named by {what} are missing "
            f"(first: {first}); {hint}"
        )

    # -- what the sampler uses --
    def __len__(self) -> int:
        return len(self.sequences)

    @property
    def num_frames(self) -> int:
        return sum(len(s) for s in self.sequences)

    def sequence(self, index: int) -> SequenceData:
        return self.sequences[index]

    def frame_path(self, seq_index: int, frame: int) -> str:
        return self.source.describe(self.sequences[seq_index].frames[frame])

    def read_frame(self, seq_index: int, frame: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB; raises :class:`~lib.data.errors.FrameReadError` if missing or corrupt."""
        key = self.sequences[seq_index].frames[frame]
        if not self.cache_frames:
            return self.source.read_image(key)
        image = self._cache.get(key)
        if image is not None:
            self._cache.move_to_end(key)
            return image
        image = self.source.read_image(key)
        image.setflags(write=False)  # cached frames are shared; processing must copy before writing
        self._cache[key] = image
        self._cache_used += image.nbytes
        while self._cache_used > self.cache_bytes and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cache_used -= old.nbytes
        return image

    def test_sequences(self) -> list[TestSequence]:
        """Test-time sequences of this split (every sequence, full ground truth)."""
        return [
            TestSequence(s.name, self.name, list(s.frames), s.boxes.copy(), self.source, s.visible.copy())
            for s in self.sequences
        ]

    def describe(self) -> str:
        return f"{self.name}: {len(self)} sequences, {self.num_frames} frames ({self.source.root})"


def read_required(source: ImageSource, key: str, layout: str) -> str:
    """Text of a file the layout needs; one-line :class:`DatasetError` naming the path and the layout if absent."""
    try:
        return source.read_text(key)
    except FileNotFoundError as exc:
        raise DatasetError(f"{source.describe(key)} not found; expected layout: {layout}") from exc


def read_optional(source: ImageSource, key: str) -> Optional[str]:
    try:
        return source.read_text(key)
    except FileNotFoundError:
        return None
