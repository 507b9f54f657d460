"""Shared fixtures: a small generated GOT-10k-layout data set and the tiny model/training overrides."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lib.config import load_config
from lib.config.local import LocalSettings
from lib.data.synthetic import generate_dataset
from tests.tiny import TINY_NETWORK

# a small network: every part of the real model, a few million parameters
TINY_MODEL = [
    *TINY_NETWORK,
    "data.template.size=32",
    "data.search.size=64",
]
# a short run on the generated data
TINY_RUN = [
    "data.train.datasets_name=[GOT10K_all]",
    "data.train.datasets_ratio=[1]",
    "data.val.datasets_name=[GOT10K_official_val]",
    "data.val.datasets_ratio=[1]",
    "data.val.sample_per_epoch=4",
    "data.train.sample_per_epoch=8",
    "data.max_sample_interval=[20]",
    "train.batch_size=2",
    "train.num_worker=0",
    "train.epoch=1",
    "train.val_epoch_interval=1",
    "train.print_interval=1",
]
TINY = TINY_MODEL + TINY_RUN


@pytest.fixture(scope="session")
def got10k_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data") / "got10k"
    generate_dataset("got10k", root, sequences=4, frames=24, seed=0, width=160, height=120, val_sequences=2)
    return root


@pytest.fixture()
def settings(got10k_root, tmp_path) -> LocalSettings:
    return LocalSettings(workspace_dir=str(tmp_path), save_dir=str(tmp_path), got10k_dir=str(got10k_root))


@pytest.fixture()
def settings_file(settings, tmp_path) -> Path:
    path = tmp_path / "stark_local.yaml"
    path.write_text(
        yaml.safe_dump(
            {"workspace_dir": settings.workspace_dir, "save_dir": settings.save_dir, "got10k_dir": settings.got10k_dir}
        )
    )
    return path


def tiny_config(script: str, *extra: str):
    return load_config(script, "baseline", [*TINY, *extra])
