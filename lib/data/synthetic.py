"""Synthetic tracking data in the real benchmark layouts (GOT-10k, LaSOT, TrackingNet, COCO 2017).

Every sequence shows one textured target moving over a textured background, with distractors drawn in
the same style (same shape family and size, texture partly shared with the target), smooth scale and
aspect change, partial and full occlusion by a sliding occluder, and absence (out-of-view) periods.
The target of each sequence has its own texture, so a tracker has to learn to match the template,
and it leaves its initial box quickly, so repeating the first box scores poorly. With ``randomise`` every
sequence also draws its own frame size, target size, speed, distractors, occlusion and absence rates,
lighting and noise around the configured values (the ``wide`` preset, which the CPU demo trains on);
``shifted`` is a configuration drawn differently (larger frames, faster motion, texture and shape
families that ``wide`` never draws), for testing a tracker on data unlike its training set.

Used by the tests, the quick-start demo and ``scripts/make_synthetic_dataset.py`` (checking an install
without downloading the real data sets). Every sequence is a pure function of ``(seed, split, index)``.
"""

from __future__ import annotations

import json
import logging
import string
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional, Union

import cv2
import numpy as np

from lib.utils.io import atomic_write_text

logger = logging.getLogger(__name__)

FORMATS = ("got10k", "lasot", "trackingnet", "coco")

# a few real LaSOT class names, so generated names look like (and split like) the official ones
LASOT_CLASSES = ("airplane", "basketball", "bear", "bicycle", "bird", "boat", "book", "bottle", "car", "cat")


@dataclass(frozen=True)
class SyntheticOptions:
    """Knobs of the generator (sizes in pixels, rates per frame)."""

    width: int = 320
    height: int = 240
    min_target_size: float = 0.10  # initial sqrt(w*h) as a fraction of min(W, H), lower bound
    max_target_size: float = 0.20  # ... upper bound
    max_speed: float = 0.025  # max centre speed as a fraction of the frame width per frame
    acceleration: float = 0.006  # std of the per-frame velocity change, fraction of the frame width
    scale_rate: float = 0.02  # std of the per-frame log-scale change
    scale_range: tuple[float, float] = (0.6, 1.7)  # scale relative to the initial size stays in here
    distractors: tuple[int, int] = (1, 3)  # number of distractors, inclusive range
    distractor_similarity: float = 0.35  # 0: unrelated textures, 1: distractors look exactly like the target
    occlusion_events: float = 1.0  # expected occlusion events per 100 frames
    full_occlusion_prob: float = 0.4  # share of occlusion events that hide the target completely
    absence_events: float = 0.6  # expected absence (out-of-view) periods per 100 frames
    event_length: tuple[int, int] = (6, 16)  # frames per occlusion/absence event, inclusive
    jpeg_quality: int = 90
    pattern_kinds: tuple[int, ...] = (0, 1, 2, 3)  # texture families: stripes, checks, rings, blobs, dots, plaid
    shape_kinds: tuple[int, ...] = (0, 1, 2)  # shape families: rectangle, ellipse, rounded, diamond, triangle
    lighting: float = 0.0  # strength of the lighting drift (a moving gain field and flicker); 0: constant
    noise: float = 0.0  # std of per-frame Gaussian pixel noise (0-255 scale)
    randomise: bool = False  # per sequence: draw size, motion, clutter, lighting and noise around these values


DIFFICULTIES = {
    # repeating the initial box scores AO ~0.11 (medium ~0.04, hard ~0.03; 100-frame sequences)
    "easy": SyntheticOptions(
        max_speed=0.01,
        acceleration=0.003,
        distractors=(1, 2),
        distractor_similarity=0.25,
        occlusion_events=0.7,
        absence_events=0.3,
    ),
    "medium": SyntheticOptions(),
    "hard": SyntheticOptions(
        max_speed=0.04,
        acceleration=0.01,
        distractors=(2, 4),
        distractor_similarity=0.6,
        occlusion_events=2.0,
        absence_events=1.2,
    ),
    # every sequence different (what the CPU demo trains on); the knobs below are the centres of the draws
    "wide": SyntheticOptions(width=256, height=192, lighting=0.35, noise=6.0, randomise=True),
    # drawn differently from "wide" and never trained on: 480x360 frames, faster motion, more and more
    # similar distractors, more occlusion, and texture / shape families that "wide" never draws
    "shifted": SyntheticOptions(
        width=480,
        height=360,
        max_speed=0.035,
        acceleration=0.008,
        distractors=(2, 4),
        distractor_similarity=0.45,
        occlusion_events=1.5,
        absence_events=0.8,
        pattern_kinds=(4, 5),
        shape_kinds=(3, 4),
        lighting=0.25,
        noise=4.0,
    ),
}


