"""Track an object through a video (or a folder of frames); write the annotated video and a box file.

    python tracking/video_demo.py stark_st baseline video.mp4 --optional_box 100 80 40 60 \\
        --checkpoint STARKST_ep0050.pth.tar --save_video out.mp4

Headless by default; ``--show`` opens a window (and lets you draw the box when none is given).
The box file (``--save_results``; by default ``OUT_boxes.txt`` beside ``--save_video OUT.mp4``, else
``VIDEO_boxes.txt`` beside the input ``VIDEO.mp4`` or folder ``VIDEO``) has one tab-separated ``x y w h``
line per frame; the video dataset name selects the update interval (200 by default).
"""

import argparse
import sys
from pathlib import Path

import numpy as np

from lib.config import ConfigError, load_local_settings, split_overrides
from lib.evaluation.results_io import format_boxes
from lib.models import ModelError
from lib.tracker.demo import DemoError, VideoSink, draw_result, frame_count_and_fps, iterate_frames
from lib.tracker.factory import build_tracker
from lib.tracker.names import RunnerError
from lib.utils.crop import CropError
from lib.utils.io import atomic_write_text
from lib.utils.logging import setup_logging


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tracker_name", help="stark_s | stark_st")
    parser.add_argument("tracker_param", help="config name, e.g. baseline")
    parser.add_argument("videofile", help="video file or folder of frames")
    parser.add_argument("--optional_box", nargs=4, type=float, default=None, metavar=("X", "Y", "W", "H"))
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--save_video", default=None, help="annotated output video (mp4v)")
    parser.add_argument(
        "--save_results",
        default=None,
        help="box file (default: OUT_boxes.txt for --save_video OUT.mp4, else VIDEO_boxes.txt beside the input)",
    )
    parser.add_argument("--int_results", action="store_true", help="truncate boxes to int like the official demo")
    parser.add_argument("--show", action="store_true", help="display frames in a window")
    parser.add_argument("--settings", default=None, help="settings file (default: stark_local.yaml lookup)")
    parser.add_argument("--opts", nargs="*", default=[], help="key=value overrides of the config or the settings")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--amp", default="none", choices=("none", "bf16", "fp16"))
    args = parser.parse_args()
    setup_logging()
    import cv2

    source = Path(args.videofile)
    try:
        config_opts, path_opts = split_overrides(args.opts)
        settings = load_local_settings(args.settings, path_opts)
        tracker = build_tracker(args.tracker_name, args.tracker_param, args.checkpoint, settings.save_dir,
                                config_opts, "video", args.device, args.amp)  # fmt: skip
        _, fps = frame_count_and_fps(source)
        sink = VideoSink(args.save_video, fps) if args.save_video else None
        boxes = []
        for index, frame in enumerate(iterate_frames(source)):
            if index == 0:
                box = args.optional_box
                if box is None:
                    if not args.show:
                        raise DemoError("give --optional_box x y w h (or --show to draw it)")
                    box = cv2.selectROI("video_demo", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), fromCenter=False)
                tracker.initialize(frame, {"init_bbox": list(box)})
                box, score = [float(v) for v in box], None
            else:
                out = tracker.track(frame)
                box, score = out["target_bbox"], out.get("conf_score")
            boxes.append(box)
            canvas = draw_result(frame, box, score)
            if sink:
                sink.write(canvas)
            if args.show:
                cv2.imshow("video_demo", canvas)
                if cv2.waitKey(1) & 0xFF == ord("q"):
                    break
        if sink:
            sink.close()
        if not boxes:
            raise DemoError(f"{source}: no frames")
        default_stem = Path(args.save_video).with_suffix("") if args.save_video else source.with_suffix("")
        box_path = Path(args.save_results) if args.save_results else Path(f"{default_stem}_boxes.txt")
        atomic_write_text(box_path, format_boxes(np.asarray(boxes), integer=args.int_results))
    except (ConfigError, RunnerError, DemoError, ModelError, CropError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    finally:
        if args.show:
            cv2.destroyAllWindows()
    print(
        f"{len(boxes)} frames tracked; boxes: {box_path}" + (f"; video: {args.save_video}" if args.save_video else "")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
