"""A test-time sequence from a plain folder of frames (``--dataset folder``, attention maps)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from lib.data.sequence import TestSequence
from lib.tracker.names import RunnerError


def folder_sequence(folder: str | Path, init_box: Optional[Sequence[float]] = None) -> TestSequence:
    """A sequence from a folder of frames (sorted by name; numeric names sort numerically) and an init box.

    Without ``init_box`` the first line of ``<folder>/groundtruth.txt`` is used.
    """
    from lib.data.image_source import FolderSource
    from lib.evaluation.results_io import read_boxes
    from lib.tracker.demo import frame_files

    root = Path(folder)
    if not root.is_dir():
        raise RunnerError(f"{root}: not a folder of frames")
    names = [p.name for p in frame_files(root)]
    if not names:
        raise RunnerError(f"{root}: no .jpg/.png frames")
    if init_box is None:
        gt_file = root / "groundtruth.txt"
        if not gt_file.is_file():
            raise RunnerError(f"{root}: give --init_box x y w h or a groundtruth.txt")
        gt = read_boxes(gt_file)
    else:
        gt = np.asarray(init_box, dtype=np.float64).reshape(1, 4)
    boxes = np.full((len(names), 4), np.nan)
    boxes[: min(len(names), gt.shape[0])] = gt[: len(names)]
    if not (boxes[0, 2] > 0 and boxes[0, 3] > 0):
        raise RunnerError(f"{root}: the initial box {boxes[0].tolist()} needs a positive width and height")
    return TestSequence(root.name, "folder", names, boxes, FolderSource(root))
