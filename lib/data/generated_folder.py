"""Where the synthetic generator may write: empty folders, or folders it wrote itself (a marker says so).

Generating over a real data set (``--out data/got10k`` where GOT-10k already is) must never replace a
single file: a non-empty target is refused unless it holds the generator's marker *and* the user passed
``--overwrite``; then the whole earlier generated set is replaced, so no stale sequence lingers.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

from lib.data.errors import DatasetError
from lib.utils.io import atomic_write_text

logger = logging.getLogger(__name__)

MARKER = ".stark_synthetic.json"


def claim_generated_folder(out: str | Path, overwrite: bool, description: dict[str, Any]) -> Path:
    """Make ``out`` an empty folder holding only the marker (with ``description``), or raise ``DatasetError``.

    The marker is written before any frame, so a generator killed half-way still owns its folder.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise DatasetError(f"{out}: exists and is not a folder; choose another --out")
    if out.is_dir() and any(out.iterdir()):
        if not (out / MARKER).is_file():
            raise DatasetError(
                f"{out}: not empty and not written by the synthetic generator (no {MARKER}); "
                "nothing was changed; choose another --out"
            )
        if not overwrite:
            raise DatasetError(
                f"{out}: holds an earlier generated data set; pass --overwrite to replace it or choose another --out"
            )
        shutil.rmtree(out)
        logger.warning("--overwrite: removed the earlier generated data set in %s", out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / MARKER, json.dumps(description, sort_keys=True) + "\n")
    return out


def require_generated_folder(out: str | Path) -> Path:
    """``out`` itself, when it holds the generator's marker (files may be added to it); else ``DatasetError``."""
    out = Path(out)
    if not (out / MARKER).is_file():
        raise DatasetError(f"{out}: not a data set written by the synthetic generator (no {MARKER}); nothing was changed")
    return out
