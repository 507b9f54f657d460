"""The assembled network on the tiny configuration: outputs, tracker split, ablations, inference copy."""

from __future__ import annotations

import urllib.error

import pytest
import torch
import torchvision

from lib.models import ModelError, build_stark
from lib.models.heads import MLPBoxHead
from lib.models.inference import FusedBottleneck, FusedConv, fold_frozen_batchnorm, prepare_for_inference
from lib.models.profiling import full_flops, make_inputs, paper_macs
from tests.models.conftest import randomise_batchnorm, tiny_config, tiny_inputs


def _tracker_split(model, inputs):
    templates = [
        model.encode(inputs["template_images"][:, t], inputs["template_masks"][:, t])
        for t in range(inputs["template_images"].shape[1])
    ]
    search = model.encode(inputs["search_images"], inputs["search_masks"])
    return model.decode(templates, search, run_box_head=True, run_cls_head=True, return_attention=True)


def test_forward_outputs_and_encode_decode_agree(tiny_cfg):
    torch.manual_seed(0)
    model = build_stark(tiny_cfg).eval()
    randomise_batchnorm(model)
    inputs = tiny_inputs()
    with torch.no_grad():
        out = model(**inputs, run_cls_head=True, return_attention=True)
        split = _tracker_split(model, inputs)
    tokens = 2 * 4 * 4 + 8 * 8  # two 64-px templates (4x4) + the 128-px search (8x8)
    assert out["pred_boxes"].shape == (2, 1, 4)
    assert out["pred_logits"].shape == (2, 1, 1)
    assert out["encoder_attention"].shape == (2, tokens, tokens)
    assert out["decoder_attention"].shape == (2, 1, tokens)
    for key in out:
        assert torch.allclose(out[key], split[key], atol=1e-6), key
    # padded template columns get no attention (template 0 of sample 0: columns 3 of its 4x4 map)
    padded = torch.arange(16).view(4, 4)[:, 3]
    assert torch.all(out["decoder_attention"][0, 0, padded] == 0)
    assert torch.allclose(out["decoder_attention"].sum(-1), torch.ones(2, 1))
    # corner boxes lie on the grid [0, (feat-1)/feat]
    xyxy = out["pred_boxes"][..., :2] - out["pred_boxes"][..., 2:] / 2
    assert torch.all(xyxy >= 0) and torch.all(xyxy <= 7 / 8)


def test_encode_shapes_and_search_last(tiny_cfg):
    model = build_stark(tiny_cfg).eval()
    inputs = tiny_inputs()
    with torch.no_grad():
        feats = model.encode(inputs["search_images"], inputs["search_masks"])
    assert feats.feat.shape == (64, 2, 32) and feats.pos.shape == (64, 2, 32)
    assert feats.mask.shape == (2, 64) and feats.size == (8, 8)
    # search rows >= 100 padded -> feature rows sampled at 16*i >= 100, i.e. i >= 7
    assert feats.mask[1].view(8, 8)[7].all() and not feats.mask[1].view(8, 8)[:7].any()
    assert not feats.mask[0].any()


def test_fold_batchnorm_keeps_outputs(tiny_cfg):
    torch.manual_seed(0)
    model = build_stark(tiny_cfg).eval()
    randomise_batchnorm(model)
    inputs = tiny_inputs()
    folded = fold_frozen_batchnorm(model)
    fast = prepare_for_inference(model, onednn_kernels=True)
    norm_types = (torch.nn.BatchNorm2d, torchvision.ops.FrozenBatchNorm2d)
    assert not any(isinstance(m, norm_types) for m in folded.modules())
    # the inference copy also fuses conv + ReLU (+ residual) in every block, the stem and the head
    fused = [m for m in fast.modules() if isinstance(m, FusedConv)]
    assert sum(isinstance(m, FusedBottleneck) for m in fast.modules()) == 6  # resnet18 up to layer3
    assert sum(m.relu for m in fused) == 1 + 6 * 2 + 2 * 4  # stem, two convs per block, four per corner tower
    # and every other conv (downsample, bottleneck, last corner convs) runs on a packed weight too
    assert len(fused) == sum(isinstance(m, torch.nn.Conv2d) for m in fast.modules()) == 21 + 2 + 1 + 2
    with torch.no_grad():
        ref = model(**inputs, run_cls_head=True)
        for copy in (folded, fast):
            out = copy(**inputs, run_cls_head=True)
            for key in ref:
                assert (out[key] - ref[key]).abs().max() < 1e-5, key
    # the original is untouched and still the exact path
    assert any(isinstance(m, norm_types) for m in model.modules())


ABLATIONS = {
    "no_encoder": ["model.transformer.enc_layers=0"],
    "no_decoder": ["model.transformer.dec_layers=0"],
    "no_position_encoding": ["model.position_embedding=none"],
    "mlp_box_head": ["model.head_type=mlp"],
    "no_score_head": ["model.score_head=false"],
}


