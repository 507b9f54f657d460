"""Test-time readers of seven more benchmarks, in their public layouts.

=================  ==========================================================================================
``otb``            OTB100: ``<Seq>/img/%04d.jpg``, ``<Seq>/groundtruth_rect.txt`` (comma or whitespace); Jogging and
                   Skating2 have two targets (``groundtruth_rect.1/.2.txt`` -> ``Jogging_1``, ``Jogging_2``)
``uav123``         UAV123: ``data_seq/UAV123/<video>/%06d.jpg``, ``anno/UAV123/<seq>.txt``; NaN rows = target absent
``nfs``            NfS 30 fps: ``sequences/<seq>/%05d.jpg``, ``anno/nfs_<seq>.txt``
``tc128``          TC128: ``<seq>/img/%04d.jpg``, ``<seq>/<seq>_gt.txt``, ``<seq>/<seq>_frames.txt`` (``start,end``)
``tnl2k``          TNL2K: ``<seq>/imgs/`` (every image, in name order), ``<seq>/groundtruth.txt``
``lasot_extension`` LaSOT-ext: LaSOT layout, ``full_occlusion.txt`` / ``out_of_view.txt`` give visibility
``avist``          AVisT: ``sequences/<seq>/img_%05d.jpg``, ``anno/<seq>.txt``, ``full_occlusion/``, ``out_of_view/``
=================  ==========================================================================================

OTB, UAV123 and NfS use the per-sequence frame ranges of their benchmark tables, LaSOT-ext and AVisT their
sequence lists (``lib/data_specs/*_sequences.txt``, each naming its source). Every listed sequence must be
present; ``<name>_all`` reads every sequence found instead (generated or partial sets), with the table's rules
for the sequences the table knows and the layout's plain rule (frames 1..N, N = annotation lines) for the others.

Annotation rules, applied and logged: more annotation lines than frames in the range -> the extra lines are
dropped; fewer -> error; NaN rows are "target absent" on UAV123 (the benchmark's rule) and an error elsewhere.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Callable, Optional

import numpy as np

from lib.data.datasets.base import parse_boxes, parse_flags, read_optional, read_required
from lib.data.datasets.got10k import read_split_file
from lib.data.errors import DatasetError
from lib.data.image_source import ImageSource
from lib.data.sequence import TestSequence

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpecRow:
    """One sequence of a benchmark table: frames ``start + omit .. end`` of ``folder``, annotation ``anno``."""

    name: str
    start: int = 1
    end: Optional[int] = None  # None: as many frames as annotation lines
    folder: str = ""
    anno: str = ""
    digits: int = 4
    ext: str = "jpg"
    omit: int = 0


def read_spec(file_name: str) -> list[SpecRow]:
    """Rows ``name [start end] [key=value ...]`` of a shipped table in ``lib/data_specs`` (``#`` lines are comments)."""
    rows = []
    for number, line in enumerate(read_split_file(file_name), start=1):
        if line.startswith("#"):
            continue
        fields = line.split()
        plain = [f for f in fields[1:] if "=" not in f]
        options = dict(f.split("=", 1) for f in fields[1:] if "=" in f)
        try:
            row = SpecRow(fields[0], *(int(v) for v in plain))
            typed = {k: int(v) if k in ("digits", "omit") else v for k, v in options.items()}
            rows.append(replace(row, **typed))
        except (TypeError, ValueError) as exc:
            raise DatasetError(f"lib/data_specs/{file_name} entry {number} '{line}': {exc}") from None
    return rows


def fit_annotation(boxes: np.ndarray, n_frames: int, where: str, nan_absent: bool) -> np.ndarray:
    """Ground truth for ``n_frames`` frames under the rules in the module docstring (logged when applied)."""
    if len(boxes) < n_frames:
        raise DatasetError(f"{where}: {len(boxes)} annotation lines for {n_frames} frames")
    if len(boxes) > n_frames:
        logger.warning("%s: %d annotation lines for %d frames; the extra lines are dropped", where, len(boxes), n_frames)
        boxes = boxes[:n_frames]
    nan_rows = np.flatnonzero(np.isnan(boxes).any(axis=1))
    if nan_rows.size and not nan_absent:
        raise DatasetError(f"{where} line {nan_rows[0] + 1}: NaN annotation row (this benchmark has no absence rule)")
    if nan_rows.size:
        logger.info("%s: %d NaN rows read as 'target absent' (UAV123 rule)", where, nan_rows.size)
    return boxes


def _numeric_order(name: str) -> tuple:
    stem = name.rsplit(".", 1)[0]
    digits = "".join(c for c in stem if c.isdigit())
    return (0, int(digits), name) if digits else (1, 0, name)


# ----------------------------------------------------------------------------------------------
# benchmarks given by frame ranges (OTB, UAV123, NfS, TC128)


@dataclass(frozen=True)
class RangeLayout:
    """Where a range benchmark keeps its frames and annotations, and how its folders are found."""

    title: str
    layout: str
    spec: Optional[str]  # table in lib/data_specs, or None (every sequence found is the benchmark)
    frame_key: Callable[[SpecRow, int], str]
    anno_key: Callable[[SpecRow], str]
    discover: Callable[[ImageSource], list[SpecRow]]  # plain-rule rows of every sequence present
    nan_absent: bool = False


def _range_sequence(source: ImageSource, benchmark: str, layout: RangeLayout, row: SpecRow) -> TestSequence:
    key = layout.anno_key(row)
    where = source.describe(key)
    boxes = parse_boxes(read_required(source, key, layout.layout), where)[row.omit :]
    end = row.end if row.end is not None else row.start + row.omit + len(boxes) - 1
    frames = [layout.frame_key(row, n) for n in range(row.start + row.omit, end + 1)]
    if not frames or not source.exists(frames[-1]):
        raise DatasetError(
            f"{source.describe(frames[-1] if frames else key)}: frame missing (the range of {row.name} is "
            f"{row.start}..{end}); expected layout: {layout.layout}"
        )
    boxes = fit_annotation(boxes, len(frames), where, layout.nan_absent)
    return TestSequence(row.name, benchmark, frames, boxes, source)


def _otb_discover(source: ImageSource) -> list[SpecRow]:
    rows = []
    for folder in source.list(""):
        annos = [f for f in source.list(folder) if f.startswith("groundtruth_rect") and f.endswith(".txt")]
        if "groundtruth_rect.txt" in annos:
            rows.append(SpecRow(folder, folder=folder, anno="groundtruth_rect.txt"))
        else:  # several targets: groundtruth_rect.<k>.txt -> <Seq>_<k>
            for anno in sorted(annos):
                rows.append(SpecRow(f"{folder}_{anno.split('.')[1]}", folder=folder, anno=anno))
    return rows


def _otb_row(row: SpecRow) -> SpecRow:
    return replace(row, folder=row.folder or row.name, anno=row.anno or "groundtruth_rect.txt")


def _tc128_discover(source: ImageSource) -> list[SpecRow]:
    rows = []
    for name in source.list(""):
        if not source.exists(f"{name}/{name}_gt.txt"):
            continue
        text = read_optional(source, f"{name}/{name}_frames.txt")
        if text is None:
            rows.append(SpecRow(name))
            continue
        try:
            start, end = (int(v) for v in text.replace(",", " ").split()[:2])
        except ValueError:
            raise DatasetError(f"{source.describe(f'{name}/{name}_frames.txt')}: expected 'start,end'") from None
        rows.append(SpecRow(name, start, end))
    return rows


RANGE_LAYOUTS = {
    "otb": RangeLayout(
        "OTB100",
        "otb/<Seq>/{img/0001.jpg, groundtruth_rect.txt}",
        "otb100_sequences.txt",
        lambda r, n: f"{_otb_row(r).folder}/img/{n:0{r.digits}d}.{r.ext}",
        lambda r: f"{_otb_row(r).folder}/{_otb_row(r).anno}",
        _otb_discover,
    ),
    "uav123": RangeLayout(
        "UAV123",
        "uav/{data_seq/UAV123/<seq>/000001.jpg, anno/UAV123/<seq>.txt}",
        "uav123_sequences.txt",
        lambda r, n: f"data_seq/UAV123/{r.folder or r.name}/{n:06d}.jpg",
        lambda r: f"anno/UAV123/{r.name}.txt",
        lambda s: [SpecRow(f[:-4]) for f in s.list("anno/UAV123") if f.endswith(".txt")],
        nan_absent=True,
    ),
    "nfs": RangeLayout(
        "NfS (30 fps)",
        "nfs/{sequences/<seq>/00001.jpg, anno/nfs_<seq>.txt}",
        "nfs30_sequences.txt",
        lambda r, n: f"sequences/{r.name}/{n:05d}.jpg",
        lambda r: f"anno/nfs_{r.name}.txt",
        lambda s: [SpecRow(f[4:-4]) for f in s.list("anno") if f.startswith("nfs_") and f.endswith(".txt")],
    ),
    "tc128": RangeLayout(
        "TC128",
        "tc128/<seq>/{img/0001.jpg, <seq>_gt.txt, <seq>_frames.txt}",
        None,
        lambda r, n: f"{r.name}/img/{n:04d}.jpg",
        lambda r: f"{r.name}/{r.name}_gt.txt",
        _tc128_discover,
    ),
}


def _range_rows(source: ImageSource, name: str, layout: RangeLayout, every: bool) -> list[SpecRow]:
    found = layout.discover(source)
    if layout.spec is None:
        rows = found
    elif every:
        table = {r.name: r for r in read_spec(layout.spec)}
        rows = [table.get(r.name, r) for r in found]
    else:
        rows = read_spec(layout.spec)
        missing = [r.name for r in rows if not source.exists(layout.anno_key(r))]
        if missing:
            raise _missing(source, name, layout.spec, missing, len(rows))
    if not rows:
        raise DatasetError(f"{source.root}: no {layout.title} sequence found; expected layout: {layout.layout}")
    return rows


def _missing(source: ImageSource, name: str, spec: str, missing: list[str], total: int) -> DatasetError:
    return DatasetError(
        f"{name} at {source.root}: {len(missing)} of {total} sequences named by lib/data_specs/{spec} are missing "
        f"(first: {', '.join(missing[:3])}); for a partial or generated set use the dataset name {name}_all"
    )


# ----------------------------------------------------------------------------------------------
# benchmarks with visibility flags (LaSOT-ext, AVisT) and TNL2K


def _flags(source: ImageSource, key: str, n: int) -> Optional[np.ndarray]:
    text = read_optional(source, key)
    return None if text is None else parse_flags(text, source.describe(key), n) != 0


def _visible_from(source: ImageSource, keys: tuple[str, str], n: int) -> np.ndarray:
    """``~full_occlusion & ~out_of_view`` (pytracking's rule); a missing flag file counts as all visible, logged."""
    visible = np.ones(n, dtype=bool)
    for key in keys:
        hidden = _flags(source, key, n)
        if hidden is None:
            logger.warning("%s not found: every frame counted as visible for that flag", source.describe(key))
        else:
            visible &= ~hidden
    return visible


def _lasot_ext_sequence(source: ImageSource, benchmark: str, name: str) -> TestSequence:
    folder = f"{name.rsplit('-', 1)[0]}/{name}"
    key = f"{folder}/groundtruth.txt"
    boxes = parse_boxes(source.read_text(key), source.describe(key))
    boxes = fit_annotation(boxes, len(boxes), source.describe(key), nan_absent=False)
    visible = _visible_from(source, (f"{folder}/full_occlusion.txt", f"{folder}/out_of_view.txt"), len(boxes))
    frames = [f"{folder}/img/{i:08d}.jpg" for i in range(1, len(boxes) + 1)]
    return TestSequence(name, benchmark, frames, boxes, source, visible)


def _avist_sequence(source: ImageSource, benchmark: str, name: str) -> TestSequence:
    key = f"anno/{name}.txt"
    boxes = parse_boxes(source.read_text(key), source.describe(key))
    boxes = fit_annotation(boxes, len(boxes), source.describe(key), nan_absent=False)
    flags = (f"full_occlusion/{name}_full_occlusion.txt", f"out_of_view/{name}_out_of_view.txt")
    visible = _visible_from(source, flags, len(boxes))
    frames = [f"sequences/{name}/img_{i:05d}.jpg" for i in range(1, len(boxes) + 1)]
    return TestSequence(name, benchmark, frames, boxes, source, visible)


def _tnl2k_sequence(source: ImageSource, benchmark: str, name: str) -> TestSequence:
    key = f"{name}/groundtruth.txt"
    boxes = parse_boxes(source.read_text(key), source.describe(key))
    images = sorted(
        (f for f in source.list(f"{name}/imgs") if f.lower().endswith((".jpg", ".jpeg", ".png"))), key=_numeric_order
    )
    if not images:
        raise DatasetError(f"{source.describe(f'{name}/imgs')}: no frames; expected layout: {NAMED_LAYOUTS['tnl2k'][0]}")
    boxes = fit_annotation(boxes, len(images), source.describe(key), nan_absent=False)
    return TestSequence(name, benchmark, [f"{name}/imgs/{f}" for f in images], boxes, source)


# name -> (layout text, shipped list or None, key that marks a present sequence, finder of present names, reader)
NAMED_LAYOUTS: dict[str, tuple] = {
    "lasot_extension": (
        "lasot_extension/<class>/<class>-<id>/{img/00000001.jpg, groundtruth.txt, full_occlusion.txt, out_of_view.txt}",
        "lasot_extension_sequences.txt",
        lambda n: f"{n.rsplit('-', 1)[0]}/{n}/groundtruth.txt",
        lambda s: [q for c in s.list("") for q in s.list(c) if q.rsplit("-", 1)[0] == c],
        _lasot_ext_sequence,
    ),
    "avist": (
        "avist/{sequences/<seq>/img_00001.jpg, anno/<seq>.txt, full_occlusion/<seq>_full_occlusion.txt, "
        "out_of_view/<seq>_out_of_view.txt}",
        "avist_sequences.txt",
        lambda n: f"anno/{n}.txt",
        lambda s: [f[:-4] for f in s.list("anno") if f.endswith(".txt")],
        _avist_sequence,
    ),
    "tnl2k": (
        "tnl2k/<seq>/{imgs/*.jpg|png, groundtruth.txt, language.txt}",
        None,
        lambda n: f"{n}/groundtruth.txt",
        lambda s: [n for n in s.list("") if s.exists(f"{n}/groundtruth.txt")],
        _tnl2k_sequence,
    ),
}


def _named_sequences(source: ImageSource, benchmark: str, kind: str, every: bool) -> list[TestSequence]:
    layout, spec, marker, find, read = NAMED_LAYOUTS[kind]
    if spec is None or every:
        names = [n for n in find(source) if source.exists(marker(n))]
    else:
        names = [line for line in read_split_file(spec) if not line.startswith("#")]
        missing = [n for n in names if not source.exists(marker(n))]
        if missing:
            raise _missing(source, kind, spec, missing, len(names))
    if not names:
        raise DatasetError(f"{source.root}: no {kind} sequence found; expected layout: {layout}")
    return [read(source, benchmark, n) for n in names]


# ----------------------------------------------------------------------------------------------
# registry entries


def load_sequences(benchmark: str, source: ImageSource) -> list[TestSequence]:
    """Test sequences of ``benchmark`` (a key of :data:`TEST_SETS`) read from ``source``."""
    kind, every = (benchmark[: -len("_all")], True) if benchmark.endswith("_all") else (benchmark, False)
    if kind in RANGE_LAYOUTS:
        layout = RANGE_LAYOUTS[kind]
        rows = _range_rows(source, kind, layout, every)
        return [_range_sequence(source, benchmark, layout, r) for r in rows]
    return _named_sequences(source, benchmark, kind, every)


# benchmark name -> settings key of its root
_ROOTS = {
    "otb": "otb",
    "uav123": "uav",
    "nfs": "nfs",
    "tc128": "tc128",
    "tnl2k": "tnl2k",
    "lasot_extension": "lasot_extension",
    "avist": "avist",
}
TEST_SETS: dict[str, str] = {
    **_ROOTS,
    **{f"{name}_all": root for name, root in _ROOTS.items() if name not in ("tc128", "tnl2k")},
}
