"""Parameter, FLOP and latency accounting for the tracking step and the template step.

Two counting conventions:

* **full**: ``torch.utils.flop_counter.FlopCounterMode`` (every matmul, conv and attention product;
  MACs = FLOPs / 2).
* **paper** (thop 0.1.1 without a rule for multi-head attention, as the paper's 10.5 / 10.9 / 18.5 G):
  Conv2d = output elements x C_in/groups x k_h x k_w (no bias term), Linear = output elements x
  in_features, BatchNorm2d / LayerNorm = 4 x elements (2 with no affine), activations, dropout and
  pooling 0, and nothing at all for the attention modules (their input/output projections and the
  attention products are left out: thop finds no rule for ``nn.MultiheadAttention`` and its
  ``out_proj`` has a subclass type thop does not match). FrozenBatchNorm2d has no thop rule either (0).
  The official script's "overall" figure additionally counts attention with its custom rule
  (d_in d L_q + 2 d_in d L_k + 2 L_q L_k d, no output projection): ``official_rule_*`` entries.

Paper-convention parameters: thop sums the parameters of the leaf modules it has a rule for, so the
attention modules (in_proj + out_proj) and ``query_embed`` (read, never called) are left out.
"""

from __future__ import annotations

import statistics
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode
from torchvision.ops import FrozenBatchNorm2d

from lib.models.transformer import Attention

# ----------------------------------------------------------------------------------------------
# parameters


def parameter_report(model: nn.Module) -> dict[str, int]:
    """Total / trainable parameter counts, per top-level module and for the transformer halves."""
    report = {
        "total": sum(p.numel() for p in model.parameters()),
        "trainable": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "buffers_in_state_dict": sum(v.numel() for v in model.state_dict().values())
        - sum(p.numel() for p in model.parameters()),
    }
    for name, child in model.named_children():
        if name == "transformer":
            for part, sub in child.named_children():
                report[f"transformer.{part}"] = sum(p.numel() for p in sub.parameters())
        else:
            report[name] = sum(p.numel() for p in child.parameters())
    return report


def paper_convention_parameters(model: nn.Module) -> int:
    """Parameters as thop counts them: everything but attention modules and ``query_embed``."""
    skipped = sum(p.numel() for m in model.modules() if isinstance(m, Attention) for p in m.parameters())
    query = getattr(model, "query_embed", None)
    if query is not None:
        skipped += query.weight.numel()
    return sum(p.numel() for p in model.parameters()) - skipped


# ----------------------------------------------------------------------------------------------
# thop-convention MACs


