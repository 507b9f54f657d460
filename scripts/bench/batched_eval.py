"""Frames per second of benchmark evaluation: the sequential runner vs ``--batch_sequences N``.

    python scripts/bench/batched_eval.py                             # cpu_demo network, 40 sequences, 2 threads
    python scripts/bench/batched_eval.py --config baseline --sequences 40 --frames 20 --batch 4 8
    python scripts/bench/batched_eval.py --device cuda --batch 16 32  # on a GPU

Generates ``--sequences`` folder sequences (JPEG frames; seeded), builds the config's network with seeded
random weights, and runs ``lib.tracker.runner.run_benchmark`` over all of them once per mode, alternating
the modes ``--repeats`` times (a shared machine's load then hits every mode alike). Frames/s is all
frames / wall time of the run (reading frames included). Also prints the largest box difference between
the batched and the sequential result files.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from lib.data.synthetic import difficulty_options, render_sequence
from lib.evaluation.results_io import read_boxes
from lib.models import build_stark
from lib.models.checkpoint import save_official_checkpoint
from lib.tracker.folder_sequence import folder_sequence
from lib.tracker.names import load_test_config
from lib.tracker.runner import RunOptions, run_benchmark


def write_sequences(root: Path, count: int, frames: int, width: int, height: int) -> list[Path]:
    folders = []
    for index in range(count):
        video = render_sequence(np.random.default_rng(1000 + index), frames, difficulty_options("medium", width=width,
                                height=height))  # fmt: skip
        folder = root / f"seq{index:03d}"
        folder.mkdir(parents=True)
        for frame_index, frame in enumerate(video.frames):
            cv2.imwrite(str(folder / f"{frame_index + 1:08d}.jpg"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        np.savetxt(folder / "groundtruth.txt", video.boxes, delimiter=",")
        folders.append(folder)
    return folders


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracker", default="stark_st", help="stark_s | stark_st")
    parser.add_argument("--config", default="cpu_demo")
    parser.add_argument("--sequences", type=int, default=40)
    parser.add_argument("--frames", type=int, default=30, help="frames per sequence")
    parser.add_argument("--batch", nargs="+", type=int, default=[8], help="batched modes to compare with 1")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--workers", type=int, default=0, help="worker processes (runner --threads)")
    parser.add_argument("--repeats", type=int, default=2, help="alternating rounds of all modes")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--backend", default="torch", choices=("torch", "onnxruntime"))
    parser.add_argument("--opts", nargs="*", default=[], help="key=value config overrides")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_test_config(args.tracker, args.config, ["model.backbone.pretrained=false", *args.opts])
    torch.manual_seed(0)
    model = build_stark(cfg).eval()
    size = cfg.test.search_size
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        checkpoint = root / "bench.pth.tar"
        save_official_checkpoint(model, checkpoint)
        onnx_dir = None
        if args.backend == "onnxruntime":
            from lib.deploy.export import export_graphs

            onnx_dir = str(root / "onnx")
            export_graphs(model, cfg, onnx_dir)
        folders = write_sequences(root / "frames", args.sequences, args.frames, size * 2, size * 3 // 2)
        sequences = [folder_sequence(folder) for folder in folders]
        total = sum(len(seq) for seq in sequences)
        print(f"{args.tracker}/{args.config} ({cfg.model.backbone.type}, search {size}): {len(sequences)} sequences, "
              f"{total} frames, {args.threads} threads, {args.workers} workers, {args.backend} on {args.device}, "
              f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")  # fmt: skip
        modes = [1, *args.batch]
        rates: dict[int, list[float]] = {mode: [] for mode in modes}
        boxes: dict[int, list[np.ndarray]] = {}
        for round_index in range(args.repeats):
            for mode in modes:
                results = root / f"results_{mode}_{round_index}"
                options = RunOptions(args.tracker, args.config, "folder", str(checkpoint), str(results), cfg,
                                     device=args.device, backend=args.backend, onnx_dir=onnx_dir,
                                     batch_sequences=mode)  # fmt: skip
                start = time.perf_counter()
                outcomes = run_benchmark(options, sequences, threads=args.workers, progress=False)
                wall = time.perf_counter() - start
                failed = [o for o in outcomes if o.status != "done"]
                if failed:
                    print(f"  batch {mode}: {len(failed)} sequences failed, e.g. {failed[0].name}: {failed[0].error}")
                    return 1
                rates[mode].append(total / wall)
                boxes[mode] = [read_boxes(options.output_folder / f"{seq.name}.txt") for seq in sequences]
        for mode in modes:
            diff = max(float(np.abs(a - b).max()) for a, b in zip(boxes[mode], boxes[1]))
            best = max(rates[mode])
            print(f"  batch_sequences={mode:<3} {best:7.1f} frames/s (best of {args.repeats}: "
                  f"{', '.join(f'{r:.1f}' for r in rates[mode])}), {best / max(rates[1]):.2f}x sequential, "
                  f"max box diff vs sequential {diff:.1e} px")  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.2f} (shared machine: compare modes within one run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
