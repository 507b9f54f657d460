"""Inference copies of the network: batch norm folded into the preceding convolutions.

The folded copy computes the same function as the original in eval mode (differences are float
rounding, < 1e-5 on the outputs); the original stays the exact fp32 reference path.
"""

from __future__ import annotations

import copy
from typing import Union

import torch
import torch.nn.functional as F
from torch import nn
from torchvision.ops import FrozenBatchNorm2d

_Norm = Union[FrozenBatchNorm2d, nn.BatchNorm2d]


def _fold(conv: nn.Conv2d, norm: _Norm) -> nn.Conv2d:
    """Conv followed by an (eval-mode) batch norm -> one conv with bias."""
    eps = norm.eps
    scale = norm.weight * torch.rsqrt(norm.running_var + eps)  # (C_out,)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(norm.running_mean)
    folded = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        stride=conv.stride,
        padding=conv.padding,
        dilation=conv.dilation,
        groups=conv.groups,
        bias=True,
    ).to(conv.weight.device, conv.weight.dtype)
    with torch.no_grad():
        folded.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
        folded.bias.copy_((bias - norm.running_mean) * scale + norm.bias)
    folded.weight.requires_grad_(False)
    folded.bias.requires_grad_(False)
    return folded


def _is_norm(module: nn.Module) -> bool:
    return isinstance(module, (FrozenBatchNorm2d, nn.BatchNorm2d))


def _fold_children(module: nn.Module) -> int:
    """Fold conv/norm pairs among ``module``'s direct children; returns the number folded.

    Pairs are (convN, bnN) attributes (torchvision ResNet blocks and stem) and consecutive entries of
    an ``nn.Sequential`` (downsample branches, corner-head stages).
    """
    folded = 0
    children = dict(module.named_children())
    for name, child in children.items():
        if name.startswith("conv") and isinstance(child, nn.Conv2d):
            norm_name = "bn" + name[len("conv") :]
            norm = children.get(norm_name)
            if norm is not None and _is_norm(norm):
                setattr(module, name, _fold(child, norm))
                setattr(module, norm_name, nn.Identity())
                folded += 1
    if isinstance(module, nn.Sequential):
        names = list(children)
        for first, second in zip(names[:-1], names[1:]):
            conv, norm = children[first], children[second]
            if isinstance(conv, nn.Conv2d) and _is_norm(norm):
                setattr(module, first, _fold(conv, norm))
                setattr(module, second, nn.Identity())
                folded += 1
    return folded


def fold_frozen_batchnorm(model: nn.Module) -> nn.Module:
    """Return an eval-mode copy of ``model`` with every conv + batch-norm pair folded into one conv.

    Covers the FrozenBatchNorm2d layers of the backbone and the (eval-mode) BatchNorm2d layers of the
    corner head. The copy is for inference only: it has no norm statistics left to train.
    """
    folded_model = copy.deepcopy(model).eval()
    for module in list(folded_model.modules()):
        _fold_children(module)
    return folded_model


def prepare_for_inference(
    model: nn.Module,
    fold_bn: bool = True,
    channels_last: bool = True,
    onednn_kernels: bool = False,
) -> nn.Module:
    """Eval-mode inference copy: BN folded, conv weights channels-last, optionally oneDNN convs.

    ``onednn_kernels`` runs every conv as a :class:`FusedConv`: one oneDNN kernel (``torch.ops.mkldnn``, a
    torch-internal op) with the ReLU and residual add fused and the weight pre-packed. The tracker uses
    it (``lib.tracker.network.build_network``): an ST50 step on 1 CPU thread measured ~6 % faster than
    without (``scripts/bench/model_speed.py``, ``fused_cl``), mostly from the pre-packed weights and the
    1x1 convs that aten otherwise runs on its slow non-oneDNN path. Unpacked, the fusion alone gained
    nothing measurable.

    channels_last changes only memory layout and fusion only where the ReLU/residual add happen, so
    the copy agrees with the exact network to float rounding (< 1e-5 on the outputs). ``onednn_kernels``
    needs ``fold_bn`` (the ReLU must directly follow the conv).
    """
    prepared = fold_frozen_batchnorm(model) if fold_bn else copy.deepcopy(model).eval()
    if fold_bn and onednn_kernels:
        fuse_conv_relu(prepared)
        cache_bf16_linears(prepared)
    if channels_last:
        prepared = prepared.to(memory_format=torch.channels_last)
    for param in prepared.parameters():
        param.requires_grad_(False)
    return prepared


