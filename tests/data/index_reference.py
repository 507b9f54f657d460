"""The pinned behaviour of the dataset readers: tiny sets in the four layouts and what the readers made of them.

``python -m tests.data.index_reference`` was run ONCE on the readers as they were before the compact
index (issue 15) and wrote ``index_reference.json``; ``test_index_parity.py`` rebuilds the same sets and
checks that sequences, boxes, visibility, frame keys, test sequences and sampled batches are unchanged.
The sets are written here, not by lib.data.synthetic, so the reference does not move when the generator's
rendering changes. Frames are
PNG bytes in ``.jpg`` files (OpenCV decodes by content; PNG is lossless, so decoding is exact everywhere).
Edge cases on purpose: a GOT-10k sequence without ``cover.label``, one never visible (excluded), one
too short to sample; a LaSOT sequence without ``out_of_view.txt``; TrackingNet frames past ``9.jpg``;
COCO crowd and small boxes.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

WIDTH, HEIGHT = 128, 96

REFERENCE = Path(__file__).with_name("index_reference.json")
DATASETS = ["GOT10K_all", "GOT10K_official_val", "LASOT_all", "TRACKINGNET_all", "COCO17"]
BENCHMARKS = ["got10k_test", "got10k_val", "lasot_all", "trackingnet"]


def _frame(rng: np.random.Generator) -> bytes:
    small = rng.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    ok, data = cv2.imencode(".png", cv2.resize(small, (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR))
    assert ok
    return data.tobytes()


def _boxes(rng: np.random.Generator, n: int, decimals: int) -> np.ndarray:
    w = rng.uniform(20, 60, n)
    h = rng.uniform(20, 50, n)
    x = rng.uniform(0, WIDTH - w)
    y = rng.uniform(0, HEIGHT - h)
    return np.round(np.stack([x, y, w, h], axis=1), decimals)


def _box_text(boxes: np.ndarray, decimals: int) -> str:
    return "".join(",".join(f"{v:.{decimals}f}" if decimals else f"{int(v)}" for v in row) + "\n" for row in boxes)


def _frames(folder: Path, names: list[str], rng: np.random.Generator) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(_frame(rng))


def write_got10k(root: Path, rng: np.random.Generator) -> None:
    plan = {
        "train": [("GOT-10k_Train_000001", 30), ("GOT-10k_Train_000002", 26), ("GOT-10k_Train_000003", 24),
                  ("GOT-10k_Train_000004", 12), ("GOT-10k_Train_000005", 28)],
        "val": [("GOT-10k_Val_000001", 25), ("GOT-10k_Val_000002", 22)],
        "test": [("GOT-10k_Test_000001", 21), ("GOT-10k_Test_000002", 23)],
    }  # fmt: skip
    for split, sequences in plan.items():
        (root / split).mkdir(parents=True, exist_ok=True)
        (root / split / "list.txt").write_text("".join(f"{name}\n" for name, _ in sequences))
        for number, (name, n) in enumerate(sequences, start=1):
            folder = root / split / name
            _frames(folder, [f"{i:08d}.jpg" for i in range(1, n + 1)], rng)
            boxes = _boxes(rng, n, 4)
            (folder / "groundtruth.txt").write_text(_box_text(boxes[:1] if split == "test" else boxes, 4))
            (folder / "meta_info.ini").write_text(f"[METAINFO]\nresolution: ({WIDTH}, {HEIGHT})\n")
            if split == "test":
                continue
            absence = (rng.random(n) < 0.15).astype(int)
            cover = rng.integers(0, 9, n) * (rng.random(n) < 0.9)
            if split == "train" and number == 3:
                absence[:] = 1  # never visible: excluded
            (folder / "absence.label").write_text("".join(f"{v}\n" for v in absence))
            if not (split == "train" and number == 2):  # one sequence without cover.label
                (folder / "cover.label").write_text("".join(f"{v}\n" for v in cover))


def write_lasot(root: Path, rng: np.random.Generator) -> None:
    for cls in ("cat", "dog"):
        for number, n in ((1, 25), (2, 31)):
            name = f"{cls}-{number}"
            folder = root / cls / name
            _frames(folder / "img", [f"{i:08d}.jpg" for i in range(1, n + 1)], rng)
            (folder / "groundtruth.txt").write_text(_box_text(np.round(_boxes(rng, n, 0)), 0))
            occlusion = (rng.random(n) < 0.1).astype(int)
            (folder / "full_occlusion.txt").write_text(",".join(str(v) for v in occlusion) + "\n")
            if name != "dog-2":
                out_of_view = (rng.random(n) < 0.1).astype(int)
                (folder / "out_of_view.txt").write_text(",".join(str(v) for v in out_of_view) + "\n")


def write_trackingnet(root: Path, rng: np.random.Generator) -> None:
    plan = {"TRAIN_0": [("aaa_0", 24), ("abc_1", 27)], "TRAIN_1": [("zzz_0", 22), ("b2_3", 30)], "TEST": [("tst_0", 21)]}
    for chunk, sequences in plan.items():
        (root / chunk / "anno").mkdir(parents=True, exist_ok=True)
        for name, n in sequences:
            _frames(root / chunk / "frames" / name, [f"{i}.jpg" for i in range(n)], rng)
            boxes = _boxes(rng, n, 2)
            if chunk != "TEST":
                boxes[rng.integers(0, n, 2), 2] = 0.0  # TrackingNet marks absence with empty boxes
            (root / chunk / "anno" / f"{name}.txt").write_text(_box_text(boxes[:1] if chunk == "TEST" else boxes, 2))


def write_coco(root: Path, rng: np.random.Generator) -> None:
    images, annotations = [], []
    for image_id in (7, 3, 12, 5):
        file_name = f"{image_id:012d}.jpg"
        _frames(root / "images" / "train2017", [file_name], rng)
        images.append({"id": image_id, "file_name": file_name, "width": WIDTH, "height": HEIGHT})
        for k in range(3):
            w, h = float(rng.uniform(10, 90)), float(rng.uniform(10, 70))
            bbox = [round(float(rng.uniform(0, WIDTH - w)), 2), round(float(rng.uniform(0, HEIGHT - h)), 2), round(w, 2), round(h, 2)]
            annotations.append({"id": 100 * image_id + k, "image_id": image_id, "bbox": bbox, "iscrowd": int(k == 2 and image_id == 3),
                                "category_id": 1, "area": w * h})  # fmt: skip
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "annotations" / "instances_train2017.json").write_text(json.dumps({"images": images, "annotations": annotations}))


def write_all(root: Path) -> Path:
    """The four layouts under ``root/{got10k,lasot,trackingnet,coco}``; returns ``root``."""
    for offset, (name, writer) in enumerate(
        (("got10k", write_got10k), ("lasot", write_lasot), ("trackingnet", write_trackingnet), ("coco", write_coco))
    ):
        writer(root / name, np.random.default_rng(100 + offset))
    return root


def _bits(values) -> str:
    return "".join("1" if v else "0" for v in values)


def _sequence_record(name, frames, boxes, visible, flag_visible=None, cover=None, extra=None) -> dict:
    return {
        "name": name,
        "frames": list(frames),
        "boxes": [[None if np.isnan(v) else float(v) for v in row] for row in np.asarray(boxes)],
        "visible": None if visible is None else _bits(visible),
        "flag_visible": None if flag_visible is None else _bits(flag_visible),
        "cover": None if cover is None else [int(v) for v in cover],
        **(extra or {}),
    }


def _sample_record(sample: dict) -> dict:
    from lib.data.processing import normalize_images

    sample = normalize_images(sample)
    meta = sample["meta"]
    return {
        "dataset": meta["dataset"],
        "sequence": meta["sequence"],
        "template_ids": meta["template_ids"].tolist(),
        "search_sequence": meta["search_sequence"],
        "search_ids": meta["search_ids"].tolist(),
        "template_boxes": sample["template_boxes"].double().tolist(),
        "search_boxes": sample["search_boxes"].double().tolist(),
        "template_sum": float(sample["template_images"].double().sum()),
        "search_sum": float(sample["search_images"].double().sum()),
        "mask_sums": [int(sample["template_masks"].sum()), int(sample["search_masks"].sum())],
    }


def record(root: Path) -> dict:
    """What the readers and the sampler make of the sets under ``root`` (JSON-ready)."""
    from lib.config import LocalSettings
    from lib.config.schema import Config
    from lib.data.loader import build_sampler
    from lib.data.registry import build_dataset, load_test_sequences

    settings = LocalSettings(data_dir=str(root), save_dir=str(root / "out"), workspace_dir=str(root / "out"))
    out: dict = {"datasets": {}, "benchmarks": {}, "samples": {}}
    for name in DATASETS:
        for min_size in (0.0, 30.0) if name == "COCO17" else (50.0,):
            ds = build_dataset(name, settings, coco_min_size=min_size)
            out["datasets"][f"{name}@{min_size:g}"] = [
                _sequence_record(s.name, s.frames, s.boxes, s.visible, s.flag_visible, s.cover) for s in ds.sequences
            ]
    for benchmark in BENCHMARKS:
        out["benchmarks"][benchmark] = [
            _sequence_record(
                s.name, s.frames, s.ground_truth, s.target_visible, None, s.cover,
                {"dataset": s.dataset, "image_size": None if s.image_size is None else list(s.image_size)},
            )  # fmt: skip
            for s in load_test_sequences(benchmark, settings)
        ]
    for mode, templates in (("causal", 1), ("trident", 2), ("trident_pro", 2)):
        cfg = Config()
        cfg.data.train.datasets_name = ["GOT10K_all", "LASOT_all", "TRACKINGNET_all", "COCO17"]
        cfg.data.train.datasets_ratio = [1.0, 1.0, 1.0, 1.0]
        cfg.data.train.sample_per_epoch = 24
        cfg.data.coco_min_size = 30.0
        cfg.data.sampler_mode, cfg.data.template.number = mode, templates
        cfg.data.template.size, cfg.data.search.size = 64, 128
        cfg.train.seed = 11
        sampler = build_sampler(cfg, settings, "train", return_meta=True)
        out["samples"][mode] = [_sample_record(sampler[(epoch, index)]) for epoch in (0, 3) for index in range(12)]
    return out


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        reference = record(write_all(Path(tmp)))
    REFERENCE.write_text(json.dumps(reference, indent=1) + "\n")
    print(f"wrote {REFERENCE}")
