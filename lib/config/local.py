"""Per-user paths: dataset roots and output folders, from one YAML settings file.

``tracking/create_default_local_file.py --workspace_dir . --data_dir ./data --save_dir .`` writes the
file into the workspace folder (the command users of the official code know; upstream it generated two
``local.py`` modules). The file is looked up in this order: an explicit path, ``$STARK_LOCAL_FILE``,
``./stark_local.yaml`` in the working directory, then ``stark_local.yaml`` in the project root. Without any
file, defaults relative to the working directory are used, so a fresh checkout works with ``./data``.
Every load logs which file it used, so a run never reads another workspace's paths unannounced.
"""

from __future__ import annotations

import dataclasses
import difflib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional

import yaml

from lib.config.loader import PROJECT_ROOT, ConfigError

logger = logging.getLogger(__name__)

LOCAL_FILE_NAME = "stark_local.yaml"
LOCAL_FILE_ENV = "STARK_LOCAL_FILE"

# What a user must find under each dataset root; quoted by the missing-root error.
EXPECTED_LAYOUTS = {
    "got10k_dir": "got10k/{train,val,test}/list.txt and got10k/train/GOT-10k_Train_000001/{00000001.jpg,groundtruth.txt,...}",
    "lasot_dir": "lasot/<class>/<class>-<id>/{img/00000001.jpg,groundtruth.txt,full_occlusion.txt,out_of_view.txt}",
    "trackingnet_dir": "trackingnet/TRAIN_0..TRAIN_11,TEST/{anno/<seq>.txt,frames/<seq>/0.jpg}",
    "coco_dir": "coco/{annotations/instances_train2017.json,images/train2017/*.jpg}",
    "got10k_lmdb_dir": "got10k_lmdb/ (an lmdb environment built by scripts/build_lmdb.py --dataset got10k)",
    "lasot_lmdb_dir": "lasot_lmdb/ (an lmdb environment built by scripts/build_lmdb.py --dataset lasot)",
    "trackingnet_lmdb_dir": "trackingnet_lmdb/ (built by scripts/build_lmdb.py --dataset trackingnet)",
    "coco_lmdb_dir": "coco_lmdb/ (an lmdb environment built by scripts/build_lmdb.py --dataset coco)",
    "otb_dir": "otb/<Seq>/{img/0001.jpg,groundtruth_rect.txt}",
    "uav_dir": "uav/{data_seq/UAV123/<seq>/000001.jpg,anno/UAV123/<seq>.txt}",
    "nfs_dir": "nfs/{sequences/<seq>/00001.jpg,anno/nfs_<seq>.txt}",
    "tc128_dir": "tc128/<seq>/{img/0001.jpg,<seq>_gt.txt,<seq>_frames.txt}",
    "tnl2k_dir": "tnl2k/<seq>/{imgs/,groundtruth.txt}",
    "lasot_extension_dir": "lasot_extension/<class>/<class>-<id>/{img/00000001.jpg,groundtruth.txt,full_occlusion.txt,out_of_view.txt}",
    "avist_dir": "avist/{sequences/<seq>/img_00001.jpg,anno/<seq>.txt,full_occlusion/,out_of_view/}",
}


@dataclass
class LocalSettings:
    workspace_dir: str = "."  # where tensorboard logs go
    save_dir: str = "."  # checkpoints/, logs/ and test/ (results, plots) are created under it
    data_dir: str = "./data"  # parent of the dataset folders below (used for their defaults)
    got10k_dir: str = ""  # GOT-10k root (holds train/, val/, test/)
    got10k_lmdb_dir: str = ""
    lasot_dir: str = ""  # LaSOT root (holds <class>/<class>-<id>/)
    lasot_lmdb_dir: str = ""
    trackingnet_dir: str = ""  # TrackingNet root (holds TRAIN_0..TRAIN_11, TEST)
    trackingnet_lmdb_dir: str = ""
    coco_dir: str = ""  # COCO 2017 root (holds annotations/, images/)
    coco_lmdb_dir: str = ""
    # test-only benchmarks (tracking/test.py --dataset otb|uav123|nfs|tc128|tnl2k|lasot_extension|avist)
    otb_dir: str = ""
    uav_dir: str = ""
    nfs_dir: str = ""
    tc128_dir: str = ""
    tnl2k_dir: str = ""
    lasot_extension_dir: str = ""
    avist_dir: str = ""
    # parsed dataset annotations, memory-mapped by every rank and worker (default <save_dir>/checkpoints/index_cache)
    index_cache_dir: str = ""

    def __post_init__(self) -> None:
        if not self.index_cache_dir:
            # beside the checkpoints: dataset folders are often read-only
            self.index_cache_dir = str(Path(self.save_dir) / "checkpoints" / "index_cache")
        for f in dataclasses.fields(self):
            if f.name.endswith("_dir") and f.name not in ("workspace_dir", "save_dir", "data_dir", "index_cache_dir"):
                if not getattr(self, f.name):
                    setattr(self, f.name, str(Path(self.data_dir) / f.name[: -len("_dir")]))

    # -- derived output locations (the official layout under save_dir) --
    @property
    def checkpoints_dir(self) -> Path:
        return Path(self.save_dir) / "checkpoints" / "train"

    @property
    def logs_dir(self) -> Path:
        return Path(self.save_dir) / "logs"

    @property
    def results_dir(self) -> Path:
        return Path(self.save_dir) / "test" / "tracking_results"

    @property
    def result_plots_dir(self) -> Path:
        return Path(self.save_dir) / "test" / "result_plots"

    @property
    def tensorboard_dir(self) -> Path:
        return Path(self.workspace_dir) / "tensorboard"

    def dataset_root(self, key: str) -> Path:
        """The configured root for ``key`` (e.g. ``got10k_dir``); one-line error if it is missing."""
        root = Path(getattr(self, key))
        if not root.exists():
            raise ConfigError(
                f"dataset root {root} ({key}) does not exist; expected layout: {EXPECTED_LAYOUTS.get(key, '?')}. "
                f"Set it with tracking/create_default_local_file.py or --opts {key}=PATH"
            )
        return root


