"""Every shipped experiment YAML builds at a reduced size and runs forward + backward on CPU."""

from __future__ import annotations

import pytest
import torch

from lib.config import EXPERIMENTS_DIR, load_config_file
from lib.models import build_stark
from lib.models.build import planned_modules
from lib.train.objectives import build_objective
from lib.train.optim import freeze_for_objective
from tests.tiny import TINY_NETWORK

CONFIGS = sorted(EXPERIMENTS_DIR.glob("*/*.yaml"))
BATCH = 2


def reduced_config(path):
    """The shipped file with the tiny network; parts a file removes (enc/dec layers 0) stay removed."""
    shipped = load_config_file(path).model.transformer
    removed = {f"model.transformer.{key}" for key in ("enc_layers", "dec_layers") if getattr(shipped, key) == 0}
    tiny = [o for o in TINY_NETWORK if o.split("=")[0] not in removed]
    return load_config_file(path, [*tiny, "data.search.size=64", "data.template.size=32"])


def random_batch(cfg, seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    templates, t_size, s_size = cfg.data.template.number, cfg.data.template.size, cfg.data.search.size
    return {
        "template_images": torch.randn(BATCH, templates, 3, t_size, t_size, generator=gen),
        "template_masks": torch.zeros(BATCH, templates, t_size, t_size, dtype=torch.bool),
        "search_images": torch.randn(BATCH, 3, s_size, s_size, generator=gen),
        "search_masks": torch.zeros(BATCH, s_size, s_size, dtype=torch.bool),
        "search_boxes": torch.tensor([[0.3, 0.3, 0.3, 0.4], [0.2, 0.4, 0.5, 0.3]]),
        "label": torch.tensor([1.0, 0.0]),
    }


def test_every_experiment_directory_is_covered():
    assert {p.parent.name for p in CONFIGS} == {"stark_s", "stark_st1", "stark_st2"} and len(CONFIGS) > 20


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_shipped_config_builds_and_trains_one_step(path):
    cfg = reduced_config(path)
    torch.manual_seed(0)
    model = build_stark(cfg).train()
    assert [name for name, _ in model.named_children()] == planned_modules(cfg)
    objective = build_objective(cfg)
    objective.check_model(model)
    frozen = freeze_for_objective(objective, model, cfg)
    batch = random_batch(cfg)
    loss, stats = objective(objective.predict(model, batch), batch)
    assert torch.isfinite(loss) and stats["loss"].item() == pytest.approx(loss.item())
    loss.backward()
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and not any(n.split(".")[0] in frozen for n in trainable)
    # DDP without find_unused_parameters needs a gradient on every trainable parameter; official parity
    # keeps the unused score head trainable on purpose (and turns find_unused_parameters on)
    missing = {n.split(".")[0] for n, p in trainable.items() if p.grad is None}
    assert missing == (
        {"cls_head"} if cfg.train.official_parity and cfg.train.objective == "box" and cfg.model.score_head else set()
    )
    assert all(torch.isfinite(p.grad).all() for p in trainable.values() if p.grad is not None)
