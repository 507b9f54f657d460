"""Shared fixtures: a tiny STARK-ST configuration that builds and runs in well under a second."""

from __future__ import annotations

import pytest
import torch

from lib.config import load_config
from tests.tiny import TINY_NETWORK

TINY_OVERRIDES = [
    *TINY_NETWORK,
    "data.template.size=64",
    "data.search.size=128",
]


def tiny_config(*extra: str):
    return load_config("stark_st1", "baseline", [*TINY_OVERRIDES, *extra])


def randomise_batchnorm(model: torch.nn.Module, seed: int = 0) -> None:
    """Give every (frozen) batch norm non-trivial statistics so folding / loading tests can fail."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if hasattr(module, "running_var") and module.running_var is not None:
                size = module.running_var.shape
                module.running_var.copy_(torch.rand(size, generator=gen) + 0.5)
                module.running_mean.copy_(torch.randn(size, generator=gen) * 0.1)
                module.weight.copy_(torch.rand(size, generator=gen) + 0.5)
                module.bias.copy_(torch.randn(size, generator=gen) * 0.1)


def tiny_inputs(batch: int = 2, templates: int = 2, seed: int = 0, pad: bool = True) -> dict:
    gen = torch.Generator().manual_seed(seed)
    template_masks = torch.zeros(batch, templates, 64, 64, dtype=torch.bool)
    search_masks = torch.zeros(batch, 128, 128, dtype=torch.bool)
    if pad:
        template_masks[0, 0, :, 48:] = True
        search_masks[-1, 100:, :] = True
    return {
        "template_images": torch.randn(batch, templates, 3, 64, 64, generator=gen),
        "template_masks": template_masks,
        "search_images": torch.randn(batch, 3, 128, 128, generator=gen),
        "search_masks": search_masks,
    }


@pytest.fixture()
def tiny_cfg():
    return tiny_config()
