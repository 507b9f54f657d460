"""Tiny networks for tracker tests (random weights, small crops)."""

import pytest
import torch

TINY = [
    "model.backbone.type=resnet18",
    "model.backbone.pretrained=false",
    "model.hidden_dim=32",
    "model.transformer.enc_layers=1",
    "model.transformer.dec_layers=1",
    "model.transformer.dim_feedforward=64",
    "model.transformer.nheads=2",
    "data.template.size=64",
    "data.search.size=128",
    "test.template_size=64",
    "test.search_size=128",
]


def build_tiny(tracker_name: str, extra=()):
    from lib.models import build_stark
    from lib.tracker.runner import load_test_config

    torch.manual_seed(0)
    cfg = load_test_config(tracker_name, "baseline", TINY + list(extra))
    return cfg, build_stark(cfg).eval()


@pytest.fixture(scope="module")
def tiny_s():
    return build_tiny("stark_s")


@pytest.fixture(scope="module")
def tiny_st():
    return build_tiny("stark_st")
