"""Benchmark runs: every sequence of a benchmark through a tracker, results in the official layout.

* Test-time configs follow the official mapping: ``stark_s`` -> ``experiments/stark_s/<cfg>.yaml``,
  ``stark_st`` -> ``experiments/stark_st2/<cfg>.yaml``; the default checkpoint is the training output
  ``<save_dir>/checkpoints/train/<script>/<cfg>/<NET>_ep%04d.pth.tar`` at ``cfg.test.epoch``.
* Work is spread over ``threads`` spawned worker processes (GPU = worker index % ``num_gpus``); each
  worker builds the network once. Sequences whose box and time files exist are skipped (resume).
* A failing sequence never stops the run and is never skipped silently: its error is collected and
  reported at the end, and the caller exits non-zero.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import time
import traceback
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np
import torch

from lib.config import Config, load_config
from lib.data.sequence import TestSequence
from lib.evaluation.results_io import is_finished, results_folder, write_sequence_result
from lib.tracker.stark_tracker import StarkTracker

logger = logging.getLogger(__name__)

# tracker name -> (experiment script holding its test-time config, checkpoint prefix)
TRACKERS = {"stark_s": ("stark_s", "STARKS"), "stark_st": ("stark_st2", "STARKST")}


class RunnerError(ValueError):
    """Bad runner input: unknown tracker, missing checkpoint, unknown sequence (one-line message)."""


def tracker_script(tracker_name: str) -> str:
    if tracker_name not in TRACKERS:
        raise RunnerError(f"unknown tracker '{tracker_name}'; valid: {', '.join(TRACKERS)}")
    return TRACKERS[tracker_name][0]


def load_test_config(tracker_name: str, config_name: str, overrides: Iterable[str] = ()) -> Config:
    """The config of ``tracker_name``/``config_name`` (official script mapping) with ``key=value`` overrides."""
    return load_config(tracker_script(tracker_name), config_name, list(overrides))


def default_checkpoint(save_dir: str | Path, tracker_name: str, config_name: str, epoch: int) -> Path:
    """``<save_dir>/checkpoints/train/<script>/<cfg>/<NET>_ep%04d.pth.tar`` (official naming)."""
    script = tracker_script(tracker_name)
    prefix = TRACKERS[tracker_name][1]
    return Path(save_dir) / "checkpoints" / "train" / script / config_name / f"{prefix}_ep{epoch:04d}.pth.tar"


def build_network(cfg: Config, checkpoint: str | Path, exact: bool = False) -> torch.nn.Module:
    """Build the network of ``cfg`` and load ``checkpoint`` (official ``.pth.tar`` or ours) strictly.

    By default the returned copy has its frozen batch norm folded into the convolutions and a channels-last
    layout (boxes within 1e-5 of the exact network, faster on CPU); conv + ReLU fusion stays off (no measured
    end-to-end gain, see ``lib.models.inference.prepare_for_inference``); ``exact`` returns the unmodified network.
    """
    from lib.models import build_stark
    from lib.models.checkpoint import load_network_weights
    from lib.models.inference import prepare_for_inference

    if not Path(checkpoint).is_file():
        raise RunnerError(f"checkpoint {checkpoint} not found (train first, or pass --checkpoint PATH)")
    # every weight comes from the checkpoint: never fetch ImageNet weights for a test run
    cfg_build = replace(cfg, model=replace(cfg.model, backbone=replace(cfg.model.backbone, pretrained=False)))
    model = build_stark(cfg_build)
    load_network_weights(model, checkpoint)
    return model.eval() if exact else prepare_for_inference(model)


@dataclass
class RunOptions:
    """Everything a worker needs to build its tracker and write results (picklable)."""

    tracker_name: str
    config_name: str
    dataset: str
    checkpoint: str
    results_dir: str
    runid: Optional[int] = None
    overrides: list[str] = field(default_factory=list)
    int_results: bool = False
    amp: str = "none"
    device: str = "auto"  # auto: cuda when available, else cpu
    exact: bool = False  # the unmodified network instead of the BN-folded, channels-last inference copy

    @property
    def output_folder(self) -> Path:
        return results_folder(self.results_dir, self.tracker_name, self.config_name, self.dataset, self.runid)


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


def _select_device(options: RunOptions, worker_index: int, num_gpus: int) -> torch.device:
    if options.device != "auto":
        return torch.device(options.device)
    if torch.cuda.is_available() and num_gpus > 0:
        return torch.device(f"cuda:{worker_index % num_gpus}")
    return torch.device("cpu")


def make_tracker(options: RunOptions, device: torch.device) -> StarkTracker:
    cfg = load_test_config(options.tracker_name, options.config_name, options.overrides)
    model = build_network(cfg, options.checkpoint, options.exact)
    return StarkTracker(cfg, model, options.dataset, device=device, amp=options.amp)


def run_one(tracker: StarkTracker, options: RunOptions, seq: TestSequence) -> SequenceOutcome:
    """Track and write one sequence; any exception becomes a ``failed`` outcome with its message."""
    folder = options.output_folder
    if is_finished(folder, seq.name):
        return SequenceOutcome(seq.name, "skipped")
    try:
        boxes, times, _ = track_sequence(tracker, seq)
        write_sequence_result(folder, seq.name, boxes, times, integer=options.int_results)
    except Exception as exc:  # noqa: BLE001 -- reported at the end of the run, never swallowed
        logger.debug("sequence %s failed:\n%s", seq.name, traceback.format_exc())
        return SequenceOutcome(seq.name, "failed", f"{type(exc).__name__}: {exc}")
    total = float(times.sum())
    return SequenceOutcome(seq.name, "done", fps=len(times) / total if total > 0 else 0.0)


# -- worker processes -----------------------------------------------------------------------------
_WORKER: dict = {}


def _worker_init(options: RunOptions, num_gpus: int, counter) -> None:
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    torch.set_num_threads(1)
    _WORKER["options"] = options
    _WORKER["device"] = _select_device(options, index, num_gpus)
    _WORKER["tracker"] = None  # built lazily so a bad checkpoint fails the sequences, not the pool


def _worker_run(seq: TestSequence) -> SequenceOutcome:
    options = _WORKER["options"]
    if is_finished(options.output_folder, seq.name):
        return SequenceOutcome(seq.name, "skipped")
    try:
        if _WORKER["tracker"] is None:
            _WORKER["tracker"] = make_tracker(options, _WORKER["device"])
    except Exception as exc:  # noqa: BLE001 -- reported per sequence at the end
        return SequenceOutcome(seq.name, "failed", f"{type(exc).__name__}: {exc}")
    return run_one(_WORKER["tracker"], options, seq)


def run_benchmark(
    options: RunOptions,
    sequences: Sequence[TestSequence],
    threads: int = 0,
    num_gpus: int = 1,
    progress: bool = True,
) -> list[SequenceOutcome]:
    """Run every sequence (in-process when ``threads == 0``) and return one outcome per sequence."""
    from tqdm import tqdm

    todo = [s for s in sequences if not is_finished(options.output_folder, s.name)]
    outcomes = [SequenceOutcome(s.name, "skipped") for s in sequences if is_finished(options.output_folder, s.name)]
    if outcomes:
        logger.info("%d of %d sequences already finished, skipped", len(outcomes), len(sequences))
    bar = tqdm(total=len(todo), desc=f"{options.tracker_name}/{options.config_name} on {options.dataset}",
               disable=not progress, unit="seq")  # fmt: skip
    if threads <= 0:
        tracker = None
        for seq in todo:
            try:
                tracker = tracker or make_tracker(options, _select_device(options, 0, num_gpus))
            except Exception as exc:  # noqa: BLE001 -- a bad checkpoint fails every sequence, visibly
                outcomes.append(SequenceOutcome(seq.name, "failed", f"{type(exc).__name__}: {exc}"))
                bar.update(1)
                continue
            outcomes.append(run_one(tracker, options, seq))
            bar.update(1)
    else:
        context = mp.get_context("spawn")
        counter = context.Value("i", 0)
        with context.Pool(threads, initializer=_worker_init, initargs=(options, num_gpus, counter)) as pool:
            for outcome in pool.imap_unordered(_worker_run, todo):
                outcomes.append(outcome)
                bar.update(1)
    bar.close()
    done = [o for o in outcomes if o.status == "done"]
    if done:
        logger.info("tracked %d sequences, mean %.1f FPS", len(done), float(np.mean([o.fps for o in done])))
    return outcomes


def folder_sequence(folder: str | Path, init_box: Optional[Sequence[float]] = None) -> TestSequence:
    """A sequence from a folder of frames (sorted by name; numeric names sort numerically) and an init box.

    Without ``init_box`` the first line of ``<folder>/groundtruth.txt`` is used.
    """
    from lib.data.image_source import FolderSource
    from lib.evaluation.results_io import read_boxes
    from lib.tracker.demo import frame_files

    root = Path(folder)
    if not root.is_dir():
        raise RunnerError(f"{root}: not a folder of frames")
    names = [p.name for p in frame_files(root)]
    if not names:
        raise RunnerError(f"{root}: no .jpg/.png frames")
    if init_box is None:
        gt_file = root / "groundtruth.txt"
        if not gt_file.is_file():
            raise RunnerError(f"{root}: give --init_box x y w h or a groundtruth.txt")
        gt = read_boxes(gt_file)
    else:
        gt = np.asarray(init_box, dtype=np.float64).reshape(1, 4)
    boxes = np.full((len(names), 4), np.nan)
    boxes[: min(len(names), gt.shape[0])] = gt[: len(names)]
    if not (boxes[0, 2] > 0 and boxes[0, 3] > 0):
        raise RunnerError(f"{root}: the initial box {boxes[0].tolist()} needs a positive width and height")
    return TestSequence(root.name, "folder", names, boxes, FolderSource(root))


def build_tracker(
    tracker_name: str,
    config_name: str,
    checkpoint: Optional[str | Path],
    save_dir: str | Path = ".",
    overrides: Iterable[str] = (),
    dataset_name: str = "video",
    device: str = "auto",
    amp: str = "none",
) -> StarkTracker:
    """One ready tracker (demo / visualisation); the checkpoint defaults to the training output at ``cfg.test.epoch``."""
    cfg = load_test_config(tracker_name, config_name, overrides)
    checkpoint = checkpoint or default_checkpoint(save_dir, tracker_name, config_name, cfg.test.epoch)
    model = build_network(cfg, checkpoint)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return StarkTracker(cfg, model, dataset_name, device=device, amp=amp)
