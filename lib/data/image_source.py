"""Where a dataset's files come from: a folder or an lmdb database, behind one small interface.

Keys are paths relative to the dataset root with forward slashes (``train/GOT-10k_Train_000001/00000001.jpg``),
exactly the keys of the official ``*_lmdb`` databases, so a dataset class never knows which source it reads.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Optional, Union

import cv2
import numpy as np

from lib.data.errors import DatasetError, FrameReadError

logger = logging.getLogger(__name__)

# decode straight to RGB where OpenCV offers it (saves a full-frame conversion), else BGR + cvtColor
_DECODE_FLAG = getattr(cv2, "IMREAD_COLOR_RGB", cv2.IMREAD_COLOR)


def decode_image(data: bytes, key: str) -> np.ndarray:
    """JPEG/PNG bytes -> (H, W, 3) uint8 RGB; :class:`FrameReadError` naming ``key`` when undecodable."""
    array = np.frombuffer(data, dtype=np.uint8)
    image = cv2.imdecode(array, _DECODE_FLAG) if array.size else None
    if image is None:
        raise FrameReadError(f"{key}: cannot decode image ({len(data)} bytes)")
    # (H, W) grayscale files still come back as 3 channels (IMREAD_COLOR*)
    return image if _DECODE_FLAG != cv2.IMREAD_COLOR else cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class ImageSource:
    """Interface shared by :class:`FolderSource` and :class:`LmdbSource`."""

    root: str

    def read_bytes(self, key: str) -> bytes:
        raise NotImplementedError

    def exists(self, key: str) -> bool:
        raise NotImplementedError

    def list(self, prefix: str = "") -> list[str]:
        """Names (not full keys) of the direct children of the folder ``prefix``, sorted."""
        raise NotImplementedError

    def describe(self, key: str) -> str:
        """A human-readable location of ``key`` for error messages."""
        return f"{self.root}/{key}" if key else self.root

    def stat(self, key: str) -> Optional[tuple[int, int]]:
        """``(size, mtime_ns)`` of the file ``key`` (what the index cache is keyed by); None if absent."""
        try:
            return len(self.read_bytes(key)), 0
        except FileNotFoundError:
            return None

    def read_text(self, key: str) -> str:
        return self.read_bytes(key).decode("utf-8")

    def read_image(self, key: str) -> np.ndarray:
        """(H, W, 3) uint8 RGB frame."""
        try:
            data = self.read_bytes(key)
        except FileNotFoundError as exc:
            raise FrameReadError(f"{self.describe(key)}: frame missing") from exc
        return decode_image(data, self.describe(key))


class FolderSource(ImageSource):
    """Files under a folder on disk."""

    def __init__(self, root: Union[str, Path]):
        self.root = str(root)
        if not Path(self.root).is_dir():
            raise DatasetError(f"dataset root {self.root} does not exist or is not a folder")

    def _path(self, key: str) -> str:
        return os.path.join(self.root, key) if key else self.root

    def read_bytes(self, key: str) -> bytes:
        # os-level calls: a Python file object's layers cost more than the read itself for one frame
        path = self._path(key)
        try:
            handle = os.open(path, os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise FileNotFoundError(path) from exc
        try:
            size = os.fstat(handle).st_size
            data = os.read(handle, size + 1)  # a regular file in one call: a short read is its end
            if len(data) > size:  # grown since, or a file without a size (st_size 0)
                chunks = [data]
                while chunks[-1]:
                    chunks.append(os.read(handle, 1 << 20))
                data = b"".join(chunks)
        except IsADirectoryError as exc:
            raise FileNotFoundError(path) from exc
        finally:
            os.close(handle)
        return data

    def exists(self, key: str) -> bool:
        return os.path.exists(self._path(key))

    def stat(self, key: str) -> Optional[tuple[int, int]]:
        try:
            info = os.stat(self._path(key))
        except (FileNotFoundError, NotADirectoryError):
            return None
        return info.st_size, info.st_mtime_ns

    def list(self, prefix: str = "") -> list[str]:
        path = self._path(prefix)
        if not os.path.isdir(path):
            return []
        return sorted(os.listdir(path))


# lmdb allows one open handle per environment and process: share them
_ENVIRONMENTS: dict[tuple[str, int], object] = {}


class LmdbSource(ImageSource):
    """Values of an lmdb environment whose keys are relative paths (``scripts/build_lmdb.py`` writes them).

    The environment is opened lazily, once per process (so the object can be handed to DataLoader
    workers after a fork).
    """

    def __init__(self, path: Union[str, Path]):
        self.root = str(path)
        if not Path(self.root).exists():
            raise DatasetError(
                f"lmdb database {self.root} does not exist; build it with scripts/build_lmdb.py --dataset NAME --root DIR --out {self.root}"
            )

    def _environment(self):
        import lmdb

        path, pid = os.path.realpath(self.root), os.getpid()
        env = _ENVIRONMENTS.get((path, pid))
        if env is None:
            # a handle inherited through fork (DataLoader workers) must not be used here; py-lmdb also
            # refuses a second open of the same path until the inherited one is closed
            for key in [k for k in _ENVIRONMENTS if k[0] == path]:
                _ENVIRONMENTS.pop(key).close()
            env = lmdb.open(self.root, readonly=True, lock=False, readahead=False, meminit=False, max_readers=256)
            _ENVIRONMENTS[(path, pid)] = env
        return env

    def describe(self, key: str) -> str:
        return f"{self.root}[{key}]"

    def read_bytes(self, key: str) -> bytes:
        with self._environment().begin(write=False, buffers=False) as txn:
            value = txn.get(key.encode("utf-8"))
        if value is None:
            raise FileNotFoundError(self.describe(key))
        return value

    def stat(self, key: str) -> Optional[tuple[int, int]]:
        # values do not carry times: the database file's mtime stands for all of them
        with self._environment().begin(write=False, buffers=True) as txn:
            value = txn.get(key.encode("utf-8"))
            size = None if value is None else len(value)
        return None if size is None else (size, os.stat(os.path.join(self.root, "data.mdb")).st_mtime_ns)

    def exists(self, key: str) -> bool:
        with self._environment().begin(write=False) as txn:
            if txn.get(key.encode("utf-8")) is not None:
                return True
        return bool(self.list(key))

    def list(self, prefix: str = "") -> list[str]:
        start = prefix.rstrip("/") + "/" if prefix else ""
        names: list[str] = []
        with self._environment().begin(write=False) as txn:
            cursor = txn.cursor()
            found = cursor.set_range(start.encode("utf-8"))
            while found:
                key = cursor.key().decode("utf-8")
                if not key.startswith(start):
                    break
                child = key[len(start) :].split("/", 1)[0]
                names.append(child)
                # jump past every key under start/child/: '0' is the character after '/'
                found = (
                    cursor.set_range((start + child + "0").encode("utf-8"))
                    if "/" in key[len(start) :]
                    else cursor.next()
                )
        return sorted(set(names))


def make_source(root: Union[str, Path], use_lmdb: bool = False) -> ImageSource:
    """A :class:`LmdbSource` when ``use_lmdb`` else a :class:`FolderSource`."""
    return LmdbSource(root) if use_lmdb else FolderSource(root)
