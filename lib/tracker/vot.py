"""STARK as a tracker of the VOT toolkit (PyPI ``vot-toolkit`` 0.9, ``vot-trax`` 4).

Two ways in, one session underneath (:class:`VotSession`):

* the toolkit's ``python`` protocol: ``command = lib.tracker.vot:StarkVot`` in ``trackers.ini``, the toolkit's
  ``arg_*`` keys become the constructor's arguments, and it calls ``init(frame, new)`` / ``update(frame)``;
* the ``traxpython`` protocol: ``command = lib.tracker.vot_trax`` (a process speaking TraX on stdin/stdout,
  configured by ``env_STARK_*`` keys), see :mod:`lib.tracker.vot_trax`.

What is reported, per stack (``STACKS``): a rectangle on box stacks (``vot2022/shorttermbox``); a rectangle
plus the score head's confidence on long-term stacks (``vot2020/longterm``, ``vot2022/longterm``; STARK-ST's
long-term update interval ``VOT20LT``); on mask stacks (``vot2020/shortterm``, ``vot2022/shortterm``) the
``traxpython`` entry reports the predicted rectangle drawn as a filled mask, as the official tracker does
without Alpha-Refine (no real masks), and the ``python`` entry the rectangle itself (see :class:`StarkVot`).
The initial region is always taken as a rectangle (a mask's bounding box).
"""

from __future__ import annotations

import logging
import shlex
from dataclasses import dataclass
from typing import Optional, Sequence, Union

import cv2
import numpy as np

logger = logging.getLogger(__name__)


class VotError(ValueError):
    """Bad wrapper input: unknown stack or mode, unreadable frame, empty initial region (one-line message)."""


@dataclass(frozen=True)
class StackSpec:
    """How a stack is run: short-term or long-term tracker mode, and the region format it is answered with."""

    mode: str  # shortterm | longterm
    output: str  # rectangle | mask
    confidence: bool  # report the score head's confidence


STACKS = {
    "vot2020/shortterm": StackSpec("shortterm", "mask", False),
    "vot2022/shortterm": StackSpec("shortterm", "mask", False),
    "vot2022/shorttermbox": StackSpec("shortterm", "rectangle", False),
    "vot2020/longterm": StackSpec("longterm", "rectangle", True),
    "vot2022/longterm": StackSpec("longterm", "rectangle", True),
}
# tracker mode -> benchmark name whose update interval STARK-ST uses (cfg.test.update_intervals keys)
MODE_DATASET = {"shortterm": "vot20", "longterm": "vot20lt"}


def stack_spec(stack: str) -> StackSpec:
    if stack not in STACKS:
        raise VotError(f"unknown VOT stack '{stack}'; valid: {', '.join(STACKS)}")
    return STACKS[stack]


def box_from_mask(mask: np.ndarray) -> list[float]:
    """``[x, y, w, h]`` of the pixels set in a (H, W) mask (a one-line error for an empty mask)."""
    ys, xs = np.nonzero(mask)
    if xs.size == 0:
        raise VotError("the initial mask is empty")
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


def box_mask(box: list[float], width: int, height: int) -> tuple[np.ndarray, int, int]:
    """The box drawn as a filled uint8 mask, cropped to the box: ``(mask, x0, y0)`` with its offset in the frame."""
    x0 = int(np.clip(np.floor(box[0]), 0, width - 1))
    y0 = int(np.clip(np.floor(box[1]), 0, height - 1))
    x1 = int(np.clip(np.ceil(box[0] + box[2]), x0 + 1, width))
    y1 = int(np.clip(np.ceil(box[1] + box[3]), y0 + 1, height))
    return np.ones((y1 - y0, x1 - x0), dtype=np.uint8), x0, y0


def read_frame(path: str) -> np.ndarray:
    """(H, W, 3) uint8 RGB frame from the path the toolkit sends."""
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise VotError(f"{path}: cannot read the frame")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