def difficulty_options(difficulty: str = "medium", **overrides) -> SyntheticOptions:
    """Preset ``easy`` | ``medium`` | ``hard`` | ``wide`` | ``shifted`` with any field replaced by ``overrides``."""
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"unknown difficulty '{difficulty}'; valid: {', '.join(DIFFICULTIES)}")
    return replace(DIFFICULTIES[difficulty], **overrides)


@dataclass
class SyntheticSequence:
    """One generated video. ``boxes`` (N, 4) float x,y,w,h of the (possibly hidden) target."""

    frames: list[np.ndarray]  # (H, W, 3) uint8 RGB each
    boxes: np.ndarray
    absent: np.ndarray  # (N,) bool: target out of view (not drawn)
    cover: np.ndarray  # (N,) int 0..8: visible share of the box in eighths (0 = fully hidden)
    cut_by_image: np.ndarray  # (N,) bool: box touches the image border


# ----------------------------------------------------------------------------------------------
# textures


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cells: int) -> np.ndarray:
    """(H, W) float32 in [0, 1]: coarse random grid upsampled bicubically."""
    grid = rng.random((cells, cells)).astype(np.float32)
    field = cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC)
    field -= field.min()
    return field / max(float(field.max()), 1e-6)


def _pattern(rng: np.random.Generator, size: int, kind: int) -> np.ndarray:
    """(size, size) float32 in [0, 1]: stripes, checkerboard, rings, blobs, dots or plaid."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    period = rng.uniform(0.15, 0.35)
    if kind == 0:
        angle = rng.uniform(0, np.pi)
        value = 0.5 + 0.5 * np.sin(2 * np.pi * (xx * np.cos(angle) + yy * np.sin(angle)) / period)
    elif kind == 1:
        value = ((np.floor(xx / period) + np.floor(yy / period)) % 2).astype(np.float32)
    elif kind == 2:
        radius = np.hypot(xx - rng.uniform(0.3, 0.7), yy - rng.uniform(0.3, 0.7))
        value = 0.5 + 0.5 * np.sin(2 * np.pi * radius / period)
    elif kind == 3:
        value = _smooth_noise(rng, size, size, int(rng.integers(3, 6)))
    elif kind == 4:
        cell_x, cell_y = (xx / period) % 1.0 - 0.5, (yy / period) % 1.0 - 0.5
        value = (np.hypot(cell_x, cell_y) < rng.uniform(0.2, 0.35)).astype(np.float32)
    else:
        a, b = rng.uniform(0, np.pi, 2)
        wave_a = np.sin(2 * np.pi * (xx * np.cos(a) + yy * np.sin(a)) / period)
        wave_b = np.sin(2 * np.pi * (xx * np.cos(b) + yy * np.sin(b)) / (period * rng.uniform(0.5, 1.5)))
        value = 0.5 + 0.25 * (wave_a + wave_b)
    return value.astype(np.float32)


def _colour(rng: np.random.Generator, saturated: bool) -> np.ndarray:
    hue = rng.uniform(0, 180)
    sat = rng.uniform(150, 255) if saturated else rng.uniform(20, 90)
    val = rng.uniform(120, 255) if saturated else rng.uniform(70, 180)
    hsv = np.array([[[hue, sat, val]]], dtype=np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0].astype(np.float32)


def _object_texture(rng: np.random.Generator, kind: int, size: int = 48) -> np.ndarray:
    """(size, size, 3) float32 RGB texture of an object: a two-colour pattern plus shading noise."""
    pattern = _pattern(rng, size, kind)[..., None]
    colour_a, colour_b = _colour(rng, True), _colour(rng, True)
    shade = 0.8 + 0.4 * _smooth_noise(rng, size, size, 3)[..., None]
    return np.clip((colour_a * pattern + colour_b * (1 - pattern)) * shade, 0, 255)


def _background(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """(H, W, 3) uint8 muted textured background."""
    base = _smooth_noise(rng, height, width, int(rng.integers(4, 9)))[..., None]
    detail = _smooth_noise(rng, height, width, int(rng.integers(16, 40)))[..., None]
    colour_a, colour_b = _colour(rng, False), _colour(rng, False)
    image = colour_a * base + colour_b * (1 - base) + (detail - 0.5) * 50
    return np.clip(image, 0, 255).astype(np.uint8)


def _shape_mask(shape: int, size: int = 48) -> np.ndarray:
    """(size, size) float32 alpha of the shape family (0 rectangle, 1 ellipse, 2 rounded, 3 diamond, 4 triangle)."""
    if shape == 0:
        return np.ones((size, size), dtype=np.float32)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    c = (size - 1) / 2
    if shape == 4:  # apex at the top centre, base along the bottom edge
        return (np.abs(xx - c) <= (yy + 0.5) / 2).astype(np.float32)
    power = {1: 2.0, 2: 4.0, 3: 1.0}[shape]
    inside = (np.abs(xx - c) / (c + 0.5)) ** power + (np.abs(yy - c) / (c + 0.5)) ** power <= 1.0
    return inside.astype(np.float32)


# ----------------------------------------------------------------------------------------------
# motion


class _Mover:
    """A box moving smoothly inside the frame with a bounded, mean-reverting scale change."""

    def __init__(self, rng: np.random.Generator, opts: SyntheticOptions, size: float, aspect: float):
        self.rng, self.opts = rng, opts
        self.base_w, self.base_h = size * np.sqrt(aspect), size / np.sqrt(aspect)
        self.log_scale = 0.0
        self.cx = rng.uniform(0.25, 0.75) * opts.width
        self.cy = rng.uniform(0.25, 0.75) * opts.height
        angle = rng.uniform(0, 2 * np.pi)
        speed = rng.uniform(0.5, 1.0) * opts.max_speed * opts.width
        self.vx, self.vy = speed * np.cos(angle), speed * np.sin(angle)

    def box(self) -> np.ndarray:
        scale = np.exp(self.log_scale)
        w = max(4.0, round(self.base_w * scale))
        h = max(4.0, round(self.base_h * scale))
        return np.array([round(self.cx - w / 2), round(self.cy - h / 2), w, h], dtype=np.float64)

    def step(self) -> None:
        opts, rng = self.opts, self.rng
        max_speed = opts.max_speed * opts.width
        self.vx += rng.normal(0, opts.acceleration * opts.width)
        self.vy += rng.normal(0, opts.acceleration * opts.width)
        speed = np.hypot(self.vx, self.vy)
        if speed > max_speed:
            self.vx, self.vy = self.vx * max_speed / speed, self.vy * max_speed / speed
        low, high = np.log(opts.scale_range[0]), np.log(opts.scale_range[1])
        self.log_scale = float(np.clip(self.log_scale + rng.normal(0, opts.scale_rate), low, high))
        self.cx += self.vx
        self.cy += self.vy
        w, h = self.box()[2:]
        # bounce off the borders so the box stays inside the frame
        if self.cx - w / 2 < 0 or self.cx + w / 2 > opts.width:
            self.vx = -self.vx
            self.cx = float(np.clip(self.cx, w / 2, opts.width - w / 2))
        if self.cy - h / 2 < 0 or self.cy + h / 2 > opts.height:
            self.vy = -self.vy
            self.cy = float(np.clip(self.cy, h / 2, opts.height - h / 2))


def _paste(canvas: np.ndarray, texture: np.ndarray, alpha: np.ndarray, box: np.ndarray) -> None:
    """Alpha-blend ``texture`` resized to ``box`` (integer x,y,w,h) into ``canvas`` in place (clipped)."""
    x, y, w, h = (int(v) for v in box)
    height, width = canvas.shape[:2]
    x0, y0, x1, y1 = max(x, 0), max(y, 0), min(x + w, width), min(y + h, height)
    if x1 <= x0 or y1 <= y0:
        return
    tex = cv2.resize(texture, (w, h), interpolation=cv2.INTER_LINEAR)[y0 - y : y1 - y, x0 - x : x1 - x]
    a = cv2.resize(alpha, (w, h), interpolation=cv2.INTER_NEAREST)[y0 - y : y1 - y, x0 - x : x1 - x, None]
    region = canvas[y0:y1, x0:x1].astype(np.float32)
    canvas[y0:y1, x0:x1] = (tex * a + region * (1 - a)).astype(np.uint8)


def _events(rng: np.random.Generator, n_frames: int, rate: float, lengths: tuple[int, int], start: int) -> list:
    """Non-overlapping ``(first, length)`` events; ``rate`` per 100 frames; none before ``start``."""
    count = rng.poisson(rate * n_frames / 100.0)
    events = []
    for _ in range(int(count)):
        length = int(rng.integers(lengths[0], lengths[1] + 1))
        if n_frames - length <= start:
            break
        first = int(rng.integers(start, n_frames - length))
        if all(first + length < f or f + n < first for f, n in events):
            events.append((first, length))
    return sorted(events)


def _randomised(rng: np.random.Generator, opts: SyntheticOptions) -> SyntheticOptions:
    """This sequence's own options, drawn around ``opts`` (frame sizes stay multiples of 8)."""
    width = int(round(opts.width * rng.uniform(0.75, 1.2) / 8)) * 8
    height = int(round(width * rng.uniform(0.6, 0.9) / 8)) * 8
    most_distractors = int(rng.integers(opts.distractors[0], opts.distractors[1] + 2))
    return replace(
        opts,
        width=width,
        height=height,
        min_target_size=opts.min_target_size * rng.uniform(0.6, 1.0),
        max_target_size=opts.max_target_size * rng.uniform(1.0, 1.5),
        max_speed=opts.max_speed * rng.uniform(0.3, 1.6),
        acceleration=opts.acceleration * rng.uniform(0.5, 1.5),
        scale_rate=opts.scale_rate * rng.uniform(0.5, 1.5),
        distractors=(min(opts.distractors[0], most_distractors), most_distractors),
        distractor_similarity=min(0.8, opts.distractor_similarity * rng.uniform(0.3, 1.8)),
        occlusion_events=opts.occlusion_events * rng.uniform(0.0, 2.0),
        absence_events=opts.absence_events * rng.uniform(0.3, 2.0),
        lighting=opts.lighting * rng.uniform(0.3, 1.5),
        noise=opts.noise * rng.uniform(0.0, 2.0),
        randomise=False,
    )


