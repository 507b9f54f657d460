"""``tracking/train.py`` that kills itself with SIGKILL at a chosen point (``STARK_TEST_KILL``).

``batch:N``: just before the trainer uses its N-th micro-batch of the run (mid-epoch);
``checkpoint:N``: halfway through writing the N-th checkpoint file (the atomic write's temp file).
Nothing is cleaned up: the process dies as under ``kill -9``.
"""

from __future__ import annotations

import io
import os
import runpy
import signal
import sys

import torch

import lib.train.checkpointing as checkpointing
import lib.train.trainer as trainer
from lib.config.loader import PROJECT_ROOT
from lib.utils import io as atomic_io


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _kill_at_batch(n: int) -> None:
    real, count = trainer._to_device, [0]

    def to_device(batch, device):
        count[0] += 1
        if count[0] == n:
            _die()
        return real(batch, device)

    trainer._to_device = to_device


def _kill_in_checkpoint_write(n: int) -> None:
    count = [0]

    def save(obj, path):
        count[0] += 1
        if count[0] < n:
            return atomic_io.atomic_torch_save(obj, path)

        def write_half(handle):
            buffer = io.BytesIO()
            torch.save(obj, buffer)
            data = buffer.getvalue()
            handle.write(data[: len(data) // 2])
            handle.flush()
            _die()

        return atomic_io._atomic_write(path, write_half, "wb")

    checkpointing.atomic_torch_save = save


if __name__ == "__main__":
    kind, _, number = os.environ.get("STARK_TEST_KILL", "").partition(":")
    if kind == "batch":
        _kill_at_batch(int(number))
    elif kind == "checkpoint":
        _kill_in_checkpoint_write(int(number))
    train_py = str(PROJECT_ROOT / "tracking" / "train.py")
    sys.argv = [train_py, *sys.argv[1:]]
    runpy.run_path(train_py, run_name="__main__")
