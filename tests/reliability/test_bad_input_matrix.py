"""Issue 11: the bad-input matrix (tests/reliability/bad_inputs.yaml) run case by case.

Each case: fresh copy of the prepared workspace, its ``prepare`` steps, the command in this process;
then the exit code, the message fragment, no traceback, no payload run, no temp file left, and every
file that existed before the command untouched (logs may only have grown).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.reliability.workspace import (
    MARKER,
    PREPARE,
    PROJECT_ROOT,
    TEST,
    copy_workspace,
    run_entry,
    val_sequences,
)
from tests.train.conftest import TINY

CASES = yaml.safe_load(Path(__file__).with_name("bad_inputs.yaml").read_text())
APPEND_ONLY = (".log", ".jsonl")


def _snapshot(work: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in work.rglob("*") if p.is_file()}


def _expand(argv: list[str], work: Path, settings: Path) -> list[str]:
    values = {"{work}": str(work), "{settings}": str(settings),
              "{val_seq}": str(work / "data" / "got10k" / "val" / val_sequences(work)[0])}  # fmt: skip
    out = []
    for arg in argv:
        if arg in ("{TINY}", "{TEST}"):
            out += TINY if arg == "{TINY}" else TEST
            continue
        for key, value in values.items():
            arg = arg.replace(key, value)
        out.append(arg)
    return out


def test_every_case_has_the_fields():
    assert len(CASES) >= 40
    for case in CASES:
        assert set(case) <= {"id", "prepare", "command", "exit", "message", "may_change", "fresh_process"}, case["id"]
        assert all(step in PREPARE for step in case.get("prepare", [])), case["id"]
    assert len({case["id"] for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_bad_input(case, template, tmp_path, monkeypatch, capfd):
    work = copy_workspace(template, tmp_path)
    settings = work / "stark_local.yaml"
    monkeypatch.chdir(work)
    for step in case.get("prepare", []):
        PREPARE[step](work, monkeypatch)
    before = _snapshot(work)
    script, *argv = case["command"]
    if case.get("fresh_process"):
        # DataLoader workers are forked: forking the test process, which earlier tests left with helper threads
        # holding locks, can deadlock the worker; users start each run as a fresh process, and so does this case
        done = subprocess.run([sys.executable, str(PROJECT_ROOT / script), *_expand(argv, work, settings)],
                              cwd=work, capture_output=True, text=True, timeout=600)  # fmt: skip
        code, output = done.returncode, done.stdout + done.stderr
    else:
        code = run_entry(script, _expand(argv, work, settings))
        out, err = capfd.readouterr()
        output = out + err
    assert code == case["exit"], output[-3000:]
    assert case["message"] in output, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert not (work / MARKER).exists(), "a checkpoint payload ran"
    assert not [p for p in work.rglob("*.tmp")], "a temporary file was left behind"
    allowed = {work / name for name in case.get("may_change", [])}
    for path, data in before.items():
        if path in allowed:
            continue
        assert path.is_file(), f"{path} was deleted"
        now = path.read_bytes()
        if path.suffix in APPEND_ONLY:
            assert now.startswith(data), f"{path} lost what it held"
        else:
            assert now == data, f"{path} was changed"
