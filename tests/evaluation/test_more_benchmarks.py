"""tracking/test.py and tracking/analysis_results.py on the new test sets (generated copies)."""

import runpy
import sys

import numpy as np
import pytest

from lib.config.loader import PROJECT_ROOT
from lib.data.sequence import TestSequence
from lib.data.synthetic_layouts import generate_test_set
from lib.evaluation.analysis import TrackerRun, analyse
from lib.evaluation.results_io import read_boxes, results_folder, write_sequence_result
from lib.models.checkpoint import save_official_checkpoint
from tests.tracker.conftest import TINY, build_tiny


def _main(script, argv, monkeypatch):
    entry = runpy.run_path(str(PROJECT_ROOT / "tracking" / script), run_name=script[:-3])
    monkeypatch.setattr(sys, "argv", [script, *argv])
    return entry["main"]()


def test_test_py_runs_a_new_benchmark(tmp_path, monkeypatch, capsys):
    generate_test_set("nfs", tmp_path / "nfs", 2, 6, seed=1, width=96, height=72)
    _, model = build_tiny("stark_s")
    save_official_checkpoint(model, tmp_path / "STARKS_ep0500.pth.tar")
    argv = ["stark_s", "baseline", "--dataset", "nfs_all", "--sequence", "synth_2", "--checkpoint",
            str(tmp_path / "STARKS_ep0500.pth.tar"), "--opts", *TINY, f"nfs_dir={tmp_path / 'nfs'}",
            f"save_dir={tmp_path}"]  # fmt: skip
    assert _main("test.py", argv, monkeypatch) == 0
    folder = results_folder(tmp_path / "test" / "tracking_results", "stark_s", "baseline", "nfs_all")
    boxes = read_boxes(folder / "synth_2.txt")
    first = (tmp_path / "nfs" / "anno" / "nfs_synth_2.txt").read_text().splitlines()[0].split("\t")
    assert boxes.shape == (6, 4) and boxes[0].tolist() == [float(v) for v in first]
    assert "1 tracked" in capsys.readouterr().out


def test_uav123_nan_rows_follow_pytracking_uav_rule(tmp_path, monkeypatch, capsys):
    """A perfect tracker on 12 frames with one NaN (absent) row: IoU -1 there (a failure), centre error -1 there
    (a precision success, pytracking's 'uav' branch). AUC = (20 thresholds x 11/12 + 0 at threshold 1) / 21."""
    root = tmp_path / "uav"
    generate_test_set("uav123", root, 1, 12, seed=2, width=96, height=72)
    anno = root / "anno" / "UAV123" / "synth1.txt"
    lines = anno.read_text().splitlines()
    gt = np.array([[float(v) for v in line.split(",")] for line in lines])
    lines[6] = "NaN,NaN,NaN,NaN"
    anno.write_text("\n".join(lines) + "\n")
    folder = results_folder(tmp_path / "test" / "tracking_results", "perfect", "baseline", "uav123_all")
    write_sequence_result(folder, "synth1", gt, [0.01] * 12)
    argv = ["--tracker", "perfect", "--dataset", "uav123_all", "--opts", f"uav_dir={root}", f"save_dir={tmp_path}"]
    assert _main("analysis_results.py", argv, monkeypatch) == 0
    row = [line for line in capsys.readouterr().out.splitlines() if line.startswith("perfect_baseline")][0].split()
    assert float(row[1]) == pytest.approx(20 * 11 / 12 / 21 * 100, abs=0.006)  # AUC 87.30
    assert float(row[4]) == pytest.approx(100.0)  # precision @20 px: the NaN frame counts as a success


def test_trackingnet_table_reports_the_devkit_coverage(tmp_path):
    gt = np.full((3, 4), 10.0)
    seqs = [TestSequence(n, "trackingnet", ["0.jpg", "1.jpg", "2.jpg"], gt, source=None) for n in ("a", "b")]
    folder = results_folder(tmp_path, "t", "base", "trackingnet")
    write_sequence_result(folder, "a", gt, [0.1] * 3)  # b missing: frame 0 := GT counts, frames 1-2 do not
    report = analyse([TrackerRun("t", "base")], seqs, "trackingnet", tmp_path)
    assert report.summaries[0]["coverage"] == pytest.approx(4 / 6 * 100)
    header, row = report.table.splitlines()[1:3]
    assert header.split()[-1] == "Coverage" and row.split()[-1] == "66.67"