# ----------------------------------------------------------------------------------------------
# oneDNN convs: pre-packed weights, fused ReLU and residual add (CPU)


def _kernel_dtype(x: torch.Tensor) -> torch.dtype | None:
    """The dtype the oneDNN kernel computes ``x`` in: float32 in CPU inference, bfloat16 under CPU bf16
    autocast (what autocast would run the conv in); None (the plain conv) under autograd or elsewhere."""
    if x.device.type != "cpu" or torch.is_grad_enabled() or x.dtype not in (torch.float32, torch.bfloat16):
        return None
    if not torch.is_autocast_enabled("cpu"):
        return x.dtype if x.dtype == torch.float32 else None
    return torch.bfloat16 if torch.get_autocast_dtype("cpu") == torch.bfloat16 else None


def _version(tensor: torch.Tensor) -> int:
    """The in-place update counter; inference tensors (made under ``inference_mode``) have none: 0."""
    return 0 if tensor.is_inference() else tensor._version


def _onednn_pointwise_available() -> bool:
    return torch.backends.mkldnn.is_available() and hasattr(torch.ops.mkldnn, "_convolution_pointwise")


class FusedConv(nn.Module):
    """A (BN-folded) conv with an optional fused residual add and ReLU.

    In CPU float32 inference it runs one oneDNN convolution with post-ops (the ReLU and the residual add
    are applied while the output is still in cache; same arithmetic as conv -> add -> ReLU) on a weight
    reordered once per input shape into oneDNN's blocked layout (a plain-layout weight is reordered
    again on every call). Elsewhere (autograd, autocast, GPU) it runs the plain sequence.

    The packed weights live in a plain dict outside the state dict (opaque oneDNN tensors that can be
    neither saved nor copied: copies and pickles start with an empty cache). Entries are tied to the
    weight's storage and version counter, so an update (``load_state_dict``, ``.to()``) packs again;
    beyond ``max_packed`` shapes the cache starts over, so memory stays bounded.
    """

    max_packed = 4  # a tracker sees two shapes (template, search), a batched run a few more

    def __init__(self, conv: nn.Conv2d, relu: bool) -> None:
        super().__init__()
        self.conv = conv
        self.relu = relu
        self._args = (list(conv.padding), list(conv.stride), list(conv.dilation), conv.groups)
        self._packed: dict = {}

    def __getstate__(self) -> dict:
        return {**super().__getstate__(), "_packed": {}}

    def _packed_weight(self, x: torch.Tensor) -> torch.Tensor:
        """The weight in the blocked layout oneDNN picks for ``x``'s shape, made on first use."""
        weight = self.conv.weight
        key = (tuple(x.shape), x.dtype, weight.data_ptr(), _version(weight))
        packed = self._packed.get(key)
        if packed is None:
            if len(self._packed) >= self.max_packed:
                self._packed.clear()
            # packed without the input shape it computes the same, but a strided 1x1 conv ran 3-9x slower
            padding, stride, dilation, groups = self._args
            packed = self._packed[key] = torch.ops.mkldnn._reorder_convolution_weight(
                weight.detach().to(x.dtype), padding, stride, dilation, groups, list(x.shape)
            )
        return packed

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        """conv(x) [+ residual] [-> ReLU]."""
        padding, stride, dilation, groups = self._args
        bias = self.conv.bias
        dtype = _kernel_dtype(x)
        if dtype is not None:
            x = x.to(dtype)
            if bias is not None:
                bias = bias.to(dtype)
            if residual is not None:
                residual = residual.to(dtype)
            weight = self._packed_weight(x)
            if residual is None:
                unary = "relu" if self.relu else "none"
                return torch.ops.mkldnn._convolution_pointwise(
                    x, weight, bias, padding, stride, dilation, groups, unary, [], ""
                )
            unary = "relu" if self.relu else None
            return torch.ops.mkldnn._convolution_pointwise.binary(
                x, residual, weight, bias, padding, stride, dilation, groups, "add", None, unary, [], None
            )
        y = self.conv(x)
        if residual is not None:
            y = y + residual
        return torch.relu(y) if self.relu else y