def find_local_file(explicit: Optional[str | Path] = None) -> Optional[Path]:
    """The settings file to use; a file the user names explicitly must exist (never a silent fallback)."""
    if explicit:
        if not Path(explicit).is_file():
            raise ConfigError(f"{explicit}: settings file not found")
        return Path(explicit)
    for candidate in (os.environ.get(LOCAL_FILE_ENV), Path.cwd() / LOCAL_FILE_NAME, PROJECT_ROOT / LOCAL_FILE_NAME):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


def load_local_settings(path: Optional[str | Path] = None, overrides: Iterable[str] = ()) -> LocalSettings:
    """Read the settings file (if any) and apply ``key=PATH`` overrides; unknown keys are errors."""
    values: dict = {}
    found = find_local_file(path)
    source = str(found.resolve()) if found else "defaults"
    if found:
        logger.info("settings: %s", source)
    else:
        logger.info(
            "settings: no %s (looked for $%s, ./%s, %s): defaults relative to %s",
            LOCAL_FILE_NAME, LOCAL_FILE_ENV, LOCAL_FILE_NAME, PROJECT_ROOT / LOCAL_FILE_NAME, Path.cwd(),
        )
    if found:
        try:
            data = yaml.safe_load(found.read_text()) or {}
        except yaml.YAMLError as err:
            raise ConfigError(f"{found}: not valid YAML ({str(err).splitlines()[0]})") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{found}: top level must be a mapping")
        values.update(data)
    for text in overrides:
        if "=" not in text:
            raise ConfigError(f"settings override '{text}': expected key=PATH")
        key, value = text.split("=", 1)
        values[key.strip()] = value
        source += f" + override {key.strip()}"
    valid = {f.name for f in dataclasses.fields(LocalSettings)}
    for key, value in values.items():
        if key not in valid:
            close = difflib.get_close_matches(key, valid, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"{source}: unknown settings key '{key}'{hint}")
        if not isinstance(value, str):
            raise ConfigError(f"{source}: settings key '{key}' must be a path string, got {value!r}")
    return LocalSettings(**values)


def split_overrides(opts: Iterable[str]) -> tuple[list[str], list[str]]:
    """Separate ``key=value`` strings into config overrides and settings overrides (``got10k_dir=PATH``).

    Every entry point takes both kinds through one ``--opts`` flag; a key that names a settings
    field (see :class:`LocalSettings`) is a path override, anything else goes to the config.
    """
    settings_keys = {f.name for f in dataclasses.fields(LocalSettings)}
    config_opts, settings_opts = [], []
    for text in opts:
        key = text.split("=", 1)[0].strip()
        (settings_opts if key in settings_keys else config_opts).append(text)
    return config_opts, settings_opts


def write_local_settings(path: Path, workspace_dir: str, data_dir: str, save_dir: str) -> LocalSettings:
    """Write a settings file with absolute paths; returns what was written."""
    from lib.utils.io import atomic_write_text

    settings = LocalSettings(
        workspace_dir=str(Path(workspace_dir).resolve()),
        save_dir=str(Path(save_dir).resolve()),
        data_dir=str(Path(data_dir).resolve()),
    )
    atomic_write_text(path, yaml.safe_dump(dataclasses.asdict(settings), sort_keys=False))
    return settings
