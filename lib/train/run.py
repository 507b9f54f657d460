"""One training run from the official command-line habits: config, paths, checks, model, loaders, trainer.

Learning-rate scaling rule. The official recipe trains with 8 GPUs x batch 16 = a global batch of 128
at ``train.lr = 1e-4`` (backbone layers 2-3 at 1e-5). The global batch here is
``train.batch_size x world_size x train.grad_accum_steps``; keep it at 128 to keep the official lr
(1 GPU: batch 16, accum 8; 2 GPUs: accum 4; 4 GPUs: accum 2; 8 GPUs: accum 1). Accumulation splits
the data as virtual ranks (``lib.train.accumulation``), so those set-ups see the same samples per step.
If you change the global batch, scale the lr linearly yourself (``lr = 1e-4 x global / 128``, e.g.
``--opts train.lr=5e-5`` for 64); the lr is never rescaled silently, only a warning is logged.

Stage 2 starts from the stage-1 weights (``train.init_from`` or the latest checkpoint of
``--script_prv/--config_prv``) only when it does not resume: a resumed stage 2 keeps its own weights,
where the official code reloaded the stage-1 weights on top and overwrote the trained score head.

Outputs (official layout, rank 0 only):
``<save_dir>/checkpoints/train/<script>/<config>/<NetType>_ep%04d.pth.tar`` and ``config.yaml`` there,
``<save_dir>/logs/<script>-<config>.log`` (+ ``.metrics.jsonl`` and ``.yaml`` next to it),
``<workspace_dir>/tensorboard/train/<script>/<config>``.
"""

from __future__ import annotations

import copy
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import torch

from lib.config import (
    Config,
    ConfigError,
    LocalSettings,
    apply_overrides,
    config_to_dict,
    load_config,
    load_local_settings,
    split_overrides,
)
from lib.config.loader import dump_config
from lib.models.checkpoint import net_type_of
from lib.train.accumulation import InterleavedLoader, virtual_ranks
from lib.train.checkpointing import (
    CheckpointManager,
    claim_run_folder,
    latest_checkpoint,
    newest_readable_checkpoint,
)
from lib.train.distributed import DistContext, derive_seed, seed_everything
from lib.train.errors import TrainingInterrupted, TrainSetupError
from lib.train.metrics_log import MetricsLogger
from lib.train.objectives import build_objective
from lib.train.optim import build_optimizer, build_scheduler, count_parameters, freeze_for_objective
from lib.train.trainer import Trainer, TrainerOptions
from lib.utils.io import atomic_write_text, remove_stale_temp_files

logger = logging.getLogger(__name__)

OFFICIAL_GLOBAL_BATCH = 128  # 8 GPUs x 16
OFFICIAL_LR = 1e-4  # the lr that goes with it


@dataclass
class TrainRequest:
    """What ``tracking/train.py`` asks for (the official flags)."""

    script: str
    config: str
    save_dir: Optional[str] = None  # overrides the settings file's save_dir
    opts: list[str] = field(default_factory=list)  # key=value config overrides (settings keys allowed too)
    resume: bool = False  # continue from this run's latest (readable) checkpoint
    overwrite: bool = False  # start afresh in a run folder that holds checkpoints (deletes them)
    use_lmdb: bool = False
    script_prv: Optional[str] = None  # stage 2: the stage-1 run to start from
    config_prv: Optional[str] = None
    settings_path: Optional[str] = None  # explicit settings file
    show_progress: bool = True


@dataclass
class RunPaths:
    checkpoint_dir: Path
    log_file: Path
    metrics_file: Path
    config_file: Path
    tensorboard_dir: Path

    @classmethod
    def create(cls, settings: LocalSettings, script: str, config: str) -> RunPaths:
        logs = settings.logs_dir
        return cls(
            checkpoint_dir=settings.checkpoints_dir / script / config,
            log_file=logs / f"{script}-{config}.log",
            metrics_file=logs / f"{script}-{config}.metrics.jsonl",
            config_file=logs / f"{script}-{config}.yaml",
            tensorboard_dir=settings.tensorboard_dir / "train" / script / config,
        )


