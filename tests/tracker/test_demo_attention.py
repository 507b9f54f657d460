"""Video demo (headless) and attention overlays."""

import runpy
import sys

import cv2
import numpy as np
import pytest

from lib.config.loader import PROJECT_ROOT
from lib.evaluation.results_io import read_boxes
from lib.models.checkpoint import save_official_checkpoint
from lib.tracker import StarkTracker
from lib.tracker.attention import attention_overlays, split_tokens
from tests.tracker.conftest import TINY, build_tiny


def test_split_tokens_row_major():
    weights = np.arange(4 + 9, dtype=float)
    template, search = split_tokens(weights, [(2, 2), (3, 3)])
    assert template.tolist() == [[0, 1], [2, 3]] and search[2, 0] == 10
    with pytest.raises(ValueError):
        split_tokens(weights, [(2, 2)])


def test_attention_overlays_st(tiny_st):
    cfg, model = tiny_st
    tracker = StarkTracker(cfg, model, "lasot")
    image = np.random.default_rng(0).integers(0, 255, size=(96, 128, 3), dtype=np.uint8)
    tracker.initialize(image, {"init_bbox": [40, 30, 30, 24]})
    state = list(tracker.state)
    maps = attention_overlays(tracker, image)
    assert sorted(maps) == sorted(
        f"{part}_{name}" for part in ("encoder", "decoder") for name in ("template0", "template1", "search")
    )
    assert maps["encoder_template0"].shape == (64, 64, 3) and maps["decoder_search"].shape == (128, 128, 3)
    assert tracker.state == state and tracker.frame_id == 0


@pytest.fixture(scope="module")
def demo_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    _, model = build_tiny("stark_s")
    checkpoint = root / "ck.pth.tar"
    save_official_checkpoint(model, checkpoint)
    frames = root / "frames"
    frames.mkdir()
    rng = np.random.default_rng(0)
    for i in range(5):
        cv2.imwrite(str(frames / f"{i}.jpg"), rng.integers(0, 255, size=(72, 96, 3), dtype=np.uint8))
    return root, checkpoint, frames


def _run(script, argv, monkeypatch):
    entry = runpy.run_path(str(PROJECT_ROOT / "tracking" / script), run_name="entry")
    monkeypatch.setattr(sys, "argv", [script, *argv])
    return entry["main"]()


def test_video_demo_headless(demo_setup, tmp_path, monkeypatch):
    _, checkpoint, frames = demo_setup
    out = tmp_path / "out.mp4"
    argv = ["stark_s", "baseline", str(frames), "--optional_box", "30", "20", "24", "20",
            "--checkpoint", str(checkpoint), "--save_video", str(out), "--opts", *TINY]  # fmt: skip
    assert _run("video_demo.py", argv, monkeypatch) == 0
    capture = cv2.VideoCapture(str(out))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 5
    capture.release()
    boxes = read_boxes(tmp_path / "out_boxes.txt")
    assert boxes.shape == (5, 4) and boxes[0].tolist() == [30, 20, 24, 20]
    # headless without a box: one-line error, exit 2
    assert _run("video_demo.py", argv[:3] + ["--checkpoint", str(checkpoint), "--opts", *TINY], monkeypatch) == 2


def test_vis_attention_writes_pngs(demo_setup, tmp_path, monkeypatch):
    _, checkpoint, frames = demo_setup
    argv = ["stark_s", "baseline", "--sequence_dir", str(frames), "--frame", "2", "--init_box", "30", "20", "24", "20",
            "--checkpoint", str(checkpoint), "--out", str(tmp_path / "att"), "--opts", *TINY]  # fmt: skip
    assert _run("vis_attention.py", argv, monkeypatch) == 0
    names = sorted(p.name for p in (tmp_path / "att").iterdir())
    assert names == ["decoder_search.png", "decoder_template0.png", "encoder_search.png", "encoder_template0.png"]
