"""Sampler invariants: gaps and ordering per mode, stage-2 negatives, determinism, disjoint ranks."""

import cv2
import numpy as np
import pytest
import torch

from lib.data.datasets.base import SequenceData, TrackingDataset
from lib.data.errors import DatasetError, SamplingError
from lib.data.loader import EpochIndexSampler, build_data_loader, build_sampler
from lib.data.processing import CropSpec, StarkProcessing, normalize_images
from lib.data.sampler import SamplerOptions, TrackingSampleDataset, last_seen_frame, sample_visible_ids

from .conftest import tiny_config


class ArrayDataset(TrackingDataset):
    """Sequences of plain frames held in memory; frame f of sequence s shows a bright square at boxes[f]."""

    def __init__(self, visibles, name="mem", length=None):
        super().__init__(source=None)
        self.name = name
        rng = np.random.default_rng(0)
        sequences = []
        for s, visible in enumerate(visibles):
            n = len(visible)
            xy = rng.uniform(20, 60, size=(n, 2))
            boxes = np.concatenate([xy, np.full((n, 2), 16.0)], axis=1)
            sequences.append(SequenceData(f"seq{s}", [f"{s}/{f}" for f in range(n)], boxes, np.asarray(visible)))
        self._set_sequences(sequences)
        self.reads = []

    def read_frame(self, seq_index, frame):
        self.reads.append((seq_index, frame))
        image = np.full((96, 96, 3), 40, dtype=np.uint8)
        x, y, w, h = self.sequences[seq_index].boxes[frame].astype(int)
        if self.sequences[seq_index].visible[frame]:
            image[y : y + h, x : x + w] = 220
        return image


def _processing():
    return StarkProcessing(CropSpec(32, 2.0, 0, 0), CropSpec(64, 4.0, 0.5, 0.1), [0.5] * 3, [0.25] * 3)


def _sampler(datasets, mode="causal", templates=1, intervals=(10,), train_cls=False, redraws=50):
    opts = SamplerOptions(mode=mode, num_templates=templates, max_intervals=intervals, train_cls=train_cls,
                          max_redraws=redraws, return_meta=True)  # fmt: skip
    return TrackingSampleDataset(datasets, [1.0] * len(datasets), 64, _processing(), opts, seed=5)


def test_sample_visible_ids_respects_range_and_visibility():
    rng = np.random.default_rng(0)
    visible = np.array([True, False, True, True, False, True])
    for _ in range(50):
        ids = sample_visible_ids(visible, rng, 3, 1, 4)
        assert all(i in (2, 3) for i in ids)
        assert sample_visible_ids(visible, rng, 1, force_invisible=True)[0] in (1, 4)
    assert sample_visible_ids(visible, rng, 1, 4, 5) is None
    assert sample_visible_ids(visible, rng, 1, 4, 5, allow_invisible=True) == [4]
    assert sample_visible_ids(visible, rng, 0) == []


def test_causal_order_and_gap():
    visible = np.ones(60, dtype=bool)
    visible[::7] = False
    sampler = _sampler([ArrayDataset([visible] * 3)], "causal", intervals=(10,))
    for index in range(40):
        meta = sampler[(0, index)]["meta"]
        t, s = int(meta["template_ids"][0]), int(meta["search_ids"][0])
        # search strictly after the template, within the gap (+5 per failed widening; never needed here)
        assert t < s < t + 10 + 5 * 3
        assert visible[t] and visible[s]


@pytest.mark.parametrize("mode", ["trident", "trident_pro"])
def test_trident_dynamic_template_side_and_gap(mode):
    visible = np.ones(80, dtype=bool)
    visible[10:30] = False
    sampler = _sampler([ArrayDataset([visible] * 2)], mode, templates=2, intervals=(12,))
    saw_invisible = False
    for index in range(60):
        meta = sampler[(0, index)]["meta"]
        first, dynamic = (int(v) for v in meta["template_ids"])
        search = int(meta["search_ids"][0])
        assert visible[first] and visible[search]
        if first >= search:
            assert search <= dynamic < search + 12
        else:
            assert search - 12 <= dynamic < search
        saw_invisible |= not visible[dynamic]
        if mode == "trident":
            assert visible[dynamic]
    assert saw_invisible == (mode == "trident_pro")


