"""``tracking/train.py`` end to end (subprocesses) and its failure paths (in-process)."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lib.config import PROJECT_ROOT
from tests.train.conftest import TINY

TRAIN_PY = PROJECT_ROOT / "tracking" / "train.py"
OPTS = [*TINY, "data.train.sample_per_epoch=4", "data.val.sample_per_epoch=2"]


def _load_entry():
    spec = importlib.util.spec_from_file_location("train_entry", TRAIN_PY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _train(tmp_path, settings_file, script, *extra):
    command = [
        sys.executable,
        str(TRAIN_PY),
        "--script",
        script,
        "--config",
        "baseline",
        "--save_dir",
        str(tmp_path),
        "--settings",
        str(settings_file),
        *extra,
        "--opts",
        *OPTS,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)


def _check_run(tmp_path, script, net_type):
    ckpt = tmp_path / "checkpoints" / "train" / script / "baseline" / f"{net_type}_ep0001.pth.tar"
    state = torch.load(ckpt, weights_only=True)
    assert state["net_type"] == net_type and state["epoch"] == 1
    assert state["config"]["data"]["search"]["size"] == 64  # the resolved config, overrides included
    assert (ckpt.parent / "config.yaml").is_file()
    log = (tmp_path / "logs" / f"{script}-baseline.log").read_text()
    assert "parameters (total / trainable)" in log and "Finished training!" in log
    records = [json.loads(x) for x in (tmp_path / "logs" / f"{script}-baseline.metrics.jsonl").read_text().splitlines()]
    assert [r["kind"] for r in records][-2:] == ["train_epoch", "val_epoch"]
    assert list((tmp_path / "tensorboard" / "train" / script / "baseline").glob("events.out.tfevents.*"))
    return state


def test_stark_s_one_tiny_epoch(tmp_path, settings_file):
    result = _train(tmp_path, settings_file, "stark_s")
    assert result.returncode == 0, result.stderr[-3000:]
    state = _check_run(tmp_path, "stark_s", "STARKS")
    assert not any(k.startswith("cls_head") for k in state["net"])


def test_stark_st1_then_st2_from_script_prv(tmp_path, settings_file):
    result = _train(tmp_path, settings_file, "stark_st1")
    assert result.returncode == 0, result.stderr[-3000:]
    stage1 = _check_run(tmp_path, "stark_st1", "STARKST")
    result = _train(tmp_path, settings_file, "stark_st2", "--script_prv", "stark_st1", "--config_prv", "baseline")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "initial weights from" in result.stderr and "STARKST_ep0001.pth.tar" in result.stderr
    stage2 = _check_run(tmp_path, "stark_st2", "STARKST")
    assert torch.equal(stage2["net"]["bottleneck.weight"], stage1["net"]["bottleneck.weight"])
    assert not torch.equal(stage2["net"]["cls_head.layers.0.weight"], stage1["net"]["cls_head.layers.0.weight"])


def test_missing_stage1_checkpoint_stops_before_any_work(tmp_path, settings_file, capsys):
    code = _load_entry().main(
        [
            "--script",
            "stark_st2",
            "--save_dir",
            str(tmp_path),
            "--settings",
            str(settings_file),
            "--script_prv",
            "stark_st1",
            "--config_prv",
            "nothing_here",
            "--opts",
            *OPTS,
        ]
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "no stage-1 checkpoint" in err[-1] and "stark_st1/nothing_here" in err[-1]
    assert not (tmp_path / "checkpoints" / "train" / "stark_st2").exists()


def test_missing_dataset_root_stops_before_any_work(tmp_path, settings_file, capsys):
    code = _load_entry().main(
        [
            "--script",
            "stark_s",
            "--save_dir",
            str(tmp_path),
            "--settings",
            str(settings_file),
            "--opts",
            *OPTS,
            f"got10k_dir={tmp_path / 'absent'}",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "absent" in err[-1] and err[-1].startswith("error:")
    assert not (tmp_path / "checkpoints").exists()


@pytest.mark.parametrize(("recorded", "expected"), [({}, 7), ({"0": "3", "1": "3"}, 3), ({"0": "2", "1": "3"}, 2)])
def test_mode_multiple_runs_torchrun_and_returns_its_exit_code(monkeypatch, recorded, expected):
    """torchrun says 1 (here 7) for any failed child; the ranks' recorded documented code is returned instead."""
    entry = _load_entry()
    seen = {}

    def fake_torchrun(torchrun_args, exit_file):
        seen["command"] = torchrun_args
        for rank, code in recorded.items():  # what record_exit_code does in each rank
            Path(f"{exit_file}.{rank}").write_text(code)
        return 7

    monkeypatch.setattr(entry, "run_torchrun", fake_torchrun)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    code = entry.main(
        [
            "--script",
            "stark_st1",
            "--config",
            "baseline",
            "--save_dir",
            ".",
            "--mode",
            "multiple",
            "--nproc_per_node",
            "8",
            "--opts",
            "train.grad_accum_steps=1",
        ]
    )
    assert code == expected
    command = seen["command"]
    assert command[0] == "--nproc_per_node=8"  # torchrun's arguments
    assert Path(command[1]) == TRAIN_PY
    assert command[2:] == [
        "--script",
        "stark_st1",
        "--config",
        "baseline",
        "--save_dir",
        ".",
        "--opts",
        "train.grad_accum_steps=1",
        "--mode",
        "single",
    ]


