"""Per-frame ``track()`` time of the STARK tracker for each backend (ST50 by default, random weights).

    python scripts/bench/tracker_speed.py                               # torch vs onnxruntime, 1 and 2 threads
    python scripts/bench/tracker_speed.py --backends torch torch_exact onnxruntime --threads 2 --frames 60
    python scripts/bench/tracker_speed.py --backends torch --threads 2 --reference_checkout /path/to/57c3fd3

Builds the config's network with seeded random weights (no checkpoint or dataset needed), exports it to
ONNX when ``onnxruntime`` is asked for, generates one sequence, and times ``tracker.track(frame)`` (crop,
network, map back, template update) on every frame after the first. Each tracker runs in a worker process
of its own (``tracker_worker.py``; a tracker sharing the bench's process measured ~15 % slower than the
same code in a worker), and the workers are driven round-robin frame by frame, one at a time, so load from
other processes hits them alike. The worker started first measured 15-35 % slower than the same code started
later (a loaded 2-core VM), so ``--repeats`` worker sets are started in rotated orders and their samples pooled. Backends: ``torch`` (the default: BN folded, channels-last, oneDNN convs
on pre-packed weights), ``torch_exact`` (the unmodified network), ``torch_compile`` (torch.compile with
inductor freezing at fixed shapes), ``torch_bf16`` (the default under CPU bf16 autocast: lossy),
``onnxruntime``.

``--reference_checkout DIR`` adds DIR's default tracker (its own ``lib``) to the round-robin and prints
each backend's ratio to it (separate runs on a shared machine drift by ~10 %). With DIR a checkout of
commit 57c3fd3 the ratio to the official tracker can be estimated: the issue measured 57c3fd3 at 0.78x
official (307-320 ms vs 392-403 ms, idle 2-core machine, alternating pairs), so ratio to official ~= ratio
to 57c3fd3 x ``--reference_vs_official`` (an estimate, not a side-by-side measurement).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from lib.config import load_config
from lib.data.synthetic import difficulty_options, render_sequence
from lib.models import build_stark
from lib.models.checkpoint import save_official_checkpoint

BACKENDS = ("torch", "torch_exact", "torch_compile", "torch_bf16", "onnxruntime")
REFERENCE = "reference"
CHECKOUT = Path(__file__).resolve().parents[2]


class Worker:
    """One tracker in a ``tracker_worker.py`` process running ``checkout``'s code; one frame per call."""

    def __init__(self, backend: str, checkout: Path, args, files: dict, threads: int) -> None:
        command = [sys.executable, str(Path(__file__).with_name("tracker_worker.py")), "--backend", backend,
                   "--tracker_script", args.tracker_script, "--config", args.config,
                   "--opts", json.dumps(["model.backbone.pretrained=false", *args.opts]),
                   "--checkpoint", str(files["checkpoint"]), "--onnx_dir", str(files["onnx"]),
                   "--frames", str(files["frames"]), "--init_box", json.dumps(files["init_box"]),
                   "--threads", str(threads)]  # fmt: skip
        env = {**os.environ, "PYTHONPATH": str(checkout.resolve())}
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        if self.process.stdout.readline().strip() != "ready":
            self.process.kill()
            raise SystemExit(f"the {backend} worker on {checkout} did not start (its error is above)")

    def track(self, index: int) -> float:
        """Track frame ``index``; the worker's own ``track()`` time in ms."""
        self.process.stdin.write(f"{index}\n")
        self.process.stdin.flush()
        return float(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()  # end of stdin ends the worker
        self.process.wait()


def time_workers(workers: dict[str, Worker], frames: int, warmup: int) -> dict[str, list[float]]:
    """Round-robin over the workers frame by frame, starting one worker later each frame (the first of a round
    measured ~14 % slower than the same code later in the round); ms per timed frame."""
    times = {name: [] for name in workers}
    names = list(workers)
    for index in range(1, frames):
        start = index % len(names)
        for name in names[start:] + names[:start]:
            elapsed = workers[name].track(index)
            if index > warmup:
                times[name].append(elapsed)
    return times


def report(times: dict[str, list[float]], threads: int, reference_vs_official: float) -> None:
    first = next(iter(times))
    reference = statistics.median(times[REFERENCE]) if REFERENCE in times else None
    for name, values in times.items():
        median = statistics.median(values)
        line = (f"  threads={threads} {name:<14} per-frame track(): median {median:7.1f} ms, mean "
                f"{statistics.mean(values):7.1f} ms, {1000 / median:5.1f} fps, "
                f"{median / statistics.median(times[first]):.2f}x {first}")  # fmt: skip
        if reference is not None:
            line += (f", {median / reference:.2f}x reference, ~{median / reference * reference_vs_official:.2f}x "
                     "official (estimate)")  # fmt: skip
        print(line, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracker_script", default="stark_st2", help="experiment script of the config")
    parser.add_argument("--config", default="baseline")
    parser.add_argument("--backends", nargs="+", default=["torch", "onnxruntime"], choices=BACKENDS)
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2], help="CPU thread counts to time")
    parser.add_argument("--frames", type=int, default=40, help="timed frames per backend, thread count and repeat")
    parser.add_argument("--repeats", type=int, default=3, help="worker sets, each started in another order")
    parser.add_argument("--warmup", type=int, default=3, help="untimed frames first")
    parser.add_argument("--opts", nargs="*", default=[], help="key=value config overrides")
    parser.add_argument("--reference_checkout", type=Path, help="another checkout whose default tracker to compare")
    parser.add_argument("--reference_vs_official", type=float, default=0.78,
                        help="the reference's ratio to the official tracker (0.78: 57c3fd3, measured in issue 16)")  # fmt: skip
    args = parser.parse_args()
    if args.reference_checkout is not None and not (args.reference_checkout / "lib" / "tracker").is_dir():
        parser.error(f"--reference_checkout {args.reference_checkout}: not a checkout (no lib/tracker)")
    cfg = load_config(args.tracker_script, args.config, ["model.backbone.pretrained=false", *args.opts])
    torch.manual_seed(0)
    model = build_stark(cfg).eval()
    size = cfg.test.search_size * 3 // 2
    video = render_sequence(np.random.default_rng(0), 1 + args.warmup + args.frames,
                            difficulty_options("medium", width=size * 4 // 3, height=size))  # fmt: skip
    print(f"{args.tracker_script}/{args.config}: torch {torch.__version__}, {args.frames} frames of "
          f"{size * 4 // 3}x{size}, load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        files = {"checkpoint": Path(tmp) / "bench.pth.tar", "onnx": Path(tmp) / "onnx",
                 "frames": Path(tmp) / "frames.npy", "init_box": [float(v) for v in video.boxes[0]]}  # fmt: skip
        save_official_checkpoint(model, files["checkpoint"])
        np.save(files["frames"], np.stack(video.frames))
        if "onnxruntime" in args.backends:
            from lib.deploy.export import export_graphs

            export_graphs(model, cfg, files["onnx"])
        specs = [(name, CHECKOUT) for name in args.backends]
        if args.reference_checkout is not None:
            specs.append((REFERENCE, args.reference_checkout))
        for threads in args.threads:
            times = {name: [] for name, _ in specs}
            for repeat in range(args.repeats):
                # the worker started first ran ~15-35 % slower than the same code started later (seen on a loaded
                # 2-core VM), so each repeat starts them in another order and the samples are pooled
                order = specs[repeat % len(specs):] + specs[: repeat % len(specs)]
                with contextlib.ExitStack() as stack:
                    workers = {}
                    for name, checkout in order:
                        workers[name] = Worker("torch" if name == REFERENCE else name, checkout, args, files, threads)
                        stack.callback(workers[name].close)
                    for name, values in time_workers(workers, len(video.frames), args.warmup).items():
                        times[name] += values
            report(times, threads, args.reference_vs_official)
    print(f"load average after: {os.getloadavg()[0]:.2f} (a shared machine: compare backends within one run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
