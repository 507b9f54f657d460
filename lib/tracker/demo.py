"""Video demo helpers: read frames from a video or a folder, draw the box and score, write the video."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator, Optional, Sequence

import cv2
import numpy as np

logger = logging.getLogger(__name__)

FRAME_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class DemoError(ValueError):
    """An unreadable video / folder or a missing initial box (one-line message)."""


def frame_files(folder: Path) -> list[Path]:
    """Image files of a folder of frames, numeric names in numeric order (``2.jpg`` before ``10.jpg``)."""
    files = [p for p in folder.iterdir() if p.suffix.lower() in FRAME_SUFFIXES]
    return sorted(files, key=lambda p: (0, int(p.stem), p.name) if p.stem.isdigit() else (1, 0, p.name))


def frame_count_and_fps(source: str | Path) -> tuple[int, float]:
    """Number of frames and frame rate (30 for folders) of a video file or a folder of frames."""
    path = Path(source)
    if path.is_dir():
        return len(frame_files(path)), 30.0
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise DemoError(f"{path}: cannot open video")
    count, fps = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), float(capture.get(cv2.CAP_PROP_FPS) or 30.0)
    capture.release()
    return count, fps if fps > 0 else 30.0


def iterate_frames(source: str | Path) -> Iterator[np.ndarray]:
    """Yield (H, W, 3) uint8 RGB frames of a video file or a folder of images (numeric names in order)."""
    path = Path(source)
    if path.is_dir():
        files = frame_files(path)
        if not files:
            raise DemoError(f"{path}: no image frames ({', '.join(FRAME_SUFFIXES)})")
        for file in files:
            frame = cv2.imread(str(file), cv2.IMREAD_COLOR)
            if frame is None:
                raise DemoError(f"{file}: cannot decode image")
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        return
    if not path.is_file():
        raise DemoError(f"{path}: no such video file or folder")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise DemoError(f"{path}: cannot open video")
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()


def draw_result(frame_rgb: np.ndarray, box_xywh: Sequence[float], score: Optional[float]) -> np.ndarray:
    """BGR copy of the frame with the box (green) and the score text drawn on it."""
    canvas = cv2.cvtColor(frame_rgb, cv2.COLOR_RGB2BGR)
    x, y, w, h = (int(round(v)) for v in box_xywh)
    cv2.rectangle(canvas, (x, y), (x + w, y + h), (0, 255, 0), 2)
    label = "init" if score is None else f"score {score:.2f}"
    cv2.putText(canvas, label, (max(0, x), max(12, y - 5)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 255, 0), 1, cv2.LINE_AA)
    return canvas


class VideoSink:
    """``cv2.VideoWriter`` (mp4v) opened on the first frame; fails loudly when the codec is unavailable."""

    def __init__(self, path: str | Path, fps: float) -> None:
        self.path = Path(path)
        self.fps = fps
        self.writer = None

    def write(self, frame_bgr: np.ndarray) -> None:
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            height, width = frame_bgr.shape[:2]
            self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (width, height))
            if not self.writer.isOpened():
                raise DemoError(f"{self.path}: cannot open a video writer (mp4v)")
        self.writer.write(frame_bgr)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.release()
            logger.info("wrote %s", self.path)
