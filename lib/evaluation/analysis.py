"""Benchmark analysis: per-sequence metrics (cached), a table (text + CSV) and success/precision plots.

Which convention each number follows (see ``lib.evaluation.metrics`` for the exact rules):

* ``pytracking`` (default for LaSOT; the convention of STARK's published numbers): AUC (mean of the
  21-threshold success curve), OP50, OP75, precision @20 px, normalised precision @0.20; every
  sequence weighs the same; frame 0 := GT; invisible / invalid frames count as failures.
* ``got10k`` (default for GOT-10k val; the GOT-10k toolkit / server): AO, SR0.5, SR0.75 pooled over all
  frames of all sequences, frame 0 and ``cover == 0`` frames excluded, boxes clipped to the image;
  FPS = mean of 1/t over all frames.
* ``trackingnet`` (TrackingNet devkit / EvalAI): success, precision and normalised precision as
  trapezoid areas under 21-point curves, integer-rounded boxes, ``>=`` thresholds.
* ``lasot_matlab`` (LaSOT's MATLAB toolkit): AUC, precision @20 px, normalised precision @0.20 with
  absent frames removed from the numerator only and GT rows with a coordinate <= 0 counted as
  precision successes.

Per-sequence results are cached as JSON next to the report, keyed by the result file's size and
modification time, so a rerun only reads the sequences whose result files changed.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from lib.data.sequence import TestSequence
from lib.evaluation import metrics
from lib.evaluation.plots import plot_curves
from lib.evaluation.results_io import (
    ResultsError,
    box_file,
    read_sequence_boxes,
    read_sequence_times,
    results_folder,
    run_folder_name,
    time_file,
)
from lib.utils.io import atomic_write_text

logger = logging.getLogger(__name__)

CONVENTIONS = ("pytracking", "got10k", "trackingnet", "lasot_matlab")
DEFAULT_CONVENTION = {
    "lasot": "pytracking",
    "lasot_all": "pytracking",
    "got10k_val": "got10k",
    "trackingnet": "trackingnet",
}

CONVENTION_NOTES = {
    "pytracking": "pytracking/STARK convention: frame 0 := GT, inclusive-pixel IoU, 21 thresholds '>', "
    "AUC = mean of the curve, P @20 px, NP @0.20, invalid/invisible frames count as failures, mean over sequences",
    "got10k": "GOT-10k toolkit convention: frame 0 and cover==0 frames excluded, continuous IoU clipped to the image, "
    "AO/SR pooled over all frames of all sequences",
    "trackingnet": "TrackingNet devkit convention: integer-rounded boxes, '>=' thresholds, all three scores are "
    "trapezoid AUCs of 21-point curves (precision is NOT P@20px), mean over sequences; Coverage = the devkit's "
    "sanity check, % of all frames with a box (rounded x+y+w+h > 0, frame 0 := GT, missing files and lines count 0)",
    "lasot_matlab": "LaSOT MATLAB toolkit convention: absent frames removed but denominator = full length, "
    "GT with a coordinate <= 0 counts as precision success, 21 thresholds '>', mean over sequences",
}

# (column, summary key) per convention, in table order.
COLUMNS = {
    "pytracking": [("AUC", "auc"), ("OP50", "op50"), ("OP75", "op75"), ("Precision@20px", "precision"),
                   ("NormPrecision@0.20", "norm_precision")],
    "got10k": [("AO", "ao"), ("SR0.50", "sr50"), ("SR0.75", "sr75"), ("FPS", "speed_fps")],
    "trackingnet": [("Success(AUC)", "success_auc"), ("Precision(AUC)", "precision_auc"),
                    ("NormPrecision(AUC)", "norm_precision_auc"), ("Coverage", "coverage")],
    "lasot_matlab": [("AUC", "auc"), ("Precision@20px", "precision"), ("NormPrecision@0.20", "norm_precision")],
}  # fmt: skip


class AnalysisError(ValueError):
    """Results that cannot be analysed (one-line message naming the tracker, sequence or file)."""


@dataclass
class TrackerRun:
    """One set of result files: ``<results_dir>/<tracker>/<config>[_<runid>]``."""

    tracker: str
    config: str
    runid: Optional[int] = None
    display_name: Optional[str] = None

    @property
    def label(self) -> str:
        if self.display_name:
            return self.display_name
        run = "" if self.runid is None else f"_{self.runid:03d}"
        return f"{self.tracker}_{self.config}{run}"


# ----------------------------------------------------------------------------------------------
# per-sequence data


def pytracking_kind(dataset: str) -> str:
    """The dataset name pytracking's analysis branches on: ``lasot`` (LaSOT, LaSOT-ext), ``uav`` (NaN GT allowed)."""
    name = dataset.lower()
    for prefix, kind in (("lasot", "lasot"), ("uav", "uav"), ("avist", "avist")):
        if name.startswith(prefix):
            return kind
    return name


