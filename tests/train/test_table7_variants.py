"""Paper Table 7's other frameworks: each trains on generated data (its loss falls on an overfit batch),
tracks a generated sequence, and is profiled by tracking/profile_model.py."""

from __future__ import annotations

import json
import runpy
import sys

import numpy as np
import pytest
import torch

from lib.config import PROJECT_ROOT
from lib.data.synthetic import difficulty_options, render_sequence
from lib.models import build_stark
from lib.models.profiling import parameter_report
from lib.tracker import StarkTracker
from lib.tracker.names import load_test_config
from lib.train.distributed import DistContext
from lib.train.metrics_log import MetricsLogger
from lib.train.objectives import build_objective
from lib.train.optim import build_optimizer, build_scheduler, freeze_for_objective
from lib.train.run import build_train_loader
from lib.train.trainer import Trainer, TrainerOptions
from tests.tracker.conftest import TINY as TINY_TRACKER
from tests.train.conftest import TINY
from tests.train.test_trainer_real import RepeatLoader

# (training script, config, test-time tracker, test-time config)
VARIANTS = {
    "template_query": ("stark_st1", "template_query", "stark_st", "template_query"),
    "hungarian": ("stark_st1", "hungarian", "stark_st", "hungarian"),
    "update_query": ("stark_s", "update_query", "stark_s", "update_query"),
    "joint_loc_cls": ("stark_st1", "joint_loc_cls", "stark_st", "joint_loc_cls"),
}


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_loss_falls_when_overfitting_one_generated_batch(variant, settings, tmp_path):
    from lib.config import load_config

    script, name = VARIANTS[variant][:2]
    cfg = load_config(script, name, [*TINY, "model.transformer.dropout=0.0", "train.lr=1e-3", "train.batch_size=4"])
    loader = build_train_loader(cfg, settings, DistContext())
    loader.set_epoch(1)
    batch = next(iter(loader))
    if variant == "joint_loc_cls":
        assert set(batch["label"].tolist()) <= {0.0, 1.0}  # balanced samples carry presence labels
    torch.manual_seed(0)
    model = build_stark(cfg)
    objective = build_objective(cfg)
    frozen = freeze_for_objective(objective, model, cfg)
    # template-query keeps STARK-ST's two stages (stage 1: boxes); the others train everything in one stage
    assert frozen == (["cls_head"] if variant == "template_query" else [])
    optimizer = build_optimizer(cfg, model)
    options = TrainerOptions.from_config(cfg, show_progress=False)
    options.epochs = 1
    metrics = MetricsLogger(tmp_path / "m.jsonl", None)
    trainer = Trainer(model, objective, optimizer, build_scheduler(cfg, optimizer), RepeatLoader(batch, 12), options,
                      metrics=metrics, frozen_modules=frozen)  # fmt: skip
    trainer.fit()
    metrics.close()
    losses = [json.loads(x)["loss"] for x in (tmp_path / "m.jsonl").read_text().splitlines() if '"train_step"' in x]
    assert len(losses) == 12
    assert sum(losses[-3:]) / 3 < 0.8 * sum(losses[:3]) / 3, losses


def _tracker(variant):
    tracker_name, name = VARIANTS[variant][2:]
    torch.manual_seed(0)
    cfg = load_test_config(tracker_name, name, TINY_TRACKER)
    return StarkTracker(cfg, build_stark(cfg).eval(), "got10k_test")


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_variant_tracks_a_generated_sequence(variant):
    tracker = _tracker(variant)
    seq = render_sequence(np.random.default_rng(1), 6, difficulty_options("easy", width=160, height=120))
    tracker.initialize(seq.frames[0], {"init_bbox": seq.boxes[0].tolist()})
    results = [tracker.track(frame) for frame in seq.frames[1:]]
    boxes = np.asarray([r["target_bbox"] for r in results])
    assert boxes.shape == (5, 4) and np.isfinite(boxes).all() and (boxes[:, 2:] >= 10).all()
    assert (boxes[:, 0] + boxes[:, 2] <= 160 + 1e-6).all() and (boxes[:, 1] + boxes[:, 3] <= 120 + 1e-6).all()
    has_score = variant != "update_query"
    assert all(("conf_score" in r) == has_score for r in results)
    if variant == "update_query":
        assert tracker.intervals == [] and len(tracker.templates) == 1
        assert tracker.previous_query.shape == (1, 1, 32)


