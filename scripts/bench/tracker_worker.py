"""Lock-step worker of ``tracker_speed.py``: one tracker in its own process, tracking frames on request.

The bench starts one worker per backend with ``PYTHONPATH`` set to the checkout whose code it times (this
one, or ``--reference_checkout``), so every tracker runs in a process of its own and none is favoured by
sharing the bench's process. ``torch``/``torch_exact`` use only the API that old and new checkouts share
(``load_config``, ``build_network``, ``StarkTracker``). Protocol on stdin/stdout, one line each: the worker
prints ``ready`` after ``initialize``; for each line ``INDEX`` it tracks frame INDEX of the ``.npy`` stack and
prints the milliseconds ``track()`` took; ``quit`` (or the end of stdin) ends it. The bench sends a frame
only when no other worker is busy, so the trackers never run at once.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import torch


def build_tracker(args):
    from lib.config import load_config
    from lib.tracker.stark_tracker import StarkTracker

    cfg = load_config(args.tracker_script, args.config, json.loads(args.opts))
    if args.backend in ("torch", "torch_exact"):
        try:
            from lib.tracker.network import build_network
        except ImportError:  # a checkout from before the runner split
            from lib.tracker.runner import build_network
        return StarkTracker(cfg, build_network(cfg, args.checkpoint, exact=args.backend == "torch_exact"), "lasot")
    from lib.tracker.network import build_backend

    if args.backend == "torch_compile":
        return StarkTracker(cfg, build_backend(cfg, args.checkpoint, "torch", "cpu", compile=True), "lasot")
    if args.backend == "torch_bf16":
        return StarkTracker(cfg, build_backend(cfg, args.checkpoint, "torch", "cpu", amp="bf16"), "lasot")
    return StarkTracker(cfg, build_backend(cfg, args.checkpoint, "onnxruntime", onnx_dir=args.onnx_dir), "lasot")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", required=True)
    parser.add_argument("--tracker_script", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--opts", default="[]", help="JSON list of key=value overrides")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--onnx_dir")
    parser.add_argument("--frames", required=True, help=".npy (N, H, W, 3) uint8 frames")
    parser.add_argument("--init_box", required=True, help="JSON [x, y, w, h] of frame 0")
    parser.add_argument("--threads", type=int, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    frames = np.load(args.frames)
    tracker = build_tracker(args)
    tracker.initialize(frames[0], {"init_bbox": json.loads(args.init_box)})
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "quit":
            break
        frame = frames[int(line)]
        start = time.perf_counter()
        tracker.track(frame)
        print(f"{(time.perf_counter() - start) * 1000:.4f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