def sequence_data(
    convention: str, dataset: str, seq: TestSequence, pred: Optional[np.ndarray], times: Optional[np.ndarray]
) -> dict:
    """What the summary of ``convention`` needs from one sequence (JSON-able lists)."""
    if convention == "pytracking":
        # only the LaSOT and AVisT loaders give visibility flags; GOT-10k/TrackingNet sequences carry none there
        kind = pytracking_kind(dataset)
        visible = seq.target_visible if kind in ("lasot", "avist") else None
        errors = metrics.pytracking_sequence_errors(pred, seq.ground_truth, visible, dataset=kind)
        curves = metrics.pytracking_sequence_curves(errors)
    elif convention == "lasot_matlab":
        absent = None if seq.target_visible is None else ~seq.target_visible
        curves = metrics.lasot_matlab_sequence_curves(pred, seq.ground_truth, absent)
    elif convention == "trackingnet":
        curves = metrics.trackingnet_sequence_curves(pred, seq.ground_truth)
    elif convention == "got10k":
        cover = seq.cover if seq.cover is not None else seq.target_visible
        ious = metrics.got10k_sequence_ious(pred, seq.ground_truth, seq.image_size, cover)
        return {"ious": ious.tolist(), "times": [] if times is None else np.asarray(times).tolist()}
    else:
        raise AnalysisError(f"unknown convention '{convention}' (choose from {', '.join(CONVENTIONS)})")
    return {key: np.asarray(value).tolist() for key, value in curves.items()}


def summarise(convention: str, data: Sequence[dict]) -> dict:
    if convention in ("pytracking", "lasot_matlab"):
        return metrics.pytracking_summary([{k: np.asarray(v) for k, v in d.items()} for d in data])
    if convention == "trackingnet":
        return metrics.trackingnet_summary([{k: np.asarray(v) for k, v in d.items()} for d in data])
    return metrics.got10k_summary([np.asarray(d["ious"]) for d in data], [np.asarray(d["times"]) for d in data])


def _stamp(path: Path) -> list[int]:
    stat = path.stat()
    return [stat.st_mtime_ns, stat.st_size]