def test_update_query_carries_the_previous_output_into_the_next_query():
    tracker = _tracker("update_query")
    model = tracker.backend.model
    seq = render_sequence(np.random.default_rng(2), 3, difficulty_options("easy", width=160, height=120))
    tracker.initialize(seq.frames[0], {"init_bbox": seq.boxes[0].tolist()})
    tracker.track(seq.frames[1])
    carried = tracker.previous_query
    crop, mask, _, _ = tracker.crop(seq.frames[2], tracker.state, 5.0, 128)
    with torch.inference_mode():
        search = model.encode(crop, mask)
        fresh = model.decode(tracker.templates, search)["pred_boxes"]
        updated = model.decode(tracker.templates, search, previous_query=carried)["pred_boxes"]
        by_hand = model.transformer.decode(
            *_memory(model, tracker.templates, search), model.query_embed.weight[None] + model.query_update(carried)
        )[0]
        carried_out = model.decode(tracker.templates, search, previous_query=carried)["query_embedding"]
    assert not torch.allclose(fresh, updated)
    torch.testing.assert_close(carried_out, by_hand)


def _memory(model, templates, search):
    from lib.models.stark import merge_sequences

    merged = merge_sequences([*templates, search])
    memory, _ = model.transformer.encode(merged.feat, merged.mask, merged.pos)
    return memory, merged.mask, merged.pos


def test_hungarian_tracker_takes_the_most_confident_query(monkeypatch):
    tracker = _tracker("hungarian")
    boxes = torch.full((1, 10, 4), 0.1)
    boxes[0, 7] = torch.tensor([0.5, 0.5, 0.2, 0.3])  # centred on the previous state
    logits = torch.full((1, 10, 1), -5.0)
    logits[0, 7] = 3.0
    monkeypatch.setattr(tracker.backend.model, "decode", lambda *a, **k: {"pred_boxes": boxes, "pred_logits": logits})
    image = np.zeros((120, 160, 3), dtype=np.uint8)
    tracker.initialize(image, {"init_bbox": [60.0, 40.0, 30.0, 40.0]})
    out = tracker.track(image)
    # the mean of the ten boxes would sit far up-left; the chosen box keeps the centre (75, 60)
    x, y, w, h = out["target_bbox"]
    assert (x + w / 2, y + h / 2) == pytest.approx((75.0, 60.0), abs=1e-4)
    assert out["conf_score"] == pytest.approx(torch.sigmoid(torch.tensor(3.0)).item(), abs=1e-6)


def test_variant_parameter_counts_differ_from_the_base_by_their_parts():
    def total(script, name):
        from lib.config import load_config

        return parameter_report(build_stark(load_config(script, name, TINY_TRACKER)))["total"]

    st, s = total("stark_st1", "baseline"), total("stark_s", "baseline")
    dim = 32  # tiny hidden width
    assert total("stark_st1", "template_query") == st - dim  # no learned query
    assert total("stark_st1", "hungarian") == st + 9 * dim  # nine more queries
    assert total("stark_st1", "joint_loc_cls") == st  # same network, other objective
    assert total("stark_s", "update_query") == s + dim * dim + dim  # the query-update map


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_profile_model_reports_parameters_and_flops(variant, monkeypatch, capsys):
    script, name = VARIANTS[variant][:2]
    argv = ["profile_model.py", "--script", script, "--config", name, "--runs", "1", "--warmup", "0", "--opts",
            *TINY_TRACKER]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit) as info:
        runpy.run_path(str(PROJECT_ROOT / "tracking" / "profile_model.py"), run_name="__main__")
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert f"== {script}/{name}" in out and "parameters: total" in out
    flops = float(out.split("full count")[1].split("GFLOPs")[0])
    assert flops > 0
