"""The objective seam: before/after numbers, declarations, freezing, and the Table 7 objectives' losses."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from lib.config import ConfigError, load_config
from lib.train.objectives import (
    BoxObjective,
    HungarianObjective,
    JointObjective,
    ScoreObjective,
    build_objective,
    hungarian_match,
)
from lib.train.optim import freeze_for_objective
from tests.train.objective_case import case_batch, case_model, gradient_figures

REFERENCE = json.loads((Path(__file__).parent / "data" / "objective_reference.json").read_text())


@pytest.mark.parametrize("script", ["stark_st1", "stark_st2"])
def test_box_and_score_objectives_reproduce_the_numbers_before_the_refactor(script):
    """Loss, statistics, trainable set and every gradient equal what StarkCriterion(stage) gave."""
    reference = REFERENCE[script]
    cfg, model = case_model(script)
    objective = build_objective(cfg)
    assert type(objective) is {"stark_st1": BoxObjective, "stark_st2": ScoreObjective}[script]
    freeze_for_objective(objective, model, cfg)
    batch = case_batch()
    loss, stats = objective(objective.predict(model, batch), batch)
    loss.backward()
    assert loss.item() == pytest.approx(reference["loss"], rel=1e-6, abs=1e-7)
    assert {k: pytest.approx(v, rel=1e-5, abs=1e-6) for k, v in reference["stats"].items()} == {
        k: v.item() for k, v in stats.items()
    }
    assert sorted(n for n, p in model.named_parameters() if p.requires_grad) == reference["trainable"]
    figures = gradient_figures(model)
    assert figures.keys() == reference["gradients"].keys()
    for name, (grad_sum, grad_sq) in reference["gradients"].items():
        # thread-count noise only: sums compared against the gradient's norm, squares relatively; the floor
        # covers gradients that are zero in exact arithmetic (the last corner-conv bias before the spatial
        # softmax), whose float residue (norm ~5e-8) moves by ~1.5e-7 between 1 and 2 threads
        got_sum, got_sq = figures[name]
        assert got_sq == pytest.approx(grad_sq, rel=1e-4, abs=1e-12), name
        assert abs(got_sum - grad_sum) <= 1e-3 * math.sqrt(grad_sq) + 1e-6, name


def test_objectives_declare_heads_labels_and_trained_modules():
    modules = ["backbone", "position_encoding", "bottleneck", "query_embed", "transformer", "box_head", "cls_head"]
    box, score = BoxObjective(), ScoreObjective()
    assert box.heads == {"box"} and not box.presence_labels
    assert box.trained_modules(modules) == modules[:-1]
    assert BoxObjective(train_score_head=True).trained_modules(modules) == modules
    assert score.heads == {"score"} and score.presence_labels and score.trained_modules(modules) == ["cls_head"]
    joint, hungarian = JointObjective(), HungarianObjective()
    assert joint.heads == hungarian.heads == {"box", "score"}
    assert joint.presence_labels and not hungarian.presence_labels
    assert joint.trained_modules(modules) == hungarian.trained_modules(modules) == modules


def test_old_stage_keys_point_to_the_objective():
    with pytest.raises(ConfigError, match=r"'train.stage' was replaced by 'train.objective'"):
        load_config("stark_st1", "baseline", ["train.stage=2"])
    with pytest.raises(ConfigError, match=r"'train.train_cls' was replaced by 'train.objective'"):
        load_config("stark_st1", "baseline", ["train.train_cls=true"])


@pytest.mark.parametrize(
    ("script", "overrides", "message"),
    [
        ("stark_s", ["train.objective=score"], r"'train.objective' score needs the score head"),
        ("stark_st1", ["model.score_head=false", "train.objective=box_score"], r"box_score needs the score head"),
        ("stark_st1", ["model.num_object_queries=0"], r"'model.num_object_queries' is 0; it must be >= 1"),
        ("stark_st1", ["train.freeze_modules=[query_update]"], r"'train.freeze_modules' names query_update"),
        ("stark_st1", ["model.transformer.dec_layers=0", "train.freeze_modules=[query_embed]"], r"names query_embed"),
        ("stark_st1", ["model.query_source=template", "train.freeze_modules=[query_embed]"], r"names query_embed"),
        ("stark_st1", ["train.objective=boxes"], r"'train.objective' is 'boxes'; choose one of box, score"),
        ("stark_s", ["model.query_update=true"], r"'data.template.number' must be 2, got 1"),
        ("stark_st1", ["model.query_source=template", "model.transformer.dec_layers=0"], r"need a decoder"),
        ("stark_st1", ["model.query_source=tokens"], r"'model.query_source' is 'tokens'; choose one of learned"),
    ],
)
def test_objective_and_variant_mismatches_fail_in_one_line_naming_the_key(script, overrides, message):
    with pytest.raises(ConfigError, match=message) as info:
        load_config(script, "baseline", overrides)
    assert "\n" not in str(info.value)


def test_direct_callers_get_a_guard_for_a_missing_head():
    _, model = case_model("stark_st1", "model.score_head=false")
    with pytest.raises(ValueError, match="needs a score head"):
        ScoreObjective().check_model(model)
    BoxObjective().check_model(model)


def _xyxy_to_cxcywh(box):
    x1, y1, x2, y2 = box
    return [(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]


def test_joint_objective_takes_boxes_from_positives_only():
    gt = torch.tensor([[0.2, 0.2, 0.4, 0.4], [0.0, 0.0, 0.1, 0.1]])  # the second is a negative's dummy box
    exact = _xyxy_to_cxcywh([0.2, 0.2, 0.6, 0.6])
    outputs = {"pred_boxes": torch.tensor([[exact], [[0.5, 0.5, 0.5, 0.5]]]), "pred_logits": torch.zeros(2, 1, 1)}
    loss, stats = JointObjective()(outputs, {"search_boxes": gt, "label": torch.tensor([1.0, 0.0])})
    # the positive's box is exact: only the BCE of two zero logits (log 2) remains
    assert stats["l1"].item() == pytest.approx(0.0, abs=1e-6) and stats["iou"].item() == pytest.approx(1.0, abs=1e-5)
    assert loss.item() == pytest.approx(math.log(2), abs=1e-5)
    # all negatives: a zero box loss with the same statistic names, still in the graph
    boxes = outputs["pred_boxes"].clone().requires_grad_(True)
    loss, stats = JointObjective()({**outputs, "pred_boxes": boxes}, {"search_boxes": gt, "label": torch.zeros(2)})
    loss.backward()
    assert stats["giou"].item() == 0.0 and boxes.grad is not None and loss.item() == pytest.approx(math.log(2))


def test_hungarian_matches_the_cheapest_query_and_supervises_its_confidence():
    gt = torch.tensor([[0.2, 0.2, 0.4, 0.4]])
    queries = [[0.0, 0.0, 0.3, 0.3], [0.2, 0.2, 0.6, 0.6], [0.5, 0.5, 0.9, 0.9]]
    boxes = torch.tensor([[_xyxy_to_cxcywh(q) for q in queries]])
    logits = torch.tensor([[[3.0], [0.0], [-1.0]]])
    objective = HungarianObjective()
    cost = objective.matching_cost(boxes, logits, gt)
    assert cost.shape == (1, 3, 1)
    # query 1 is exact: cost -sigmoid(0) + 0 - 2 * 1; query 0 has a higher confidence but a worse box
    assert cost[0, 1, 0].item() == pytest.approx(-0.5 - 2.0, abs=1e-5)
    assert hungarian_match(cost).tolist() == [1]
    loss, stats = objective({"pred_boxes": boxes, "pred_logits": logits}, {"search_boxes": gt})
    target = torch.tensor([[0.0, 1.0, 0.0]])
    bce = torch.nn.functional.binary_cross_entropy_with_logits(logits.view(1, 3), target).item()
    assert stats["cls"].item() == pytest.approx(bce, abs=1e-6)
    assert loss.item() == pytest.approx(bce, abs=1e-5)  # the matched box is exact
    assert stats["matched_queries"].item() == 1