class FusedBottleneck(nn.Module):
    """Inference form of a torchvision Bottleneck / BasicBlock with folded BN and fused ReLUs."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        convs = [getattr(block, f"conv{i}") for i in (1, 2, 3) if hasattr(block, f"conv{i}")]
        self.inner = nn.ModuleList(FusedConv(conv, relu=True) for conv in convs[:-1])
        self.last = FusedConv(convs[-1], relu=True)  # + identity, then ReLU
        self.downsample = block.downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = x
        for conv in self.inner:
            out = conv(out)
        return self.last(out, identity.contiguous(memory_format=_format_of(out)))


def _format_of(x: torch.Tensor) -> torch.memory_format:
    return (
        torch.channels_last
        if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous()
        else torch.contiguous_format
    )


def fuse_conv_relu(model: nn.Module) -> nn.Module:
    """In place on a BN-folded inference copy: ResNet blocks, the stem and corner-head stages get
    fused conv + ReLU (+ residual) modules. Returns ``model``."""
    from torchvision.models.resnet import BasicBlock, Bottleneck

    if not _onednn_pointwise_available():
        return model
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if isinstance(child, (Bottleneck, BasicBlock)) and all(
                isinstance(getattr(child, f"bn{i}", nn.Identity()), nn.Identity) for i in (1, 2, 3)
            ):
                setattr(module, name, FusedBottleneck(child))
        if isinstance(module, nn.Sequential):
            names = list(dict(module.named_children()))
            children = dict(module.named_children())
            for first, second, third in zip(names, names[1:], names[2:]):
                conv, norm, act = children[first], children[second], children[third]
                if isinstance(conv, nn.Conv2d) and isinstance(norm, nn.Identity) and isinstance(act, nn.ReLU):
                    setattr(module, first, FusedConv(conv, relu=True))
                    setattr(module, third, nn.Identity())
    # the remaining convs (downsample branches, bottleneck, last corner-head convs) get the prepacked
    # weight alone: 1x1 convs otherwise fall to aten's slow non-oneDNN path on channels-last inputs
    for module in list(model.modules()):
        if isinstance(module, FusedConv):
            continue
        for name, child in list(module.named_children()):
            if type(child) is nn.Conv2d:
                setattr(module, name, FusedConv(child, relu=False))
    return model


class Bf16CachedLinear(nn.Module):
    """An ``nn.Linear`` that, under CPU bf16 autocast in inference, keeps the bf16 copy of its weight and
    bias instead of having autocast cast them again on every call. Same rounding, so the same outputs as
    the plain linear under autocast; otherwise it is the plain linear."""

    def __init__(self, linear: nn.Linear) -> None:
        super().__init__()
        self.linear = linear
        self._cast: tuple = ()  # (key, bf16 weight, bf16 bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if _kernel_dtype(x) != torch.bfloat16:
            return self.linear(x)
        weight, bias = self.linear.weight, self.linear.bias
        key = (weight.data_ptr(), _version(weight))
        if not self._cast or self._cast[0] != key:
            self._cast = (key, weight.detach().to(torch.bfloat16), None if bias is None else bias.detach().to(torch.bfloat16))
        return F.linear(x.to(torch.bfloat16), self._cast[1], self._cast[2])


def cache_bf16_linears(model: nn.Module) -> nn.Module:
    """In place: every ``nn.Linear`` becomes a :class:`Bf16CachedLinear`. Returns ``model``."""
    for module in list(model.modules()):
        for name, child in list(module.named_children()):
            if type(child) is nn.Linear:
                setattr(module, name, Bf16CachedLinear(child))
    return model
