"""The full-size networks against the official state_dict layouts and parameter counts.

``data/state_dict_<variant>.json`` lists every key of the released checkpoints' ``net`` state dict with its shape
(read from STARKS_ep0500.pth.tar and STARKST_ep0050.pth.tar of researchmm/Stark), kept here so the suite needs
nothing outside the repository.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from lib.config import load_config
from lib.models import build_stark
from lib.models.profiling import make_inputs, paper_convention_parameters, paper_macs, parameter_report

REFERENCE_DIR = Path(__file__).parent / "data"

VARIANTS = {
    "S50": ("stark_s", "baseline"),
    "ST50": ("stark_st2", "baseline"),
    "ST101": ("stark_st2", "baseline_R101"),
}
# totals of the official networks built by researchmm/Stark's own build functions, and the paper's rounded figures
TOTAL_PARAMS = {"S50": 28_095_554, "ST50": 28_227_395, "ST101": 47_167_299}
TRAINABLE_STAGE1 = {"S50": 27_873_154, "ST50": 28_004_995, "ST101": 46_944_899}
PAPER_PARAMS_M = {"S50": 23.3, "ST50": 23.5, "ST101": 42.4}


@pytest.fixture(scope="module")
def networks():
    torch.manual_seed(0)
    return {
        key: build_stark(load_config(script, name, ["model.backbone.pretrained=false"]))
        for key, (script, name) in VARIANTS.items()
    }


def _reference(key: str) -> dict[str, list[int]]:
    return json.loads((REFERENCE_DIR / f"state_dict_{key}.json").read_text())


@pytest.mark.parametrize("key", list(VARIANTS))
def test_state_dict_matches_official_layout(networks, key):
    reference = _reference(key)
    ours = {name: list(tensor.shape) for name, tensor in networks[key].state_dict().items()}
    assert sorted(set(reference) - set(ours)) == []
    assert sorted(set(ours) - set(reference)) == []
    assert {k: v for k, v in ours.items() if reference[k] != v} == {}
    assert len(ours) == {"S50": 460, "ST50": 466, "ST101": 721}[key]


@pytest.mark.parametrize("key", list(VARIANTS))
def test_parameter_counts_are_exact(networks, key):
    report = parameter_report(networks[key])
    assert report["total"] == TOTAL_PARAMS[key]
    assert report["trainable"] == TRAINABLE_STAGE1[key]
    # thop leaves out the attention modules and the query embedding (see lib/models/profiling.py)
    paper = paper_convention_parameters(networks[key]) / 1e6
    assert abs(paper - PAPER_PARAMS_M[key]) <= 0.1


def test_frozen_layers_follow_the_official_rule(networks):
    net = networks["ST50"]
    for name, param in net.named_parameters():
        frozen_by_name = name.startswith("backbone.") and "layer2" not in name and "layer3" not in name
        assert param.requires_grad != frozen_by_name, name


@pytest.mark.parametrize("key,backbone,head", [("S50", 6.794, 3.714), ("ST50", 6.794, 4.118), ("ST101", 14.370, 4.118)])
def test_paper_convention_macs(networks, key, backbone, head):
    net = networks[key].eval()
    counts = paper_macs(net, make_inputs(1, 128, 320, 2 if key != "S50" else 1), key != "S50")
    assert counts["paper_backbone_macs"] / 1e9 == pytest.approx(backbone, abs=5e-4)
    assert counts["paper_transformer_head_macs"] / 1e9 == pytest.approx(head, abs=5e-4)
    assert counts["paper_template_macs"] / 1e9 == pytest.approx({"ST101": 2.299}.get(key, 1.087), abs=5e-4)
    assert round(counts["paper_step_macs"] / 1e9, 1) == {"S50": 10.5, "ST50": 10.9, "ST101": 18.5}[key]
    # "overall" of the official tracking/profile_model.py: thop plus its custom attention rule (Q, K, V projections
    # and the attention products, without the output projection)
    assert counts["official_rule_step_macs"] / 1e9 == pytest.approx(
        {"S50": 12.085, "ST50": 12.810, "ST101": 20.386}[key], abs=5e-4
    )
