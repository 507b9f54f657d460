"""Issue 11, item 1: no checkpoint file runs code, in any format or position, through any entry point."""

from __future__ import annotations

import runpy
import sys

import cv2
import numpy as np
import pytest
import torch

from lib.config.loader import PROJECT_ROOT
from lib.models import CheckpointError
from lib.models.checkpoint import read_checkpoint, read_network_state
from lib.train.checkpointing import load_training_state
from lib.train.errors import TrainSetupError
from tests.reliability.payloads import hostile_cases, write_hostile_checkpoint, write_marker


@pytest.fixture()
def state():
    torch.manual_seed(0)
    return {"layer.weight": torch.randn(3, 2), "layer.bias": torch.randn(3)}


def test_the_payload_does_run_under_plain_pickle(tmp_path, state):
    """Guards the test itself: the payload is live, so its absence below means it was refused."""
    marker = tmp_path / "marker"
    path = write_hostile_checkpoint(tmp_path / "h.pth", state, marker, "legacy", "other_key")
    torch.load(path, weights_only=False)
    assert marker.read_text() == "payload ran"
    marker.unlink()
    write_marker(str(marker))
    assert marker.exists()


@pytest.mark.parametrize(("fmt", "position"), hostile_cases())
def test_no_payload_runs_in_the_one_reader(tmp_path, state, fmt, position):
    marker = tmp_path / "marker"
    path = write_hostile_checkpoint(tmp_path / f"{fmt}_{position}.pth.tar", state, marker, fmt, position)
    try:
        obj = read_checkpoint(path)
    except CheckpointError as err:
        assert str(path) in str(err) and "\n" not in str(err)
    else:
        if position == "other_key":  # the released-file case: the network is still taken
            assert torch.equal(obj["net"]["layer.weight"], state["layer.weight"])
            assert torch.equal(read_network_state(path)["layer.bias"], state["layer.bias"])
    readers = [load_training_state] + ([] if position == "other_key" else [read_network_state])
    for reader in readers:
        with pytest.raises((CheckpointError, TrainSetupError), match=str(path)):
            reader(path)
    assert not marker.exists(), f"payload ran ({fmt}, {position})"


def _entry(script, argv, monkeypatch):
    entry = runpy.run_path(str(PROJECT_ROOT / "tracking" / script), run_name="entry")
    monkeypatch.setattr(sys, "argv", [script, *argv])
    return entry["main"]


@pytest.fixture()
def legacy_header_file(tmp_path, state):
    marker = tmp_path / "marker"
    path = write_hostile_checkpoint(tmp_path / "STARKS_ep0001.pth.tar", state, marker, "legacy", "legacy_header")
    return path, marker


def test_entry_points_refuse_the_legacy_header_payload(tmp_path, legacy_header_file, monkeypatch, capsys):
    """The reported bug: the legacy header reached plain pickle in test.py, video_demo and vis_attention."""
    path, marker = legacy_header_file
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        cv2.imwrite(str(frames / f"{i}.jpg"), np.zeros((24, 32, 3), np.uint8))
    runs = {
        "test.py": ["stark_s", "baseline", "--dataset", "folder", "--folder", str(frames), "--init_box", "1", "1", "4",
                    "4", "--checkpoint", str(path), "--save_dir", str(tmp_path)],
        "video_demo.py": ["stark_s", "baseline", str(frames), "--optional_box", "1", "1", "4", "4",
                          "--checkpoint", str(path)],
        "vis_attention.py": ["stark_s", "baseline", "--sequence_dir", str(frames), "--frame", "1", "--init_box", "1", "1", "4", "4", "--checkpoint", str(path),
                             "--out", str(tmp_path / "att")],
    }  # fmt: skip
    for script, argv in runs.items():
        code = _entry(script, argv, monkeypatch)()
        err = capsys.readouterr().err
        assert code == 2, (script, err)
        assert str(path) in err and "Traceback" not in err, (script, err)
        assert not marker.exists(), script
