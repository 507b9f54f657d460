"""The training loop: one visible epoch loop with DDP, accumulation, AMP, clipping and honest failures.

Model, objective, optimiser, scheduler and loaders are constructor arguments (``lib.train.run`` builds
them from a config), so the loop can be tested with small stand-ins. The objective
(``lib.train.objectives``) runs the model on a batch and computes the loss; the loop knows nothing else
about the network.

One optimiser step = ``grad_accum_steps`` micro-batches. On every micro-batch the loss terms and a
non-finite flag are summed over ranks *before* the backward pass; when any rank sees a NaN/inf loss
every rank raises ``NonFiniteLossError`` in the same step, so no rank waits forever in a collective.
Under AMP the gradients are unscaled before ``clip_grad_norm_`` (the official code skipped clipping
under AMP). Each epoch starts by seeding torch/numpy/random from ``(seed, rank, epoch)`` (dropout
RNG) after ``loader.set_epoch(epoch)`` (samples), so a run resumed from the checkpoint of epoch
``e`` replays epoch ``e + 1`` exactly as an uninterrupted run would.

Loop structure in the spirit of DETR's ``engine.py`` and nanoGPT's ``train.py``, written fresh.
"""

from __future__ import annotations

import contextlib
import logging
import math
import sys
import time
from dataclasses import dataclass
from typing import Any, Optional

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from lib.data.loader import take_redraw_summary
from lib.data.processing import normalize_images
from lib.models.checkpoint import check_state_matches, net_type_of
from lib.train.checkpointing import (
    CheckpointManager,
    code_version,
    load_training_state,
    rng_state,
    set_rng_state,
)
from lib.train.distributed import (
    DistContext,
    all_reduce_sum,
    barrier,
    broadcast_buffers,
    derive_seed,
    seed_everything,
)
from lib.train.errors import NonFiniteLossError, TrainSetupError
from lib.train.metrics_log import MetricsLogger, RunningMeans
from lib.train.optim import set_train_mode

logger = logging.getLogger(__name__)

_AMP_DTYPES = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class TrainerOptions:
    epochs: int = 500  # last epoch (1-based)
    grad_accum_steps: int = 1  # micro-batches per optimiser step
    grad_clip_norm: float = 0.1  # 0 disables clipping
    amp: str = "none"  # none | bf16 | fp16
    seed: int = 42
    print_interval: int = 50  # steps between step-level metric records
    val_epoch_interval: int = 20  # validate when epoch % interval == 0 (and a val loader exists)
    batch_size: int = 16  # per-process micro-batch size (for samples/s and the lr-rule message)
    show_progress: bool = True  # tqdm bar on rank 0
    max_minutes: float = 0.0  # wall-clock budget of fit(): stop after the epoch that exceeds it; 0 = none
    budget_lr_drop: float = 0.0  # with max_minutes: scale the lr by lr_decay once this share of the budget is spent
    lr_decay: float = 0.1  # factor of that drop (the StepLR gamma)
    find_unused_parameters: bool = False  # DDP: trainable parameters may get no gradient (official parity)

    @classmethod
    def from_config(cls, cfg, show_progress: bool = True) -> TrainerOptions:
        t = cfg.train
        return cls(
            epochs=t.epoch,
            grad_accum_steps=t.grad_accum_steps,
            grad_clip_norm=t.grad_clip_norm,
            amp=t.amp,
            seed=t.seed,
            print_interval=t.print_interval,
            val_epoch_interval=t.val_epoch_interval,
            batch_size=t.batch_size,
            show_progress=show_progress,
            max_minutes=t.max_minutes,
            budget_lr_drop=t.budget_lr_drop,
            lr_decay=t.scheduler.decay_rate,
            find_unused_parameters=t.official_parity,
        )


