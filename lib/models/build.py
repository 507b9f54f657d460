"""``build_stark(cfg)``: the only code that reads the model section of the config."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from lib.config import Config
from lib.models.backbone import ResNetTrunk, load_imagenet_weights
from lib.models.checkpoint import check_state_matches, read_network_state
from lib.models.errors import ModelError
from lib.models.heads import MLP, CornerHead, MLPBoxHead
from lib.models.stark import Stark
from lib.models.transformer import Transformer


def build_stark(cfg: Config, imagenet: bool = True) -> Stark:
    """Build the network described by ``cfg.model`` (search size from ``cfg.data.search.size``).

    Random init follows the official code (xavier on transformer matrices); seed torch before calling
    for reproducible weights. With ``model.backbone.pretrained`` (and ``imagenet``) the trunk gets ImageNet
    weights from ``model.backbone.weights_path`` or torchvision's weights API; ``imagenet=False`` skips them
    when the caller loads the whole network from a checkpoint anyway.
    """
    m = cfg.model
    if m.backbone.output_layers != ["layer3"] or m.backbone.dilation:
        raise ModelError("model.backbone: only output_layers=[layer3] without dilation is supported")
    if m.predict_mask or cfg.train.deep_supervision:
        raise ModelError("model.predict_mask / train.deep_supervision: not used by STARK, must stay false")
    if m.transformer.divide_norm:
        raise ModelError("model.transformer.divide_norm: not supported (off in every official config)")
    if m.position_embedding not in ("sine", "none"):
        raise ModelError(f"model.position_embedding: expected sine | none, got {m.position_embedding!r}")
    if m.head_type not in ("corner", "mlp"):
        raise ModelError(f"model.head_type: expected corner | mlp, got {m.head_type!r}")
    search_size = cfg.data.search.size
    stride = m.backbone.stride
    if search_size % stride:
        raise ModelError(f"data.search.size {search_size} is not a multiple of model.backbone.stride {stride}")

    trunk = ResNetTrunk(m.backbone.type, cfg.train.freeze_layers, cfg.train.freeze_backbone_bn)
    if m.backbone.pretrained and imagenet:
        load_imagenet_weights(trunk, m.backbone.type, m.backbone.weights_path)
    t = m.transformer
    transformer = Transformer(
        dim=m.hidden_dim,
        nheads=t.nheads,
        num_encoder_layers=t.enc_layers,
        num_decoder_layers=t.dec_layers,
        dim_feedforward=t.dim_feedforward,
        dropout=t.dropout,
        pre_norm=t.pre_norm,
    )
    if m.head_type == "corner":
        box_head = CornerHead(m.hidden_dim, m.head_dim, search_size // stride, stride)
    else:
        box_head = MLPBoxHead(m.hidden_dim, m.nlayer_head)
    cls_head = MLP(m.hidden_dim, m.hidden_dim, 1, m.nlayer_head, m.score_head_norm) if m.score_head else None
    return Stark(
        trunk=trunk,
        transformer=transformer,
        box_head=box_head,
        cls_head=cls_head,
        hidden_dim=m.hidden_dim,
        num_queries=m.num_object_queries if t.dec_layers > 0 else 1,
        use_position_encoding=m.position_embedding == "sine",
        template_queries=m.query_source == "template",
        query_update=m.query_update,
    )


def check_checkpoint_fits(cfg: Config, path: str | Path) -> None:
    """Read the checkpoint ``path`` once and check it fits the network of ``cfg``, before any tracking.

    The network is built on the meta device (no memory, no ImageNet weights), so this costs one read of
    the file. Raises a one-line :class:`CheckpointError` naming the file.
    """
    backbone = replace(cfg.model.backbone, pretrained=False)
    with torch.device("meta"):
        model = build_stark(replace(cfg, model=replace(cfg.model, backbone=backbone)))
    check_state_matches(model, read_network_state(path), str(path))


def planned_modules(cfg: Config) -> list[str]:
    """Top-level module names ``build_stark(cfg)`` creates, in order, without building anything.

    The config validator checks ``train.freeze_modules`` against it; a test checks it against the
    built network of every shipped config.
    """
    m = cfg.model
    decoder = m.transformer.dec_layers > 0
    present = {
        "backbone": True,
        "position_encoding": m.position_embedding == "sine",
        "bottleneck": True,
        "query_embed": decoder and m.query_source == "learned",
        "query_update": m.query_update,
        "transformer": True,
        "box_head": True,
        "cls_head": m.score_head,
    }
    return [name for name, built in present.items() if built]
