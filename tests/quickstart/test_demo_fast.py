"""The quick start's --fast path end to end: generate, train both stages, test, analyse, video."""

import csv
import math
import re
import subprocess
import sys
from pathlib import Path

from lib.config import PROJECT_ROOT


def test_demo_fast_produces_every_artefact(tmp_path: Path):
    out = tmp_path / "demo"
    proc = subprocess.run(
        [sys.executable, "tracking/demo.py", "--fast", "--out", str(out)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    stdout = proc.stdout

    stage1 = sorted((out / "checkpoints/train/stark_st1/cpu_demo").glob("STARKST_ep*.pth.tar"))
    stage2 = sorted((out / "checkpoints/train/stark_st2/cpu_demo").glob("STARKST_ep*.pth.tar"))
    assert stage1 and stage2

    heldout = [n for n in (out / "data/got10k_heldout/val/list.txt").read_text().split() if n]
    results = out / "test/tracking_results/stark_st/cpu_demo/got10k"
    for name in heldout:
        frames = len(list((out / "data/got10k_heldout/val" / name).glob("*.jpg")))
        boxes = (results / f"{name}.txt").read_text().splitlines()
        assert len(boxes) == frames
        assert all(math.isfinite(float(v)) for line in boxes for v in line.split())
        assert (results / f"{name}_time.txt").is_file()

    plots = out / "test/result_plots/got10k_val"
    with open(plots / "results_got10k.csv", newline="") as handle:
        rows = {row["tracker"]: row for row in csv.DictReader(handle)}
    gated, never, floor = "STARK-ST (score-gated updates)", "STARK-ST (never updated)", "repeat initial box"
    assert set(rows) == {gated, never, floor}
    for row in rows.values():
        assert int(row["num_sequences"]) == len(heldout)
        assert 0.0 <= float(row["AO"]) <= 100.0
    assert (plots / "got10k" / "success_plot.png").stat().st_size > 1000
    assert (out / "demo_video.mp4").stat().st_size > 1000
    never_results = out / "test/tracking_results/stark_st/cpu_demo_001/got10k"
    assert len(list(never_results.glob("*_time.txt"))) == len(heldout)
    with open(out / "shifted/test/result_plots/got10k_val/results_got10k.csv", newline="") as handle:
        shifted_rows = {row["tracker"]: row for row in csv.DictReader(handle)}
    assert set(shifted_rows) == {gated, floor}
    # the test-time parameter is chosen on the validation set, whose results live apart from the held-out ones
    assert len(list((out / "validation/test/tracking_results/stark_st").iterdir())) == 2

    summary = re.search(
        r"held-out AO in % \((\d+) sequences\): STARK-ST score-gated updates (\d+\.\d), never updated (\d+\.\d); "
        r"repeat-initial-box baseline (\d+\.\d)",
        stdout,
    )
    assert summary, stdout[-2000:]
    assert int(summary.group(1)) == len(heldout)
    assert abs(float(summary.group(2)) - float(rows[gated]["AO"])) < 0.051
    assert abs(float(summary.group(3)) - float(rows[never]["AO"])) < 0.051
    assert abs(float(summary.group(4)) - float(rows[floor]["AO"])) < 0.051
    shifted = re.search(r"shifted-generator AO in % \((\d+) sequences, never trained on\): STARK-ST (\d+\.\d)", stdout)
    assert shifted and abs(float(shifted.group(2)) - float(shifted_rows[gated]["AO"])) < 0.051
    accuracy = re.search(r"score head on (\d+) held-out samples: accuracy (\d+\.\d+)", stdout)
    assert accuracy and 0.0 <= float(accuracy.group(2)) <= 1.0
    assert re.search(r"test-time search factor (4|5), chosen on the validation set", stdout)
