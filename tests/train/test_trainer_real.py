"""The trainer with the real model and the real loader on generated data (tiny config, CPU)."""

import json

import pytest
import torch

from lib.models import build_stark
from lib.train import run as run_module
from lib.train.checkpointing import load_training_state
from lib.train.distributed import DistContext
from lib.train.metrics_log import MetricsLogger
from lib.train.objectives import build_objective
from lib.train.optim import build_optimizer, build_scheduler, freeze_for_objective
from lib.train.run import TrainRequest, build_train_loader, run_training
from lib.train.trainer import Trainer, TrainerOptions
from tests.train.conftest import TINY, tiny_config

SHORT = ["data.train.sample_per_epoch=4", "train.val_epoch_interval=0"]  # 2 steps per epoch, no validation


class RepeatLoader:
    """The same batch ``steps`` times (overfitting one batch)."""

    def __init__(self, batch, steps):
        self.batch, self.steps = batch, steps

    def set_epoch(self, epoch):
        pass

    def __len__(self):
        return self.steps

    def __iter__(self):
        return iter([self.batch] * self.steps)


def test_loss_falls_when_overfitting_one_batch(settings, tmp_path):
    cfg = tiny_config("stark_s", "model.transformer.dropout=0.0", "train.lr=1e-3")
    loader = build_train_loader(cfg, settings, DistContext())
    loader.set_epoch(1)
    batch = next(iter(loader))
    torch.manual_seed(0)
    model = build_stark(cfg)
    objective = build_objective(cfg)
    frozen = freeze_for_objective(objective, model, cfg)
    optimizer = build_optimizer(cfg, model)
    options = TrainerOptions.from_config(cfg, show_progress=False)
    options.epochs = 1
    metrics = MetricsLogger(tmp_path / "m.jsonl", None)
    trainer = Trainer(
        model,
        objective,
        optimizer,
        build_scheduler(cfg, optimizer),
        RepeatLoader(batch, 10),
        options,
        metrics=metrics,
        frozen_modules=frozen,
    )
    trainer.fit()
    metrics.close()
    steps = [json.loads(x) for x in (tmp_path / "m.jsonl").read_text().splitlines() if '"train_step"' in x]
    losses = [s["loss"] for s in steps]
    assert len(losses) == 10
    assert sum(losses[-3:]) / 3 < 0.75 * sum(losses[:3]) / 3, losses  # measured ratio ~0.58
    assert steps[-1]["iou"] > steps[0]["iou"]


def _request(tmp_path, script, *opts, resume=False):
    return TrainRequest(
        script=script, config="baseline", save_dir=str(tmp_path), opts=list(opts), resume=resume, show_progress=False
    )


def _run(tmp_path, script, settings, *opts, resume=False):
    cfg = tiny_config(script, *opts)
    settings.save_dir = str(tmp_path)
    return run_training(_request(tmp_path, script, *opts, resume=resume), DistContext(), cfg, settings)


def _save_stage1(path, seed):
    torch.manual_seed(seed)
    model = build_stark(tiny_config("stark_st1"))
    torch.save({"net": model.state_dict(), "net_type": "STARKST", "epoch": 0}, path)
    return model.state_dict()


def test_stage2_changes_only_the_score_head_and_resume_keeps_its_own_weights(settings, tmp_path):
    init = tmp_path / "stage1.pth.tar"
    stage1 = _save_stage1(init, seed=5)
    _run(tmp_path, "stark_st2", settings, *SHORT, f"train.init_from={init}")
    ckpt_dir = tmp_path / "checkpoints/train/stark_st2/baseline"
    after = load_training_state(ckpt_dir / "STARKST_ep0001.pth.tar")["net"]
    assert after.keys() == stage1.keys()
    changed = {k for k in after if not torch.equal(after[k], stage1[k])}
    assert changed and all(k.startswith("cls_head.") for k in changed), changed
    assert {k for k in stage1 if k.startswith("cls_head.") and k.endswith("weight")} <= changed
    # a different stage-1 file now sits at init_from: a resumed stage 2 must not load it over its own weights
    _save_stage1(init, seed=6)
    _run(tmp_path, "stark_st2", settings, *SHORT, f"train.init_from={init}", "train.epoch=2", resume=True)
    resumed = load_training_state(ckpt_dir / "STARKST_ep0002.pth.tar")["net"]
    assert all(torch.equal(resumed[k], stage1[k]) for k in resumed if not k.startswith("cls_head."))
    assert not torch.equal(resumed["cls_head.layers.0.weight"], after["cls_head.layers.0.weight"])


def test_kill_mid_epoch_and_resume_equals_uninterrupted_run(settings, tmp_path, monkeypatch):
    opts = [*SHORT, "train.epoch=2"]  # dropout stays on: its RNG is re-seeded per (seed, rank, epoch)
    _run(tmp_path / "full", "stark_s", settings, *opts)
    full = load_training_state(tmp_path / "full/checkpoints/train/stark_s/baseline/STARKS_ep0002.pth.tar")

    class Killed(Exception):
        pass

    real_build = run_module.build_train_loader

    def killing_loader(*args, **kwargs):
        loader = real_build(*args, **kwargs)

        class KillInEpoch2:
            def set_epoch(self, epoch):
                self.epoch = epoch
                loader.set_epoch(epoch)

            def __len__(self):
                return len(loader)

            def __iter__(self):
                for i, batch in enumerate(loader):
                    if self.epoch == 2 and i == 1:
                        raise Killed()
                    yield batch

        return KillInEpoch2()

    monkeypatch.setattr(run_module, "build_train_loader", killing_loader)
    with pytest.raises(Killed):
        _run(tmp_path / "run", "stark_s", settings, *opts)
    monkeypatch.setattr(run_module, "build_train_loader", real_build)
    ckpts = tmp_path / "run/checkpoints/train/stark_s/baseline"
    assert [p.name for p in ckpts.glob("*.pth.tar")] == ["STARKS_ep0001.pth.tar"]
    _run(tmp_path / "run", "stark_s", settings, *opts, resume=True)
    resumed = load_training_state(ckpts / "STARKS_ep0002.pth.tar")
    assert resumed["scheduler"] == full["scheduler"] and resumed["global_step"] == full["global_step"] == 4
    for key, value in full["net"].items():
        torch.testing.assert_close(resumed["net"][key], value, rtol=0, atol=1e-6, msg=key)
    for a, b in zip(resumed["optimizer"]["state"].values(), full["optimizer"]["state"].values()):
        torch.testing.assert_close(a["exp_avg"], b["exp_avg"], rtol=0, atol=1e-6)


def test_tiny_overrides_are_valid():
    assert tiny_config("stark_st2").train.objective == "score" and len(TINY) > 10
