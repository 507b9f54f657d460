"""Every GPU measurement of the project in one run of under 6 minutes, on generated data.

    python scripts/bench/gpu_suite.py                 # on a CUDA machine; OUT=dir also writes $OUT/gpu_suite.txt
    python scripts/bench/gpu_suite.py --cpu-smoke     # tiny network and sizes on the CPU: the script end to end

Measures, each in its own guarded block (a failure prints one line and the rest goes on; a block that
would not fit in the remaining ``--budget`` seconds is skipped with one line):

1. tracker fps (per-frame ``track()``: crop, network, map back, template update) of each backend and
   precision: torch fp32 / bf16 / fp16 (autocast), torch exact fp32, onnxruntime-gpu when installed with a
   CUDA provider, torch.compile fp32 last;
2. precision drift: bf16 and fp16 against fp32 on random and real crops (max abs diff of boxes and scores),
   a tracked sequence with template updates (box diff, update decisions), and the AO (GOT-10k convention)
   of each precision on generated held-out sequences;
3. batched evaluation: frames/s of the runner with ``--batch_sequences`` 1 vs 8 vs 32 on generated
   folder sequences (frames read from JPEG files);
4. the training step (ST50 stage 1, batch 16): fp32 vs bf16 AMP, then bf16 with pin_memory,
   channels-last, fused AdamW, and torch.compile.

The network has seeded random weights unless ``--checkpoint`` is given (then AO is an accuracy; with
random weights it only shows how far each precision moves the result). Needs only the project's own
dependencies; onnxruntime is optional.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]  # sibling bench scripts; the project (lib, tests.tiny)

from batched_eval import write_sequences  # noqa: E402
from train_step import OPTIONS as TRAIN_OPTIONS  # noqa: E402
from train_step import measure as train_samples_per_second  # noqa: E402

from lib.config import load_config  # noqa: E402
from lib.data.synthetic import difficulty_options, render_sequence  # noqa: E402
from lib.evaluation.metrics import got10k_sequence_ious, got10k_summary  # noqa: E402
from lib.models import build_stark  # noqa: E402
from lib.models.checkpoint import save_official_checkpoint  # noqa: E402
from lib.tracker.folder_sequence import folder_sequence  # noqa: E402
from lib.tracker.names import load_test_config  # noqa: E402
from lib.tracker.network import build_backend, build_exact_network  # noqa: E402
from lib.tracker.runner import RunOptions, run_benchmark  # noqa: E402
from lib.tracker.stark_tracker import StarkTracker  # noqa: E402
from lib.utils.io import atomic_write_text  # noqa: E402
from tests.tiny import TINY_NETWORK  # noqa: E402

# the CPU smoke run: the test suite's tiny network with small crops
TINY = [*TINY_NETWORK, "data.template.size=64", "data.search.size=128", "test.template_size=64",
        "test.search_size=128"]  # fmt: skip


class BlockTimeout(Exception):
    """A measurement that ran out of its share of the time budget."""


class Report:
    """Lines printed as they come and rewritten to ``$OUT/gpu_suite.txt`` (+ JSON) after each one."""

    def __init__(self, budget_s: float) -> None:
        self.start = time.perf_counter()
        self.budget_s = budget_s
        self.lines: list[str] = []
        self.figures: dict = {}
        out = os.environ.get("OUT")
        self.folder = Path(out) if out else None

    def left(self) -> float:
        return self.budget_s - (time.perf_counter() - self.start)

    def line(self, text: str, **figures) -> None:
        text = f"[{time.perf_counter() - self.start:6.1f}s] {text}"
        print(text, flush=True)
        self.lines.append(text)
        self.figures.update(figures)
        if self.folder is not None:
            atomic_write_text(self.folder / "gpu_suite.txt", "\n".join(self.lines) + "\n")
            atomic_write_text(self.folder / "gpu_suite.json", json.dumps(self.figures, indent=1) + "\n")

    def block(self, name: str, needs_s: float, fn, cap_s: float = 0.0) -> None:
        """Run ``fn()`` unless fewer than ``needs_s`` seconds are left; any failure becomes one line.

        The block is interrupted after ``cap_s`` seconds (default: whatever is left of the budget), so
        one slow measurement (a compilation) cannot overrun the run's hard limit.
        """
        if self.left() < needs_s:
            self.line(f"SKIPPED {name}: {self.left():.0f} s left, needs about {needs_s:.0f} s")
            return
        limit = max(1, int(min(cap_s or self.left(), self.left())))

        def interrupt(signum, frame):
            raise BlockTimeout(f"stopped after {limit} s (time budget)")

        previous = signal.signal(signal.SIGALRM, interrupt)
        signal.alarm(limit)
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 -- one failed measurement must not lose the others
            where = traceback.extract_tb(exc.__traceback__)[-1]
            self.line(f"FAILED {name}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} "
                      f"({Path(where.filename).name}:{where.lineno})")  # fmt: skip
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def tracker_fps(cfg, backend, frames, init_box, warmup: int) -> float:
    """Frames/s of ``track()`` over ``frames[1:]`` after ``warmup`` untimed frames."""
    tracker = StarkTracker(cfg, backend, "lasot")
    tracker.initialize(frames[0], {"init_bbox": list(init_box)})
    times = []
    for index, frame in enumerate(frames[1:]):
        start = time.perf_counter()
        tracker.track(frame)  # ends in .tolist() / .item(): synchronised with the device
        if index >= warmup:
            times.append(time.perf_counter() - start)
    return 1.0 / statistics.median(times)


def held_out_ao(cfg, backend, videos) -> float:
    ious = []
    for video in videos:
        tracker = StarkTracker(cfg, backend, "got10k_val")
        boxes = [tracker.initialize(video.frames[0], {"init_bbox": video.boxes[0].tolist()})["target_bbox"]]
        boxes += [tracker.track(frame)["target_bbox"] for frame in video.frames[1:]]
        ious.append(got10k_sequence_ious(np.asarray(boxes), video.boxes, None, (~video.absent).astype(float)))
    return got10k_summary(ious)["ao"] / 100.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cpu-smoke", action="store_true", help="tiny network and sizes on the CPU")
    parser.add_argument("--budget", type=float, default=280.0,
                        help="seconds for the measurements (the lead's hard limit is 360 s, imports included)")  # fmt: skip
    parser.add_argument("--checkpoint", default=None, help="trained stark_st2 weights (default: random)")
    parser.add_argument("--config", default="baseline", help="stark_st2 config of the tracker")
    args = parser.parse_args()
    smoke = args.cpu_smoke
    device = torch.device("cpu" if smoke else "cuda")
    if not smoke and not torch.cuda.is_available():
        print("error: no CUDA device (use --cpu-smoke to check the script on the CPU)", file=sys.stderr)
        return 2
    if not smoke:
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32: precision figures stay honest
        torch.backends.cudnn.allow_tf32 = False
    report = Report(args.budget)
    sizes = dict(frames=12, warmup=2, drift_frames=6, videos=2, video_frames=8, sequences=4, seq_frames=6,
                 train_batch=2, train_steps=1) if smoke else dict(frames=110, warmup=10, drift_frames=40, videos=16,
                 video_frames=60, sequences=32, seq_frames=40, train_batch=16, train_steps=10)  # fmt: skip
    extra = TINY if smoke else []
    cfg = load_test_config("stark_st", args.config, ["model.backbone.pretrained=false", *extra])
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    report.line(f"device {name}, torch {torch.__version__}, stark_st/{args.config} "
                f"({cfg.model.backbone.type}, search {cfg.test.search_size}), "
                f"{'checkpoint ' + args.checkpoint if args.checkpoint else 'seeded random weights'}", device=name)  # fmt: skip
    tmp = tempfile.TemporaryDirectory()
    root = Path(tmp.name)
    checkpoint = Path(args.checkpoint) if args.checkpoint else root / "random.pth.tar"
    if not args.checkpoint:
        torch.manual_seed(0)
        save_official_checkpoint(build_stark(cfg), checkpoint)
    frame_w = cfg.test.search_size * 2
    frame_h = cfg.test.search_size * 3 // 2
    options = difficulty_options("medium", width=frame_w, height=frame_h)
    clip = render_sequence(np.random.default_rng(0), sizes["frames"], options)
    backends = {}

    # 1. tracker fps per backend and precision
    def fps_torch(label, **kwargs):
        def run():
            backend = build_backend(cfg, checkpoint, "torch", device, **kwargs)
            backends[label] = backend
            fps = tracker_fps(cfg, backend, clip.frames, clip.boxes[0], sizes["warmup"])
            report.line(f"tracker fps {label:<16} {fps:8.1f} frames/s", **{f"fps_{label}": fps})

        return run

    for amp in ("none", "bf16", "fp16"):
        report.block(f"tracker fps torch {amp}", 10, fps_torch(f"torch_{amp}", amp=amp))
    report.block("tracker fps torch exact", 10, fps_torch("torch_exact_none", exact=True))

    def fps_onnxruntime():
        try:
            import onnxruntime
        except ImportError:
            report.line("SKIPPED tracker fps onnxruntime: onnxruntime is not installed")
            return
        if device.type == "cuda" and "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
            report.line("SKIPPED tracker fps onnxruntime: no CUDA provider (onnxruntime-gpu not installed)")
            return
        from lib.deploy.export import export_graphs

        export_graphs(build_exact_network(cfg, checkpoint), cfg, root / "onnx")
        backend = build_backend(cfg, checkpoint, "onnxruntime", device, onnx_dir=root / "onnx")
        fps = tracker_fps(cfg, backend, clip.frames, clip.boxes[0], sizes["warmup"])
        report.line(f"tracker fps onnxruntime fp32   {fps:8.1f} frames/s", fps_onnxruntime=fps)

    report.block("tracker fps onnxruntime", 20, fps_onnxruntime)

    # 2. precision drift and held-out AO per precision
    def drift():
        from lib.deploy.parity import parity_report

        reference = backends.get("torch_none") or build_backend(cfg, checkpoint, "torch", device)
        for amp in ("bf16", "fp16"):
            candidate = backends.get(f"torch_{amp}") or build_backend(cfg, checkpoint, "torch", device, amp=amp)
            parity = parity_report(cfg, reference, candidate, frames=sizes["drift_frames"])
            seq = parity["tracked_sequence"]
            report.line(f"precision {amp} vs fp32: boxes max diff random {parity['random_crops']['boxes']:.1e}, "
                        f"real {parity['real_crops']['boxes']:.1e}; scores real {parity['real_crops'].get('scores', 0):.1e}; "
                        f"tracked {seq['frames']} frames max box diff {seq['max_box_diff_px']:.2f} px, updates identical "
                        f"{seq['identical_updates']}", **{f"drift_{amp}": parity})  # fmt: skip

    report.block("precision drift", 20, drift)

    def ao_per_precision():
        videos = [render_sequence(np.random.default_rng(500 + i), sizes["video_frames"], options)
                  for i in range(sizes["videos"])]  # fmt: skip
        aos = {}
        for amp in ("none", "bf16", "fp16"):
            backend = backends.get(f"torch_{amp}") or build_backend(cfg, checkpoint, "torch", device, amp=amp)
            aos[amp] = held_out_ao(cfg, backend, videos)
        report.line(f"held-out AO ({sizes['videos']} generated sequences x {sizes['video_frames']} frames): fp32 "
                    f"{aos['none']:.4f}, bf16 {aos['bf16']:.4f} ({aos['bf16'] - aos['none']:+.4f}), fp16 "
                    f"{aos['fp16']:.4f} ({aos['fp16'] - aos['none']:+.4f})", ao=aos)  # fmt: skip

    report.block("held-out AO per precision", 40, ao_per_precision)

    # 3. batched vs sequential evaluation
    def batched():
        folders = write_sequences(root / "frames", sizes["sequences"], sizes["seq_frames"], frame_w, frame_h)
        sequences = [folder_sequence(folder) for folder in folders]
        total = sum(len(seq) for seq in sequences)
        rates = {}
        for batch in sorted({1, min(8, len(sequences) // 2), min(32, len(sequences))}):
            run = RunOptions("stark_st", args.config, "folder", str(checkpoint), str(root / f"results_{batch}"), cfg,
                             device=str(device), batch_sequences=batch)  # fmt: skip
            start = time.perf_counter()
            outcomes = run_benchmark(run, sequences, progress=False)
            rates[batch] = total / (time.perf_counter() - start)
            failed = [o for o in outcomes if o.status != "done"]
            note = f", {len(failed)} failed: {failed[0].error}" if failed else ""
            report.line(f"evaluation batch_sequences={batch:<3} {rates[batch]:8.1f} frames/s "
                        f"({rates[batch] / rates[1]:.2f}x sequential){note}", **{f"eval_fps_batch{batch}": rates[batch]})  # fmt: skip

    report.block("batched evaluation", 60, batched)

    # 4. training step
    def training(amp, chosen, label):
        def run():
            train_cfg = load_config("stark_st1", args.config, ["model.backbone.pretrained=false", *extra])
            rate = train_samples_per_second(train_cfg, device, amp, sizes["train_batch"], 3 if not smoke else 1,
                                            sizes["train_steps"], chosen)  # fmt: skip
            report.line(f"training step {label:<34} {rate:8.1f} samples/s (batch {sizes['train_batch']})",
                        **{f"train_{label}": rate})  # fmt: skip

        return run

    report.block("training fp32", 25, training("none", (), "fp32"))
    report.block("training bf16", 25, training("bf16", (), "bf16 amp"))
    eager_options = tuple(o for o in TRAIN_OPTIONS if o != "compile")
    report.block("training bf16 + options", 25, training("bf16", eager_options, "bf16 + " + "+".join(eager_options)))
    # torch.compile last (the tracker's first): compile times are the least predictable, so each is capped
    if smoke:
        report.line("SKIPPED torch.compile blocks in --cpu-smoke (compiling on a CPU takes minutes)")
    else:
        report.block("tracker fps torch.compile", 60, fps_torch("torch_compile_none", compile=True), cap_s=100)
        report.block("training bf16 + all + compile", 60, training("bf16", TRAIN_OPTIONS, "bf16 + all + compile"))
    ratios = {key: report.figures[key] / report.figures["fps_torch_none"] for key in report.figures
              if key.startswith("fps_") and "fps_torch_none" in report.figures}  # fmt: skip
    report.line("tracker fps relative to torch fp32: " + ", ".join(f"{k[4:]} {v:.2f}x" for k, v in ratios.items()))
    report.line(f"done in {time.perf_counter() - report.start:.0f} s")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
