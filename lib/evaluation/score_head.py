"""Accuracy of the STARK-ST score head on present / absent samples of a held-out split.

The samples come from the stage-2 sampler (half positives: a search region that contains the target;
half negatives: a frame where it is absent, or another video), so the number answers the question the
score head is trained for: "is the target in this search region?". It is measured on data the
network never saw, and reported per class so that a head that always says "present" cannot hide
behind a 50 % average.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lib.data.processing import normalize_images


@dataclass
class ScoreHeadAccuracy:
    accuracy: float  # fraction of all samples classified correctly at the 0.5 threshold
    present_accuracy: float  # ... of the samples whose label is 1
    absent_accuracy: float  # ... of the samples whose label is 0
    samples: int

    def describe(self) -> str:
        verdict = "near chance" if abs(self.accuracy - 0.5) < 0.1 else "above chance"
        if self.accuracy < 0.4:
            verdict = "below chance"
        return (
            f"score head on {self.samples} held-out samples: accuracy {self.accuracy:.3f} ({verdict}; "
            f"present {self.present_accuracy:.3f}, absent {self.absent_accuracy:.3f})"
        )


@torch.inference_mode()
def score_head_accuracy(model: torch.nn.Module, loader, threshold: float = 0.5) -> ScoreHeadAccuracy:
    """Run ``model`` (eval mode, score head) over every batch of ``loader``; batches need ``label``."""
    model.eval()
    correct = {0: 0, 1: 0}
    total = {0: 0, 1: 0}
    for batch in loader:
        batch = normalize_images(batch)
        out = model(
            batch["template_images"],
            batch["template_masks"],
            batch["search_images"],
            batch["search_masks"],
            run_box_head=False,
            run_cls_head=True,
        )
        scores = out["pred_logits"].reshape(out["pred_logits"].shape[0], -1)[:, 0].sigmoid()
        predicted = scores > threshold
        labels = batch["label"].reshape(-1) > 0.5
        for cls in (0, 1):
            mask = labels == bool(cls)
            total[cls] += int(mask.sum())
            correct[cls] += int((predicted[mask] == labels[mask]).sum())
    samples = total[0] + total[1]
    if samples == 0:
        raise ValueError("score-head evaluation got no samples")
    return ScoreHeadAccuracy(
        accuracy=(correct[0] + correct[1]) / samples,
        present_accuracy=correct[1] / max(total[1], 1),
        absent_accuracy=correct[0] / max(total[0], 1),
        samples=samples,
    )