class SequenceCache:
    """Per-sequence data of one run and convention, in a JSON file; entries are invalidated by file stamps."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict = {}
        if path.is_file():
            try:
                self.entries = json.loads(path.read_text())
            except json.JSONDecodeError:
                logger.warning("%s: unreadable cache, recomputing", path)
        self.hits = 0
        self.dirty = False

    def get(self, seq: str, stamp: list[int]) -> Optional[dict]:
        entry = self.entries.get(seq)
        if entry is not None and entry.get("stamp") == stamp:
            self.hits += 1
            return entry["data"]
        return None

    def put(self, seq: str, stamp: list[int], data: dict) -> None:
        self.entries[seq] = {"stamp": stamp, "data": data}
        self.dirty = True

    def save(self) -> None:
        if self.dirty:
            atomic_write_text(self.path, json.dumps(self.entries))


def evaluate_run(
    run: TrackerRun,
    sequences: Sequence[TestSequence],
    dataset: str,
    convention: str,
    results_dir: str | Path,
    cache_dir: Optional[str | Path] = None,
) -> tuple[dict, list[dict]]:
    """Per-sequence data of ``run`` on ``sequences`` -> (``{seq: data}``, list of missing-sequence names).

    A missing result file is an error in every convention except ``trackingnet`` (the devkit scores it
    as all-zero boxes); the caller decides whether to skip missing sequences instead.
    """
    folder = results_folder(results_dir, run.tracker, run.config, dataset, run.runid)
    # keyed by the run, not its display name: two runs shown under one name must not share entries
    cache_name = f"{run.tracker}_{run_folder_name(run.config, run.runid)}_{convention}.json"
    cache = SequenceCache(Path(cache_dir) / cache_name) if cache_dir else None
    per_seq: dict = {}
    missing: list = []
    for seq in sequences:
        path = box_file(folder, seq.name)
        if not path.is_file():
            if convention == "trackingnet":
                per_seq[seq.name] = sequence_data(convention, dataset, seq, None, None)
            else:
                missing.append(seq.name)
            continue
        tpath = time_file(folder, seq.name)
        stamp = _stamp(path) + (_stamp(tpath) if tpath.is_file() else [])
        data = cache.get(seq.name, stamp) if cache else None
        if data is None:
            try:
                pred = read_sequence_boxes(path, len(seq))
                times = read_sequence_times(tpath, len(seq)) if tpath.is_file() else None
                data = sequence_data(convention, dataset, seq, pred, times)
            except (ResultsError, metrics.MetricsError) as err:
                raise AnalysisError(f"{run.label} / {seq.name}: {err}") from None
            if cache:
                cache.put(seq.name, stamp, data)
        per_seq[seq.name] = data
    if cache:
        cache.save()
        logger.info("%s: %d/%d sequences from the cache", run.label, cache.hits, len(sequences))
    return per_seq, missing


# ----------------------------------------------------------------------------------------------
# report


@dataclass
class Report:
    convention: str
    labels: list[str]
    summaries: list[dict]
    num_sequences: int
    table: str
    csv_path: Optional[Path]
    plot_paths: list[Path]


def format_table(dataset: str, convention: str, labels: Sequence[str], summaries: Sequence[dict], n: int) -> str:
    columns = COLUMNS[convention]
    units = "scores in %" + (", FPS in frames/s" if any(key == "speed_fps" for _, key in columns) else "")
    header = f"{dataset} ({n} sequences; {units}) -- {CONVENTION_NOTES[convention]}"
    width = max([len("Tracker")] + [len(label) for label in labels])
    lines = [header, "  ".join(["Tracker".ljust(width)] + [name.rjust(max(len(name), 7)) for name, _ in columns])]
    for label, summary in zip(labels, summaries):
        cells = [f"{summary[key]:.2f}".rjust(max(len(name), 7)) for name, key in columns]
        lines.append("  ".join([label.ljust(width)] + cells))
    return "\n".join(lines)


def _csv_text(convention: str, labels: Sequence[str], summaries: Sequence[dict], n: int) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = COLUMNS[convention]
    writer.writerow(["tracker", "convention", "num_sequences"] + [name for name, _ in columns])
    for label, summary in zip(labels, summaries):
        writer.writerow([label, convention, n] + [f"{summary[key]:.4f}" for _, key in columns])
    return buffer.getvalue()


def _plots(out_dir: Path, dataset: str, convention: str, labels, summaries) -> list[Path]:
    paths = []
    if convention == "got10k":
        x = metrics.GOT10K_THRESHOLDS
        curves = [(lb, s["success_curve"], s["ao"]) for lb, s in zip(labels, summaries)]
        paths.append(plot_curves(out_dir / "success_plot.png", x, curves, f"Success plot on {dataset}",
                                 "Overlap threshold", "Success rate [%]", "AO"))  # fmt: skip
        return paths
    if convention == "trackingnet":
        x_s, x_p, x_n = (metrics.TRACKINGNET_SUCCESS_THRESHOLDS, metrics.TRACKINGNET_PRECISION_THRESHOLDS,
                         metrics.TRACKINGNET_NORM_THRESHOLDS)  # fmt: skip
        keys = ("success_auc", "precision_auc", "norm_precision_auc")
    else:
        x_s, x_p, x_n = metrics.SUCCESS_THRESHOLDS, metrics.CENTER_THRESHOLDS_PX, metrics.NORM_CENTER_THRESHOLDS
        keys = ("auc", "precision", "norm_precision")
    specs = [
        ("success_plot.png", x_s, "success_curve", keys[0], "Success plot", "Overlap threshold", "AUC"),
        ("precision_plot.png", x_p, "precision_curve", keys[1], "Precision plot", "Location error threshold [px]",
         "P" if convention != "trackingnet" else "AUC"),
        ("norm_precision_plot.png", x_n, "norm_precision_curve", keys[2], "Normalized precision plot",
         "Normalized location error threshold", "NP" if convention != "trackingnet" else "AUC"),
    ]  # fmt: skip
    for filename, x, curve_key, score_key, title, xlabel, score_name in specs:
        curves = [(lb, s[curve_key], s[score_key]) for lb, s in zip(labels, summaries)]
        paths.append(plot_curves(out_dir / filename, x, curves, f"{title} on {dataset}", xlabel, "[%]", score_name))
    return paths


def collect(
    runs: Sequence[TrackerRun],
    sequences: Sequence[TestSequence],
    dataset: str,
    convention: str,
    results_dir: str | Path,
    out_dir: Optional[Path],
    skip_missing: bool,
) -> tuple[list[str], list[dict]]:
    """Names of the sequences every run has results for, and each run's ``{seq: data}`` (cached under ``out_dir``)."""
    cache_dir = out_dir / "cache" if out_dir is not None else None
    per_run = []
    usable = {s.name for s in sequences}
    for run in runs:
        per_seq, missing = evaluate_run(run, sequences, dataset, convention, results_dir, cache_dir)
        if missing and not skip_missing:
            folder = results_folder(results_dir, run.tracker, run.config, dataset, run.runid)
            raise AnalysisError(
                f"{run.label}: {len(missing)} result files missing, first {box_file(folder, missing[0])} "
                "(use --skip_missing to evaluate the finished sequences only)"
            )
        usable &= set(per_seq)
        per_run.append(per_seq)
    names = [s.name for s in sequences if s.name in usable]
    if not names:
        raise AnalysisError(f"no sequence of {dataset} has results for every tracker")
    return names, per_run


