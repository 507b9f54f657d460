"""Training-step throughput of the full model (ST50 stage 1 by default) through the real training loop.

    python scripts/bench/train_step.py                                  # CPU, batch 2, fp32
    python scripts/bench/train_step.py --device cuda --amp none bf16    # GPU, fp32 vs bf16
    python scripts/bench/train_step.py --device cuda --amp bf16 --options none pin_memory channels_last fused_adamw compile all

Random tensors stand in for the data (the loader is not measured); the steps run through
``lib.train.trainer.Trainer`` (forward, loss, backward, unscale, clip, AdamW) with the stage's freezing.
Prints one line per precision and option: samples/s and seconds per step after warm-up steps.

Options (measured, not used by tracking/train.py): ``pin_memory`` (page-locked batches, non-blocking
copies), ``channels_last`` (model and images), ``fused_adamw`` (``torch.optim.AdamW(fused=True)`` over the
same parameter groups), ``compile`` (``torch.compile`` of the model), ``all`` (every one of them).
"""

from __future__ import annotations

import argparse
import logging
import time

import torch

from lib.config import load_config
from lib.models import build_stark
from lib.train.distributed import DistContext
from lib.train.objectives import build_objective
from lib.train.optim import build_optimizer, build_scheduler, freeze_for_objective, param_groups
from lib.train.trainer import Trainer, TrainerOptions
from lib.utils.logging import setup_logging


class RandomBatches:
    """A loader of ``steps`` identical-shape random batches (the interface the trainer needs)."""

    def __init__(self, cfg, batch_size: int, steps: int, pin_memory: bool = False, channels_last: bool = False):
        t, s, n = cfg.data.template.size, cfg.data.search.size, cfg.data.template.number
        gen = torch.Generator().manual_seed(0)
        xy = torch.rand(batch_size, 2, generator=gen) * 0.5
        self.batch = {
            "template_images": torch.randn(batch_size, n, 3, t, t, generator=gen),
            "template_masks": torch.zeros(batch_size, n, t, t, dtype=torch.bool),
            "search_images": torch.randn(batch_size, 3, s, s, generator=gen),
            "search_masks": torch.zeros(batch_size, s, s, dtype=torch.bool),
            "search_boxes": torch.cat([xy, torch.full((batch_size, 2), 0.2)], dim=1),
            "label": torch.ones(batch_size),
        }
        if channels_last:
            self.batch["search_images"] = self.batch["search_images"].contiguous(memory_format=torch.channels_last)
        if pin_memory:
            self.batch = {key: value.pin_memory() for key, value in self.batch.items()}
        self.steps = steps

    def set_epoch(self, epoch: int) -> None:
        pass

    def __len__(self) -> int:
        return self.steps

    def __iter__(self):
        for _ in range(self.steps):
            yield self.batch


OPTIONS = ("pin_memory", "channels_last", "fused_adamw", "compile")


def measure(
    cfg, device: torch.device, amp: str, batch_size: int, warmup: int, steps: int, options: tuple[str, ...] = ()
) -> float:
    """Samples per second over ``steps`` optimiser steps after ``warmup`` steps (``options``: see the docstring)."""
    torch.manual_seed(0)
    model = build_stark(cfg)
    objective = build_objective(cfg)
    frozen = freeze_for_objective(objective, model, cfg)
    model.to(device)
    if "channels_last" in options:
        model.to(memory_format=torch.channels_last)
    if "fused_adamw" in options:
        groups = param_groups(model, cfg.train.lr, cfg.train.backbone_multiplier)
        optimizer = torch.optim.AdamW(groups, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay, fused=True)
    else:
        optimizer = build_optimizer(cfg, model)
    loop = TrainerOptions.from_config(cfg, show_progress=False)
    loop.amp, loop.batch_size, loop.print_interval = amp, batch_size, 10**9
    batches = {
        "pin_memory": "pin_memory" in options and device.type == "cuda",
        "channels_last": "channels_last" in options,
    }
    trainer = Trainer(
        torch.compile(model) if "compile" in options else model,
        objective,
        optimizer,
        build_scheduler(cfg, optimizer),
        RandomBatches(cfg, batch_size, warmup, **batches),
        loop,
        ctx=DistContext(device=device),
        frozen_modules=frozen,
    )
    if warmup:  # an epoch of no steps has no loss to report
        trainer.train_epoch(1)
    trainer.train_loader = RandomBatches(cfg, batch_size, steps, **batches)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    trainer.train_epoch(2)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return steps * batch_size / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", default="stark_st1")
    parser.add_argument("--config", default="baseline")
    parser.add_argument("--device", default="cpu", help="cpu | cuda")
    parser.add_argument("--amp", nargs="+", default=["none"], help="precisions to compare: none bf16 fp16")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    parser.add_argument("--options", nargs="+", default=["none"], choices=("none", *OPTIONS, "all"),
                        help="measured options, one run each (all: every option together)")  # fmt: skip
    parser.add_argument("--opts", nargs="*", default=[])
    args = parser.parse_args()
    if args.warmup < 0 or args.steps < 1 or args.batch < 1:
        parser.error("need --warmup >= 0, --steps >= 1 and --batch >= 1")
    setup_logging(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    cfg = load_config(args.script, args.config, ["model.backbone.pretrained=false", *args.opts])
    device = torch.device(args.device)
    name = f"{args.script}/{args.config} ({cfg.model.backbone.type}, objective {cfg.train.objective})"
    for amp in args.amp:
        for option in args.options:
            chosen = OPTIONS if option == "all" else (() if option == "none" else (option,))
            rate = measure(cfg, device, amp, args.batch, args.warmup, args.steps, chosen)
            print(
                f"{name} device={device} amp={amp} options={option} batch={args.batch} "
                f"threads={torch.get_num_threads()}: {rate:.2f} samples/s ({args.batch / rate:.3f} s/step)"
            )


if __name__ == "__main__":
    main()
