"""ResNet trunk truncated after ``layer3`` (stride 16) with frozen batch norm.

Module names follow torchvision's ResNet so that the official state_dict keys
(``backbone.0.body.layer3.5.conv2.weight`` ...) and torchvision's ImageNet files load directly.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Optional, Sequence

import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

from lib.models.checkpoint import read_checkpoint
from lib.models.errors import ModelError

LOGGER = logging.getLogger(__name__)

_TRUNK_LAYERS = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3")

# torchvision weights enum per trunk, plus the legacy file name the official code's torchvision downloaded
_WEIGHTS = {
    "resnet18": ("ResNet18_Weights", "resnet18-5c106cde.pth"),
    "resnet34": ("ResNet34_Weights", "resnet34-333f7ec4.pth"),
    "resnet50": ("ResNet50_Weights", "resnet50-19c8e357.pth"),
    "resnet101": ("ResNet101_Weights", "resnet101-5d3b4d8f.pth"),
}


def trunk_channels(name: str) -> int:
    """Output channels of ``layer3`` for a torchvision ResNet name."""
    if name not in _WEIGHTS:
        raise ModelError(f"model.backbone.type: unknown trunk {name!r} (expected one of {sorted(_WEIGHTS)})")
    return 256 if name in ("resnet18", "resnet34") else 1024


class ResNetTrunk(nn.Module):
    """torchvision ResNet up to ``layer3``; ``body`` holds the layers under their torchvision names.

    Args:
        name: resnet18 | resnet34 | resnet50 | resnet101.
        frozen_layers: top-level layer names whose parameters never train (official: conv1, layer1;
            bn1 is a FrozenBatchNorm2d and has no parameters anyway).
        frozen_bn: ``FrozenBatchNorm2d`` (official, for ImageNet-initialised trunks); False gives ordinary,
            trainable ``BatchNorm2d``, which a trunk trained from scratch needs (its frozen statistics
            would stay at the identity).
    """

    def __init__(self, name: str, frozen_layers: Sequence[str] = ("conv1", "layer1"), frozen_bn: bool = True) -> None:
        super().__init__()
        self.num_channels = trunk_channels(name)
        norm_layer = FrozenBatchNorm2d if frozen_bn else nn.BatchNorm2d
        resnet = getattr(torchvision.models, name)(weights=None, norm_layer=norm_layer)
        self.body = nn.Sequential(OrderedDict((key, getattr(resnet, key)) for key in _TRUNK_LAYERS))
        for key in frozen_layers:
            if key not in _TRUNK_LAYERS:
                raise ModelError(f"train.freeze_layers: {key!r} is not a trunk layer {_TRUNK_LAYERS}")
            for param in self.body[_TRUNK_LAYERS.index(key)].parameters():
                param.requires_grad_(False)

    def forward(self, images: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B,3,H,W) images, (B,H,W) bool masks -> (B,C,H/16,W/16) features, (B,H/16,W/16) masks."""
        features = self.body(images)
        return features, downsample_mask(masks, features.shape[-2:])

    def load_torchvision_state(self, state: dict[str, torch.Tensor], source: str) -> None:
        """Load a full torchvision ResNet state_dict (fc/layer4 entries are ignored)."""
        own = self.body.state_dict()
        picked = {key: value for key, value in state.items() if key in own}
        missing = sorted(set(own) - set(picked) - {k for k in own if k.endswith("num_batches_tracked")})
        if missing:
            raise ModelError(
                f"{source}: not a torchvision ResNet file, {len(missing)} keys missing (e.g. {missing[:3]})"
            )
        try:
            self.body.load_state_dict(picked, strict=False)
        except RuntimeError as exc:
            first = str(exc).strip().splitlines()[-1].strip()
            raise ModelError(f"{source}: does not fit this trunk: {first}") from None


def downsample_mask(masks: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Nearest-neighbour resize of (B,H,W) bool padding masks to ``size`` (official F.interpolate)."""
    return F.interpolate(masks[None].float(), size=tuple(size)).to(torch.bool)[0]


def _legacy_cached_file(name: str) -> Optional[Path]:
    """The file the official code's ``resnet50(pretrained=True)`` left in the torch hub cache, if any."""
    path = Path(torch.hub.get_dir()) / "checkpoints" / _WEIGHTS[name][1]
    return path if path.is_file() else None


def _fetch_imagenet_state(name: str) -> dict[str, torch.Tensor]:
    """torchvision's ``IMAGENET1K_V1`` weights (the original ImageNet ResNets the paper starts from).

    Through torchvision's weights API: read from the torch hub cache, downloaded there first when absent.
    """
    weights = getattr(torchvision.models, _WEIGHTS[name][0]).IMAGENET1K_V1
    try:
        return weights.get_state_dict(progress=True, check_hash=True, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as exc:  # URLError and timeouts are OSErrors; a bad hash is a RuntimeError
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"ImageNet weights for {name} could not be fetched from {weights.url} ({reason}); "
            f"either set model.backbone.weights_path=FILE (a torchvision {name} .pth, e.g. copied into "
            f"{torch.hub.get_dir()}/checkpoints from a machine with network access) or "
            "model.backbone.pretrained=false (random trunk: the paper's recipe needs ImageNet weights)"
        ) from None


def load_imagenet_weights(trunk: ResNetTrunk, name: str, weights_path: Optional[str]) -> None:
    """Fill ``trunk`` with ImageNet weights: ``weights_path``, else the official code's cached file, else
    torchvision's weights API (which downloads into the torch hub cache when the file is not there).

    Every rank calls this with the same arguments, so every rank starts from the same weights.
    """
    path = Path(weights_path).expanduser() if weights_path else _legacy_cached_file(name)
    if weights_path and not path.is_file():
        raise ModelError(f"model.backbone.weights_path: file not found: {path}")
    if path is None:
        state, source = _fetch_imagenet_state(name), f"torchvision {_WEIGHTS[name][0]}.IMAGENET1K_V1"
    else:
        state = read_checkpoint(path)  # restricted reading, one-line ModelError on a bad file
        source = str(path)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    trunk.load_torchvision_state(state, source)
    LOGGER.info("loaded ImageNet weights for %s from %s", name, source)
