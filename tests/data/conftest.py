"""Small generated data sets in every layout, shared by the data tests (written once per session)."""

from pathlib import Path

import pytest

from lib.config import LocalSettings
from lib.config.schema import Config
from lib.data.synthetic import generate_dataset

SMALL = {"width": 160, "height": 120}


@pytest.fixture(scope="session")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data")
    generate_dataset("got10k", root / "got10k", 6, 30, seed=3, val_sequences=2, test_sequences=2, **SMALL)
    generate_dataset("lasot", root / "lasot", 12, 30, seed=4, **SMALL)
    generate_dataset("trackingnet", root / "trackingnet", 4, 30, seed=5, chunks=2, test_sequences=1, **SMALL)
    generate_dataset("coco", root / "coco", 6, 1, seed=6, **SMALL)
    return root


@pytest.fixture(scope="session")
def settings(data_root) -> LocalSettings:
    return LocalSettings(data_dir=str(data_root), save_dir=str(data_root / "out"), workspace_dir=str(data_root / "out"))


def tiny_config(**data) -> Config:
    """A config with small crops and a few samples per epoch, training on the generated GOT-10k set."""
    cfg = Config()
    cfg.data.train.datasets_name = ["GOT10K_all"]
    cfg.data.train.datasets_ratio = [1.0]
    cfg.data.train.sample_per_epoch = 16
    cfg.data.val.datasets_name = ["GOT10K_official_val"]
    cfg.data.val.sample_per_epoch = 8
    cfg.data.template.size = 64
    cfg.data.search.size = 128
    cfg.train.batch_size = 4
    cfg.train.num_worker = 0
    for key, value in data.items():
        setattr(cfg.data, key, value)
    return cfg


@pytest.fixture(autouse=True)
def _work_in_tmp(tmp_path, monkeypatch):
    """Settings built without save_dir put the index cache under ./checkpoints: keep that out of the checkout."""
    monkeypatch.chdir(tmp_path)
