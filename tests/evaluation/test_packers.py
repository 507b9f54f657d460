"""Submission zips: GOT-10k per-sequence folders, TrackingNet flat files, completeness checks."""

import zipfile

import numpy as np
import pytest

from lib.config import load_local_settings
from lib.data.registry import load_test_sequences
from lib.evaluation import packers
from lib.evaluation.results_io import write_sequence_result


def _settings(**roots):
    return load_local_settings(None, [f"{key}={value}" for key, value in roots.items()])


def _got10k_root(tmp_path, frames):
    root = tmp_path / "got10k"
    (root / "test").mkdir(parents=True)
    (root / "test" / "list.txt").write_text("\n".join(frames) + "\n")
    for name, n in frames.items():
        (root / "test" / name).mkdir()
        (root / "test" / name / "groundtruth.txt").write_text("1,2,3,4\n")  # test split: first frame only
        for i in range(n):
            (root / "test" / name / f"{i + 1:08d}.jpg").write_bytes(b"")
    return root


def test_got10k_zip_layout(tmp_path):
    root = _got10k_root(tmp_path, {"GOT-10k_Test_000001": 3, "GOT-10k_Test_000002": 2})
    counts = packers.frame_counts(load_test_sequences("got10k_test", _settings(got10k_dir=root)))
    assert counts == {"GOT-10k_Test_000001": 3, "GOT-10k_Test_000002": 2}
    results = tmp_path / "res"
    for name, n in counts.items():
        write_sequence_result(results, name, np.full((n, 4), 1.5), times=[0.1] * n)
    out = packers.pack_got10k(results, counts, tmp_path / "sub.zip", integer=True)
    with zipfile.ZipFile(out) as z:
        # three runs per sequence (the server's protocol), identical for a deterministic tracker
        assert sorted(z.namelist()) == [
            f"GOT-10k_Test_00000{i}/GOT-10k_Test_00000{i}_{suffix}.txt"
            for i in (1, 2)
            for suffix in ("001", "002", "003", "time")
        ]
        for run in ("001", "002", "003"):
            assert z.read(f"GOT-10k_Test_000002/GOT-10k_Test_000002_{run}.txt").decode() == "1,1,1,1\n1,1,1,1\n"
        assert z.read("GOT-10k_Test_000002/GOT-10k_Test_000002_time.txt").decode().splitlines() == ["0.10000000"] * 2


def test_missing_and_short_sequences_are_named(tmp_path):
    counts = {"A": 3, "B": 2}
    write_sequence_result(tmp_path / "r", "A", np.ones((3, 4)), times=[0.1] * 3)
    with pytest.raises(packers.PackingError, match="sequence B: result file .* is missing"):
        packers.pack_trackingnet(tmp_path / "r", counts, tmp_path / "x.zip")
    write_sequence_result(tmp_path / "r", "B", np.ones((1, 4)), times=[0.1])
    with pytest.raises(
        packers.PackingError, match="sequence B: .*B.txt: malformed result file: 1 lines for a sequence of 2 frames"
    ):
        packers.pack_got10k(tmp_path / "r", counts, tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()


def test_trackingnet_flat_zip(tmp_path):
    root = tmp_path / "tn" / "TEST"
    (root / "anno").mkdir(parents=True)
    (root / "frames" / "vid_1").mkdir(parents=True)
    (root / "anno" / "vid_1.txt").write_text("1,2,3,4\n")
    for i in range(2):
        (root / "frames" / "vid_1" / f"{i}.jpg").write_bytes(b"")
    counts = packers.frame_counts(load_test_sequences("trackingnet", _settings(trackingnet_dir=tmp_path / "tn")))
    assert counts == {"vid_1": 2}
    write_sequence_result(tmp_path / "r", "vid_1", np.array([[1, 2, 3, 4], [0.5, 1, 2, 3]]), times=[0, 0])
    out = packers.pack_trackingnet(tmp_path / "r", counts, tmp_path / "tn.zip")
    with zipfile.ZipFile(out) as z:
        assert z.namelist() == ["vid_1.txt"]
        assert z.read("vid_1.txt").decode() == "1.0,2.0,3.0,4.0\n0.5,1.0,2.0,3.0\n"


def test_got10k_single_run_when_asked(tmp_path):
    write_sequence_result(tmp_path / "r", "A", np.ones((2, 4)), times=[0.1] * 2)
    out = packers.pack_got10k(tmp_path / "r", {"A": 2}, tmp_path / "one.zip", repetitions=1)
    with zipfile.ZipFile(out) as z:
        assert sorted(z.namelist()) == ["A/A_001.txt", "A/A_time.txt"]
    with pytest.raises(packers.PackingError, match="repetitions must be at least 1"):
        packers.pack_got10k(tmp_path / "r", {"A": 2}, tmp_path / "none.zip", repetitions=0)
