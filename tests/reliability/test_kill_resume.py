"""Issue 11, item 2: kill -9 at several points, resume, and get bitwise the uninterrupted run's checkpoint.

Runs with a DataLoader worker (persistent, as every shipped config), so the worker seeding is covered.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lib.config.loader import PROJECT_ROOT
from lib.train.checkpointing import load_training_state
from tests.train.conftest import TINY

KILLABLE = Path(__file__).with_name("killable_train.py")
OPTS = [
    *TINY,
    "train.num_worker=1",
    "data.train.sample_per_epoch=4",  # 2 steps per epoch
    "train.epoch=3",
    "train.val_epoch_interval=0",
    "train.checkpoint.keep_last=5",
]
FINAL = "checkpoints/train/stark_s/baseline/STARKS_ep0003.pth.tar"


def _train(save_dir: Path, settings_file: Path, kill: str = "", resume: bool = False) -> subprocess.CompletedProcess:
    command = [sys.executable, str(KILLABLE), "--script", "stark_s", "--config", "baseline", "--save_dir",
               str(save_dir), "--settings", str(settings_file), "--no_progress", *(["--resume"] if resume else []),
               "--opts", *OPTS]  # fmt: skip
    env = {**os.environ, "STARK_TEST_KILL": kill, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=save_dir)


def _assert_identical(a, b, where="checkpoint"):
    if isinstance(a, torch.Tensor):
        if not (isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)):
            pytest.fail(f"{where} differs from the uninterrupted run")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_identical(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_identical(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def test_kill_and_resume_is_bitwise_the_uninterrupted_run(tmp_path, got10k_root):
    full, run = tmp_path / "full", tmp_path / "run"
    for folder in (full, run):
        folder.mkdir()
        (folder / "stark_local.yaml").write_text(
            f"workspace_dir: {folder}\nsave_dir: {folder}\ngot10k_dir: {got10k_root}\n"
        )
    result = _train(full, full / "stark_local.yaml")
    assert result.returncode == 0, result.stderr[-3000:]
    uninterrupted = load_training_state(full / FINAL)

    ckpts = run / "checkpoints/train/stark_s/baseline"
    # 1. kill -9 mid-epoch: epoch 2, just before its second step (epoch 1's checkpoint is on disk)
    killed = _train(run, run / "stark_local.yaml", kill="batch:4")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    assert sorted(p.name for p in ckpts.iterdir()) == ["STARKS_ep0001.pth.tar", "config.yaml"]
    # 2. resume, and kill -9 again halfway through writing epoch 2's checkpoint
    killed = _train(run, run / "stark_local.yaml", kill="checkpoint:1", resume=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
    left = sorted(p.name for p in ckpts.iterdir())
    assert left[1:] == ["STARKS_ep0001.pth.tar", "config.yaml"], left
    assert left[0].startswith(".STARKS_ep0002.pth.tar.") and left[0].endswith(".tmp")  # the killed write
    # 3. resume to the end: the killed write's temp file is removed, the result is the uninterrupted run's
    resumed = _train(run, run / "stark_local.yaml", resume=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "removed stale temporary file" in resumed.stderr and left[0] in resumed.stderr
    assert not any(p.name.endswith(".tmp") for p in ckpts.iterdir())
    _assert_identical(load_training_state(run / FINAL), uninterrupted)
