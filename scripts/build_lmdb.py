"""Pack a dataset folder into an lmdb database read with ``--use_lmdb 1`` / ``data.use_lmdb: true``.

    python scripts/build_lmdb.py --dataset got10k --root data/got10k --out data/got10k_lmdb

Keys are paths relative to the root; an interrupted build resumes (present keys are skipped).
"""

from __future__ import annotations

import argparse
import logging
import sys

from lib.data.errors import DatasetError
from lib.data.lmdb_builder import LAYOUT_MARKERS, build_lmdb
from lib.utils.logging import setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, choices=tuple(LAYOUT_MARKERS))
    parser.add_argument("--root", required=True, help="dataset folder (e.g. data/got10k)")
    parser.add_argument("--out", required=True, help="lmdb folder to create or resume (e.g. data/got10k_lmdb)")
    parser.add_argument("--chunk_size", type=int, default=1000, help="files per committed transaction")
    args = parser.parse_args(argv)
    setup_logging()
    try:
        build_lmdb(args.root, args.out, args.dataset, chunk_size=args.chunk_size)
    except DatasetError as exc:
        logging.getLogger(__name__).error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
