"""Data pipeline throughput: samples per second of sample + load + process in one process (= per
DataLoader worker) for STARK-S pairs (causal) and STARK-ST triplets (trident_pro), and the share of the
time spent decoding JPEGs (plus the rest, split into file reads, crops and the remainder).

    python scripts/bench/data_pipeline.py [--root data/got10k] [--samples 200] [--width 1280 --height 720]

Without ``--root`` a GOT-10k-layout set is generated in a temporary folder (frame size from
--width/--height; real GOT-10k frames are mostly 1280x720 or larger).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

import lib.data.image_source as image_source
import lib.data.processing as processing_module
from lib.config.local import LocalSettings
from lib.config.schema import Config
from lib.data.loader import build_sampler
from lib.data.synthetic import generate_dataset
from lib.utils.logging import setup_logging


class Timers:
    def __init__(self):
        self.decode = self.read = self.crop = 0.0


def instrument(timers: Timers) -> None:
    """Wrap the decode, file-read and crop functions with timers (this process only)."""
    decode, read_bytes, crop = (
        image_source.decode_image,
        image_source.FolderSource.read_bytes,
        processing_module.sample_target,
    )

    def timed_decode(data, key):
        start = time.perf_counter()
        try:
            return decode(data, key)
        finally:
            timers.decode += time.perf_counter() - start

    def timed_read(self, key):
        start = time.perf_counter()
        try:
            return read_bytes(self, key)
        finally:
            timers.read += time.perf_counter() - start

    def timed_crop(*args, **kwargs):
        start = time.perf_counter()
        try:
            return crop(*args, **kwargs)
        finally:
            timers.crop += time.perf_counter() - start

    image_source.decode_image = timed_decode
    image_source.FolderSource.read_bytes = timed_read
    processing_module.sample_target = timed_crop


def run(root: Path, mode: str, samples: int, cache: bool, full_size: bool) -> None:
    cfg = Config()
    cfg.data.train.datasets_name, cfg.data.train.datasets_ratio = ["GOT10K_all"], [1.0]
    cfg.data.train.sample_per_epoch = samples
    cfg.data.sampler_mode = mode
    cfg.data.template.number = 1 if mode == "causal" else 2
    cfg.data.cache_frames = cache
    if not full_size:
        cfg.data.template.size, cfg.data.search.size = 64, 128
    sampler = build_sampler(cfg, LocalSettings(got10k_dir=str(root)))
    timers = Timers()
    instrument(timers)
    sampler[(0, 0)]  # warm-up (imports, first allocations)
    timers.__init__()
    start = time.perf_counter()
    for index in range(1, samples + 1):
        sampler[(0, index)]
    total = time.perf_counter() - start
    rest = total - timers.decode - timers.read - timers.crop
    label = "pairs (causal)" if mode == "causal" else "triplets (trident_pro)"
    crops = f"{cfg.data.template.size}/{cfg.data.search.size}"
    print(
        f"{label:24s} crops {crops:7s} cache={int(cache)}: {samples / total:7.1f} samples/s per worker | "
        f"decode {100 * timers.decode / total:4.1f}%  read {100 * timers.read / total:4.1f}%  "
        f"crop {100 * timers.crop / total:4.1f}%  other {100 * rest / total:4.1f}%"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=None, help="GOT-10k root (default: generate one)")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=720)
    parser.add_argument("--sequences", type=int, default=8)
    parser.add_argument("--small_crops", action="store_true", help="64/128 crops instead of 128/320")
    parser.add_argument("--cache", action="store_true", help="also run with data.cache_frames")
    args = parser.parse_args(argv)
    setup_logging()
    cv2.setNumThreads(1)  # a DataLoader worker runs single-threaded
    np.random.seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.root) if args.root else Path(tmp) / "got10k"
        if not args.root:
            start = time.perf_counter()
            generate_dataset("got10k", root, args.sequences, 60, 0, val_sequences=0, test_sequences=0,
                             width=args.width, height=args.height)  # fmt: skip
            print(
                f"generated {args.sequences} x 60 frames of {args.width}x{args.height} in {time.perf_counter() - start:.1f}s"
            )
        for mode in ("causal", "trident_pro"):
            run(root, mode, args.samples, False, not args.small_crops)
            if args.cache:
                run(root, mode, args.samples, True, not args.small_crops)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
