"""Submission archives for the GOT-10k and TrackingNet evaluation servers.

* GOT-10k (``got10k/experiments/got10k.py`` layout): ``<seq>/<seq>_001.txt`` .. ``_003.txt`` (three runs,
  comma-separated ``x,y,w,h``, one line per frame) and ``<seq>/<seq>_time.txt`` (seconds per frame), one
  folder per test sequence (180).
* TrackingNet (devkit / EvalAI): flat ``<seq>.txt`` comma-separated, one per test sequence (511).

Before anything is written, every sequence of the split must have a result file with exactly one line
per frame; otherwise a ``PackingError`` names the first missing or short sequence. The expected frame
counts come from the dataset folder (``*_test_frame_counts``) or from test-time sequences.
"""

from __future__ import annotations

import io
import logging
import zipfile
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from lib.data.sequence import TestSequence
from lib.evaluation.results_io import (
    ResultsError,
    box_file,
    format_boxes,
    read_sequence_boxes,
    read_sequence_times,
    time_file,
)
from lib.utils.io import atomic_write_bytes

logger = logging.getLogger(__name__)


GOT10K_REPETITIONS = 3  # runs per sequence the GOT-10k server expects


class PackingError(ValueError):
    """A result set that cannot be submitted (one-line message naming the sequence or file)."""


def frame_counts(sequences: Iterable[TestSequence]) -> dict[str, int]:
    """``{sequence name: number of frames}``, what every submission file must have one line per."""
    return {seq.name: len(seq) for seq in sequences}


def _checked_boxes(results_folder: Path, seq: str, n_frames: int) -> np.ndarray:
    path = box_file(results_folder, seq)
    if not path.is_file():
        raise PackingError(f"sequence {seq}: result file {path} is missing")
    try:
        return read_sequence_boxes(path, n_frames)
    except ResultsError as err:
        raise PackingError(f"sequence {seq}: {err}") from None


def _write_zip(out_zip: Path, members: dict[str, str]) -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(members):
            archive.writestr(name, members[name])
    atomic_write_bytes(out_zip, buffer.getvalue())
    logger.info("wrote %s (%d files)", out_zip, len(members))
    return out_zip


def pack_got10k(
    results_folder: str | Path,
    frame_counts: Mapping[str, int],
    out_zip: str | Path,
    integer: bool = False,
    repetitions: int = GOT10K_REPETITIONS,
) -> Path:
    """Zip ``<seq>/<seq>_001.txt`` .. ``_<repetitions:03d>.txt`` + ``<seq>/<seq>_time.txt`` for every sequence.

    The server expects three runs per sequence; a deterministic tracker's one run is written as each of them
    (the toolkit's own rule: identical first three runs mean a deterministic tracker). ``integer`` truncates
    boxes like the official ``transform_got10k.py``; default keeps floats. A missing time file is written as
    zeros (the server then reports no speed for it).
    """
    if repetitions < 1:
        raise PackingError(f"repetitions must be at least 1, got {repetitions}")
    folder = Path(results_folder)
    members: dict[str, str] = {}
    for seq, n_frames in frame_counts.items():
        boxes = _checked_boxes(folder, seq, n_frames)
        text = format_boxes(boxes, integer=integer, delimiter=",")
        members.update({f"{seq}/{seq}_{run:03d}.txt": text for run in range(1, repetitions + 1)})
        tpath = time_file(folder, seq)
        if tpath.is_file():
            try:
                times = read_sequence_times(tpath, n_frames)
            except ResultsError as err:
                raise PackingError(f"sequence {seq}: {err}") from None
        else:
            logger.warning("sequence %s: no %s, writing zero times (the server then reports no speed)", seq, tpath.name)
            times = np.zeros(n_frames)
        members[f"{seq}/{seq}_time.txt"] = "".join(f"{t:.8f}\n" for t in times)
    return _write_zip(Path(out_zip), members)


def pack_trackingnet(
    results_folder: str | Path, frame_counts: Mapping[str, int], out_zip: str | Path, integer: bool = False
) -> Path:
    """Zip flat comma-separated ``<seq>.txt`` files for every sequence of ``frame_counts``."""
    folder = Path(results_folder)
    members = {
        f"{seq}.txt": format_boxes(_checked_boxes(folder, seq, n), integer=integer, delimiter=",")
        for seq, n in frame_counts.items()
    }
    return _write_zip(Path(out_zip), members)