@pytest.mark.parametrize("name", list(ABLATIONS))
def test_ablation_builds_trains_and_tracks(name):
    torch.manual_seed(0)
    model = build_stark(tiny_config(*ABLATIONS[name]))
    has_score = model.cls_head is not None
    inputs = tiny_inputs()
    optimiser = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    before = {k: v.clone() for k, v in model.named_parameters() if v.requires_grad}
    out = model(**inputs, run_cls_head=has_score)
    loss = out["pred_boxes"].sum() + (out["pred_logits"].sum() if has_score else 0.0)
    loss.backward()
    optimiser.step()
    changed = [k for k, v in model.named_parameters() if v.requires_grad and not torch.equal(v, before[k])]
    assert "box_head" in " ".join(changed) and any(k.startswith("backbone.0.body.layer3") for k in changed)
    model.eval()
    with torch.no_grad():
        split = _tracker_split(model, inputs) if has_score else None
        if not has_score:
            with pytest.raises(RuntimeError, match="score head"):
                _tracker_split(model, inputs)
            templates = [
                model.encode(inputs["template_images"][:, t], inputs["template_masks"][:, t]) for t in range(2)
            ]
            split = model.decode(templates, model.encode(inputs["search_images"], inputs["search_masks"]))
    assert split["pred_boxes"].shape == (2, 1, 4) and torch.isfinite(split["pred_boxes"]).all()
    if name == "no_encoder":
        assert len(model.transformer.encoder.layers) == 0 and "encoder_attention" not in split
    if name == "no_decoder":
        assert model.transformer.decoder is None and model.query_embed is None
        assert not any(k.startswith("query_embed") or "decoder" in k for k in model.state_dict())
    if name == "no_position_encoding":
        assert model.position_encoding is None
    if name == "mlp_box_head":
        assert isinstance(model.box_head, MLPBoxHead)
        assert [k for k in model.state_dict() if k.startswith("box_head")][0] == "box_head.layers.0.weight"
        assert torch.all((split["pred_boxes"] > 0) & (split["pred_boxes"] < 1))


def test_local_weights_file_is_loaded(tmp_path):
    torch.manual_seed(1)
    reference = torchvision.models.resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(reference.state_dict(), path)
    model = build_stark(tiny_config("model.backbone.pretrained=true", f"model.backbone.weights_path={path}"))
    body = model.backbone[0].body
    assert torch.equal(body.layer3[1].conv2.weight, reference.layer3[1].conv2.weight)
    assert torch.equal(body.bn1.running_var, reference.bn1.running_var)


def _offline(url, dst, *args, **kwargs):
    raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")


@pytest.mark.parametrize("file_name", ["resnet18-f37072fd.pth", "resnet18-5c106cde.pth"])
def test_pretrained_reads_torchvision_cache_without_downloading(monkeypatch, tmp_path, file_name):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    monkeypatch.setattr(torch.hub, "download_url_to_file", _offline)
    torch.manual_seed(2)
    reference = torchvision.models.resnet18(weights=None)
    (tmp_path / "checkpoints").mkdir()
    torch.save(reference.state_dict(), tmp_path / "checkpoints" / file_name)
    body = build_stark(tiny_config("model.backbone.pretrained=true")).backbone[0].body
    assert torch.equal(body.layer2[0].conv1.weight, reference.layer2[0].conv1.weight)


def test_offline_pretrained_fails_with_one_line_naming_both_ways_out(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    calls = []
    monkeypatch.setattr(torch.hub, "download_url_to_file", lambda *a, **k: calls.append(a[0]) or _offline(*a))
    with pytest.raises(ModelError) as info:
        build_stark(tiny_config("model.backbone.pretrained=true"))
    message = str(info.value)
    assert calls == ["https://download.pytorch.org/models/resnet18-f37072fd.pth"]  # torchvision's weights API
    assert "\n" not in message and "Temporary failure in name resolution" in message
    assert "model.backbone.weights_path=FILE" in message
    assert "model.backbone.pretrained=false" in message and "paper's recipe needs ImageNet weights" in message
    build_stark(tiny_config("model.backbone.pretrained=true"), imagenet=False)
    assert len(calls) == 1  # a network whose weights come from a checkpoint never fetches ImageNet weights
    with pytest.raises(ModelError, match="file not found"):
        build_stark(tiny_config("model.backbone.pretrained=true", f"model.backbone.weights_path={tmp_path / 'x.pth'}"))


def test_full_flop_count_matches_conv_macs_for_the_template_step(tiny_cfg):
    # the template step is convolutions only (FrozenBN is uncounted by thop and not a matmul), so the
    # FlopCounterMode total must be exactly twice the thop-convention MACs
    model = build_stark(tiny_cfg).eval()
    inputs = make_inputs(1, 64, 128, 2)
    counts = {**full_flops(model, inputs, True), **paper_macs(model, inputs, True)}
    assert counts["full_template_flops"] == 2 * counts["paper_template_macs"]
    assert counts["full_step_flops"] > 2 * counts["paper_step_macs"]  # + attention products and projections