def _lighting(rng: np.random.Generator, n_frames: int, height: int, width: int, strength: float):
    """Frame index -> (H, W, 1) gain: a per-sequence exposure, a slowly drifting shading field, flicker."""
    exposure = rng.uniform(1.0 - strength, 1.0 + strength / 2)
    field_a = _smooth_noise(rng, height, width, 3) - 0.5
    field_b = _smooth_noise(rng, height, width, 3) - 0.5
    period, phase = rng.uniform(30, 120), rng.uniform(0, 2 * np.pi)
    flicker = rng.normal(0.0, 0.05 * strength, n_frames)

    def gain(index: int) -> np.ndarray:
        mix = 0.5 + 0.5 * np.sin(2 * np.pi * index / period + phase)
        shading = 1.0 + strength * (mix * field_a + (1.0 - mix) * field_b)
        return (exposure * (1.0 + flicker[index]) * shading)[..., None]

    return gain


def render_sequence(rng: np.random.Generator, n_frames: int, opts: SyntheticOptions) -> SyntheticSequence:
    """Render one video of ``n_frames`` frames (the first 5 show the target unoccluded)."""
    if opts.randomise:
        opts = _randomised(rng, opts)
    height, width = opts.height, opts.width
    background = _background(rng, height, width)
    kind = opts.pattern_kinds[int(rng.integers(0, len(opts.pattern_kinds)))]
    shape = opts.shape_kinds[int(rng.integers(0, len(opts.shape_kinds)))]
    alpha = _shape_mask(shape)
    target_tex = _object_texture(rng, kind)
    size = rng.uniform(opts.min_target_size, opts.max_target_size) * min(width, height)
    target = _Mover(rng, opts, size, float(np.exp(rng.uniform(np.log(0.5), np.log(2.0)))))

    distractors = []
    for _ in range(int(rng.integers(opts.distractors[0], opts.distractors[1] + 1))):
        own = _object_texture(rng, kind)
        texture = opts.distractor_similarity * target_tex + (1 - opts.distractor_similarity) * own
        d_size = size * rng.uniform(0.7, 1.3)
        distractors.append((_Mover(rng, opts, d_size, float(np.exp(rng.uniform(-0.7, 0.7)))), texture))

    occluder_tex = _background(rng, 48, 48).astype(np.float32)
    occlusions = _events(rng, n_frames, opts.occlusion_events, opts.event_length, start=5)
    absences = _events(rng, n_frames, opts.absence_events, opts.event_length, start=5)
    full = {first: bool(rng.random() < opts.full_occlusion_prob) for first, _ in occlusions}
    peak = {first: float(rng.uniform(0.3, 0.7)) for first, _ in occlusions}
    from_left = {first: bool(rng.random() < 0.5) for first, _ in occlusions}

    gain = _lighting(rng, n_frames, height, width, opts.lighting) if opts.lighting > 0 else None
    frames, boxes = [], np.zeros((n_frames, 4))
    absent = np.zeros(n_frames, dtype=bool)
    cover = np.full(n_frames, 8, dtype=np.int64)
    cut = np.zeros(n_frames, dtype=bool)
    ones = np.ones((48, 48), dtype=np.float32)
    for index in range(n_frames):
        if index:
            target.step()
            for mover, _ in distractors:
                mover.step()
        canvas = background.copy()
        for mover, texture in distractors:
            _paste(canvas, texture, alpha, mover.box())
        box = target.box()
        boxes[index] = box
        cut[index] = box[0] <= 0 or box[1] <= 0 or box[0] + box[2] >= width or box[1] + box[3] >= height
        absent[index] = any(f <= index < f + n for f, n in absences)
        if absent[index]:
            cover[index] = 0
        else:
            _paste(canvas, target_tex, alpha, box)
            for first, length in occlusions:
                if not first <= index < first + length:
                    continue
                # the occluder slides in and out; full events cover the whole box at their middle frames
                phase = 1.0 - abs(2.0 * (index - first + 0.5) / length - 1.0)
                share = min(1.0, 2.0 * phase) if full[first] else peak[first] * min(1.0, 2.0 * phase)
                occ_w = int(np.ceil(share * box[2]))
                if occ_w <= 0:
                    continue
                occ_x = box[0] if from_left[first] else box[0] + box[2] - occ_w
                _paste(canvas, occluder_tex, ones, np.array([occ_x - 1, box[1] - 3, occ_w + 2, box[3] + 6]))
                visible = 1.0 - min(1.0, (occ_w + 1) / box[2])
                cover[index] = int(np.ceil(visible * 8 - 1e-9)) if visible > 0 else 0
        if gain is not None or opts.noise > 0:
            lit = canvas.astype(np.float32) * (gain(index) if gain is not None else 1.0)
            if opts.noise > 0:
                lit += rng.normal(0.0, opts.noise, lit.shape).astype(np.float32)
            canvas = np.clip(lit, 0, 255).astype(np.uint8)
        frames.append(canvas)
    return SyntheticSequence(frames=frames, boxes=boxes, absent=absent, cover=cover, cut_by_image=cut)


