"""Quick start: train a small STARK-ST on generated data and evaluate it, end to end, on a CPU.

    bash scripts/demo.sh                # about 14 minutes on 2 idle cores (plus the first install)
    bash scripts/demo.sh --fast         # the same steps on a few short sequences (the test suite runs it)
    bash scripts/demo.sh --epochs 30    # train stage 1 longer (default 16 epochs, ~6.5 minutes)

Training runs a fixed number of epochs (no wall-clock budget), so a rerun with the same seed prints the same
score-head accuracy on the same machine.

Steps (each one the command a user would run on the real data):
  1. generate, in the GOT-10k layout, a training set, a validation set, a held-out set (the ``wide``
     generator, three seeds) and a second held-out set from the ``shifted`` generator, which is never
     trained on (scripts/make_synthetic_dataset.py's generator);
  2. stage 1 and stage 2 with tracking/train.py (experiments/stark_st{1,2}/cpu_demo.yaml);
  3. the test-time search factor is chosen by AO on the validation set (tracking/test.py per candidate);
  4. tracking/test.py on the held-out set with score-gated template updates and with no updates, plus a
     tracker that repeats the initial box as the floor; the same on the shifted set;
  5. tracking/analysis_results.py (GOT-10k AO/SR, success plots), the score head's held-out accuracy,
     and tracking/video_demo.py on one held-out sequence.
"""

from __future__ import annotations

import argparse
import functools
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from lib.config import PROJECT_ROOT, load_config, load_local_settings, write_local_settings
from lib.data.generated_folder import claim_generated_folder
from lib.data.synthetic import generate_dataset

TRACKER, CONFIG, DATASET = "stark_st", "cpu_demo", "got10k_val"
BASELINE = "initial_box"
NEVER_UPDATE_RUNID = 1  # results of the run whose dynamic template is never replaced
NEVER = 1_000_000  # an update interval no sequence reaches


@dataclass
class Plan:
    train_sequences: int
    validation_sequences: int
    heldout_sequences: int
    shifted_sequences: int
    frames: int
    stage1_epochs: int
    stage2_epochs: int
    samples_per_epoch: int
    score_samples: int
    search_factors: tuple[float, ...]  # test-time candidates, chosen between on the validation set
    overhead_minutes: float  # start-ups, analysis, video: with 4.0 the estimate matches the 14.0 min of an idle run

    def tracked_frames(self) -> int:
        runs = len(self.search_factors) * self.validation_sequences + 2 * self.heldout_sequences
        return (runs + self.shifted_sequences) * self.frames

    def estimate_minutes(self) -> float:
        # measured on 2 idle cores: ~0.15 s per generated sequence, ~23 s per stage-1 epoch and ~8 s per
        # stage-2 epoch of 640 samples, ~200 frames/s tracked by two workers that each track several sequences
        # side by side (start-ups included)
        sequences = self.train_sequences + self.validation_sequences + self.heldout_sequences + self.shifted_sequences
        data = sequences * 0.15 / 60
        training = (23 * self.stage1_epochs + 8 * self.stage2_epochs) * self.samples_per_epoch / 640 / 60
        testing = self.tracked_frames() / 200 / 60
        return data + training + testing + self.overhead_minutes


def make_plan(args: argparse.Namespace) -> Plan:
    if args.fast:
        return Plan(6, 2, 3, 2, 25, args.epochs or 4, 3, 64, 64, (4.0, 5.0), 1.5)
    stage1, stage2 = (demo_training(script).epoch for script in ("stark_st1", "stark_st2"))
    return Plan(200, 12, 30, 24, 100, args.epochs or stage1, stage2, 640, 400, (4.0, 4.5, 5.0), 4.0)


@functools.cache
def demo_training(script: str):
    """The ``train`` section of the stage's cpu_demo config (read once: the plan and the stage's options use it)."""
    return load_config(script, CONFIG).train


def epoch_options(script: str, epochs: int) -> list[str]:
    """Train ``epochs`` epochs with the lr drop where the stage's cpu_demo config puts it, scaled to them."""
    train = demo_training(script)
    return [f"train.epoch={epochs}", f"train.lr_drop_epoch={max(1, round(epochs * train.lr_drop_epoch / train.epoch))}"]


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


