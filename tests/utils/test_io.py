import os
import stat
from pathlib import Path

import pytest

from lib.utils.io import atomic_write_text


def test_atomic_write_leaves_no_temp_file_and_ordinary_permissions(tmp_path: Path):
    target = tmp_path / "sub" / "result.txt"
    atomic_write_text(target, "1 2 3 4\n")
    assert target.read_text() == "1 2 3 4\n"
    assert [p.name for p in target.parent.iterdir()] == ["result.txt"]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~umask


def test_a_failed_write_keeps_the_previous_file(tmp_path: Path):
    target = tmp_path / "result.txt"
    atomic_write_text(target, "old\n")

    with pytest.raises(TypeError):
        atomic_write_text(target, 12345)  # not text: the write fails half-way
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["result.txt"]
