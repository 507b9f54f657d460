"""Quick start: train a small STARK-ST on generated data and evaluate it, end to end, on a CPU.

    bash scripts/demo.sh                # about 12 minutes on 2 cores (plus the first install)
    bash scripts/demo.sh --fast         # the same steps on a few sequences, about a minute
    bash scripts/demo.sh --minutes 20   # train stage 1 longer (default 8 minutes)

Steps (each one the command a user would run on the real data):
  1. generate a training set and a separate held-out set in the GOT-10k layout
     (scripts/make_synthetic_dataset.py's generator);
  2. stage 1 and stage 2 with tracking/train.py (experiments/stark_st{1,2}/cpu_demo.yaml);
  3. tracking/test.py on the held-out set, plus a tracker that repeats the initial box as the floor;
  4. tracking/analysis_results.py (GOT-10k AO/SR, success plot), the score head's held-out accuracy,
     and tracking/video_demo.py on one held-out sequence.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from lib.config import PROJECT_ROOT, load_config, load_local_settings, write_local_settings
from lib.data.generated_folder import claim_generated_folder
from lib.data.synthetic import generate_dataset

TRACKER, CONFIG, DATASET = "stark_st", "cpu_demo", "got10k_val"
BASELINE = "initial_box"


@dataclass
class Plan:
    train_sequences: int
    heldout_sequences: int
    frames: int
    stage1_minutes: float
    stage2_minutes: float
    samples_per_epoch: int
    score_samples: int
    overhead_minutes: float  # start-ups, the epoch each stage overshoots its budget by, analysis and video

    def estimate_minutes(self) -> float:
        # measured on 2 cores: ~0.15 s per generated sequence, ~60 frames/s tracked with two workers
        data = (self.train_sequences + self.heldout_sequences) * 0.15 / 60
        testing = self.heldout_sequences * self.frames / 60 / 60
        return data + self.stage1_minutes + self.stage2_minutes + testing + self.overhead_minutes


def make_plan(args: argparse.Namespace) -> Plan:
    if args.fast:
        return Plan(6, 3, 25, args.minutes or 0.2, 0.05, 64, 64, 1.0)
    return Plan(60, 40, 100, args.minutes or 8.0, 0.5, 640, 400, 2.0)


def run_step(title: str, argv: list[str], env: dict) -> None:
    print(f"\n=== {title}\n$ {' '.join(argv)}", flush=True)
    code = subprocess.call(argv, env=env, cwd=PROJECT_ROOT)
    if code != 0:
        print(f"demo: step '{title}' failed with exit code {code}", file=sys.stderr)
        sys.exit(code)


def final_checkpoint(folder: Path) -> Path:
    from lib.train.checkpointing import latest_checkpoint

    found = latest_checkpoint(folder)
    if found is None:
        print(f"demo: no checkpoint in {folder}", file=sys.stderr)
        sys.exit(1)
    return found


def read_ao(csv_path: Path) -> dict[str, float]:
    with open(csv_path, newline="") as handle:
        return {row["tracker"]: float(row["AO"]) for row in csv.DictReader(handle)}


def median_sequence(sequences: list, folder: Path) -> tuple:
    """The held-out sequence whose AO (GOT-10k convention) is the median: a typical case, not the best."""
    from lib.evaluation.metrics import got10k_sequence_ious
    from lib.evaluation.results_io import box_file, read_boxes

    scored = []
    for seq in sequences:
        ious = got10k_sequence_ious(read_boxes(box_file(folder, seq.name)), seq.ground_truth, seq.image_size, seq.cover)
        scored.append((float(ious.mean()) if ious.size else 0.0, seq.name, seq))
    scored.sort(key=lambda item: (item[0], item[1]))
    ao, _, seq = scored[len(scored) // 2]
    return seq, ao


def score_head_report(heldout_root: Path, checkpoint: Path, samples: int, settings_file: Path) -> str:
    import torch

    from lib.data.loader import build_data_loader
    from lib.evaluation.score_head import score_head_accuracy
    from lib.models import build_stark
    from lib.models.checkpoint import load_network_weights

    torch.set_num_threads(2)
    overrides = [
        "data.val.datasets_name=[GOT10K_official_val]",
        "data.val.datasets_ratio=[1]",
        f"data.val.sample_per_epoch={samples}",
        "train.num_worker=0",
    ]
    cfg = load_config("stark_st2", CONFIG, overrides)
    settings = load_local_settings(settings_file, [f"got10k_dir={heldout_root}"])
    loader = build_data_loader(cfg, settings, "val")
    loader.set_epoch(0)
    model = build_stark(cfg)
    load_network_weights(model, checkpoint)
    return score_head_accuracy(model, loader).describe()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="a few sequences, about a minute (CI and tests)")
    parser.add_argument("--minutes", type=float, default=None, help="stage-1 training budget (default 8)")
    parser.add_argument("--out", default=str(PROJECT_ROOT / "demo_output"), help="everything is written here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    plan = make_plan(args)
    out = Path(args.out).resolve()
    train_root, heldout_root = out / "data" / "got10k_train", out / "data" / "got10k_heldout"
    started = time.monotonic()
    print(
        f"STARK quick start: about {plan.estimate_minutes():.0f} minute(s) on 2 CPU cores "
        f"(stage 1 {plan.stage1_minutes:g} min, stage 2 {plan.stage2_minutes:g} min, the rest data, testing, "
        f"analysis). Output: {out}",
        flush=True,
    )

    print(f"\n=== generating {plan.train_sequences} training and {plan.heldout_sequences} held-out sequences")
    # 256x192 frames: the decoded training set fits the in-memory frame cache
    size = {"width": 256, "height": 192, "test_sequences": 0}
    # a rerun replaces what the demo generated before (and refuses folders it did not write)
    for root in (train_root, heldout_root):
        claim_generated_folder(root, overwrite=True, description={"written_by": "tracking/demo.py"})
    generate_dataset("got10k", train_root, plan.train_sequences, plan.frames, args.seed, val_sequences=4, **size)
    generate_dataset(
        "got10k", heldout_root, 0, plan.frames, args.seed + 1000, val_sequences=plan.heldout_sequences, **size
    )
    settings_file = out / "stark_local.yaml"
    write_local_settings(settings_file, str(out), str(out / "data"), str(out))
    env = dict(os.environ, STARK_LOCAL_FILE=str(settings_file), PYTHONUNBUFFERED="1")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    py = sys.executable
    paths = [f"got10k_dir={train_root}"]
    epoch_opts = [f"data.train.sample_per_epoch={plan.samples_per_epoch}", f"train.seed={args.seed}"]

    run_step(
        "stage 1: boxes (tracking/train.py)",
        [py, "tracking/train.py", "--script", "stark_st1", "--config", CONFIG, "--save_dir", str(out), "--overwrite",
         "--opts",
         f"train.max_minutes={plan.stage1_minutes}", *epoch_opts, *paths],
        env,
    )  # fmt: skip
    run_step(
        "stage 2: score head (tracking/train.py)",
        [py, "tracking/train.py", "--script", "stark_st2", "--config", CONFIG, "--save_dir", str(out), "--overwrite",
         "--script_prv", "stark_st1", "--config_prv", CONFIG, "--opts",
         f"train.max_minutes={plan.stage2_minutes}", *epoch_opts, *paths],
        env,
    )  # fmt: skip
    checkpoint = final_checkpoint(out / "checkpoints" / "train" / "stark_st2" / CONFIG)

    heldout = [f"got10k_dir={heldout_root}", f"save_dir={out}"]
    run_step(
        "tracking the held-out sequences (tracking/test.py)",
        [py, "tracking/test.py", TRACKER, CONFIG, "--dataset", DATASET, "--checkpoint", str(checkpoint),
         "--device", "cpu", "--threads", "2", "--overwrite", "--opts", *heldout],
        env,
    )  # fmt: skip

    from lib.data.registry import load_test_sequences
    from lib.evaluation.baselines import write_initial_box_results
    from lib.evaluation.results_io import results_folder

    settings = load_local_settings(settings_file, heldout)
    sequences = load_test_sequences(DATASET, settings)
    write_initial_box_results(sequences, results_folder(settings.results_dir, BASELINE, CONFIG, DATASET))

    plots_dir = out / "test" / "result_plots" / DATASET
    run_step(
        "analysis (tracking/analysis_results.py)",
        [py, "tracking/analysis_results.py", "--tracker", TRACKER, "--config", CONFIG, "--tracker", BASELINE,
         "--config", CONFIG, "--dataset", DATASET, "--out_dir", str(plots_dir), "--opts", *heldout],
        env,
    )  # fmt: skip

    video = out / "demo_video.mp4"
    shown, shown_ao = median_sequence(sequences, results_folder(settings.results_dir, TRACKER, CONFIG, DATASET))
    run_step(
        f"video demo (tracking/video_demo.py) on {shown.name}, the held-out sequence of median AO ({shown_ao:.2f})",
        [py, "tracking/video_demo.py", TRACKER, CONFIG, str(heldout_root / "val" / shown.name),
         "--optional_box", *[f"{v:g}" for v in shown.init_box], "--checkpoint", str(checkpoint),
         "--save_video", str(video), "--device", "cpu"],
        env,
    )  # fmt: skip

    print("\n=== score head on held-out present/absent samples")
    score_line = score_head_report(heldout_root, checkpoint, plan.score_samples, settings_file)

    ao = read_ao(plots_dir / "results_got10k.csv")
    ours, floor = ao[f"{TRACKER}_{CONFIG}"], ao[f"{BASELINE}_{CONFIG}"]
    ratio = ours / floor if floor > 0 else float("inf")
    minutes = (time.monotonic() - started) / 60
    print("\n=== summary")
    print(f"held-out AO (GOT-10k convention, {len(sequences)} sequences): STARK-ST {ours / 100:.3f}, "
          f"repeat-initial-box baseline {floor / 100:.3f} ({ratio:.1f}x)")  # fmt: skip
    print(score_line)
    if args.fast:
        print("(--fast trains for seconds on a handful of sequences: these numbers only show the pipeline runs)")
    print(f"success plot: {plots_dir / 'got10k' / 'success_plot.png'}")
    print(f"results table: {plots_dir / 'results_got10k.txt'}")
    print(f"demo video: {video}")
    print(f"checkpoints: {out / 'checkpoints' / 'train'}")
    print(f"finished in {minutes:.1f} minutes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
