"""The index cache: built once, mapped afterwards; stale, truncated or foreign files are rebuilt; builders
serialise; bad annotation files fail at build time with one line; the parallel parse equals the serial one."""

import logging
import multiprocessing
import os
from pathlib import Path

import numpy as np
import pytest

import lib.data.index_cache as index_cache
from lib.config import LocalSettings
from lib.data.datasets import Coco, Got10k, Lasot, TrackingNet
from lib.data.datasets.base import parse_boxes
from lib.data.errors import DatasetError
from lib.data.image_source import FolderSource
from lib.data.index_build import parse_sequences

from .index_reference import write_all

READERS = {
    "got10k": lambda s, c: Got10k(s, "train", "all", index_cache=c),
    "lasot": lambda s, c: Lasot(s, "all", index_cache=c),
    "trackingnet": lambda s, c: TrackingNet(s, "present", index_cache=c),
    "coco": lambda s, c: Coco(s, min_size=30.0, index_cache=c),
}


@pytest.fixture
def roots(tmp_path):
    return write_all(tmp_path / "data")


def _build(roots, fmt, cache):
    return READERS[fmt](FolderSource(roots / fmt), cache)


def _assert_same_index(a, b):
    assert a.index.arrays.keys() == b.index.arrays.keys()
    for key in a.index.arrays:
        np.testing.assert_array_equal(a.index.arrays[key], b.index.arrays[key], err_msg=key)
    assert [list(s.frames) for s in a.sequences] == [list(s.frames) for s in b.sequences]


@pytest.mark.parametrize("fmt", list(READERS))
def test_cached_index_is_mapped_and_equals_the_parse(roots, tmp_path, fmt):
    cache = tmp_path / "cache"
    parsed = _build(roots, fmt, None)
    first, second = _build(roots, fmt, cache), _build(roots, fmt, cache)
    assert first.index_origin.startswith("built and cached at") and parsed.index_origin == "built (no index cache)"
    assert second.index_origin.startswith("loaded from the index cache")
    assert len(list(cache.glob("*.idx"))) == 1
    _assert_same_index(parsed, second)
    assert not second.index.boxes.flags.writeable  # read-only pages of the file, shared by forked workers


def _cache_file(cache: Path) -> Path:
    (path,) = cache.glob("*.idx")
    return path


def test_stale_cache_is_rebuilt_with_one_line(roots, tmp_path, caplog):
    cache = tmp_path / "cache"
    _build(roots, "lasot", cache)
    gt = roots / "lasot" / "cat" / "cat-1" / "groundtruth.txt"
    gt.write_text("7,8,9,10\n" + "".join(gt.read_text().splitlines(keepends=True)[1:]))
    with caplog.at_level(logging.WARNING, logger="lib.data.index_cache"):
        ds = _build(roots, "lasot", cache)
    assert ds.index_origin.startswith("rebuilt (stale: the annotation files changed")
    assert ds.sequence(0).name == "cat-1" and ds.sequence(0).boxes[0].tolist() == [7, 8, 9, 10]
    (record,) = caplog.records
    assert "is not used (stale" in record.getMessage() and "\n" not in record.getMessage()
    assert _build(roots, "lasot", cache).index_origin.startswith("loaded")


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda p: p.write_bytes(p.read_bytes()[:-100]), "truncated"),
        (lambda p: p.write_bytes(b"not an index at all"), "not an index cache file"),
        (lambda p: p.write_bytes(p.read_bytes()[:40]), "unreadable header"),
    ],
)
def test_truncated_or_garbage_cache_is_rebuilt(roots, tmp_path, damage, reason):
    cache = tmp_path / "cache"
    reference = _build(roots, "got10k", None)
    _build(roots, "got10k", cache)
    damage(_cache_file(cache))
    ds = _build(roots, "got10k", cache)
    assert ds.index_origin.startswith(f"rebuilt ({reason}") and ds.index_origin.endswith(str(_cache_file(cache)))
    _assert_same_index(reference, ds)


