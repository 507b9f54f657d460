"""The prepared workspace the bad-input matrix runs in, and the named changes a case applies to its copy."""

from __future__ import annotations

import errno
import os
import runpy
import shutil
import sys
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from lib.config.loader import PROJECT_ROOT
from lib.data.synthetic import generate_dataset
from lib.evaluation.results_io import box_file, read_boxes, results_folder, write_sequence_result
from lib.models import build_stark
from lib.models.checkpoint import save_official_checkpoint
from lib.tracker.names import load_test_config
from tests.reliability.payloads import write_hostile_checkpoint
from tests.train.conftest import TINY

TEST = [*TINY, "test.template_size=32", "test.search_size=64"]
RUN_DIR = "checkpoints/train/stark_s/baseline"
MARKER = "PAYLOAD_RAN"  # what a payload would write into the workspace


def run_entry(script: str, argv: list[str]) -> int:
    """Run an entry point's ``main()`` in this process with ``argv``; argparse errors give their code."""
    entry = runpy.run_path(str(PROJECT_ROOT / script), run_name="matrix_entry")
    saved = sys.argv
    sys.argv = [script, *argv]
    try:
        return int(entry["main"]())
    except SystemExit as stop:
        return int(stop.code or 0)
    finally:
        sys.argv = saved


def write_settings(work: Path) -> Path:
    path = work / "stark_local.yaml"
    path.write_text(f"workspace_dir: {work}\nsave_dir: {work}\ngot10k_dir: {work / 'data' / 'got10k'}\n")
    return path


def copy_workspace(template: Path, tmp_path: Path) -> Path:
    """A private copy of the prepared workspace, its settings file pointing at the copy."""
    work = tmp_path / "work"
    shutil.copytree(template, work)
    write_settings(work)
    return work


def val_sequences(work: Path) -> list[str]:
    return (work / "data" / "got10k" / "val" / "list.txt").read_text().split()


def build_template(work: Path) -> None:
    """Everything a user would have on disk after a first run of each tool (see bad_inputs.yaml)."""
    generate_dataset("got10k", work / "data" / "got10k", 4, 24, seed=0, width=160, height=120,
                     val_sequences=2, test_sequences=2)  # fmt: skip
    settings = str(write_settings(work))
    common = ["--settings", settings]
    assert run_entry("tracking/train.py", ["--script", "stark_s", "--config", "baseline", "--save_dir", str(work),
                     "--no_progress", *common, "--opts", *TINY, "data.train.sample_per_epoch=4",
                     "train.val_epoch_interval=0"]) == 0  # fmt: skip
    shutil.copy(work / RUN_DIR / "STARKS_ep0001.pth.tar", work / "ckA.pth.tar")
    torch.manual_seed(1)
    save_official_checkpoint(build_stark(load_test_config("stark_s", "baseline", TEST)), work / "ckB.pth.tar")
    assert run_entry("tracking/test.py", ["stark_s", "baseline", "--dataset", "got10k_val", *common,
                     "--checkpoint", str(work / "ckA.pth.tar"), "--opts", *TEST]) == 0  # fmt: skip
    assert run_entry("tracking/analysis_results.py", ["--tracker", "stark_s", "--config", "baseline",
                     "--dataset", "got10k_val", *common]) == 0  # fmt: skip
    # got10k_test results (the initial box repeated) and their submission zip
    from lib.config import load_local_settings
    from lib.data.registry import load_test_sequences

    folder = results_folder(work / "test" / "tracking_results", "stark_s", "baseline", "got10k_test")
    for seq in load_test_sequences("got10k_test", load_local_settings(settings)):
        write_sequence_result(folder, seq.name, np.tile(seq.init_box, (len(seq), 1)), [0.01] * len(seq))
    assert run_entry("tracking/pack_results.py", ["--dataset", "got10k_test", "--tracker", "stark_s",
                     "--config", "baseline", *common]) == 0  # fmt: skip
    assert run_entry("scripts/make_synthetic_dataset.py", ["--format", "got10k", "--out", str(work / "gen"),
                     "--sequences", "1", "--frames", "5", "--width", "64", "--height", "48"]) == 0  # fmt: skip


