"""Training checkpoints: official file names and ``net`` layout, atomic writes, retention, safe loading.

File: ``<run_dir>/<NetType>_ep%04d.pth.tar`` (NetType ``STARKS`` or ``STARKST``), a dict of plain
containers, primitives and tensors only, so ``torch.load(path, weights_only=True)`` reads it:

``net`` (model state_dict, official keys, no ``module.`` prefix), ``net_type``, ``epoch``, ``optimizer``,
``scheduler``, ``scaler`` (None without fp16), ``rng`` (python / numpy / torch / cuda states),
``config`` (the resolved config as a dict), ``code_version`` (``lib.__version__`` and git commit),
``criterion`` (counters such as the official GIoU fallback count).

Retention: after every save, checkpoints outside the last ``keep_last`` epochs that are not a multiple
of ``keep_every`` are deleted.
"""

from __future__ import annotations

import logging
import random
import re
import subprocess
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch

import lib
from lib.models.checkpoint import read_checkpoint
from lib.models.errors import CheckpointError
from lib.train.errors import TrainSetupError
from lib.utils.io import atomic_torch_save

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^(?P<net>[A-Za-z0-9]+)_ep(?P<epoch>\d+)\.pth\.tar$")


def checkpoint_name(net_type: str, epoch: int) -> str:
    return f"{net_type}_ep{epoch:04d}.pth.tar"


def list_checkpoints(directory: Path) -> list[tuple[int, Path]]:
    """``[(epoch, path)]`` of every ``*_ep*.pth.tar`` in ``directory``, sorted by epoch."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = _NAME.match(path.name)
        if match:
            found.append((int(match.group("epoch")), path))
    return sorted(found)


def latest_checkpoint(directory: Path) -> Optional[Path]:
    """The checkpoint with the highest epoch in ``directory``, or None."""
    found = list_checkpoints(directory)
    return found[-1][1] if found else None


def code_version() -> dict[str, str]:
    """``{"version": lib.__version__, "git_commit": sha or ""}``."""
    commit = ""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(lib.__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if result.returncode == 0:
            commit = result.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {"version": lib.__version__, "git_commit": commit}


def rng_state() -> dict[str, Any]:
    """Every RNG state as tensors and plain containers (no numpy objects, for ``weights_only``)."""
    version, internal, gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": [version, list(internal), gauss],
        "numpy": [np_name, torch.from_numpy(np_keys.astype(np.int64)), int(np_pos), int(np_has_gauss), float(np_gauss)],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Inverse of ``rng_state``."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = state["numpy"]
    np.random.set_state((np_name, np_keys.numpy().astype(np.uint32), np_pos, np_has_gauss, np_gauss))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


class CheckpointManager:
    """Writes, prunes and finds the checkpoints of one run folder.

    Args:
        directory: ``<save_dir>/checkpoints/train/<script>/<config>``.
        net_type: ``STARKS`` / ``STARKST``.
        keep_last: always keep the most recent ``keep_last`` epochs (>= 1).
        keep_every: also keep epochs divisible by this (0 disables).
    """

    def __init__(self, directory: Path, net_type: str, keep_last: int = 3, keep_every: int = 100) -> None:
        self.directory = Path(directory)
        self.net_type = net_type
        self.keep_last = max(1, keep_last)
        self.keep_every = keep_every

    def path_for(self, epoch: int) -> Path:
        return self.directory / checkpoint_name(self.net_type, epoch)

    def save(self, epoch: int, state: dict[str, Any]) -> Path:
        """Write ``state`` (tensors moved to CPU) atomically for ``epoch`` and prune old files."""
        path = self.path_for(epoch)
        atomic_torch_save(_to_cpu(state), path)
        self.prune()
        return path

    def prune(self) -> None:
        found = list_checkpoints(self.directory)
        recent = {epoch for epoch, _ in found[-self.keep_last :]}
        for epoch, path in found:
            if epoch in recent or (self.keep_every > 0 and epoch % self.keep_every == 0):
                continue
            path.unlink(missing_ok=True)
            logger.debug("removed old checkpoint %s", path)

    def latest(self) -> Optional[Path]:
        return latest_checkpoint(self.directory)


def load_training_state(path: Path) -> dict[str, Any]:
    """Read one of this project's checkpoints through the one checkpoint reader (tensors mapped to CPU)."""
    try:
        state = read_checkpoint(path)
    except CheckpointError as err:
        raise TrainSetupError(str(err)) from None
    if not isinstance(state, dict) or "net" not in state or "epoch" not in state:
        raise TrainSetupError(f"{path}: not a training checkpoint of this project (no 'net'/'epoch' entries)")
    return state


def newest_readable_checkpoint(directory: Path) -> Optional[tuple[Path, dict[str, Any]]]:
    """``(path, state)`` of the highest-epoch checkpoint in ``directory`` that reads, or None when there is none.

    An unreadable newer file (truncated, emptied) is skipped with a warning naming it; when every file
    is unreadable, ``TrainSetupError`` lists the newest one.
    """
    found = list_checkpoints(directory)
    first_error = None
    for _, path in reversed(found):
        try:
            state = load_training_state(path)
        except TrainSetupError as err:
            logger.warning("--resume: %s; falling back to the previous checkpoint", err)
            first_error = first_error or err
            continue
        if first_error is not None:
            logger.warning("--resume: resuming from %s, the newest readable checkpoint", path)
        return path, state
    if first_error is not None:
        raise TrainSetupError(f"--resume: no readable checkpoint in {directory} (newest: {first_error})")
    return None


def claim_run_folder(directory: Path, overwrite: bool, delete: bool = True) -> None:
    """Refuse to start a fresh run where an earlier run's checkpoints are (unless ``overwrite``: delete them).

    ``delete``: False on ranks other than 0, which only check.

    Without this, the new run's checkpoints would be pruned against the old run's higher epochs and
    ``config.yaml`` replaced, leaving old checkpoints beside a config that does not describe them.
    """
    found = list_checkpoints(directory)
    if not found:
        return
    if not overwrite:
        raise TrainSetupError(
            f"{directory} already holds checkpoints of an earlier run (latest {found[-1][1].name}): continue it "
            "with --resume, train elsewhere with --save_dir, or delete them and start over with --overwrite"
        )
    if not delete:
        return
    for _, path in found:
        path.unlink(missing_ok=True)
    logger.warning("--overwrite: deleted %d checkpoint(s) of the earlier run in %s", len(found), directory)
