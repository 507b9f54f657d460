"""Generated test sets in the layouts of OTB100, UAV123, NfS, TC128, TNL2K, LaSOT-ext and AVisT.

The videos come from the synthetic renderer (:func:`lib.data.synthetic.render_sequence`); this module only writes
them the way each benchmark stores its files (see :mod:`lib.data.test_sets`), including each layout's quirks:
OTB's two-target folder and whitespace-separated annotation, UAV123's NaN rows for absent frames, NfS's tabs,
TC128's ``_frames.txt``, LaSOT/AVisT visibility flags, and per-sequence attribute files (LaSOT's 14 flags in
``annos/att/<seq>.txt``, UAV123's 12 in ``anno/UAV123/att/<seq>.txt``). Read them with the ``*_all`` names
(``otb_all``, ``uav123_all``, ...): the sequences are not the benchmarks' own.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Optional, Union

import cv2
import numpy as np

from lib.data.attributes import LASOT_ATTRIBUTES, UAV123_ATTRIBUTES
from lib.data.synthetic import SyntheticOptions, SyntheticSequence, difficulty_options, render_sequence
from lib.utils.io import atomic_write_text

logger = logging.getLogger(__name__)

LAYOUTS = ("otb", "uav123", "nfs", "tc128", "tnl2k", "lasot_extension", "lasot_attributes", "avist")

LASOT_EXTENSION_CLASSES = ("atv", "badminton", "cosplay", "dancingshoe", "footbag", "frisbee", "jianzi", "lantern")


def _image(path: Path, frame: np.ndarray, quality: int) -> None:
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if path.suffix == ".jpg" else []
    ok, data = cv2.imencode(path.suffix, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise OSError(f"{path}: image encoding failed")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.tobytes())


def _boxes_text(boxes: np.ndarray, sep: str = ",") -> str:
    return "".join(sep.join("nan" if np.isnan(v) else f"{v:.0f}" for v in box) + "\n" for box in boxes)


def _flag_line(flags: np.ndarray) -> str:
    return ",".join(str(int(v)) for v in flags) + "\n"


def _render_all(sequences: int, frames: int, seed: int, layout_id: int, opts: SyntheticOptions):
    for index in range(sequences):
        yield index, render_sequence(np.random.default_rng([seed, 40 + layout_id, index]), frames, opts)


def _write_frames(seq: SyntheticSequence, path_of: Callable[[int], Path], opts: SyntheticOptions) -> None:
    for i, frame in enumerate(seq.frames):
        _image(path_of(i + 1), frame, opts.jpeg_quality)


def _attribute_flags(seed: int, index: int, count: int) -> np.ndarray:
    """Seeded 0/1 flags, every attribute present in roughly half the sequences."""
    return np.random.default_rng([seed, 99, index]).integers(0, 2, count)


def write_otb(out: Path, sequences: int, frames: int, seed: int, opts: SyntheticOptions) -> None:
    """``Synth<k>/img/%04d.jpg`` + ``groundtruth_rect.txt``; sequence 0 has two targets, sequence 1 uses tabs."""
    for index, seq in _render_all(sequences, frames, seed, 0, opts):
        folder = out / f"Synth{index + 1:02d}"
        _write_frames(seq, lambda n, folder=folder: folder / "img" / f"{n:04d}.jpg", opts)
        if index == 0:
            second = seq.boxes + np.array([1.0, 1.0, 0.0, 0.0])
            atomic_write_text(folder / "groundtruth_rect.1.txt", _boxes_text(seq.boxes))
            atomic_write_text(folder / "groundtruth_rect.2.txt", _boxes_text(second))
        else:
            atomic_write_text(folder / "groundtruth_rect.txt", _boxes_text(seq.boxes, "\t" if index == 1 else ","))


def write_uav123(out: Path, sequences: int, frames: int, seed: int, opts: SyntheticOptions) -> None:
    """``data_seq/UAV123/<seq>/%06d.jpg``, ``anno/UAV123/<seq>.txt`` (NaN rows while absent), ``anno/UAV123/att/``."""
    for index, seq in _render_all(sequences, frames, seed, 1, opts):
        name = f"synth{index + 1}"
        _write_frames(seq, lambda n, name=name: out / "data_seq" / "UAV123" / name / f"{n:06d}.jpg", opts)
        boxes = seq.boxes.copy()
        boxes[seq.absent] = np.nan
        flags = _attribute_flags(seed, index, len(UAV123_ATTRIBUTES))
        atomic_write_text(out / "anno" / "UAV123" / "att" / f"{name}.txt", _flag_line(flags))
        atomic_write_text(out / "anno" / "UAV123" / f"{name}.txt", _boxes_text(boxes))


def write_nfs(out: Path, sequences: int, frames: int, seed: int, opts: SyntheticOptions) -> None:
    """``sequences/<seq>/%05d.jpg``, ``anno/nfs_<seq>.txt`` (tab-separated)."""
    for index, seq in _render_all(sequences, frames, seed, 2, opts):
        name = f"synth_{index + 1}"
        _write_frames(seq, lambda n, name=name: out / "sequences" / name / f"{n:05d}.jpg", opts)
        atomic_write_text(out / "anno" / f"nfs_{name}.txt", _boxes_text(seq.boxes, "\t"))


def write_tc128(out: Path, sequences: int, frames: int, seed: int, opts: SyntheticOptions) -> None:
    """``<seq>/img/%04d.jpg``, ``<seq>/<seq>_gt.txt``, ``<seq>/<seq>_frames.txt`` (``1,N``)."""
    for index, seq in _render_all(sequences, frames, seed, 3, opts):
        name = f"Synth_{index + 1}"
        _write_frames(seq, lambda n, name=name: out / name / "img" / f"{n:04d}.jpg", opts)
        atomic_write_text(out / name / f"{name}_frames.txt", f"1,{len(seq.frames)}\n")
        atomic_write_text(out / name / f"{name}_gt.txt", _boxes_text(seq.boxes))


def write_tnl2k(out: Path, sequences: int, frames: int, seed: int, opts: SyntheticOptions) -> None:
    """``<seq>/imgs/%05d.png`` (listed, not numbered by the reader), ``groundtruth.txt``, ``language.txt``."""
    for index, seq in _render_all(sequences, frames, seed, 4, opts):
        name = f"synth_{index + 1}"
        _write_frames(seq, lambda n, name=name: out / name / "imgs" / f"{n:05d}.png", opts)
        atomic_write_text(out / name / "language.txt", "the textured object moving over the background\n")
        atomic_write_text(out / name / "groundtruth.txt", _boxes_text(seq.boxes))


def _lasot_flags(seq: SyntheticSequence) -> tuple[np.ndarray, np.ndarray]:
    return (seq.cover == 0) & ~seq.absent, seq.absent


def write_lasot_extension(out: Path, sequences: int, frames: int, seed: int, opts: SyntheticOptions) -> None:
    """LaSOT layout under LaSOT-ext class names, with ``annos/att/<seq>.txt`` attribute flags."""
    for index, seq in _render_all(sequences, frames, seed, 5, opts):
        cls = LASOT_EXTENSION_CLASSES[index % len(LASOT_EXTENSION_CLASSES)]
        name = f"{cls}-{index // len(LASOT_EXTENSION_CLASSES) + 1}"
        folder = out / cls / name
        _write_frames(seq, lambda n, folder=folder: folder / "img" / f"{n:08d}.jpg", opts)
        full, out_of_view = _lasot_flags(seq)
        atomic_write_text(folder / "full_occlusion.txt", _flag_line(full))
        atomic_write_text(folder / "out_of_view.txt", _flag_line(out_of_view))
        flags = _attribute_flags(seed, index, len(LASOT_ATTRIBUTES))
        atomic_write_text(out / "annos" / "att" / f"{name}.txt", _flag_line(flags))
        atomic_write_text(folder / "groundtruth.txt", _boxes_text(seq.boxes))


def write_lasot_attributes(root: Path, seed: int) -> list[str]:
    """``annos/att/<seq>.txt`` (14 flags, LaSOT toolkit order) for every sequence folder of a LaSOT root."""
    names = sorted(p.name for p in root.glob("*/*") if p.is_dir() and p.name.rsplit("-", 1)[0] == p.parent.name)
    for index, name in enumerate(names):
        flags = _attribute_flags(seed, index, len(LASOT_ATTRIBUTES))
        atomic_write_text(root / "annos" / "att" / f"{name}.txt", _flag_line(flags))
    return names


def write_avist(out: Path, sequences: int, frames: int, seed: int, opts: SyntheticOptions) -> None:
    """``sequences/<seq>/img_%05d.jpg``, ``anno/<seq>.txt`` (spaces), ``full_occlusion/``, ``out_of_view/``."""
    for index, seq in _render_all(sequences, frames, seed, 6, opts):
        name = f"synth_in_fog_{index + 1}"
        _write_frames(seq, lambda n, name=name: out / "sequences" / name / f"img_{n:05d}.jpg", opts)
        full, out_of_view = _lasot_flags(seq)
        atomic_write_text(out / "full_occlusion" / f"{name}_full_occlusion.txt", _flag_line(full))
        atomic_write_text(out / "out_of_view" / f"{name}_out_of_view.txt", _flag_line(out_of_view))
        atomic_write_text(out / "anno" / f"{name}.txt", _boxes_text(seq.boxes, " "))


_WRITERS = {
    "otb": write_otb,
    "uav123": write_uav123,
    "nfs": write_nfs,
    "tc128": write_tc128,
    "tnl2k": write_tnl2k,
    "lasot_extension": write_lasot_extension,
    "avist": write_avist,
}


def generate_test_set(
    layout: str,
    out: Union[str, Path],
    sequences: int,
    frames: int,
    seed: int = 0,
    difficulty: str = "medium",
    opts: Optional[SyntheticOptions] = None,
    **overrides,
) -> Path:
    """Write ``sequences`` generated videos of ``frames`` frames in ``layout`` (one of :data:`LAYOUTS`) under ``out``.

    ``lasot_attributes`` adds attribute files to an existing LaSOT root instead (``sequences``/``frames`` unused).
    """
    out = Path(out)
    if layout == "lasot_attributes":
        names = write_lasot_attributes(out, seed)
        logger.info("wrote LaSOT attribute files for %d sequences under %s/annos/att", len(names), out)
        return out
    if layout not in _WRITERS:
        raise ValueError(f"unknown layout '{layout}'; valid: {', '.join(LAYOUTS)}")
    _WRITERS[layout](out, sequences, frames, seed, opts or difficulty_options(difficulty, **overrides))
    logger.info("wrote %s layout to %s (%d sequences of %d frames)", layout, out, sequences, frames)
    return out
