"""Atomic file writes: a crash or a full disk never leaves a half-written result or checkpoint.

A write goes to ``.<name>.<pid>.stark-<random>.tmp`` beside the target, then is renamed over it. A
process killed mid-write (``kill -9``, power loss) leaves that temp file behind;
:func:`remove_stale_temp_files` deletes the ones whose writing process is gone.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable

logger = logging.getLogger(__name__)

_TEMP_NAME = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.stark-[^.]+\.tmp$")


class WriteError(OSError):
    """An output file could not be written (disk full, no permission); the message names the file."""

    def __str__(self) -> str:
        return str(self.strerror)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's live process
    return True


def remove_stale_temp_files(folder: Path) -> list[Path]:
    """Delete the temp files of atomic writes in ``folder`` whose writing process no longer exists.

    Returns the removed paths (each is logged). Temp files of live processes are left alone.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for path in sorted(folder.iterdir()):
        match = _TEMP_NAME.match(path.name)
        if match and path.is_file() and not _process_alive(int(match.group("pid"))):
            path.unlink(missing_ok=True)
            logger.warning("removed stale temporary file %s (a write killed before it finished)", path)
            removed.append(path)
    return removed


def _atomic_write(path: Path, write: Callable[[Any], None], mode: str) -> None:
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.stark-", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise WriteError(exc.errno, f"{path}: cannot write ({exc.strerror or exc})") from None
    # mkstemp creates 0600 files; give the result the permissions an ordinary open() would
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)
    try:
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise WriteError(
            exc.errno, f"{path}: cannot write ({exc.strerror or exc}); the previous file is unchanged"
        ) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename."""
    _atomic_write(path, lambda handle: handle.write(text), "w")


def atomic_write_bytes(path: Path, data: bytes) -> None:
    _atomic_write(path, lambda handle: handle.write(data), "wb")


def atomic_write_stream(path: Path, write: Callable[[Any], None]) -> None:
    """Call ``write(binary_handle)`` on a temporary file in the same folder, then rename it to ``path``."""
    _atomic_write(path, write, "wb")


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` through a temporary file and a rename.

    The object is serialised in memory first, so a full disk surfaces as an ``OSError`` of the file
    write (a :class:`WriteError` naming ``path``), not as an error deep inside torch's zip writer.
    """
    import io

    import torch

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getbuffer())
