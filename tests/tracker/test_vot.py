"""VOT toolkit integration: the wrapper protocol, the workspace writer, the TraX handshake guard, ``vot test``."""

import configparser
import importlib.util
import os
import pty
import runpy
import subprocess
import sys

import cv2
import numpy as np
import pytest
import yaml

from lib.config.loader import PROJECT_ROOT
from lib.models.checkpoint import save_official_checkpoint
from lib.tracker.stark_tracker import StarkTracker
from lib.tracker.vot import StarkVot, VotError, VotSession, box_from_mask, box_mask, stack_spec
from tests.stderr_lines import problem_lines
from tests.tracker.conftest import TINY


@pytest.fixture(scope="module")
def frames(tmp_path_factory):
    root = tmp_path_factory.mktemp("vot_frames")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        path = root / f"{i:08d}.jpg"
        cv2.imwrite(str(path), rng.integers(0, 255, size=(72, 96, 3), dtype=np.uint8))
        paths.append(str(path))
    return paths


@pytest.fixture(scope="module")
def checkpoint(tiny_st, tmp_path_factory):
    path = tmp_path_factory.mktemp("vot_ckpt") / "STARKST_ep0050.pth.tar"
    save_official_checkpoint(tiny_st[1], path)
    return path


def _wrapper(tiny_st, confidence="false", mode="shortterm"):
    cfg, model = tiny_st
    return StarkVot(confidence=confidence, session=VotSession(StarkTracker(cfg, model), mode))


def test_python_protocol_answers_rectangles_per_object(tiny_st, frames):
    vot = _wrapper(tiny_st)
    assert vot.multiobject is True
    answers = vot.init(frames[0], [((10.0, 12.0, 20.0, 16.0), {})])
    assert answers == [((10.0, 12.0, 20.0, 16.0), {})]  # frame 0 answers the initial region
    answers = vot.update(frames[1], [])
    assert len(answers) == 1 and len(answers[0][0]) == 4 and answers[0][1] == {}
    assert all(np.isfinite(answers[0][0])) and answers[0][0][2] > 0
    # a second object appearing later gets its own state; the first keeps being tracked
    answers = vot.update(frames[2], [((40.0, 30.0, 10.0, 10.0), {})])
    assert len(answers) == 2 and answers[1][0] == (40.0, 30.0, 10.0, 10.0)
    assert len(vot.session.objects) == 2 and vot.session.objects[0].backend is vot.session.objects[1].backend


def test_long_term_answers_carry_the_score_as_confidence(tiny_st, frames):
    vot = _wrapper(tiny_st, confidence="true", mode="longterm")
    vot.init(frames[0], ((10.0, 12.0, 20.0, 16.0), {}))  # a single (region, properties) pair is accepted too
    (_, properties), = vot.update(frames[1])
    assert 0.0 <= properties["confidence"] <= 1.0  # sigmoid of the score head
    assert vot.session.objects[0].intervals == [200]  # STARK-ST's VOT20LT update interval


def test_bad_regions_are_one_line_errors(tiny_st, frames):
    vot = _wrapper(tiny_st)
    with pytest.raises(VotError, match="set convert = rectangle"):
        vot.init(frames[0], [([[0, 1], [1, 1]], {})])
    with pytest.raises(VotError, match="has no area"):
        vot.init(frames[0], [((1.0, 1.0, 0.0, 5.0), {})])
    with pytest.raises(VotError, match="cannot read the frame"):
        vot.init("/nonexistent.jpg", [((1.0, 1.0, 5.0, 5.0), {})])
    with pytest.raises(VotError, match="unknown VOT stack 'vot2020'"):
        stack_spec("vot2020")


def test_stacks_and_region_conversions():
    assert (stack_spec("vot2020/shortterm").output, stack_spec("vot2020/shortterm").confidence) == ("mask", False)
    assert stack_spec("vot2022/shorttermbox").output == "rectangle"
    assert (stack_spec("vot2020/longterm").mode, stack_spec("vot2020/longterm").confidence) == ("longterm", True)
    mask, x0, y0 = box_mask([10.4, 5.0, 20.2, 7.5], width=25, height=40)
    assert (x0, y0, mask.shape) == (10, 5, (8, 15))  # x: 10 .. ceil(30.6) clipped to 25; y: 5 .. ceil(12.5) = 13
    full = np.zeros((40, 25), dtype=np.uint8)
    full[y0 : y0 + mask.shape[0], x0 : x0 + mask.shape[1]] = mask
    assert box_from_mask(full) == [10.0, 5.0, 15.0, 8.0]
    with pytest.raises(VotError, match="initial mask is empty"):
        box_from_mask(np.zeros((4, 4)))


