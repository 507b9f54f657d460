"""The one typed configuration schema of the project.

Every option of the official STARK configs (``lib/config/*/config.py`` upstream) lives here with its
official value as the default (the ``stark_s`` defaults; script-level differences for ``stark_st1`` and
``stark_st2`` are stated in ``experiments/<script>/defaults.yaml``), plus the switches this project adds
(ablations, stage-2 freezing, AMP, gradient accumulation, ...). Names are the official ones in
lower_snake case, grouped as upstream: ``model``, ``train``, ``data``, ``test``.

Only ``lib.config.loader`` turns YAML into these objects; models, data and trainers receive plain
values taken from a ``Config`` by their ``build_*`` functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

# ----------------------------------------------------------------------------------------------
# model


@dataclass
class BackboneConfig:
    type: str = "resnet50"  # torchvision trunk: resnet18 | resnet34 | resnet50 | resnet101
    output_layers: list[str] = field(default_factory=lambda: ["layer3"])  # only layer3 is supported
    dilation: bool = False  # official option; must stay False (stride 16 is what the heads expect)
    stride: int = 16  # feature stride of the truncated trunk; the corner head derives its grid from it
    pretrained: bool = True  # ImageNet weights: weights_path, else torchvision's weights API (downloads once)
    weights_path: Optional[str] = None  # local torchvision ResNet state_dict file; beats the weights API


@dataclass
class TransformerConfig:
    nheads: int = 8  # attention heads in every encoder/decoder layer
    dropout: float = 0.1  # dropout inside attention and FFN
    dim_feedforward: int = 2048  # FFN hidden width
    enc_layers: int = 6  # encoder depth; 0 removes the encoder (paper Table 6 #1)
    dec_layers: int = 6  # decoder depth; 0 removes the decoder (paper Table 6 #2)
    pre_norm: bool = False  # official option (post-norm DETR layers are used; pre-norm supported too)
    divide_norm: bool = False  # official option: L2-normalised q/k scaled by sqrt(32); off in every config


@dataclass
class ModelConfig:
    head_type: str = "corner"  # box head: corner (soft-argmax corners) | mlp (DETR 3-layer MLP, Table 6 #4)
    hidden_dim: int = 256  # transformer width d
    num_object_queries: int = 1  # learned target queries of the decoder (Table 7 Hungarian: K = 10)
    query_source: str = "learned"  # learned queries | template (Table 7: encoded template tokens are the queries)
    query_update: bool = False  # Table 7 update-query: the query is updated from the previous frame's output
    position_embedding: str = "sine"  # sine | none (Table 6 #3)
    predict_mask: bool = False  # official option, never used by STARK; must stay False
    nlayer_head: int = 3  # layers of the MLP score head (and of the MLP box head)
    head_dim: int = 256  # channels of the first corner-head conv (then /2, /4, /8), official Corner_Predictor width
    score_head: bool = False  # build the STARK-ST score head (True for stark_st1/st2; Table 6 #5 turns it off)
    score_head_norm: bool = False  # BatchNorm1d on the score head's input (not official; the CPU demo's small net)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    transformer: TransformerConfig = field(default_factory=TransformerConfig)


# ----------------------------------------------------------------------------------------------
# train


@dataclass
class SchedulerConfig:
    type: str = "step"  # step (StepLR at train.lr_drop_epoch) | cosine
    decay_rate: float = 0.1  # StepLR gamma (the official code reads its default 0.1)


@dataclass
class CheckpointConfig:
    keep_last: int = 3  # epochs whose checkpoint is always kept (the most recent ones)
    keep_every: int = 100  # also keep every N-th epoch (the official code saves epoch % 100 == 0)


@dataclass
class TrainConfig:
    # what the run optimises (lib.train.objectives): box (STARK-S, STARK-ST stage 1) | score (STARK-ST
    # stage 2: the score head alone) | box_score (Table 7 joint loc-cls) | hungarian (Table 7, K queries)
    objective: str = "box"
    lr: float = 1e-4  # base learning rate for a global batch of batch_size * 8 GPUs
    weight_decay: float = 1e-4  # AdamW weight decay
    epoch: int = 500  # number of epochs
    lr_drop_epoch: int = 400  # StepLR step size in epochs
    batch_size: int = 16  # samples per GPU per optimiser step (before accumulation)
    num_worker: int = 8  # data-loading worker processes per GPU
    optimizer: str = "adamw"  # only AdamW is used by STARK
    backbone_multiplier: float = 0.1  # lr factor of the trainable backbone layers (layer2, layer3)
    giou_weight: float = 2.0  # weight of the GIoU loss
    l1_weight: float = 5.0  # weight of the L1 loss on (x1, y1, x2, y2)
    cls_weight: float = 1.0  # weight of the stage-2 BCE score loss
    deep_supervision: bool = False  # official option; must stay False (one decoder output is supervised)
    freeze_backbone_bn: bool = True  # FrozenBatchNorm2d in the backbone
    freeze_layers: list[str] = field(default_factory=lambda: ["conv1", "layer1"])  # backbone parts never trained
    freeze_modules: list[str] = field(default_factory=list)  # modules frozen on top of what the objective leaves out
    init_from: Optional[str] = None  # checkpoint whose weights start this run (stage 2: the stage-1 result)
    print_interval: int = 50  # iterations between log lines
    val_epoch_interval: int = 20  # validate every N epochs
    grad_clip_norm: float = 0.1  # clip_grad_norm_ max norm; 0 disables
    grad_accum_steps: int = 1  # micro-batches per optimiser step; keeps the global batch on fewer GPUs
    amp: str = "none"  # none | bf16 | fp16 (autocast; fp16 also uses a GradScaler)
    seed: int = 42  # base seed; each rank and each sample derive their own from it
    max_minutes: float = 0.0  # wall-clock budget: stop (with a checkpoint) after the epoch that exceeds it; 0 = none
    budget_lr_drop: float = 0.0  # with max_minutes: lr x scheduler.decay_rate once this share of the budget is spent
    official_giou_fallback: bool = False  # official quirk: zero the whole batch's GIoU if any box is degenerate
    # every deliberate deviation from the official code back at once (README "Exact-official switch"):
    # the GIoU fallback above, the flip mapping W - 1 - x - w, negatives that may come from the
    # template's own sequence, and a score head left trainable (unused) by the box objective
    official_parity: bool = False
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    checkpoint: CheckpointConfig = field(default_factory=CheckpointConfig)


# ----------------------------------------------------------------------------------------------
# data


@dataclass
class DatasetMixConfig:
    datasets_name: list[str] = field(default_factory=lambda: ["LASOT", "GOT10K_vottrain"])  # dataset names
    datasets_ratio: list[float] = field(default_factory=lambda: [1.0, 1.0])  # sampling weight per dataset
    sample_per_epoch: int = 60000  # samples that make one epoch


def _default_val_mix() -> DatasetMixConfig:
    return DatasetMixConfig(datasets_name=["GOT10K_votval"], datasets_ratio=[1.0], sample_per_epoch=10000)


@dataclass
class CropConfig:
    size: int = 320  # output side of the square crop in pixels
    factor: float = 5.0  # crop side = factor * sqrt(w * h) of the (jittered) target box
    center_jitter: float = 4.5  # centre jitter, in units of the jittered box's sqrt(area)
    scale_jitter: float = 0.5  # log-normal scale jitter sigma
    number: int = 1  # frames of this kind per sample


def _default_template_crop() -> CropConfig:
    return CropConfig(size=128, factor=2.0, center_jitter=0.0, scale_jitter=0.0, number=1)


@dataclass
class DataConfig:
    mean: list[float] = field(default_factory=lambda: [0.485, 0.456, 0.406])  # ImageNet RGB mean
    std: list[float] = field(default_factory=lambda: [0.229, 0.224, 0.225])  # ImageNet RGB std
    max_sample_interval: list[int] = field(default_factory=lambda: [200])  # max frame gap per dynamic template
    sampler_mode: str = "causal"  # causal (STARK-S) | trident | trident_pro (STARK-ST)
    use_lmdb: bool = False  # read frames from the *_lmdb databases instead of folders
    cache_frames: bool = False  # keep decoded frames in memory (small data sets, e.g. the CPU demo)
    grayscale_prob: float = 0.05  # probability of the joint grayscale transform
    brightness_jitter: float = 0.2  # brightness factor drawn from U(1 - b, 1 + b)
    max_redraws: int = 100  # invalid samples redrawn before the sampler gives up with an error
    negatives_from_other_sequences: bool = True  # stage 2, video without absent frames: negative from another one
    # stage 2, where a target-absent frame is cropped: "centre" (official: a W/8 x H/8 box at the image centre) or
    # "last_seen" (the target's box in the nearest visible frame before it, else after it: where a tracker looks)
    absent_negative_box: str = "centre"
    coco_min_size: float = 50.0  # COCO boxes need w and h above this (official filter); 0 keeps all
    train: DatasetMixConfig = field(default_factory=DatasetMixConfig)
    val: DatasetMixConfig = field(default_factory=_default_val_mix)
    search: CropConfig = field(default_factory=CropConfig)
    template: CropConfig = field(default_factory=_default_template_crop)


# ----------------------------------------------------------------------------------------------
# test


def _default_update_intervals() -> dict[str, list[int]]:
    return {name: [200] for name in ("LASOT", "GOT10K_TEST", "TRACKINGNET", "VOT20", "VOT20LT")}


@dataclass
class TestTimeConfig:
    template_factor: float = 2.0  # template crop factor at test time
    template_size: int = 128  # template crop side at test time
    search_factor: float = 5.0  # search crop factor at test time
    search_size: int = 320  # search crop side at test time
    epoch: int = 500  # checkpoint epoch the tracker loads by default
    score_threshold: float = 0.5  # tau: the dynamic template is replaced only when the score exceeds it
    update_intervals: dict[str, list[int]] = field(default_factory=_default_update_intervals)  # per benchmark T_u


# ----------------------------------------------------------------------------------------------


@dataclass
class Config:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    data: DataConfig = field(default_factory=DataConfig)
    test: TestTimeConfig = field(default_factory=TestTimeConfig)
