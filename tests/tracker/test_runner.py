"""Benchmark runner: result files, resume (skip finished), failing sequences reported with exit code 1."""

import runpy
import subprocess
import sys

import cv2
import numpy as np
import pytest

from lib.config.loader import PROJECT_ROOT
from lib.evaluation.results_io import read_boxes, read_times
from lib.models.checkpoint import save_official_checkpoint
from lib.tracker.folder_sequence import folder_sequence
from lib.tracker.names import default_checkpoint, load_test_config
from lib.tracker.runner import RunOptions, run_benchmark
from tests.stderr_lines import problem_lines
from tests.tracker.conftest import TINY, build_tiny


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("runner")
    _, model = build_tiny("stark_s")
    checkpoint = root / "STARKS_ep0500.pth.tar"
    save_official_checkpoint(model, checkpoint)
    rng = np.random.default_rng(0)
    for name in ("good", "broken"):
        folder = root / "frames" / name
        folder.mkdir(parents=True)
        for i in range(4):
            frame = rng.integers(0, 255, size=(72, 96, 3), dtype=np.uint8)
            cv2.imwrite(str(folder / f"{i + 1:08d}.jpg"), frame)
    (root / "frames" / "broken" / "00000003.jpg").write_bytes(b"not a jpeg")
    return root, checkpoint


def _options(root, checkpoint):
    cfg = load_test_config("stark_s", "baseline", TINY)
    return RunOptions("stark_s", "baseline", "folder", str(checkpoint), str(root / "results"), cfg)


def test_default_checkpoint_naming(tmp_path):
    assert default_checkpoint(tmp_path, "stark_st", "baseline", 50) == (
        tmp_path / "checkpoints/train/stark_st2/baseline/STARKST_ep0050.pth.tar"
    )
    assert default_checkpoint(tmp_path, "stark_s", "b", 500).name == "STARKS_ep0500.pth.tar"


def test_run_resume_and_failure(setup):
    root, checkpoint = setup
    seqs = [folder_sequence(root / "frames" / n, [30, 20, 24, 20]) for n in ("good", "broken")]
    options = _options(root, checkpoint)
    outcomes = {o.name: o for o in run_benchmark(options, seqs, threads=0, progress=False)}
    assert outcomes["good"].status == "done"
    assert outcomes["broken"].status == "failed" and "00000003.jpg" in outcomes["broken"].error
    boxes = read_boxes(options.output_folder / "good.txt")
    assert boxes.shape == (4, 4) and boxes[0].tolist() == [30, 20, 24, 20]
    assert read_times(options.output_folder / "good_time.txt").shape == (4,)
    assert not (options.output_folder / "broken.txt").exists()
    stamp = (options.output_folder / "good.txt").stat().st_mtime_ns
    again = {o.name: o.status for o in run_benchmark(options, seqs, threads=0, progress=False)}
    assert again == {"good": "skipped", "broken": "failed"}
    assert (options.output_folder / "good.txt").stat().st_mtime_ns == stamp


def test_cli_worker_process_failure_exit_code(setup, tmp_path):
    root, checkpoint = setup
    cmd = [sys.executable, str(PROJECT_ROOT / "tracking" / "test.py"), "stark_s", "baseline", "--dataset", "folder",
           "--folder", str(root / "frames" / "broken"), "--init_box", "30", "20", "24", "20",
           "--checkpoint", str(checkpoint), "--save_dir", str(tmp_path), "--threads", "1", "--int_results",
           "--opts", *TINY]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 1
    assert "FAILED broken:" in proc.stderr and "00000003.jpg" in proc.stderr


def test_cli_missing_checkpoint_one_line_error(setup, tmp_path, monkeypatch, capsys):
    entry = runpy.run_path(str(PROJECT_ROOT / "tracking" / "test.py"), run_name="tracking_test")

    root, _ = setup
    argv = ["test.py", "stark_s", "baseline", "--dataset", "folder", "--folder", str(root / "frames" / "good"),
            "--checkpoint", str(tmp_path / "none.pth.tar"), "--save_dir", str(tmp_path), "--opts", *TINY]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    assert entry["main"]() == 2
    err = problem_lines(capsys.readouterr().err)
    assert len(err) == 1 and "none.pth.tar not found" in err[0]