def test_stage2_negatives_lack_the_target():
    with_gaps = np.ones(40, dtype=bool)
    with_gaps[20:30] = False
    always = np.ones(40, dtype=bool)
    ds = ArrayDataset([with_gaps, always, always])
    sampler = _sampler([ds], "trident_pro", templates=2, intervals=(10,), train_cls=True)
    labels = []
    for index in range(60):
        sample = sampler[(0, index)]
        meta, label = sample["meta"], float(sample["label"])
        labels.append(label)
        seq = int(meta["sequence"][3:])
        search_seq, search = int(meta["search_sequence"][3:]), int(meta["search_ids"][0])
        if label == 1.0:
            assert search_seq == seq and ds.sequences[seq].visible[search]
        elif search_seq == seq:
            # same video: a frame where the target is invisible
            assert not ds.sequences[seq].visible[search]
        else:
            assert search_seq != seq  # another video: its own object, not this target
    assert 10 < sum(labels) < 50


def test_stage2_negatives_can_be_restricted_to_target_absent_frames():
    with_gaps = np.ones(40, dtype=bool)
    with_gaps[20:30] = False
    always = np.ones(40, dtype=bool)
    ds = ArrayDataset([with_gaps, always, always])
    opts = SamplerOptions(mode="trident_pro", num_templates=2, max_intervals=(10,), train_cls=True,
                          negatives_from_other_sequences=False, return_meta=True)  # fmt: skip
    sampler = TrackingSampleDataset([ds], [1.0], 64, _processing(), opts, seed=5)
    negatives = 0
    for index in range(60):
        sample = sampler[(0, index)]
        if float(sample["label"]) == 0.0:
            negatives += 1
            meta = sample["meta"]
            assert meta["search_sequence"] == meta["sequence"] == "seq0"  # the only video with absent frames
            assert not ds.sequences[0].visible[int(meta["search_ids"][0])]
    assert 20 < negatives < 40  # the label is drawn first: a missing absent frame does not tilt the balance
    with pytest.raises(DatasetError, match="negatives_from_other_sequences=false needs videos"):
        TrackingSampleDataset([ArrayDataset([always, always])], [1.0], 64, _processing(), opts, seed=5)


def test_same_key_same_sample_and_epochs_differ():
    ds = ArrayDataset([np.ones(40, dtype=bool)] * 4)
    a, b = _sampler([ds]), _sampler([ds])
    for key in [(0, 3), (2, 17)]:
        x, y = normalize_images(a[key]), normalize_images(b[key])
        for name in ("template_images", "search_images", "search_boxes", "search_masks"):
            assert torch.equal(x[name], y[name])
    assert not torch.equal(a[(0, 3)]["search_pixels"], a[(1, 3)]["search_pixels"])
    a.set_epoch(2)
    assert torch.equal(normalize_images(a[17])["search_images"], normalize_images(b[(2, 17)])["search_images"])


def test_ranks_take_disjoint_indices_and_epoch_length():
    ranks = [list(EpochIndexSampler(12, rank, 3)) for rank in range(3)]
    indices = [i for r in ranks for _, i in r]
    assert len(indices) == len(set(indices)) == 36
    assert all(epoch == 0 for r in ranks for epoch, _ in r)