def _workspace(checkpoint, out, monkeypatch, capsys, stack="vot2022/shorttermbox"):
    entry = runpy.run_path(str(PROJECT_ROOT / "tracking" / "vot_workspace.py"), run_name="vot_workspace")
    argv = ["vot_workspace.py", "--stack", stack, "--checkpoint", str(checkpoint), "--out", str(out), "--device", "cpu",
            "--opts", *TINY]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    code = entry["main"]()
    return code, capsys.readouterr().err


def test_workspace_files(checkpoint, tmp_path, monkeypatch, capsys):
    assert _workspace(checkpoint, tmp_path / "ws", monkeypatch, capsys, "vot2020/longterm") == (0, "")
    assert yaml.safe_load((tmp_path / "ws" / "config.yaml").read_text()) == {"registry": ["."], "stack": "vot2020/longterm"}
    ini = configparser.ConfigParser()
    ini.read(tmp_path / "ws" / "trackers.ini")
    python, trax = ini["stark_st_baseline"], ini["stark_st_baseline_trax"]
    assert (python["protocol"], python["command"], python["convert"]) == ("python", "lib.tracker.vot:StarkVot", "rectangle")
    assert (python["arg_mode"], python["arg_confidence"], python["arg_checkpoint"]) == ("longterm", "true", str(checkpoint))
    assert python["arg_opts"].split() == TINY
    assert (trax["protocol"], trax["command"], trax["env_STARK_STACK"]) == ("traxpython", "lib.tracker.vot_trax", "vot2020/longterm")
    assert trax["python"] == sys.executable and trax["paths"] == str(PROJECT_ROOT)
    code, err = _workspace(checkpoint, tmp_path / "ws", monkeypatch, capsys)
    assert code == 2 and "config.yaml exists" in err
    code, err = _workspace(tmp_path / "none.pth.tar", tmp_path / "other", monkeypatch, capsys)
    assert code == 2 and len(problem_lines(err)) == 1 and "none.pth.tar not found" in err


def _trax_env(checkpoint, timeout="1"):
    env = dict(os.environ, STARK_CHECKPOINT=str(checkpoint), STARK_OPTS=" ".join(TINY), STARK_DEVICE="cpu",
               STARK_HANDSHAKE_TIMEOUT=timeout, OMP_NUM_THREADS="1", PYTHONPATH=str(PROJECT_ROOT))  # fmt: skip
    return env


@pytest.mark.parametrize("client", ["silent", "gone"])
def test_trax_entry_without_a_client_ends_with_a_message_not_a_hang(checkpoint, client):
    """stdin a pipe nobody writes to (silent) or closed (gone): the process must end on its own with one stderr
    line (a hang would hit the wait's timeout and fail the test)."""
    cmd = [sys.executable, "-m", "lib.tracker.vot_trax"]
    with subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=_trax_env(checkpoint), cwd=PROJECT_ROOT) as proc:  # fmt: skip
        if client == "gone":
            proc.stdin.close()
        returncode = proc.wait(timeout=120)
        message = proc.stderr.read().decode().strip().splitlines()[-1]
    if importlib.util.find_spec("trax") is None:
        assert returncode == 2 and "vot-trax is not installed" in message
    elif client == "silent":
        assert returncode == 3 and "no TraX handshake within 1 s" in message
    else:
        assert returncode == 3 and "TraX connection lost" in message


def test_trax_entry_started_from_a_terminal_says_so(checkpoint):
    primary, secondary = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "lib.tracker.vot_trax"], stdin=secondary, capture_output=True,
                              text=True, env=_trax_env(checkpoint), cwd=PROJECT_ROOT, timeout=120)  # fmt: skip
    finally:
        os.close(primary)
        os.close(secondary)
    assert proc.returncode == 2 and "started from a terminal" in proc.stderr


@pytest.mark.parametrize("tracker", ["stark_st_baseline", "stark_st_baseline_trax"])
def test_vot_toolkit_runs_the_tracker(checkpoint, tmp_path, monkeypatch, capsys, tracker):
    """The toolkit's own ``vot test`` on its generated dummy sequence (offline), both protocols."""
    pytest.importorskip("vot", reason="vot-toolkit not installed (pip install -e .[vot])")
    pytest.importorskip("trax", reason="vot-trax not installed (pip install -e .[vot])")
    assert _workspace(checkpoint, tmp_path / "ws", monkeypatch, capsys, "vot2020/shortterm")[0] == 0
    env = dict(os.environ, OMP_NUM_THREADS="1")
    vot_cli = [sys.executable, "-c", "from vot.utilities.cli import main; main()"]
    proc = subprocess.run([*vot_cli, "test", tracker], capture_output=True, text=True, cwd=tmp_path / "ws", env=env,
                          timeout=600)  # fmt: skip
    output = proc.stdout + proc.stderr
    assert "Test concluded successfuly" in output and "Error during tracker execution" not in output, output[-2000:]