def _to_device(batch: dict, device: torch.device) -> dict:
    """The batch on ``device``, its uint8 crops normalised there (a quarter of the bytes cross the bus)."""
    moved = {k: (v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
    return normalize_images(moved)


class Trainer:
    """Trains ``model`` for ``options.epochs`` epochs (see the module docstring).

    Args:
        model: the unwrapped model, already on ``ctx.device`` with frozen parameters set; it is wrapped
            in ``DistributedDataParallel`` when ``ctx.distributed`` (``find_unused_parameters`` from the
            options: off unless official parity leaves an unused module trainable).
        criterion: the training objective (``lib.train.objectives.Objective``): ``predict(model, batch)``
            gives the outputs, ``criterion(outputs, batch) -> (loss, stats)``, plus its counters.
        optimizer, scheduler: the scheduler is stepped once per epoch.
        train_loader: yields batch dicts, ``grad_accum_steps`` consecutive ones per step; has
            ``set_epoch`` and ``__len__`` (micro-batches per epoch).
        options: loop settings.
        ctx: rank, world size and device.
        val_loader: optional; run every ``val_epoch_interval`` epochs.
        checkpoints: writes one checkpoint per epoch on rank 0 (None: no checkpoints).
        metrics: TensorBoard/JSON-lines output (None: logging only).
        frozen_modules: top-level modules whose batch-norm layers stay in eval mode.
        config_dict: resolved config stored in every checkpoint.
    """

    def __init__(
        self,
        model: nn.Module,
        criterion: Any,
        optimizer: torch.optim.Optimizer,
        scheduler: Any,
        train_loader: Any,
        options: TrainerOptions,
        ctx: Optional[DistContext] = None,
        val_loader: Any = None,
        checkpoints: Optional[CheckpointManager] = None,
        metrics: Optional[MetricsLogger] = None,
        frozen_modules: tuple[str, ...] | list[str] = (),
        config_dict: Optional[dict] = None,
    ) -> None:
        self.ctx = ctx or DistContext()
        self.net = model
        if self.ctx.distributed:
            device_ids = [self.ctx.device.index] if self.ctx.device.type == "cuda" else None
            self.model: nn.Module = DistributedDataParallel(
                model, device_ids=device_ids, find_unused_parameters=options.find_unused_parameters
            )
        else:
            self.model = model
        self.criterion = criterion
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.train_loader = train_loader
        self.val_loader = val_loader
        self.options = options
        self.checkpoints = checkpoints
        self.metrics = metrics or MetricsLogger(None, None, enabled=False)
        self.frozen_modules = list(frozen_modules)
        self.config_dict = config_dict or {}
        if options.amp not in _AMP_DTYPES:
            raise ValueError(f"train.amp: expected none|bf16|fp16, got {options.amp!r}")
        self.amp_dtype = _AMP_DTYPES[options.amp]
        self.scaler = torch.amp.GradScaler(self.ctx.device.type, enabled=options.amp == "fp16")
        self.trainable = [p for p in self.net.parameters() if p.requires_grad]
        self.epoch = 0  # last completed epoch
        self.global_step = 0  # optimiser steps so far
        self.budget_lr_dropped = False  # the time-budget lr drop (options.budget_lr_drop) has happened

    # ------------------------------------------------------------------------------------------
    # state

    def state_dict(self) -> dict[str, Any]:
        """Everything a checkpoint holds (tensors may still be on the device)."""
        return {
            "net": self.net.state_dict(),
            "net_type": net_type_of(self.net),
            "epoch": self.epoch,
            "global_step": self.global_step,
            "budget_lr_dropped": self.budget_lr_dropped,
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "rng": rng_state(),
            "criterion": self.criterion.counters(),
            "config": self.config_dict,
            "code_version": code_version(),
        }

    def resume(self, path, state: Optional[dict] = None) -> None:
        """Restore weights, optimiser, scheduler, scaler, RNG and epoch from one of our checkpoints.

        ``state``: the already loaded contents of ``path`` (read again when None).
        """
        state = load_training_state(path) if state is None else state
        expected = net_type_of(self.net)
        if state.get("net_type") != expected:
            raise TrainSetupError(
                f"{path}: checkpoint holds a {state.get('net_type')} network, this run trains {expected}"
            )
        # a config changed since the checkpoint was written must fail in one line, not deep in torch
        check_state_matches(self.net, state["net"], str(path))
        self.net.load_state_dict(state["net"], strict=True)
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
        except (ValueError, KeyError) as err:
            raise TrainSetupError(
                f"{path}: optimiser state does not fit this run (were freeze_modules/freeze_layers changed?): {err}"
            ) from None
        if state.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(state["scaler"])
        set_rng_state(state["rng"])
        self.criterion.load_counters(state.get("criterion", {}))
        self.epoch = int(state["epoch"])
        self.global_step = int(state.get("global_step", 0))
        self.budget_lr_dropped = bool(state.get("budget_lr_dropped", False))
        logger.info("resumed from %s (epoch %d done)", path, self.epoch)

    # ------------------------------------------------------------------------------------------
    # loop

    def fit(self) -> None:
        """Train from ``self.epoch + 1`` to ``options.epochs``; checkpoint and validate on schedule."""
        opts = self.options
        fit_start = time.monotonic()
        while self.epoch < opts.epochs:
            epoch = self.epoch + 1
            train_means = self.train_epoch(epoch)
            # DDP refreshes buffers from rank 0 before each forward, so after the last step every rank
            # holds its own batch-norm statistics; make all ranks hold rank 0's (what is checkpointed)
            broadcast_buffers(self.net)
            self.scheduler.step()
            val_means = None
            if self.val_loader is not None and opts.val_epoch_interval > 0 and epoch % opts.val_epoch_interval == 0:
                val_means = self.validate(epoch)
            self.epoch = epoch
            if self.checkpoints is not None and self.ctx.is_main:
                path = self.checkpoints.save(epoch, self.state_dict())
                logger.info("saved %s", path)
            barrier()  # no rank starts the next epoch (or exits) while rank 0 is still writing
            logger.info(
                "epoch %d/%d: %s%s",
                epoch,
                opts.epochs,
                ", ".join(f"{k}={v:.4f}" for k, v in train_means.items()),
                "" if val_means is None else " | val " + ", ".join(f"{k}={v:.4f}" for k, v in val_means.items()),
            )
            if opts.max_minutes > 0 and self._budget_spent(fit_start, opts.max_minutes):
                logger.info("time budget of %g min reached after epoch %d: stopping", opts.max_minutes, epoch)
                break
            if self._budget_lr_drop_due(fit_start):
                # a time-budgeted run does not know its epoch count in advance, so the StepLR drop
                # is placed by elapsed time instead; the lowered lr lives in the optimiser state
                for group in self.optimizer.param_groups:
                    group["lr"] *= opts.lr_decay
                self.budget_lr_dropped = True
                logger.info("%.0f%% of the time budget spent: lr x %g", 100 * opts.budget_lr_drop, opts.lr_decay)

    def _budget_lr_drop_due(self, start: float) -> bool:
        opts = self.options
        if opts.max_minutes <= 0 or opts.budget_lr_drop <= 0 or self.budget_lr_dropped:
            return False
        return self._budget_spent(start, opts.max_minutes * opts.budget_lr_drop)

    def _budget_spent(self, start: float, minutes: float) -> bool:
        """True on every rank when any rank has run longer than ``minutes`` (one shared decision)."""
        over = torch.tensor([float(time.monotonic() - start > minutes * 60.0)], device=self.ctx.device)
        return all_reduce_sum(over).item() > 0

    def _forward(self, batch: dict) -> dict:
        with torch.autocast(self.ctx.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            return self.criterion.predict(self.model, batch)

    def _reduce(self, loss: torch.Tensor, stats: dict[str, torch.Tensor]) -> tuple[bool, dict[str, float]]:
        """All-reduce ``[non-finite flag, stats...]``; returns (all finite, stats averaged over ranks)."""
        stats = {**stats, "loss": loss.detach()}  # the value that is back-propagated, whatever stats say
        names = list(stats)
        flag = (~torch.isfinite(loss.detach())).float().reshape(1)
        packed = torch.cat([flag] + [stats[n].float().reshape(1) for n in names]).to(self.ctx.device)
        all_reduce_sum(packed)
        values = (packed[1:] / self.ctx.world_size).tolist()
        return packed[0].item() == 0, dict(zip(names, values))

    def train_epoch(self, epoch: int) -> dict[str, float]:
        """One epoch of optimiser steps; returns the epoch means (all-reduced) of the loss terms."""
        opts = self.options
        accum = opts.grad_accum_steps
        self.train_loader.set_epoch(epoch)
        seed_everything(derive_seed(opts.seed, self.ctx.rank, epoch))
        set_train_mode(self.net, self.frozen_modules)
        steps = len(self.train_loader) // accum
        if steps == 0:
            raise TrainSetupError(
                f"epoch {epoch}: the loader yields {len(self.train_loader)} micro-batches, fewer than "
                f"train.grad_accum_steps={accum}; raise data.train.sample_per_epoch"
            )
        global_batch = opts.batch_size * self.ctx.world_size * accum
        means = RunningMeans()
        data_time = compute_time = 0.0
        bar = tqdm(
            total=steps,
            desc=f"epoch {epoch}/{opts.epochs}",
            disable=not (opts.show_progress and self.ctx.is_main),
            dynamic_ncols=True,
            file=sys.stderr,
        )
        iterator = iter(self.train_loader)
        epoch_start = time.perf_counter()
        try:
            for step in range(1, steps + 1):
                self.optimizer.zero_grad(set_to_none=True)
                step_stats = RunningMeans()
                for micro in range(accum):
                    t0 = time.perf_counter()
                    batch = _to_device(next(iterator), self.ctx.device)
                    t1 = time.perf_counter()
                    data_time += t1 - t0
                    last = micro == accum - 1
                    sync = contextlib.nullcontext() if (last or not self.ctx.distributed) else self.model.no_sync()
                    with sync:
                        outputs = self._forward(batch)
                        loss, stats = self.criterion(outputs, batch)
                        finite, reduced = self._reduce(loss, stats)
                        if not finite:
                            raise NonFiniteLossError(epoch, step, reduced)
                        self.scaler.scale(loss / accum).backward()
                    step_stats.update(reduced)
                    compute_time += time.perf_counter() - t1
                t2 = time.perf_counter()
                grad_norm = self._optimizer_step()
                compute_time += time.perf_counter() - t2
                self.global_step += 1
                values = step_stats.means()
                if math.isfinite(grad_norm):  # NaN: clipping off; inf: an fp16 overflow step the scaler skips
                    values["grad_norm"] = grad_norm
                means.update(values)
                bar.set_postfix(
                    loss=f"{values['loss']:.4f}",
                    data=f"{data_time:.1f}s",
                    compute=f"{compute_time:.1f}s",
                    refresh=False,
                )
                bar.update(1)
                if self.ctx.is_main and (step % max(1, opts.print_interval) == 0 or step == steps):
                    self.metrics.scalars("train_step", values, self.global_step)
                    self.metrics.record("train_step", epoch=epoch, step=step, global_step=self.global_step, **values)
        finally:
            bar.close()
        elapsed = time.perf_counter() - epoch_start
        epoch_means = means.means()
        redrawn = take_redraw_summary(self.train_loader)
        if redrawn:  # silent data problems (boxes outside the image, unreadable frames) made visible
            logger.info("epoch %d: samples redrawn (this rank): %s", epoch, redrawn)
            self.metrics.record("redraws", epoch=epoch, rank=self.ctx.rank, summary=redrawn)
        if self.ctx.is_main:
            lrs = {group.get("name", f"group{i}"): group["lr"] for i, group in enumerate(self.optimizer.param_groups)}
            speed = {
                "samples_per_s": steps * global_batch / max(elapsed, 1e-9),
                "data_time_s": data_time,
                "compute_time_s": compute_time,
            }
            speed.update(self.criterion.epoch_metrics())
            self.metrics.scalars("train", epoch_means, epoch)
            self.metrics.scalars("lr", lrs, epoch)
            self.metrics.scalars("speed", speed, epoch)
            self.metrics.record(
                "train_epoch", epoch=epoch, **epoch_means, **{f"lr_{k}": v for k, v in lrs.items()}, **speed
            )
        return epoch_means

    def _optimizer_step(self) -> float:
        """Unscale, clip, step; returns the pre-clip gradient norm (NaN when clipping is off)."""
        grad_norm = float("nan")
        if self.options.grad_clip_norm > 0:
            self.scaler.unscale_(self.optimizer)  # clip the true gradients, also under fp16
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.trainable, self.options.grad_clip_norm))
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return grad_norm

    @torch.no_grad()
    def validate(self, epoch: int) -> dict[str, float]:
        """Mean loss terms over the validation loader (eval mode, all-reduced)."""
        self.val_loader.set_epoch(epoch)
        self.net.eval()
        means = RunningMeans()
        for batch in self.val_loader:
            batch = _to_device(batch, self.ctx.device)
            outputs = self._forward(batch)
            loss, stats = self.criterion(outputs, batch)
            _, reduced = self._reduce(loss, stats)
            means.update(reduced)
        result = means.means()
        if self.ctx.is_main:
            self.metrics.scalars("val", result, epoch)
            self.metrics.record("val_epoch", epoch=epoch, **result)
        return result
