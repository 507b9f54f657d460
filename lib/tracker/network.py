"""Building the network a tracker runs: the config's model with a checkpoint's weights, ready for inference."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from lib.config import Config
from lib.tracker.names import RunnerError


def build_network(cfg: Config, checkpoint: str | Path, exact: bool = False, compile: bool = False) -> torch.nn.Module:
    """Build the network of ``cfg`` and load ``checkpoint`` (official ``.pth.tar`` or ours) strictly.

    By default the returned copy has its frozen batch norm folded into the convolutions, a channels-last
    layout, and its convolutions run as oneDNN kernels on pre-packed weights with the ReLU and residual
    add fused (boxes within 1e-5 of the exact network, faster on CPU; see
    ``lib.models.inference.prepare_for_inference``); ``exact`` returns the unmodified network; ``compile``
    keeps plain folded convs (``torch.compile`` packs and fuses them itself, and cannot trace the packed ones).
    """
    from lib.models.inference import prepare_for_inference

    model = build_exact_network(cfg, checkpoint)
    return model if exact else prepare_for_inference(model, onednn_kernels=not compile)


def build_exact_network(cfg: Config, checkpoint: str | Path) -> torch.nn.Module:
    """The network of ``cfg`` with ``checkpoint``'s weights, in eval mode, unmodified (the export source)."""
    from lib.models import build_stark
    from lib.models.checkpoint import load_network_weights

    if not Path(checkpoint).is_file():
        raise RunnerError(f"checkpoint {checkpoint} not found (train first, or pass --checkpoint PATH)")
    # every weight comes from the checkpoint: never fetch ImageNet weights for a test run
    cfg_build = replace(cfg, model=replace(cfg.model, backbone=replace(cfg.model.backbone, pretrained=False)))
    model = build_stark(cfg_build)
    load_network_weights(model, checkpoint)
    return model.eval()


def resolve_device(device: str = "auto", worker_index: int = 0, num_gpus: int = 1) -> torch.device:
    """``auto``: GPU ``worker_index % num_gpus`` when CUDA is available and ``num_gpus > 0``, else the CPU."""
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available() and num_gpus > 0:
        return torch.device(f"cuda:{worker_index % num_gpus}")
    return torch.device("cpu")


BACKENDS = ("torch", "onnxruntime")


def build_backend(
    cfg: Config,
    checkpoint: str | Path | None,
    backend: str = "torch",
    device: str | torch.device = "cpu",
    amp: str = "none",
    exact: bool = False,
    compile: bool = False,
    onnx_dir: str | Path | None = None,
):
    """The network behind a tracker: ``torch`` (the checkpoint's network) or ``onnxruntime`` (the graphs
    exported into ``onnx_dir`` from the same config; checked against ``cfg`` when loaded)."""
    from lib.tracker.backends import TorchBackend

    if backend == "torch":
        torch_backend = TorchBackend(build_network(cfg, checkpoint, exact, compile), device, amp, compile)
        if compile:  # compile now, so that the first frame's time is a tracking time
            warm_up(torch_backend, cfg)
        return torch_backend
    if backend == "onnxruntime":
        from lib.deploy.onnx_backend import OnnxBackend

        if amp != "none" or compile or exact:
            raise RunnerError("--amp, --compile and --exact apply to the torch backend, not onnxruntime")
        return OnnxBackend.load(onnx_dir, cfg, device)
    raise RunnerError(f"unknown backend '{backend}'; valid: {', '.join(BACKENDS)}")


def warm_up(backend, cfg: Config, batch: int = 1) -> None:
    """One template encoding and one prediction at the test-time crop sizes (zero crops, no padding)."""
    t_size, s_size = cfg.test.template_size, cfg.test.search_size
    template = backend.encode_template(
        torch.zeros(batch, 3, t_size, t_size), torch.zeros(batch, t_size, t_size, dtype=torch.bool)
    )
    backend.predict(
        [template] * cfg.data.template.number,
        torch.zeros(batch, 3, s_size, s_size),
        torch.zeros(batch, s_size, s_size, dtype=torch.bool),
    )