def resolve_config_and_settings(request: TrainRequest) -> tuple[Config, LocalSettings]:
    config_opts, settings_opts = split_overrides(list(request.opts))
    if request.save_dir is not None:
        settings_opts.append(f"save_dir={request.save_dir}")
    cfg = load_config(request.script, request.config, config_opts)
    if request.use_lmdb:
        apply_overrides(cfg, ["data.use_lmdb=true"], source="--use_lmdb")
    settings = load_local_settings(request.settings_path, settings_opts)
    return cfg, settings


def resolve_init_checkpoint(cfg: Config, settings: LocalSettings, request: TrainRequest) -> Optional[Path]:
    """Stage 2's starting weights: ``--script_prv/--config_prv`` (latest epoch there), else ``train.init_from``.

    Raises ``TrainSetupError`` when stage 2 has neither or the file/folder is missing.
    """
    if request.script_prv or request.config_prv:
        if not (request.script_prv and request.config_prv):
            raise TrainSetupError("--script_prv and --config_prv must be given together")
        folder = settings.checkpoints_dir / request.script_prv / request.config_prv
        path = latest_checkpoint(folder)
        if path is None:
            raise TrainSetupError(
                f"{folder}: no stage-1 checkpoint (*_ep*.pth.tar) found; train --script {request.script_prv} "
                f"--config {request.config_prv} first or set train.init_from"
            )
        return path
    if cfg.train.init_from:
        path = Path(cfg.train.init_from)
        if not path.is_file():
            raise TrainSetupError(f"{path}: train.init_from checkpoint not found")
        return path
    if cfg.train.objective == "score":
        raise TrainSetupError(
            "the score objective (stage 2) starts from a stage-1 checkpoint: give --script_prv/--config_prv "
            "or --opts train.init_from=PATH"
        )
    return None


def needs_validation(cfg: Config, start_epoch: int) -> bool:
    interval = cfg.train.val_epoch_interval
    return interval > 0 and any(e % interval == 0 for e in range(start_epoch + 1, cfg.train.epoch + 1))


