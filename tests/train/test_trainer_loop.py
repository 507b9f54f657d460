"""Loop-level behaviour with the small stand-in model and loader (fast; the real-model checks are in
test_trainer_real.py and test_train_entry.py)."""

import json
import math

import pytest
import torch

from lib.config import Config
from lib.train.accumulation import InterleavedLoader, virtual_ranks
from lib.train.checkpointing import CheckpointManager, load_training_state
from lib.train.errors import NonFiniteLossError
from lib.train.metrics_log import MetricsLogger
from lib.train.objectives import BoxObjective
from lib.train.optim import build_optimizer, build_scheduler, freeze_for_objective
from lib.train.trainer import Trainer, TrainerOptions
from tests.train.fakes import FakeLoader, FakeStark


def make_trainer(tmp_path, loader, *, epochs=2, accum=1, dropout=0.1, amp="none", init_seed=0, criterion=None, bn=True):
    cfg = Config()
    cfg.train.lr = 1e-2
    torch.manual_seed(init_seed)
    model = FakeStark(score_head=True, dropout=dropout)
    if not bn:
        model.box_head[1] = torch.nn.Identity()
    criterion = criterion or BoxObjective()
    frozen = freeze_for_objective(criterion, model, cfg)
    optimizer = build_optimizer(cfg, model)
    options = TrainerOptions(
        epochs=epochs, grad_accum_steps=accum, amp=amp, seed=7, print_interval=1, batch_size=2, show_progress=False
    )
    return Trainer(
        model=model,
        criterion=criterion,
        optimizer=optimizer,
        scheduler=build_scheduler(cfg, optimizer),
        train_loader=loader,
        options=options,
        checkpoints=CheckpointManager(tmp_path / "ckpt", "STARKST", keep_last=5, keep_every=0),
        metrics=MetricsLogger(tmp_path / "metrics.jsonl", tmp_path / "tb"),
        frozen_modules=frozen,
        config_dict={"train": {"objective": "box"}},
    )


def _assert_same_weights(a, b, atol=0.0):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for key in sa:
        torch.testing.assert_close(sa[key], sb[key], rtol=0, atol=atol, msg=key)


def test_checkpoints_hold_the_documented_entries_and_load_weights_only(tmp_path):
    trainer = make_trainer(tmp_path, FakeLoader(8, 2), epochs=1)
    trainer.fit()
    path = tmp_path / "ckpt" / "STARKST_ep0001.pth.tar"
    raw = torch.load(path, weights_only=True)
    assert {"net", "net_type", "epoch", "optimizer", "scheduler", "scaler", "rng", "config", "code_version"} <= set(raw)
    assert raw["net_type"] == "STARKST" and raw["epoch"] == 1 and raw["config"] == {"train": {"objective": "box"}}
    assert not any(k.startswith("module.") for k in raw["net"]) and "backbone.0.body.layer2.weight" in raw["net"]
    assert raw["code_version"]["version"]
    assert load_training_state(path)["scheduler"]["last_epoch"] == 1


def test_metrics_file_and_tensorboard(tmp_path):
    trainer = make_trainer(tmp_path, FakeLoader(8, 2), epochs=1)
    trainer.fit()
    trainer.metrics.close()
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    kinds = [r["kind"] for r in records]
    assert kinds.count("train_step") == 4 and kinds.count("train_epoch") == 1
    epoch = records[-1]
    assert {"loss", "giou", "l1", "iou", "lr_main", "lr_backbone", "samples_per_s", "data_time_s"} <= set(epoch)
    assert epoch["lr_backbone"] == pytest.approx(epoch["lr_main"] * 0.1)
    assert list((tmp_path / "tb").glob("events.out.tfevents.*"))


def test_kill_mid_epoch_and_resume_equals_uninterrupted(tmp_path):
    full = make_trainer(tmp_path / "full", FakeLoader(8, 2), epochs=3)
    full.fit()
    killed_loader = FakeLoader(8, 2)
    killed_loader.fail_at = (2, 2)
    killed = make_trainer(tmp_path / "run", killed_loader, epochs=3)
    with pytest.raises(KeyboardInterrupt):
        killed.fit()
    assert [p.name for p in sorted((tmp_path / "run" / "ckpt").glob("*.pth.tar"))] == ["STARKST_ep0001.pth.tar"]
    resumed = make_trainer(tmp_path / "run", FakeLoader(8, 2), epochs=3, init_seed=123)
    resumed.resume(resumed.checkpoints.latest())
    assert resumed.epoch == 1
    resumed.fit()
    _assert_same_weights(full.net, resumed.net)
    assert resumed.optimizer.param_groups[0]["lr"] == full.optimizer.param_groups[0]["lr"]


