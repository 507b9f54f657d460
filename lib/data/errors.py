"""Exceptions of the data package (one-line messages; entry points print them without a traceback)."""

from __future__ import annotations

from lib.config.loader import ConfigError


class DatasetError(ConfigError):
    """A dataset root, split file, annotation or dataset name that cannot be used (names file and problem)."""


class FrameReadError(DatasetError):
    """A frame that is missing or cannot be decoded (the sampler counts it and draws again)."""


class SamplingError(RuntimeError):
    """The sampler kept drawing invalid samples from the same dataset/sequence and gave up."""
