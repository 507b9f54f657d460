"""What trains and how fast: freezing by module name, AdamW parameter groups, the lr schedule.

Freezing is stated by module, not by parameter-name substrings (the official stage 2 froze every
parameter whose name lacks "cls"):

* the objective (``lib.train.objectives``) states which top-level modules train; all others are frozen
  whole (the box objective leaves the score head out: it never runs it, and DDP with
  ``find_unused_parameters=False`` needs every trainable parameter to receive a gradient; the score
  objective trains the score head alone);
* ``cfg.train.freeze_modules``: further modules frozen on top (the config validator checks the names).
* ``cfg.train.freeze_layers``: backbone trunk parts never trained (official conv1, layer1; bn1 is a
  FrozenBatchNorm2d without parameters).

Batch-norm layers inside frozen modules are kept in eval mode (``set_train_mode``) so their running
statistics do not drift while the weights are frozen.

Parameter groups (official): ``[non-backbone trainable]`` at ``lr`` and ``[backbone trainable]`` (layer2,
layer3) at ``lr * backbone_multiplier``; empty groups are dropped, so stage 2 has one group.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from lib.train.errors import TrainSetupError

logger = logging.getLogger(__name__)

BACKBONE_PREFIX = "backbone."


def frozen_module_names(objective, model: nn.Module, extra: list[str] = ()) -> list[str]:
    """Top-level module names to freeze: those the objective does not train, then ``extra`` (config list)."""
    available = [name for name, _ in model.named_children()]
    trained = set(objective.trained_modules(available))
    names = [name for name in available if name not in trained]
    return names + [name for name in extra if name not in names]


def freeze_for_objective(objective, model: nn.Module, cfg) -> list[str]:
    """Freeze what ``objective`` does not train plus ``cfg.train.freeze_modules`` and the backbone's
    ``cfg.train.freeze_layers``; returns the frozen module names (their batch norms stay in eval)."""
    frozen = frozen_module_names(objective, model, cfg.train.freeze_modules)
    apply_freezing(model, frozen, cfg.train.freeze_layers)
    return frozen


def _trunk_relative(name: str) -> str:
    """``backbone.0.body.layer1.0.conv1.weight`` -> ``layer1.0.conv1.weight`` (the trunk-relative name)."""
    parts = name.split(".")
    if "body" in parts:
        return ".".join(parts[parts.index("body") + 1 :])
    return ".".join(parts[1:])


def apply_freezing(model: nn.Module, module_names: list[str], backbone_layers: list[str]) -> None:
    """Set ``requires_grad=False`` on whole modules and on backbone trunk parts.

    Args:
        model: the unwrapped model.
        module_names: top-level attribute names (e.g. ``["backbone", "transformer"]``); an unknown
            name raises ``TrainSetupError`` naming the valid ones.
        backbone_layers: trunk parts (``conv1``, ``layer1``, ...) frozen inside ``model.backbone``.
    """
    top = dict(model.named_children())
    for name in module_names:
        if name not in top:
            raise TrainSetupError(f"train.freeze_modules: model has no module '{name}'; modules: {', '.join(top)}")
        top[name].requires_grad_(False)
    for name, param in model.named_parameters():
        if name.startswith(BACKBONE_PREFIX):
            head = _trunk_relative(name).split(".")[0]
            if head in backbone_layers:
                param.requires_grad_(False)


def set_train_mode(model: nn.Module, frozen_modules: list[str]) -> None:
    """``model.train()``, then batch-norm layers of frozen modules back to eval mode."""
    model.train()
    for name in frozen_modules:
        for module in getattr(model, name).modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                module.eval()


def param_groups(model: nn.Module, lr: float, backbone_multiplier: float) -> list[dict]:
    """AdamW groups of the trainable parameters: non-backbone at ``lr``, backbone at ``lr * multiplier``.

    Each group carries a ``name`` ("main" / "backbone") used for logging.
    """
    main, backbone = [], []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        (backbone if name.startswith(BACKBONE_PREFIX) else main).append(param)
    groups = [
        {"params": main, "lr": lr, "name": "main"},
        {"params": backbone, "lr": lr * backbone_multiplier, "name": "backbone"},
    ]
    return [g for g in groups if g["params"]]


def build_optimizer(cfg, model: nn.Module) -> torch.optim.Optimizer:
    """AdamW over ``param_groups`` with ``cfg.train.lr`` / ``weight_decay`` / ``backbone_multiplier``."""
    groups = param_groups(model, cfg.train.lr, cfg.train.backbone_multiplier)
    if not groups:
        raise TrainSetupError("no trainable parameters: check train.freeze_modules / train.freeze_layers")
    return torch.optim.AdamW(groups, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)


def build_scheduler(cfg, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
    """Per-epoch schedule: StepLR at ``lr_drop_epoch`` (gamma ``decay_rate``) or cosine over ``epoch``."""
    sched = cfg.train.scheduler
    if sched.type == "step":
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=cfg.train.lr_drop_epoch, gamma=sched.decay_rate)
    if sched.type == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.train.epoch)
    raise TrainSetupError(f"train.scheduler.type: unknown scheduler '{sched.type}'")


def count_parameters(model: nn.Module) -> dict[str, dict[str, int]]:
    """``{top-level module: {"total": n, "trainable": n}}`` plus an ``"all"`` entry."""
    counts: dict[str, dict[str, int]] = {}
    for name, child in model.named_children():
        params = list(child.parameters())
        counts[name] = {
            "total": sum(p.numel() for p in params),
            "trainable": sum(p.numel() for p in params if p.requires_grad),
        }
    counts["all"] = {
        "total": sum(p.numel() for p in model.parameters()),
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }
    return counts
