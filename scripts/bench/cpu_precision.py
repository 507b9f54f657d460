"""How far the CPU speed options move the tracker: the default fp32 backend (BN folded, pre-packed oneDNN
convs) and bf16 autocast against the exact network, and the held-out AO of fp32 vs bf16.

    python scripts/bench/cpu_precision.py                      # ST50, random weights, 2 threads
    python scripts/bench/cpu_precision.py --videos 8 --video_frames 40 --checkpoint PATH

Parity (``lib.deploy.parity.parity_report``): boxes and scores on random and generated crops, and a tracked
generated sequence with template updates (max box difference in pixels, whether the dynamic template was
replaced at the same frames). AO (GOT-10k convention) on generated held-out sequences. With random weights
(the default) the AO is not an accuracy: only its change between precisions means something. The same
figures for GPU precisions come from ``gpu_suite.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from gpu_suite import held_out_ao

from lib.config import load_config
from lib.data.synthetic import difficulty_options, render_sequence
from lib.deploy.parity import parity_report
from lib.models import build_stark
from lib.models.checkpoint import save_official_checkpoint
from lib.tracker.network import build_backend


def _parity_line(name: str, parity: dict, search_size: int) -> str:
    """Crop-level box differences in pixels of the search crop (the network's boxes are normalised to it)."""
    sequence = parity["tracked_sequence"]
    return (f"  {name:<14} crop boxes max diff: random {parity['random_crops']['boxes'] * search_size:.2e} px, "
            f"generated {parity['real_crops']['boxes'] * search_size:.2e} px; scores "
            f"{parity['real_crops'].get('scores', 0):.1e}; "
            f"tracked {sequence['frames']} frames: max box diff {sequence['max_box_diff_px']:.2e} px, "
            f"identical updates {sequence['identical_updates']}")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracker_script", default="stark_st2")
    parser.add_argument("--config", default="baseline")
    parser.add_argument("--checkpoint", type=Path, help="trained weights (default: seeded random)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--parity_frames", type=int, default=20, help="frames of the tracked parity sequence")
    parser.add_argument("--videos", type=int, default=4, help="generated held-out sequences for AO (0: none)")
    parser.add_argument("--video_frames", type=int, default=25)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = load_config(args.tracker_script, args.config, ["model.backbone.pretrained=false"])
    print(f"{args.tracker_script}/{args.config}, {args.threads} threads, "
          f"{'checkpoint ' + str(args.checkpoint) if args.checkpoint else 'seeded random weights'}, "
          f"load average {os.getloadavg()[0]:.2f}", flush=True)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = args.checkpoint
        if checkpoint is None:
            torch.manual_seed(0)
            checkpoint = Path(tmp) / "random.pth.tar"
            save_official_checkpoint(build_stark(cfg), checkpoint)
        exact = build_backend(cfg, checkpoint, "torch", exact=True)
        backends = {"fp32 default": build_backend(cfg, checkpoint, "torch"),
                    "bf16 autocast": build_backend(cfg, checkpoint, "torch", amp="bf16")}  # fmt: skip
        print("parity against the exact fp32 network:")
        for name, backend in backends.items():
            parity = parity_report(cfg, exact, backend, frames=args.parity_frames)
            print(_parity_line(name, parity, cfg.test.search_size), flush=True)
        if args.videos > 0:
            size = cfg.test.search_size * 2
            options = difficulty_options("medium", width=size, height=size * 3 // 4)
            videos = [render_sequence(np.random.default_rng(500 + i), args.video_frames, options)
                      for i in range(args.videos)]  # fmt: skip
            aos = {name: held_out_ao(cfg, backend, videos) for name, backend in backends.items()}
            fp32, bf16 = aos["fp32 default"], aos["bf16 autocast"]
            print(f"held-out AO ({args.videos} generated sequences x {args.video_frames} frames): fp32 {fp32:.4f}, "
                  f"bf16 {bf16:.4f} ({bf16 - fp32:+.4f})")  # fmt: skip
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
