"""The readers and tools work on a GOT-10k folder written by hand (not by this project's generator)."""

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import yaml

from lib.config import LocalSettings
from lib.data.loader import build_data_loader
from lib.data.processing import normalize_images
from lib.data.registry import build_dataset, load_test_sequences

from .conftest import tiny_config

PROJECT = Path(__file__).resolve().parents[2]


def _write_hand_made_got10k(root: Path) -> None:
    """Two train sequences of 24 frames (a grey square sliding right) and one test sequence."""
    names = ["GOT-10k_Train_000007", "GOT-10k_Train_000009"]
    for k, name in enumerate(names):
        folder = root / "train" / name
        folder.mkdir(parents=True)
        lines, absence, cover = [], [], []
        for i in range(24):
            frame = np.full((90, 130, 3), 10 + 40 * k, dtype=np.uint8)
            x, y = 10 + 3 * i, 30
            frame[y : y + 20, x : x + 25] = 200
            cv2.imwrite(str(folder / f"{i + 1:08d}.jpg"), frame)
            lines.append(f"{x}.0000,{y}.0000,25.0000,20.0000")
            absence.append("1" if i == 5 else "0")
            cover.append("0" if i == 6 else "8")
        (folder / "groundtruth.txt").write_text("\n".join(lines) + "\n")
        (folder / "absence.label").write_text("\n".join(absence) + "\n")
        (folder / "cover.label").write_text("\n".join(cover) + "\n")
        (folder / "cut_by_image.label").write_text("0\n" * 24)
        (folder / "meta_info.ini").write_text("[METAINFO]\nobject_class: box\n")
    (root / "train" / "list.txt").write_text("\n".join(names) + "\n")
    test = root / "test" / "GOT-10k_Test_000001"
    test.mkdir(parents=True)
    for i in range(5):
        cv2.imwrite(str(test / f"{i + 1:08d}.jpg"), np.zeros((90, 130, 3), np.uint8))
    (test / "groundtruth.txt").write_text("10.0,20.0,30.0,40.0\n")
    (root / "test" / "list.txt").write_text("GOT-10k_Test_000001\n")


def test_hand_made_got10k_is_read(tmp_path):
    root = tmp_path / "got10k"
    _write_hand_made_got10k(root)
    settings = LocalSettings(got10k_dir=str(root))
    ds = build_dataset("GOT10K_all", settings)
    assert [s.name for s in ds.sequences] == ["GOT-10k_Train_000007", "GOT-10k_Train_000009"]
    visible = ds.sequence(0).visible
    assert visible.sum() == 22 and not visible[5] and not visible[6]
    assert ds.sequence(1).boxes[3].tolist() == [19.0, 30.0, 25.0, 20.0]
    assert ds.read_frame(1, 0)[40, 20].tolist() == [200, 200, 200]
    test = load_test_sequences("got10k_test", settings)
    assert len(test) == 1 and len(test[0]) == 5 and test[0].init_box == [10.0, 20.0, 30.0, 40.0]
    batch = normalize_images(next(iter(build_data_loader(tiny_config(), settings, "train"))))
    assert batch["search_images"].shape == (4, 3, 128, 128)


def test_check_datasets_tool_on_hand_made_layout(tmp_path):
    root = tmp_path / "got10k"
    _write_hand_made_got10k(root)
    settings_file = tmp_path / "stark_local.yaml"
    settings_file.write_text(yaml.safe_dump({"got10k_dir": str(root), "data_dir": str(tmp_path / "none")}))
    grid = tmp_path / "grid.png"
    result = subprocess.run(
        [sys.executable, str(PROJECT / "tracking" / "check_datasets.py"), "--settings", str(settings_file),
         "--datasets", "got10k_all", "lasot", "--out", str(grid), "--samples", "4", "--template_size", "64",
         "--search_size", "128"],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 1, result.stderr  # LASOT's root is missing: reported, not a crash
    assert "GOT10K_all: OK, 2 sequences, 48 frames" in result.stdout
    assert "LASOT: FAILED" in result.stdout and "does not exist" in result.stdout
    image = cv2.imread(str(grid))
    assert image is not None and image.shape[0] >= 4 * 128
