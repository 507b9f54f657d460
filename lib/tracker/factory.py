"""One ready tracker for the video demo and the attention maps (the benchmark runner builds its own)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Optional

from lib.tracker.names import default_checkpoint, load_test_config
from lib.tracker.network import build_backend, resolve_device
from lib.tracker.stark_tracker import StarkTracker


def build_tracker(
    tracker_name: str,
    config_name: str,
    checkpoint: Optional[str | Path],
    save_dir: str | Path = ".",
    overrides: Iterable[str] = (),
    dataset_name: str = "video",
    device: str = "auto",
    amp: str = "none",
) -> StarkTracker:
    """A PyTorch tracker; the checkpoint defaults to the training output at ``cfg.test.epoch``."""
    cfg = load_test_config(tracker_name, config_name, overrides)
    checkpoint = checkpoint or default_checkpoint(save_dir, tracker_name, config_name, cfg.test.epoch)
    backend = build_backend(cfg, checkpoint, "torch", resolve_device(device), amp)
    return StarkTracker(cfg, backend, dataset_name)
