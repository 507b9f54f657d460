"""Run a STARK tracker over a benchmark and write result files in the official layout.

    python tracking/test.py stark_st baseline --dataset lasot --threads 4 --num_gpus 1
    python tracking/test.py stark_s baseline --dataset got10k_test --checkpoint STARKS_ep0500.pth.tar
    python tracking/test.py stark_st baseline --dataset folder --folder frames/ --init_box 10 20 30 40
    python tracking/test.py stark_st baseline --dataset lasot --backend onnxruntime   # graphs of export_onnx.py
    python tracking/test.py stark_st baseline --dataset lasot --batch_sequences 8     # 8 sequences per network call

Datasets: every benchmark of the data registry (lasot, got10k_test, got10k_val, trackingnet, otb, uav123,
nfs, tc128, tnl2k, lasot_extension, avist, their ``*_all`` forms) and folder. Finished sequences are
skipped when the results folder's provenance.json says they come from the same checkpoint (sha256; with
--backend onnxruntime the exported search graph), resolved config and --int_results/--exact/--amp;
otherwise the run stops before tracking (--runid N for another folder, --overwrite to replace them).
Exit codes: 0 done, 1 some sequence failed (listed at the end), 2 bad input (config, settings, checkpoint,
exported graphs, --batch_sequences, results of another run), 4 results folder not writable.
"""

import argparse
import sys
from pathlib import Path

from lib.config import ConfigError, load_local_settings, split_overrides
from lib.config.loader import dump_config
from lib.data.errors import DatasetError
from lib.data.registry import benchmark_names, load_test_sequences
from lib.deploy.errors import DeployError
from lib.evaluation.results_io import ResultsError, claim_results_folder, results_provenance
from lib.models import ModelError
from lib.models.build import check_checkpoint_fits
from lib.tracker.folder_sequence import folder_sequence
from lib.tracker.names import RunnerError, default_checkpoint, default_onnx_dir, load_test_config
from lib.tracker.network import BACKENDS
from lib.tracker.runner import RunOptions, check_batch_sequences, run_benchmark
from lib.utils.io import WriteError
from lib.utils.logging import setup_logging

