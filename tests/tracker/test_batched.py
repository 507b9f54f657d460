"""Batched evaluation: N sequences per network call give the sequential runner's result files."""

import runpy
import sys

import cv2
import numpy as np
import pytest
import torch

from lib.config.loader import PROJECT_ROOT
from lib.data.synthetic import difficulty_options, render_sequence
from lib.evaluation.results_io import read_boxes, read_times
from lib.models.checkpoint import save_official_checkpoint
from lib.tracker.folder_sequence import folder_sequence
from lib.tracker.names import load_test_config
from lib.tracker.runner import RunOptions, run_benchmark
from lib.tracker.stark_tracker import StarkTracker
from tests.stderr_lines import problem_lines
from tests.tracker.conftest import TINY, build_tiny

LENGTHS = (9, 4, 12, 6, 7)  # unequal: slots finish at different steps and are refilled


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("batched")
    _, model = build_tiny("stark_st")
    with torch.no_grad():  # score 0.95 on every frame: each slot replaces its dynamic template every 3 frames
        model.cls_head.layers[-1].weight.zero_()
        model.cls_head.layers[-1].bias.fill_(3.0)
    checkpoint = root / "STARKST_ep0050.pth.tar"
    save_official_checkpoint(model, checkpoint)
    names = []
    for index, length in enumerate(LENGTHS):
        video = render_sequence(np.random.default_rng(index), length, difficulty_options("medium", width=160,
                                height=120))  # fmt: skip
        folder = root / "frames" / f"seq{index}"
        folder.mkdir(parents=True)
        for frame_index, frame in enumerate(video.frames):
            cv2.imwrite(str(folder / f"{frame_index + 1:08d}.png"), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        np.savetxt(folder / "groundtruth.txt", video.boxes, delimiter=",")
        names.append(folder.name)
    return root, checkpoint, names


def _run(videos, tag, batch, threads=0, extra=()):
    root, checkpoint, names = videos
    cfg = load_test_config("stark_st", "baseline", [*TINY, "test.update_intervals.FOLDER=[3]", *extra])
    options = RunOptions("stark_st", "baseline", "folder", str(checkpoint), str(root / tag), cfg,
                         batch_sequences=batch)  # fmt: skip
    sequences = [folder_sequence(root / "frames" / name) for name in names]
    outcomes = run_benchmark(options, sequences, threads=threads, progress=False)
    assert {o.name: o.status for o in outcomes} == dict.fromkeys(names, "done")
    return {name: read_boxes(options.output_folder / f"{name}.txt") for name in names}, options


@pytest.fixture(scope="module")
def sequential(videos):
    return _run(videos, "sequential", 1)[0]


@pytest.mark.parametrize("batch, threads", [(2, 0), (5, 0), (2, 1)])
def test_batched_results_match_sequential(videos, sequential, batch, threads):
    boxes, options = _run(videos, f"batched_{batch}_{threads}", batch, threads)
    for name, expected in sequential.items():
        assert boxes[name].shape == expected.shape == (LENGTHS[int(name[3:])], 4)
        assert np.abs(boxes[name] - expected).max() <= 1e-4, name
        times = read_times(options.output_folder / f"{name}_time.txt")
        assert times.shape == (len(expected),) and (times > 0).all()


def test_failing_sequence_in_a_batch_leaves_the_others(videos, tmp_path):
    root, checkpoint, names = videos
    broken = tmp_path / "broken"
    broken.mkdir()
    for index in range(5):
        (broken / f"{index + 1:08d}.png").write_bytes(
            (root / "frames" / names[0] / f"{index + 1:08d}.png").read_bytes()
        )
    (broken / "00000003.png").write_bytes(b"not an image")
    cfg = load_test_config("stark_st", "baseline", TINY)
    options = RunOptions("stark_st", "baseline", "folder", str(checkpoint), str(tmp_path / "out"), cfg,
                         batch_sequences=2)  # fmt: skip
    sequences = [folder_sequence(broken, [30, 20, 24, 20]), folder_sequence(root / "frames" / names[1])]
    outcomes = {o.name: o for o in run_benchmark(options, sequences, progress=False)}
    assert outcomes["broken"].status == "failed" and "00000003.png" in outcomes["broken"].error
    assert outcomes[names[1]].status == "done"
    assert not (options.output_folder / "broken.txt").exists()


@pytest.mark.parametrize("step", ["prepare", "finish"])
def test_a_slot_failing_in_its_own_step_leaves_the_slots_it_shares_the_call_with(
    videos, sequential, tmp_path, monkeypatch, step
):
    root, checkpoint, names = videos
    initialised, calls = [], []
    real_initialize, real_step = StarkTracker.initialize, getattr(StarkTracker, step)

    def initialize(self, *args, **kwargs):
        initialised.append(self)
        return real_initialize(self, *args, **kwargs)

    def failing_step(self, *args, **kwargs):
        if self is initialised[0]:
            calls.append(step)
            if len(calls) == 2:  # the first sequence's third frame
                raise ValueError(f"{step} failed")
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(StarkTracker, "initialize", initialize)
    monkeypatch.setattr(StarkTracker, step, failing_step)
    cfg = load_test_config("stark_st", "baseline", [*TINY, "test.update_intervals.FOLDER=[3]"])
    options = RunOptions("stark_st", "baseline", "folder", str(checkpoint), str(tmp_path), cfg, batch_sequences=3)
    sequences = [folder_sequence(root / "frames" / name) for name in names]
    outcomes = {o.name: o for o in run_benchmark(options, sequences, progress=False)}
    assert outcomes[names[0]].status == "failed" and f"{step} failed" in outcomes[names[0]].error
    assert not (options.output_folder / f"{names[0]}.txt").exists()
    for name in names[1:]:  # two of them were tracked in the same network calls as the failing one
        assert outcomes[name].status == "done"
        assert np.abs(read_boxes(options.output_folder / f"{name}.txt") - sequential[name]).max() <= 1e-4


def test_cli_batch_larger_than_sequences_one_line(videos, tmp_path, monkeypatch, capsys):
    root, checkpoint, names = videos
    entry = runpy.run_path(str(PROJECT_ROOT / "tracking" / "test.py"), run_name="tracking_test")
    argv = ["test.py", "stark_st", "baseline", "--dataset", "folder", "--folder", str(root / "frames" / names[0]),
            "--checkpoint", str(checkpoint), "--save_dir", str(tmp_path), "--batch_sequences", "3", "--opts", *TINY]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    assert entry["main"]() == 2
    err = problem_lines(capsys.readouterr().err)
    assert len(err) == 1 and "--batch_sequences 3" in err[0] and "(1)" in err[0]
    assert not (tmp_path / "test").exists()  # refused before any tracking


def test_cli_onnxruntime_without_graphs_one_line(videos, tmp_path, monkeypatch, capsys):
    root, checkpoint, names = videos
    entry = runpy.run_path(str(PROJECT_ROOT / "tracking" / "test.py"), run_name="tracking_test")
    argv = ["test.py", "stark_st", "baseline", "--dataset", "folder", "--folder", str(root / "frames" / names[0]),
            "--save_dir", str(tmp_path), "--backend", "onnxruntime", "--opts", *TINY]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    assert entry["main"]() == 2
    err = problem_lines(capsys.readouterr().err)
    assert len(err) == 1 and ("onnx/stark_st/baseline" in err[0] or "onnxruntime is not installed" in err[0])


def test_update_query_variant_batched_matches_sequential(videos, tmp_path):
    # slots just refilled have no previous query yet: they take their own network call
    root, _, names = videos
    extra = ["model.query_update=true", "data.template.number=2"]
    _, model = build_tiny("stark_s", extra)
    checkpoint = tmp_path / "STARKS_ep0500.pth.tar"
    save_official_checkpoint(model, checkpoint)
    cfg = load_test_config("stark_s", "baseline", [*TINY, *extra])
    sequences = [folder_sequence(root / "frames" / name) for name in names]
    boxes = {}
    for batch in (1, 2):
        options = RunOptions("stark_s", "baseline", "folder", str(checkpoint), str(tmp_path / f"b{batch}"), cfg,
                             batch_sequences=batch)  # fmt: skip
        assert {o.status for o in run_benchmark(options, sequences, progress=False)} == {"done"}
        boxes[batch] = [read_boxes(options.output_folder / f"{name}.txt") for name in names]
    assert max(np.abs(a - b).max() for a, b in zip(boxes[1], boxes[2])) <= 1e-4
