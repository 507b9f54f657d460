"""Training objectives: what a training run optimises, declared in one object (paper 3.1-3.2 and 4.4).

An objective states

* ``heads``: the model heads whose outputs it reads (``"box"``, ``"score"``); only these run;
* ``presence_labels``: whether samples carry a presence label (half of them negatives, label 0), which
  the data sampler reads;
* ``trained_modules(available)``: the top-level model modules that train, stated positively; every
  other module is frozen;

and computes ``(loss, stats)`` from the model outputs and the batch. ``train.objective`` names it:

* ``box`` (STARK-S, STARK-ST stage 1): ``giou_weight * (1 - GIoU) + l1_weight * L1`` on the boxes
  (:func:`lib.train.losses.box_loss`); trains the localisation network, i.e. every module but the
  score head (the official code left the score head trainable but unused; ``train.official_parity``
  restores that);
* ``score`` (STARK-ST stage 2): ``cls_weight * BCE`` of the score head on positives and negatives;
  trains the score head only;
* ``box_score`` (Table 7 "Loc-Cls joint"): both in one stage on balanced positive/negative samples,
  the box loss on the positives only; trains everything;
* ``hungarian`` (Table 7 "Hungarian"): K queries each predict a box and a confidence (the score head
  applied per query); each sample's target is matched to one query by the Hungarian algorithm on the
  DETR cost ``-cls_weight * p + l1_weight * L1 - giou_weight * GIoU``; the box loss is taken on the
  matched query, BCE on every query's confidence (1 for the matched one, 0 for the others); trains
  everything.

The trainer calls ``objective.predict(model, batch)`` and ``objective(outputs, batch)`` and knows
nothing else about STARK. Objectives are built from a config by :func:`build_objective`; the config
checks (a needed head that the model lacks, ...) live in ``lib.config.loader.validate``, constructors
keep only guards for direct callers.
"""

from __future__ import annotations

from typing import ClassVar, Sequence

import torch
import torch.nn.functional as F

from lib.train.losses import BOX_STATS, box_loss, score_loss

SCORE_HEAD = "cls_head"


