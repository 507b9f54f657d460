"""Without onnxruntime the backend and the exporter refuse with one line, before any work."""

import sys

import pytest

from lib.deploy.errors import DeployError
from lib.deploy.onnx_backend import check_onnx_dir, require_export_tools
from tests.tracker.conftest import build_tiny


def test_missing_onnxruntime_one_line(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    cfg, _ = build_tiny("stark_s")
    for call in (lambda: check_onnx_dir(tmp_path, cfg), require_export_tools):
        with pytest.raises(DeployError, match=r"onnxruntime is not installed: pip install -e \.\[deploy\]"):
            call()
