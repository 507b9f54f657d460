"""Train the baseline and every paper Table 6 / Table 7 variant for the same short budget on the CPU demo
data and print one table of held-out AO.

    python scripts/ablate.py                          # ~1.75 min of training per variant, 10 variants
    python scripts/ablate.py --minutes 3 --heldout 40
    python scripts/ablate.py --variants baseline hungarian --fast

Every variant is the CPU demo network (experiments/stark_st{1,2}/cpu_demo.yaml) plus its paper flags as
``--opts`` (the same lines as the shipped ablation YAMLs). Each run is the commands a user would type:
tracking/train.py (stage 1, then stage 2 for two-stage variants), tracking/test.py on the held-out set.
The budget is wall-clock minutes of training per variant, split as ``minutes - stage2`` + ``stage2`` for
two-stage variants and given whole to one-stage ones. Held-out AO follows the GOT-10k convention (the
first frame dropped); the table also gives the epochs each variant reached in its budget (of
``--samples_per_epoch`` samples), since a wall-clock budget buys costlier variants fewer steps. Figures from minutes of training on generated data say which variants learn fast
here, not the paper's LaSOT ordering.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lib.config import PROJECT_ROOT, load_local_settings, write_local_settings
from lib.data.synthetic import generate_dataset
from lib.train.checkpointing import list_checkpoints
from tracking.demo import final_checkpoint, run_step

CONFIG, DATASET = "cpu_demo", "got10k_val"


@dataclass(frozen=True)
class Variant:
    name: str
    paper: str  # the paper's row and LaSOT AUC
    opts: tuple[str, ...] = ()  # config overrides on top of the cpu_demo configs (training and test)
    two_stage: bool = True  # STARK-ST: stage 1 boxes, stage 2 the score head
    test_opts: tuple[str, ...] = field(default=())  # extra overrides of the stage-2 (test-time) config


NO_SCORE = ("train.objective=box",)  # the test-time config's objective when there is no score stage
VARIANTS = [
    Variant("baseline", "STARK-ST50 (Table 6 #6 / Table 7 Ours) 66.4"),
    Variant("no_enc", "Table 6 #1 no encoder 61.1", ("model.transformer.enc_layers=0",)),
    Variant("no_dec", "Table 6 #2 no decoder 64.5", ("model.transformer.dec_layers=0",)),
    Variant("no_pos", "Table 6 #3 no pos. encoding 66.2", ("model.position_embedding=none",)),
    Variant("mlp_head", "Table 6 #4 MLP box head 63.7", ("model.head_type=mlp",)),
    Variant("no_score", "Table 6 #5 no score head 64.5", ("model.score_head=false",), False, NO_SCORE),
    Variant("template_query", "Table 7 template query 61.2", ("model.query_source=template",)),
    Variant(
        "hungarian",
        "Table 7 Hungarian K=10 63.7",
        ("model.num_object_queries=10", "train.objective=hungarian"),
        False,
    ),
    Variant(
        "update_query",
        "Table 7 update query 64.8",
        (
            "model.score_head=false",
            "model.query_update=true",
            "data.sampler_mode=trident",
            "data.max_sample_interval=[10]",
        ),
        False,
        NO_SCORE,
    ),
    Variant("joint_loc_cls", "Table 7 loc-cls joint 62.5", ("train.objective=box_score",), False),
]


def heldout_scores(sequences: list, folder: Path) -> tuple[float, float]:
    """(AO, SR@0.5) over ``sequences`` from the result files in ``folder`` (GOT-10k convention)."""
    from lib.evaluation.metrics import got10k_sequence_ious
    from lib.evaluation.results_io import box_file, read_boxes

    per_sequence = [
        got10k_sequence_ious(read_boxes(box_file(folder, s.name)), s.ground_truth, s.image_size, s.cover)
        for s in sequences
    ]
    ao = float(np.mean([ious.mean() if ious.size else 0.0 for ious in per_sequence]))
    sr = float(np.mean([(ious > 0.5).mean() if ious.size else 0.0 for ious in per_sequence]))
    return ao, sr


def initial_box_floor(out: Path, roots: dict) -> tuple[float, float]:
    """(AO, SR@0.5) of repeating the initial box: the floor a learnt tracker must clear on this data."""
    from lib.data.registry import load_test_sequences
    from lib.evaluation.baselines import write_initial_box_results

    settings = load_local_settings(roots["settings"], [f"got10k_dir={roots['heldout']}"])
    sequences = load_test_sequences(DATASET, settings)
    folder = out / "runs" / "initial_box"
    shutil.rmtree(folder, ignore_errors=True)
    write_initial_box_results(sequences, folder)
    return heldout_scores(sequences, folder)


def run_variant(variant: Variant, args, out: Path, roots: dict, env: dict) -> dict:
    """Train and test one variant in ``out/runs/<name>`` (cleared first: stale checkpoints or results
    of an earlier run would be picked up); returns its row of the table."""
    py, run_dir = sys.executable, out / "runs" / variant.name
    shutil.rmtree(run_dir, ignore_errors=True)
    # equal wall-clock time per variant (not the cpu_demo configs' fixed epochs): the budget ends each stage, with
    # the lr x 0.1 for its last fifth
    budget = ["train.epoch=100000", "train.lr_drop_epoch=100000", "train.budget_lr_drop=0.8"]
    common = [f"data.train.sample_per_epoch={args.samples_per_epoch}", f"train.seed={args.seed}", *budget, *variant.opts]
    data = [f"got10k_dir={roots['train']}"]
    stage1_minutes = args.minutes - args.stage2_minutes if variant.two_stage else args.minutes
    started = time.monotonic()
    run_step(
        f"{variant.name}: stage 1 ({stage1_minutes:g} min)",
        [py, "tracking/train.py", "--script", "stark_st1", "--config", CONFIG, "--save_dir", str(run_dir),
         "--no_progress", "--opts", f"train.max_minutes={stage1_minutes}", *common, *data],
        env,
    )  # fmt: skip
    scripts = ["stark_st1"]
    if variant.two_stage:
        run_step(
            f"{variant.name}: stage 2 ({args.stage2_minutes:g} min)",
            [py, "tracking/train.py", "--script", "stark_st2", "--config", CONFIG, "--save_dir", str(run_dir),
             "--script_prv", "stark_st1", "--config_prv", CONFIG, "--no_progress", "--opts",
             f"train.max_minutes={args.stage2_minutes}", *common, *data],
            env,
        )  # fmt: skip
        scripts.append("stark_st2")
    train_minutes = (time.monotonic() - started) / 60
    checkpoint = final_checkpoint(run_dir / "checkpoints" / "train" / scripts[-1] / CONFIG)
    # epochs reached within the budget (each of args.samples_per_epoch samples): steps differ by variant cost
    epochs = [list_checkpoints(run_dir / "checkpoints" / "train" / s / CONFIG)[-1][0] for s in scripts]
    heldout = [f"got10k_dir={roots['heldout']}", f"save_dir={run_dir}"]
    run_step(
        f"{variant.name}: tracking the held-out sequences",
        [py, "tracking/test.py", "stark_st", CONFIG, "--dataset", DATASET, "--checkpoint", str(checkpoint),
         "--device", "cpu", "--opts", *variant.opts, *variant.test_opts, *heldout],
        env,
    )  # fmt: skip
    from lib.data.registry import load_test_sequences
    from lib.evaluation.results_io import results_folder

    settings = load_local_settings(roots["settings"], heldout)
    sequences = load_test_sequences(DATASET, settings)
    ao, sr = heldout_scores(sequences, results_folder(settings.results_dir, "stark_st", CONFIG, DATASET))
    return {"variant": variant, "ao": ao, "sr": sr, "wall_minutes": train_minutes, "epochs": epochs,
            "sequences": len(sequences)}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    names = [v.name for v in VARIANTS]
    parser.add_argument("--variants", nargs="*", default=names, choices=names, metavar="NAME", help=", ".join(names))
    parser.add_argument("--minutes", type=float, default=1.75, help="training budget per variant (all stages)")
    parser.add_argument("--stage2_minutes", type=float, default=0.25, help="of it, stage 2 of two-stage variants")
    parser.add_argument("--train_sequences", type=int, default=60)
    parser.add_argument("--heldout", type=int, default=20, help="held-out sequences")
    parser.add_argument("--frames", type=int, default=100, help="frames per generated sequence")
    parser.add_argument("--samples_per_epoch", type=int, default=640)
    parser.add_argument("--fast", action="store_true", help="a few seconds per variant on a few sequences (smoke run)")
    parser.add_argument("--out", default=str(PROJECT_ROOT / "ablate_output"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.fast:
        args.minutes, args.stage2_minutes, args.train_sequences, args.heldout, args.frames = 0.1, 0.03, 6, 3, 25
        args.samples_per_epoch = 64
    if not 0 < args.stage2_minutes < args.minutes:
        parser.error("need 0 < --stage2_minutes < --minutes")

    out = Path(args.out).resolve()
    roots = {"train": out / "data" / "got10k_train", "heldout": out / "data" / "got10k_heldout"}
    size = {"width": 256, "height": 192, "test_sequences": 0}  # the demo's frames
    generate_dataset("got10k", roots["train"], args.train_sequences, args.frames, args.seed, val_sequences=4, **size)
    generate_dataset("got10k", roots["heldout"], 0, args.frames, args.seed + 1000, val_sequences=args.heldout, **size)
    roots["settings"] = out / "stark_local.yaml"
    write_local_settings(roots["settings"], str(out), str(out / "data"), str(out))
    env = dict(os.environ, STARK_LOCAL_FILE=str(roots["settings"]), PYTHONUNBUFFERED="1")
    env.pop("CUDA_VISIBLE_DEVICES", None)

    rows = [run_variant(v, args, out, roots, env) for v in VARIANTS if v.name in args.variants]
    floor_ao, floor_sr = initial_box_floor(out, roots)
    load = os.getloadavg()[0]
    print(
        f"\n=== held-out AO after {args.minutes:g} min of training per variant "
        f"({rows[0]['sequences']} generated sequences, {args.train_sequences} for training; load average {load:.1f})"
    )
    print("| variant | paper (LaSOT AUC) | epochs (stage 1 / 2) | held-out AO | SR0.5 | training wall min |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        v = row["variant"]
        epochs = " / ".join(str(e) for e in row["epochs"])
        print(f"| {v.name} | {v.paper} | {epochs} | {row['ao']:.3f} | {row['sr']:.3f} | {row['wall_minutes']:.1f} |")
    print(f"| repeat the initial box (floor) | | | {floor_ao:.3f} | {floor_sr:.3f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
