"""Metrics output of rank 0: TensorBoard scalars and a JSON-lines file; running means for epochs.

Every record of the JSON-lines file is one object with ``kind`` ("train_step", "train_epoch",
"val_epoch", "info"), ``epoch`` and the values, so a run can be plotted without TensorBoard. Both are
append-only streams (a crash loses at most the last line), unlike results and checkpoints, which are
written atomically.
"""

from __future__ import annotations

import json
import logging
import math
from pathlib import Path
from typing import Any, Optional

logger = logging.getLogger(__name__)


class RunningMeans:
    """Means of named scalars over an epoch (each update counts once)."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def update(self, values: dict[str, float]) -> None:
        for name, value in values.items():
            self.sums[name] = self.sums.get(name, 0.0) + float(value)
            self.counts[name] = self.counts.get(name, 0) + 1

    def means(self) -> dict[str, float]:
        return {name: self.sums[name] / self.counts[name] for name in self.sums}


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/inf literals
    return value


class MetricsLogger:
    """Writes scalars to TensorBoard and JSON lines; every method is a no-op off rank 0.

    Args:
        jsonl_path: the metrics file (e.g. ``logs/<script>-<config>.metrics.jsonl``), or None.
        tensorboard_dir: ``<workspace>/tensorboard/train/<script>/<config>``, or None.
        enabled: False on ranks other than 0.
    """

    def __init__(self, jsonl_path: Optional[Path], tensorboard_dir: Optional[Path], enabled: bool = True) -> None:
        self.enabled = enabled
        self._jsonl = None
        self._writer = None
        if not enabled:
            return
        if jsonl_path is not None:
            Path(jsonl_path).parent.mkdir(parents=True, exist_ok=True)
            self._jsonl = open(jsonl_path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
        if tensorboard_dir is not None:
            from torch.utils.tensorboard import SummaryWriter

            Path(tensorboard_dir).mkdir(parents=True, exist_ok=True)
            self._writer = SummaryWriter(log_dir=str(tensorboard_dir))

    def scalars(self, prefix: str, values: dict[str, float], step: int) -> None:
        """TensorBoard scalars ``<prefix>/<name>`` at ``step``."""
        if self._writer is None:
            return
        for name, value in values.items():
            self._writer.add_scalar(f"{prefix}/{name}", float(value), step)

    def record(self, kind: str, **values: Any) -> None:
        """One JSON line ``{"kind": kind, **values}``."""
        if self._jsonl is None:
            return
        line = {"kind": kind, **{k: _json_value(v) for k, v in values.items()}}
        self._jsonl.write(json.dumps(line, sort_keys=False) + "\n")
        self._jsonl.flush()

    def text(self, tag: str, text: str) -> None:
        if self._writer is not None:
            self._writer.add_text(tag, text)

    def close(self) -> None:
        if self._jsonl is not None:
            self._jsonl.close()
            self._jsonl = None
        if self._writer is not None:
            self._writer.close()
            self._writer = None
