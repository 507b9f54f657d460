"""Analysis: table, CSV, plots, per-sequence cache and the command line."""

import json
import runpy
import sys

import numpy as np
import pytest

from lib.config.loader import PROJECT_ROOT
from lib.data.sequence import TestSequence
from lib.evaluation.analysis import AnalysisError, TrackerRun, analyse
from lib.evaluation.results_io import results_folder, write_sequence_result
from tests.stderr_lines import problem_lines


def _sequence(name, gt):
    """Ground truth only: the analysis reads no frames."""
    return TestSequence(name, "lasot", [f"{i:08d}.jpg" for i in range(len(gt))], gt, source=None)


def _setup(tmp_path):
    gt = np.array([[10, 10, 20, 20]] * 3, dtype=float)
    seqs = [_sequence("s1", gt), _sequence("s2", gt)]
    good = results_folder(tmp_path, "good", "base", "lasot")
    bad = results_folder(tmp_path, "bad", "base", "lasot")
    for name in ("s1", "s2"):
        write_sequence_result(good, name, gt, times=[0.1] * 3)
        write_sequence_result(bad, name, np.array([[10, 10, 20, 20], [200, 200, 5, 5], [200, 200, 5, 5.0]]), [0.1] * 3)
    return seqs


def test_table_csv_plots(tmp_path):
    seqs = _setup(tmp_path)
    runs = [TrackerRun("good", "base"), TrackerRun("bad", "base")]
    report = analyse(runs, seqs, "lasot", tmp_path, tmp_path / "out")
    assert report.convention == "pytracking" and report.num_sequences == 2
    assert report.summaries[0]["auc"] == pytest.approx(20 / 21 * 100)  # IoU 1 > t except t = 1.0
    assert report.summaries[1]["auc"] == pytest.approx(20 / 21 * 100 / 3)  # only frame 0 (:= GT)
    assert "pytracking/STARK convention" in report.table.splitlines()[0]
    assert "(2 sequences; scores in %)" in report.table.splitlines()[0]
    csv_lines = report.csv_path.read_text().splitlines()
    assert csv_lines[0].startswith("tracker,convention,num_sequences,AUC,OP50,OP75")
    assert csv_lines[1].startswith("good_base,pytracking,2,95.2381")
    assert {p.name for p in report.plot_paths} == {"success_plot.png", "precision_plot.png", "norm_precision_plot.png"}
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in report.plot_paths)


def test_cache_is_read_and_invalidated(tmp_path):
    seqs = _setup(tmp_path)
    runs = [TrackerRun("good", "base")]
    analyse(runs, seqs, "lasot", tmp_path, tmp_path / "out")
    cache_file = tmp_path / "out" / "cache" / "good_base_pytracking.json"
    cache = json.loads(cache_file.read_text())
    cache["s1"]["data"]["success"] = [0.0] * 21  # a doctored entry with a valid stamp is used as is
    cache_file.write_text(json.dumps(cache))
    assert analyse(runs, seqs, "lasot", tmp_path, tmp_path / "out").summaries[0]["auc"] == pytest.approx(
        20 / 21 * 100 / 2
    )
    # rewriting the result file changes its stamp -> recomputed
    write_sequence_result(results_folder(tmp_path, "good", "base", "lasot"), "s1", seqs[0].ground_truth, [0.2] * 3)
    assert analyse(runs, seqs, "lasot", tmp_path, tmp_path / "out").summaries[0]["auc"] == pytest.approx(20 / 21 * 100)


def test_missing_results_error_or_skip(tmp_path):
    seqs = _setup(tmp_path) + [_sequence("s3", np.ones((2, 4)))]
    with pytest.raises(AnalysisError, match="1 result files missing, first .*s3.txt"):
        analyse([TrackerRun("good", "base")], seqs, "lasot", tmp_path)
    assert analyse([TrackerRun("good", "base")], seqs, "lasot", tmp_path, skip_missing=True).num_sequences == 2


def test_cli_got10k_val(tmp_path, monkeypatch, capsys):
    root = tmp_path / "data" / "got10k" / "val"
    seq = root / "GOT-10k_Val_000001"
    seq.mkdir(parents=True)
    (root / "list.txt").write_text("GOT-10k_Val_000001\n")
    (seq / "groundtruth.txt").write_text("0,0,10,10\n0,0,10,10\n0,0,10,10\n")
    (seq / "cover.label").write_text("8\n8\n0\n")
    (seq / "absence.label").write_text("0\n0\n1\n")
    (seq / "meta_info.ini").write_text("[METAINFO]\nresolution: (100, 50)\n")
    folder = results_folder(tmp_path / "test" / "tracking_results", "stark_st", "baseline", "got10k_val")
    write_sequence_result(folder, "GOT-10k_Val_000001", [[0, 0, 10, 10], [5, 0, 10, 10], [0, 0, 1, 1]], [0.1] * 3)
    entry = runpy.run_path(str(PROJECT_ROOT / "tracking" / "analysis_results.py"), run_name="analysis_results")
    argv = ["analysis_results.py", "--tracker", "stark_st", "--config", "baseline", "--dataset", "got10k_val",
            "--opts", f"got10k_dir={tmp_path / 'data' / 'got10k'}", f"save_dir={tmp_path}"]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    assert entry["main"]() == 0
    stdout = capsys.readouterr().out
    assert "GOT-10k toolkit convention" in stdout
    assert "33.33" in stdout  # AO: frame 1 IoU 1/3 only (frame 0 and cover-0 frame 2 excluded)
    assert (tmp_path / "test" / "result_plots" / "got10k_val" / "got10k" / "success_plot.png").is_file()


def test_cli_bad_root_one_line_error(tmp_path, monkeypatch, capsys):
    entry = runpy.run_path(str(PROJECT_ROOT / "tracking" / "analysis_results.py"), run_name="analysis_results")
    argv = ["analysis_results.py", "--tracker", "t", "--dataset", "got10k_val", "--opts", "got10k_dir=/nonexistent"]
    monkeypatch.setattr(sys, "argv", argv)
    assert entry["main"]() == 2
    err = problem_lines(capsys.readouterr().err)
    assert len(err) == 1 and "/nonexistent" in err[0]


def test_first_frame_only_ground_truth_is_refused(tmp_path):
    gt = np.full((3, 4), np.nan)
    gt[0] = [10, 10, 20, 20]
    seqs = [_sequence("s1", gt), _sequence("s2", gt)]
    folder = results_folder(tmp_path, "good", "base", "trackingnet")
    for name in ("s1", "s2"):
        write_sequence_result(folder, name, np.array([[10, 10, 20, 20.0]] * 3), times=[0.1] * 3)
    with pytest.raises(AnalysisError, match="covers only the first frame of every sequence") as info:
        analyse([TrackerRun("good", "base")], seqs, "trackingnet", tmp_path, tmp_path / "out")
    assert "pack_results.py --dataset trackingnet" in str(info.value)
    assert not (tmp_path / "out").exists()
