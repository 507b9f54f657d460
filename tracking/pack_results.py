"""Pack benchmark results into the zip an evaluation server expects.

    python tracking/pack_results.py --dataset got10k_test --tracker stark_st --config baseline_got10k_only
    python tracking/pack_results.py --dataset trackingnet --tracker stark_st --config baseline --runid 1

GOT-10k: ``<seq>/<seq>_001.txt`` .. ``_003.txt`` (three identical runs, comma) + ``<seq>/<seq>_time.txt``; TrackingNet: flat ``<seq>.txt``
(comma). Every sequence of the split must be present with one line per frame.
"""

import argparse
import logging
import sys
from pathlib import Path

from lib.config import ConfigError, load_local_settings
from lib.data.errors import DatasetError
from lib.data.registry import load_test_sequences
from lib.evaluation.packers import (
    PackingError,
    frame_counts,
    pack_got10k,
    pack_trackingnet,
)
from lib.evaluation.results_io import ResultsError, results_folder, run_folder_name
from lib.utils.logging import setup_logging


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", required=True, choices=("got10k_test", "trackingnet"))
    parser.add_argument("--tracker", default="stark_st", help="tracker name (results folder)")
    parser.add_argument("--config", default="baseline", help="config name (results sub-folder)")
    parser.add_argument("--runid", type=int, default=None)
    parser.add_argument(
        "--out", default=None, help="zip to write (default: <results_dir>/<tracker>/<run>_<dataset>.zip)"
    )
    parser.add_argument(
        "--int_results", action="store_true", help="truncate boxes to integers like the official script"
    )
    parser.add_argument("--settings", default=None, help="stark_local.yaml (default: the usual lookup)")
    parser.add_argument("--opts", nargs="*", default=[], help="settings overrides key=PATH")
    args = parser.parse_args()
    setup_logging()
    try:
        settings = load_local_settings(args.settings, args.opts)
        folder = results_folder(settings.results_dir, args.tracker, args.config, args.dataset, args.runid)
        counts = frame_counts(load_test_sequences(args.dataset, settings))
        pack = pack_got10k if args.dataset == "got10k_test" else pack_trackingnet
        run = run_folder_name(args.config, args.runid)
        out = Path(args.out) if args.out else Path(settings.results_dir) / args.tracker / f"{run}_{args.dataset}.zip"
        pack(folder, counts, out, integer=args.int_results)
    except (ConfigError, DatasetError, PackingError, ResultsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    logging.getLogger(__name__).info("%d sequences packed into %s", len(counts), out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
