"""Train STARK with the official command line.

    python tracking/train.py --script stark_st1 --config baseline --save_dir . --mode multiple --nproc_per_node 8
    python tracking/train.py --script stark_st2 --config baseline --save_dir . --mode multiple --nproc_per_node 8 \
        --script_prv stark_st1 --config_prv baseline

``--mode multiple`` runs ``torchrun`` (``torch.distributed.run``) on this script with ``--mode single``
and returns the ranks' exit code; the script also runs when started by ``torchrun``
directly (multi-node: use torchrun's own flags) and as one plain process on CPU.
Exit codes (the same under ``--mode multiple``: each rank records why it stopped and the launcher
returns that code instead of torchrun's 1):

* 0 done;
* 2 bad input: config, settings, dataset root, checkpoint, a run folder that already holds checkpoints
  (without ``--resume``/``--overwrite``), or samples that cannot be drawn (``SamplingError``);
* 3 a non-finite loss;
* 4 an output could not be written (disk full, no permission); the files already written are intact;
* 130 interrupted (Ctrl-C): one line names the epoch, and ``--resume`` continues from the last checkpoint.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
from pathlib import Path

from lib.config import ConfigError
from lib.data.errors import DatasetError, SamplingError
from lib.models import ModelError
from lib.train.distributed import cleanup_distributed, init_distributed
from lib.train.errors import NonFiniteLossError, TrainingInterrupted, TrainSetupError
from lib.train.run import RunPaths, TrainRequest, resolve_config_and_settings, run_training
from lib.utils.io import WriteError
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
    parser.add_argument("--resume", action="store_true", help="continue from this run's latest readable checkpoint")
    parser.add_argument(
        "--overwrite", action="store_true", help="start afresh where checkpoints exist (deletes that run's checkpoints)"
    )
    parser.add_argument("--settings", default=None, help="settings file (default: stark_local.yaml lookup)")
    parser.add_argument("--no_progress", action="store_true", help="no tqdm bar")
    parser.add_argument("--opts", nargs="*", default=[], help="key=value config (or settings) overrides")
    return parser.parse_args(argv)


EXIT_BAD_INPUT, EXIT_NON_FINITE, EXIT_WRITE, EXIT_INTERRUPTED = 2, 3, 4, 130
# set by launch_multiple for its torchrun children: rank r writes its exit code to <value>.<r>
EXIT_FILE_ENV = "STARK_EXIT_CODE_FILE"


def record_exit_code(code: int) -> int:
    """Leave ``code`` where the ``--mode multiple`` launcher reads it (torchrun itself only returns 1)."""
    target = os.environ.get(EXIT_FILE_ENV)
    if target:
        Path(f"{target}.{os.environ.get('RANK', '0')}").write_text(str(code))
    return code


def children_exit_code(torchrun_code: int, exit_file: Path) -> int:
    """The documented code of the failed run: the lowest non-zero code a rank recorded, else torchrun's.

    The lowest wins because a rank that stops first (bad input, NaN) makes torchrun end the others.
    """
    if torchrun_code == 0:
        return 0
    recorded = []
    for path in exit_file.parent.glob(exit_file.name + ".*"):
        text = path.read_text().strip()
        if text.isdigit() and int(text) != 0:
            recorded.append(int(text))
    return min(recorded) if recorded else torchrun_code


def launch_multiple(argv: list[str], nproc: int) -> int:
    """Re-run this script under torchrun with ``--mode single``; returns the ranks' documented exit code."""
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
    torchrun_args = [f"--nproc_per_node={nproc}", str(Path(__file__).resolve()), *rest, "--mode", "single"]
    with tempfile.TemporaryDirectory(prefix="stark_exit_") as folder:
        exit_file = Path(folder) / "code"
        return children_exit_code(run_torchrun(torchrun_args, exit_file), exit_file)


def run_torchrun(torchrun_args: list[str], exit_file: Path) -> int:
    """``python -m torch.distributed.run ARGS`` in this process; its exit code, without the traceback
    torchrun prints for a failed child (each rank has already said why it stopped, in one line)."""
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import get_args_parser, run

    os.environ[EXIT_FILE_ENV] = str(exit_file)
    try:
        run(get_args_parser().parse_args(torchrun_args))
    except ChildFailedError as err:
        failure = err.get_first_failure()[1]
        return failure.exitcode if failure.exitcode > 0 else 1
    finally:
        os.environ.pop(EXIT_FILE_ENV, None)
    return 0


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
        overwrite=args.overwrite,
        use_lmdb=bool(args.use_lmdb),
        script_prv=args.script_prv,
        config_prv=args.config_prv,
        settings_path=args.settings,
        show_progress=not args.no_progress,
    )
    rank = int(os.environ.get("RANK", "0"))
    setup_logging(rank=rank)  # the settings file in use is logged while resolving; the log file comes after
    try:
        cfg, settings = resolve_config_and_settings(request)
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return record_exit_code(EXIT_BAD_INPUT)
    paths = RunPaths.create(settings, args.script, args.config)
    setup_logging(rank=rank, log_file=paths.log_file)
    ctx = init_distributed()
    try:
        run_training(request, ctx, cfg, settings)
    except (ConfigError, DatasetError, ModelError, TrainSetupError, SamplingError) as err:
        return _fail(EXIT_BAD_INPUT, err)
    except NonFiniteLossError as err:
        logger.error("training stopped: %s", err)
        return record_exit_code(EXIT_NON_FINITE)
    except WriteError as err:
        return _fail(EXIT_WRITE, err)
    except KeyboardInterrupt as err:  # Ctrl-C: a line, not a traceback; 130 as a shell reports SIGINT
        where = f" at epoch {err.epoch}" if isinstance(err, TrainingInterrupted) else " before training started"
        if ctx.is_main:
            print(f"interrupted{where}, resume with --resume", file=sys.stderr)
        return record_exit_code(EXIT_INTERRUPTED)
    finally:
        cleanup_distributed()
    if ctx.is_main:
        logger.info("Finished training!")
    return 0


def _fail(code: int, err: Exception) -> int:
    message = str(err).strip() or type(err).__name__
    if message.startswith("Caught ") and "Original Traceback" in message:
        # raised in a DataLoader worker: the message carries the worker's traceback, whose last line
        # is the original one-line message
        message = message.splitlines()[-1].split(f"{type(err).__name__}: ", 1)[-1]
    logger.error("%s", message)
    print(f"error: {message}", file=sys.stderr)
    return record_exit_code(code)


if __name__ == "__main__":
    sys.exit(main())