# -- changes a case makes to its copy before the command ------------------------------------------------


def _state(work: Path) -> dict:
    return torch.load(work / "ckA.pth.tar", weights_only=True)["net"]


def hostile_checkpoint(work: Path, _monkeypatch) -> None:
    write_hostile_checkpoint(work / "hostile.pth.tar", _state(work), work / MARKER, "legacy", "legacy_header")


def hostile_stage1_run(work: Path, _monkeypatch) -> None:
    folder = work / "checkpoints/train/stark_st1/baseline"
    folder.mkdir(parents=True)
    write_hostile_checkpoint(folder / "STARKST_ep0001.pth.tar", _state(work), work / MARKER, "legacy", "legacy_header")


def hostile_latest_checkpoint(work: Path, _monkeypatch) -> None:
    write_hostile_checkpoint(work / RUN_DIR / "STARKS_ep0001.pth.tar", _state(work), work / MARKER, "zip", "top_level")


def truncate_run_checkpoint(work: Path, _monkeypatch) -> None:
    path = work / RUN_DIR / "STARKS_ep0001.pth.tar"
    path.write_bytes(path.read_bytes()[:1000])


def bad_checkpoints(work: Path, _monkeypatch) -> None:
    (work / "empty.pth.tar").write_bytes(b"")
    (work / "text.pth.tar").write_text("this is not a checkpoint\n")
    data = (work / "ckA.pth.tar").read_bytes()
    (work / "truncated.pth.tar").write_bytes(data[: len(data) // 3])


def drop_provenance(work: Path, _monkeypatch) -> None:
    (
        results_folder(work / "test" / "tracking_results", "stark_s", "baseline", "got10k_val") / "provenance.json"
    ).unlink()


def _rewrite_result(work: Path, dataset: str, edit: Callable[[np.ndarray], np.ndarray]) -> None:
    folder = results_folder(work / "test" / "tracking_results", "stark_s", "baseline", dataset)
    seq = sorted(p.name for p in (work / "data" / "got10k" / dataset.split("_")[1]).iterdir() if p.is_dir())[0]
    path = box_file(folder, seq)
    boxes = edit(read_boxes(path))
    path.write_text("".join(",".join(repr(float(v)) for v in row) + "\n" for row in boxes))


def nan_result(work: Path, _monkeypatch) -> None:
    _rewrite_result(work, "got10k_val", lambda b: np.where(np.arange(len(b))[:, None] == 2, np.nan, b))


def short_result(work: Path, _monkeypatch) -> None:
    _rewrite_result(work, "got10k_val", lambda b: b[:5])


def nan_test_result(work: Path, _monkeypatch) -> None:
    _rewrite_result(work, "got10k_test", lambda b: np.where(np.arange(len(b))[:, None] == 1, np.nan, b))


def disk_full_on_checkpoint_write(work: Path, monkeypatch) -> None:
    """The disk fills up while a checkpoint's temp file is written (the OS reports ENOSPC)."""
    import lib.utils.io as atomic_io

    real_fsync = os.fsync

    def fsync(fd):
        if ".pth.tar." in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_fsync(fd)

    monkeypatch.setattr(atomic_io.os, "fsync", fsync)


def unreadable_frames(work: Path, _monkeypatch) -> None:
    bad = work / "bad_data" / "got10k"
    shutil.copytree(work / "data" / "got10k", bad)
    for frame in bad.rglob("*.jpg"):
        frame.write_bytes(b"not a jpeg")


def blocked_save_dir(work: Path, _monkeypatch) -> None:
    (work / "blocked").mkdir()
    (work / "blocked" / "test").write_text("a file where the results folder would go\n")


PREPARE = {
    f.__name__: f
    for f in (
        hostile_checkpoint,
        hostile_stage1_run,
        hostile_latest_checkpoint,
        truncate_run_checkpoint,
        bad_checkpoints,
        drop_provenance,
        nan_result,
        short_result,
        nan_test_result,
        disk_full_on_checkpoint_write,
        unreadable_frames,
        blocked_save_dir,
    )
}
