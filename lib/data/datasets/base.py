"""What every training dataset offers the sampler, and the parsing shared by the benchmark readers.

A dataset is a list of sequences; sequence ``i`` has per-frame boxes, a visibility vector and frame
keys in its image source. Image datasets (COCO) are one-frame sequences with ``is_video = False``.
Annotations are read once at construction into a compact index (:mod:`lib.data.index`: flat numpy
arrays, frame keys derived from each reader's naming rule, no Python object per frame), cached on disk
when an index cache folder is given; sequences with no frames or no visible frame are excluded there
with a logged count.
"""

from __future__ import annotations

import io
import logging
import os
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Union

import numpy as np

from lib.data.errors import DatasetError
from lib.data.image_source import ImageSource
from lib.data.index import ParsedSequence, SequenceIndex
from lib.data.index_cache import cache_key, load_or_build
from lib.data.sequence import TestSequence

logger = logging.getLogger(__name__)

DEFAULT_CACHE_BYTES = 1 << 30  # per process: decoded-frame cache budget when caching is on


@dataclass
class SequenceData:
    """Annotations of one training sequence (views into the dataset's index; nothing is copied).

    Attributes:
        name: sequence name.
        frames: (N,) frame keys relative to the source root (derived on access from the naming rule).
        boxes: (N, 4) float64 ``x, y, w, h``.
        visible: (N,) bool, the official visibility (dataset-specific rules, always including w, h > 0).
        flag_visible: (N,) bool, the benchmark's own visibility flags alone (LaSOT ``~full_occlusion &
            ~out_of_view``, GOT-10k ``~absence & cover > 0``), as evaluation toolkits read them; None if none.
        cover: (N,) GOT-10k ``cover.label`` values (0-8), or None.
    """

    name: str
    frames: Sequence[str]
    boxes: np.ndarray
    visible: np.ndarray
    flag_visible: Optional[np.ndarray] = None
    cover: Optional[np.ndarray] = None

    def __len__(self) -> int:
        return len(self.frames)


class FrameKeys(Sequence):
    """The frame keys of one sequence, made by the dataset's naming rule when read (none are stored)."""

    def __init__(self, dataset: TrackingDataset, seq_index: int, length: int):
        self.dataset, self.seq_index, self.length = dataset, seq_index, length

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, frame: Union[int, slice]):
        if isinstance(frame, slice):
            return [self[i] for i in range(*frame.indices(self.length))]
        if frame < 0:
            frame += self.length
        if not 0 <= frame < self.length:
            raise IndexError(f"frame {frame} of {self.length}")
        return self.dataset.frame_key(self.seq_index, frame)


class _SequenceList(Sequence):
    """``dataset.sequences``: a read-only list of :class:`SequenceData` views, made on access."""

    def __init__(self, dataset: TrackingDataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: Union[int, slice]):
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"sequence {index} of {len(self)}")
        return self.dataset.sequence(index)


def parse_boxes(text: str, where: str) -> np.ndarray:
    """Box file text (one ``x,y,w,h`` per line; commas, tabs or spaces) -> (N, 4) float64.

    Raises :class:`DatasetError` naming ``where`` and the 1-based line of the first malformed line.
    """
    body = text.rstrip()
    if not body:
        return np.zeros((0, 4), dtype=np.float64)
    # fast path for the official comma-separated files (numpy's C parser, one row per line or it fails)
    try:
        boxes = np.loadtxt(io.StringIO(body), delimiter=",", dtype=np.float64, ndmin=2, comments=None)
        if boxes.shape == (body.count("\n") + 1, 4):
            return boxes
    except ValueError:
        pass
    return _parse_box_lines(text, where)


def _parse_box_lines(text: str, where: str) -> np.ndarray:
    """Line by line: any of comma, tab or space between numbers; the error names the first bad line."""
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
        numbers = np.array(values, dtype=np.float64)
        if not np.isfinite(numbers).all():
            raise ValueError("a label is not a finite number")
    except ValueError as exc:
        raise DatasetError(f"{where}: expected integer labels ({exc})") from exc
    flags = numbers.astype(np.int64)  # truncation toward zero, as int(float(v))
    if len(flags) != length:
        raise DatasetError(f"{where}: {len(flags)} labels for {length} frames")
    return flags


def read_annotation(source: ImageSource, key: str) -> str:
    """Text of an annotation file; one-line :class:`DatasetError` naming it when missing or unreadable."""
    try:
        return source.read_text(key)
    except FileNotFoundError:
        raise DatasetError(f"{source.describe(key)}: annotation file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{source.describe(key)}: cannot read annotation file ({exc})") from None


def valid_boxes(boxes: np.ndarray) -> np.ndarray:
    """(N,) bool: w > 0 and h > 0 (NaN rows are invalid; comparisons with NaN do not warn)."""
    return (boxes[:, 2] > 0) & (boxes[:, 3] > 0)


