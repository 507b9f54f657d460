"""Draw training samples (templates + search frame) from a mix of datasets (the official sampler's rules).

Every sample is a pure function of ``(seed, epoch, index)``: it owns a ``numpy.random.Generator``
seeded with those three numbers (never the global RNG), so a resumed run draws the same samples and
DDP ranks that take disjoint indices draw disjoint samples.

Modes: ``causal`` (STARK-S: search after the template, within the max gap), ``trident`` and
``trident_pro`` (STARK-ST: initial template and search anywhere, the dynamic template within the max gap
on the template's side of the search; ``trident_pro`` allows it to be an invisible frame). With
``train_cls`` (stage 2) half the samples are negatives labelled 0: a frame of the same video where the
target is invisible, annotated with a centred box of W/8 x H/8 (``absent_negative_box="last_seen"``: the
target's box in the nearest visible frame, where a tracker searches once the target has vanished), or,
when the video has none, a frame of another sequence with its own annotation (with ``official_negatives``
any sequence, the template's own included, as upstream: its visible target is then labelled 0). Without ``negatives_from_other_sequences``
negatives come only from videos whose target goes out of view, so every negative is a target-absent frame.

A sample that fails (processing invalid, unreadable frame) is redrawn with the same generator, at most
``max_redraws`` times; then :class:`SamplingError` names the dataset/sequence that failed most.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch
from numpy.random import default_rng
from torch.utils.data import Dataset

from lib.data.datasets.base import TrackingDataset
from lib.data.errors import DatasetError, FrameReadError, SamplingError
from lib.data.processing import StarkProcessing

logger = logging.getLogger(__name__)

MODES = ("causal", "trident", "trident_pro")
ABSENT_NEGATIVE_BOXES = ("centre", "last_seen")
# why a draw was thrown away; every sample carries ``redraws`` (datasets x reasons) counts of its own draws
REDRAW_REASONS = ("box outside image", "unusable crop", "no usable frame ids", "unreadable frame")
_MAX_ID_DRAWS = 200  # frame-id draws per sequence before the draw counts as one failed sample


def _outside(frame: np.ndarray, box: np.ndarray) -> bool:
    """True when the annotated box ``x, y, w, h`` does not overlap the frame at all."""
    h, w = frame.shape[:2]
    x, y, bw, bh = (float(v) for v in box)
    return x >= w or y >= h or x + bw <= 0 or y + bh <= 0


def _seed_words(*numbers: int):
    """``numbers`` as SeedSequence entropy: a uint32 array when every one fits (the same seed as the list,
    which SeedSequence converts word by word, at a fraction of the cost), else the list itself."""
    if all(0 <= n < 1 << 32 for n in numbers):
        return np.array(numbers, dtype=np.uint32)
    return list(numbers)


def redraw_summary(names: Sequence[str], counts: np.ndarray) -> str:
    """``GOT10K_all: 3 (box outside image 2, unusable crop 1)`` for every dataset with redrawn samples."""
    parts = []
    for name, row in zip(names, np.asarray(counts).reshape(len(names), len(REDRAW_REASONS))):
        if row.sum():
            reasons = ", ".join(f"{reason} {int(n)}" for reason, n in zip(REDRAW_REASONS, row) if n)
            parts.append(f"{name}: {int(row.sum())} ({reasons})")
    return "; ".join(parts)


@dataclass
class SamplerOptions:
    mode: str = "causal"
    num_templates: int = 1
    num_search: int = 1
    max_intervals: Sequence[int] = (200,)  # causal: the first one; trident: one per dynamic template
    max_redraws: int = 100
    train_cls: bool = False
    pos_prob: float = 0.5
    official_negatives: bool = False  # a fallback negative may come from the template's own sequence (official)
    negatives_from_other_sequences: bool = True  # False: only target-absent frames of the same video
    absent_negative_box: str = "centre"  # or "last_seen": crop an absent frame where the target was last visible
    min_length: int = 20  # official: video sequences need >= 20 frames ...
    # ... and more than 2 * (num_templates + num_search) visible frames (enforced at construction)
    return_meta: bool = False  # add dataset/sequence/frame ids (strings) to each sample


def sample_visible_ids(
    visible: np.ndarray,
    rng: np.random.Generator,
    num: int = 1,
    min_id: Optional[int] = None,
    max_id: Optional[int] = None,
    allow_invisible: bool = False,
    force_invisible: bool = False,
) -> Optional[list[int]]:
    """``num`` frame ids drawn with replacement from ``[min_id, max_id)`` (clamped to the sequence).

    Only visible frames unless ``allow_invisible``; only invisible ones if ``force_invisible``.
    Returns None when the range holds no candidate (``[]`` when ``num`` is 0).
    """
    if num == 0:
        return []
    lo = 0 if min_id is None else max(0, min_id)
    hi = len(visible) if max_id is None else min(len(visible), max_id)
    if hi <= lo:
        return None
    window = visible[lo:hi]
    if force_invisible:
        candidates = np.flatnonzero(~window)
    elif allow_invisible:
        candidates = np.arange(hi - lo)
    else:
        candidates = np.flatnonzero(window)
    if len(candidates) == 0:
        return None
    if num == 1:  # a scalar draw: the same number as a draw of one, at a fraction of the cost
        return [lo + int(candidates[rng.integers(0, len(candidates))])]
    return [int(lo + c) for c in candidates[rng.integers(0, len(candidates), num)]]


def last_seen_frame(visible: np.ndarray, frame: int) -> int:
    """The nearest visible frame before ``frame``, else the nearest after it (a sampled video has visible frames).

    The official centred dummy box gives negative crops that are never padded, and the CPU demo's score head was
    measured to call padded crops "present" far more often (README, quick start); this box is where a tracker's
    search region stays when the target vanishes, padded or not like a positive's.
    """
    before = np.flatnonzero(visible[:frame])
    if len(before):
        return int(before[-1])
    return int(frame + 1 + np.flatnonzero(visible[frame + 1 :])[0])


class TrackingSampleDataset(Dataset):
    """Map-style dataset of ``samples_per_epoch`` processed samples; index with ``(epoch, index)``.

    A torch ``Dataset`` (not a ``torch.utils.data.Sampler``): the loader's batch sampler picks indices, and
    this class draws and processes the sample each index stands for.

    An integer index uses ``self.epoch`` (set with :meth:`set_epoch`).
    """

    def __init__(
        self,
        datasets: Sequence[TrackingDataset],
        ratios: Sequence[float],
        samples_per_epoch: int,
        processing: StarkProcessing,
        options: SamplerOptions,
        seed: int = 0,
    ):
        if options.mode not in MODES:
            raise DatasetError(f"sampler mode '{options.mode}' unknown; valid: {', '.join(MODES)}")
        if options.absent_negative_box not in ABSENT_NEGATIVE_BOXES:
            raise DatasetError(
                f"absent_negative_box '{options.absent_negative_box}' unknown; valid: {', '.join(ABSENT_NEGATIVE_BOXES)}"
            )
        if len(datasets) != len(ratios) or not datasets:
            raise DatasetError(f"{len(datasets)} datasets but {len(ratios)} ratios")
        self.datasets = list(datasets)
        weights = np.asarray(ratios, dtype=np.float64)
        self.probs = weights / weights.sum()
        # rng.choice(len(probs), p=probs) without its per-call checks: the same draw from the same uniform
        self._cdf = self.probs.cumsum()
        self._cdf /= self._cdf[-1]
        self.samples_per_epoch = samples_per_epoch
        self.processing = processing
        self.opts = options
        self.seed = seed
        self.epoch = 0
        self.frame_errors = 0
        need = 2 * (options.num_templates + options.num_search)
        self.eligible = []
        for ds in self.datasets:
            if ds.is_video:
                ok = np.flatnonzero((ds.lengths >= options.min_length) & (ds.visible_counts > need))
            else:
                ok = np.arange(len(ds))
            if len(ok) < len(ds):
                logger.info(
                    "%s: %d of %d sequences too short (< %d frames) or with <= %d visible frames; not sampled",
                    ds.name, len(ds) - len(ok), len(ds), options.min_length, need,
                )  # fmt: skip
            if len(ok) == 0:
                raise DatasetError(
                    f"{ds.name}: no sequence has >= {options.min_length} frames and > {need} visible frames"
                )
            self.eligible.append(ok)
        # stage-2 negatives restricted to target-absent frames come from these videos only
        self.with_absence = [
            ok[ds.visible_counts[ok] < ds.lengths[ok]] if ds.is_video else ok[:0]
            for ds, ok in zip(self.datasets, self.eligible)
        ]
        if options.train_cls and not options.negatives_from_other_sequences and not any(map(len, self.with_absence)):
            raise DatasetError(
                "data.negatives_from_other_sequences=false needs videos whose target goes out of view; "
                f"no sequence of {', '.join(ds.name for ds in self.datasets)} has a target-absent frame"
            )

    def __len__(self) -> int:
        return self.samples_per_epoch

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    # -- frame-id draws --
    def _causal_ids(self, visible: np.ndarray, rng: np.random.Generator):
        n_t, n_s, gap = self.opts.num_templates, self.opts.num_search, int(self.opts.max_intervals[0])
        increase = 0
        for _ in range(_MAX_ID_DRAWS):
            base = sample_visible_ids(visible, rng, 1, n_t - 1, len(visible) - n_s)
            if base is None:
                return None
            previous = sample_visible_ids(visible, rng, n_t - 1, base[0] - gap - increase, base[0])
            if previous is None:
                increase += 5
                continue
            templates = base + previous
            search = sample_visible_ids(visible, rng, n_s, templates[0] + 1, templates[0] + gap + increase)
            if search is not None:
                return templates, search
            increase += 5
        return None

    def _trident_ids(self, visible: np.ndarray, rng: np.random.Generator):
        intervals = self.opts.max_intervals
        gaps = [int(intervals[min(i, len(intervals) - 1)]) for i in range(self.opts.num_templates - 1)]
        for _ in range(_MAX_ID_DRAWS):
            first = sample_visible_ids(visible, rng, 1)
            search = sample_visible_ids(visible, rng, 1)
            if first is None or search is None:
                return None
            extra = []
            for gap in gaps:
                if first[0] >= search[0]:
                    lo, hi = search[0], search[0] + gap
                else:
                    lo, hi = search[0] - gap, search[0]
                ids = sample_visible_ids(visible, rng, 1, lo, hi, allow_invisible=self.opts.mode == "trident_pro")
                if ids is None:
                    break
                extra += ids
            if len(extra) == len(gaps):
                return first + extra, search
        return None

    def _frame_ids(self, ds: TrackingDataset, visible: np.ndarray, rng: np.random.Generator):
        if not ds.is_video:
            return [0] * self.opts.num_templates, [0] * self.opts.num_search
        if self.opts.mode == "causal":
            return self._causal_ids(visible, rng)
        return self._trident_ids(visible, rng)

    # -- one attempt --
    def _pick(self, rng: np.random.Generator, with_absence: bool = False) -> tuple[int, int]:
        """A dataset and one of its sequences; the sequence is -1 when that dataset has none to offer."""
        d = int(self._cdf.searchsorted(rng.random(), side="right"))
        pool = self.with_absence[d] if with_absence else self.eligible[d]
        return d, (int(pool[rng.integers(0, len(pool))]) if len(pool) else -1)

    def _load(self, d: int, s: int, ids: list[int], loaded: dict) -> list[np.ndarray]:
        out = []
        for f in ids:
            if (d, s, f) not in loaded:
                loaded[(d, s, f)] = self.datasets[d].read_frame(s, f)
            out.append(loaded[(d, s, f)])
        return out

    def _negative_search(self, d: int, s: int, boxes: np.ndarray, visible: np.ndarray, rng, loaded: dict):
        """A search frame without the target: (frames, boxes, description); ``boxes``/``visible``: sequence ``s``'s."""
        ds = self.datasets[d]
        if ds.is_video:
            ids = sample_visible_ids(visible, rng, 1, force_invisible=True)
            if ids is not None:
                frame = self._load(d, s, ids, loaded)[0]
                if self.opts.absent_negative_box == "last_seen":
                    box = np.asarray(boxes[last_seen_frame(visible, ids[0])], dtype=np.float64)
                else:
                    h, w = frame.shape[:2]
                    # official centred dummy box of W/8 x H/8 (int-truncated as upstream)
                    box = np.array([int(w / 2 - w / 16), int(h / 2 - h / 16), int(w / 8), int(h / 8)], dtype=np.float64)
                return [frame], [box], (d, s, ids)
        if not self.opts.negatives_from_other_sequences:
            return None  # the attempt fails and the sample is drawn again
        for _ in range(_MAX_ID_DRAWS):
            d2, s2 = self._pick(rng)
            # the official draw may land on the template's own sequence and label its visible target 0
            if self.opts.official_negatives or (d2, s2) != (d, s):
                break
        else:
            return None
        other_boxes, other_visible = self.datasets[d2].index.boxes_and_visible(s2)
        ids = sample_visible_ids(other_visible, rng, 1, allow_invisible=True) if self.datasets[d2].is_video else [0]
        frames = self._load(d2, s2, ids, loaded)
        return frames, [other_boxes[ids[0]]], (d2, s2, ids)

    def _attempt(self, rng: np.random.Generator) -> tuple[tuple[int, int], Optional[dict], str]:
        """``((dataset, sequence), sample or None, reason of a None)``."""
        want_negative = None  # decided up front only when a negative needs a video whose target goes out of view
        if self.opts.train_cls and not self.opts.negatives_from_other_sequences:
            want_negative = bool(rng.random() >= self.opts.pos_prob)
        d, s = self._pick(rng, with_absence=bool(want_negative))
        self._drawing = d  # the dataset an unreadable frame is counted against
        if s < 0:
            return (d, int(self.eligible[d][0])), None, REDRAW_REASONS[2]
        ds = self.datasets[d]
        boxes, visible = ds.index.boxes_and_visible(s)
        drawn = self._frame_ids(ds, visible, rng)
        if drawn is None:
            return (d, s), None, REDRAW_REASONS[2]
        template_ids, search_ids = drawn
        loaded: dict = {}
        templates = self._load(d, s, template_ids, loaded)
        template_boxes = [boxes[i] for i in template_ids]
        label = None
        search_source = (d, s, search_ids)
        if self.opts.train_cls and (rng.random() >= self.opts.pos_prob if want_negative is None else want_negative):
            label = 0.0
            negative = self._negative_search(d, s, boxes, visible, rng, loaded)
            if negative is None:
                return (d, s), None, REDRAW_REASONS[2]
            searches, search_boxes, search_source = negative
        else:
            label = 1.0 if self.opts.train_cls else None
            searches = self._load(d, s, search_ids, loaded)
            search_boxes = [boxes[i] for i in search_ids]
        sample = self.processing(templates, template_boxes, searches, search_boxes, rng)
        if sample is None:
            frames, boxes = templates + searches, template_boxes + search_boxes
            outside = any(_outside(frame, box) for frame, box in zip(frames, boxes))
            return (d, s), None, REDRAW_REASONS[0 if outside else 1]
        if label is not None:
            sample["label"] = torch.tensor(label, dtype=torch.float32)
        if self.opts.return_meta:
            sd, ss, sids = search_source
            sample["meta"] = {
                "dataset": ds.name,
                "sequence": ds.index.name(s),
                "template_ids": torch.tensor(template_ids),
                "search_dataset": self.datasets[sd].name,
                "search_sequence": self.datasets[sd].sequence(ss).name,
                "search_ids": torch.tensor(sids),
            }
        return (d, s), sample, ""

    def __getitem__(self, key) -> dict:
        epoch, index = key if isinstance(key, tuple) else (self.epoch, key)
        rng = default_rng(_seed_words(self.seed, int(epoch), int(index)))
        failed: Counter = Counter()
        redraws = np.zeros((len(self.datasets), len(REDRAW_REASONS)), dtype=np.int64)
        for _ in range(self.opts.max_redraws + 1):
            try:
                where, sample, reason = self._attempt(rng)
            except FrameReadError as exc:
                self.frame_errors += 1
                logger.warning("skipping unreadable frame (%d so far in this process): %s", self.frame_errors, exc)
                failed[str(exc).split(": ")[0]] += 1
                redraws[self._drawing, REDRAW_REASONS.index("unreadable frame")] += 1
                continue
            if sample is not None:
                sample["redraws"] = torch.from_numpy(redraws)
                return sample
            d, s = where
            redraws[d, REDRAW_REASONS.index(reason)] += 1
            failed[f"{self.datasets[d].name}/{self.datasets[d].sequence(s).name}"] += 1
        worst, count = failed.most_common(1)[0]
        raise SamplingError(
            f"sample (epoch {epoch}, index {index}): {self.opts.max_redraws + 1} draws failed; "
            f"most often {worst} ({count} times); check that dataset's frames and annotations"
        )