def test_cache_of_another_version_or_root_is_rebuilt(roots, tmp_path, monkeypatch):
    import shutil

    cache = tmp_path / "cache"
    first = _build(roots, "trackingnet", cache)
    here = _cache_file(cache)
    monkeypatch.setattr(index_cache, "FORMAT_VERSION", index_cache.FORMAT_VERSION + 1)
    assert _build(roots, "trackingnet", cache).index_origin.startswith("rebuilt (written by format 1")
    monkeypatch.setattr(index_cache, "project_version", lambda: "9.9")
    assert "this is format 2 / project 9.9" in _build(roots, "trackingnet", cache).index_origin
    # another root's cache file where this root's belongs (a copied cache folder, a moved dataset)
    shutil.copytree(roots / "trackingnet", tmp_path / "copy")
    copy = TrackingNet(FolderSource(tmp_path / "copy"), "present", index_cache=cache)
    there = next(p for p in cache.glob("*.idx") if p != here)
    shutil.copyfile(there, tmp_path / "foreign.idx")
    os.replace(tmp_path / "foreign.idx", here)
    again = _build(roots, "trackingnet", cache)
    assert again.index_origin.startswith("rebuilt (built for {'reader': 'TrackingNet'")
    assert str(tmp_path / "copy") in again.index_origin
    _assert_same_index(first, again)
    _assert_same_index(copy, again)


def _concurrent_build(args):
    root, cache, barrier = args
    barrier.wait()
    ds = Got10k(FolderSource(root), "train", "all", index_cache=cache)
    return ds.index_origin, ds.index.boxes.sum(), ds.index.visible.tolist()


