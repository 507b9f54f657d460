"""Tiny networks for tracker tests (random weights, small crops)."""

import pytest
import torch

from tests.tiny import TINY_NETWORK

TINY = [
    *TINY_NETWORK,
    "data.template.size=64",
    "data.search.size=128",
    "test.template_size=64",
    "test.search_size=128",
]


def build_tiny(tracker_name: str, extra=()):
    from lib.models import build_stark
    from lib.tracker.names import load_test_config

    torch.manual_seed(0)
    cfg = load_test_config(tracker_name, "baseline", TINY + list(extra))
    return cfg, build_stark(cfg).eval()


@pytest.fixture(scope="module")
def tiny_s():
    return build_tiny("stark_s")


@pytest.fixture(scope="module")
def tiny_st():
    return build_tiny("stark_st")
