import random

import numpy as np
import pytest
import torch

from lib.models.checkpoint import net_type_of
from lib.train.checkpointing import (
    CheckpointManager,
    checkpoint_name,
    latest_checkpoint,
    load_training_state,
    rng_state,
    set_rng_state,
)
from lib.train.errors import TrainSetupError
from tests.train.fakes import FakeStark


def test_official_names_and_net_type():
    assert checkpoint_name("STARKST", 50) == "STARKST_ep0050.pth.tar"
    assert net_type_of(FakeStark(score_head=True)) == "STARKST"
    assert net_type_of(FakeStark(score_head=False)) == "STARKS"


def test_retention_keeps_last_k_and_every_nth(tmp_path):
    manager = CheckpointManager(tmp_path, "STARKS", keep_last=2, keep_every=3)
    for epoch in range(1, 8):
        manager.save(epoch, {"net": {"w": torch.zeros(1)}, "epoch": epoch})
    kept = sorted(p.name for p in tmp_path.glob("*.pth.tar"))
    assert kept == ["STARKS_ep0003.pth.tar", "STARKS_ep0006.pth.tar", "STARKS_ep0007.pth.tar"]
    assert not list(tmp_path.glob(".*.tmp"))  # atomic writes leave no temp files
    assert manager.latest().name == "STARKS_ep0007.pth.tar"


def test_latest_is_numeric_not_lexicographic(tmp_path):
    for epoch in (9999, 10000):
        torch.save({"net": {}, "epoch": epoch}, tmp_path / checkpoint_name("STARKS", epoch))
    assert latest_checkpoint(tmp_path).name == "STARKS_ep10000.pth.tar"


def test_rng_state_round_trip_is_weights_only_safe(tmp_path):
    state = rng_state()
    torch.save({"rng": state}, tmp_path / "r.pt")
    loaded = torch.load(tmp_path / "r.pt", weights_only=True)["rng"]
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    set_rng_state(loaded)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_unreadable_checkpoint_gives_one_line_error(tmp_path):
    bad = tmp_path / "STARKS_ep0001.pth.tar"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(TrainSetupError, match="cannot read checkpoint") as info:
        load_training_state(bad)
    assert "\n" not in str(info.value)
    with pytest.raises(TrainSetupError, match="not found"):
        load_training_state(tmp_path / "missing.pth.tar")