def analyse(
    runs: Sequence[TrackerRun],
    sequences: Sequence[TestSequence],
    dataset: str,
    results_dir: str | Path,
    out_dir: Optional[str | Path] = None,
    convention: Optional[str] = None,
    skip_missing: bool = False,
) -> Report:
    """Evaluate every run on the sequences all runs have results for; write table, CSV and plots.

    Without ``skip_missing`` a missing result file is an :class:`AnalysisError` naming it; with it,
    only the sequences every run finished are used (as the official ``skip_missing_seq``).
    """
    convention = convention or DEFAULT_CONVENTION.get(dataset.lower(), "pytracking")
    if convention not in CONVENTIONS:
        raise AnalysisError(f"unknown convention '{convention}' (choose from {', '.join(CONVENTIONS)})")
    if not runs:
        raise AnalysisError("no tracker to analyse")
    if sequences and all(np.isnan(s.ground_truth[1:]).all() for s in sequences):
        # scores against first-frame-only ground truth would be numbers without meaning
        raise AnalysisError(
            f"{dataset}: the ground truth covers only the first frame of every sequence (a test split whose "
            f"annotations the benchmark keeps); score it on the benchmark's server: "
            f"python tracking/pack_results.py --dataset {dataset} ..."
        )
    out = Path(out_dir) if out_dir is not None else None
    names, per_run = collect(runs, sequences, dataset, convention, results_dir, out, skip_missing)
    summaries = [summarise(convention, [per_seq[name] for name in names]) for per_seq in per_run]
    labels = [run.label for run in runs]
    table = format_table(dataset, convention, labels, summaries, len(names))
    csv_path, plot_paths = None, []
    if out is not None:
        csv_path = out / f"results_{convention}.csv"
        atomic_write_text(csv_path, _csv_text(convention, labels, summaries, len(names)))
        atomic_write_text(out / f"results_{convention}.txt", table + "\n")
        plot_paths = _plots(out / convention, dataset, convention, labels, summaries)
    return Report(convention, labels, summaries, len(names), table, csv_path, plot_paths)
