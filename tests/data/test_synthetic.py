"""The generator writes each benchmark's layout, deterministically, with moving, occluded, absent targets."""

import json
from dataclasses import replace

import cv2
import numpy as np

from lib.data.synthetic import SyntheticOptions, _shape_mask, difficulty_options, generate_dataset, render_sequence


def test_got10k_layout(data_root):
    root = data_root / "got10k"
    names = (root / "train" / "list.txt").read_text().split()
    assert names == [f"GOT-10k_Train_{i:06d}" for i in range(1, 7)]
    seq = root / "train" / names[0]
    frames = sorted(seq.glob("*.jpg"))
    assert [f.name for f in frames[:2]] == ["00000001.jpg", "00000002.jpg"] and len(frames) == 30
    gt = np.loadtxt(seq / "groundtruth.txt", delimiter=",")
    assert gt.shape == (30, 4)
    for label in ("absence.label", "cover.label", "cut_by_image.label"):
        assert len((seq / label).read_text().split()) == 30
    cover = np.loadtxt(seq / "cover.label")
    assert cover.min() >= 0 and cover.max() <= 8
    assert (seq / "meta_info.ini").read_text().startswith("[METAINFO]")
    test_seq = root / "test" / (root / "test" / "list.txt").read_text().split()[0]
    assert len((test_seq / "groundtruth.txt").read_text().splitlines()) == 1
    assert len(list(test_seq.glob("*.jpg"))) == 30 and not (test_seq / "absence.label").exists()


def test_lasot_trackingnet_coco_layouts(data_root):
    seq = data_root / "lasot" / "airplane" / "airplane-1"
    assert (seq / "img" / "00000030.jpg").is_file() and (seq / "nlp.txt").is_file()
    flags = (seq / "full_occlusion.txt").read_text().strip().split(",")
    assert len(flags) == 30 and set(flags) <= {"0", "1"}
    assert len((seq / "groundtruth.txt").read_text().splitlines()) == 30
    tn = data_root / "trackingnet"
    annos = sorted((tn / "TRAIN_0" / "anno").glob("*.txt"))
    assert len(annos) == 2 and len(list((tn / "TRAIN_1" / "anno").glob("*.txt"))) == 2
    name = annos[0].stem
    assert (tn / "TRAIN_0" / "frames" / name / "0.jpg").is_file() and (
        tn / "TRAIN_0" / "frames" / name / "29.jpg"
    ).is_file()
    test_anno = next((tn / "TEST" / "anno").glob("*.txt"))
    assert len(test_anno.read_text().splitlines()) == 1
    data = json.loads((data_root / "coco" / "annotations" / "instances_train2017.json").read_text())
    assert len(data["images"]) == 6 and {"bbox", "iscrowd", "image_id"} <= set(data["annotations"][0])
    assert (data_root / "coco" / "images" / "train2017" / data["images"][0]["file_name"]).is_file()


def test_generator_is_deterministic(tmp_path):
    generate_dataset("got10k", tmp_path / "a", 1, 5, seed=9, val_sequences=0, test_sequences=0, width=96, height=72)
    generate_dataset("got10k", tmp_path / "b", 1, 5, seed=9, val_sequences=0, test_sequences=0, width=96, height=72)
    for name in ("00000005.jpg", "groundtruth.txt", "cover.label"):
        a = (tmp_path / "a" / "train" / "GOT-10k_Train_000001" / name).read_bytes()
        assert a == (tmp_path / "b" / "train" / "GOT-10k_Train_000001" / name).read_bytes()


def _iou(a, b):
    x1, y1 = np.maximum(a[:, 0], b[:, 0]), np.maximum(a[:, 1], b[:, 1])
    x2 = np.minimum(a[:, 0] + a[:, 2], b[:, 0] + b[:, 2])
    y2 = np.minimum(a[:, 1] + a[:, 3], b[:, 1] + b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    return inter / (a[:, 2] * a[:, 3] + b[:, 2] * b[:, 3] - inter)


def test_targets_move_and_get_occluded_and_absent():
    opts = SyntheticOptions(width=160, height=120, occlusion_events=4.0, absence_events=3.0)
    ious, occluded, absent = [], 0, 0
    for i in range(4):
        seq = render_sequence(np.random.default_rng(i), 100, opts)
        assert seq.boxes.shape == (100, 4) and len(seq.frames) == 100
        ious.append(_iou(seq.boxes, np.repeat(seq.boxes[:1], 100, 0)).mean())
        occluded += int(((seq.cover < 8) & ~seq.absent).sum())
        absent += int(seq.absent.sum())
        assert not seq.absent[:5].any() and (seq.cover[:5] == 8).all()
        assert (seq.cover[seq.absent] == 0).all()
        inside = (seq.boxes[:, 0] >= 0) & (seq.boxes[:, 0] + seq.boxes[:, 2] <= 160)
        assert inside.all()
    # repeating the first box overlaps the target poorly on average: the target leaves its initial box
    assert np.mean(ious) < 0.3
    assert occluded > 0 and absent > 0


def test_absent_target_is_not_drawn():
    opts = SyntheticOptions(width=160, height=120, absence_events=5.0, distractors=(0, 0), occlusion_events=0.0)
    seq = render_sequence(np.random.default_rng(1), 100, opts)
    index = int(np.flatnonzero(seq.absent)[0])
    x, y, w, h = seq.boxes[index].astype(int)
    background = render_sequence(np.random.default_rng(1), 1, opts).frames[0]  # same rng start -> same background
    region = seq.frames[index][y : y + h, x : x + w].astype(int) - background[y : y + h, x : x + w].astype(int)
    assert np.abs(region).max() == 0


def test_wide_preset_draws_each_sequence_differently(tmp_path):
    generate_dataset("got10k", tmp_path, 3, 6, seed=4, difficulty="wide", val_sequences=0, test_sequences=0)
    sizes = set()
    for name in (tmp_path / "train" / "list.txt").read_text().split():
        frame = cv2.imread(str(tmp_path / "train" / name / "00000001.jpg"))
        height, width = frame.shape[:2]
        assert width % 8 == 0 and height % 8 == 0 and 192 <= width <= 312
        assert f"resolution: ({width}, {height})" in (tmp_path / "train" / name / "meta_info.ini").read_text()
        sizes.add((width, height))
    assert len(sizes) == 3


def test_lighting_and_noise_change_an_otherwise_still_frame():
    still = SyntheticOptions(width=64, height=48, max_speed=0.0, acceleration=0.0, scale_rate=0.0, distractors=(0, 0),
                             occlusion_events=0.0, absence_events=0.0)  # fmt: skip
    plain = render_sequence(np.random.default_rng(2), 3, still).frames
    assert np.array_equal(plain[0], plain[2])
    lit = render_sequence(np.random.default_rng(2), 3, replace(still, lighting=0.5, noise=5.0)).frames
    assert not np.array_equal(lit[0], lit[2])


def test_shifted_preset_uses_its_own_texture_and_shape_families():
    opts = difficulty_options("shifted")
    assert (opts.width, opts.height) == (480, 360)
    wide = difficulty_options("wide")
    assert not set(opts.pattern_kinds) & set(wide.pattern_kinds) and not set(opts.shape_kinds) & set(wide.shape_kinds)
    triangle = _shape_mask(4, 9)
    assert triangle[0].tolist() == [0, 0, 0, 0, 1, 0, 0, 0, 0] and triangle[-1].all()
    diamond = _shape_mask(3, 9)
    assert diamond[4].all() and diamond[0].sum() == 1
