"""Build an lmdb database from a dataset folder: keys are paths relative to the root (the official
``*_lmdb`` key layout, e.g. ``train/GOT-10k_Train_000001/00000001.jpg``), values the file bytes.

Resumable: keys already in the database are skipped, and writes are committed in chunks, so an
interrupted build continues where it stopped. (The official code only reads such databases; no
tracking code base ships a builder.) TrackingNet goes into one database with ``TRAIN_k/...`` keys
instead of the official one database per chunk.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Iterator, Union

from lib.data.errors import DatasetError

logger = logging.getLogger(__name__)

# what must exist under the root for each dataset (checked before anything is written)
LAYOUT_MARKERS = {
    "got10k": ("train/list.txt", "val/list.txt", "test/list.txt"),
    "lasot": None,  # any <class>/<class>-<id>/groundtruth.txt
    "trackingnet": None,  # any TRAIN_*/anno or TEST/anno
    "coco": ("annotations/instances_train2017.json",),
}


def iter_keys(root: Union[str, Path]) -> Iterator[str]:
    """Relative paths (forward slashes) of every regular, non-hidden file under ``root``, sorted."""
    root = str(root)
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel = os.path.relpath(folder, root)
        for name in sorted(files):
            if not name.startswith("."):
                yield name if rel == "." else f"{rel.replace(os.sep, '/')}/{name}"


def check_layout(root: Path, dataset: str) -> None:
    """One-line :class:`DatasetError` when ``root`` does not look like ``dataset``."""
    if dataset not in LAYOUT_MARKERS:
        raise DatasetError(f"unknown dataset '{dataset}'; valid: {', '.join(LAYOUT_MARKERS)}")
    if not root.is_dir():
        raise DatasetError(f"dataset root {root} does not exist")
    markers = LAYOUT_MARKERS[dataset]
    if markers is not None:
        ok = any((root / m).is_file() for m in markers)
    elif dataset == "lasot":
        ok = any((c / f"{c.name}-{i}").is_dir() for c in root.iterdir() if c.is_dir() for i in range(1, 30))
    else:
        ok = any((c / "anno").is_dir() for c in root.iterdir() if c.name.startswith(("TRAIN_", "TEST")))
    if not ok:
        from lib.config.local import EXPECTED_LAYOUTS

        raise DatasetError(
            f"{root} does not look like {dataset}; expected layout: {EXPECTED_LAYOUTS[f'{dataset}_dir']}"
        )


def build_lmdb(
    root: Union[str, Path], out: Union[str, Path], dataset: str, chunk_size: int = 1000, progress: bool = True
) -> dict[str, int]:
    """Copy every file under ``root`` into the lmdb environment ``out``; returns counts ``written``/``skipped``."""
    import lmdb
    from tqdm import tqdm

    root, out = Path(root), Path(out)
    check_layout(root, dataset)
    keys = list(iter_keys(root))
    total_bytes = sum((root / k).stat().st_size for k in keys)
    out.mkdir(parents=True, exist_ok=True)
    # the map is a sparse file: reserve generously (keys, pages, a resumed build's existing data)
    existing = sum(p.stat().st_size for p in out.glob("*.mdb"))
    map_size = int(max(total_bytes * 2 + (64 << 20), existing + total_bytes * 2))
    env = lmdb.open(str(out), map_size=map_size, subdir=True, readahead=False, meminit=False)
    written = skipped = 0
    try:
        bar = tqdm(keys, desc=f"lmdb {dataset}", unit="file", disable=not progress)
        txn = env.begin(write=True)
        pending = 0
        for key in bar:
            encoded = key.encode("utf-8")
            if txn.get(encoded) is not None:
                skipped += 1
                continue
            txn.put(encoded, (root / key).read_bytes())
            written += 1
            pending += 1
            if pending >= chunk_size:
                txn.commit()
                txn = env.begin(write=True)
                pending = 0
        txn.commit()
    finally:
        env.sync()
        env.close()
    logger.info("%s -> %s: %d files written, %d already present", root, out, written, skipped)
    return {"written": written, "skipped": skipped, "total": len(keys)}