def test_loader_batches_and_resume(settings):
    cfg = tiny_config()
    loader = build_data_loader(cfg, settings, "train", rank=0, world_size=1)
    assert len(loader) == 16 // 4
    loader.set_epoch(1)
    raw = next(iter(loader))
    # workers hand over uint8 crops with one lookup table per crop; normalize_images makes the float images
    assert raw["template_pixels"].shape == (4, 1, 64, 64, 3) and raw["template_pixels"].dtype == torch.uint8
    assert raw["search_lut"].shape == (4, 3, 256) and "search_images" not in raw
    first = normalize_images(raw)
    assert first["template_images"].shape == (4, 1, 3, 64, 64) and first["template_masks"].dtype == torch.bool
    assert first["search_images"].shape == (4, 3, 128, 128) and first["search_boxes"].shape == (4, 4)
    # a fresh loader (a resumed run) draws the same batch for the same epoch
    again = build_data_loader(cfg, settings, "train")
    again.set_epoch(1)
    assert torch.equal(normalize_images(next(iter(again)))["search_images"], first["search_images"])
    # two ranks draw different samples
    other = build_data_loader(cfg, settings, "train", rank=1, world_size=2)
    other.set_epoch(1)
    assert len(other) == 16 // 8
    assert not torch.equal(normalize_images(next(iter(other)))["search_images"], first["search_images"][:4])


def test_a_loader_with_workers_leaves_no_opencv_thread_pool_to_fork(settings):
    # a worker forked while OpenCV's pool is up hung in its first OpenCV call (2 of 3 forks, reproduced)
    cfg = tiny_config()
    cfg.train.num_worker = 1
    previous = cv2.getNumThreads()
    try:
        cv2.setNumThreads(2)
        cv2.resize(np.zeros((1080, 1920, 3), np.uint8), (640, 640))  # starts the pool
        build_data_loader(cfg, settings, "train")
        assert cv2.getNumThreads() == 1
    finally:
        cv2.setNumThreads(previous)


def test_stage2_loader_has_labels(settings):
    cfg = tiny_config(sampler_mode="trident_pro")
    cfg.data.template.number = 2
    cfg.model.score_head = True
    cfg.train.objective = "score"  # its samples carry presence labels
    batch = normalize_images(next(iter(build_data_loader(cfg, settings, "train"))))
    assert batch["template_images"].shape[1] == 2 and batch["label"].shape == (4,)
    assert set(batch["label"].tolist()) <= {0.0, 1.0}


def test_bounded_redraws_name_the_failing_sequence():
    class TinyBoxes(ArrayDataset):
        def __init__(self):
            super().__init__([np.ones(30, dtype=bool)], name="TINY")
            self.sequences[0].boxes[:, 2:] = 0.0  # no crop possible: processing rejects every draw

    sampler = _sampler([TinyBoxes()], redraws=5)
    with pytest.raises(SamplingError, match=r"6 draws failed; most often TINY/seq0"):
        sampler[(0, 0)]


def test_sequences_too_short_are_not_sampled():
    ds = ArrayDataset([np.ones(10, dtype=bool), np.ones(30, dtype=bool)])
    sampler = _sampler([ds])
    assert list(sampler.eligible[0]) == [1]
    with pytest.raises(DatasetError, match="no sequence has >= 20 frames"):
        _sampler([ArrayDataset([np.ones(10, dtype=bool)])])


def test_dataset_ratio(settings):
    cfg = tiny_config()
    cfg.data.train.datasets_name = ["GOT10K_all", "LASOT_all"]
    cfg.data.train.datasets_ratio = [3.0, 1.0]
    sampler = build_sampler(cfg, settings, "train", return_meta=True)
    names = [sampler[(0, i)]["meta"]["dataset"] for i in range(80)]
    share = names.count("GOT10K_all") / len(names)
    assert 0.6 < share < 0.9


def test_val_loader_and_worker_lmdb_cache_give_the_same_batches(data_root, settings, tmp_path):
    from lib.config import LocalSettings
    from lib.data.lmdb_builder import build_lmdb

    cfg = tiny_config()
    val = build_data_loader(cfg, settings, "val")
    assert len(val) == 8 // 4
    val_batch = normalize_images(next(iter(val)))
    assert val_batch["search_images"].shape == (4, 3, 128, 128)

    build_lmdb(data_root / "got10k", tmp_path / "got10k_lmdb", "got10k", progress=False)
    reference = normalize_images(next(iter(build_data_loader(cfg, settings, "train"))))
    cfg.data.use_lmdb, cfg.data.cache_frames, cfg.train.num_worker = True, True, 1
    lmdb_settings = LocalSettings(data_dir=str(data_root), got10k_lmdb_dir=str(tmp_path / "got10k_lmdb"))
    loader = build_data_loader(cfg, lmdb_settings, "train")
    loader.set_epoch(0)
    batch = normalize_images(next(iter(loader)))
    for key in ("template_images", "search_images", "search_boxes", "search_masks"):
        assert torch.equal(batch[key], reference[key])


