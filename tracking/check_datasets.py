"""Check the configured dataset roots: layout, split lists, readable frames, annotation shapes; print
sequence and frame counts; write a PNG grid of sampled template/search crops with their boxes.

    python tracking/check_datasets.py [--datasets got10k_vottrain lasot ...] [--out check_datasets.png]

Exit code 0 when every dataset passes, 1 when one fails, 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import logging
import sys

from lib.config import ConfigError, apply_overrides, load_config, load_local_settings, split_overrides
from lib.config.schema import Config
from lib.data.check import check_dataset, default_dataset_names, sample_grid, write_png
from lib.data.errors import DatasetError
from lib.utils.logging import setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--datasets", nargs="*", help="dataset names (case-insensitive); default: every configured root"
    )
    parser.add_argument("--out", default="check_datasets.png", help="PNG grid of sampled crops")
    parser.add_argument("--samples", type=int, default=8, help="rows of the grid")
    parser.add_argument("--settings", default=None, help="settings file (default: stark_local.yaml lookup)")
    parser.add_argument("--use_lmdb", type=int, default=0, choices=(0, 1))
    parser.add_argument("--script", default=None, help="take crop sizes and sampler mode from this experiment ...")
    parser.add_argument("--config", default=None, help="... and config name")
    parser.add_argument("--template_size", type=int, default=None)
    parser.add_argument("--search_size", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--opts", nargs="*", default=[], help="key=value overrides of the settings (got10k_dir=PATH) or the config"
    )
    args = parser.parse_args(argv)
    setup_logging(logging.WARNING)
    logging.getLogger("lib.config.local").setLevel(logging.INFO)  # still say which settings file is checked
    try:
        config_opts, path_opts = split_overrides(args.opts)
        settings = load_local_settings(args.settings, path_opts)
        cfg = load_config(args.script, args.config, config_opts) if args.script and args.config else Config()
        apply_overrides(cfg, [] if args.script and args.config else config_opts)
    except (ConfigError, DatasetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.template_size:
        cfg.data.template.size = args.template_size
    if args.search_size:
        cfg.data.search.size = args.search_size
    names = args.datasets or default_dataset_names(settings, bool(args.use_lmdb))
    if not names:
        print("no dataset root exists; set them with tracking/create_default_local_file.py", file=sys.stderr)
        return 1
    failed, loaded = False, []
    for name in names:
        report, dataset = check_dataset(name, settings, bool(args.use_lmdb), coco_min_size=cfg.data.coco_min_size)
        print(report.line())
        for problem in report.problems:
            print(f"  {problem}")
        failed |= not report.ok or bool(report.problems)
        if dataset is not None:
            loaded.append(dataset)
    if loaded:
        try:
            write_png(args.out, sample_grid(loaded, cfg, args.samples, args.seed))
            print(f"wrote {args.out} ({args.samples} samples: templates then search, boxes in green)")
        except (ConfigError, DatasetError, RuntimeError) as exc:
            print(f"sampling failed: {exc}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
