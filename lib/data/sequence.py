"""Test-time sequences: frames, ground truth and visibility of one video, whatever the benchmark."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from lib.data.image_source import ImageSource


@dataclass
class TestSequence:
    """One video for the benchmark runner.

    Attributes:
        name: sequence name as the benchmark's result files use it (``GOT-10k_Test_000001``, ``airplane-1``).
        dataset: benchmark name (``got10k_test``, ``got10k_val``, ``lasot``, ``trackingnet``).
        frames: frame keys relative to the source root (``test/GOT-10k_Test_000001/00000001.jpg``).
        ground_truth: (N, 4) float ``x, y, w, h``; NaN rows where unknown (e.g. GOT-10k test after frame 0).
        target_visible: (N,) bool from the benchmark's own flags, or None when it gives none.
        source: where the frames are read from (folder or lmdb).
        cover: (N,) GOT-10k ``cover.label`` (0-8; the GOT-10k toolkit drops frames with cover 0), or None.
        image_size: ``(W, H)`` from GOT-10k's ``meta_info.ini`` (the toolkit clips boxes to it), or None.
    """

    __test__ = False  # not a pytest test class despite the name

    name: str
    dataset: str
    frames: list[str]
    ground_truth: np.ndarray
    source: ImageSource = field(repr=False)
    target_visible: Optional[np.ndarray] = None
    cover: Optional[np.ndarray] = None
    image_size: Optional[tuple[int, int]] = None

    def __len__(self) -> int:
        return len(self.frames)

    @property
    def init_box(self) -> list[float]:
        """First-frame box ``[x, y, w, h]`` (what the tracker is initialised with)."""
        return [float(v) for v in self.ground_truth[0]]

    def frame_path(self, index: int) -> str:
        """Readable location of frame ``index`` (a file path or ``lmdb[key]``)."""
        return self.source.describe(self.frames[index])

    def read_frame(self, index: int) -> np.ndarray:
        """(H, W, 3) uint8 RGB frame ``index``."""
        return self.source.read_image(self.frames[index])
