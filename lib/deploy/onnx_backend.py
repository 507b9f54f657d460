"""The tracker's backend on onnxruntime: the exported template and search graphs (``lib.deploy.graphs``).

``OnnxBackend.load(dir, cfg)`` refuses, with one line, a missing onnxruntime, missing files, and graphs
exported from another variant or with other crop sizes than ``cfg``'s.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from lib.config import Config
from lib.deploy.errors import DeployError
from lib.deploy.graphs import METADATA_KEY, SEARCH_FILE, TEMPLATE_FILE, graph_signature, template_names
from lib.models.stark import FeatureSequence


def _onnxruntime():
    try:
        import onnxruntime
    except ImportError:
        raise DeployError("onnxruntime is not installed: pip install -e .[deploy] (or use --backend torch)") from None
    return onnxruntime


def require_export_tools() -> None:
    """One-line DeployError unless both onnx (writing graphs) and onnxruntime (checking them) are installed."""
    _onnxruntime()
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise DeployError("onnx is not installed: pip install -e .[deploy]") from None


def _sessions(onnx_dir: str | Path, device: str | torch.device = "cpu", threads: int = 0):
    ort = _onnxruntime()
    folder = Path(onnx_dir) if onnx_dir else None
    if folder is None or not folder.is_dir():
        raise DeployError(f"{onnx_dir}: no exported graphs here (run tracking/export_onnx.py first, or --onnx_dir DIR)")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or torch.get_num_threads()
    options.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    if torch.device(device).type == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            raise DeployError("this onnxruntime has no CUDA provider (pip install onnxruntime-gpu) or use --device cpu")
        providers.insert(0, ("CUDAExecutionProvider", {"device_id": torch.device(device).index or 0}))
    sessions = []
    for name in (TEMPLATE_FILE, SEARCH_FILE):
        path = folder / name
        if not path.is_file():
            raise DeployError(f"{path}: missing (run tracking/export_onnx.py first)")
        try:
            sessions.append(ort.InferenceSession(str(path), options, providers=providers))
        except Exception as exc:  # noqa: BLE001 -- onnxruntime raises its own exception types
            raise DeployError(f"{path}: onnxruntime cannot load it ({str(exc).splitlines()[0]})") from None
    return sessions


def _check_signature(session, path: Path, cfg: Config) -> None:
    stored = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    if stored is None:
        raise DeployError(f"{path}: not exported by tracking/export_onnx.py (no {METADATA_KEY} metadata)")
    found, wanted = json.loads(stored), graph_signature(cfg)
    differing = [
        f"{key} {found.get(key)!r} (config: {wanted[key]!r})" for key in wanted if found.get(key) != wanted[key]
    ]
    if differing:
        raise DeployError(f"{path}: exported for another variant or crop size: " + ", ".join(differing))


def check_onnx_dir(onnx_dir: str | Path, cfg: Config) -> None:
    """Raise a one-line DeployError unless onnxruntime is installed and ``onnx_dir`` holds graphs of ``cfg``."""
    OnnxBackend.load(onnx_dir, cfg)


class OnnxBackend:
    """``encode_template`` / ``predict`` (see ``lib.tracker.backends``) on two onnxruntime sessions."""

    name = "onnxruntime"
    updates_query = False  # the update-query variant is not exported

    def __init__(self, template_session, search_session, num_templates: int, has_score: bool) -> None:
        self.template_session = template_session
        self.search_session = search_session
        self.num_templates = num_templates
        self.has_score = has_score
        # inputs a variant does not read (positions without positional encoding) are pruned at export
        accepted = {node.name for node in search_session.get_inputs()}
        self._template_inputs = [name if name in accepted else None for name in template_names(num_templates)]

    @classmethod
    def load(cls, onnx_dir: str | Path, cfg: Config, device: str | torch.device = "cpu", threads: int = 0):
        template, search = _sessions(onnx_dir, device, threads)
        for session, name in ((template, TEMPLATE_FILE), (search, SEARCH_FILE)):
            _check_signature(session, Path(onnx_dir) / name, cfg)
        return cls(template, search, cfg.data.template.number, cfg.model.score_head)

    def encode_template(self, crops: torch.Tensor, masks: torch.Tensor) -> FeatureSequence:
        feed = {"crop": crops.numpy(), "mask": masks.numpy().astype(np.float32)}
        feat, mask, pos = self.template_session.run(None, feed)
        side = int(round(feat.shape[0] ** 0.5))
        return FeatureSequence(
            torch.from_numpy(feat), torch.from_numpy(mask > 0.5), torch.from_numpy(pos), (side, side)
        )

    def predict(
        self, templates: Sequence[FeatureSequence], crops: torch.Tensor, masks: torch.Tensor, previous_query=None
    ) -> dict:
        if len(templates) != self.num_templates:
            raise DeployError(
                f"the search graph takes {self.num_templates} templates, the tracker has {len(templates)}"
            )
        feed = {"crop": crops.numpy(), "mask": masks.numpy().astype(np.float32)}
        for template, start in zip(templates, range(0, 3 * len(templates), 3)):
            values = (template.feat.numpy(), template.mask.numpy().astype(np.float32), template.pos.numpy())
            for name, value in zip(self._template_inputs[start : start + 3], values):
                if name is not None:
                    feed[name] = value
        outputs = self.search_session.run(None, feed)
        out = {"pred_boxes": torch.from_numpy(outputs[0])}
        if self.has_score:
            out["pred_logits"] = torch.from_numpy(outputs[1])
        return out
