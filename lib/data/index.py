"""The compact annotation index of one dataset: every sequence's annotations in a few flat numpy arrays.

A training set of millions of frames must not hold a Python object per frame: reading such objects
writes their reference counts, so every forked DataLoader worker slowly copies the whole index. Here
the per-frame data are four arrays (``boxes`` (F, 4) float64, ``visible`` (F,) bool, optionally
``flag_visible`` (F,) bool and ``cover`` (F,) int64), the per-sequence data a few (S,) arrays (``names``
as fixed-width bytes, ``lengths``, ``visible_counts``, reader-specific ones such as a TrackingNet chunk id),
plus reader-specific ``tables`` (COCO's image file names). Frame keys are not stored: each reader derives
them from its naming rule (:meth:`lib.data.datasets.base.TrackingDataset.frame_key`).

The same arrays are what the index cache writes to disk and memory-maps back (lib.data.index_cache).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Optional

import numpy as np

FRAME_FIELDS = ("boxes", "visible", "flag_visible", "cover")


@dataclass
class ParsedSequence:
    """Annotations of one sequence as a reader parsed them (before they join the flat arrays).

    Attributes:
        boxes: (N, 4) float64 ``x, y, w, h``.
        visible: (N,) bool, the official visibility rule of the dataset.
        flag_visible: (N,) bool, the benchmark's own visibility flags alone; None if the dataset has none.
        cover: (N,) int64 GOT-10k ``cover.label``; None when the sequence has no such file.
        extras: per-sequence integers stored as (S,) arrays of that name (e.g. ``{"chunk": 3}``).
    """

    boxes: np.ndarray
    visible: np.ndarray
    flag_visible: Optional[np.ndarray] = None
    cover: Optional[np.ndarray] = None
    extras: dict[str, int] = field(default_factory=dict)

    def usable(self) -> bool:
        """Training sets keep a sequence only with at least one frame and one visible frame."""
        return len(self.boxes) > 0 and bool(self.visible.any())


class SequenceIndex:
    """Flat arrays of one dataset (see the module docstring); sequence ``i`` spans ``starts[i]:starts[i + 1]``.

    Args:
        arrays: ``names``, ``lengths``, ``visible_counts``, the per-frame fields, per-sequence extras and
            tables, by name; may be views of one memory-mapped file.
        meta: JSON-ready facts of the build (``dropped``: sequences excluded as unusable, reader facts).
    """

    def __init__(self, arrays: dict[str, np.ndarray], meta: Optional[dict] = None):
        self.arrays = arrays
        self.meta = dict(meta or {})
        self.names = arrays["names"]
        self.lengths = arrays["lengths"]
        self.visible_counts = arrays["visible_counts"]
        self.starts = np.zeros(len(self.lengths) + 1, dtype=np.int64)
        np.cumsum(self.lengths, out=self.starts[1:])
        self.boxes = arrays["boxes"]
        self.visible = arrays["visible"]
        self.flag_visible = arrays.get("flag_visible")
        self.cover = arrays.get("cover")
        self.has_cover = arrays.get("has_cover")

    @classmethod
    def from_sequences(
        cls,
        names: Iterable[str],
        parsed: Iterable[ParsedSequence],
        keep_unusable: bool = True,
    ) -> SequenceIndex:
        """Join per-sequence parses; unusable sequences are dropped (and counted in ``meta["dropped"]``)
        unless ``keep_unusable`` (test splits keep every sequence)."""
        kept_names, kept = [], []
        total = 0
        for name, seq in zip(names, parsed):
            total += 1
            if keep_unusable or seq.usable():
                kept_names.append(name)
                kept.append(seq)
        arrays: dict[str, np.ndarray] = {
            "names": _names_array(kept_names),
            "lengths": np.array([len(s.boxes) for s in kept], dtype=np.int64),
            "visible_counts": np.array([int(s.visible.sum()) for s in kept], dtype=np.int64),
            "boxes": _concat([s.boxes for s in kept], np.float64, (0, 4)),
            "visible": _concat([s.visible for s in kept], bool, (0,)),
        }
        if kept and all(s.flag_visible is not None for s in kept):
            arrays["flag_visible"] = _concat([s.flag_visible for s in kept], bool, (0,))
        if any(s.cover is not None for s in kept):
            arrays["has_cover"] = np.array([s.cover is not None for s in kept], dtype=bool)
            arrays["cover"] = _concat(
                [s.cover if s.cover is not None else np.zeros(len(s.boxes), np.int64) for s in kept], np.int64, (0,)
            )
        for key in sorted({k for s in kept for k in s.extras}):
            arrays[key] = np.array([s.extras[key] for s in kept], dtype=np.int64)
        return cls(arrays, {"dropped": total - len(kept), "total": total})

    @staticmethod
    def joined_pieces(parts: list[SequenceIndex]) -> dict[str, list[np.ndarray]]:
        """Per array name, the pieces whose concatenation is the joined index (tables: the first part's).

        A part may lack an optional array (a chunk where no sequence had a ``cover.label``, or no sequence
        at all): its piece is zeros, which is what "absent" reads as (``has_cover`` False).
        """
        tables = set().union(*(p.tables() for p in parts))
        keys = list(dict.fromkeys(k for p in parts for k in p.arrays))
        pieces: dict[str, list[np.ndarray]] = {}
        for key in keys:
            holders = [p for p in parts if key in p.arrays]
            if key in tables:
                pieces[key] = [holders[0].arrays[key]]
                continue
            like = holders[0].arrays[key]
            pieces[key] = []
            for part in parts:
                count = len(part.visible) if key in FRAME_FIELDS else len(part)
                pieces[key].append(part.arrays.get(key, np.zeros((count, *like.shape[1:]), dtype=like.dtype)))
        return pieces

    @staticmethod
    def joined_meta(parts: list[SequenceIndex]) -> dict:
        counts = {key: sum(p.meta.get(key, 0) for p in parts) for key in ("dropped", "total")}
        return {**parts[0].meta, **counts}

    @classmethod
    def concat(cls, parts: list[SequenceIndex]) -> SequenceIndex:
        """One index of several (parts parsed in parallel, in order)."""
        pieces = cls.joined_pieces(parts)
        arrays = {k: v[0] if len(v) == 1 else np.concatenate(v) for k, v in pieces.items()}
        return cls(arrays, cls.joined_meta(parts))

    def tables(self) -> set[str]:
        """Names of the arrays that are neither per frame nor per sequence (declared by the reader)."""
        return set(self.meta.get("tables", ()))

    # -- per-sequence access (views, no copies) --
    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def num_frames(self) -> int:
        return int(self.starts[-1])

    def name(self, index: int) -> str:
        return self.names[index].decode("utf-8")

    def span(self, index: int) -> slice:
        return slice(int(self.starts[index]), int(self.starts[index + 1]))

    def boxes_and_visible(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Views of sequence ``index``'s (F, 4) boxes and (F,) visibility: what a sample draw reads, without
        building a sequence object."""
        span = self.span(index)
        return self.boxes[span], self.visible[span]

    def sequence_cover(self, index: int) -> Optional[np.ndarray]:
        if self.cover is None or not self.has_cover[index]:
            return None
        return self.cover[self.span(index)]


def _names_array(names: Iterable[str]) -> np.ndarray:
    encoded = [n.encode("utf-8") for n in names]
    width = max((len(n) for n in encoded), default=1)
    return np.array(encoded, dtype=f"S{max(width, 1)}")


def _concat(pieces: list[np.ndarray], dtype, empty_shape: tuple[int, ...]) -> np.ndarray:
    if not pieces:
        return np.zeros(empty_shape, dtype=dtype)
    return np.concatenate([np.asarray(p, dtype=dtype) for p in pieces])