class TrackingDataset:
    """Base of the benchmark readers: the compact index, frame keys, frame reading, optional decoded-frame cache.

    Readers build ``self.index`` (:class:`~lib.data.index.SequenceIndex`) through :meth:`_load_index` and
    override :meth:`frame_key` with their naming rule; :meth:`_set_sequences` takes ready-made
    :class:`SequenceData` (explicit frame keys) for sources without a naming rule.

    Args:
        index_cache: folder of the index cache (``stark_local.yaml``'s ``index_cache_dir``); None = no cache.
    """

    name = "dataset"
    is_video = True

    def __init__(
        self,
        source: ImageSource,
        cache_frames: bool = False,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
        index_cache: Optional[Union[str, Path]] = None,
    ):
        self.source = source
        self.index = SequenceIndex.from_sequences([], [])
        self.index_cache = None if index_cache is None else Path(index_cache)
        self.cache_frames = cache_frames
        self.cache_bytes = cache_bytes
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_used = 0
        self._frame_lists: Optional[list[Sequence[str]]] = None
        self.index_origin = "given whole"

    # -- construction helpers --
    def _load_index(
        self,
        stats: list[tuple[str, Optional[tuple[int, int]]]],
        build: Callable[[], list[SequenceIndex]],
        cached: bool = True,
        **identity,
    ) -> None:
        """Take the index from the cache (keyed by reader, source, root, the reader's ``identity`` options and
        the annotation files' ``stats``) or ``build()`` it; ``cached=False`` (test splits) always builds.
        Sets ``index_origin`` (where the index came from)."""
        root = os.path.realpath(self.source.root) if os.path.exists(self.source.root) else self.source.root
        identity = {"reader": type(self).__name__, "source": type(self.source).__name__, "root": root, **identity}
        folder = self.index_cache if cached else None
        index, self.index_origin = load_or_build(folder, self.name, identity, cache_key(identity, stats), build)
        self._set_index(index, training=cached)

    def _set_index(self, index: SequenceIndex, training: bool = True) -> None:
        dropped, total = index.meta.get("dropped", 0), index.meta.get("total", len(index))
        if dropped:
            logger.warning("%s: excluded %d of %d sequences with no frames or no visible frame", self.name, dropped, total)
        if training and not len(index):
            raise DatasetError(f"{self.name} at {self.source.root}: no usable sequence (all {total} excluded)")
        self.index = index

    def _set_sequences(self, sequences: list[SequenceData], exclude_unusable: bool = True) -> None:
        """Sequences given whole (frame keys included); unusable ones are excluded with a logged count
        unless ``exclude_unusable`` is False (test splits)."""
        parsed = [ParsedSequence(s.boxes, s.visible, s.flag_visible, s.cover) for s in sequences]
        keep = [p.usable() or not exclude_unusable for p in parsed]
        index = SequenceIndex.from_sequences(
            [s.name for s, k in zip(sequences, keep) if k], [p for p, k in zip(parsed, keep) if k]
        )
        index.meta.update(dropped=len(sequences) - len(index), total=len(sequences))
        self._frame_lists = [s.frames for s, k in zip(sequences, keep) if k]
        self._set_index(index, training=exclude_unusable)

    def _missing_error(self, what: str, missing: list[str], total: int, hint: str) -> DatasetError:
        first = ", ".join(missing[:3])
        return DatasetError(
            f"{self.name} at {self.source.root}: {len(missing)} of {total} sequences named by {what} are missing "
            f"(first: {first}); {hint}"
        )

    # -- what the sampler uses --
    def __len__(self) -> int:
        return len(self.index)

    @property
    def num_frames(self) -> int:
        return self.index.num_frames

    @property
    def lengths(self) -> np.ndarray:
        """(S,) frames per sequence."""
        return self.index.lengths

    @property
    def visible_counts(self) -> np.ndarray:
        """(S,) visible frames per sequence."""
        return self.index.visible_counts

    @property
    def sequences(self) -> Sequence[SequenceData]:
        """Read-only list of :class:`SequenceData` views; assigning a list keeps those sequences as given."""
        return _SequenceList(self)

    @sequences.setter
    def sequences(self, sequences: list[SequenceData]) -> None:
        self._set_sequences(list(sequences), exclude_unusable=False)

    def sequence(self, index: int) -> SequenceData:
        """Views of sequence ``index``'s annotations (cheap; made on each call)."""
        ix = self.index
        span = ix.span(index)
        return SequenceData(
            ix.name(index),
            FrameKeys(self, index, span.stop - span.start),
            ix.boxes[span],
            ix.visible[span],
            None if ix.flag_visible is None else ix.flag_visible[span],
            ix.sequence_cover(index),
        )

    def frame_key(self, seq_index: int, frame: int) -> str:
        """Key of frame ``frame`` of sequence ``seq_index`` in the source (readers: their naming rule)."""
        return self._frame_lists[seq_index][frame]

    def frame_path(self, seq_index: int, frame: int) -> str:
        return self.source.describe(self.frame_key(seq_index, frame))

    def read_frame(self, seq_index: int, frame: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB; raises :class:`~lib.data.errors.FrameReadError` if missing or corrupt."""
        key = self.frame_key(seq_index, frame)
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


def stat_files(source: ImageSource, keys: list[str]) -> list[tuple[str, Optional[tuple[int, int]]]]:
    """``(key, (size, mtime_ns) or None)`` per annotation file: the cache key and the missing-file check."""
    return [(key, source.stat(key)) for key in keys]


def read_required(source: ImageSource, key: str, layout: str) -> str:
    """Text of a file the layout needs; one-line :class:`DatasetError` naming the path and the layout if absent."""
    try:
        return source.read_text(key)
    except FileNotFoundError as exc:
        raise DatasetError(f"{source.describe(key)} not found; expected layout: {layout}") from exc


def read_optional(source: ImageSource, key: str) -> Optional[str]:
    """Text of an optional annotation file, None if absent; one-line :class:`DatasetError` if unreadable."""
    try:
        return read_annotation(source, key)
    except DatasetError:
        if source.stat(key) is None:
            return None
        raise
