"""Write a synthetic tracking data set in a benchmark's layout (checks an install without the real data).

python scripts/make_synthetic_dataset.py --format got10k --out data/got10k --sequences 60 --frames 100 --seed 0
python scripts/make_synthetic_dataset.py --format otb --out data/otb --sequences 5 --frames 50   # read as otb_all

Test-only layouts: otb, uav123, nfs, tc128, tnl2k, lasot_extension, avist; ``lasot_attributes`` adds LaSOT's
per-sequence attribute files (``annos/att/<seq>.txt``) to an existing LaSOT root.

``--out`` must be empty or absent; a folder written earlier by this generator is replaced with
``--overwrite``; any other non-empty folder (a real data set) is refused and left untouched.
``lasot_attributes`` only adds to a LaSOT root this generator wrote.
"""

from __future__ import annotations

import argparse
import logging
import sys

from lib.data.generated_folder import claim_generated_folder, require_generated_folder
from lib.data.synthetic import DIFFICULTIES, FORMATS, generate_dataset
from lib.data.synthetic_layouts import LAYOUTS, generate_test_set
from lib.utils.logging import setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--format", required=True, choices=FORMATS + LAYOUTS, help="benchmark layout to write")
    parser.add_argument("--out", required=True, help="dataset root to create (e.g. data/got10k)")
    parser.add_argument("--sequences", type=int, default=60, help="training sequences (COCO: images)")
    parser.add_argument("--frames", type=int, default=100, help="frames per sequence (ignored for COCO)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--difficulty", default="medium", choices=tuple(DIFFICULTIES))
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=240)
    parser.add_argument("--val_sequences", type=int, default=None, help="GOT-10k val/ sequences (default N // 5)")
    parser.add_argument("--test_sequences", type=int, default=None, help="GOT-10k / TrackingNet test sequences")
    parser.add_argument("--chunks", type=int, default=None, help="TrackingNet TRAIN_* chunks (default 2)")
    parser.add_argument("--overwrite", action="store_true", help="replace a data set this generator wrote earlier")
    args = parser.parse_args(argv)
    setup_logging()
    try:
        if args.format == "lasot_attributes":
            require_generated_folder(args.out)  # adds files: only to a set this generator wrote
        else:
            description = {k: v for k, v in vars(args).items() if k not in ("out", "overwrite")}
            claim_generated_folder(args.out, args.overwrite, description)
        if args.format in LAYOUTS:
            generate_test_set(args.format, args.out, args.sequences, args.frames, args.seed, args.difficulty,
                              width=args.width, height=args.height)  # fmt: skip
            return 0
        generate_dataset(
            args.format,
            args.out,
            args.sequences,
            args.frames,
            args.seed,
            difficulty=args.difficulty,
            width=args.width,
            height=args.height,
            val_sequences=args.val_sequences,
            test_sequences=args.test_sequences,
            chunks=args.chunks,
        )
    except (ValueError, OSError) as exc:
        logging.getLogger(__name__).error("%s", exc)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
