"""Build the dataset index cache ahead of a training run (parse once; every rank and worker maps the file).

    python scripts/build_index.py --datasets LASOT GOT10K_vottrain COCO17 TRACKINGNET
    python scripts/build_index.py --script stark_st1 --config baseline     # what that run reads (train + val)

The cache folder is ``index_cache_dir`` in stark_local.yaml (default ``<save_dir>/checkpoints/index_cache``);
a fresh cache is only mapped, a stale one is rebuilt. Shows a progress bar per dataset on a terminal.
Exit code 0 when every dataset is indexed, 2 on a bad argument, settings file or annotation file.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from lib.config import ConfigError, load_config, load_local_settings, split_overrides
from lib.data.check import default_dataset_names
from lib.data.errors import DatasetError
from lib.data.registry import build_dataset
from lib.utils.logging import setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="*", help="dataset names (default: the config's, else every configured root)")
    parser.add_argument("--script", default=None, help="take the dataset names and coco_min_size from this experiment ...")
    parser.add_argument("--config", default=None, help="... and config name")
    parser.add_argument("--coco_min_size", type=float, default=None, help="COCO box filter (default: the config's, 50)")
    parser.add_argument("--settings", default=None, help="settings file (default: stark_local.yaml lookup)")
    parser.add_argument("--use_lmdb", type=int, default=0, choices=(0, 1))
    parser.add_argument("--opts", nargs="*", default=[], help="key=value overrides (got10k_dir=PATH, index_cache_dir=PATH, ...)")
    args = parser.parse_args(argv)
    setup_logging(logging.WARNING)
    log = logging.getLogger("build_index")
    try:
        config_opts, path_opts = split_overrides(args.opts)
        settings = load_local_settings(args.settings, path_opts)
        cfg = load_config(args.script, args.config, config_opts) if args.script and args.config else None
    except ConfigError as exc:
        log.error("%s", exc)
        return 2
    names = args.datasets
    if not names and cfg is not None:
        names = list(dict.fromkeys(cfg.data.train.datasets_name + cfg.data.val.datasets_name))
    names = names or default_dataset_names(settings, bool(args.use_lmdb))
    if not names:
        log.error("no dataset root exists; set them with tracking/create_default_local_file.py")
        return 2
    min_size = args.coco_min_size if args.coco_min_size is not None else cfg.data.coco_min_size if cfg else 50.0
    print(f"index cache: {settings.index_cache_dir}")
    for name in names:
        start = time.perf_counter()
        try:
            ds = build_dataset(name, settings, use_lmdb=bool(args.use_lmdb), coco_min_size=min_size)
        except (ConfigError, DatasetError) as exc:
            log.error("%s", exc)
            return 2
        print(f"{ds.name}: {len(ds)} sequences, {ds.num_frames} frames; {ds.index_origin} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
