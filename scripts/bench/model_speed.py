"""Latency of one STARK tracking step (search backbone + transformer + heads, templates cached, batch 1).

    python scripts/bench/model_speed.py                      # ST50, 2 threads, all fp32 variants
    python scripts/bench/model_speed.py --threads 1 --runs 30
    python scripts/bench/model_speed.py --variants exact fold_cl bf16_fold_cl

Variants (all under torch.inference_mode):
  exact       the network as trained (FrozenBN, contiguous NCHW): the exact fp32 reference path
  exact_cl    same weights, channels-last activations and conv weights
  fold        BatchNorm folded into the convolutions (fp32, |diff| < 1e-5)
  fold_cl     fold + channels-last: prepare_for_inference() defaults
  fused_cl    fold_cl + every conv one oneDNN kernel on a pre-packed weight, ReLU/residual fused
              (prepare_for_inference(onednn_kernels=True)): what the tracker uses (lib.tracker.network.build_network)
  bf16_fold_cl  fold_cl under CPU bf16 autocast (lossy, optional)
  bf16_fused_cl fused_cl under CPU bf16 autocast: bf16 oneDNN convs on packed bf16 weights, cached bf16
              linear weights (what the tracker's --amp bf16 runs on the CPU)
Measured (ST50, 1 thread, a 2-core machine at load ~2.6-3 from other jobs, so only the comparison counts):
fold_cl 263 ms, fused_cl 248 ms median (12 round-robin runs), boxes within 5e-5 px of the exact network.
Before the weights were pre-packed, fused_cl was within the noise of fold_cl (1331 vs 1359 ms at load 7-8).
The variants are timed round-robin (one step of each in turn), so load from other processes on a
shared machine hits all of them alike; the script prints the load average before and after.
It also times the attention block alone: this project's SDPA attention vs nn.MultiheadAttention.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time

import torch
from torch import nn

from lib.config import ConfigError, load_config
from lib.models import ModelError, build_stark
from lib.models.inference import prepare_for_inference
from lib.models.profiling import make_inputs, tracking_step
from lib.models.transformer import Attention
from lib.utils.logging import setup_logging

VARIANTS = ("exact", "exact_cl", "fold", "fold_cl", "fused_cl", "bf16_fold_cl", "bf16_fused_cl")


def _variant(model: nn.Module, name: str):
    channels_last = name.endswith("_cl")
    if name.startswith("exact"):
        net = prepare_for_inference(model, fold_bn=False, channels_last=channels_last)
    else:
        net = prepare_for_inference(
            model, fold_bn=True, channels_last=channels_last, onednn_kernels="fused" in name
        )
    autocast = (
        (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if name.startswith("bf16") else contextlib.nullcontext
    )
    return net, channels_last, autocast


def _attention_micro(dim: int, heads: int, tokens: int, runs: int) -> None:
    torch.manual_seed(0)
    ours = Attention(dim, heads).eval()
    ref = nn.MultiheadAttention(dim, heads).eval()
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(tokens, 1, dim)
    mask = torch.zeros(1, tokens, dtype=torch.bool)
    calls = {
        "sdpa Attention": lambda: ours(x, x, x, mask),
        "nn.MultiheadAttention": lambda: ref(x, x, x, key_padding_mask=mask, need_weights=False),
    }
    times = {k: [] for k in calls}
    with torch.inference_mode():
        for fn in calls.values():
            fn()
        for _ in range(runs):
            for key, fn in calls.items():
                start = time.perf_counter()
                fn()
                times[key].append((time.perf_counter() - start) * 1000)
    for key, values in times.items():
        print(f"  attention block {key:<22} L={tokens}: median {statistics.median(values):6.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", default="stark_st2")
    parser.add_argument("--config", default="baseline")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--runs", type=int, default=20, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per variant")
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS[:5]), choices=VARIANTS)
    parser.add_argument("--no-attention", action="store_true", help="skip the attention micro-benchmark")
    args = parser.parse_args()
    setup_logging()
    torch.set_num_threads(args.threads)
    try:
        cfg = load_config(args.script, args.config, ["model.backbone.pretrained=false"])
        torch.manual_seed(0)
        model = build_stark(cfg).eval()
    except (ConfigError, ModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with_score = model.cls_head is not None
    inputs = make_inputs(1, cfg.data.template.size, cfg.data.search.size, cfg.data.template.number if with_score else 1)
    load_before = os.getloadavg()
    print(
        f"{args.script}/{args.config}: {torch.get_num_threads()} threads, torch {torch.__version__}, "
        f"load average {load_before[0]:.2f} (cpu count {os.cpu_count()})"
    )

    prepared = {}
    with torch.inference_mode():
        reference = None
        for name in args.variants:
            net, channels_last, autocast = _variant(model, name)
            fmt = torch.channels_last if channels_last else torch.contiguous_format
            search = inputs["search"].contiguous(memory_format=fmt)
            with autocast():
                templates = [
                    net.encode(t.contiguous(memory_format=fmt), inputs["template_mask"]) for t in inputs["templates"]
                ]
                out = tracking_step(net, templates, search, inputs["search_mask"], with_score)
            boxes = out["pred_boxes"].float()
            reference = boxes if reference is None else reference
            print(f"  {name:<13} max |box - first variant| = {(boxes - reference).abs().max().item():.2e}")

            def step(net=net, templates=templates, search=search, autocast=autocast):
                with autocast():
                    tracking_step(net, templates, search, inputs["search_mask"], with_score)

            prepared[name] = step
        for _ in range(args.warmup):
            for step in prepared.values():
                step()
        times = {name: [] for name in prepared}
        for _ in range(args.runs):
            for name, step in prepared.items():
                start = time.perf_counter()
                step()
                times[name].append((time.perf_counter() - start) * 1000)
    print(f"tracking step, batch 1, median (min-max) of {args.runs} round-robin runs:")
    for name, values in times.items():
        print(f"  {name:<13} {statistics.median(values):8.1f} ms ({min(values):.1f}-{max(values):.1f})")
    if not args.no_attention:
        tokens = (
            sum(t.shape[-1] // 16 * t.shape[-2] // 16 for t in inputs["templates"]) + (cfg.data.search.size // 16) ** 2
        )
        _attention_micro(cfg.model.hidden_dim, cfg.model.transformer.nheads, tokens, args.runs)
    print(f"load average after: {os.getloadavg()[0]:.2f} (the machine is shared; compare variants, not runs)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
