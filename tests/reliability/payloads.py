"""Hostile checkpoint files: pickles whose loading would run code (it writes a marker file)."""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import torch


def write_marker(path: str) -> str:
    """What a payload runs when unpickled by an unrestricted loader: leaves a file behind."""
    Path(path).write_text("payload ran")
    return "ran"


class Payload:
    """Unpickling this calls :func:`write_marker` (through ``__reduce__``) unless the unpickler refuses."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (write_marker, (self.marker,))


FORMATS = ("zip", "legacy")
POSITIONS = ("top_level", "inside_net", "other_key", "legacy_header")


def write_hostile_checkpoint(path: Path, state: dict, marker: Path, fmt: str, position: str) -> Path:
    """A checkpoint holding ``state`` under ``net`` with a payload at ``position``, in ``fmt``."""
    payload = Payload(marker)
    if position == "top_level":
        obj = payload
    elif position == "inside_net":
        obj = {"net": {**state, "extra": payload}, "net_type": "STARKS"}
    elif position == "other_key":
        obj = {"net": state, "net_type": "STARKS", "settings": payload}
    elif position == "legacy_header":
        obj = {"net": state, "net_type": "STARKS"}
    else:
        raise ValueError(position)
    buffer = io.BytesIO()
    torch.save(obj, buffer, _use_new_zipfile_serialization=fmt == "zip")
    data = buffer.getvalue()
    if position == "legacy_header":
        # torch's legacy format starts with a pickled magic number; put the payload in its place
        assert fmt == "legacy"
        # torch.save pickles the magic number with protocol 2: its bytes are known, no unpickling needed
        magic = pickle.dumps(torch.serialization.MAGIC_NUMBER, protocol=2)
        assert data.startswith(magic), "torch's legacy header changed"
        data = pickle.dumps(payload, protocol=2) + data[len(magic) :]
    path.write_bytes(data)
    return path


def hostile_cases() -> list[tuple[str, str]]:
    return [(f, p) for f in FORMATS for p in POSITIONS if not (p == "legacy_header" and f == "zip")]
