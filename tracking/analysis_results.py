"""Analyse benchmark results: a table (text + CSV) and success/precision plots, one curve per tracker.

    python tracking/analysis_results.py --tracker stark_st --config baseline --dataset lasot \\
        --tracker stark_s --config baseline [--convention pytracking|got10k|trackingnet|lasot_matlab]

    python tracking/analysis_results.py --tracker stark_st --config baseline --dataset lasot --per_attribute

``--tracker``/``--config``/``--runid``/``--name`` are given once per tracker, in the same order.
``--per_attribute`` prints AUC per attribute per tracker and writes a CSV and a radar plot; attributes come from
``--attributes PATH`` (a folder of per-sequence flag files or a pytracking-style JSON table) or the benchmark's
own files (LaSOT / LaSOT-ext: ``<root>/annos/att``, UAV123: ``<root>/anno/UAV123/att``).
Defaults per dataset: LaSOT -> pytracking (STARK's numbers), got10k_val -> GOT-10k toolkit,
trackingnet -> TrackingNet devkit. Outputs go to ``<result_plots_dir>/<dataset>/``.
"""

import argparse
import sys
from pathlib import Path

from lib.config import ConfigError, load_local_settings
from lib.data.attributes import load_attributes
from lib.data.errors import DatasetError
from lib.data.registry import benchmark_root_key, load_test_sequences
from lib.evaluation.analysis import CONVENTIONS, AnalysisError, TrackerRun, analyse
from lib.evaluation.attribute_analysis import analyse_attributes
from lib.utils.logging import setup_logging


def _runs(args: argparse.Namespace) -> list[TrackerRun]:
    trackers = args.tracker
    configs = args.config or ["baseline"] * len(trackers)
    if len(configs) != len(trackers):
        raise AnalysisError(f"{len(trackers)} --tracker but {len(configs)} --config: give one --config per --tracker")
    runids = args.runid or [None] * len(trackers)
    names = args.name or [None] * len(trackers)
    if len(runids) != len(trackers) or len(names) != len(trackers):
        raise AnalysisError("--runid and --name must be given once per --tracker when used")
    return [
        TrackerRun(t, c, None if r is None or r < 0 else r, n) for t, c, r, n in zip(trackers, configs, runids, names)
    ]


def _per_attribute(args, settings, runs, sequences, out_dir: Path) -> int:
    root = Path(getattr(settings, f"{benchmark_root_key(args.dataset)}_dir"))
    path = Path(args.attributes) if args.attributes else None
    table = load_attributes(args.dataset, [s.name for s in sequences], path, root)
    report = analyse_attributes(runs, sequences, args.dataset, settings.results_dir, table, out_dir,
                                args.convention or "pytracking", args.skip_missing)  # fmt: skip
    print(report.table)
    print(f"table: {report.csv_path}")
    print(f"plot: {report.radar_path}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracker", action="append", required=True, help="tracker name (repeat to compare)")
    parser.add_argument("--config", action="append", help="config name, one per --tracker")
    parser.add_argument("--runid", action="append", type=int, help="run id, one per --tracker (-1: none)")
    parser.add_argument("--name", action="append", help="display name, one per --tracker")
    parser.add_argument("--dataset", required=True, help="a benchmark of the data registry: lasot, got10k_val, trackingnet, otb, uav123, nfs, ...")
    parser.add_argument("--convention", choices=CONVENTIONS, default=None)
    parser.add_argument("--skip_missing", action="store_true", help="use only sequences every tracker finished")
    parser.add_argument("--per_attribute", action="store_true", help="AUC per attribute: table, CSV, radar plot")
    parser.add_argument("--attributes", default=None, help="attribute flag folder or JSON table (see above)")
    parser.add_argument("--out_dir", default=None, help="default <result_plots_dir>/<dataset>")
    parser.add_argument("--settings", default=None, help="stark_local.yaml (default: the usual lookup)")
    parser.add_argument("--opts", nargs="*", default=[], help="settings overrides key=PATH")
    args = parser.parse_args()
    setup_logging()
    try:
        settings = load_local_settings(args.settings, args.opts)
        runs = _runs(args)
        sequences = load_test_sequences(args.dataset, settings)
        out_dir = Path(args.out_dir) if args.out_dir else settings.result_plots_dir / args.dataset
        if args.per_attribute:
            return _per_attribute(args, settings, runs, sequences, out_dir)
        report = analyse(
            runs, sequences, args.dataset, settings.results_dir, out_dir, args.convention, args.skip_missing
        )
    except (ConfigError, DatasetError, AnalysisError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(report.table)
    print(f"table: {report.csv_path}")
    for path in report.plot_paths:
        print(f"plot: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
