"""On-disk cache of a dataset's compact index: parse the annotations once, memory-map them afterwards.

One file per dataset and identity (reader, root, split), in the cache folder of ``stark_local.yaml``
(``index_cache_dir``, default ``<save_dir>/checkpoints/index_cache``). Layout: ``STARKIDX``, a little-endian
uint64 header length, a JSON header (``key``, ``meta``, every array's dtype/shape/offset, the file size),
then the arrays at 64-byte aligned offsets. Loading maps the file read-only, so every process (ranks and
their forked DataLoader workers) shares the same page-cache pages and nothing is copied on read.

The key is what the index was built from: format and project version, identity, and a digest of every
annotation file's key, size and mtime. A missing file is built; a stale, truncated or foreign one is
logged in one line and rebuilt, never used. Builders take an exclusive lock beside the file, so of the
ranks of one run (or two runs) the first builds and the others wait and then load its file; the file is
written atomically (temporary file + rename), so a reader never sees half of it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import mmap
import os
import struct
import time
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterator, Optional, Sequence

import numpy as np

from lib.data.index import SequenceIndex
from lib.utils.io import atomic_write_stream
from lib.utils.memory import return_freed_heap

logger = logging.getLogger(__name__)

MAGIC = b"STARKIDX"
# bump when the parsing or visibility rules change what an index holds
FORMAT_VERSION = 1
_ALIGN = 64


def project_version() -> str:
    try:
        return metadata.version("stark-tracker")
    except metadata.PackageNotFoundError:
        return "unknown"


def files_digest(stats: Sequence[tuple[str, Optional[tuple[int, int]]]]) -> str:
    """sha256 of ``key size mtime_ns`` per annotation file (``-`` for an absent optional one)."""
    digest = hashlib.sha256()
    for key, stat in stats:
        digest.update(f"{key}\t{'-' if stat is None else f'{stat[0]}:{stat[1]}'}\n".encode())
    return digest.hexdigest()


def cache_key(identity: dict, stats: Sequence[tuple[str, Optional[tuple[int, int]]]]) -> dict:
    """What a cached index must match: format and project version, identity, annotation files."""
    return {
        "format": FORMAT_VERSION,
        "project": project_version(),
        "identity": identity,
        "files": files_digest(stats),
        "file_count": len(stats),
    }


def cache_path(folder: Path, name: str, identity: dict) -> Path:
    tag = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]
    return Path(folder) / f"{name}-{tag}.idx"


class StaleCache(Exception):
    """A cache file that must not be used; the message says why (one line)."""


def _mismatch(found: dict, key: dict) -> Optional[str]:
    if found.get("format") != key["format"] or found.get("project") != key["project"]:
        return (
            f"written by format {found.get('format')} / project {found.get('project')}, "
            f"this is format {key['format']} / project {key['project']}"
        )
    if found.get("identity") != key["identity"]:
        return f"built for {found.get('identity')}, not {key['identity']}"
    if found.get("files") != key["files"] or found.get("file_count") != key["file_count"]:
        return "stale: the annotation files changed since it was built"
    return None


def read_index_file(path: Path, key: dict) -> SequenceIndex:
    """The index in ``path``, memory-mapped; :class:`StaleCache` when absent, truncated, foreign or stale."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise StaleCache("absent") from None
    with handle:
        size = os.fstat(handle.fileno()).st_size
        prefix = handle.read(16)
        if len(prefix) < 16 or prefix[:8] != MAGIC:
            raise StaleCache("not an index cache file")
        (header_len,) = struct.unpack("<Q", prefix[8:])
        try:
            header = json.loads(handle.read(header_len).decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise StaleCache("unreadable header (truncated?)") from None
        if header.get("size") != size:
            raise StaleCache(f"truncated: {size} of {header.get('size')} bytes")
        reason = _mismatch(header.get("key", {}), key)
        if reason:
            raise StaleCache(reason)
        mapped = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
    base = _data_start(header_len)
    arrays = {}
    for name, spec in header["arrays"].items():
        count = int(np.prod(spec["shape"], dtype=np.int64))
        array = np.frombuffer(mapped, dtype=np.dtype(spec["dtype"]), count=count, offset=base + spec["offset"])
        arrays[name] = array.reshape(spec["shape"])
    return SequenceIndex(arrays, header["meta"])


def _data_start(header_len: int) -> int:
    return -(-(16 + header_len) // _ALIGN) * _ALIGN


def write_index_file(path: Path, key: dict, parts: list[SequenceIndex]) -> None:
    """Write the concatenation of ``parts`` with ``key`` atomically (see the module docstring)."""
    specs = {}
    for name, pieces in SequenceIndex.joined_pieces(parts).items():
        dtype = np.result_type(*pieces)  # names: the widest of the parts' fixed-width bytes
        specs[name] = (dtype, (sum(len(p) for p in pieces), *pieces[0].shape[1:]), pieces)
    layout, offset = {}, 0
    for name, (dtype, shape, _) in specs.items():
        layout[name] = {"dtype": dtype.str, "shape": list(shape), "offset": offset}
        offset = -(-(offset + dtype.itemsize * int(np.prod(shape, dtype=np.int64))) // _ALIGN) * _ALIGN
    header = {"key": key, "meta": SequenceIndex.joined_meta(parts), "arrays": layout, "size": 0}
    # the size field's digits change the header length: fix the length first, then fill the size in
    header_len = len(json.dumps(header).encode()) + 32
    header["size"] = _data_start(header_len) + offset
    encoded = json.dumps(header).encode().ljust(header_len)

    def write(handle) -> None:
        handle.write(MAGIC + struct.pack("<Q", header_len) + encoded)
        handle.write(b"\0" * (_data_start(header_len) - 16 - header_len))
        for dtype, _, pieces in specs.values():
            written = 0
            for piece in pieces:
                data = np.ascontiguousarray(piece, dtype=dtype)
                handle.write(data.reshape(-1).view(np.uint8))
                written += data.nbytes
            handle.write(b"\0" * (-written % _ALIGN))

    atomic_write_stream(path, write)


@contextlib.contextmanager
def _exclusive(path: Path) -> Iterator[None]:
    """An exclusive lock on ``<path>.lock`` (held by one builder at a time, released on exit or crash)."""
    with open(f"{path}.lock", "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def load_or_build(
    folder: Optional[Path], name: str, identity: dict, key: dict, build: Callable[[], list[SequenceIndex]]
) -> tuple[SequenceIndex, str]:
    """The cached index of ``name`` when it matches ``key``; else ``build()`` it, cache it, and map it back.

    Returns the index and where it came from (one phrase, for logs and ``tracking/check_datasets.py``).
    ``folder`` None turns caching off (the built index stays in memory); a folder that cannot be written
    is logged and the index is used from memory.
    """
    if folder is None:
        return SequenceIndex.concat(build()), "built (no index cache)"
    path = cache_path(folder, name, identity)
    try:
        return _loaded(path, key, name), f"loaded from the index cache {path}"
    except StaleCache as exc:
        reason = str(exc)
        if reason != "absent":
            logger.warning("%s: index cache %s is not used (%s); rebuilding", name, path, reason)
    parts = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with _exclusive(path):
            with contextlib.suppress(StaleCache):
                # another rank or run built it while this one waited for the lock
                return _loaded(path, key, name), f"loaded from the index cache {path} (built by another process)"
            start = time.perf_counter()
            parts = build()
            write_index_file(path, key, parts)
            logger.info("%s: index built in %.1f s and cached at %s", name, time.perf_counter() - start, path)
    except OSError as exc:
        logger.warning("%s: cannot write the index cache in %s (%s); using the index from memory", name, folder, exc)
        return SequenceIndex.concat(parts if parts is not None else build()), f"built (index cache not writable: {exc})"
    # from here on the mapped file serves the index (shared by every process), so the parsed arrays go, and
    # the heap they and the parsing used goes back to the system instead of staying with this rank
    parts = None
    return_freed_heap()
    origin = "built" if reason == "absent" else f"rebuilt ({reason})"
    return _loaded(path, key, name), f"{origin} and cached at {path}"


def _loaded(path: Path, key: dict, name: str) -> SequenceIndex:
    start = time.perf_counter()
    index = read_index_file(path, key)
    logger.debug("%s: index loaded from %s in %.3f s", name, path, time.perf_counter() - start)
    return index
