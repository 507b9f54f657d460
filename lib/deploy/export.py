"""Export a tracker's network as the template graph and the search graph (ONNX, dynamic batch axis).

The graphs are traced from the batch-norm-folded network in eval mode (the same function as the
checkpoint's network, to float rounding) with the TorchScript exporter at ``opset`` (>= 17). Each file
carries the config's graph signature (``lib.deploy.graphs.graph_signature``) as metadata, so a pair is
never run with a config it was not exported from.
"""

from __future__ import annotations

import io
import logging
import warnings
from pathlib import Path

import torch

from lib.config import Config
from lib.deploy.errors import DeployError
from lib.deploy.graphs import (
    METADATA_KEY,
    SEARCH_FILE,
    TEMPLATE_FILE,
    SearchGraph,
    TemplateGraph,
    signature_json,
    template_names,
)
from lib.models.inference import prepare_for_inference
from lib.utils.io import atomic_write_bytes

logger = logging.getLogger(__name__)

MIN_OPSET = 17


def _export(module: torch.nn.Module, args: tuple, path: Path, inputs: list[str], outputs: list[str], axes: dict,
            opset: int, signature: str) -> None:  # fmt: skip
    import onnx

    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # the TorchScript exporter announces its deprecation and traces shape arithmetic; neither applies
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, buffer, dynamo=False, opset_version=opset, input_names=inputs,
                          output_names=outputs, dynamic_axes=axes, do_constant_folding=True)  # fmt: skip
    model = onnx.load_from_string(buffer.getvalue())
    entry = model.metadata_props.add()
    entry.key, entry.value = METADATA_KEY, signature
    atomic_write_bytes(path, model.SerializeToString())


def export_graphs(model: torch.nn.Module, cfg: Config, out_dir: str | Path, opset: int = MIN_OPSET) -> list[Path]:
    """Write ``template.onnx`` and ``search.onnx`` for ``model`` (built from ``cfg``) into ``out_dir``."""
    if opset < MIN_OPSET:
        raise DeployError(f"--opset {opset}: at least {MIN_OPSET} is needed (LayerNormalization, attention)")
    if cfg.model.query_update:
        raise DeployError("model.query_update: the update-query variant carries the previous frame's decoder "
                          "output, which the two-graph export has no input for; track it with --backend torch")  # fmt: skip
    out_dir = Path(out_dir)
    net = prepare_for_inference(model, fold_bn=True, channels_last=False, onednn_kernels=False)
    signature = signature_json(cfg)
    t_size, s_size = cfg.test.template_size, cfg.test.search_size
    num_templates = cfg.data.template.number
    generator = torch.Generator().manual_seed(0)
    crop_t = torch.randn(1, 3, t_size, t_size, generator=generator)
    mask_t = torch.zeros(1, t_size, t_size)
    mask_t[:, :, -t_size // 8 :] = 1.0  # some padding, so the traced graph keeps the masking path
    with torch.inference_mode():
        feat, feat_mask, pos = TemplateGraph(net)(crop_t, mask_t)
    template_map = (t_size // cfg.model.backbone.stride,) * 2
    if feat.shape[0] != template_map[0] * template_map[1]:
        raise DeployError(f"template features have {feat.shape[0]} tokens, expected {template_map}")
    batch = {0: "batch"}
    seq_batch = {1: "batch"}
    paths = [out_dir / TEMPLATE_FILE, out_dir / SEARCH_FILE]
    _export(TemplateGraph(net), (crop_t, mask_t), paths[0], ["crop", "mask"], ["feat", "feat_mask", "pos"],
            {"crop": batch, "mask": batch, "feat": seq_batch, "feat_mask": batch, "pos": seq_batch}, opset,
            signature)  # fmt: skip
    crop_s = torch.randn(1, 3, s_size, s_size, generator=generator)
    mask_s = torch.zeros(1, s_size, s_size)
    mask_s[:, -s_size // 8 :, :] = 1.0
    z_names = template_names(num_templates)
    z_args = (feat, feat_mask, pos) * num_templates
    search = SearchGraph(net, num_templates, template_map)
    outputs = ["boxes", "logits"] if search.has_score else ["boxes"]
    axes = {"crop": batch, "mask": batch, **{name: batch for name in outputs}}
    axes.update({name: (batch if name.endswith("_mask") else seq_batch) for name in z_names})
    _export(search, (crop_s, mask_s, *z_args), paths[1], ["crop", "mask", *z_names], outputs, axes, opset, signature)
    logger.info("wrote %s and %s (opset %d)", *paths, opset)
    return paths