class VotSession:
    """The tracked objects of one sequence: one STARK state per object, all sharing one network.

    ``initialize(image, boxes)`` and ``track(image, new_boxes)`` answer ``[(box, confidence), ...]`` for every
    object so far (objects of multi-object stacks may appear on later frames; ``new_boxes`` start them).
    """

    def __init__(self, tracker, mode: str = "shortterm"):
        if mode not in MODE_DATASET:
            raise VotError(f"unknown tracker mode '{mode}'; valid: {', '.join(MODE_DATASET)}")
        self.prototype = tracker
        self.mode = mode
        self.objects: list = []

    def _start(self, image: np.ndarray, box: list[float]) -> tuple[list[float], float]:
        from lib.tracker.stark_tracker import StarkTracker

        if not (box[2] > 0 and box[3] > 0):
            raise VotError(f"initial region {box} has no area")
        proto = self.prototype
        tracker = StarkTracker(proto.cfg, proto.backend, MODE_DATASET[self.mode])
        tracker.initialize(image, {"init_bbox": [float(v) for v in box]})
        self.objects.append(tracker)
        return [float(v) for v in box], 1.0

    def initialize(self, image: np.ndarray, boxes: list[list[float]]) -> list[tuple[list[float], float]]:
        if not boxes:
            raise VotError("no object to initialise")
        self.objects = []
        return [self._start(image, box) for box in boxes]

    def track(self, image: np.ndarray, new_boxes: Sequence[list[float]] = ()) -> list[tuple[list[float], float]]:
        answers = []
        for tracker in self.objects:
            out = tracker.track(image)
            answers.append(([float(v) for v in out["target_bbox"]], float(out.get("conf_score", 1.0))))
        return answers + [self._start(image, box) for box in new_boxes]


def build_session(
    tracker: str = "stark_st",
    config: str = "baseline",
    checkpoint: Optional[str] = None,
    mode: str = "shortterm",
    opts: Union[str, list[str]] = "",
    device: str = "auto",
    save_dir: str = ".",
) -> VotSession:
    """A session around :func:`lib.tracker.factory.build_tracker` (``opts``: config overrides ``key=value``)."""
    from lib.tracker.factory import build_tracker

    if mode not in MODE_DATASET:
        raise VotError(f"unknown tracker mode '{mode}'; valid: {', '.join(MODE_DATASET)}")
    overrides = shlex.split(opts) if isinstance(opts, str) else list(opts)
    stark = build_tracker(tracker, config, checkpoint or None, save_dir, overrides, MODE_DATASET[mode], device)
    return VotSession(stark, mode)


class StarkVot:
    """The toolkit's ``python`` protocol object (``command = lib.tracker.vot:StarkVot``; ``arg_*`` keys -> arguments).

    It answers rectangles on every stack, with the score as ``confidence`` when ``confidence`` is true: the
    python runtime of vot-toolkit 0.9.0 cannot take a mask back (it builds ``Mask`` from a list of rows, which
    fails), so masks are the ``traxpython`` entry's job. The toolkit must send rectangles (``convert =
    rectangle`` in ``trackers.ini``, written by ``tracking/vot_workspace.py``). It declares itself multi-object
    (one STARK state per object), which also runs single-object stacks and keeps ``vot test``'s dummy
    sequence, generated before the declaration is read, usable.
    """

    multiobject = True

    def __init__(
        self,
        tracker: str = "stark_st",
        config: str = "baseline",
        checkpoint: str = "",
        mode: str = "shortterm",
        confidence: str = "false",
        opts: str = "",
        device: str = "auto",
        session: Optional[VotSession] = None,
    ):
        self.confidence = str(confidence).lower() in ("1", "true", "yes")
        self.session = session or build_session(tracker, config, checkpoint, mode, opts, device)

    def _answer(self, box: list[float], score: float):
        return (tuple(box), {"confidence": score} if self.confidence else {})

    def init(self, frame, new, properties=None):
        return [self._answer(*a) for a in self.session.initialize(read_frame(_path(frame)), _boxes(new))]

    def update(self, frame, new=None, properties=None):
        return [self._answer(*a) for a in self.session.track(read_frame(_path(frame)), _boxes(new))]


def _boxes(new) -> list[list[float]]:
    """Rectangles of the toolkit's new objects: a list of ``(region, properties)`` (or one such pair)."""
    if not new:
        return []
    items = [new] if isinstance(new, tuple) and len(new) == 2 and isinstance(new[1], dict) else list(new)
    boxes = []
    for item in items:
        region = item[0] if isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], dict) else item
        if not (isinstance(region, tuple) and len(region) == 4):
            raise VotError(f"regions must come as rectangles (set convert = rectangle), got {type(region).__name__}")
        boxes.append([float(v) for v in region])
    return boxes


def _path(frame) -> str:
    """The colour channel's path (the toolkit sends a path, or a dict of channel -> path)."""
    return frame.get("color", next(iter(frame.values()))) if isinstance(frame, dict) else frame
