"""Ground truth of the evaluation splits, read straight from the dataset folders (no frames decoded).

The analysis needs more than ``lib.data.sequence.TestSequence`` carries: GOT-10k's toolkit clips boxes
to the image resolution (``meta_info.ini``) and drops frames by ``cover.label``. These readers load
just the annotation files of one split; they never read images.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from lib.config.loader import PROJECT_ROOT

LASOT_TEST_SPLIT = PROJECT_ROOT / "lib" / "data_specs" / "lasot_test_split.txt"


class BenchmarkError(ValueError):
    """A missing or malformed annotation file (one-line message naming it)."""


@dataclass
class EvalSequence:
    """Annotations of one sequence as the metrics need them.

    Attributes:
        name: sequence name (the result file is ``<name>.txt``).
        ground_truth: (N, 4) float ``x, y, w, h``.
        target_visible: (N,) bool or None (LaSOT: ``~full_occlusion & ~out_of_view``).
        cover: (N,) GOT-10k ``cover.label`` (0..8) or None.
        image_size: ``(W, H)`` or None (GOT-10k ``meta_info.ini`` resolution).
    """

    name: str
    ground_truth: np.ndarray
    target_visible: Optional[np.ndarray] = None
    cover: Optional[np.ndarray] = None
    image_size: Optional[tuple[int, int]] = None


def _read_matrix(path: Path, columns: int) -> np.ndarray:
    if not path.is_file():
        raise BenchmarkError(f"{path}: annotation file not found")
    rows = []
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = [f for f in re.split(r"[\t, ]+", line.strip()) if f]
        try:
            rows.append([float(f) for f in fields])
        except ValueError:
            raise BenchmarkError(f"{path}:{line_no}: not numbers") from None
        if len(rows[-1]) != columns:
            raise BenchmarkError(f"{path}:{line_no}: expected {columns} values, got {len(rows[-1])}")
    return np.asarray(rows, dtype=np.float64).reshape(-1, columns)


def _read_flags(path: Path) -> np.ndarray:
    if not path.is_file():
        raise BenchmarkError(f"{path}: annotation file not found")
    fields = [f for f in re.split(r"[\t,\s]+", path.read_text().strip()) if f]
    try:
        return np.asarray([float(f) for f in fields], dtype=np.float64)
    except ValueError:
        raise BenchmarkError(f"{path}: expected numbers") from None


def lasot_test_sequences(lasot_root: str | Path, names: Optional[list[str]] = None) -> list[EvalSequence]:
    """The 280 LaSOT test sequences (``lib/data_specs/lasot_test_split.txt``) with visibility flags."""
    root = Path(lasot_root)
    if names is None:
        names = [n.strip() for n in LASOT_TEST_SPLIT.read_text().splitlines() if n.strip()]
    sequences = []
    for name in names:
        folder = root / name.rsplit("-", 1)[0] / name
        gt = _read_matrix(folder / "groundtruth.txt", 4)
        occlusion = _read_flags(folder / "full_occlusion.txt").astype(bool)
        out_of_view = _read_flags(folder / "out_of_view.txt").astype(bool)
        if occlusion.shape[0] != gt.shape[0] or out_of_view.shape[0] != gt.shape[0]:
            raise BenchmarkError(f"{folder}: visibility flags and groundtruth.txt differ in length")
        sequences.append(EvalSequence(name, gt, target_visible=~occlusion & ~out_of_view))
    return sequences


def _got10k_resolution(meta_file: Path) -> Optional[tuple[int, int]]:
    if not meta_file.is_file():
        return None
    match = re.search(r"resolution\s*:\s*\(\s*(\d+)\s*,\s*(\d+)\s*\)", meta_file.read_text())
    return (int(match.group(1)), int(match.group(2))) if match else None


def got10k_sequences(got10k_root: str | Path, split: str = "val") -> list[EvalSequence]:
    """GOT-10k ``val`` (or ``train``) sequences with ``cover.label`` and the image resolution."""
    split_dir = Path(got10k_root) / split
    list_file = split_dir / "list.txt"
    if not list_file.is_file():
        raise BenchmarkError(f"{list_file}: GOT-10k {split} list not found")
    sequences = []
    for name in [n.strip() for n in list_file.read_text().splitlines() if n.strip()]:
        folder = split_dir / name
        gt = _read_matrix(folder / "groundtruth.txt", 4)
        cover_file = folder / "cover.label"
        cover = _read_flags(cover_file) if cover_file.is_file() else None
        absence_file = folder / "absence.label"
        visible = ~_read_flags(absence_file).astype(bool) if absence_file.is_file() else None
        if cover is not None and visible is not None:
            visible = visible & (cover > 0)
        sequences.append(
            EvalSequence(
                name, gt, target_visible=visible, cover=cover, image_size=_got10k_resolution(folder / "meta_info.ini")
            )
        )
    return sequences


def trackingnet_sequences(trackingnet_root: str | Path, chunk: str = "TEST") -> list[EvalSequence]:
    """TrackingNet sequences of one chunk (``TEST`` has first-frame GT only: usable for packing, not scoring)."""
    anno_dir = Path(trackingnet_root) / chunk / "anno"
    if not anno_dir.is_dir():
        raise BenchmarkError(f"{anno_dir}: TrackingNet annotations not found")
    return [EvalSequence(p.stem, _read_matrix(p, 4)) for p in sorted(anno_dir.glob("*.txt"))]


def load_eval_sequences(dataset: str, settings) -> list[EvalSequence]:
    """Sequences of ``dataset`` (``lasot``, ``got10k_val``, ``trackingnet[_<CHUNK>]``) from ``LocalSettings``."""
    name = dataset.lower()
    if name == "lasot":
        return lasot_test_sequences(settings.dataset_root("lasot_dir"))
    if name == "got10k_val":
        return got10k_sequences(settings.dataset_root("got10k_dir"), "val")
    if name.startswith("trackingnet"):
        chunk = dataset.split("_", 1)[1].upper() if "_" in dataset else "TEST"
        return trackingnet_sequences(settings.dataset_root("trackingnet_dir"), chunk)
    raise BenchmarkError(f"dataset '{dataset}' cannot be analysed locally (choose lasot, got10k_val, trackingnet)")