@pytest.mark.parametrize("bad", [["--use_lmdb", "2"]])
def test_bad_flags_are_rejected(bad):
    with pytest.raises(SystemExit) as info:
        _load_entry().parse_args(["--script", "stark_s", *bad])
    assert info.value.code == 2


def test_flags_and_settings_overrides_are_routed(settings_file, tmp_path):
    from lib.config import split_overrides
    from lib.train.run import TrainRequest, resolve_config_and_settings

    assert split_overrides(["train.lr=1e-5", "got10k_dir=/x"]) == (["train.lr=1e-5"], ["got10k_dir=/x"])
    request = TrainRequest(
        script="stark_st1",
        config="baseline",
        save_dir=str(tmp_path / "out"),
        use_lmdb=True,
        opts=["train.grad_accum_steps=8", "lasot_dir=/lasot"],
        settings_path=str(settings_file),
    )
    cfg, settings = resolve_config_and_settings(request)
    assert cfg.data.use_lmdb and cfg.train.grad_accum_steps == 8 and cfg.model.score_head
    assert settings.lasot_dir == "/lasot" and settings.save_dir == str(tmp_path / "out")
    assert settings.checkpoints_dir == tmp_path / "out" / "checkpoints" / "train"


def test_nan_loss_exits_non_zero_with_the_message_and_no_finished_line(tmp_path, settings_file, monkeypatch, capsys):
    from lib.train import run as run_module
    from lib.train.objectives import BoxObjective

    class NanObjective(BoxObjective):
        def __call__(self, outputs, batch):
            loss, stats = super().__call__(outputs, batch)
            return loss * float("nan"), stats

    monkeypatch.setattr(run_module, "build_objective", lambda cfg: NanObjective())
    code = _load_entry().main(["--script", "stark_s", "--save_dir", str(tmp_path), "--settings", str(settings_file),
                               "--no_progress", "--opts", *OPTS])  # fmt: skip
    assert code == 3
    log = (tmp_path / "logs" / "stark_s-baseline.log").read_text()
    assert "non-finite loss at epoch 1, iteration 1" in log and "loss=nan" in log and "l1=" in log
    assert "Finished training!" not in log + capsys.readouterr().err
    assert not list((tmp_path / "checkpoints").rglob("*.pth.tar"))


def test_no_score_head_ablation_has_no_stage_two(tmp_path, settings_file, capsys):
    args = ["--script", "stark_st2", "--config", "ablation_no_score", "--save_dir", str(tmp_path)]
    code = _load_entry().main([*args, "--settings", str(settings_file), "--opts", *OPTS, "train.init_from=x.pth"])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: stark_st2/ablation_no_score: model.score_head=false, and stage 2 trains only")
    assert not (tmp_path / "checkpoints").exists()


def test_ctrl_c_during_training_says_where_and_how_to_resume(tmp_path, settings_file, monkeypatch, capsys):
    from lib.train.trainer import Trainer

    real_epoch = Trainer.train_epoch

    def interrupted_in_epoch_2(self, epoch):
        if epoch == 2:
            raise KeyboardInterrupt
        return real_epoch(self, epoch)

    monkeypatch.setattr(Trainer, "train_epoch", interrupted_in_epoch_2)
    args = ["--script", "stark_s", "--save_dir", str(tmp_path), "--settings", str(settings_file)]
    assert _load_entry().main([*args, "--opts", *OPTS, "train.epoch=3"]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "interrupted at epoch 2, resume with --resume"
    assert not any("Traceback" in line for line in err)
    saved = sorted(p.name for p in (tmp_path / "checkpoints" / "train" / "stark_s" / "baseline").glob("*.pth.tar"))
    assert saved == ["STARKS_ep0001.pth.tar"]
