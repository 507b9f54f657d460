"""Reference trackers that need no network, to put a trained tracker's numbers in context."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from lib.data.sequence import TestSequence
from lib.evaluation.results_io import write_sequence_result


def write_initial_box_results(sequences: Sequence[TestSequence], folder: str | Path) -> int:
    """Write result files of a tracker that repeats the initial box on every frame; returns the count.

    This is the floor any learnt tracker must clear: on data where targets move, it scores only the
    frames where the target happens to be near where it started.
    """
    for seq in sequences:
        init = np.asarray(seq.init_box, dtype=np.float64)
        boxes = np.repeat(init[None, :], len(seq.frames), axis=0)
        write_sequence_result(folder, seq.name, boxes, times=np.zeros(len(seq.frames)))
    return len(sequences)
