"""Result files in the official layout, written atomically and read back leniently.

Layout (architecture.md, official ``lib/test/evaluation/running.py`` conventions)::

    <results_dir>/<tracker>/<config>[_<runid:03d>]/[got10k/|trackingnet/]<seq>.txt
    <results_dir>/<tracker>/<config>[_<runid:03d>]/[got10k/|trackingnet/]<seq>_time.txt

A box file holds one ``x<TAB>y<TAB>w<TAB>h`` line per frame, the initial frame included. Floats are
written exactly (shortest repr that round-trips) by default; ``integer=True`` reproduces the official
``astype(int)`` truncation toward zero. Time files hold one ``%f`` line of seconds per frame.
Readers accept tab, comma or whitespace separators (GOT-10k and TrackingNet use commas).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from lib.utils.io import WriteError, atomic_write_text, remove_stale_temp_files

logger = logging.getLogger(__name__)

# Datasets whose results go into a sub-folder named after the benchmark (official running.py).
_SUBFOLDER_PREFIXES = ("got10k", "trackingnet")
_SEPARATORS = re.compile(r"[\t, ]+")


class ResultsError(ValueError):
    """A missing, malformed or inconsistent result file (one-line message naming the file)."""


def run_folder_name(config: str, runid: Optional[int] = None) -> str:
    """``baseline`` or ``baseline_003`` (official ``<parameter_name>_%03d``)."""
    return config if runid is None else f"{config}_{int(runid):03d}"


def dataset_subfolder(dataset: str) -> str:
    """``got10k`` for every GOT-10k split, ``trackingnet`` for TrackingNet, else ``""``."""
    name = dataset.lower()
    for prefix in _SUBFOLDER_PREFIXES:
        if name.startswith(prefix):
            return prefix
    return ""


def results_folder(
    results_dir: str | Path, tracker: str, config: str, dataset: str, runid: Optional[int] = None
) -> Path:
    """Folder holding ``<seq>.txt`` files of one tracker/config/run on one dataset."""
    folder = Path(results_dir) / tracker / run_folder_name(config, runid)
    sub = dataset_subfolder(dataset)
    return folder / sub if sub else folder


def box_file(folder: str | Path, seq_name: str) -> Path:
    return Path(folder) / f"{seq_name}.txt"


def time_file(folder: str | Path, seq_name: str) -> Path:
    return Path(folder) / f"{seq_name}_time.txt"


def is_finished(folder: str | Path, seq_name: str) -> bool:
    """True when both the box file and the time file of ``seq_name`` exist (resume check)."""
    return box_file(folder, seq_name).is_file() and time_file(folder, seq_name).is_file()


def format_boxes(boxes_xywh: np.ndarray, integer: bool = False, delimiter: str = "\t") -> str:
    """Text of a box file. ``boxes_xywh`` (N, 4). ``integer`` truncates toward zero like the official code."""
    boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
    if integer:
        rows = [delimiter.join(str(int(v)) for v in row) for row in np.trunc(boxes).astype(np.int64)]
    else:
        rows = [delimiter.join(repr(float(v)) for v in row) for row in boxes]
    return "".join(row + "\n" for row in rows)


def write_sequence_result(
    folder: str | Path,
    seq_name: str,
    boxes_xywh: np.ndarray,
    times: Optional[Sequence[float]] = None,
    integer: bool = False,
) -> Path:
    """Write ``<seq>.txt`` (and ``<seq>_time.txt`` when ``times`` is given) atomically.

    The time file is written after the box file, so ``is_finished`` (both present) only holds once
    the boxes are complete; an interrupted write leaves no partial file (temp file + rename).
    """
    boxes = np.asarray(boxes_xywh, dtype=np.float64).reshape(-1, 4)
    if not np.all(np.isfinite(boxes)):
        raise ResultsError(f"{box_file(folder, seq_name)}: refusing to write non-finite boxes")
    path = box_file(folder, seq_name)
    atomic_write_text(path, format_boxes(boxes, integer=integer))
    if times is not None:
        times_arr = np.asarray(times, dtype=np.float64).reshape(-1)
        if times_arr.shape[0] != boxes.shape[0]:
            raise ResultsError(f"{time_file(folder, seq_name)}: {times_arr.shape[0]} times for {boxes.shape[0]} boxes")
        atomic_write_text(time_file(folder, seq_name), "".join(f"{t:f}\n" for t in times_arr))
    return path


# -- provenance: what produced the finished results of a folder ----------------------------------

PROVENANCE_FILE = "provenance.json"


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def results_provenance(checkpoint: str | Path, config_text: str, **options: Any) -> dict[str, Any]:
    """What a results folder's boxes depend on: the checkpoint's bytes, the resolved config, ``options``."""
    return {
        "checkpoint": str(Path(checkpoint).resolve()),
        "checkpoint_sha256": file_sha256(checkpoint),
        "config_sha256": hashlib.sha256(config_text.encode()).hexdigest(),
        **options,
    }


def _identity(provenance: dict[str, Any]) -> dict[str, Any]:
    # the checkpoint's path does not count: the same file may have moved
    return {k: v for k, v in provenance.items() if k != "checkpoint"}


def _provenance_difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    """One phrase naming what differs."""
    keys = [k for k in sorted(set(old) | set(new)) if k != "checkpoint" and old.get(k) != new.get(k)]
    if "checkpoint_sha256" in keys:
        return (
            f"another checkpoint ({old.get('checkpoint')}, sha256 {str(old.get('checkpoint_sha256'))[:12]}) "
            f"than this run's ({new['checkpoint']}, sha256 {new['checkpoint_sha256'][:12]})"
        )
    return "; ".join(f"{k} {old.get(k)!r} (this run: {new.get(k)!r})" for k in keys)


def claim_results_folder(folder: str | Path, provenance: dict[str, Any], overwrite: bool = False) -> None:
    """Check, before any tracking, that ``folder`` may take this run's results, and record what makes them.

    Finished sequences are skipped on a rerun, so results from another checkpoint or config must
    never be resumed as if they were this run's: the folder's ``provenance.json`` must match
    ``provenance``, or (``overwrite``) the earlier result files are deleted first. Writing the record
    also proves the folder is writable. Temp files of killed writes are removed.

    Raises:
        ResultsError: the folder holds results of something else (one line: what differs, what to do).
        WriteError: the folder cannot be written.
    """
    folder = Path(folder)
    remove_stale_temp_files(folder)
    record = folder / PROVENANCE_FILE
    finished = sorted(folder.glob("*_time.txt")) if folder.is_dir() else []
    old = None
    if record.is_file():
        try:
            old = json.loads(record.read_text())
        except ValueError:
            old = {}
    if finished and (old is None or _identity(old) != _identity(provenance)):
        if not overwrite:
            why = (
                "have no provenance record"
                if old is None
                else f"were made with {_provenance_difference(old, provenance)}"
            )
            raise ResultsError(
                f"{folder}: its {len(finished)} finished sequence(s) {why}; refusing to mix results: use --runid N "
                "for a separate results folder or --overwrite to replace them"
            )
        removed = [p for p in folder.glob("*.txt") if p.is_file()]
        for path in removed:
            path.unlink()
        logger.warning("--overwrite: deleted %d earlier result file(s) in %s", len(removed), folder)
    try:
        atomic_write_text(record, json.dumps(provenance, indent=1, sort_keys=True) + "\n")
    except WriteError as err:
        raise WriteError(err.errno, f"results folder not writable: {err}") from None


def _read_table(path: Path, columns: Optional[int]) -> np.ndarray:
    if not path.is_file():
        raise ResultsError(f"{path}: result file not found")
    rows = []
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        fields = [f for f in _SEPARATORS.split(text) if f]
        try:
            values = [float(f) for f in fields]
        except ValueError:
            raise ResultsError(f"{path}:{line_no}: not numbers: {text[:60]!r}") from None
        if columns is not None and len(values) != columns:
            raise ResultsError(f"{path}:{line_no}: expected {columns} values, got {len(values)}")
        rows.append(values)
    if columns is None:
        return np.asarray([v for row in rows for v in row], dtype=np.float64)
    return np.asarray(rows, dtype=np.float64).reshape(-1, columns)


def read_boxes(path: str | Path) -> np.ndarray:
    """Read a box file written by any toolkit (tab, comma or space separated) -> (N, 4) float64."""
    return _read_table(Path(path), 4)


def read_times(path: str | Path) -> np.ndarray:
    """Read a ``_time.txt`` file -> (N,) float64 seconds."""
    return _read_table(Path(path), None)


def _check_per_frame(path: Path, values: np.ndarray, num_frames: int) -> np.ndarray:
    if values.shape[0] != num_frames:
        raise ResultsError(
            f"{path}: malformed result file: {values.shape[0]} lines for a sequence of {num_frames} frames"
        )
    bad = ~np.isfinite(values.reshape(values.shape[0], -1)).all(axis=1)
    if bad.any():
        raise ResultsError(f"{path}: malformed result file: non-finite value on line {int(np.argmax(bad)) + 1}")
    return values


def read_sequence_boxes(path: str | Path, num_frames: int) -> np.ndarray:
    """The boxes of one sequence's result file, held to the one rule every analysis convention and packer
    applies: exactly one line of four finite numbers per frame, else a one-line :class:`ResultsError`
    naming the file (never padded, truncated or scored as NaN)."""
    return _check_per_frame(Path(path), read_boxes(path), num_frames)


def read_sequence_times(path: str | Path, num_frames: int) -> np.ndarray:
    """The per-frame seconds of one sequence's ``_time.txt``, under the same rule as the boxes."""
    return _check_per_frame(Path(path), read_times(path), num_frames)