def test_concurrent_builders_build_once_and_agree(roots, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    slow_write = index_cache.write_index_file

    def write_slowly(*args):  # widen the race window: both processes are inside load_or_build together
        import time

        time.sleep(0.5)
        slow_write(*args)

    monkeypatch.setattr(index_cache, "write_index_file", write_slowly)
    context = multiprocessing.get_context("fork")
    barrier = context.Manager().Barrier(2)
    with context.Pool(2) as pool:
        results = pool.map(_concurrent_build, [(roots / "got10k", cache, barrier)] * 2)
    origins = sorted(r[0].split(" and ")[0].split(" at ")[0] for r in results)
    assert origins[0] == "built" and origins[1].startswith("loaded from the index cache"), origins
    assert results[0][1:] == results[1][1:]
    assert sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock")) == [_cache_file(cache).name]


def test_unreadable_annotation_file_is_a_build_time_error(roots, tmp_path):
    (roots / "got10k" / "train" / "GOT-10k_Train_000005" / "absence.label").write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(DatasetError) as info:
        Got10k(FolderSource(roots / "got10k"), "train", "all", index_cache=tmp_path / "cache")
    message = str(info.value)
    assert "GOT-10k_Train_000005/absence.label: cannot read annotation file" in message and "\n" not in message
    assert not list((tmp_path / "cache").glob("*.idx"))  # nothing cached from a failed build


def test_parallel_parse_equals_serial_and_raises_the_first_error(roots):
    from lib.data.datasets.lasot import _parse_sequence

    source = FolderSource(roots / "lasot")
    items = [(n,) for n in ("cat-1", "cat-2", "dog-1", "dog-2")] * 5
    serial = parse_sequences(_parse_sequence, source, items, "t", workers=1)
    pooled = parse_sequences(_parse_sequence, source, items, "t", workers=2, min_parallel=1)
    joined = [type(serial[0]).concat(parts) for parts in (serial, pooled)]
    for key in joined[0].arrays:
        np.testing.assert_array_equal(joined[0].arrays[key], joined[1].arrays[key])
    (roots / "lasot" / "dog" / "dog-1" / "groundtruth.txt").write_text("1,2,3\n")
    with pytest.raises(DatasetError, match=r"dog-1/groundtruth\.txt line 1: expected 4 numbers"):
        parse_sequences(_parse_sequence, source, items, "t", workers=2, min_parallel=1)


@pytest.mark.parametrize(
    "text",
    ["1,2,3,4\n5.5,6.25,7,8\n", "1,2,3,4", "1,2,3,4\n\n\n", "1\t2\t3\t4\n5 6 7 8\n", "1,2,3,4,\n", "nan,nan,nan,nan\n1e3,2,3,4\n",
     "0.1,0.2,0.3,0.7\r\n1,2,3,4\r\n", " 1, 2 ,3,4\n"],
)  # fmt: skip
def test_fast_box_parse_equals_the_line_parser(text):
    from lib.data.datasets.base import _parse_box_lines

    np.testing.assert_array_equal(parse_boxes(text, "x"), _parse_box_lines(text, "x"))


@pytest.mark.parametrize("text", ["1,2,3,4\n\n5,6,7,8\n", "1,2,3\n4,5,6,7,8\n", "1,2,x,4\n"])
def test_fast_box_parse_never_accepts_what_the_line_parser_rejects(text):
    with pytest.raises(DatasetError, match="x line"):
        parse_boxes(text, "x")


def test_index_cache_folder_defaults_beside_the_checkpoints(tmp_path):
    settings = LocalSettings(save_dir=str(tmp_path / "runs"), data_dir=str(tmp_path / "data"))
    assert Path(settings.index_cache_dir) == tmp_path / "runs" / "checkpoints" / "index_cache"
    assert LocalSettings(index_cache_dir="/x/y").index_cache_dir == "/x/y"


def test_build_index_script_then_check_datasets_report_the_cache(roots, tmp_path, capsys):
    import runpy

    from lib.config.loader import PROJECT_ROOT

    opts = ["--opts", f"data_dir={roots}", f"index_cache_dir={tmp_path / 'cache'}"]
    build = runpy.run_path(str(PROJECT_ROOT / "scripts" / "build_index.py"), run_name="build_index")["main"]
    assert build(["--datasets", "GOT10K_all", "LASOT_all", "--coco_min_size", "30", *opts]) == 0
    out = capsys.readouterr().out
    assert "GOT10K_all: 4 sequences, 96 frames; built and cached at" in out and "LASOT_all: 4 sequences" in out
    assert build(["--datasets", "GOT10K_all", *opts]) == 0
    assert "GOT10K_all: 4 sequences, 96 frames; loaded from the index cache" in capsys.readouterr().out
    assert build(["--datasets", "GOT10K_votval", *opts]) == 2  # the official split does not resolve here
    assert "GOT10K_votval" not in capsys.readouterr().out

    check = runpy.run_path(str(PROJECT_ROOT / "tracking" / "check_datasets.py"), run_name="check")["main"]
    check(["--datasets", "GOT10K_all", "--out", str(tmp_path / "grid.png"), "--samples", "2",
           "--template_size", "64", "--search_size", "128", *opts])  # fmt: skip
    line = next(s for s in capsys.readouterr().out.splitlines() if s.startswith("GOT10K_all: OK, 4 sequences, 96 frames,"))
    assert "; index loaded from the index cache" in line


def test_coco_polygons_are_skipped_without_changing_the_index():
    import json

    from lib.data.datasets.coco import parse_instances

    images = [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "b.jpg"}]
    annotations = [
        {"segmentation": [[1.5, 2, 3, 4], [5, 6]], "iscrowd": 0, "image_id": 2, "bbox": [1, 2, 60, 70], "id": 5},
        {"segmentation": {"counts": [1, 2], "size": [9, 9]}, "iscrowd": 1, "image_id": 1, "bbox": [1, 2, 90, 90], "id": 6},
        {"segmentation": [], "iscrowd": 0, "image_id": 1, "bbox": [3.25, 4, 55, 51], "id": 7},
    ]
    with_polygons = json.dumps({"images": images, "annotations": annotations}).encode()
    for ann in annotations:
        ann.pop("segmentation")
    without = json.dumps({"images": images, "annotations": annotations}).encode()
    (a, small_a), (b, small_b) = parse_instances(with_polygons, "x", 50.0), parse_instances(without, "x", 50.0)
    assert small_a == small_b == 0 and a.names.tolist() == [b"5", b"7"]
    assert a.boxes.tolist() == b.boxes.tolist() == [[1, 2, 60, 70], [3.25, 4, 55, 51]]
    assert [a.arrays["file_names"][i] for i in a.arrays["image"]] == [b"b.jpg", b"a.jpg"]


def test_sequences_given_whole_keep_their_frame_keys():
    from lib.data.datasets.base import SequenceData, TrackingDataset

    boxes = np.array([[1.0, 2, 3, 4], [1, 2, 0, 4]])
    given = [SequenceData("a", ["x/1.png", "x/2.png"], boxes, np.array([True, False])),
             SequenceData("b", ["y/1.png", "y/2.png"], boxes, np.array([False, False]))]  # fmt: skip
    ds = TrackingDataset(FolderSource(Path(__file__).parent))
    ds.sequences = given  # as a test split: every sequence kept
    assert [s.name for s in ds.sequences] == ["a", "b"] and list(ds.sequences[1].frames) == ["y/1.png", "y/2.png"]
    ds._set_sequences(given)  # as a training split: the never-visible one is excluded
    assert len(ds) == 1 and ds.frame_path(0, 1).endswith("x/2.png") and ds.visible_counts.tolist() == [1]
    assert ds.sequence(0).boxes.tolist() == boxes.tolist()