def _conv_macs(module: nn.Conv2d, inputs, output) -> int:
    kernel = module.kernel_size[0] * module.kernel_size[1]
    return output.numel() * (inputs[0].shape[1] // module.groups) * kernel


def _linear_macs(module: nn.Linear, inputs, output) -> int:
    return output.numel() * module.in_features


def _norm_macs(module: nn.Module, inputs, output) -> int:
    affine = getattr(module, "affine", False) or getattr(module, "elementwise_affine", False)
    return inputs[0].numel() * (4 if affine else 2)


def _attention_rule_macs(module: Attention, inputs, output) -> int:
    query, key = inputs[0], inputs[1]
    lq, lk, dim = query.shape[0], key.shape[0], module.dim
    return query.shape[1] * (dim * dim * lq + 2 * dim * dim * lk + 2 * lq * lk * dim)


@contextmanager
def thop_style_counter(model: nn.Module) -> Iterator[dict[str, int]]:
    """Count thop-convention MACs of the forward calls made inside the ``with`` block.

    Yields a dict with running totals: ``"macs"`` (paper convention: attention modules count 0) and
    ``"attention_rule_macs"`` (what the official script's custom attention rule adds on top).
    """
    counts = {"macs": 0, "attention_rule_macs": 0}
    inside_attention = {id(m) for a in model.modules() if isinstance(a, Attention) for m in a.modules() if m is not a}
    handles = []

    def hook_with(rule: Callable, key: str) -> Callable:
        def hook(module, inputs, output):
            counts[key] += int(rule(module, inputs, output))

        return hook

    for module in model.modules():
        if id(module) in inside_attention or isinstance(module, FrozenBatchNorm2d):
            continue
        if isinstance(module, nn.Conv2d):
            handles.append(module.register_forward_hook(hook_with(_conv_macs, "macs")))
        elif isinstance(module, nn.Linear):
            handles.append(module.register_forward_hook(hook_with(_linear_macs, "macs")))
        elif isinstance(module, (nn.BatchNorm2d, nn.LayerNorm)):
            handles.append(module.register_forward_hook(hook_with(_norm_macs, "macs")))
        elif isinstance(module, Attention):
            handles.append(module.register_forward_hook(hook_with(_attention_rule_macs, "attention_rule_macs")))
    try:
        yield counts
    finally:
        for handle in handles:
            handle.remove()


# ----------------------------------------------------------------------------------------------
# the two steps


def make_inputs(batch: int, template_size: int, search_size: int, num_templates: int, seed: int = 0) -> dict:
    """Random crops and all-valid masks for profiling (official: randn images)."""
    gen = torch.Generator().manual_seed(seed)
    return {
        "templates": [torch.randn(batch, 3, template_size, template_size, generator=gen) for _ in range(num_templates)],
        "template_mask": torch.zeros(batch, template_size, template_size, dtype=torch.bool),
        "search": torch.randn(batch, 3, search_size, search_size, generator=gen),
        "search_mask": torch.zeros(batch, search_size, search_size, dtype=torch.bool),
    }


def tracking_step(model, template_features, search, search_mask, run_cls_head: bool) -> dict:
    """One tracking step with cached templates: search backbone + transformer + heads."""
    return model.decode(template_features, model.encode(search, search_mask), True, run_cls_head)


def paper_macs(model: nn.Module, inputs: dict, run_cls_head: bool) -> dict[str, int]:
    """thop-convention MACs of the tracking step (split as the official script) and the template step."""
    result: dict[str, int] = {}
    with torch.no_grad():
        templates = [model.encode(t, inputs["template_mask"]) for t in inputs["templates"]]
        with thop_style_counter(model) as counts:
            search = model.encode(inputs["search"], inputs["search_mask"])
        result["paper_backbone_macs"] = counts["macs"]
        with thop_style_counter(model) as counts:
            model.decode(templates, search, True, run_cls_head)
        result["paper_transformer_head_macs"] = counts["macs"]
        result["official_rule_transformer_head_macs"] = counts["macs"] + counts["attention_rule_macs"]
        with thop_style_counter(model) as counts:
            model.encode(inputs["templates"][0], inputs["template_mask"])
        result["paper_template_macs"] = counts["macs"]
    result["paper_step_macs"] = result["paper_backbone_macs"] + result["paper_transformer_head_macs"]
    result["official_rule_step_macs"] = result["paper_backbone_macs"] + result["official_rule_transformer_head_macs"]
    return result


def full_flops(model: nn.Module, inputs: dict, run_cls_head: bool) -> dict[str, int]:
    """FlopCounterMode totals (FLOPs = 2 x MACs) of the tracking step and the template step."""
    # FlopCounterMode's module tracker needs autograd on (it fails under no_grad / inference_mode)
    templates = [model.encode(t, inputs["template_mask"]) for t in inputs["templates"]]
    with FlopCounterMode(display=False) as counter:
        tracking_step(model, templates, inputs["search"], inputs["search_mask"], run_cls_head)
    step = counter.get_total_flops()
    with FlopCounterMode(display=False) as counter:
        model.encode(inputs["templates"][0], inputs["template_mask"])
    return {"full_step_flops": step, "full_template_flops": counter.get_total_flops()}


def step_flops(model: nn.Module, inputs: dict, run_cls_head: bool) -> dict[str, int]:
    """Both conventions for the tracking step and the template step (see the module docstring)."""
    return {**full_flops(model, inputs, run_cls_head), **paper_macs(model, inputs, run_cls_head)}


def time_call(
    fn: Callable[[], object], warmup: int = 3, runs: int = 20, sync: Callable[[], None] = lambda: None
) -> dict[str, float]:
    """Median / min / max wall time in milliseconds of ``fn`` after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - start) * 1000.0)
    return {"median_ms": statistics.median(times), "min_ms": min(times), "max_ms": max(times)}


def latency_report(
    model: nn.Module,
    inputs: dict,
    run_cls_head: bool,
    device: torch.device,
    warmup: int = 3,
    runs: int = 20,
    channels_last: bool = False,
) -> dict[str, dict[str, float]]:
    """Median/min/max ms of the tracking step, its two halves, and the template step (inference mode)."""
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    search = inputs["search"].to(device).contiguous(memory_format=memory_format)
    search_mask = inputs["search_mask"].to(device)
    template = inputs["templates"][0].to(device).contiguous(memory_format=memory_format)
    template_mask = inputs["template_mask"].to(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    with torch.inference_mode():
        templates = [
            model.encode(t.to(device).contiguous(memory_format=memory_format), template_mask)
            for t in inputs["templates"]
        ]
        features = model.encode(search, search_mask)
        return {
            "tracking_step": time_call(
                lambda: tracking_step(model, templates, search, search_mask, run_cls_head), warmup, runs, sync
            ),
            "search_backbone": time_call(lambda: model.encode(search, search_mask), warmup, runs, sync),
            "transformer_heads": time_call(
                lambda: model.decode(templates, features, True, run_cls_head), warmup, runs, sync
            ),
            "template_step": time_call(lambda: model.encode(template, template_mask), warmup, runs, sync),
        }
