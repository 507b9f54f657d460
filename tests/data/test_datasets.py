"""Dataset readers on generated data in every layout: counts, visibility rules, split lists, lmdb."""

from pathlib import Path

import numpy as np
import pytest

from lib.config import LocalSettings
from lib.data.datasets import Coco, Got10k, Lasot, TrackingNet
from lib.data.errors import DatasetError
from lib.data.image_source import FolderSource, ImageSource, LmdbSource
from lib.data.lmdb_builder import build_lmdb
from lib.data.registry import build_dataset, load_test_sequences


def _labels(path):
    return np.array([int(v) for v in path.read_text().replace(",", " ").split()])


def test_got10k_counts_and_visibility(data_root, settings):
    ds = build_dataset("GOT10K_all", settings)
    assert len(ds) == 6 and ds.num_frames == 180
    for seq in ds.sequences:
        folder = data_root / "got10k" / "train" / seq.name
        expected = (_labels(folder / "absence.label") == 0) & (_labels(folder / "cover.label") > 0)
        np.testing.assert_array_equal(seq.visible, expected)
        np.testing.assert_allclose(seq.boxes, np.loadtxt(folder / "groundtruth.txt", delimiter=","))
    frame = ds.read_frame(0, 29)
    assert frame.shape == (120, 160, 3) and frame.dtype == np.uint8
    assert len(build_dataset("GOT10K_official_val", settings)) == 2


def test_got10k_test_sequences(settings):
    seqs = load_test_sequences("got10k_test", settings)
    assert len(seqs) == 2 and len(seqs[0]) == 30 and seqs[0].target_visible is None
    assert np.isfinite(seqs[0].ground_truth[0]).all() and np.isnan(seqs[0].ground_truth[1:]).all()
    assert seqs[0].frames[0].endswith("/00000001.jpg") and seqs[0].read_frame(29).shape == (120, 160, 3)
    val = load_test_sequences("got10k_val", settings)
    assert len(val) == 2 and np.isfinite(val[0].ground_truth).all() and val[0].target_visible is not None
    # what the GOT-10k toolkit needs: cover.label as written, the resolution of meta_info.ini
    folder = Path(settings.got10k_dir) / "val" / val[0].name
    np.testing.assert_array_equal(val[0].cover, _labels(folder / "cover.label"))
    assert val[0].image_size == (160, 120)
    np.testing.assert_array_equal(
        val[0].target_visible, (_labels(folder / "absence.label") == 0) & (_labels(folder / "cover.label") > 0)
    )


def test_lasot_visibility_and_splits(data_root, settings):
    ds = build_dataset("LASOT_all", settings)
    assert len(ds) == 12
    seq = next(s for s in ds.sequences if s.name == "airplane-1")
    folder = data_root / "lasot" / "airplane" / "airplane-1"
    expected = (_labels(folder / "full_occlusion.txt") == 0) & (_labels(folder / "out_of_view.txt") == 0)
    np.testing.assert_array_equal(seq.visible, expected)
    assert seq.frames[0] == "airplane/airplane-1/img/00000001.jpg"
    # the official train list names 1120 sequences: a partial set is an error pointing at LASOT_all
    with pytest.raises(DatasetError, match=r"of 1120 sequences .* missing .*LASOT_all"):
        build_dataset("LASOT", settings)
    with pytest.raises(DatasetError, match="of 280 sequences"):
        load_test_sequences("lasot", settings)
    assert len(load_test_sequences("lasot_all", settings)) == 12


def test_trackingnet_chunks_and_numeric_order(data_root, settings):
    ds = build_dataset("TRACKINGNET_all", settings)
    assert len(ds) == 4 and ds.num_frames == 120
    seq = ds.sequences[0]
    assert [k.rsplit("/", 1)[1] for k in seq.frames[8:12]] == ["8.jpg", "9.jpg", "10.jpg", "11.jpg"]
    boxes = np.loadtxt(data_root / "trackingnet" / "TRAIN_0" / "anno" / f"{seq.name}.txt", delimiter=",")
    np.testing.assert_array_equal(seq.visible, (boxes[:, 2] > 0) & (boxes[:, 3] > 0))
    with pytest.raises(DatasetError, match=r"10 of 12 .*TRAIN_2.*TRACKINGNET_all"):
        build_dataset("TRACKINGNET", settings)
    test = load_test_sequences("trackingnet", settings)
    assert len(test) == 1 and len(test[0]) == 30 and np.isnan(test[0].ground_truth[1:]).all()


def test_trackingnet_test_frames_sorted_numerically(tmp_path):
    import cv2

    root = tmp_path / "tn"
    (root / "TEST" / "anno").mkdir(parents=True)
    (root / "TEST" / "anno" / "abc_0.txt").write_text("1,2,3,4\n")
    for i in range(12):
        (root / "TEST" / "frames" / "abc_0").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "TEST" / "frames" / "abc_0" / f"{i}.jpg"), np.zeros((8, 8, 3), np.uint8))
    seq = TrackingNet(FolderSource(root), ["TEST"]).test_sequences()[0]
    assert [f.rsplit("/", 1)[1] for f in seq.frames] == [f"{i}.jpg" for i in range(12)]


