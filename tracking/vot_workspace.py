"""Write a VOT toolkit workspace that runs STARK: ``config.yaml`` (the stack) and ``trackers.ini`` (two entries).

    python tracking/vot_workspace.py --tracker stark_st --config baseline --stack vot2020/shortterm \\
        --checkpoint STARKST_ep0050.pth.tar --out vot_workspace
    cd vot_workspace && vot evaluate stark_st_baseline && vot analysis stark_st_baseline

Stacks: vot2020/shortterm and vot2022/shortterm (masks: the ``_trax`` entry reports the predicted box drawn as a
mask, no Alpha-Refine; the python entry reports the rectangle, its runtime in vot-toolkit 0.9.0 cannot take masks
back), vot2022/shorttermbox (rectangles), vot2020/longterm and vot2022/longterm (rectangle + confidence).
``<tracker>_<config>`` uses the toolkit's ``python`` protocol, ``<tracker>_<config>_trax`` the ``traxpython``
protocol; both run in this Python (the one the ``[vot]`` extra was installed into). ``vot evaluate`` downloads the
stack's sequences into ``sequences/`` on its first run.
"""

import argparse
import sys
from pathlib import Path

import yaml

from lib.config import ConfigError
from lib.config.loader import PROJECT_ROOT
from lib.tracker.names import RunnerError, tracker_script
from lib.tracker.vot import STACKS, VotError, stack_spec
from lib.utils.io import atomic_write_text


def trackers_ini(name: str, args: argparse.Namespace, python: str) -> str:
    """Both ``trackers.ini`` entries for one tracker/config/checkpoint/stack."""
    spec = stack_spec(args.stack)
    checkpoint = str(Path(args.checkpoint).resolve())
    opts = " ".join(args.opts)
    confidence = "true" if spec.confidence else "false"
    common = f"timeout = {args.timeout}\npython = {python}\npaths = {PROJECT_ROOT}\n"
    return (
        f"[{name}]\nlabel = {name}\nprotocol = python\ncommand = lib.tracker.vot:StarkVot\nconvert = rectangle\n"
        f"{common}arg_tracker = {args.tracker}\narg_config = {args.config}\narg_checkpoint = {checkpoint}\n"
        f"arg_mode = {spec.mode}\narg_confidence = {confidence}\narg_opts = {opts}\n"
        f"arg_device = {args.device}\n\n"
        f"[{name}_trax]\nlabel = {name}_trax\nprotocol = traxpython\ncommand = lib.tracker.vot_trax\n{common}"
        f"env_STARK_TRACKER = {args.tracker}\nenv_STARK_CONFIG = {args.config}\nenv_STARK_CHECKPOINT = {checkpoint}\n"
        f"env_STARK_STACK = {args.stack}\nenv_STARK_OPTS = {opts}\nenv_STARK_DEVICE = {args.device}\n"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracker", default="stark_st", help="stark_st | stark_s")
    parser.add_argument("--config", default="baseline", help="config name (experiments/<script>/<config>.yaml)")
    parser.add_argument("--stack", required=True, choices=tuple(STACKS))
    parser.add_argument("--checkpoint", required=True, help="official .pth.tar or this project's checkpoint")
    parser.add_argument("--out", required=True, help="workspace folder to create")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--timeout", type=int, default=120, help="seconds the toolkit waits for one answer")
    parser.add_argument("--opts", nargs="*", default=[], help="config overrides key=value")
    args = parser.parse_args()
    try:
        tracker_script(args.tracker)
        stack_spec(args.stack)
        if not Path(args.checkpoint).is_file():
            raise RunnerError(f"checkpoint {args.checkpoint} not found")
        out = Path(args.out)
        if (out / "config.yaml").exists():
            raise VotError(f"{out / 'config.yaml'} exists: choose another --out (a workspace holds one stack)")
        name = f"{args.tracker}_{args.config}"
        for folder in ("sequences", "results"):
            (out / folder).mkdir(parents=True, exist_ok=True)
        atomic_write_text(out / "trackers.ini", trackers_ini(name, args, sys.executable))
        atomic_write_text(out / "config.yaml", yaml.safe_dump({"registry": ["."], "stack": args.stack}))
    except (ConfigError, RunnerError, VotError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {out}/config.yaml ({args.stack}) and {out}/trackers.ini ({name}, {name}_trax)")
    print(f"next: cd {out} && vot evaluate {name} && vot analysis {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
