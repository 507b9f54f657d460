"""ONNX export and the onnxruntime backend: parity with PyTorch, dynamic batch, mask types, bad input."""

import runpy
import sys

import numpy as np
import pytest
import torch

from lib.config.loader import PROJECT_ROOT
from lib.deploy.errors import DeployError
from lib.tracker.backends import TorchBackend
from tests.tracker.conftest import TINY, build_tiny

ort = pytest.importorskip("onnxruntime", reason="the optional [deploy] extra is not installed")
onnx = pytest.importorskip("onnx", reason="the optional [deploy] extra is not installed")

from lib.deploy.export import export_graphs  # noqa: E402
from lib.deploy.onnx_backend import OnnxBackend, check_onnx_dir  # noqa: E402
from lib.deploy.parity import parity_report  # noqa: E402


def _set_score_logit(model, logit):
    last = model.cls_head.layers[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.fill_(logit)


@pytest.fixture(scope="module")
def exported_st(tmp_path_factory):
    cfg, model = build_tiny("stark_st")
    _set_score_logit(model, 3.0)  # every due update happens: the update path runs through both backends
    out = tmp_path_factory.mktemp("onnx_st")
    export_graphs(model, cfg, out)
    return cfg, model, out


def test_graphs_opset_float_masks_and_signature(exported_st):
    cfg, _, out = exported_st
    for name, inputs in (("template.onnx", ["crop", "mask"]), ("search.onnx", None)):
        graph = onnx.load(str(out / name))
        assert max(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")) >= 17
        types = {i.name: i.type.tensor_type.elem_type for i in graph.graph.input}
        assert set(types.values()) == {onnx.TensorProto.FLOAT}  # no bool inputs anywhere
        if inputs:
            assert list(types) == inputs
        else:
            assert list(types) == ["crop", "mask", "z0_feat", "z0_mask", "z0_pos", "z1_feat", "z1_mask", "z1_pos"]
        batch_dims = [i.type.tensor_type.shape.dim for i in graph.graph.input]
        assert all(any(d.dim_param == "batch" for d in dims) for dims in batch_dims)
        assert any(p.key == "stark_graph_signature" for p in graph.metadata_props)


def test_parity_report_meets_goals_with_template_updates(exported_st):
    cfg, model, out = exported_st
    report = parity_report(cfg, TorchBackend(model), OnnxBackend.load(out, cfg), frames=16, interval=5)
    for part in ("random_crops", "real_crops"):
        assert report[part]["template_masks_equal"]
        for key in ("template_features", "template_positions", "boxes", "scores"):
            assert report[part][key] <= 1e-4, (part, key)
    seq = report["tracked_sequence"]
    assert seq["updates_reference"] == [5, 10, 15] and seq["identical_updates"]
    assert seq["max_box_diff_px"] <= 0.01


def test_dynamic_batch_matches_single_calls(exported_st):
    cfg, _, out = exported_st
    backend = OnnxBackend.load(out, cfg)
    generator = torch.Generator().manual_seed(3)
    templates = torch.randn(3, 3, 64, 64, generator=generator)
    t_masks = torch.zeros(3, 64, 64, dtype=torch.bool)
    t_masks[1, :10] = True
    crops = torch.randn(3, 3, 128, 128, generator=generator)
    s_masks = torch.zeros(3, 128, 128, dtype=torch.bool)
    s_masks[2, :, -30:] = True
    batched_t = backend.encode_template(templates, t_masks)
    batched = backend.predict([batched_t, batched_t], crops, s_masks)
    assert batched["pred_boxes"].shape == (3, 1, 4) and batched["pred_logits"].shape == (3, 1, 1)
    for i in range(3):
        single_t = backend.encode_template(templates[i : i + 1], t_masks[i : i + 1])
        single = backend.predict([single_t, single_t], crops[i : i + 1], s_masks[i : i + 1])
        assert torch.allclose(single["pred_boxes"], batched["pred_boxes"][i : i + 1], atol=1e-5)


@pytest.mark.parametrize(
    "tracker, extra",
    [
        ("stark_s", []),
        ("stark_st", ["model.position_embedding=none"]),
        ("stark_st", ["model.transformer.dec_layers=0"]),
        ("stark_st", ["model.head_type=mlp"]),
        ("stark_st", ["model.score_head=false", "train.objective=box"]),
        ("stark_st", ["model.num_object_queries=3", "train.objective=hungarian"]),  # Table 7
        ("stark_st", ["model.query_source=template"]),
    ],
)
def test_variants_export_and_agree(tmp_path, tracker, extra):
    cfg, model = build_tiny(tracker, extra)
    export_graphs(model, cfg, tmp_path)
    report = parity_report(cfg, TorchBackend(model), OnnxBackend.load(tmp_path, cfg), frames=6)
    assert report["real_crops"]["boxes"] <= 1e-4 and report["random_crops"]["boxes"] <= 1e-4
    assert ("scores" in report["real_crops"]) == cfg.model.score_head
    assert report["tracked_sequence"]["max_box_diff_px"] <= 0.01


def test_graphs_of_another_config_are_refused(exported_st):
    cfg, _, out = exported_st
    other_size, _ = build_tiny("stark_st", ["test.search_size=160", "data.search.size=160"])
    with pytest.raises(DeployError, match=r"search\.onnx|template\.onnx") as err:
        check_onnx_dir(out, other_size)
    assert "search_size 128 (config: 160)" in str(err.value) and "\n" not in str(err.value)
    stark_s, _ = build_tiny("stark_s")
    with pytest.raises(DeployError, match="num_templates 2 \\(config: 1\\)"):
        check_onnx_dir(out, stark_s)
    with pytest.raises(DeployError, match="no exported graphs"):
        check_onnx_dir(out / "missing", cfg)


def test_tracker_on_onnxruntime_follows_torch(exported_st):
    from lib.data.synthetic import difficulty_options, render_sequence
    from lib.tracker import StarkTracker

    cfg, model, out = exported_st
    video = render_sequence(np.random.default_rng(4), 8, difficulty_options("easy", width=160, height=120))
    boxes = {}
    for name, backend in (("torch", TorchBackend(model)), ("ort", OnnxBackend.load(out, cfg))):
        tracker = StarkTracker(cfg, backend, "got10k_test")
        tracker.initialize(video.frames[0], {"init_bbox": video.boxes[0].tolist()})
        boxes[name] = np.asarray([tracker.track(frame)["target_bbox"] for frame in video.frames[1:]])
    assert np.abs(boxes["torch"] - boxes["ort"]).max() <= 0.01


def test_export_cli_writes_graphs_and_report(exported_st, tmp_path, monkeypatch, capsys):
    from lib.models.checkpoint import save_official_checkpoint

    _, model, _ = exported_st
    checkpoint = tmp_path / "STARKST_ep0050.pth.tar"
    save_official_checkpoint(model, checkpoint)
    entry = runpy.run_path(str(PROJECT_ROOT / "tracking" / "export_onnx.py"), run_name="export")
    argv = ["export_onnx.py", "stark_st", "baseline", "--checkpoint", str(checkpoint), "--out", str(tmp_path / "g"),
            "--parity_frames", "6", "--opts", *TINY]  # fmt: skip
    monkeypatch.setattr(sys, "argv", argv)
    assert entry["main"]() == 0
    printed = capsys.readouterr().out
    assert "MISS" not in printed and printed.count("ok  ") >= 10
    assert {p.name for p in (tmp_path / "g").iterdir()} == {"template.onnx", "search.onnx", "parity_report.json"}


def test_update_query_variant_is_refused_in_one_line(tmp_path):
    cfg, model = build_tiny("stark_s", ["model.query_update=true", "data.template.number=2"])
    with pytest.raises(DeployError, match="model.query_update") as err:
        export_graphs(model, cfg, tmp_path)
    assert "\n" not in str(err.value) and not any(tmp_path.iterdir())
