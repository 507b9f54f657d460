"""Save the attention maps of one tracking step (paper Fig. 6) as PNG overlays.

    python tracking/vis_attention.py stark_st baseline --sequence_dir DIR --frame 100 \\
        --checkpoint STARKST_ep0050.pth.tar --out attention/

The tracker runs from frame 0 (``--init_box`` or the first line of ``DIR/groundtruth.txt``) up to
frame K-1; frame K's pass is repeated with attention. Written files: ``encoder_template{i}.png``,
``encoder_search.png`` (last encoder layer, attention from the initial template's centre token to
every token) and ``decoder_template{i}.png``, ``decoder_search.png`` (last decoder cross-attention).
"""

import argparse
import sys
from pathlib import Path

import cv2

from lib.config import ConfigError, load_local_settings, split_overrides
from lib.models import ModelError
from lib.tracker.attention import attention_overlays
from lib.tracker.factory import build_tracker
from lib.tracker.folder_sequence import folder_sequence
from lib.tracker.names import RunnerError
from lib.utils.crop import CropError
from lib.utils.io import atomic_write_bytes
from lib.utils.logging import setup_logging


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tracker_name", help="stark_s | stark_st")
    parser.add_argument("tracker_param", help="config name, e.g. baseline")
    parser.add_argument("--sequence_dir", required=True, help="folder of frames")
    parser.add_argument("--frame", type=int, required=True, help="frame index K >= 1 to visualise")
    parser.add_argument("--init_box", nargs=4, type=float, default=None, metavar=("X", "Y", "W", "H"))
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--out", required=True, help="output folder for the PNGs")
    parser.add_argument("--settings", default=None, help="settings file (default: stark_local.yaml lookup)")
    parser.add_argument("--opts", nargs="*", default=[], help="key=value overrides of the config or the settings")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    setup_logging()
    try:
        seq = folder_sequence(args.sequence_dir, args.init_box)
        if not 1 <= args.frame < len(seq):
            raise RunnerError(f"--frame must be in 1..{len(seq) - 1} for {args.sequence_dir}")
        config_opts, path_opts = split_overrides(args.opts)
        save_dir = load_local_settings(args.settings, path_opts).save_dir
        tracker = build_tracker(args.tracker_name, args.tracker_param, args.checkpoint, save_dir,
                                config_opts, "video", args.device)  # fmt: skip
        tracker.initialize(seq.read_frame(0), {"init_bbox": seq.init_box})
        for index in range(1, args.frame):
            tracker.track(seq.read_frame(index))
        overlays = attention_overlays(tracker, seq.read_frame(args.frame))
    except (ConfigError, RunnerError, ModelError, CropError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    out = Path(args.out)
    for name, image in overlays.items():
        ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        atomic_write_bytes(out / f"{name}.png", data.tobytes())
        print(f"wrote {out / f'{name}.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
