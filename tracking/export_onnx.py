"""Export a tracker's network to ONNX (template graph + search graph) and check it against PyTorch.

    python tracking/export_onnx.py stark_st baseline --checkpoint STARKST_ep0050.pth.tar --out onnx/stark_st
    python tracking/export_onnx.py stark_s baseline --checkpoint STARKS_ep0500.pth.tar
    python tracking/export_onnx.py stark_st ablation_mlp_head --checkpoint ...   # any Table 6 variant

Writes DIR/template.onnx, DIR/search.onnx (opset >= 17, dynamic batch axis, float masks) and
DIR/parity_report.json: onnxruntime vs PyTorch on random and real crops (max abs diff of features,
boxes and scores; goal <= 1e-4) and on a whole tracked generated sequence with template updates
(goal: boxes within 0.01 px, identical update decisions). Exit code 1 when a goal is missed.
Needs the optional extra: pip install -e .[deploy]. The default DIR is <save_dir>/onnx/<tracker>/<config>,
where `tracking/test.py --backend onnxruntime` looks.
"""

import argparse
import json
import sys

from lib.config import ConfigError, load_local_settings, split_overrides
from lib.deploy.errors import DeployError
from lib.deploy.onnx_backend import OnnxBackend, require_export_tools
from lib.models import ModelError
from lib.tracker.names import RunnerError, default_checkpoint, default_onnx_dir, load_test_config
from lib.utils.io import atomic_write_text
from lib.utils.logging import setup_logging

OUTPUT_GOAL = 1e-4
BOX_GOAL_PX = 0.01


def _goals(report: dict) -> list[tuple[str, bool]]:
    checks = []
    for part in ("random_crops", "real_crops"):
        for key, value in report[part].items():
            if isinstance(value, bool):
                checks.append((f"{part} {key}", value))
            else:
                checks.append((f"{part} {key} max abs diff {value:.2e} <= {OUTPUT_GOAL:g}", value <= OUTPUT_GOAL))
    seq = report["tracked_sequence"]
    checks.append((f"tracked sequence ({seq['frames']} frames) boxes within {seq['max_box_diff_px']:.2e} px "
                   f"<= {BOX_GOAL_PX} px", seq["max_box_diff_px"] <= BOX_GOAL_PX))  # fmt: skip
    checks.append((f"template updates at frames {seq['updates_reference']} (PyTorch) and "
                   f"{seq['updates_candidate']} (onnxruntime) identical", seq["identical_updates"]))  # fmt: skip
    return checks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tracker_name", help="stark_s | stark_st")
    parser.add_argument("tracker_param", help="config name, e.g. baseline or ablation_no_dec")
    parser.add_argument("--checkpoint", default=None, help="official .pth.tar or this project's checkpoint")
    parser.add_argument("--out", default=None, help="output folder (default <save_dir>/onnx/<tracker>/<config>)")
    parser.add_argument("--opset", type=int, default=17)
    parser.add_argument("--parity_frames", type=int, default=60, help="frames of the generated tracked sequence")
    parser.add_argument("--settings", default=None, help="settings file (default: stark_local.yaml lookup)")
    parser.add_argument("--opts", nargs="*", default=[], help="key=value overrides of the config or the settings")
    args = parser.parse_args()
    setup_logging()
    try:
        require_export_tools()
        config_opts, path_opts = split_overrides(args.opts)
        settings = load_local_settings(args.settings, path_opts)
        cfg = load_test_config(args.tracker_name, args.tracker_param, config_opts)
        checkpoint = args.checkpoint or default_checkpoint(
            settings.save_dir, args.tracker_name, args.tracker_param, cfg.test.epoch
        )
        out = args.out or default_onnx_dir(settings.save_dir, args.tracker_name, args.tracker_param)
        if args.parity_frames < 2:
            raise RunnerError(f"--parity_frames {args.parity_frames}: at least 2 frames are needed")
        from lib.deploy.export import export_graphs
        from lib.deploy.parity import parity_report
        from lib.tracker.backends import TorchBackend
        from lib.tracker.network import build_exact_network

        model = build_exact_network(cfg, checkpoint)
        paths = export_graphs(model, cfg, out, args.opset)
        report = parity_report(cfg, TorchBackend(model), OnnxBackend.load(out, cfg), frames=args.parity_frames)
    except (ConfigError, RunnerError, ModelError, DeployError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    report_path = paths[0].parent / "parity_report.json"
    atomic_write_text(report_path, json.dumps(report, indent=2) + "\n")
    for path in paths:
        print(f"wrote {path}")
    checks = _goals(report)
    for text, ok in checks:
        print(f"{'ok  ' if ok else 'MISS'} {text}")
    print(f"parity report: {report_path}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
