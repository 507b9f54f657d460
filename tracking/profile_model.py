"""Parameters, FLOPs and latency of the STARK network for one tracking step and the template step.

    python tracking/profile_model.py --script stark_st2 --config baseline [--threads 2] [--device cpu|cuda]

The network is built with random weights (``model.backbone.pretrained=false``); counts do not depend
on the values. Latency is measured on the exact fp32 network and on the inference copy (BN folded,
channels-last) that the tracker uses.
"""

import argparse
import os
import sys

import torch

from lib.config import ConfigError, load_config
from lib.models import ModelError, build_stark
from lib.models.inference import prepare_for_inference
from lib.models.profiling import latency_report, make_inputs, paper_convention_parameters, parameter_report, step_flops
from lib.utils.logging import setup_logging


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--script", default="stark_st2", help="experiment family (stark_s, stark_st1, stark_st2)")
    parser.add_argument("--config", default="baseline", help="experiment name (baseline, baseline_R101, ...)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where to time the network")
    parser.add_argument("--runs", type=int, default=20, help="timed runs per measurement")
    parser.add_argument("--warmup", type=int, default=3, help="untimed runs before timing")
    parser.add_argument("--opts", nargs="*", default=[], help="config overrides key=value")
    args = parser.parse_args()
    setup_logging()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        cfg = load_config(args.script, args.config, ["model.backbone.pretrained=false", *args.opts])
        torch.manual_seed(0)
        model = build_stark(cfg).eval()
    except (ConfigError, ModelError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.device == "cuda" and not torch.cuda.is_available():
        print("error: --device cuda but CUDA is not available", file=sys.stderr)
        return 2
    with_score = model.cls_head is not None
    num_templates = cfg.data.template.number if with_score else 1
    inputs = make_inputs(1, cfg.data.template.size, cfg.data.search.size, num_templates)

    params = parameter_report(model)
    print(
        f"== {args.script}/{args.config}: {cfg.model.backbone.type}, {num_templates} template(s), search {cfg.data.search.size}"
    )
    print(
        f"parameters: total {params['total']:,}  trainable in stage 1 {params['trainable']:,}  "
        f"paper convention {paper_convention_parameters(model) / 1e6:.2f} M (thop: no attention modules, no query_embed)"
    )
    for key, value in params.items():
        if key not in ("total", "trainable"):
            print(f"  {key:<24} {value:,}")

    flops = step_flops(model, inputs, with_score)
    print("tracking step (search backbone + transformer + heads, templates cached):")
    print(f"  full count   {flops['full_step_flops'] / 1e9:8.3f} GFLOPs = {flops['full_step_flops'] / 2e9:.3f} GMACs")
    print(
        f"  paper (thop) {flops['paper_step_macs'] / 1e9:8.3f} GMACs = backbone {flops['paper_backbone_macs'] / 1e9:.3f}"
        f" + transformer/heads {flops['paper_transformer_head_macs'] / 1e9:.3f}"
    )
    print(f"  official script 'overall' (thop + its attention rule) {flops['official_rule_step_macs'] / 1e9:.3f} GMACs")
    print("template step (one template through backbone + bottleneck):")
    print(
        f"  full count   {flops['full_template_flops'] / 1e9:8.3f} GFLOPs = {flops['full_template_flops'] / 2e9:.3f} GMACs"
    )
    print(f"  paper (thop) {flops['paper_template_macs'] / 1e9:8.3f} GMACs")

    device = torch.device(args.device)
    threads = torch.get_num_threads()
    print(
        f"latency on {args.device} ({threads} threads, load average {os.getloadavg()[0]:.2f}), batch 1, fp32, "
        f"median (min-max) of {args.runs} runs:"
    )
    variants = {"exact": (model.to(device), False), "inference copy": (prepare_for_inference(model).to(device), True)}
    for name, (net, channels_last) in variants.items():
        report = latency_report(net, inputs, with_score, device, args.warmup, args.runs, channels_last)
        for part, t in report.items():
            print(f"  {name:<15} {part:<18} {t['median_ms']:8.1f} ms ({t['min_ms']:.1f}-{t['max_ms']:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