DATASETS = (*benchmark_names(), "folder")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tracker_name", help="stark_s | stark_st")
    parser.add_argument("tracker_param", help="config name, e.g. baseline")
    parser.add_argument(
        "--dataset", "--dataset_name", dest="dataset", default="lasot", choices=DATASETS, type=str.lower
    )
    parser.add_argument("--sequence", default=None, help="run only this sequence (name)")
    parser.add_argument("--threads", type=int, default=0, help="worker processes (0: in this process)")
    parser.add_argument("--num_gpus", type=int, default=1, help="GPUs to spread workers over")
    parser.add_argument("--checkpoint", default=None, help="official .pth.tar or this project's checkpoint")
    parser.add_argument("--runid", type=int, default=None)
    parser.add_argument("--save_dir", default=None, help="overrides settings save_dir (checkpoints/ and test/)")
    parser.add_argument("--settings", default=None, help="settings file (default: stark_local.yaml lookup)")
    parser.add_argument(
        "--opts", nargs="*", default=[], help="key=value overrides of the config or the settings (lasot_dir=PATH)"
    )
    parser.add_argument("--exact", action="store_true", help="the unmodified network (no BN folding/channels-last)")
    parser.add_argument("--int_results", action="store_true", help="truncate boxes to int (official files)")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace finished results made by another checkpoint or config"
    )
    parser.add_argument("--amp", default="none", choices=("none", "bf16", "fp16"))
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--backend", default="torch", choices=BACKENDS, help="what runs the network")
    parser.add_argument("--compile", action="store_true", help="torch backend: torch.compile encode/decode")
    parser.add_argument("--onnx_dir", default=None, help="onnxruntime backend: exported graphs "
                        "(default <save_dir>/onnx/<tracker>/<config>, where export_onnx.py writes)")  # fmt: skip
    parser.add_argument("--batch_sequences", type=int, default=1,
                        help="track N sequences side by side, one network call per step")  # fmt: skip
    parser.add_argument("--use_lmdb", action="store_true", help="read frames from the *_lmdb databases")
    parser.add_argument("--folder", default=None, help="--dataset folder: the folder of frames")
    parser.add_argument("--init_box", nargs=4, type=float, default=None, metavar=("X", "Y", "W", "H"))
    args = parser.parse_args()
    setup_logging()
    try:
        config_opts, path_overrides = split_overrides(args.opts)
        path_overrides += [f"save_dir={args.save_dir}"] if args.save_dir else []
        settings = load_local_settings(args.settings, path_overrides)
        cfg = load_test_config(args.tracker_name, args.tracker_param, config_opts)
        checkpoint = args.checkpoint or str(
            default_checkpoint(settings.save_dir, args.tracker_name, args.tracker_param, cfg.test.epoch)
        )
        onnx_dir = args.onnx_dir or str(default_onnx_dir(settings.save_dir, args.tracker_name, args.tracker_param))
        if args.backend == "onnxruntime":
            from lib.deploy.onnx_backend import check_onnx_dir

            check_onnx_dir(onnx_dir, cfg)  # before any tracking: runtime installed, graphs match the config
        else:
            if not Path(checkpoint).is_file():
                raise RunnerError(f"checkpoint {checkpoint} not found (train first, or pass --checkpoint PATH)")
            check_checkpoint_fits(cfg, checkpoint)  # a bad file is named once, before any tracking
        if args.dataset == "folder":
            if not args.folder:
                raise RunnerError("--dataset folder needs --folder DIR (and --init_box or DIR/groundtruth.txt)")
            sequences = [folder_sequence(args.folder, args.init_box)]
        else:
            sequences = load_test_sequences(args.dataset, settings, use_lmdb=args.use_lmdb)
        if args.sequence:
            sequences = [s for s in sequences if s.name == args.sequence]
            if not sequences:
                raise RunnerError(f"sequence '{args.sequence}' is not part of {args.dataset}")
        check_batch_sequences(args.batch_sequences, len(sequences))
        options = RunOptions(
            tracker_name=args.tracker_name,
            config_name=args.tracker_param,
            dataset=args.dataset,
            checkpoint=checkpoint,
            results_dir=str(settings.results_dir),
            runid=args.runid,
            cfg=cfg,
            int_results=args.int_results,
            amp=args.amp,
            device=args.device,
            exact=args.exact,
            backend=args.backend,
            compile=args.compile,
            onnx_dir=onnx_dir,
            batch_sequences=args.batch_sequences,
        )
        # onnxruntime results come from the exported graphs (their boxes differ from PyTorch's by float
        # rounding): keyed by the search graph's bytes; torch runs keep their earlier provenance keys
        torch_run = args.backend == "torch"
        weights = checkpoint if torch_run else f"{onnx_dir}/search.onnx"
        backend = {} if torch_run else {"backend": args.backend}
        provenance = results_provenance(weights, dump_config(cfg), int_results=args.int_results,
                                        exact=args.exact, amp=args.amp, **backend)  # fmt: skip
        claim_results_folder(options.output_folder, provenance, overwrite=args.overwrite)
        outcomes = run_benchmark(options, sequences, threads=args.threads, num_gpus=args.num_gpus)
    except (ConfigError, DatasetError, DeployError, ModelError, RunnerError, ResultsError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except WriteError as err:
        print(f"error: {err}", file=sys.stderr)
        return 4
    failed = [o for o in outcomes if o.status == "failed"]
    done = sum(o.status == "done" for o in outcomes)
    skipped = sum(o.status == "skipped" for o in outcomes)
    print(
        f"{done} tracked, {skipped} skipped (already finished), {len(failed)} failed; results in {options.output_folder}"
    )
    if args.batch_sequences > 1:
        print(f"per-frame times in the *_time.txt files: each step's wall time / the sequences live in it "
              f"(--batch_sequences {args.batch_sequences})")  # fmt: skip
    for outcome in failed:
        print(f"FAILED {outcome.name}: {outcome.error}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
