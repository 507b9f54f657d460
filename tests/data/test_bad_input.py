"""Each bad input gives the stated behaviour: one-line errors naming the path, or a logged skip."""

import logging
import shutil

import numpy as np
import pytest

from lib.config import ConfigError, LocalSettings
from lib.data.datasets import Got10k
from lib.data.errors import DatasetError, FrameReadError
from lib.data.image_source import FolderSource
from lib.data.loader import build_sampler
from lib.data.registry import build_dataset

from .conftest import tiny_config


def _copy_got10k(data_root, tmp_path):
    root = tmp_path / "got10k"
    shutil.copytree(data_root / "got10k", root)
    return root


def test_missing_root_names_path_and_layout(tmp_path):
    settings = LocalSettings(got10k_dir=str(tmp_path / "nowhere"))
    with pytest.raises(ConfigError) as info:
        build_dataset("GOT10K_all", settings)
    message = str(info.value)
    assert "nowhere" in message and "list.txt" in message and "\n" not in message


def test_missing_split_file_names_path_and_layout(data_root, tmp_path):
    root = _copy_got10k(data_root, tmp_path)
    (root / "train" / "list.txt").unlink()
    with pytest.raises(
        DatasetError, match=r"train/list\.txt not found; expected layout: got10k/\{train,val,test\}/list\.txt"
    ):
        build_dataset("GOT10K_all", LocalSettings(got10k_dir=str(root)))


def test_unknown_dataset_name_lists_valid_names(settings):
    with pytest.raises(
        DatasetError,
        match=r"unknown dataset name 'GOT10K_votrain'; valid: LASOT, LASOT_all, GOT10K_vottrain, .*TRACKINGNET_all",
    ):
        build_dataset("GOT10K_votrain", settings)
    assert build_dataset("got10k_all", settings).name == "GOT10K_all"  # names are case-insensitive


def test_malformed_annotation_line_names_file_and_line(data_root, tmp_path):
    root = _copy_got10k(data_root, tmp_path)
    gt = root / "train" / "GOT-10k_Train_000002" / "groundtruth.txt"
    lines = gt.read_text().splitlines()
    lines[6] = "12.0,13.0,abc,4.0"
    gt.write_text("\n".join(lines) + "\n")
    with pytest.raises(
        DatasetError,
        match=r"GOT-10k_Train_000002/groundtruth\.txt line 7: expected 4 numbers x,y,w,h, got '12\.0,13\.0,abc,4\.0'",
    ):
        build_dataset("GOT10K_all", LocalSettings(got10k_dir=str(root)))
    lines[6] = "12.0,13.0,4.0"
    gt.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"line 7: expected 4 numbers"):
        build_dataset("GOT10K_all", LocalSettings(got10k_dir=str(root)))


def test_empty_and_invisible_sequences_are_excluded_and_counted(data_root, tmp_path, caplog):
    root = _copy_got10k(data_root, tmp_path)
    (root / "train" / "GOT-10k_Train_000001" / "groundtruth.txt").write_text("")
    (root / "train" / "GOT-10k_Train_000001" / "absence.label").write_text("")
    (root / "train" / "GOT-10k_Train_000001" / "cover.label").write_text("")
    (root / "train" / "GOT-10k_Train_000001" / "cut_by_image.label").write_text("")
    (root / "train" / "GOT-10k_Train_000003" / "absence.label").write_text("1\n" * 30)
    with caplog.at_level(logging.WARNING, logger="lib.data.datasets.base"):
        ds = build_dataset("GOT10K_all", LocalSettings(got10k_dir=str(root)))
    assert len(ds) == 4 and {"GOT-10k_Train_000001", "GOT-10k_Train_000003"}.isdisjoint(s.name for s in ds.sequences)
    assert "excluded 2 of 6 sequences" in caplog.text


def test_corrupt_and_missing_frames_are_logged_counted_and_redrawn(data_root, tmp_path, caplog):
    root = _copy_got10k(data_root, tmp_path)
    for seq in ("GOT-10k_Train_000001", "GOT-10k_Train_000002"):
        for i in range(1, 31):
            frame = root / "train" / seq / f"{i:08d}.jpg"
            if seq.endswith("1"):
                frame.write_bytes(b"not a jpeg")
            else:
                frame.unlink()
    settings = LocalSettings(got10k_dir=str(root))
    ds = build_dataset("GOT10K_all", settings)
    with pytest.raises(FrameReadError, match="cannot decode"):
        ds.read_frame(0, 0)
    with pytest.raises(FrameReadError, match="frame missing"):
        ds.read_frame(1, 0)
    sampler = build_sampler(tiny_config(), settings, "train", return_meta=True)
    with caplog.at_level(logging.WARNING, logger="lib.data.sampler"):
        samples = [sampler[(0, i)] for i in range(12)]
    assert all(s["meta"]["sequence"] not in ("GOT-10k_Train_000001", "GOT-10k_Train_000002") for s in samples)
    assert sampler.frame_errors > 0
    assert "skipping unreadable frame" in caplog.text and "00000" in caplog.text


def test_split_file_naming_absent_sequences(data_root, tmp_path):
    root = _copy_got10k(data_root, tmp_path)
    shutil.rmtree(root / "train" / "GOT-10k_Train_000004")
    with pytest.raises(DatasetError, match=r"1 of 6 sequences .* missing \(first: GOT-10k_Train_000004\)"):
        Got10k(FolderSource(root), "train", "all")
    with pytest.raises(DatasetError, match=r"of 7086 sequences .* missing \(first: #3784.*GOT10K_all"):
        Got10k(FolderSource(root), "train", "vottrain")


def test_label_file_with_wrong_length(data_root, tmp_path):
    root = _copy_got10k(data_root, tmp_path)
    (root / "train" / "GOT-10k_Train_000005" / "cover.label").write_text("8\n" * 29)
    with pytest.raises(DatasetError, match=r"GOT-10k_Train_000005/cover\.label: 29 labels for 30 frames"):
        Got10k(FolderSource(root), "train")


def test_nan_ground_truth_rows_are_invisible(tmp_path):
    from lib.data.datasets.base import parse_boxes

    boxes = parse_boxes("1,2,3,4\nnan,nan,nan,nan\n1\t2\t3\t4\n", "x.txt")
    assert boxes.shape == (3, 4) and np.isnan(boxes[1]).all()


@pytest.mark.parametrize(
    "annotation, message",
    [
        ({"id": 7, "image_id": 1}, "lacks 'bbox' or 'image_id'"),
        ({"id": 7, "image_id": 1, "bbox": [1, 2, 3]}, "annotation 7: bbox .* is not 4 numbers"),
    ],
)
def test_malformed_coco_annotation_is_a_one_line_error(tmp_path, annotation, message):
    import json

    from lib.data.datasets import Coco

    (tmp_path / "annotations").mkdir()
    instances = {"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [annotation]}
    (tmp_path / "annotations" / "instances_train2017.json").write_text(json.dumps(instances))
    with pytest.raises(DatasetError, match=message) as info:
        Coco(FolderSource(tmp_path))
    assert "instances_train2017.json" in str(info.value) and "\n" not in str(info.value)