# ----------------------------------------------------------------------------------------------
# writers


def _write_jpeg(path: Path, frame: np.ndarray, quality: int) -> None:
    # plain writes: thousands of frames with an fsync each would take minutes; the list files that make
    # the set usable are written last and atomically
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise OSError(f"{path}: JPEG encoding failed")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.tobytes())


def _plain_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _sequence_rng(seed: int, split: int, index: int) -> np.random.Generator:
    return np.random.default_rng([seed, split, index])


def _box_lines(boxes: np.ndarray, decimals: int) -> str:
    fmt = f"{{:.{decimals}f}}" if decimals else "{:.0f}"
    return "".join(",".join(fmt.format(v) for v in box) + "\n" for box in boxes)


def write_got10k(
    out: Union[str, Path],
    sequences: int,
    frames: int,
    seed: int = 0,
    val_sequences: Optional[int] = None,
    test_sequences: Optional[int] = None,
    opts: Optional[SyntheticOptions] = None,
) -> Path:
    """GOT-10k layout: ``{train,val,test}/list.txt`` and ``<split>/GOT-10k_<Split>_%06d/`` folders.

    train/val sequences get ``groundtruth.txt`` (``x,y,w,h`` 4 decimals), ``absence.label``, ``cover.label``,
    ``cut_by_image.label`` and ``meta_info.ini``; test sequences only the first ground-truth line.
    """
    out, opts = Path(out), opts or SyntheticOptions()
    counts = {
        "train": sequences,
        "val": max(1, sequences // 5) if val_sequences is None else val_sequences,
        "test": max(1, sequences // 5) if test_sequences is None else test_sequences,
    }
    for split_id, (split, count) in enumerate(counts.items()):
        names = []
        for index in range(count):
            name = f"GOT-10k_{split.capitalize()}_{index + 1:06d}"
            seq = render_sequence(_sequence_rng(seed, split_id, index), frames, opts)
            height, width = seq.frames[0].shape[:2]  # per sequence when the options are randomised
            folder = out / split / name
            for i, frame in enumerate(seq.frames):
                _write_jpeg(folder / f"{i + 1:08d}.jpg", frame, opts.jpeg_quality)
            if split == "test":
                _plain_text(folder / "groundtruth.txt", _box_lines(seq.boxes[:1], 4))
            else:
                _plain_text(folder / "groundtruth.txt", _box_lines(seq.boxes, 4))
                _plain_text(folder / "absence.label", "".join(f"{int(v)}\n" for v in seq.absent))
                _plain_text(folder / "cover.label", "".join(f"{int(v)}\n" for v in seq.cover))
                _plain_text(folder / "cut_by_image.label", "".join(f"{int(v)}\n" for v in seq.cut_by_image))
                _plain_text(
                    folder / "meta_info.ini",
                    "[METAINFO]\nurl: synthetic\nbegin_time: 0\nend_time: 0\nanno_fps: 10Hz\n"
                    "object_class: synthetic object\nmotion_class: moving\nmajor_class: synthetic\n"
                    f"root_class: object\nmotion_adverb: smoothly\nresolution: ({width}, {height})\n",
                )
            names.append(name)
        atomic_write_text(out / split / "list.txt", "".join(n + "\n" for n in names))
    logger.info("wrote GOT-10k layout to %s (%s)", out, counts)
    return out


def write_lasot(
    out: Union[str, Path], sequences: int, frames: int, seed: int = 0, opts: Optional[SyntheticOptions] = None
) -> Path:
    """LaSOT layout: ``<class>/<class>-<id>/{img/%08d.jpg, groundtruth.txt, full_occlusion.txt, out_of_view.txt, nlp.txt}``.

    Sequence ``i`` is ``LASOT_CLASSES[i % 10]-(i // 10 + 1)``, so ids 1..20 per class, of which the
    official split puts 4 in test and 16 in train.
    """
    out, opts = Path(out), opts or SyntheticOptions()
    for index in range(sequences):
        cls = LASOT_CLASSES[index % len(LASOT_CLASSES)]
        folder = out / cls / f"{cls}-{index // len(LASOT_CLASSES) + 1}"
        seq = render_sequence(_sequence_rng(seed, 10, index), frames, opts)
        for i, frame in enumerate(seq.frames):
            _write_jpeg(folder / "img" / f"{i + 1:08d}.jpg", frame, opts.jpeg_quality)
        full_occ = (seq.cover == 0) & ~seq.absent
        _plain_text(folder / "full_occlusion.txt", ",".join(str(int(v)) for v in full_occ) + "\n")
        _plain_text(folder / "out_of_view.txt", ",".join(str(int(v)) for v in seq.absent) + "\n")
        _plain_text(folder / "nlp.txt", f"a synthetic {cls} moving over a textured background\n")
        atomic_write_text(folder / "groundtruth.txt", _box_lines(seq.boxes, 0))
    logger.info("wrote LaSOT layout to %s (%d sequences)", out, sequences)
    return out


def _youtube_like_name(rng: np.random.Generator) -> str:
    alphabet = string.ascii_letters + string.digits + "-_"
    return "".join(alphabet[i] for i in rng.integers(0, len(alphabet), 11)) + f"_{int(rng.integers(0, 10))}"


def write_trackingnet(
    out: Union[str, Path],
    sequences: int,
    frames: int,
    seed: int = 0,
    chunks: int = 2,
    test_sequences: Optional[int] = None,
    opts: Optional[SyntheticOptions] = None,
) -> Path:
    """TrackingNet layout: ``TRAIN_<k>/{anno/<seq>.txt, frames/<seq>/<i>.jpg}`` (0-based) and ``TEST/``.

    Absent frames get a ``0,0,0,0`` box (TrackingNet has no visibility labels; invalid boxes mark them).
    TEST annotations hold the first frame only.
    """
    out, opts = Path(out), opts or SyntheticOptions()
    test_count = max(1, sequences // 5) if test_sequences is None else test_sequences
    plan = [(f"TRAIN_{i % chunks}", i, 20) for i in range(sequences)] + [("TEST", i, 21) for i in range(test_count)]
    for chunk, index, split_id in plan:
        rng = _sequence_rng(seed, split_id, index)
        name = _youtube_like_name(rng)
        seq = render_sequence(rng, frames, opts)
        for i, frame in enumerate(seq.frames):
            _write_jpeg(out / chunk / "frames" / name / f"{i}.jpg", frame, opts.jpeg_quality)
        boxes = seq.boxes.copy()
        boxes[seq.absent] = 0.0
        if chunk == "TEST":
            boxes = boxes[:1]
        atomic_write_text(out / chunk / "anno" / f"{name}.txt", _box_lines(boxes, 2))
    logger.info("wrote TrackingNet layout to %s (%d train in %d chunks, %d test)", out, sequences, chunks, test_count)
    return out


def write_coco(out: Union[str, Path], images: int, seed: int = 0, opts: Optional[SyntheticOptions] = None) -> Path:
    """COCO 2017 layout: ``annotations/instances_train2017.json`` and ``images/train2017/%012d.jpg``.

    Each image holds 1-4 objects (some smaller than 50 px, some ``iscrowd``) so the official filters matter.
    """
    out, opts = Path(out), opts or SyntheticOptions()
    image_entries, annotations = [], []
    categories = [{"id": i + 1, "name": name, "supercategory": "synthetic"} for i, name in enumerate(LASOT_CLASSES)]
    for index in range(images):
        rng = _sequence_rng(seed, 30, index)
        canvas = _background(rng, opts.height, opts.width)
        image_id = index + 1
        for obj in range(int(rng.integers(1, 5))):
            kind, shape = int(rng.integers(0, 4)), int(rng.integers(0, 3))
            side = rng.uniform(0.1, 0.45) * min(opts.width, opts.height)
            aspect = float(np.exp(rng.uniform(-0.5, 0.5)))
            w, h = round(side * np.sqrt(aspect)), round(side / np.sqrt(aspect))
            x, y = int(rng.integers(0, opts.width - w)), int(rng.integers(0, opts.height - h))
            _paste(canvas, _object_texture(rng, kind), _shape_mask(shape), np.array([x, y, w, h]))
            polygon = [x, y, x + w, y, x + w, y + h, x, y + h]
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": int(rng.integers(1, len(categories) + 1)),
                    "bbox": [float(x), float(y), float(w), float(h)],
                    "area": float(w * h),
                    "iscrowd": int(obj == 3),
                    "segmentation": [polygon],
                }
            )
        file_name = f"{image_id:012d}.jpg"
        _write_jpeg(out / "images" / "train2017" / file_name, canvas, opts.jpeg_quality)
        image_entries.append({"id": image_id, "file_name": file_name, "width": opts.width, "height": opts.height})
    data = {"info": {"description": "synthetic"}, "images": image_entries, "annotations": annotations}
    data["categories"] = categories
    atomic_write_text(out / "annotations" / "instances_train2017.json", json.dumps(data))
    logger.info("wrote COCO layout to %s (%d images, %d annotations)", out, images, len(annotations))
    return out


def generate_dataset(
    fmt: str,
    out: Union[str, Path],
    sequences: int,
    frames: int,
    seed: int = 0,
    difficulty: str = "medium",
    **options,
) -> Path:
    """Write a synthetic data set of ``fmt`` (got10k | lasot | trackingnet | coco) under ``out``.

    ``options`` may hold :class:`SyntheticOptions` fields (e.g. ``width=256``) and writer arguments
    (``val_sequences``, ``test_sequences``, ``chunks``).
    """
    writer_keys = {"val_sequences", "test_sequences", "chunks"}
    writer_args = {k: v for k, v in options.items() if k in writer_keys and v is not None}
    opts = difficulty_options(difficulty, **{k: v for k, v in options.items() if k not in writer_keys})
    if fmt == "got10k":
        return write_got10k(out, sequences, frames, seed, opts=opts, **writer_args)
    if fmt == "lasot":
        return write_lasot(out, sequences, frames, seed, opts=opts)
    if fmt == "trackingnet":
        return write_trackingnet(out, sequences, frames, seed, opts=opts, **writer_args)
    if fmt == "coco":
        return write_coco(out, sequences, seed, opts=opts)
    raise ValueError(f"unknown format '{fmt}'; valid: {', '.join(FORMATS)}")
