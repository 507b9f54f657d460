"""The STARK network, its builder, checkpoints and inference helpers."""

from lib.models.build import build_stark
from lib.models.errors import CheckpointError, ModelError
from lib.models.stark import FeatureSequence, Stark, merge_sequences

__all__ = ["CheckpointError", "FeatureSequence", "ModelError", "Stark", "build_stark", "merge_sequences"]
