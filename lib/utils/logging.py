"""Logging set-up for entry points: one call, rank-aware (only rank 0 logs below WARNING)."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: int = logging.INFO, rank: int = 0, log_file: Optional[Path] = None) -> None:
    """Configure the root logger once. Non-zero ranks only report warnings and errors."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    effective = level if rank == 0 else max(level, logging.WARNING)
    root.setLevel(effective)
    fmt = _FORMAT if rank == 0 else f"[rank {rank}] {_FORMAT}"
    stream = logging.StreamHandler(sys.stderr)
    stream.setFormatter(logging.Formatter(fmt, datefmt="%H:%M:%S"))
    root.addHandler(stream)
    if log_file is not None and rank == 0:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        file_handler = logging.FileHandler(log_file)
        file_handler.setFormatter(logging.Formatter(fmt))
        root.addHandler(file_handler)
