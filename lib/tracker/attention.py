"""Attention maps of one tracking step (paper Fig. 6) as heat-map overlays on the input crops.

Tokens of the transformer are ordered [template 0, template 1, ..., search], each a row-major
``(H/16) x (W/16)`` grid. ``encoder_attention`` (B, L, L) is the last encoder layer's self-attention
(heads averaged); ``decoder_attention`` (B, Nq, L) the last decoder cross-attention of the query.
"""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np
import torch

from lib.tracker.stark_tracker import StarkTracker


def overlay(patch_rgb: np.ndarray, heat: np.ndarray, alpha: float = 0.5) -> np.ndarray:
    """(S, S, 3) uint8 RGB patch + (h, w) non-negative map -> (S, S, 3) uint8 RGB blend with a JET heat map."""
    heat = np.asarray(heat, dtype=np.float32)
    span = float(heat.max() - heat.min())
    norm = (heat - heat.min()) / span if span > 0 else np.zeros_like(heat)
    size = patch_rgb.shape[1], patch_rgb.shape[0]
    resized = cv2.resize(norm, size, interpolation=cv2.INTER_LINEAR)
    colour = cv2.cvtColor(cv2.applyColorMap((resized * 255).astype(np.uint8), cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)
    return (alpha * colour + (1 - alpha) * patch_rgb).astype(np.uint8)


def split_tokens(weights: np.ndarray, sizes: list[tuple[int, int]]) -> list[np.ndarray]:
    """(L,) weights over all tokens -> one (h, w) map per token grid in ``sizes`` (templates..., search)."""
    maps, start = [], 0
    for height, width in sizes:
        maps.append(weights[start : start + height * width].reshape(height, width))
        start += height * width
    if start != weights.shape[0]:
        raise ValueError(f"token grids {sizes} cover {start} tokens, attention has {weights.shape[0]}")
    return maps


def attention_overlays(tracker: StarkTracker, image: np.ndarray, query_token: Optional[int] = None) -> dict:
    """Run the next tracking step's network pass on ``image`` with attention and build the overlays.

    The tracker state is not changed. ``query_token`` is the encoder row shown (default: the centre
    token of the initial template). Returns ``{name: (S, S, 3) uint8 RGB}`` with names
    ``encoder_template{i}``, ``encoder_search``, ``decoder_template{i}``, ``decoder_search``.
    """
    cfg = tracker.cfg
    model = getattr(tracker.backend, "model", None)
    if model is None:
        raise ValueError(f"attention maps need the PyTorch network; this tracker runs {tracker.backend.name}")
    crop, mask, _, search_patch = tracker.crop(image, tracker.state, cfg.test.search_factor, cfg.test.search_size)
    with torch.inference_mode():
        search = model.encode(crop.to(tracker.backend.device), mask.to(tracker.backend.device))
        out = model.decode(tracker.templates, search, run_box_head=True, return_attention=True)
    sizes = [t.size for t in tracker.templates] + [search.size]
    patches = list(tracker.template_patches) + [search_patch]
    names = [f"template{i}" for i in range(len(tracker.templates))] + ["search"]
    result = {}
    if "encoder_attention" in out:
        t_h, t_w = sizes[0]
        row = query_token if query_token is not None else (t_h // 2) * t_w + t_w // 2
        weights = out["encoder_attention"][0, row].float().cpu().numpy()
        for name, patch, heat in zip(names, patches, split_tokens(weights, sizes)):
            result[f"encoder_{name}"] = overlay(patch, heat)
    if "decoder_attention" in out:
        weights = out["decoder_attention"][0].float().mean(dim=0).cpu().numpy()  # queries averaged (Nq = 1)
        for name, patch, heat in zip(names, patches, split_tokens(weights, sizes)):
            result[f"decoder_{name}"] = overlay(patch, heat)
    return result
