"""Benchmark readers: one class per benchmark, image source injected (folder or lmdb)."""

from lib.data.datasets.base import SequenceData, TrackingDataset
from lib.data.datasets.coco import Coco
from lib.data.datasets.got10k import Got10k
from lib.data.datasets.lasot import Lasot
from lib.data.datasets.trackingnet import TrackingNet

__all__ = ["Coco", "Got10k", "Lasot", "SequenceData", "TrackingDataset", "TrackingNet"]