def test_nan_loss_stops_with_epoch_iteration_and_terms(tmp_path):
    class NanAt(BoxObjective):
        calls = 0

        def __call__(self, outputs, batch):
            loss, stats = super().__call__(outputs, batch)
            NanAt.calls += 1
            if NanAt.calls == 7:  # epoch 2 (4 steps per epoch), iteration 3
                loss = loss * float("nan")
                stats["loss"] = loss.detach()
            return loss, stats

    trainer = make_trainer(tmp_path, FakeLoader(8, 2), epochs=3, criterion=NanAt())
    with pytest.raises(NonFiniteLossError, match=r"epoch 2, iteration 3 .*loss=nan.*giou=") as info:
        trainer.fit()
    assert info.value.epoch == 2 and info.value.iteration == 3
    assert sorted(p.name for p in (tmp_path / "ckpt").glob("*.pth.tar")) == ["STARKST_ep0001.pth.tar"]


def test_accumulation_over_virtual_ranks_equals_the_large_batch(tmp_path):
    big = make_trainer(tmp_path / "big", FakeLoader(16, 4), epochs=2, dropout=0.0, bn=False)
    big.fit()
    ranks, world = virtual_ranks(rank=0, world_size=1, accum_steps=2)
    assert (ranks, world) == ([0, 1], 2)
    micro = InterleavedLoader([FakeLoader(16, 2, rank=r, world_size=world) for r in ranks])
    assert len(micro) == 8
    accum = make_trainer(tmp_path / "acc", micro, epochs=2, accum=2, dropout=0.0, bn=False)
    accum.fit()
    assert accum.global_step == big.global_step == 8
    _assert_same_weights(big.net, accum.net, atol=1e-6)


def test_fp16_unscales_before_clipping(tmp_path):
    if not torch.amp.is_autocast_available("cpu"):
        pytest.skip("no CPU autocast")
    plain = make_trainer(tmp_path / "plain", FakeLoader(2, 2), epochs=1, dropout=0.0)
    plain.fit()
    half = make_trainer(tmp_path / "half", FakeLoader(2, 2), epochs=1, dropout=0.0, amp="fp16")
    assert half.scaler.is_enabled()
    # a small initial scale so the first step is not skipped as an fp16 overflow
    half.scaler = torch.amp.GradScaler("cpu", init_scale=16.0)
    half.fit()
    norms = []
    for run in ("plain", "half"):
        rec = [json.loads(x) for x in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
        norms.append(rec[0]["grad_norm"])
    # without unscale_ the fp16 norm would be 16x larger
    assert math.isfinite(norms[1]) and norms[1] == pytest.approx(norms[0], rel=0.05)
    ckpt = torch.load(tmp_path / "half" / "ckpt" / "STARKST_ep0001.pth.tar", weights_only=True)
    assert ckpt["scaler"]["scale"] > 0


def test_time_budget_stops_after_the_epoch_that_exceeds_it(tmp_path):
    trainer = make_trainer(tmp_path, FakeLoader(8, 2), epochs=5)
    trainer.options.max_minutes = 1e-9  # any epoch exceeds it
    trainer.fit()
    assert trainer.epoch == 1
    assert [p.name for p in (tmp_path / "ckpt").glob("*.pth.tar")] == ["STARKST_ep0001.pth.tar"]


def test_time_budget_lr_drop_happens_once_at_its_share_of_the_budget(tmp_path, monkeypatch):
    clock = iter(range(0, 10_000, 30))  # every reading of the clock is 30 s later
    monkeypatch.setattr("lib.train.trainer.time.monotonic", lambda: float(next(clock)))
    trainer = make_trainer(tmp_path, FakeLoader(8, 2), epochs=50)
    trainer.options.max_minutes = 10.0
    trainer.options.budget_lr_drop = 0.5
    trainer.options.lr_decay = 0.1
    lrs = []
    original = trainer.train_epoch

    def record(epoch):
        lrs.append(trainer.optimizer.param_groups[0]["lr"])
        return original(epoch)

    trainer.train_epoch = record
    trainer.fit()
    start_lr = lrs[0]
    dropped = [lr for lr in lrs if lr < start_lr]
    assert dropped and all(abs(lr - start_lr * 0.1) < 1e-12 for lr in dropped)
    assert lrs.index(dropped[0]) > 1 and trainer.budget_lr_dropped
    assert trainer.state_dict()["budget_lr_dropped"] is True


def test_resume_into_a_changed_model_is_a_one_line_error(tmp_path):
    from lib.models.errors import CheckpointError

    trainer = make_trainer(tmp_path, FakeLoader(4, 2), epochs=1)
    trainer.fit()
    changed = make_trainer(tmp_path / "other", FakeLoader(4, 2), epochs=1, bn=False)  # box_head.1 has no BN now
    with pytest.raises(CheckpointError) as info:
        changed.resume(tmp_path / "ckpt" / "STARKST_ep0001.pth.tar")
    assert "STARKST_ep0001.pth.tar" in str(info.value) and "box_head.1" in str(info.value)
    assert "\n" not in str(info.value)
