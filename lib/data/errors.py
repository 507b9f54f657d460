"""Exceptions of the data package (one-line messages; entry points print them without a traceback)."""

from __future__ import annotations


class DatasetError(ValueError):
    """A dataset root, split file, annotation, frame or dataset name that cannot be used (names file and problem).

    Not a :class:`~lib.config.loader.ConfigError`: a corrupt JPEG or a short annotation file is a problem of
    the data, not of the configuration; entry points catch both.
    """


class FrameReadError(DatasetError):
    """A frame that is missing or cannot be decoded (the sampler counts it and draws again)."""


class SamplingError(RuntimeError):
    """The sampler kept drawing invalid samples from the same dataset/sequence and gave up."""
