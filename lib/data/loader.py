"""``build_data_loader``: config -> datasets -> sampler -> processing -> batch-first DataLoader.

The index sampler hands ``(epoch, global index)`` pairs to the workers, so ``loader.set_epoch`` works
with persistent workers, every sample is a pure function of ``(cfg.train.seed, epoch, index)``, and
rank ``r`` of ``w`` takes the indices ``r, r + w, r + 2w, ...`` (disjoint across ranks).
"""

from __future__ import annotations

import logging
from typing import Iterator

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

from lib.config.local import LocalSettings
from lib.config.schema import Config, CropConfig
from lib.data.errors import DatasetError
from lib.data.processing import CropSpec, StarkProcessing
from lib.data.registry import build_dataset
from lib.data.sampler import REDRAW_REASONS, SamplerOptions, TrackingSampleDataset, redraw_summary
from lib.train.objectives import objective_class
from lib.utils.memory import keep_freed_memory

logger = logging.getLogger(__name__)


class EpochIndexSampler(Sampler):
    """Yields ``(epoch, global_index)`` for this rank's share of one epoch."""

    def __init__(self, samples_per_rank: int, rank: int = 0, world_size: int = 1):
        self.samples_per_rank = samples_per_rank
        self.rank, self.world_size = rank, world_size
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[int, int]]:
        for k in range(self.samples_per_rank):
            yield (self.epoch, self.rank + k * self.world_size)

    def __len__(self) -> int:
        return self.samples_per_rank


class TrackingDataLoader(DataLoader):
    """A DataLoader with ``set_epoch`` (call it before each epoch) that counts redrawn samples.

    Each sample's ``redraws`` (datasets x reasons, see ``lib.data.sampler.REDRAW_REASONS``) is taken off
    the batch and summed into ``redraw_counts``; :func:`take_redraw_summary` reports and resets them.
    """

    def set_epoch(self, epoch: int) -> None:
        self.sampler.set_epoch(epoch)
        self.dataset.set_epoch(epoch)

    def __iter__(self):
        if not hasattr(self, "redraw_counts"):
            self.redraw_counts = np.zeros((len(self.dataset.datasets), len(REDRAW_REASONS)), dtype=np.int64)
        for batch in super().__iter__():
            redraws = batch.pop("redraws", None)
            if redraws is not None:
                self.redraw_counts += redraws.sum(dim=0).numpy()
            yield batch


def take_redraw_summary(loader) -> str:
    """One line of the samples redrawn per dataset and reason since the last call ("" when none).

    ``loader``: a :class:`TrackingDataLoader`, or anything with ``loaders`` of them (gradient accumulation).
    """
    parts = []
    for part in getattr(loader, "loaders", [loader]):
        counts = getattr(part, "redraw_counts", None)
        if counts is not None:
            parts.append((part, counts.copy()))
            counts[:] = 0
    if not parts:
        return ""
    return redraw_summary([ds.name for ds in parts[0][0].dataset.datasets], sum(c for _, c in parts))


def setup_worker_process(_: int = 0) -> None:
    """What each DataLoader worker runs first (``scripts/bench/data_pipeline.py`` too, standing for one)."""
    # one thread per worker: the workers already use every core
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    keep_freed_memory()  # frames of several MB per sample: no page faults to map each one anew


def crop_spec(crop: CropConfig) -> CropSpec:
    return CropSpec(crop.size, crop.factor, crop.center_jitter, crop.scale_jitter)


