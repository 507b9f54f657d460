"""Small stand-ins for the model and the loader with the real interfaces (for loop-level unit tests)."""

from __future__ import annotations

import torch
from torch import nn


class _Body(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.layer1 = nn.Conv2d(4, 4, 3, padding=1)
        self.layer2 = nn.Conv2d(4, 8, 3, stride=2, padding=1)
        self.layer3 = nn.Conv2d(8, 8, 3, stride=2, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer3(torch.relu(self.layer2(torch.relu(self.layer1(torch.relu(self.conv1(x)))))))


class _Joiner(nn.Sequential):
    """Mirrors the official ``backbone.0.body.*`` naming."""

    def __init__(self) -> None:
        super().__init__()
        wrapper = nn.Module()
        wrapper.body = _Body()
        self.add_module("0", wrapper)


class FakeStark(nn.Module):
    """Same submodule names and forward signature as ``lib.models`` Stark; tiny and fast."""

    def __init__(self, score_head: bool = True, dropout: float = 0.0) -> None:
        super().__init__()
        self.backbone = _Joiner()
        self.bottleneck = nn.Conv2d(8, 8, 1)
        self.query_embed = nn.Embedding(1, 8)
        self.transformer = nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Dropout(dropout), nn.Linear(16, 8))
        self.box_head = nn.Sequential(nn.Linear(8, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 4))
        self.cls_head = nn.Linear(8, 1) if score_head else None

    def _encode(self, images: torch.Tensor) -> torch.Tensor:
        return self.bottleneck(self.backbone[0].body(images)).mean(dim=(2, 3))  # (B, 8)

    def forward(
        self, template_images, template_masks, search_images, search_masks, run_box_head=True, run_cls_head=False
    ) -> dict:
        z = self._encode(template_images[:, 0])
        x = self._encode(search_images)
        hs = self.transformer(torch.cat([z, x], dim=1)) + self.query_embed.weight  # (B, 8)
        out = {}
        if run_box_head:
            out["pred_boxes"] = torch.sigmoid(self.box_head(hs))[:, None, :]  # (B, 1, 4) cxcywh
        if run_cls_head:
            out["pred_logits"] = self.cls_head(hs)[:, None, :]  # (B, 1, 1)
        return out


def fake_sample(seed: int, epoch: int, index: int, template_size: int = 16, search_size: int = 32) -> dict:
    """One sample as a pure function of (seed, epoch, index), like the real loader promises."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch * 10_007 + index)
    xy = torch.rand(2, generator=gen) * 0.5
    wh = torch.rand(2, generator=gen) * 0.4 + 0.1
    return {
        "template_images": torch.randn(2, 3, template_size, template_size, generator=gen),
        "template_masks": torch.zeros(2, template_size, template_size, dtype=torch.bool),
        "search_images": torch.randn(3, search_size, search_size, generator=gen),
        "search_masks": torch.zeros(search_size, search_size, dtype=torch.bool),
        "search_boxes": torch.cat([xy, wh]),
        "label": (torch.rand((), generator=gen) > 0.5).float(),
    }


class FakeLoader:
    """Disjoint interleaved indices per rank, ``samples // (batch * world)`` batches, ``set_epoch``."""

    def __init__(self, samples: int, batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1) -> None:
        self.samples, self.batch_size, self.seed = samples, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.epoch = 0
        self.fail_at: tuple[int, int] | None = None  # (epoch, batch): raise there (a simulated kill)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.samples // (self.batch_size * self.world_size)

    def __iter__(self):
        for b in range(len(self)):
            if self.fail_at == (self.epoch, b):
                raise KeyboardInterrupt("simulated kill")
            start = b * self.batch_size * self.world_size
            indices = [start + i * self.world_size + self.rank for i in range(self.batch_size)]
            samples = [fake_sample(self.seed, self.epoch, i) for i in indices]
            yield {k: torch.stack([s[k] for s in samples]) for k in samples[0]}
