"""Deployment: the tracker's network as two ONNX graphs (template, search) and an onnxruntime backend."""
