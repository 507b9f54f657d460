"""scripts/bench/data_pipeline.py runs end to end on tiny generated sets and prints consistent rows.

A fresh process: the bench sets up the process as a DataLoader worker and wraps library functions with timers,
neither of which may leak into the test process.
"""

import re
import subprocess
import sys

from lib.config.loader import PROJECT_ROOT

ROW = re.compile(
    r"^(?P<set>.+?)\s+(?P<kind>pairs \(causal\)|triplets \(trident_pro\))\s+crops 64/128\s+cache=0:\s+"
    r"(?P<rate>[\d.]+) samples/s per worker \| outside decode\s+(?P<outside>[\d.]+)% "
    r"\(read\s+(?P<read>[\d.]+)%\s+crop\s+(?P<crop>[\d.]+)%\s+other\s+(?P<other>-?[\d.]+)%\)$"
)


def test_pipeline_bench_prints_a_row_per_set_and_mode_whose_parts_add_up():
    done = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts/bench/data_pipeline.py"),
         "--samples", "3", "--sequences", "1", "--frames", "24", "--small_crops"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    rows = [ROW.match(line) for line in lines]
    rows = [row for row in rows if row]
    sets = ["GOT10K_all", "LASOT_all", "TRACKINGNET_all", "COCO17", "mix of the four"]
    assert [(row["set"], row["kind"].split()[0]) for row in rows] == [
        (name, kind) for name in sets for kind in ("pairs", "triplets")
    ]
    for row in rows:
        outside, parts = float(row["outside"]), [float(row[key]) for key in ("read", "crop", "other")]
        assert 0 < outside < 100 and float(row["rate"]) > 0
        assert abs(sum(parts) - outside) < 0.25, row.group(0)  # three rounded figures
    assert any(re.match(r"machine state: .* \d+ us in a loop and \d+ us right after decoding a 1920x1080", line)
               for line in lines), done.stdout  # fmt: skip
    assert lines[-1].startswith("ST50 at the paper's pace needs 21.7 triplets/s per GPU")
