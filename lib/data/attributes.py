"""Per-sequence attributes of a benchmark (which challenges each video has), for per-attribute analysis.

Two sources:

* a folder of per-sequence flag files ``<seq>.txt``, one line of comma-separated 0/1 flags in the benchmark's
  attribute order: LaSOT's toolkit ``annos/att/`` (14 flags, also LaSOT-ext) and UAV123's ``anno/UAV123/att/``
  (12 flags, part of the dataset download);
* a JSON table in pytracking's ``dataset_attribute_specs`` format, for any benchmark (OTB, AVisT, ...):
  ``{"att_name_short": [...], "att_name_long": [...], "<seq>": [short names of its attributes], ...}``.

Default places (when no ``--attributes`` is given): ``<lasot root>/annos/att`` for LaSOT and LaSOT-ext (copy the
LaSOT toolkit's folder there) and ``<uav root>/anno/UAV123/att`` for UAV123.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from lib.data.errors import DatasetError

LASOT_ATTRIBUTES = ("IV", "POC", "DEF", "MB", "CM", "ROT", "BC", "VC", "SV", "FOC", "FM", "OV", "LR", "ARC")
LASOT_ATTRIBUTE_NAMES = (
    "Illumination Variation", "Partial Occlusion", "Deformation", "Motion Blur", "Camera Motion", "Rotation",
    "Background Clutter", "Viewpoint Change", "Scale Variation", "Full Occlusion", "Fast Motion", "Out-of-View",
    "Low Resolution", "Aspect Ratio Change",
)  # fmt: skip
UAV123_ATTRIBUTES = ("SV", "ARC", "LR", "FM", "FOC", "POC", "OV", "BC", "IV", "VC", "CM", "SOB")
UAV123_ATTRIBUTE_NAMES = (
    "Scale Variation", "Aspect Ratio Change", "Low Resolution", "Fast Motion", "Full Occlusion", "Partial Occlusion",
    "Out-of-View", "Background Clutter", "Illumination Variation", "Viewpoint Change", "Camera Motion",
    "Similar Object",
)  # fmt: skip

# benchmark prefix -> (flag order, long names, default flag folder relative to the benchmark root)
FLAG_FOLDERS = {
    "lasot": (LASOT_ATTRIBUTES, LASOT_ATTRIBUTE_NAMES, "annos/att"),
    "uav": (UAV123_ATTRIBUTES, UAV123_ATTRIBUTE_NAMES, "anno/UAV123/att"),
}


@dataclass
class AttributeTable:
    """Attribute short names (table order), their long names, and the attributes of each sequence."""

    short: list[str]
    long: list[str]
    of_sequence: dict[str, set[str]]

    def sequences_with(self, attribute: str, names: Sequence[str]) -> list[str]:
        return [n for n in names if attribute in self.of_sequence[n]]


def _flag_kind(benchmark: str) -> Optional[str]:
    return next((k for k in FLAG_FOLDERS if benchmark.lower().startswith(k)), None)


def default_location(benchmark: str, root: Path) -> Optional[Path]:
    """Where ``benchmark`` keeps its flag files under its dataset ``root``, or None if it has no such place."""
    kind = _flag_kind(benchmark)
    return None if kind is None else root / FLAG_FOLDERS[kind][2]


def read_flag_folder(folder: Path, benchmark: str, names: Sequence[str]) -> AttributeTable:
    """``<folder>/<seq>.txt`` for every sequence of ``names``; one-line error naming a missing or malformed file."""
    kind = _flag_kind(benchmark)
    if kind is None:
        raise DatasetError(
            f"{folder}: per-sequence flag files need {benchmark}'s attribute order, which only LaSOT, LaSOT-ext and "
            "UAV123 define; give a JSON table (pytracking's att_name_short format) with --attributes"
        )
    short, long, _ = FLAG_FOLDERS[kind]
    of_sequence = {}
    for name in names:
        path = folder / f"{name}.txt"
        if not path.is_file():
            raise DatasetError(f"{path}: attribute file missing (one line of {len(short)} 0/1 flags: {' '.join(short)})")
        values = path.read_text().replace(",", " ").split()
        if len(values) != len(short) or any(v not in ("0", "1") for v in values):
            raise DatasetError(f"{path}: expected {len(short)} comma-separated 0/1 flags ({' '.join(short)})")
        of_sequence[name] = {a for a, v in zip(short, values) if v == "1"}
    return AttributeTable(list(short), list(long), of_sequence)


def read_json_table(path: Path, names: Sequence[str]) -> AttributeTable:
    """A pytracking-style JSON attribute table covering every sequence of ``names``."""
    try:
        data = json.loads(path.read_text())
        short, long = list(data["att_name_short"]), list(data.get("att_name_long", data["att_name_short"]))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: not an attribute table with att_name_short ({type(exc).__name__}: {exc})") from None
    missing = [n for n in names if n not in data]
    if missing:
        raise DatasetError(f"{path}: no attributes for {len(missing)} sequences (first: {', '.join(missing[:3])})")
    unknown = sorted({a for n in names for a in data[n]} - set(short))
    if unknown:
        raise DatasetError(f"{path}: attributes {', '.join(unknown)} are not in att_name_short")
    return AttributeTable(short, long, {n: set(data[n]) for n in names})


def load_attributes(benchmark: str, names: Sequence[str], path: Optional[Path], root: Optional[Path]) -> AttributeTable:
    """The attribute table of ``names``: ``path`` (folder of flag files or JSON table) or the benchmark's default."""
    if path is None:
        path = default_location(benchmark, root) if root is not None else None
        if path is None:
            raise DatasetError(f"{benchmark} has no attribute files in its layout; give a JSON table with --attributes")
    path = Path(path)
    if path.is_dir():
        return read_flag_folder(path, benchmark, names)
    if not path.is_file():
        raise DatasetError(f"{path}: attribute folder or table not found")
    return read_json_table(path, names)
