"""The fixed seeded case of the before/after objective test: a tiny STARK-ST and one generated batch.

``tests/train/data/objective_reference.json`` holds the losses and per-parameter gradient figures
that the code *before* the objective refactor computed on this case (captured once with
``StarkCriterion(stage)`` and the trainer's stage-based head selection and freezing).
"""

from __future__ import annotations

import torch

from lib.config import load_config
from tests.tiny import TINY_NETWORK

CASE_OVERRIDES = [*TINY_NETWORK, "data.template.size=32", "data.search.size=64", "model.transformer.dropout=0.0"]
BATCH = 4


def case_model(script: str, *extra: str):
    """The tiny network of ``script``/baseline with seeded weights (train mode, dropout off)."""
    from lib.models import build_stark

    cfg = load_config(script, "baseline", [*CASE_OVERRIDES, *extra])
    torch.manual_seed(1234)
    return cfg, build_stark(cfg).train()


def case_batch() -> dict:
    """Random crops with some padding, valid boxes and a half-negative label vector."""
    gen = torch.Generator().manual_seed(99)
    template_masks = torch.zeros(BATCH, 2, 32, 32, dtype=torch.bool)
    template_masks[0, 1, :, 24:] = True
    search_masks = torch.zeros(BATCH, 64, 64, dtype=torch.bool)
    search_masks[1, :16] = True
    xy = torch.rand(BATCH, 2, generator=gen) * 0.5
    wh = torch.rand(BATCH, 2, generator=gen) * 0.4 + 0.1
    return {
        "template_images": torch.randn(BATCH, 2, 3, 32, 32, generator=gen),
        "template_masks": template_masks,
        "search_images": torch.randn(BATCH, 3, 64, 64, generator=gen),
        "search_masks": search_masks,
        "search_boxes": torch.cat([xy, wh], dim=1),
        "label": torch.tensor([1.0, 0.0, 1.0, 0.0]),
    }


def gradient_figures(model: torch.nn.Module) -> dict[str, list[float]]:
    """``{parameter: [sum, sum of squares]}`` of every gradient that exists (float64 sums)."""
    return {
        name: [p.grad.double().sum().item(), p.grad.double().pow(2).sum().item()]
        for name, p in model.named_parameters()
        if p.grad is not None
    }