class Objective:
    """Base class: the declarations and the model call shared by every objective."""

    name: ClassVar[str] = ""
    heads: ClassVar[frozenset[str]] = frozenset()
    presence_labels: ClassVar[bool] = False

    def trained_modules(self, available: Sequence[str]) -> list[str]:
        """The modules among ``available`` (top-level model module names) that this objective trains."""
        return list(available)

    def check_model(self, model: torch.nn.Module) -> None:
        """Guard for direct callers: the model must have every head this objective reads."""
        if "score" in self.heads and getattr(model, SCORE_HEAD, None) is None:
            raise ValueError(f"objective '{self.name}' needs a score head but the model has none")

    def predict(self, model: torch.nn.Module, batch: dict) -> dict:
        """The model pass of one batch, running only the heads this objective reads."""
        return model(
            batch["template_images"],
            batch["template_masks"],
            batch["search_images"],
            batch["search_masks"],
            run_box_head="box" in self.heads,
            run_cls_head="score" in self.heads,
        )

    def __call__(self, outputs: dict, batch: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``(loss, stats)``: the scalar float32 loss and detached 0-dim statistics including ``loss``."""
        raise NotImplementedError

    # counters kept across steps (checkpointed), e.g. how often the official GIoU fallback fired
    def counters(self) -> dict[str, int]:
        return {}

    def load_counters(self, counters: dict) -> None:
        """Restore :meth:`counters` from a checkpoint (missing entries keep their value)."""

    def epoch_metrics(self) -> dict[str, float]:
        """Extra per-epoch figures for the metrics log."""
        return {}


class BoxObjective(Objective):
    """Stage 1: box regression on every sample (all samples show the target).

    Args:
        giou_weight, l1_weight: loss weights (official 2 and 5).
        official_giou_fallback: zero the whole batch's GIoU when any predicted box is degenerate.
        train_score_head: also list the score head as trained (official parity: it stays in the
            optimiser without ever receiving a gradient).
    """

    name = "box"
    heads = frozenset({"box"})

    def __init__(
        self,
        giou_weight: float = 2.0,
        l1_weight: float = 5.0,
        official_giou_fallback: bool = False,
        train_score_head: bool = False,
    ) -> None:
        self.giou_weight = giou_weight
        self.l1_weight = l1_weight
        self.official_giou_fallback = official_giou_fallback
        self.train_score_head = train_score_head
        self.fallback_count = 0  # batches whose GIoU the official fallback zeroed, over this object's life

    def trained_modules(self, available: Sequence[str]) -> list[str]:
        return [m for m in available if self.train_score_head or m != SCORE_HEAD]

    def _boxes(self, pred_boxes: torch.Tensor, gt_xywh: torch.Tensor) -> tuple[torch.Tensor, dict]:
        loss, stats, fired = box_loss(
            pred_boxes.float(), gt_xywh.float(), self.giou_weight, self.l1_weight, self.official_giou_fallback
        )
        self.fallback_count += int(fired)
        return loss, stats

    def __call__(self, outputs: dict, batch: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return self._boxes(outputs["pred_boxes"], batch["search_boxes"])

    def counters(self) -> dict[str, int]:
        return {"giou_fallback_count": self.fallback_count}

    def load_counters(self, counters: dict) -> None:
        self.fallback_count = int(counters.get("giou_fallback_count", self.fallback_count))

    def epoch_metrics(self) -> dict[str, float]:
        return {"giou_fallback_count": float(self.fallback_count)} if self.official_giou_fallback else {}


class ScoreObjective(Objective):
    """Stage 2: BCE of the score head on positive and negative samples; only the score head trains."""

    name = "score"
    heads = frozenset({"score"})
    presence_labels = True

    def __init__(self, cls_weight: float = 1.0) -> None:
        self.cls_weight = cls_weight

    def trained_modules(self, available: Sequence[str]) -> list[str]:
        return [m for m in available if m == SCORE_HEAD]

    def __call__(self, outputs: dict, batch: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        return score_loss(outputs["pred_logits"].float(), batch["label"].float(), self.cls_weight)


class _BoxAndScoreObjective(BoxObjective):
    """Boxes and the score head trained together in one stage: the whole network trains."""

    heads = frozenset({"box", "score"})

    def __init__(
        self,
        giou_weight: float = 2.0,
        l1_weight: float = 5.0,
        cls_weight: float = 1.0,
        official_giou_fallback: bool = False,
    ) -> None:
        super().__init__(giou_weight, l1_weight, official_giou_fallback, train_score_head=True)
        self.cls_weight = cls_weight


class JointObjective(_BoxAndScoreObjective):
    """Table 7 "Loc-Cls joint": box losses on the positives plus the score BCE on all, in one stage."""

    name = "box_score"
    presence_labels = True

    def __call__(self, outputs: dict, batch: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cls, cls_stats = score_loss(outputs["pred_logits"].float(), batch["label"].float(), self.cls_weight)
        positive = batch["label"] > 0.5
        if positive.any():
            # negatives carry dummy boxes: they supervise the score only
            box, box_stats = self._boxes(outputs["pred_boxes"][positive], batch["search_boxes"][positive])
        else:
            box = outputs["pred_boxes"].sum() * 0.0  # keeps every box parameter in the graph (DDP)
            # the same statistic names on every rank: they are all-reduced as one packed tensor
            box_stats = {name: box.detach() for name in BOX_STATS}
        loss = box + cls
        stats = {**box_stats, **{k: v for k, v in cls_stats.items() if k != "loss"}, "loss": loss.detach()}
        return loss, stats


def hungarian_match(cost: torch.Tensor) -> torch.Tensor:
    """Per sample, the query assigned to the (single) target: ``cost`` (B, K, 1) -> (B,) long.

    scipy's ``linear_sum_assignment`` solves the assignment exactly (for one target it is the argmin
    over the queries; the same call also covers several targets per sample).
    """
    from scipy.optimize import linear_sum_assignment

    matched = []
    for sample_cost in torch.nan_to_num(cost.detach().float(), nan=1e6, posinf=1e6, neginf=-1e6).cpu().numpy():
        rows, _ = linear_sum_assignment(sample_cost)
        matched.append(int(rows[0]))
    return torch.tensor(matched, dtype=torch.long, device=cost.device)


class HungarianObjective(_BoxAndScoreObjective):
    """Table 7 "Hungarian": K boxes with confidences, the target matched to one query per sample."""

    name = "hungarian"

    def matching_cost(self, pred_boxes: torch.Tensor, pred_logits: torch.Tensor, gt_xywh: torch.Tensor):
        """DETR's matching cost of every query against the sample's target: (B, K, 1)."""
        from torchvision.ops import box_convert, generalized_box_iou

        pred_xyxy = box_convert(pred_boxes.float(), "cxcywh", "xyxy")  # (B, K, 4)
        gt_xyxy = box_convert(gt_xywh.float(), "xywh", "xyxy").clamp(0.0, 1.0)[:, None, :]  # (B, 1, 4)
        l1 = torch.cdist(pred_xyxy, gt_xyxy, p=1) / 4  # mean |d| over the coordinates, as the L1 loss
        giou = torch.stack([generalized_box_iou(p, g) for p, g in zip(pred_xyxy, gt_xyxy)])
        prob = pred_logits.float().sigmoid()  # (B, K, 1)
        return -self.cls_weight * prob + self.l1_weight * l1 - self.giou_weight * giou

    def __call__(self, outputs: dict, batch: dict) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        pred_boxes, pred_logits = outputs["pred_boxes"], outputs["pred_logits"]
        gt = batch["search_boxes"]
        matched = hungarian_match(self.matching_cost(pred_boxes, pred_logits, gt))
        rows = torch.arange(pred_boxes.shape[0], device=pred_boxes.device)
        box, box_stats = self._boxes(pred_boxes[rows, matched][:, None, :], gt)
        logits = pred_logits.float().squeeze(-1)  # (B, K)
        target = F.one_hot(matched, logits.shape[1]).to(logits.dtype)
        cls = F.binary_cross_entropy_with_logits(logits, target)
        loss = box + self.cls_weight * cls
        stats = {
            **box_stats,
            "cls": cls.detach(),
            # how many distinct queries won a match in this batch (the paper's "Matthew effect" shrinks it)
            "matched_queries": pred_boxes.new_tensor(float(matched.unique().numel())),
            "loss": loss.detach(),
        }
        return loss, stats


OBJECTIVES: dict[str, type[Objective]] = {
    cls.name: cls for cls in (BoxObjective, ScoreObjective, JointObjective, HungarianObjective)
}


def objective_class(name: str) -> type[Objective]:
    """The objective class of ``train.objective`` (its declarations without building it)."""
    if name not in OBJECTIVES:
        raise ValueError(f"train.objective: unknown objective '{name}'; choose one of {', '.join(OBJECTIVES)}")
    return OBJECTIVES[name]


def build_objective(cfg) -> Objective:
    """The objective of ``cfg.train.objective`` with the configured weights and official switches."""
    t = cfg.train
    fallback = t.official_giou_fallback or t.official_parity
    cls = objective_class(t.objective)
    if cls is BoxObjective:
        return BoxObjective(t.giou_weight, t.l1_weight, fallback, train_score_head=t.official_parity)
    if cls is ScoreObjective:
        return ScoreObjective(t.cls_weight)
    return cls(t.giou_weight, t.l1_weight, t.cls_weight, fallback)
