"""Dataset names used by configs (the official ones plus ``*_all`` for partial or generated sets)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from lib.config.local import LocalSettings
from lib.data import test_sets
from lib.data.datasets import Coco, Got10k, Lasot, TrackingDataset, TrackingNet
from lib.data.errors import DatasetError
from lib.data.image_source import ImageSource, make_source
from lib.data.sequence import TestSequence

# name -> (settings key of the root, constructor taking (source, cache_frames, coco_min_size, index_cache))
_Factory = Callable[[ImageSource, bool, float, Optional[Path]], TrackingDataset]
_TRAIN: dict[str, tuple[str, _Factory]] = {
    "LASOT": ("lasot", lambda s, c, m, i: Lasot(s, "train", c, name="LASOT", index_cache=i)),
    "LASOT_all": ("lasot", lambda s, c, m, i: Lasot(s, "all", c, name="LASOT_all", index_cache=i)),
    "GOT10K_vottrain": ("got10k", lambda s, c, m, i: Got10k(s, "train", "vottrain", c, "GOT10K_vottrain", i)),
    "GOT10K_votval": ("got10k", lambda s, c, m, i: Got10k(s, "train", "votval", c, "GOT10K_votval", i)),
    "GOT10K_train_full": ("got10k", lambda s, c, m, i: Got10k(s, "train", "train_full", c, "GOT10K_train_full", i)),
    "GOT10K_train": ("got10k", lambda s, c, m, i: Got10k(s, "train", "train", c, "GOT10K_train", i)),
    "GOT10K_val": ("got10k", lambda s, c, m, i: Got10k(s, "train", "val", c, "GOT10K_val", i)),
    "GOT10K_official_val": ("got10k", lambda s, c, m, i: Got10k(s, "val", "all", c, "GOT10K_official_val", i)),
    "GOT10K_all": ("got10k", lambda s, c, m, i: Got10k(s, "train", "all", c, "GOT10K_all", i)),
    "COCO17": ("coco", lambda s, c, m, i: Coco(s, min_size=m, cache_frames=c, name="COCO17", index_cache=i)),
    "TRACKINGNET": ("trackingnet", lambda s, c, m, i: TrackingNet(s, cache_frames=c, name="TRACKINGNET", index_cache=i)),
    "TRACKINGNET_all": ("trackingnet", lambda s, c, m, i: TrackingNet(s, "present", c, "TRACKINGNET_all", i)),
}

# test-time benchmarks -> (root key, constructor taking the source)
_TEST: dict[str, tuple[str, Callable[[ImageSource], TrackingDataset]]] = {
    "got10k_test": ("got10k", lambda s: Got10k(s, "test")),
    "got10k_val": ("got10k", lambda s: Got10k(s, "val")),
    "lasot": ("lasot", lambda s: Lasot(s, "test")),
    "lasot_all": ("lasot", lambda s: Lasot(s, "all")),
    "trackingnet": ("trackingnet", lambda s: TrackingNet(s, ["TEST"])),
}



def canonical_name(name: str) -> str:
    """Official spelling of a dataset name (case-insensitive); one-line error listing the valid names."""
    lookup = {n.lower(): n for n in _TRAIN}
    if name.lower() not in lookup:
        raise DatasetError(f"unknown dataset name '{name}'; valid: {', '.join(_TRAIN)}")
    return lookup[name.lower()]


def dataset_source(settings: LocalSettings, root_key: str, use_lmdb: bool) -> ImageSource:
    """The folder or lmdb source of ``<root_key>_dir`` / ``<root_key>_lmdb_dir`` (one-line error if absent)."""
    key = f"{root_key}_lmdb_dir" if use_lmdb else f"{root_key}_dir"
    return make_source(settings.dataset_root(key), use_lmdb=use_lmdb)


def build_dataset(
    name: str,
    settings: LocalSettings,
    use_lmdb: bool = False,
    cache_frames: bool = False,
    coco_min_size: float = 50.0,
) -> TrackingDataset:
    """A training dataset by config name (``LASOT``, ``GOT10K_vottrain``, ``GOT10K_all``, ``COCO17``, ...).

    Its index comes from the index cache in ``settings.index_cache_dir`` (built there on first use).
    """
    name = canonical_name(name)
    root_key, factory = _TRAIN[name]
    source = dataset_source(settings, root_key, use_lmdb)
    return factory(source, cache_frames, coco_min_size, Path(settings.index_cache_dir))


def benchmark_names() -> list[str]:
    """Every benchmark name ``load_test_sequences`` accepts (``tracking/test.py --dataset`` choices)."""
    return [*_TEST, *test_sets.TEST_SETS]


def benchmark_root_key(benchmark: str) -> str:
    """Settings key (without ``_dir``) of the root a test benchmark reads, e.g. ``uav`` for ``uav123``."""
    name = benchmark.lower()
    if name in test_sets.TEST_SETS:
        return test_sets.TEST_SETS[name]
    if name not in _TEST:
        raise DatasetError(f"unknown benchmark '{benchmark}'; valid: {', '.join(benchmark_names())}")
    return _TEST[name][0]


def load_test_sequences(benchmark: str, settings: LocalSettings, use_lmdb: bool = False) -> list[TestSequence]:
    """Test-time sequences of a benchmark of :func:`benchmark_names` (``lasot``, ``got10k_test``, ``otb``, ...)."""
    if benchmark.lower() in test_sets.TEST_SETS:
        source = dataset_source(settings, test_sets.TEST_SETS[benchmark.lower()], use_lmdb)
        return test_sets.load_sequences(benchmark.lower(), source)
    if benchmark.lower() not in _TEST:
        raise DatasetError(f"unknown benchmark '{benchmark}'; valid: {', '.join(benchmark_names())}")
    root_key, factory = _TEST[benchmark.lower()]
    return factory(dataset_source(settings, root_key, use_lmdb)).test_sequences()
