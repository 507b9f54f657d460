"""Exceptions of the model package; every message is one line naming the file or option at fault."""

from __future__ import annotations


class ModelError(ValueError):
    """A model option or pretrained-weights source that cannot be used."""


class CheckpointError(ModelError):
    """A checkpoint file that cannot be read or does not match the network."""
