"""The tracker: geometry against a hand-made case, boxes on a generated video, template-update schedule."""

import numpy as np
import pytest
import torch

from lib.data.synthetic import difficulty_options, render_sequence
from lib.tracker import StarkTracker, clip_box, map_box_back, update_intervals


def test_map_back_uses_unrounded_centre_and_half_crop():
    # previous state centre (120.25, 60.5); crop side = search_size / resize_factor = 128 / 0.5 = 256
    box = map_box_back([128.0, 128.0, 64.0, 64.0], [100.25, 50.5, 40.0, 20.0], 128, 0.5)
    # cx = 128 + (120.25 - 128) = 120.25 -> x = 88.25; cy = 128 + (60.5 - 128) = 60.5 -> y = 28.5
    assert box == [88.25, 28.5, 64.0, 64.0]


def test_clip_box_margin_10():
    assert clip_box([88.0, 28.0, 64.0, 64.0], 100, 150) == [88.0, 28.0, 62.0, 64.0]  # x2 152 -> 150
    assert clip_box([-30.0, 95.0, 20.0, 20.0], 100, 150) == [0, 90, 10, 10]  # x2 -10 -> 10; y1 95 -> 90
    assert clip_box([145.0, 10.0, 2.0, 2.0], 100, 150) == [140, 10.0, 10, 10]  # x1 -> W - 10, w >= 10


def test_update_interval_lookup(tiny_st):
    cfg, _ = tiny_st
    assert update_intervals(cfg, "trackingnet") == [25]
    assert update_intervals(cfg, "lasot") == [200]
    assert update_intervals(cfg, "folder") == cfg.data.max_sample_interval == [200]


class _FixedDecode:
    """Replace ``model.decode`` by fixed normalised boxes / logits, one per call."""

    def __init__(self, boxes, logit=None):
        self.boxes = list(boxes)
        self.logit = logit
        self.calls = 0

    def __call__(
        self, templates, search, run_box_head=True, run_cls_head=False, return_attention=False, previous_query=None
    ):
        box = self.boxes[min(self.calls, len(self.boxes) - 1)]
        self.calls += 1
        out = {"pred_boxes": torch.tensor(box, dtype=torch.float32).view(1, 1, 4)}
        if run_cls_head:
            out["pred_logits"] = torch.full((1, 1, 1), float(self.logit))
        return out


def test_crop_predict_map_back_hand_case(tiny_s, monkeypatch):
    cfg, model = tiny_s
    tracker = StarkTracker(cfg, model, "lasot")
    fake = _FixedDecode([[0.625, 0.5, 0.25, 0.25], [1.0, 0.5, 0.2, 0.25]])
    monkeypatch.setattr(model, "decode", fake)
    image = np.zeros((200, 250, 3), dtype=np.uint8)
    tracker.initialize(image, {"init_bbox": [100, 80, 40, 40]})
    # search crop side ceil(40 * 5) = 200 -> resize factor 128 / 200 = 0.64; boxes scale by 200 px
    # frame 1: (125, 100, 50, 50) in the crop; prev centre (120, 100), crop origin 120 - 100 = 20
    out = tracker.track(image)
    assert out["target_bbox"] == pytest.approx([120.0, 75.0, 50.0, 50.0], abs=1e-4)
    assert "conf_score" not in out  # STARK-S has no score head
    # frame 2: crop side ceil(50 * 5) = 250; centre (145, 100); (250, 125, 50, 62.5) in the crop
    # cx = 250 + 145 - 125 = 270 -> x1 245, x2 295 clipped to W = 250 -> w = 250 - 240 (x1 <= W - 10)
    out = tracker.track(image)
    assert out["target_bbox"] == pytest.approx([240.0, 100 - 31.25, 10.0, 62.5], abs=1e-4)


def test_tracks_generated_sequence_inside_image(tiny_s):
    cfg, model = tiny_s
    seq = render_sequence(np.random.default_rng(0), 8, difficulty_options("easy", width=160, height=120))
    tracker = StarkTracker(cfg, model, "got10k_test")
    boxes = [tracker.initialize(seq.frames[0], {"init_bbox": seq.boxes[0].tolist()})["target_bbox"]]
    boxes += [tracker.track(frame)["target_bbox"] for frame in seq.frames[1:]]
    boxes = np.asarray(boxes)
    assert boxes.shape == (8, 4) and np.isfinite(boxes).all()
    tracked = boxes[1:]
    assert (tracked[:, 0] >= 0).all() and (tracked[:, 1] >= 0).all()
    assert (tracked[:, 0] + tracked[:, 2] <= 160 + 1e-6).all() and (tracked[:, 1] + tracked[:, 3] <= 120 + 1e-6).all()
    assert (tracked[:, 2] >= 10).all() and (tracked[:, 3] >= 10).all()


def _set_score_logit(model, logit):
    last = model.cls_head.layers[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(logit)


@pytest.mark.parametrize("logit, expected", [(4.0, [3, 6]), (-4.0, []), (0.0, [])])
def test_template_update_schedule(tiny_st, logit, expected):
    cfg, model = tiny_st
    _set_score_logit(model, logit)
    cfg.test.update_intervals["LASOT"] = [3]
    try:
        tracker = StarkTracker(cfg, model, "lasot")
        image = np.random.default_rng(1).integers(0, 255, size=(96, 128, 3), dtype=np.uint8)
        tracker.initialize(image, {"init_bbox": [40, 30, 30, 24]})
        initial = tracker.templates[0]
        assert len(tracker.templates) == 2 and tracker.templates[1] is initial  # dynamic starts as a copy
        updates = []
        for _ in range(7):
            before = tracker.templates[1]
            out = tracker.track(image)
            if tracker.templates[1] is not before:
                updates.append(tracker.frame_id)
            # sigmoid(0) = 0.5 is not > tau = 0.5: strict comparison
            assert out["conf_score"] == pytest.approx(float(torch.sigmoid(torch.tensor(logit))))
        assert updates == expected
        assert tracker.templates[0] is initial  # the initial template never changes
    finally:
        cfg.test.update_intervals["LASOT"] = [200]


def test_new_template_is_cropped_around_new_state(tiny_st, monkeypatch):
    cfg, model = tiny_st
    _set_score_logit(model, 4.0)
    cfg.test.update_intervals["LASOT"] = [1]
    try:
        tracker = StarkTracker(cfg, model, "lasot")
        crops = []
        original = tracker._template
        monkeypatch.setattr(tracker, "_template", lambda image, box: crops.append(list(box)) or original(image, box))
        image = np.zeros((96, 128, 3), dtype=np.uint8)
        tracker.initialize(image, {"init_bbox": [40, 30, 30, 24]})
        out = tracker.track(image)
        assert crops == [[40.0, 30.0, 30.0, 24.0], out["target_bbox"]]
    finally:
        cfg.test.update_intervals["LASOT"] = [200]


def test_bf16_autocast_runs(tiny_s):
    cfg, model = tiny_s
    tracker = StarkTracker(cfg, model, "lasot", amp="bf16")
    image = np.zeros((96, 128, 3), dtype=np.uint8)
    tracker.initialize(image, {"init_bbox": [40, 30, 30, 24]})
    assert np.isfinite(tracker.track(image)["target_bbox"]).all()
