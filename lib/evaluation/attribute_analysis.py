"""Per-attribute analysis: AUC per attribute per tracker, as a table, a CSV and a radar plot.

The AUC of an attribute is the benchmark's AUC (pytracking convention by default, or ``lasot_matlab``) over the
sequences that have the attribute: per-sequence success curves averaged over those sequences, then the mean of
the 21-point curve (pytracking's ``print_results_per_attribute``). ``ALL`` is every sequence.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from lib.data.attributes import AttributeTable
from lib.data.sequence import TestSequence
from lib.evaluation.analysis import AnalysisError, TrackerRun, collect, summarise
from lib.evaluation.plots import plot_radar
from lib.utils.io import atomic_write_text

CURVE_CONVENTIONS = ("pytracking", "lasot_matlab")  # the conventions whose AUC is a mean of per-sequence curves


@dataclass
class AttributeReport:
    attributes: list[str]  # short names with at least one sequence, table order, then ALL
    counts: dict[str, int]  # sequences per attribute
    auc: dict[str, dict[str, float]]  # tracker label -> attribute -> AUC (percent)
    table: str
    csv_path: Optional[Path]
    radar_path: Optional[Path]


def attribute_aucs(
    labels: Sequence[str], per_run: Sequence[dict], names: Sequence[str], table: AttributeTable, convention: str
) -> tuple[list[str], dict[str, int], dict[str, dict[str, float]]]:
    """(attributes present, sequences per attribute, AUC per tracker per attribute) over ``names``."""
    subsets = {a: table.sequences_with(a, names) for a in table.short}
    attributes = [a for a in table.short if subsets[a]] + ["ALL"]
    subsets["ALL"] = list(names)
    auc = {
        label: {a: summarise(convention, [per_seq[n] for n in subsets[a]])["auc"] for a in attributes}
        for label, per_seq in zip(labels, per_run)
    }
    return attributes, {a: len(subsets[a]) for a in attributes}, auc


def format_attribute_table(dataset: str, convention: str, attributes, counts, auc, long_names: dict) -> str:
    header = (
        f"{dataset}: AUC per attribute ({convention} convention); (n) = sequences with the attribute; "
        + ", ".join(f"{a} = {long_names.get(a, 'every sequence')}" for a in attributes)
    )
    columns = [f"{a}({counts[a]})" for a in attributes]
    width = max([len("Tracker")] + [len(label) for label in auc])
    lines = [header, "  ".join(["Tracker".ljust(width)] + [c.rjust(max(len(c), 6)) for c in columns])]
    for label, values in auc.items():
        cells = [f"{values[a]:.2f}".rjust(max(len(c), 6)) for a, c in zip(attributes, columns)]
        lines.append("  ".join([label.ljust(width)] + cells))
    return "\n".join(lines)


def analyse_attributes(
    runs: Sequence[TrackerRun],
    sequences: Sequence[TestSequence],
    dataset: str,
    results_dir: str | Path,
    table: AttributeTable,
    out_dir: Optional[str | Path] = None,
    convention: str = "pytracking",
    skip_missing: bool = False,
) -> AttributeReport:
    """AUC per attribute per tracker; with ``out_dir``, writes ``attributes_<convention>.{txt,csv}`` and a radar plot."""
    if convention not in CURVE_CONVENTIONS:
        raise AnalysisError(f"per-attribute analysis needs a curve convention ({', '.join(CURVE_CONVENTIONS)}), "
                            f"not '{convention}'")  # fmt: skip
    out = Path(out_dir) if out_dir is not None else None
    names, per_run = collect(runs, sequences, dataset, convention, results_dir, out, skip_missing)
    labels = [run.label for run in runs]
    attributes, counts, auc = attribute_aucs(labels, per_run, names, table, convention)
    long_names = dict(zip(table.short, table.long))
    text = format_attribute_table(dataset, convention, attributes, counts, auc, long_names)
    csv_path = radar_path = None
    if out is not None:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(["tracker", "attribute", "attribute_name", "num_sequences", "auc"])
        for label in labels:
            for a in attributes:
                writer.writerow([label, a, long_names.get(a, "every sequence"), counts[a], f"{auc[label][a]:.4f}"])
        csv_path = out / f"attributes_{convention}.csv"
        atomic_write_text(csv_path, buffer.getvalue())
        atomic_write_text(out / f"attributes_{convention}.txt", text + "\n")
        spokes = [a for a in attributes if a != "ALL"] or attributes
        polygons = [(label, np.array([auc[label][a] for a in spokes])) for label in labels]
        radar_path = plot_radar(out / f"attributes_radar_{convention}.png", [f"{a}({counts[a]})" for a in spokes],
                                polygons, f"AUC per attribute on {dataset}")  # fmt: skip
    return AttributeReport(attributes, counts, auc, text, csv_path, radar_path)
