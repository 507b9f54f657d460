"""Issue 11: the ways forward the one-line errors point to (--resume fallback, --overwrite) do what they say."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch

from lib.evaluation.results_io import PROVENANCE_FILE, file_sha256, results_folder
from lib.utils.io import remove_stale_temp_files
from tests.reliability.workspace import RUN_DIR, TEST, copy_workspace, run_entry
from tests.train.conftest import TINY

TRAIN = ["--script", "stark_s", "--config", "baseline", "--no_progress"]


def _train(work, *extra, opts=()):
    return run_entry("tracking/train.py", [*TRAIN, "--save_dir", str(work), "--settings",
                     str(work / "stark_local.yaml"), *extra, "--opts", *TINY, *opts])  # fmt: skip


def test_resume_falls_back_to_the_newest_readable_checkpoint(template, tmp_path, capfd):
    work = copy_workspace(template, tmp_path)
    assert _train(work, "--resume", opts=["train.epoch=2"]) == 0
    latest = work / RUN_DIR / "STARKS_ep0002.pth.tar"
    data = latest.read_bytes()
    latest.write_bytes(data[: len(data) // 2])  # a truncated latest checkpoint (disk trouble, a bad copy)
    capfd.readouterr()
    assert _train(work, "--resume", opts=["train.epoch=3"]) == 0
    err = capfd.readouterr().err
    assert "STARKS_ep0002.pth.tar: cannot read checkpoint" in err and "falling back to the previous checkpoint" in err
    assert "resuming from" in err and "STARKS_ep0001.pth.tar, the newest readable checkpoint" in err
    state = torch.load(work / RUN_DIR / "STARKS_ep0003.pth.tar", weights_only=True)
    # epoch 1 (the template run, 2 steps), then epochs 2 and 3 (4 steps each) trained again from it
    assert state["epoch"] == 3 and state["global_step"] == 2 + 4 + 4
    assert torch.load(latest, weights_only=True)["epoch"] == 2  # rewritten whole


def test_overwrite_starts_a_fresh_run_in_place(template, tmp_path, capfd):
    work = copy_workspace(template, tmp_path)
    (work / RUN_DIR / "STARKS_ep0007.pth.tar").write_bytes((work / RUN_DIR / "STARKS_ep0001.pth.tar").read_bytes())
    assert _train(work, "--overwrite") == 0
    assert "--overwrite: deleted 2 checkpoint(s) of the earlier run" in capfd.readouterr().err
    assert sorted(p.name for p in (work / RUN_DIR).glob("*.pth.tar")) == ["STARKS_ep0001.pth.tar"]


def test_results_resume_only_with_the_same_provenance_and_overwrite_replaces(template, tmp_path, capfd):
    work = copy_workspace(template, tmp_path)
    folder = results_folder(work / "test" / "tracking_results", "stark_s", "baseline", "got10k_val")

    def test_py(checkpoint, *extra):
        return run_entry("tracking/test.py", ["stark_s", "baseline", "--dataset", "got10k_val", "--settings",
                         str(work / "stark_local.yaml"), "--checkpoint", str(work / checkpoint), *extra,
                         "--opts", *TEST])  # fmt: skip

    capfd.readouterr()
    assert test_py("ckA.pth.tar") == 0  # the same checkpoint and config: finished sequences are skipped
    assert "0 tracked, 2 skipped" in capfd.readouterr().out
    moved = work / "moved_ckA.pth.tar"
    (work / "ckA.pth.tar").rename(moved)
    assert test_py(moved.name) == 0  # the same file, moved: still the same results
    assert "0 tracked, 2 skipped" in capfd.readouterr().out
    assert test_py("ckB.pth.tar", "--overwrite") == 0
    assert "2 tracked, 0 skipped" in capfd.readouterr().out
    record = json.loads((folder / PROVENANCE_FILE).read_text())
    assert record["checkpoint_sha256"] == file_sha256(work / "ckB.pth.tar")


def test_generator_overwrite_replaces_only_its_own_set(template, tmp_path):
    work = copy_workspace(template, tmp_path)
    (work / "gen" / "stale.txt").write_text("left over from the earlier set\n")
    argv = ["--format", "got10k", "--out", str(work / "gen"), "--sequences", "1", "--frames", "5", "--width", "64",
            "--height", "48", "--overwrite"]  # fmt: skip
    assert run_entry("scripts/make_synthetic_dataset.py", argv) == 0
    assert (work / "gen" / ".stark_synthetic.json").is_file() and not (work / "gen" / "stale.txt").exists()
    real = work / "data" / "got10k"
    before = sorted(p.relative_to(real) for p in real.rglob("*"))
    assert run_entry("scripts/make_synthetic_dataset.py", [*argv[:2], "--out", str(real), *argv[4:]]) == 2
    assert sorted(p.relative_to(real) for p in real.rglob("*")) == before  # --overwrite never touches real data


def test_only_temp_files_of_dead_writers_are_removed(tmp_path):
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead = tmp_path / f".result.txt.{int(finished.stdout)}.stark-abc123.tmp"
    live = tmp_path / f".result.txt.{os.getpid()}.stark-def456.tmp"
    foreign = tmp_path / ".result.txt.tmp"  # not this project's naming: never touched
    for path in (dead, live, foreign):
        path.write_text("partial")
    assert remove_stale_temp_files(tmp_path) == [dead]
    assert live.exists() and foreign.exists() and not dead.exists()