def build_sampler(
    cfg: Config, settings: LocalSettings, split: str = "train", return_meta: bool = False
) -> TrackingSampleDataset:
    """The :class:`TrackingSampleDataset` of ``cfg.data.train`` or ``cfg.data.val`` (processing included)."""
    if split not in ("train", "val"):
        raise DatasetError(f"data split '{split}' unknown; valid: train, val")
    data = cfg.data
    mix = data.train if split == "train" else data.val
    if len(mix.datasets_name) != len(mix.datasets_ratio):
        raise DatasetError(
            f"data.{split}: {len(mix.datasets_name)} datasets_name but {len(mix.datasets_ratio)} datasets_ratio"
        )
    if data.search.number != 1:
        raise DatasetError(f"data.search.number = {data.search.number}: only one search frame per sample is supported")
    datasets = [
        build_dataset(
            name, settings, use_lmdb=data.use_lmdb, cache_frames=data.cache_frames, coco_min_size=data.coco_min_size
        )
        for name in mix.datasets_name
    ]
    for ds in datasets:
        logger.info("%s data: %s; index %s", split, ds.describe(), ds.index_origin)
    processing = StarkProcessing(
        crop_spec(data.template),
        crop_spec(data.search),
        data.mean,
        data.std,
        grayscale_prob=data.grayscale_prob,
        brightness_jitter=data.brightness_jitter,
        training=split == "train",
        feature_stride=cfg.model.backbone.stride,
        official_flip=cfg.train.official_parity,
    )
    options = SamplerOptions(
        mode=data.sampler_mode,
        num_templates=data.template.number,
        num_search=data.search.number,
        max_intervals=list(data.max_sample_interval),
        max_redraws=data.max_redraws,
        train_cls=objective_class(cfg.train.objective).presence_labels,
        official_negatives=cfg.train.official_parity,
        negatives_from_other_sequences=data.negatives_from_other_sequences,
        absent_negative_box=data.absent_negative_box,
        return_meta=return_meta,
    )
    # the val sampler gets its own seed stream so val samples differ from train samples of the same index
    seed = cfg.train.seed if split == "train" else cfg.train.seed + 1_000_003
    return TrackingSampleDataset(datasets, mix.datasets_ratio, mix.sample_per_epoch, processing, options, seed=seed)


def build_data_loader(
    cfg: Config, settings: LocalSettings, split: str = "train", rank: int = 0, world_size: int = 1
) -> TrackingDataLoader:
    """Batch-first loader of ``split``; ``sample_per_epoch // (batch_size * world_size)`` batches per epoch.

    Batches (after :func:`lib.data.processing.normalize_images`, which turns the workers' uint8
    ``*_pixels`` + ``*_lut`` into the float images): ``template_images`` (B,T,3,Ht,Wt), ``template_masks`` (B,T,Ht,Wt) bool, ``template_boxes`` (B,T,4),
    ``search_images`` (B,3,Hs,Ws), ``search_masks`` (B,Hs,Ws) bool, ``search_boxes`` (B,4) normalised
    ``x,y,w,h``, and ``label`` (B,) float when the objective needs presence labels.
    """
    sampler_ds = build_sampler(cfg, settings, split)
    batch = cfg.train.batch_size
    batches = sampler_ds.samples_per_epoch // (batch * world_size)
    if batches < 1:
        raise DatasetError(
            f"data.{split}.sample_per_epoch = {sampler_ds.samples_per_epoch} is less than one batch "
            f"({batch} x {world_size} ranks)"
        )
    workers = cfg.train.num_worker
    if workers > 0:
        # a worker forked while this process's OpenCV thread pool is up can hang in its first OpenCV call
        # (reproduced: 2 of 3 forks after a multi-threaded resize hung in setup_worker_process's setNumThreads);
        # with one OpenCV thread here there is no pool for the fork to inherit
        cv2.setNumThreads(1)
    # DataLoader draws the workers' base seed when an iterator is created, from the global torch RNG
    # unless given a generator; persistent workers create it once, in the first epoch this process
    # runs, so a resumed run would draw it at another point of the RNG stream and shift every later
    # random number (dropout) of the main process. A generator of its own, seeded from (seed, rank),
    # keeps the main stream untouched and the worker seeds identical in resumed and uninterrupted runs.
    generator = torch.Generator().manual_seed(int(np.random.SeedSequence([sampler_ds.seed, rank]).generate_state(1)[0]))
    return TrackingDataLoader(
        sampler_ds,
        batch_size=batch,
        sampler=EpochIndexSampler(batches * batch, rank, world_size),
        num_workers=workers,
        drop_last=True,
        persistent_workers=workers > 0,
        worker_init_fn=setup_worker_process if workers > 0 else None,
        pin_memory=False,
        generator=generator,
    )
