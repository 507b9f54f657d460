"""Benchmark runs: every sequence of a benchmark through a tracker, results in the official layout.

* Sequences whose box and time files exist are skipped (resume); that is checked once per sequence,
  before any work.
* Work runs in this process (``threads == 0``) or in ``threads`` spawned worker processes that pull
  sequences from a shared queue (GPU = worker index % ``num_gpus``); each builds its backend once.
* ``batch_sequences > 1`` tracks that many sequences side by side per process with one network call per
  step (``lib.tracker.batched``); their per-frame times are the step's wall time / live sequences.
* A failing sequence never stops the run and is never skipped silently: its error is collected and
  reported at the end, and the caller exits non-zero.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing as mp
import queue
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

import numpy as np
import torch

from lib.config import Config
from lib.data.sequence import TestSequence
from lib.evaluation.results_io import is_finished, results_folder, write_sequence_result
from lib.tracker.names import RunnerError
from lib.tracker.network import build_backend, resolve_device
from lib.tracker.stark_tracker import StarkTracker

logger = logging.getLogger(__name__)


@dataclass
class RunOptions:
    """Everything a worker needs to build its tracker and write results (picklable; the config is loaded once)."""

    tracker_name: str
    config_name: str
    dataset: str
    checkpoint: str
    results_dir: str
    cfg: Config
    runid: Optional[int] = None
    int_results: bool = False
    amp: str = "none"
    device: str = "auto"  # auto: cuda when available, else cpu
    exact: bool = False  # the unmodified network instead of the BN-folded, channels-last inference copy
    backend: str = "torch"  # torch | onnxruntime
    compile: bool = False  # torch.compile the torch backend's encode/decode
    onnx_dir: Optional[str] = None  # the exported graphs, for the onnxruntime backend
    batch_sequences: int = 1  # sequences tracked side by side per process

    @property
    def output_folder(self) -> Path:
        return results_folder(self.results_dir, self.tracker_name, self.config_name, self.dataset, self.runid)

    def make_backend(self, device: torch.device):
        return build_backend(self.cfg, self.checkpoint, self.backend, device, self.amp, self.exact, self.compile,
                             self.onnx_dir)  # fmt: skip


@dataclass
class SequenceOutcome:
    name: str
    status: str  # done | skipped | failed
    error: str = ""
    fps: float = 0.0


def track_sequence(tracker: StarkTracker, seq: TestSequence) -> tuple[np.ndarray, np.ndarray, list]:
    """Run the tracker over ``seq`` -> boxes (N, 4) (frame 0 = init box), seconds per frame (N,), scores."""
    boxes, times, scores = [], [], []
    for index in range(len(seq)):
        image = seq.read_frame(index)
        start = time.perf_counter()
        if index == 0:
            out = tracker.initialize(image, {"init_bbox": seq.init_box})
            box = seq.init_box
        else:
            out = tracker.track(image)
            box = out["target_bbox"]
        times.append(time.perf_counter() - start)
        boxes.append(box)
        scores.append(out.get("conf_score"))
    return np.asarray(boxes, dtype=np.float64), np.asarray(times), scores


def _failed(name: str, exc: BaseException) -> SequenceOutcome:
    logger.debug(
        "sequence %s failed:\n%s", name, "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    )
    return SequenceOutcome(name, "failed", f"{type(exc).__name__}: {exc}")


def _write(options: RunOptions, seq: TestSequence, boxes: np.ndarray, times: np.ndarray) -> SequenceOutcome:
    try:
        write_sequence_result(options.output_folder, seq.name, boxes, times, integer=options.int_results)
    except Exception as exc:  # noqa: BLE001 -- reported at the end of the run, never swallowed
        return _failed(seq.name, exc)
    total = float(times.sum())
    return SequenceOutcome(seq.name, "done", fps=len(times) / total if total > 0 else 0.0)


def track_stream(
    options: RunOptions, device: torch.device, sequences: Iterable[TestSequence], report: Callable
) -> None:
    """Track and write every sequence of ``sequences`` with one backend; ``report(outcome)`` per sequence.

    The backend is built on the first sequence, so a bad checkpoint fails the sequences (visibly), not the run.
    """
    stream = iter(sequences)
    first = next(stream, None)
    if first is None:
        return
    stream = itertools.chain([first], stream)
    try:
        backend = options.make_backend(device)
    except Exception as exc:  # noqa: BLE001 -- every sequence of the stream fails with the same error
        for seq in stream:
            report(_failed(seq.name, exc))
        return
    if options.batch_sequences > 1:
        from lib.tracker.batched import track_batched

        def on_done(seq, boxes, times, error):
            report(_failed(seq.name, error) if error is not None else _write(options, seq, boxes, times))

        track_batched(options.cfg, backend, options.dataset, stream, options.batch_sequences, on_done)
        return
    for seq in stream:
        try:
            boxes, times, _ = track_sequence(StarkTracker(options.cfg, backend, options.dataset), seq)
        except Exception as exc:  # noqa: BLE001 -- reported at the end of the run, never swallowed
            report(_failed(seq.name, exc))
            continue
        report(_write(options, seq, boxes, times))


# -- worker processes -----------------------------------------------------------------------------
def _worker_main(options: RunOptions, device: str, tasks, results) -> None:
    """One worker process: sequences from the shared queue until its stop marker (None), outcomes back."""
    torch.set_num_threads(1)
    track_stream(options, torch.device(device), iter(tasks.get, None), results.put)


def _run_workers(options: RunOptions, todo: Sequence[TestSequence], threads: int, num_gpus: int, report) -> None:
    context = mp.get_context("spawn")
    tasks, results = context.Queue(), context.Queue()
    for seq in todo:
        tasks.put(seq)
    for _ in range(threads):
        tasks.put(None)
    workers = [
        context.Process(
            target=_worker_main, args=(options, str(resolve_device(options.device, i, num_gpus)), tasks, results)
        )
        for i in range(threads)
    ]
    for worker in workers:
        worker.start()
    reported: set[str] = set()
    try:
        while len(reported) < len(todo):
            try:
                outcome = results.get(timeout=0.5)
            except queue.Empty:
                if any(worker.is_alive() for worker in workers):
                    continue
                try:  # every worker is gone: take what they left, then stop waiting
                    outcome = results.get(timeout=1.0)
                except queue.Empty:
                    break
            reported.add(outcome.name)
            report(outcome)
    finally:
        for worker in workers:
            worker.join(timeout=5)
            if worker.is_alive():
                worker.terminate()
    for seq in todo:
        if seq.name not in reported:
            report(SequenceOutcome(seq.name, "failed", "its worker process exited without a result"))


def check_batch_sequences(batch_sequences: int, count: int) -> None:
    """One-line RunnerError unless ``1 <= batch_sequences <= count`` (a count of 0 allows 1)."""
    if batch_sequences < 1 or batch_sequences > max(1, count):
        raise RunnerError(
            f"--batch_sequences {batch_sequences} must be between 1 and the number of sequences ({count})"
        )


def run_benchmark(
    options: RunOptions,
    sequences: Sequence[TestSequence],
    threads: int = 0,
    num_gpus: int = 1,
    progress: bool = True,
) -> list[SequenceOutcome]:
    """Run every sequence (in-process when ``threads == 0``) and return one outcome per sequence."""
    from tqdm import tqdm

    check_batch_sequences(options.batch_sequences, len(sequences))
    finished = {seq.name for seq in sequences if is_finished(options.output_folder, seq.name)}
    todo = [seq for seq in sequences if seq.name not in finished]
    outcomes = [SequenceOutcome(name, "skipped") for name in sorted(finished)]
    if finished:
        logger.info("%d of %d sequences already finished, skipped", len(finished), len(sequences))
    if options.batch_sequences > 1:
        logger.info("tracking %d sequences side by side; per-frame times are step wall time / live sequences",
                    options.batch_sequences)  # fmt: skip
    bar = tqdm(total=len(todo), desc=f"{options.tracker_name}/{options.config_name} on {options.dataset}",
               disable=not progress, unit="seq")  # fmt: skip

    def report(outcome: SequenceOutcome) -> None:
        outcomes.append(outcome)
        bar.update(1)

    if threads <= 0:
        track_stream(options, resolve_device(options.device, 0, num_gpus), todo, report)
    else:
        _run_workers(options, todo, threads, num_gpus, report)
    bar.close()
    done = [o for o in outcomes if o.status == "done"]
    if done:
        logger.info("tracked %d sequences, mean %.1f FPS", len(done), float(np.mean([o.fps for o in done])))
    return outcomes
