"""The tiny network every test folder builds on: every part of the real model, a few million parameters."""

TINY_NETWORK = [
    "model.backbone.type=resnet18",
    "model.backbone.pretrained=false",
    "model.hidden_dim=32",
    "model.transformer.enc_layers=1",
    "model.transformer.dec_layers=1",
    "model.transformer.dim_feedforward=64",
    "model.transformer.nheads=2",
]
