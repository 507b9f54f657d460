"""Data pipeline throughput at the benchmarks' real frame sizes: samples per second of sample + load + process
in one process set up as a DataLoader worker (``lib.data.loader.setup_worker_process``: one thread, freed
frame memory kept mapped) for STARK-S pairs (causal) and STARK-ST triplets (trident_pro), and the share of the
time spent outside JPEG decoding (split into file reads, crops - geometry, padding masks and pixels - and the
remainder). Decoding is the cv2.imdecode call alone; file reads count as outside it. A worker's sample holds
uint8 crops and their lookup tables: the float normalisation (``lib.data.processing.normalize_images``) runs
on the training device and is not part of these figures.

    python scripts/bench/data_pipeline.py [--samples 60] [--data_dir DIR] [--small_crops] [--cache]

Without ``--data_dir`` small sets are generated in a temporary folder at each benchmark's usual resolution:
GOT-10k 1920x1080, LaSOT 1280x720, TrackingNet 1280x720, COCO 640x480 (``--data_dir`` takes a folder holding
got10k/, lasot/, trackingnet/, coco/). A ``machine state:`` line first says how much a decode slows the step
after it on this machine (see :func:`cold_cache_probe`). Each set is measured alone, then the four mixed
1:1:1:1 as the official full-data recipe draws them; the last line turns the mixed triplet rate into
DataLoader workers per GPU for ST50 at the paper's pace (500 epochs x 60,000 samples in ~2 days on 8 GPUs:
~22 samples/s per GPU).
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import tempfile
import time
from pathlib import Path

import numpy as np

import lib.data.image_source as image_source
import lib.data.processing as processing_module
from lib.config.local import LocalSettings
from lib.config.schema import Config
from lib.data.loader import build_sampler, setup_worker_process
from lib.data.synthetic import generate_dataset
from lib.utils.logging import setup_logging


class Timers:
    def __init__(self):
        self.decode = self.read = self.crop = 0.0


def instrument(timers: Timers) -> None:
    """Wrap the decode, file-read and crop functions (a crop: its geometry, mask and pixels) with timers
    (this process only)."""

    def timed(owner, name: str, timer: str) -> None:
        # each row instruments anew: wrap the original, not the previous row's wrapper, so that nested
        # timers' overhead does not pile up in the later rows' figures
        function = getattr(getattr(owner, name), "timed_original", getattr(owner, name))

        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                setattr(timers, timer, getattr(timers, timer) + time.perf_counter() - start)

        wrapper.timed_original = function  # not __wrapped__: that would also strip a decorator of the original
        setattr(owner, name, wrapper)

    timed(image_source, "decode_image", "decode")
    timed(image_source.FolderSource, "read_bytes", "read")
    for name in ("plan_crop", "padding_reach", "crop_mask", "crop_pixels"):
        timed(processing_module, name, "crop")


# dataset name -> (layout, frame width, height): the resolution most of the benchmark's videos have
REAL_SIZES = {
    "GOT10K_all": ("got10k", 1920, 1080),
    "LASOT_all": ("lasot", 1280, 720),
    "TRACKINGNET_all": ("trackingnet", 1280, 720),
    "COCO17": ("coco", 640, 480),
}
PAPER_SAMPLES_PER_GPU = 500 * 60000 / (2 * 24 * 3600) / 8  # ~21.7


def run(settings: LocalSettings, names: list[str], mode: str, samples: int, cache: bool, full_size: bool) -> float:
    """Print one row; returns samples/s."""
    cfg = Config()
    cfg.data.train.datasets_name, cfg.data.train.datasets_ratio = list(names), [1.0] * len(names)
    cfg.data.train.sample_per_epoch = samples
    cfg.data.sampler_mode = mode
    cfg.data.template.number = 1 if mode == "causal" else 2
    cfg.data.cache_frames = cache
    if not full_size:
        cfg.data.template.size, cfg.data.search.size = 64, 128
    sampler = build_sampler(cfg, settings)
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
    what = names[0] if len(names) == 1 else "mix of the four"
    crops = f"{cfg.data.template.size}/{cfg.data.search.size}"
    print(
        f"{what:16s} {label:22s} crops {crops:7s} cache={int(cache)}: {samples / total:6.1f} samples/s per worker | "
        f"outside decode {100 * (1 - timers.decode / total):4.1f}% (read {100 * timers.read / total:4.1f}%  "
        f"crop {100 * timers.crop / total:4.1f}%  other {100 * rest / total:4.1f}%)"
    )
    return samples / total


def cold_cache_probe(frame_path: Path, repeats: int = 50) -> str:
    """One line on the state the figures were taken in: the cost of a small step (creating a sample's random
    generator) in a loop and right after decoding a large frame, which evicts the caches. Every step after a
    decode pays such a difference, and on a virtual machine it varies with the host's load, so the share outside
    decoding moves with it (README, data pipeline)."""
    data = np.fromfile(frame_path, dtype=np.uint8)

    def new_generator(index: int) -> float:
        start = time.perf_counter()
        np.random.default_rng(np.array([0, 1, index], dtype=np.uint32))
        return time.perf_counter() - start

    warm = sorted(new_generator(i) for i in range(repeats))[repeats // 2]
    after = []
    for i in range(repeats):
        height, width = image_source.decode_image(data, str(frame_path)).shape[:2]
        after.append(new_generator(i))
    after_decode = sorted(after)[repeats // 2]
    return (
        f"machine state: creating a random generator takes {warm * 1e6:.0f} us in a loop and "
        f"{after_decode * 1e6:.0f} us right after decoding a {width}x{height} frame (medians of {repeats})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data_dir", default=None, help="folder holding got10k/ lasot/ trackingnet/ coco/ (default: generate)")
    parser.add_argument("--samples", type=int, default=60, help="samples per measurement")
    parser.add_argument("--sequences", type=int, default=3, help="generated sequences (images for COCO: x10) per set")
    parser.add_argument("--frames", type=int, default=40, help="frames per generated sequence")
    parser.add_argument("--small_crops", action="store_true", help="64/128 crops instead of 128/320")
    parser.add_argument("--cache", action="store_true", help="also run with data.cache_frames")
    args = parser.parse_args(argv)
    setup_logging(logging.WARNING)
    setup_worker_process()  # as a DataLoader worker: one thread, freed frame memory kept mapped
    np.random.seed(0)
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(args.data_dir) if args.data_dir else Path(tmp)
        if not args.data_dir:
            for seed, (fmt, width, height) in enumerate(REAL_SIZES.values()):
                start = time.perf_counter()
                count = args.sequences * (10 if fmt == "coco" else 1)
                extra = {"val_sequences": 0, "test_sequences": 0} if fmt == "got10k" else {}
                generate_dataset(fmt, data_dir / fmt, count, args.frames, seed, width=width, height=height, **extra)
                print(f"generated {fmt}: {count} x {1 if fmt == 'coco' else args.frames} frames of {width}x{height} "
                      f"in {time.perf_counter() - start:.1f}s")  # fmt: skip
        settings = LocalSettings(data_dir=str(data_dir), save_dir=tmp)
        # GOT-10k's frames are the largest; a few files only: --data_dir may hold its 1.4 million
        frames = itertools.islice((data_dir / "got10k").rglob("*.jpg"), 50)
        largest = max(frames, key=lambda path: path.stat().st_size, default=None)
        if largest is not None:
            print(cold_cache_probe(largest))
        rates = {}
        for names in [[name] for name in REAL_SIZES] + [list(REAL_SIZES)]:
            for mode in ("causal", "trident_pro"):
                rates[(len(names), mode)] = run(settings, names, mode, args.samples, False, not args.small_crops)
                if args.cache:
                    run(settings, names, mode, args.samples, True, not args.small_crops)
        mixed = rates[(len(REAL_SIZES), "trident_pro")]
        print(
            f"ST50 at the paper's pace needs {PAPER_SAMPLES_PER_GPU:.1f} triplets/s per GPU: "
            f"{PAPER_SAMPLES_PER_GPU / mixed:.1f} workers per GPU at this machine's {mixed:.1f} triplets/s per worker"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