def test_last_seen_frame_is_the_nearest_visible_frame_before_else_after():
    visible = np.array([False, False, True, True, False, False, True, False])
    assert last_seen_frame(visible, 4) == 3
    assert last_seen_frame(visible, 5) == 3
    assert last_seen_frame(visible, 7) == 6
    assert last_seen_frame(visible, 1) == 2  # nothing visible before: the first one after
    assert last_seen_frame(visible, 0) == 2


@pytest.mark.parametrize("where", ["centre", "last_seen"])
def test_absent_frame_negatives_are_cropped_where_configured(where):
    visible = np.ones(40, dtype=bool)
    visible[20:30] = False
    ds = ArrayDataset([visible, np.ones(40, dtype=bool)])
    processing = _processing()
    cropped_at = []

    def recording(templates, template_boxes, searches, search_boxes, rng):
        cropped_at.append(np.array(search_boxes[0]))
        return processing(templates, template_boxes, searches, search_boxes, rng)

    opts = SamplerOptions(mode="trident_pro", num_templates=2, max_intervals=(10,), train_cls=True,
                          negatives_from_other_sequences=False, absent_negative_box=where, return_meta=True)  # fmt: skip
    sampler = TrackingSampleDataset([ds], [1.0], 64, recording, opts, seed=5)
    negatives = 0
    for index in range(30):
        sample = sampler[(0, index)]
        if float(sample["label"]) == 0.0:
            negatives += 1
            frame = int(sample["meta"]["search_ids"][0])
            assert 20 <= frame < 30
            # ArrayDataset frames are 96 x 96: the official dummy box is [48 - 6, 48 - 6, 12, 12]
            expected = ds.sequences[0].boxes[19] if where == "last_seen" else np.array([42.0, 42.0, 12.0, 12.0])
            np.testing.assert_array_equal(cropped_at[-1], expected)
    assert negatives > 5


def test_an_unknown_absent_negative_box_is_refused():
    opts = SamplerOptions(train_cls=True, absent_negative_box="middle")
    with pytest.raises(DatasetError, match="absent_negative_box 'middle' unknown; valid: centre, last_seen"):
        TrackingSampleDataset([ArrayDataset([np.ones(40, dtype=bool)])], [1.0], 8, _processing(), opts)


def test_cheaper_draws_are_the_same_draws():
    """The dataset pick (choice's cdf lookup), a single frame id (a scalar draw) and the seed words (a uint32
    array) give the numbers, and leave the generator in the state, of the calls they replace."""
    from lib.data.sampler import _seed_words

    visible = np.array([True, False, True, True, False, True] * 5)
    ratios = [1.0, 2.0, 0.5, 3.0]
    datasets = [ArrayDataset([np.ones(40, dtype=bool)] * 3)] * 4
    sampler = TrackingSampleDataset(datasets, ratios, 4, _processing(), SamplerOptions())
    for seed in range(300):
        words = _seed_words(7, seed % 3, seed)
        assert words.dtype == np.uint32
        fast, slow = np.random.default_rng(words), np.random.default_rng([7, seed % 3, seed])
        assert sampler._pick(fast)[0] == int(slow.choice(4, p=np.asarray(ratios) / sum(ratios)))
        slow.integers(0, len(sampler.eligible[0]))  # _pick's sequence draw
        window = np.flatnonzero(visible[3:27])
        assert sample_visible_ids(visible, fast, 1, 3, 27) == [3 + int(window[slow.integers(0, len(window), 1)][0])]
        assert fast.random() == slow.random()
    assert _seed_words(1, 2**40, 3) == [1, 2**40, 3]  # beyond 32 bits: SeedSequence converts the list itself
