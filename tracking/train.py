"""Train STARK with the official command line.

    python tracking/train.py --script stark_st1 --config baseline --save_dir . --mode multiple --nproc_per_node 8
    python tracking/train.py --script stark_st2 --config baseline --save_dir . --mode multiple --nproc_per_node 8 \
        --script_prv stark_st1 --config_prv baseline

``--mode multiple`` starts ``torchrun`` (``python -m torch.distributed.run``) on this script with
``--mode single`` and returns its exit code; the script also runs when started by ``torchrun``
directly (multi-node: use torchrun's own flags) and as one plain process on CPU.
Exit codes: 0 done, 2 bad setup (config, dataset root, stage-1 checkpoint), 3 non-finite loss.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from pathlib import Path

from lib.config import ConfigError
from lib.models import ModelError
from lib.train.distributed import cleanup_distributed, init_distributed
from lib.train.errors import NonFiniteLossError, TrainSetupError
from lib.train.run import RunPaths, TrainRequest, resolve_config_and_settings, run_training
from lib.utils.logging import setup_logging

logger = logging.getLogger("train")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train STARK (stage 1, stage 2 or STARK-S).")
    parser.add_argument("--script", required=True, help="stark_s | stark_st1 | stark_st2")
    parser.add_argument("--config", default="baseline", help="experiments/<script>/<config>.yaml")
    parser.add_argument("--save_dir", default=None, help="where checkpoints/ and logs/ go (overrides the settings)")
    parser.add_argument("--mode", choices=("single", "multiple"), default="single")
    parser.add_argument("--nproc_per_node", type=int, default=1, help="processes (GPUs) for --mode multiple")
    parser.add_argument("--script_prv", default=None, help="stage 2: script of the stage-1 run")
    parser.add_argument("--config_prv", default=None, help="stage 2: config of the stage-1 run")
    parser.add_argument("--use_lmdb", type=int, choices=(0, 1), default=0)
    parser.add_argument("--resume", action="store_true", help="continue from this run's latest checkpoint")
    parser.add_argument("--settings", default=None, help="settings file (default: stark_local.yaml lookup)")
    parser.add_argument("--no_progress", action="store_true", help="no tqdm bar")
    parser.add_argument("--opts", nargs="*", default=[], help="key=value config (or settings) overrides")
    return parser.parse_args(argv)


def launch_multiple(argv: list[str], nproc: int) -> int:
    """Re-run this script under torchrun with ``--mode single``; returns torchrun's exit code."""
    rest = []
    skip = False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg in ("--mode", "--nproc_per_node"):
            skip = i + 1 < len(argv)
            continue
        if arg.startswith(("--mode=", "--nproc_per_node=")):
            continue
        rest.append(arg)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nproc_per_node={nproc}",
        str(Path(__file__).resolve()),
    ]
    command += rest + ["--mode", "single"]
    return subprocess.run(command, check=False).returncode


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    if args.mode == "multiple" and "LOCAL_RANK" not in os.environ:
        return launch_multiple(argv, args.nproc_per_node)
    request = TrainRequest(
        script=args.script,
        config=args.config,
        save_dir=args.save_dir,
        opts=list(args.opts),
        resume=args.resume,
        use_lmdb=bool(args.use_lmdb),
        script_prv=args.script_prv,
        config_prv=args.config_prv,
        settings_path=args.settings,
        show_progress=not args.no_progress,
    )
    rank = int(os.environ.get("RANK", "0"))
    try:
        cfg, settings = resolve_config_and_settings(request)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    paths = RunPaths.create(settings, args.script, args.config)
    setup_logging(rank=rank, log_file=paths.log_file)
    ctx = init_distributed()
    try:
        run_training(request, ctx, cfg, settings)
    except (ConfigError, ModelError, TrainSetupError) as err:  # lib.data errors derive from ConfigError
        logger.error("%s", err)
        print(f"error: {err}", file=sys.stderr)
        return 2
    except NonFiniteLossError as err:
        logger.error("training stopped: %s", err)
        return 3
    finally:
        cleanup_distributed()
    if ctx.is_main:
        logger.info("Finished training!")
    return 0


if __name__ == "__main__":
    sys.exit(main())
