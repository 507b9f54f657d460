"""Issue 11, item 10: bad boxes are reported by check_datasets and counted per dataset during training."""

from __future__ import annotations

import numpy as np
import pytest

from lib.config import LocalSettings
from lib.config.schema import Config
from lib.data.check import check_dataset
from lib.data.loader import build_data_loader, take_redraw_summary
from lib.data.sampler import REDRAW_REASONS
from lib.data.synthetic import generate_dataset


@pytest.fixture(scope="module")
def broken_got10k(tmp_path_factory):
    """A generated GOT-10k set whose first sequence has a NaN box, a zero-width and a negative-size box, and
    whose second sequence's boxes all lie outside the 160x120 frames."""
    root = tmp_path_factory.mktemp("broken") / "got10k"
    generate_dataset("got10k", root, 2, 30, seed=1, val_sequences=0, test_sequences=0, width=160, height=120)
    names = (root / "train" / "list.txt").read_text().split()
    first = root / "train" / names[0] / "groundtruth.txt"
    lines = first.read_text().splitlines()
    lines[3], lines[4], lines[5] = "nan,nan,nan,nan", "10,10,0,5", "10,10,-4,5"
    first.write_text("\n".join(lines) + "\n")
    second = root / "train" / names[1] / "groundtruth.txt"
    second.write_text("".join("500,400,20,20\n" for _ in range(30)))
    return root, names


def test_check_datasets_reports_nan_and_non_positive_boxes(broken_got10k):
    root, names = broken_got10k
    report, _ = check_dataset("GOT10K_all", LocalSettings(got10k_dir=str(root), save_dir=str(root.parent)))
    assert report.nan_boxes == 1 and report.empty_boxes == 2
    assert "1 NaN boxes, 2 boxes with w or h <= 0" in report.line()
    negative = [p for p in report.problems if "negative size" in p]
    assert len(negative) == 1 and names[0] in negative[0] and "00000006.jpg" in negative[0]
    assert any("lies outside" in p for p in report.problems)  # the second sequence's first box


def test_training_counts_redrawn_samples_per_dataset_and_reason(broken_got10k):
    root, _ = broken_got10k
    cfg = Config()
    cfg.data.train.datasets_name, cfg.data.train.datasets_ratio = ["GOT10K_all"], [1.0]
    cfg.data.train.sample_per_epoch = 8
    cfg.data.template.size, cfg.data.search.size = 32, 64
    cfg.train.batch_size, cfg.train.num_worker = 4, 0
    loader = build_data_loader(cfg, LocalSettings(got10k_dir=str(root), save_dir=str(root.parent)))
    loader.set_epoch(1)
    batches = list(loader)
    assert len(batches) == 2 and "redraws" not in batches[0]  # taken off the batch, counted in the loader
    outside = int(loader.redraw_counts[0, REDRAW_REASONS.index("box outside image")])
    assert outside > 0  # half the draws pick the sequence whose boxes are all outside the frame
    summary = take_redraw_summary(loader)
    assert summary.startswith("GOT10K_all: ") and f"box outside image {outside}" in summary
    assert take_redraw_summary(loader) == ""  # reset after reporting
    assert np.all(loader.redraw_counts == 0)
