"""Checkpoint reading: released-file layout with foreign pickled objects, strictness, round trip."""

from __future__ import annotations

import pickle
import sys
import types

import pytest
import torch

from lib.models import CheckpointError, build_stark
from lib.models.checkpoint import load_checkpoint, load_network_weights, read_network_state, save_official_checkpoint
from tests.models.conftest import randomise_batchnorm, tiny_config

_FOREIGN_SOURCE = '''
class Settings:
    def __init__(self):
        self.script_name = "stark_st2"
        self.env = {"workspace_dir": "/somewhere"}

class AverageMeter(dict):
    pass

class Trap:
    """Unpickling this would create a file (the released files must never run such code)."""
    def __init__(self, path):
        self.path = path
    def __reduce__(self):
        return (open, (self.path, "w"))
'''


def _write_release_like_file(path, state, trap_path):
    module = types.ModuleType("official_lib_admin_settings")
    exec(_FOREIGN_SOURCE, module.__dict__)
    sys.modules[module.__name__] = module
    try:
        meter = module.AverageMeter()
        meter["avg"] = 0.5
        torch.save(
            {
                "net": state,
                "settings": module.Settings(),
                "stats": meter,
                "trap": module.Trap(str(trap_path)),
                "epoch": 50,
            },
            path,
        )
    finally:
        del sys.modules[module.__name__]  # the class is not importable at load time, as in this project


@pytest.fixture()
def tiny_model():
    torch.manual_seed(0)
    model = build_stark(tiny_config())
    randomise_batchnorm(model)
    return model


def test_release_like_file_loads_without_running_foreign_code(tiny_model, tmp_path):
    path, trap = tmp_path / "STARKST_ep0050.pth.tar", tmp_path / "trap.txt"
    _write_release_like_file(path, {"module." + k: v for k, v in tiny_model.state_dict().items()}, trap)
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)  # what plain safe loading does with these files
    torch.manual_seed(1)
    fresh = build_stark(tiny_config())
    load_network_weights(fresh, path)
    assert not trap.exists()
    for key, value in tiny_model.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key


def test_official_layout_round_trip(tiny_model, tmp_path):
    path = tmp_path / "own.pth.tar"
    save_official_checkpoint(tiny_model, path, epoch=3)
    raw = torch.load(path, weights_only=True)  # plain data only: readable by safe loaders
    assert raw["net_type"] == "STARKST" and raw["epoch"] == 3
    assert list(raw["net"]) == list(tiny_model.state_dict())
    state = load_checkpoint(path, build_stark(tiny_config()))
    assert all(torch.equal(state[k], v) for k, v in tiny_model.state_dict().items())
    s_model = build_stark(tiny_config("model.score_head=false"))
    save_official_checkpoint(s_model, tmp_path / "s.pth.tar")
    assert torch.load(tmp_path / "s.pth.tar", weights_only=True)["net_type"] == "STARKS"


def test_mismatched_checkpoint_error_lists_keys(tiny_model, tmp_path):
    path = tmp_path / "st.pth.tar"
    state = tiny_model.state_dict()
    state["extra.weight"] = torch.zeros(1)
    state["bottleneck.weight"] = torch.zeros(5, 5, 1, 1)
    torch.save({"net": state}, path)
    with pytest.raises(CheckpointError) as info:
        load_network_weights(build_stark(tiny_config("model.score_head=false")), path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert "1 unexpected (extra.weight" not in message  # cls_head keys are unexpected too
    assert "7 unexpected (cls_head.layers.0.bias, cls_head.layers.0.weight, cls_head.layers.1.bias, ...)" in message
    assert "1 mis-shaped (bottleneck.weight (5, 5, 1, 1) vs model (32, 256, 1, 1))" in message
    state.pop("extra.weight")
    state.pop("query_embed.weight")
    state["bottleneck.weight"] = tiny_model.state_dict()["bottleneck.weight"]
    torch.save({"net": state}, path)
    with pytest.raises(CheckpointError, match=r"1 missing \(query_embed.weight\)"):
        load_network_weights(build_stark(tiny_config()), path)


def test_unreadable_files_fail_with_one_line(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        read_network_state(tmp_path / "absent.pth")
    garbage = tmp_path / "garbage.pth"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        read_network_state(garbage)
    torch.save({"epoch": 1}, tmp_path / "nonet.pth")
    with pytest.raises(CheckpointError, match="no network state_dict"):
        read_network_state(tmp_path / "nonet.pth")
