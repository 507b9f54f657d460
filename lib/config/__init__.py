"""Typed configuration: the schema, strict YAML loading, overrides and per-user paths."""

from lib.config.loader import (
    EXPERIMENTS_DIR,
    PROJECT_ROOT,
    ConfigError,
    apply_overrides,
    config_from_dict,
    config_to_dict,
    dump_config,
    experiment_path,
    load_config,
    load_config_file,
    save_config,
)
from lib.config.local import LocalSettings, load_local_settings, split_overrides, write_local_settings
from lib.config.schema import Config

__all__ = [
    "EXPERIMENTS_DIR",
    "PROJECT_ROOT",
    "Config",
    "ConfigError",
    "LocalSettings",
    "apply_overrides",
    "config_from_dict",
    "config_to_dict",
    "dump_config",
    "experiment_path",
    "load_config",
    "load_config_file",
    "load_local_settings",
    "save_config",
    "split_overrides",
    "write_local_settings",
]