def build_train_loader(cfg: Config, settings: LocalSettings, ctx: DistContext, split: str = "train"):
    """The rank's loader; with accumulation, one loader per virtual rank interleaved (see accumulation)."""
    from lib.data.loader import build_data_loader

    accum = cfg.train.grad_accum_steps if split == "train" else 1
    ranks, world = virtual_ranks(ctx.rank, ctx.world_size, accum)
    if accum > 1 and cfg.train.num_worker > 0:
        # the process's worker budget is shared by its virtual ranks (not multiplied by them)
        cfg = copy.deepcopy(cfg)
        cfg.train.num_worker = max(1, cfg.train.num_worker // accum)
    loaders = [build_data_loader(cfg, settings, split=split, rank=r, world_size=world) for r in ranks]
    return loaders[0] if len(loaders) == 1 else InterleavedLoader(loaders)


def log_lr_rule(cfg: Config, ctx: DistContext) -> None:
    if not ctx.is_main:
        return
    global_batch = cfg.train.batch_size * ctx.world_size * cfg.train.grad_accum_steps
    logger.info(
        "global batch %d = batch_size %d x world_size %d x grad_accum_steps %d; lr %.3g",
        global_batch,
        cfg.train.batch_size,
        ctx.world_size,
        cfg.train.grad_accum_steps,
        cfg.train.lr,
    )
    if global_batch != OFFICIAL_GLOBAL_BATCH:
        suggested = OFFICIAL_LR * global_batch / OFFICIAL_GLOBAL_BATCH
        # a warning only when the official lr is kept: a changed lr is taken as a deliberate choice
        level = logging.WARNING if cfg.train.lr == OFFICIAL_LR else logging.INFO
        logger.log(
            level,
            "global batch %d differs from the official %d (at lr %g); train.lr=%g is used as given "
            "(the linear scaling rule suggests %.3g)",
            global_batch,
            OFFICIAL_GLOBAL_BATCH,
            OFFICIAL_LR,
            cfg.train.lr,
            suggested,
        )


def run_training(request: TrainRequest, ctx: DistContext, cfg: Config, settings: LocalSettings) -> Trainer:
    """Check, build and train; returns the finished trainer. Setup problems raise before any work.

    Raises:
        ConfigError / TrainSetupError (lib.data errors derive from ConfigError): bad config, missing
            dataset root or stage-1 checkpoint.
        NonFiniteLossError: a NaN/inf loss (on every rank).
    """
    if request.script == "stark_st2" and not cfg.model.score_head:
        # such a file is a test-time config; training it would retrain the whole stage-1 network
        raise TrainSetupError(
            f"stark_st2/{request.config}: model.score_head=false, and stage 2 trains only the score head, so there "
            f"is no stage 2 to run; test the stage-1 network instead (tracking/test.py stark_st {request.config} "
            "--checkpoint <its stage-1 checkpoint>)"
        )
    paths = RunPaths.create(settings, request.script, request.config)
    if ctx.is_main:
        remove_stale_temp_files(paths.checkpoint_dir)
    resume_path = resume_state = None
    if request.resume:
        found = newest_readable_checkpoint(paths.checkpoint_dir)
        if found is None:
            logger.warning("--resume: no checkpoint in %s, starting from scratch", paths.checkpoint_dir)
        else:
            resume_path, resume_state = found
    # A resumed stage 2 continues from its own weights: the stage-1 file is neither needed nor loaded.
    init_path = None if resume_path is not None else resolve_init_checkpoint(cfg, settings, request)
    if resume_path is None:
        claim_run_folder(paths.checkpoint_dir, request.overwrite, delete=ctx.is_main)
    start_epoch = int(resume_state["epoch"]) if resume_state is not None else 0
    if ctx.device.type == "cuda":
        torch.backends.cudnn.benchmark = False  # as the official run_training.py: reproducible kernels

    train_loader = build_train_loader(cfg, settings, ctx, "train")
    val_loader = build_train_loader(cfg, settings, ctx, "val") if needs_validation(cfg, start_epoch) else None

    from lib.models import build_stark
    from lib.models.checkpoint import load_network_weights

    seed_everything(derive_seed(cfg.train.seed))  # identical initial weights on every rank
    from_file = init_path is not None or resume_state is not None  # the trunk's weights come from that file
    if not cfg.model.backbone.pretrained and not from_file:
        logger.warning(
            "model.backbone.pretrained=false: the trunk starts from random weights (the paper's recipe "
            "starts from ImageNet weights)"
        )
    model = build_stark(cfg, imagenet=not from_file)
    if init_path is not None:
        load_network_weights(model, init_path)
        logger.info("initial weights from %s", init_path)
    objective = build_objective(cfg)
    frozen = freeze_for_objective(objective, model, cfg)
    model.to(ctx.device)
    optimizer = build_optimizer(cfg, model)
    scheduler = build_scheduler(cfg, optimizer)

    config_dict = config_to_dict(cfg)
    if ctx.is_main:
        paths.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(paths.checkpoint_dir / "config.yaml", dump_config(cfg))
        atomic_write_text(paths.config_file, dump_config(cfg))
    logger.info("resolved config:\n%s", dump_config(cfg))
    counts = count_parameters(model)
    logger.info("parameters (total / trainable): %s", json.dumps(counts))
    logger.info("frozen modules: %s; backbone layers frozen: %s", frozen, cfg.train.freeze_layers)
    log_lr_rule(cfg, ctx)

    metrics = MetricsLogger(paths.metrics_file, paths.tensorboard_dir, enabled=ctx.is_main)
    metrics.record("info", script=request.script, config=request.config, parameters=counts, world_size=ctx.world_size)
    metrics.text("config", "```\n" + dump_config(cfg) + "\n```")
    trainer = Trainer(
        model=model,
        criterion=objective,
        optimizer=optimizer,
        scheduler=scheduler,
        train_loader=train_loader,
        options=TrainerOptions.from_config(cfg, show_progress=request.show_progress),
        ctx=ctx,
        val_loader=val_loader,
        checkpoints=CheckpointManager(
            paths.checkpoint_dir, net_type_of(model), cfg.train.checkpoint.keep_last, cfg.train.checkpoint.keep_every
        ),
        metrics=metrics,
        frozen_modules=frozen,
        config_dict=config_dict,
    )
    try:
        if resume_state is not None:
            trainer.resume(resume_path, resume_state)
        trainer.fit()
    except KeyboardInterrupt:
        raise TrainingInterrupted(trainer.epoch + 1) from None
    finally:
        metrics.close()
    return trainer


__all__ = ["ConfigError", "RunPaths", "TrainRequest", "resolve_config_and_settings", "run_training"]