def test_coco_sequences_and_size_filter(data_root):
    import json

    data = json.loads((data_root / "coco" / "annotations" / "instances_train2017.json").read_text())
    anns = [a for a in data["annotations"] if not a["iscrowd"]]
    everything = Coco(FolderSource(data_root / "coco"), min_size=0.0)
    assert len(everything) == len(anns) and not everything.is_video
    big = Coco(FolderSource(data_root / "coco"), min_size=50.0)
    assert len(big) == sum(a["bbox"][2] > 50 and a["bbox"][3] > 50 for a in anns)
    assert len(big) < len(everything)
    seq = big.sequences[0]
    assert len(seq) == 1 and seq.boxes.shape == (1, 4) and big.read_frame(0, 0).shape == (120, 160, 3)


@pytest.mark.parametrize("fmt", ["got10k", "lasot", "trackingnet", "coco"])
def test_lmdb_frames_identical_to_folder(data_root, tmp_path, fmt):
    stats = build_lmdb(data_root / fmt, tmp_path / f"{fmt}_lmdb", fmt, chunk_size=7, progress=False)
    assert stats["written"] == stats["total"] > 0
    settings = LocalSettings(data_dir=str(data_root), **{f"{fmt}_lmdb_dir": str(tmp_path / f"{fmt}_lmdb")})
    name = {"got10k": "GOT10K_all", "lasot": "LASOT_all", "trackingnet": "TRACKINGNET_all", "coco": "COCO17"}[fmt]
    folder, lmdb_ds = (
        build_dataset(name, settings, coco_min_size=0),
        build_dataset(name, settings, True, coco_min_size=0),
    )
    assert [s.name for s in folder.sequences] == [s.name for s in lmdb_ds.sequences]
    for i in (0, len(folder) - 1):
        last = len(folder.sequence(i)) - 1
        key = folder.sequence(i).frames[last]
        assert FolderSource(data_root / fmt).read_bytes(key) == LmdbSource(tmp_path / f"{fmt}_lmdb").read_bytes(key)
        np.testing.assert_array_equal(folder.read_frame(i, last), lmdb_ds.read_frame(i, last))
        np.testing.assert_array_equal(folder.sequence(i).visible, lmdb_ds.sequence(i).visible)


def test_lmdb_build_resumes(data_root, tmp_path):
    import shutil

    root = tmp_path / "got10k"
    shutil.copytree(data_root / "got10k", root)
    first = build_lmdb(root, tmp_path / "db", "got10k", progress=False)
    (root / "train" / "extra.txt").write_text("new file\n")
    second = build_lmdb(root, tmp_path / "db", "got10k", progress=False)
    assert second == {"written": 1, "skipped": first["total"], "total": first["total"] + 1}
    assert LmdbSource(tmp_path / "db").read_text("train/extra.txt") == "new file\n"
    assert "GOT-10k_Test_000001" in LmdbSource(tmp_path / "db").list("test")


class MemorySource(ImageSource):
    """Files held in a dict: shows that readers only use the injected source interface."""

    def __init__(self, files):
        self.root, self.files = "mem:", files

    def read_bytes(self, key):
        if key not in self.files:
            raise FileNotFoundError(key)
        return self.files[key]

    def exists(self, key):
        return key in self.files or any(k.startswith(key + "/") for k in self.files)


def test_got10k_official_split_indices():
    """The shipped split lists are 0-based indices into train/list.txt (checked on a 9335-name skeleton)."""
    from lib.data.datasets.got10k import read_split_file

    names = [f"GOT-10k_Train_{i:06d}" for i in range(1, 9336)]
    files = {"train/list.txt": ("\n".join(names) + "\n").encode()}
    files.update({f"train/{n}/groundtruth.txt": b"1,2,3,4\n" for n in names})
    source = MemorySource(files)
    vottrain = {s.name for s in Got10k(source, "train", "vottrain").sequences}
    votval = {s.name for s in Got10k(source, "train", "votval").sequences}
    assert len(vottrain) == 7086 and len(votval) == 1249 and not vottrain & votval
    assert len(vottrain | votval) == 8335
    assert len(Got10k(source, "train", "train_full")) == 9335
    assert len(Got10k(source, "train", "train")) == 7934 and len(Got10k(source, "train", "val")) == 1401
    first = int(read_split_file("got10k_vot_train_split.txt")[0])
    assert Got10k(source, "train", "vottrain").sequences[0].name == names[first]


def test_lasot_reader_class_directly(data_root):
    ds = Lasot(FolderSource(data_root / "lasot"), "all")
    assert {s.name.rsplit("-", 1)[0] for s in ds.sequences} == {
        "airplane", "basketball", "bear", "bicycle", "bird", "boat", "book", "bottle", "car", "cat"
    }  # fmt: skip


def test_folder_source_reads_whole_files_and_names_what_is_missing(tmp_path):
    (tmp_path / "seq").mkdir()
    payload = bytes(range(256)) * 300  # larger than one page, any byte value
    (tmp_path / "seq" / "a.jpg").write_bytes(payload)
    (tmp_path / "seq" / "empty.txt").write_bytes(b"")
    source = FolderSource(tmp_path)
    assert source.read_bytes("seq/a.jpg") == payload
    assert source.read_bytes("seq/empty.txt") == b""
    for key in ("seq", "seq/missing.jpg", "seq/a.jpg/x"):  # a folder, a missing file, a file used as a folder
        with pytest.raises(FileNotFoundError, match=key.split("/")[-1]):
            source.read_bytes(key)


def test_data_workers_keep_freed_memory_where_glibc_allows_it():
    import platform

    from lib.utils.memory import keep_freed_memory

    assert keep_freed_memory() == (platform.system() == "Linux" and platform.libc_ver()[0] == "glibc")
