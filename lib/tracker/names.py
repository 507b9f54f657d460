"""Tracker names: which experiment script holds a tracker's test-time config and how its checkpoints are named.

Follows the official mapping: ``stark_s`` -> ``experiments/stark_s/<cfg>.yaml``, ``stark_st`` ->
``experiments/stark_st2/<cfg>.yaml``; the default checkpoint is the training output
``<save_dir>/checkpoints/train/<script>/<cfg>/<NET>_ep%04d.pth.tar`` at ``cfg.test.epoch``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from lib.config import Config, load_config

# tracker name -> (experiment script holding its test-time config, checkpoint prefix)
TRACKERS = {"stark_s": ("stark_s", "STARKS"), "stark_st": ("stark_st2", "STARKST")}


class RunnerError(ValueError):
    """Bad runner input: unknown tracker, missing checkpoint, unknown sequence (one-line message)."""


def tracker_script(tracker_name: str) -> str:
    if tracker_name not in TRACKERS:
        raise RunnerError(f"unknown tracker '{tracker_name}'; valid: {', '.join(TRACKERS)}")
    return TRACKERS[tracker_name][0]


def load_test_config(tracker_name: str, config_name: str, overrides: Iterable[str] = ()) -> Config:
    """The config of ``tracker_name``/``config_name`` (official script mapping) with ``key=value`` overrides."""
    return load_config(tracker_script(tracker_name), config_name, list(overrides))


def default_checkpoint(save_dir: str | Path, tracker_name: str, config_name: str, epoch: int) -> Path:
    """``<save_dir>/checkpoints/train/<script>/<cfg>/<NET>_ep%04d.pth.tar`` (official naming)."""
    script = tracker_script(tracker_name)
    prefix = TRACKERS[tracker_name][1]
    return Path(save_dir) / "checkpoints" / "train" / script / config_name / f"{prefix}_ep{epoch:04d}.pth.tar"


def default_onnx_dir(save_dir: str | Path, tracker_name: str, config_name: str) -> Path:
    """``<save_dir>/onnx/<tracker>/<cfg>``: where ``export_onnx.py`` writes and the onnxruntime backend reads."""
    tracker_script(tracker_name)
    return Path(save_dir) / "onnx" / tracker_name / config_name
