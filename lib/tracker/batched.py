"""Tracking several sequences side by side: one network call per step serves every live sequence.

Each slot holds one sequence's ``StarkTracker`` (its own state and template cache). A step crops every
live slot's search region, stacks the crops and the slots' template caches along the batch axis, calls
``backend.predict`` once, and hands each slot its batch entry (``StarkTracker.finish``: map back, template
update). Initialisation and template updates stay per slot. A finished slot is refilled with the next
sequence at once, so the batch stays full until the sequences run out.

Per-frame times: the first frame of a sequence is timed alone; every later frame gets the step's wall
time divided by the number of sequences live in that step (a batched step's cost is shared).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

import numpy as np
import torch

from lib.config import Config
from lib.data.sequence import TestSequence
from lib.tracker.backends import batch_features
from lib.tracker.stark_tracker import StarkTracker

logger = logging.getLogger(__name__)

# on_done(sequence, boxes (N, 4), seconds per frame (N,), error or None)
DoneCallback = Callable[[TestSequence, Optional[np.ndarray], Optional[np.ndarray], Optional[BaseException]], None]


@dataclass
class _Slot:
    seq: TestSequence
    tracker: StarkTracker
    boxes: list = field(default_factory=list)
    times: list = field(default_factory=list)

    @property
    def next_frame(self) -> int:
        return len(self.boxes)


def track_batched(
    cfg: Config, backend, dataset_name: str, sequences: Iterable[TestSequence], slots: int, on_done: DoneCallback
) -> None:
    """Track every sequence with up to ``slots`` of them live at once; ``on_done`` is called once per sequence."""
    pending = iter(sequences)
    live: list[_Slot] = []

    def finish_if_done(slot: _Slot) -> bool:
        if slot.next_frame < len(slot.seq):
            return False
        on_done(slot.seq, np.asarray(slot.boxes, dtype=np.float64), np.asarray(slot.times), None)
        return True

    while True:
        while len(live) < slots:
            seq = next(pending, None)
            if seq is None:
                break
            slot = _Slot(seq, StarkTracker(cfg, backend, dataset_name))
            try:
                image = seq.read_frame(0)
                start = time.perf_counter()
                slot.tracker.initialize(image, {"init_bbox": seq.init_box})
                slot.times.append(time.perf_counter() - start)
                slot.boxes.append(seq.init_box)
            except Exception as exc:  # noqa: BLE001 -- this sequence fails, the others go on
                on_done(seq, None, None, exc)
                continue
            if not finish_if_done(slot):
                live.append(slot)
        if not live:
            return
        images = []
        for slot in list(live):
            try:
                images.append(slot.seq.read_frame(slot.next_frame))
            except Exception as exc:  # noqa: BLE001
                live.remove(slot)
                on_done(slot.seq, None, None, exc)
        if not live:
            continue
        failures = _step(backend, live, images)
        for slot, exc in failures:
            on_done(slot.seq, None, None, exc)
        failed = {id(slot) for slot, _ in failures}
        live = [slot for slot in live if id(slot) not in failed and not finish_if_done(slot)]


def _step(backend, live: list[_Slot], images: list[np.ndarray]) -> list[tuple[_Slot, BaseException]]:
    """One frame for every slot of ``live``; returns the slots that failed, each with its error. A slot's own
    step (its search crop, mapping back, template update) fails that slot alone; a failed network call fails
    every slot it served."""
    fresh = [slot.tracker.previous_query is None for slot in live]
    if any(fresh) and not all(fresh):
        # update-query variant: slots without a previous query (just initialised) take their own call
        failures = []
        for group in (True, False):
            failures += _step(backend, *map(list, zip(*[(s, i) for s, i, f in zip(live, images, fresh) if f is group])))
        return failures
    start = time.perf_counter()
    failures, served = [], []
    for slot, image in zip(live, images):
        try:
            served.append((slot, image, slot.tracker.prepare(image)))
        except Exception as exc:  # noqa: BLE001 -- this sequence fails, the others go on
            failures.append((slot, exc))
    if not served:
        return failures
    slots = [slot for slot, _, _ in served]
    try:
        templates = [
            batch_features([slot.tracker.templates[k] for slot in slots]) for k in range(len(slots[0].tracker.templates))
        ]
        crops = torch.cat([search.crop for _, _, search in served])
        masks = torch.cat([search.mask for _, _, search in served])
        previous = None if fresh[0] else torch.cat([slot.tracker.previous_query for slot in slots])
        out = backend.predict(templates, crops, masks, previous)
    except Exception as exc:  # noqa: BLE001 -- a failed network call fails the sequences it served
        logger.debug("batched step failed", exc_info=True)
        return failures + [(slot, exc) for slot in slots]
    results = []
    for i, (slot, image, search) in enumerate(served):
        try:
            results.append((slot, slot.tracker.finish(image, search, {key: value[i : i + 1] for key, value in out.items()})))
        except Exception as exc:  # noqa: BLE001 -- this sequence fails, the others go on
            failures.append((slot, exc))
    share = (time.perf_counter() - start) / len(served)
    for slot, result in results:
        slot.boxes.append(result["target_bbox"])
        slot.times.append(share)
    return failures
