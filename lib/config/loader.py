"""YAML <-> ``Config``: strict loading with inheritance, ``key=value`` overrides, and dumping.

Experiment files hold only the values that differ from the schema defaults. A file may name a parent
with ``_base_: other.yaml`` (a path relative to the file); the parent is applied first. Every key is
checked against the schema: an unknown key fails with the file, the dotted key and the closest valid
key; a value of the wrong type fails with the expected type. Numbers are coerced explicitly because
PyYAML reads ``1e-4`` as a string.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from pathlib import Path
from typing import Any, Iterable, Optional, Union

import yaml

from lib.config.schema import Config

PROJECT_ROOT = Path(__file__).resolve().parents[2]
EXPERIMENTS_DIR = PROJECT_ROOT / "experiments"
BASE_KEY = "_base_"


class ConfigError(ValueError):
    """A configuration file or override that does not fit the schema (one-line message)."""


# ----------------------------------------------------------------------------------------------
# value coercion


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is None:
        return getattr(tp, "__name__", str(tp))
    args = ", ".join(_type_name(a) for a in typing.get_args(tp))
    return f"{getattr(origin, '__name__', str(origin))}[{args}]"


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Return ``value`` converted to the annotated type ``tp`` or raise ``ConfigError``."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list of {_type_name(item_tp)}, got {value!r}")
        return [_coerce(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        key_tp, val_tp = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return {_coerce(k, key_tp, where): _coerce(v, val_tp, f"{where}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ConfigError(f"{where}: expected a bool (true/false), got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an int, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected an int, got {value!r}")
    if tp is float:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a float, got {value!r}")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)  # YAML 1.1 reads 1e-4 as a string
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a float, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    raise ConfigError(f"{where}: unsupported schema type {tp!r}")


# ----------------------------------------------------------------------------------------------
# merging a nested mapping into a dataclass


def _field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _unknown_key_error(source: str, dotted: str, valid: Iterable[str]) -> ConfigError:
    prefix = dotted.rsplit(".", 1)[0] + "." if "." in dotted else ""
    candidates = [prefix + v for v in valid]
    close = difflib.get_close_matches(dotted, candidates, n=1, cutoff=0.5)
    hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys here: {', '.join(sorted(candidates))}"
    return ConfigError(f"{source}: unknown config key '{dotted}'{hint}")


# keys that were replaced: an old file gets one line naming the new key instead of "unknown key"
_RENAMED = {
    "train.stage": "'train.stage' was replaced by 'train.objective' (stage 1 -> box, stage 2 -> score)",
    "train.train_cls": "'train.train_cls' was replaced by 'train.objective' (train_cls true -> score)",
}


def _merge_into(obj: Any, mapping: dict, source: str, prefix: str = "") -> None:
    if not isinstance(mapping, dict):
        raise ConfigError(f"{source}: '{prefix.rstrip('.') or '<top>'}' must be a mapping, got {mapping!r}")
    hints = _field_types(type(obj))
    for key, value in mapping.items():
        dotted = f"{prefix}{key}"
        if dotted in _RENAMED:
            raise ConfigError(f"{source}: {_RENAMED[dotted]}")
        if not isinstance(key, str) or key not in hints:
            raise _unknown_key_error(source, dotted, hints.keys())
        tp = hints[key]
        current = getattr(obj, key)
        if dataclasses.is_dataclass(current):
            _merge_into(current, value, source, dotted + ".")
        else:
            setattr(obj, key, _coerce(value, tp, f"{source}: '{dotted}'"))


# ----------------------------------------------------------------------------------------------
# public API


def _inheritance_chain(path: Path, seen: Optional[set] = None) -> list[tuple[Path, dict]]:
    seen = set() if seen is None else seen
    path = path.resolve()
    if path in seen:
        raise ConfigError(f"{path}: '_base_' inheritance loops back to this file")
    seen.add(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    base = data.pop(BASE_KEY, None)
    chain: list[tuple[Path, dict]] = []
    if base is not None:
        if not isinstance(base, str):
            raise ConfigError(f"{path}: '_base_' must be a file path string")
        chain.extend(_inheritance_chain(path.parent / base, seen))
    chain.append((path, data))
    return chain


def config_from_dict(mapping: dict, source: str = "<dict>") -> Config:
    """Build a ``Config`` from a (possibly partial) nested mapping, checking every key and type."""
    cfg = Config()
    _merge_into(cfg, mapping, source)
    validate(cfg, source)
    return cfg


def parse_override(text: str) -> tuple[str, Any]:
    """Split ``a.b.c=value`` into the dotted key and its YAML-parsed value."""
    if "=" not in text:
        raise ConfigError(f"override '{text}': expected key=value (e.g. train.lr=1e-4)")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise ConfigError(f"override '{text}': empty key")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key, value


def apply_overrides(cfg: Config, overrides: Iterable[str], source: str = "command line") -> Config:
    """Apply ``key=value`` strings to ``cfg`` in place with the same checks as files; returns ``cfg``."""
    for text in overrides:
        key, value = parse_override(text)
        nested: Any = value
        for part in reversed(key.split(".")):
            nested = {part: nested}
        _merge_into(cfg, nested, source)
    validate(cfg, source)
    return cfg


def load_config_file(path: str | Path, overrides: Iterable[str] = ()) -> Config:
    """Load one experiment YAML (with its ``_base_`` chain) and apply overrides."""
    path = Path(path)
    chain = _inheritance_chain(path)
    cfg = Config()
    for file_path, data in chain:
        _merge_into(cfg, data, str(file_path))
    validate(cfg, str(path))
    return apply_overrides(cfg, overrides)


def experiment_path(script: str, name: str) -> Path:
    """``experiments/<script>/<name>.yaml``, with a clear error listing what exists."""
    script_dir = EXPERIMENTS_DIR / script
    if not script_dir.is_dir():
        scripts = sorted(p.name for p in EXPERIMENTS_DIR.iterdir() if p.is_dir())
        raise ConfigError(f"unknown script '{script}'; valid scripts: {', '.join(scripts)}")
    path = script_dir / f"{name}.yaml"
    if not path.is_file():
        names = sorted(p.stem for p in script_dir.glob("*.yaml"))
        raise ConfigError(f"{path}: no such experiment; configs for '{script}': {', '.join(names)}")
    return path


def load_config(script: str, name: str, overrides: Iterable[str] = ()) -> Config:
    """Load ``experiments/<script>/<name>.yaml`` (the official ``--script/--config`` pair)."""
    return load_config_file(experiment_path(script, name), overrides)


def config_to_dict(cfg: Config) -> dict:
    return dataclasses.asdict(cfg)


def dump_config(cfg: Config) -> str:
    """The resolved config as YAML text that ``config_from_dict(yaml.safe_load(text))`` reads back equal."""
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False, default_flow_style=None)


def save_config(cfg: Config, path: str | Path) -> None:
    from lib.utils.io import atomic_write_text

    atomic_write_text(Path(path), dump_config(cfg))


# ----------------------------------------------------------------------------------------------
# cross-field checks


_CHOICES = {
    "model.head_type": ("corner", "mlp"),
    "model.position_embedding": ("sine", "none"),
    "model.query_source": ("learned", "template"),
    "model.backbone.type": ("resnet18", "resnet34", "resnet50", "resnet101"),
    "data.sampler_mode": ("causal", "trident", "trident_pro"),
    "data.absent_negative_box": ("centre", "last_seen"),
    "train.amp": ("none", "bf16", "fp16"),
    "train.optimizer": ("adamw",),
    "train.scheduler.type": ("step", "cosine"),
}


# value ranges: key -> (lowest, highest) allowed, None = unbounded; ``_POSITIVE`` keys must also be > 0.
# Every float anywhere in the config must be finite on top of these.
_RANGES = {
    "model.hidden_dim": (1, None),
    "model.transformer.nheads": (1, None),
    "model.transformer.dim_feedforward": (1, None),
    "model.transformer.dropout": (0, 1),
    "model.backbone.stride": (1, None),
    "model.num_object_queries": (1, None),
    "model.nlayer_head": (1, None),
    "model.head_dim": (8, None),  # the corner head halves it three times
    "train.lr": (0, None),
    "train.weight_decay": (0, None),
    "train.epoch": (1, None),
    "train.lr_drop_epoch": (1, None),
    "train.batch_size": (1, None),
    "train.num_worker": (0, None),
    "train.backbone_multiplier": (0, None),
    "train.giou_weight": (0, None),
    "train.l1_weight": (0, None),
    "train.cls_weight": (0, None),
    "train.print_interval": (0, None),
    "train.val_epoch_interval": (0, None),
    "train.grad_clip_norm": (0, None),
    "train.grad_accum_steps": (1, None),
    "train.max_minutes": (0, None),
    "train.budget_lr_drop": (0, 1),
    "train.scheduler.decay_rate": (0, None),
    "train.checkpoint.keep_last": (1, None),
    "train.checkpoint.keep_every": (0, None),
    "data.train.sample_per_epoch": (1, None),
    "data.val.sample_per_epoch": (0, None),
    "data.max_redraws": (0, None),
    "data.grayscale_prob": (0, 1),
    "data.brightness_jitter": (0, 1),
    "data.coco_min_size": (0, None),
    "data.template.size": (1, None),
    "data.template.factor": (0, None),
    "data.template.center_jitter": (0, None),
    "data.template.scale_jitter": (0, None),
    "data.search.size": (1, None),
    "data.search.factor": (0, None),
    "data.search.center_jitter": (0, None),
    "data.search.scale_jitter": (0, None),
    "test.template_factor": (0, None),
    "test.template_size": (1, None),
    "test.search_factor": (0, None),
    "test.search_size": (1, None),
    "test.epoch": (0, None),
    "test.score_threshold": (0, 1),
}
_POSITIVE = {
    "train.lr",
    "train.scheduler.decay_rate",
    "data.template.factor",
    "data.search.factor",
    "test.template_factor",
    "test.search_factor",
}
# list-valued keys: the rule every entry must follow, as a test and as words
_LIST_RULES = {
    "data.train.datasets_ratio": (lambda v: min(v, default=0) >= 0 and any(v), ">= 0, not all 0"),
    "data.val.datasets_ratio": (lambda v: min(v, default=0) >= 0 and (any(v) or not v), ">= 0, not all 0"),
    "data.max_sample_interval": (lambda v: min(v, default=1) >= 1, ">= 1"),
    "data.std": (lambda v: min(v, default=1) > 0, "> 0"),
}


def _non_finite(obj: Any, prefix: str = "") -> Optional[tuple[str, Any]]:
    """``(dotted key, value)`` of the first NaN / infinite float in ``obj`` (a config dataclass), or None."""
    items = (
        ((f.name, getattr(obj, f.name)) for f in dataclasses.fields(obj))
        if dataclasses.is_dataclass(obj)
        else obj.items()
    )
    for name, value in items:
        dotted = f"{prefix}{name}"
        values = value if isinstance(value, list) else [value]
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            return dotted, value
        if dataclasses.is_dataclass(value) or isinstance(value, dict):
            found = _non_finite(value, dotted + ".")
            if found:
                return found
    return None


def _check_ranges(cfg: Config, source: str) -> None:
    bad = _non_finite(cfg)
    if bad:
        raise ConfigError(f"{source}: '{bad[0]}' is {bad[1]!r}; it must be a finite number")
    for dotted, (low, high) in _RANGES.items():
        value = _get(cfg, dotted)
        too_low = value < low or (dotted in _POSITIVE and value <= low)
        if too_low or (high is not None and value > high):
            bound = f"> {low}" if dotted in _POSITIVE else f">= {low}"
            wanted = bound if high is None else f"between {low} and {high}"
            raise ConfigError(f"{source}: '{dotted}' is {value!r}; it must be {wanted}")
    for dotted, (rule, words) in _LIST_RULES.items():
        values = _get(cfg, dotted)
        if not rule(values):
            raise ConfigError(f"{source}: '{dotted}' is {values!r}; every entry must be {words}")


def _get(cfg: Config, dotted: str) -> Any:
    obj: Any = cfg
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def validate(cfg: Config, source: str) -> None:
    """Checks that involve values rather than keys; raises ``ConfigError``."""
    _check_ranges(cfg, source)
    for dotted, choices in _CHOICES.items():
        value = _get(cfg, dotted)
        if value not in choices:
            raise ConfigError(f"{source}: '{dotted}' is {value!r}; choose one of {', '.join(choices)}")
    for mix_name in ("train", "val"):
        mix = getattr(cfg.data, mix_name)
        if len(mix.datasets_name) != len(mix.datasets_ratio):
            raise ConfigError(
                f"{source}: 'data.{mix_name}.datasets_name' has {len(mix.datasets_name)} entries but "
                f"'data.{mix_name}.datasets_ratio' has {len(mix.datasets_ratio)}"
            )
    if cfg.model.backbone.output_layers != ["layer3"]:
        raise ConfigError(f"{source}: 'model.backbone.output_layers' must be ['layer3'] (STARK truncates there)")
    for flag in ("model.predict_mask", "model.backbone.dilation", "train.deep_supervision"):
        if _get(cfg, flag):
            raise ConfigError(f"{source}: '{flag}' is an official option that STARK never enables; not supported")
    if cfg.model.transformer.enc_layers < 0 or cfg.model.transformer.dec_layers < 0:
        raise ConfigError(f"{source}: encoder/decoder layer counts must be >= 0")
    if cfg.model.hidden_dim % cfg.model.transformer.nheads:
        raise ConfigError(f"{source}: 'model.hidden_dim' must be divisible by 'model.transformer.nheads'")
    if cfg.train.grad_accum_steps < 1:
        raise ConfigError(f"{source}: 'train.grad_accum_steps' must be >= 1")
    if cfg.data.template.number < 1 or cfg.data.search.number != 1:
        raise ConfigError(f"{source}: need data.template.number >= 1 and data.search.number == 1")
    _validate_objective_and_variant(cfg, source)


def _validate_objective_and_variant(cfg: Config, source: str) -> None:
    """The training objective against the network it trains, and the Table 7 variants' needs."""
    from lib.models.build import planned_modules
    from lib.train.objectives import OBJECTIVES

    m, t = cfg.model, cfg.train
    if t.objective not in OBJECTIVES:
        raise ConfigError(f"{source}: 'train.objective' is {t.objective!r}; choose one of {', '.join(OBJECTIVES)}")
    if "score" in OBJECTIVES[t.objective].heads and not m.score_head:
        raise ConfigError(
            f"{source}: 'train.objective' {t.objective} needs the score head but 'model.score_head' is false"
        )
    if t.objective == "hungarian" and m.query_source != "learned":
        raise ConfigError(
            f"{source}: 'train.objective' hungarian matches learned queries; set model.query_source=learned"
        )
    if (m.query_source != "learned" or m.query_update) and m.transformer.dec_layers == 0:
        raise ConfigError(f"{source}: 'model.query_source'/'model.query_update' need a decoder (dec_layers > 0)")
    if m.query_update:
        if m.query_source != "learned":
            raise ConfigError(f"{source}: 'model.query_update' updates a learned query; set model.query_source=learned")
        if cfg.data.template.number != 2:
            raise ConfigError(
                f"{source}: 'model.query_update' trains on (template, previous frame) pairs: "
                f"'data.template.number' must be 2, got {cfg.data.template.number}"
            )
    modules = planned_modules(cfg)
    unknown = [name for name in t.freeze_modules if name not in modules]
    if unknown:
        raise ConfigError(
            f"{source}: 'train.freeze_modules' names {', '.join(unknown)}, which this network lacks; "
            f"its modules: {', '.join(modules)}"
        )
