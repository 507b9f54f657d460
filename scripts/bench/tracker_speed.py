"""Per-frame ``track()`` time of the STARK tracker for each backend (ST50 by default, random weights).

    python scripts/bench/tracker_speed.py                               # torch vs onnxruntime, 1 and 2 threads
    python scripts/bench/tracker_speed.py --backends torch torch_exact onnxruntime --threads 2 --frames 60
    PYTHONPATH=/path/to/other/checkout python scripts/bench/tracker_speed.py --backends torch   # other code

Builds the config's network with seeded random weights (no checkpoint or dataset needed), exports it to
ONNX when ``onnxruntime`` is asked for, generates one sequence, and times ``tracker.track(frame)`` (crop,
network, map back, template update) on every frame after the first. Backends are timed round-robin frame by
frame (each with its own tracker), so load from other processes hits them alike. Backends: ``torch`` (the
default: BN folded, channels-last), ``torch_exact`` (the unmodified network),
``torch_compile`` (torch.compile at fixed shapes), ``onnxruntime``. With only ``torch``/``torch_exact`` it
also runs on a checkout without backends (``lib.tracker.runner.build_network``), so two code versions can
be compared with the same command.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lib.config import load_config
from lib.data.synthetic import difficulty_options, render_sequence
from lib.models import build_stark
from lib.models.checkpoint import save_official_checkpoint
from lib.tracker.stark_tracker import StarkTracker

BACKENDS = ("torch", "torch_exact", "torch_compile", "onnxruntime")


def _network_builder():
    try:
        from lib.tracker.network import build_network
    except ImportError:  # a checkout from before the runner split
        from lib.tracker.runner import build_network
    return build_network


def make_tracker(name: str, cfg, checkpoint: Path, onnx_dir: Path) -> StarkTracker:
    if name in ("torch", "torch_exact"):
        return StarkTracker(cfg, _network_builder()(cfg, checkpoint, exact=name == "torch_exact"), "lasot")
    from lib.tracker.network import build_backend

    if name == "torch_compile":
        return StarkTracker(cfg, build_backend(cfg, checkpoint, "torch", "cpu", compile=True), "lasot")
    return StarkTracker(cfg, build_backend(cfg, checkpoint, "onnxruntime", onnx_dir=onnx_dir), "lasot")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracker_script", default="stark_st2", help="experiment script of the config")
    parser.add_argument("--config", default="baseline")
    parser.add_argument("--backends", nargs="+", default=["torch", "onnxruntime"], choices=BACKENDS)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2], help="CPU thread counts to time")
    parser.add_argument("--frames", type=int, default=40, help="timed frames per backend and thread count")
    parser.add_argument("--warmup", type=int, default=3, help="untimed frames first")
    parser.add_argument("--opts", nargs="*", default=[], help="key=value config overrides")
    args = parser.parse_args()
    cfg = load_config(args.tracker_script, args.config, ["model.backbone.pretrained=false", *args.opts])
    torch.manual_seed(0)
    model = build_stark(cfg).eval()
    size = cfg.test.search_size * 3 // 2
    video = render_sequence(np.random.default_rng(0), 1 + args.warmup + args.frames,
                            difficulty_options("medium", width=size * 4 // 3, height=size))  # fmt: skip
    print(f"{args.tracker_script}/{args.config}: torch {torch.__version__}, {args.frames} frames of "
          f"{size * 4 // 3}x{size}, load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = Path(tmp) / "bench.pth.tar"
        save_official_checkpoint(model, checkpoint)
        if "onnxruntime" in args.backends:
            from lib.deploy.export import export_graphs

            export_graphs(model, cfg, Path(tmp) / "onnx")
        for threads in args.threads:
            torch.set_num_threads(threads)
            trackers = {name: make_tracker(name, cfg, checkpoint, Path(tmp) / "onnx") for name in args.backends}
            for tracker in trackers.values():
                tracker.initialize(video.frames[0], {"init_bbox": video.boxes[0].tolist()})
            times = {name: [] for name in trackers}
            for index, frame in enumerate(video.frames[1:]):
                for name, tracker in trackers.items():
                    start = time.perf_counter()
                    tracker.track(frame)
                    if index >= args.warmup:
                        times[name].append((time.perf_counter() - start) * 1000)
            reference = statistics.median(times[args.backends[0]])
            for name, values in times.items():
                median = statistics.median(values)
                print(f"  threads={threads} {name:<14} per-frame track(): median {median:7.1f} ms, mean "
                      f"{statistics.mean(values):7.1f} ms, {1000 / median:5.1f} fps, {median / reference:.2f}x "
                      f"{args.backends[0]}")  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.2f} (a shared machine: compare backends within one run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
