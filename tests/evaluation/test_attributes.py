"""Per-attribute analysis on generated LaSOT data with hand-written attribute files, numbers checked by hand."""

import csv
import runpy
import sys

import pytest

from lib.config.loader import PROJECT_ROOT
from lib.data.attributes import load_attributes
from lib.data.errors import DatasetError
from lib.data.synthetic import generate_dataset
from lib.evaluation.results_io import read_boxes, results_folder, write_sequence_result
from tests.stderr_lines import problem_lines

N = 10
# airplane-1: IV, POC; basketball-1: IV; bear-1: POC, DEF (LaSOT order IV POC DEF MB CM ROT BC VC SV FOC FM OV LR ARC)
FLAGS = {"airplane-1": "1,1,0,0,0,0,0,0,0,0,0,0,0,0", "basketball-1": "1,0,0,0,0,0,0,0,0,0,0,0,0,0",
         "bear-1": "0,1,1,0,0,0,0,0,0,0,0,0,0,0"}  # fmt: skip


@pytest.fixture()
def lasot(tmp_path):
    root = tmp_path / "lasot"
    generate_dataset("lasot", root, 3, N, seed=11, width=96, height=72)
    for name, flags in FLAGS.items():
        folder = root / name.split("-")[0] / name
        # every frame visible, so each sequence's curve is easy to compute by hand
        for flag_file in ("full_occlusion.txt", "out_of_view.txt"):
            (folder / flag_file).write_text(",".join(["0"] * N) + "\n")
        (root / "annos" / "att").mkdir(parents=True, exist_ok=True)
        (root / "annos" / "att" / f"{name}.txt").write_text(flags + "\n")
    results = tmp_path / "test" / "tracking_results"
    for tracker in ("perfect_half", "lost"):
        folder = results_folder(results, tracker, "base", "lasot_all")
        for name in FLAGS:
            gt = read_boxes(root / name.split("-")[0] / name / "groundtruth.txt")
            pred = gt.copy()
            tracked = {"airplane-1": N, "basketball-1": 1, "bear-1": N // 2}[name] if tracker == "perfect_half" else 1
            pred[tracked:] += [1000.0, 1000.0, 0.0, 0.0]  # IoU 0 after the tracked frames (frame 0 := GT anyway)
            write_sequence_result(folder, name, pred, [0.01] * N)
    return tmp_path


def _run(tmp_path, monkeypatch, *extra):
    entry = runpy.run_path(str(PROJECT_ROOT / "tracking" / "analysis_results.py"), run_name="analysis_results")
    argv = ["analysis_results.py", "--tracker", "perfect_half", "--config", "base", "--tracker", "lost", "--config",
            "base", "--dataset", "lasot_all", "--per_attribute", "--opts", f"lasot_dir={tmp_path / 'lasot'}",
            f"save_dir={tmp_path}", *extra]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    return entry["main"]()


def test_auc_per_attribute_by_hand(lasot, monkeypatch, capsys):
    """Per-sequence AUC = mean over 21 thresholds of the share of frames with IoU > t; IoU is 1 (> t for the 20
    thresholds below 1) on tracked frames and 0 elsewhere. perfect_half: airplane-1 tracks 10/10 frames -> 20/21;
    basketball-1 only frame 0 -> 20/21 x 1/10; bear-1 frames 0-4 -> 20/21 x 5/10.
    IV = {airplane-1, basketball-1}: 20/21 x (1 + 0.1) / 2 = 52.381; POC = {airplane-1, bear-1}: 20/21 x 0.75 = 71.429.
    lost tracks frame 0 only everywhere: 20/21 x 0.1 = 9.524 on every attribute."""
    assert _run(lasot, monkeypatch) == 0
    out = capsys.readouterr().out.splitlines()
    header = out[1].split()
    assert header == ["Tracker", "IV(2)", "POC(2)", "DEF(1)", "ALL(3)"]
    perfect = out[2].split()
    assert perfect[0] == "perfect_half_base" and perfect[1:3] == ["52.38", "71.43"]
    assert float(perfect[3]) == pytest.approx(20 / 21 * 50, abs=0.005)  # DEF = bear-1 alone
    assert float(perfect[4]) == pytest.approx(20 / 21 * 1.6 / 3 * 100, abs=0.005)  # ALL
    assert out[3].split()[1:] == ["9.52"] * 4
    plots = lasot / "test" / "result_plots" / "lasot_all"
    rows = list(csv.DictReader((plots / "attributes_pytracking.csv").open()))
    iv = [r for r in rows if r["tracker"] == "perfect_half_base" and r["attribute"] == "IV"][0]
    assert iv["attribute_name"] == "Illumination Variation" and iv["num_sequences"] == "2"
    assert float(iv["auc"]) == pytest.approx(20 / 21 * 0.55 * 100, abs=1e-4)
    assert (plots / "attributes_radar_pytracking.png").stat().st_size > 1000


def test_missing_attribute_file_is_one_line(lasot, monkeypatch, capsys):
    (lasot / "lasot" / "annos" / "att" / "bear-1.txt").unlink()
    assert _run(lasot, monkeypatch) == 2
    err = problem_lines(capsys.readouterr().err)
    assert len(err) == 1 and "annos/att/bear-1.txt: attribute file missing" in err[0]


def test_json_table_and_its_errors(tmp_path):
    table = tmp_path / "otb_attributes.json"
    table.write_text('{"att_name_short": ["IV", "OCC"], "att_name_long": ["Illumination", "Occlusion"], '
                     '"A": ["IV"], "B": ["IV", "OCC"]}')  # fmt: skip
    loaded = load_attributes("otb", ["A", "B"], table, None)
    assert loaded.sequences_with("OCC", ["A", "B"]) == ["B"] and loaded.long == ["Illumination", "Occlusion"]
    with pytest.raises(DatasetError, match="no attributes for 1 sequences \\(first: C\\)"):
        load_attributes("otb", ["A", "C"], table, None)
    with pytest.raises(DatasetError, match="otb has no attribute files in its layout"):
        load_attributes("otb", ["A"], None, tmp_path)
    flags = tmp_path / "att"
    flags.mkdir()
    (flags / "A.txt").write_text("1,0,1\n")
    with pytest.raises(DatasetError, match="A.txt: expected 14 comma-separated 0/1 flags"):
        load_attributes("lasot", ["A"], flags, None)


def test_generated_uav123_attribute_files_are_read(tmp_path):
    from lib.data.synthetic_layouts import generate_test_set

    generate_test_set("uav123", tmp_path / "uav", 2, 3, seed=0, width=64, height=48)
    table = load_attributes("uav123_all", ["synth1", "synth2"], None, tmp_path / "uav")
    flags = (tmp_path / "uav" / "anno" / "UAV123" / "att" / "synth1.txt").read_text().strip().split(",")
    assert table.short[0] == "SV" and len(table.short) == 12
    assert table.of_sequence["synth1"] == {a for a, f in zip(table.short, flags) if f == "1"}