def pooled_ao(sequences: list, results_dir: Path, runs: list[tuple[str, Optional[int]]]) -> list[float]:
    """AO in % (GOT-10k convention) of each ``(tracker, runid)`` on ``sequences``."""
    from lib.evaluation.analysis import TrackerRun, analyse

    report = analyse([TrackerRun(tracker, CONFIG, runid) for tracker, runid in runs], sequences, DATASET, results_dir)
    return [summary["ao"] for summary in report.summaries]


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
    model = build_stark(cfg, imagenet=False)
    load_network_weights(model, checkpoint)
    return score_head_accuracy(model, loader).describe()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true", help="a few short sequences: shows the pipeline runs")
    parser.add_argument("--epochs", type=int, default=None, help="stage-1 epochs (default 16, ~6.5 minutes)")
    parser.add_argument("--out", default=str(PROJECT_ROOT / "demo_output"), help="everything is written here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    plan = make_plan(args)
    out = Path(args.out).resolve()
    data = out / "data"
    roots = {
        "train": data / "got10k_train",
        "validation": data / "got10k_validation",
        "heldout": data / "got10k_heldout",
        "shifted": data / "got10k_shifted",
    }
    started = time.monotonic()
    print(
        f"STARK quick start: about {plan.estimate_minutes():.0f} minute(s) on 2 idle CPU cores "
        f"(stage 1 {plan.stage1_epochs} epochs, stage 2 {plan.stage2_epochs}, the rest data, "
        f"{plan.tracked_frames()} tracked frames, analysis; a busy machine takes longer). Output: {out}",
        flush=True,
    )

    print(
        f"\n=== generating {plan.train_sequences} training, {plan.validation_sequences} validation and "
        f"{plan.heldout_sequences} held-out sequences ('wide' generator, seeds {args.seed}, {args.seed + 2000}, "
        f"{args.seed + 1000}) and {plan.shifted_sequences} held-out sequences of the 'shifted' generator "
        f"(seed {args.seed + 3000}, never trained on)"
    )
    split = {"test_sequences": 0}
    # a rerun replaces what the demo generated before (and refuses folders it did not write)
    for root in roots.values():
        claim_generated_folder(root, overwrite=True, description={"written_by": "tracking/demo.py"})
    generate_dataset("got10k", roots["train"], plan.train_sequences, plan.frames, args.seed, "wide",
                     val_sequences=4, **split)  # fmt: skip
    for name, seed, count, difficulty in (
        ("validation", args.seed + 2000, plan.validation_sequences, "wide"),
        ("heldout", args.seed + 1000, plan.heldout_sequences, "wide"),
        ("shifted", args.seed + 3000, plan.shifted_sequences, "shifted"),
    ):
        generate_dataset("got10k", roots[name], 0, plan.frames, seed, difficulty, val_sequences=count, **split)
    settings_file = out / "stark_local.yaml"
    write_local_settings(settings_file, str(out), str(data), str(out))
    env = dict(os.environ, STARK_LOCAL_FILE=str(settings_file), PYTHONUNBUFFERED="1")
    env.pop("CUDA_VISIBLE_DEVICES", None)
    py = sys.executable
    paths = [f"got10k_dir={roots['train']}"]
    epoch_opts = [f"data.train.sample_per_epoch={plan.samples_per_epoch}", f"train.seed={args.seed}"]

    run_step(
        "stage 1: boxes (tracking/train.py)",
        [py, "tracking/train.py", "--script", "stark_st1", "--config", CONFIG, "--save_dir", str(out), "--overwrite",
         "--opts",
         *epoch_options("stark_st1", plan.stage1_epochs), *epoch_opts, *paths],
        env,
    )  # fmt: skip
    run_step(
        "stage 2: score head (tracking/train.py)",
        [py, "tracking/train.py", "--script", "stark_st2", "--config", CONFIG, "--save_dir", str(out), "--overwrite",
         "--script_prv", "stark_st1", "--config_prv", CONFIG, "--opts",
         *epoch_options("stark_st2", plan.stage2_epochs), *epoch_opts, *paths],
        env,
    )  # fmt: skip
    checkpoint = final_checkpoint(out / "checkpoints" / "train" / "stark_st2" / CONFIG)

    from lib.data.registry import load_test_sequences
    from lib.evaluation.baselines import write_initial_box_results
    from lib.evaluation.results_io import results_folder

    counts = {"validation": plan.validation_sequences, "heldout": plan.heldout_sequences,
              "shifted": plan.shifted_sequences}  # fmt: skip

    def track(name: str, save_dir: Path, title: str, runid=None, opts=()) -> None:
        # two single-threaded workers, each tracking up to 8 sequences side by side (one network call per frame
        # step): the 30 held-out sequences took 14 s instead of 79 s one at a time per worker (busy 2 cores)
        batch = max(1, min(8, counts[name] // 2))
        run_step(
            f"{title} (tracking/test.py)",
            [py, "tracking/test.py", TRACKER, CONFIG, "--dataset", DATASET, "--checkpoint", str(checkpoint),
             "--device", "cpu", "--threads", "2", "--batch_sequences", str(batch), "--overwrite",
             *([] if runid is None else ["--runid", str(runid)]),
             "--opts", f"got10k_dir={roots[name]}", f"save_dir={save_dir}", *opts],
            env,
        )  # fmt: skip

    def sequences_of(name: str, save_dir: Path):
        settings = load_local_settings(settings_file, [f"got10k_dir={roots[name]}", f"save_dir={save_dir}"])
        return settings, load_test_sequences(DATASET, settings)

    # test-time parameters are chosen here, on sequences that are neither trained nor reported on
    validation_dir = out / "validation"
    for runid, factor in enumerate(plan.search_factors):
        track("validation", validation_dir, f"validation set, search factor {factor:g}", runid,
              [f"test.search_factor={factor}"])  # fmt: skip
    validation_settings, validation = sequences_of("validation", validation_dir)
    candidates = [(TRACKER, runid) for runid in range(len(plan.search_factors))]
    validation_ao = pooled_ao(validation, validation_settings.results_dir, candidates)
    best = max(range(len(plan.search_factors)), key=lambda i: (validation_ao[i], -i))
    factor = plan.search_factors[best]
    choice = ", ".join(f"{f:g}: {ao:.1f}" for f, ao in zip(plan.search_factors, validation_ao))
    print(f"\nvalidation AO in % per search factor ({len(validation)} sequences): {choice}; using {factor:g}")

    chosen = [f"test.search_factor={factor}"]
    never = [*chosen, f"test.update_intervals.{DATASET.upper()}=[{NEVER}]"]
    track("heldout", out, "held-out set, score-gated template updates", None, chosen)
    track("heldout", out, "held-out set, template never updated", NEVER_UPDATE_RUNID, never)
    shifted_dir = out / "shifted"
    track("shifted", shifted_dir, "shifted generator (never trained on), score-gated updates", None, chosen)

    ao, plots = {}, {}
    for name, save_dir in (("heldout", out), ("shifted", shifted_dir)):
        settings, sequences = sequences_of(name, save_dir)
        write_initial_box_results(sequences, results_folder(settings.results_dir, BASELINE, CONFIG, DATASET))
        shown = [(TRACKER, None, "STARK-ST (score-gated updates)")]
        if name == "heldout":
            shown.append((TRACKER, NEVER_UPDATE_RUNID, "STARK-ST (never updated)"))
            heldout_settings, heldout = settings, sequences
        shown.append((BASELINE, None, "repeat initial box"))
        flags = [text for tracker, runid, label in shown
                 for text in ("--tracker", tracker, "--config", CONFIG, "--runid", str(-1 if runid is None else runid),
                              "--name", label)]  # fmt: skip
        plots[name] = save_dir / "test" / "result_plots" / DATASET
        run_step(
            f"analysis of the {name} set (tracking/analysis_results.py)",
            [py, "tracking/analysis_results.py", *flags, "--dataset", DATASET, "--out_dir", str(plots[name]),
             "--opts", f"got10k_dir={roots[name]}", f"save_dir={save_dir}"],
            env,
        )  # fmt: skip
        ao[name] = (pooled_ao(sequences, settings.results_dir, [(t, r) for t, r, _ in shown]), len(sequences))

    video = out / "demo_video.mp4"
    folder = results_folder(heldout_settings.results_dir, TRACKER, CONFIG, DATASET)
    typical, typical_ao = median_sequence(heldout, folder)
    run_step(
        f"video demo (tracking/video_demo.py) on {typical.name}, the held-out sequence of median AO ({typical_ao:.2f})",
        [py, "tracking/video_demo.py", TRACKER, CONFIG, str(roots["heldout"] / "val" / typical.name),
         "--optional_box", *[f"{v:g}" for v in typical.init_box], "--checkpoint", str(checkpoint),
         "--save_video", str(video), "--device", "cpu", "--opts", f"test.search_factor={factor}"],
        env,
    )  # fmt: skip

    print("\n=== score head on held-out present/absent samples")
    score_line = score_head_report(roots["heldout"], checkpoint, plan.score_samples, settings_file)

    (gated, never_ao, heldout_floor), heldout_count = ao["heldout"]
    (shifted_ao, shifted_floor), shifted_count = ao["shifted"]

    def times(value: float, floor: float) -> str:
        return f"{value / floor:.1f}x" if floor > 0 else "inf x"

    minutes = (time.monotonic() - started) / 60
    print("\n=== summary (AO in %, GOT-10k convention, as in the tables above)")
    print(f"held-out AO in % ({heldout_count} sequences): STARK-ST score-gated updates {gated:.1f}, never updated "
          f"{never_ao:.1f}; repeat-initial-box baseline {heldout_floor:.1f} (gated: {times(gated, heldout_floor)})")  # fmt: skip
    print(f"shifted-generator AO in % ({shifted_count} sequences, never trained on): STARK-ST {shifted_ao:.1f}; "
          f"repeat-initial-box baseline {shifted_floor:.1f} ({times(shifted_ao, shifted_floor)})")  # fmt: skip
    print(score_line)
    print(f"test-time search factor {factor:g}, chosen on the validation set (AO in % per factor: {choice})")
    if args.fast:
        print("(--fast trains for seconds on a handful of sequences: these numbers only show the pipeline runs)")
    for name in ("heldout", "shifted"):
        print(f"{name} success plot: {plots[name] / 'got10k' / 'success_plot.png'}; table: "
              f"{plots[name] / 'results_got10k.txt'}")  # fmt: skip
    print(f"demo video: {video}")
    print(f"checkpoints: {out / 'checkpoints' / 'train'}")
    print(f"finished in {minutes:.1f} minutes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
