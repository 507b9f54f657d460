import dataclasses
from pathlib import Path

import pytest
import yaml

from lib.config import (
    EXPERIMENTS_DIR,
    Config,
    ConfigError,
    apply_overrides,
    config_from_dict,
    dump_config,
    load_config,
    load_config_file,
)

SHIPPED = sorted(EXPERIMENTS_DIR.glob("*/*.yaml"))
OFFICIAL = {
    "stark_s": ["baseline", "baseline_got10k_only"],
    "stark_st1": ["baseline", "baseline_R101", "baseline_got10k_only", "baseline_R101_got10k_only"],
    "stark_st2": ["baseline", "baseline_R101", "baseline_got10k_only", "baseline_R101_got10k_only"],
}


def test_official_experiment_set_is_shipped():
    for script, names in OFFICIAL.items():
        for name in names:
            assert (EXPERIMENTS_DIR / script / f"{name}.yaml").is_file(), (script, name)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_shipped_yaml_loads_and_round_trips(path):
    cfg = load_config_file(path)
    again = config_from_dict(yaml.safe_load(dump_config(cfg)))
    assert again == cfg


def test_defaults_are_the_official_values():
    cfg = Config()
    assert cfg.train.lr == 1e-4 and cfg.train.weight_decay == 1e-4
    assert (cfg.train.epoch, cfg.train.lr_drop_epoch, cfg.train.batch_size) == (500, 400, 16)
    assert (cfg.train.giou_weight, cfg.train.l1_weight, cfg.train.grad_clip_norm) == (2.0, 5.0, 0.1)
    assert cfg.model.transformer.enc_layers == 6 and cfg.model.transformer.dim_feedforward == 2048
    assert (cfg.data.search.size, cfg.data.search.factor, cfg.data.search.center_jitter) == (320, 5.0, 4.5)
    assert (cfg.data.template.size, cfg.data.template.factor, cfg.data.template.scale_jitter) == (128, 2.0, 0.0)
    assert cfg.data.train.sample_per_epoch == 60000 and cfg.data.val.datasets_name == ["GOT10K_votval"]


def test_official_variants_resolve_to_official_values():
    s50 = load_config("stark_s", "baseline")
    assert s50.data.train.datasets_name == ["LASOT", "GOT10K_vottrain", "COCO17", "TRACKINGNET"]
    assert s50.data.sampler_mode == "causal" and s50.data.template.number == 1 and not s50.model.score_head

    st1 = load_config("stark_st1", "baseline_R101_got10k_only")
    assert st1.model.backbone.type == "resnet101"
    assert st1.data.train.datasets_name == ["GOT10K_train_full"]
    assert st1.data.sampler_mode == "trident_pro" and st1.data.template.number == 2 and st1.train.objective == "box"

    st2 = load_config("stark_st2", "baseline")
    assert st2.train.objective == "score" and st2.model.score_head
    assert (st2.train.epoch, st2.train.lr_drop_epoch, st2.train.val_epoch_interval, st2.test.epoch) == (50, 40, 10, 50)
    assert st2.test.update_intervals["TRACKINGNET"] == [25] and st2.test.update_intervals["VOT20"] == [10]

    r101 = load_config("stark_st2", "baseline_R101")
    assert r101.test.update_intervals["VOT20LT"] == [100] and r101.test.update_intervals["TRACKINGNET"] == [25]
    got = load_config("stark_st2", "baseline_got10k_only")
    assert all(v == [200] for v in got.test.update_intervals.values())


def test_inheritance_child_overrides_parent(tmp_path: Path):
    (tmp_path / "parent.yaml").write_text("train:\n  lr: 2.0e-4\n  epoch: 10\n")
    (tmp_path / "child.yaml").write_text("_base_: parent.yaml\ntrain:\n  epoch: 20\n")
    cfg = load_config_file(tmp_path / "child.yaml")
    assert cfg.train.lr == 2e-4 and cfg.train.epoch == 20


def test_yaml_scientific_notation_string_is_coerced(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("train:\n  lr: 1e-4\n  weight_decay: 3e-5\n")
    cfg = load_config_file(tmp_path / "a.yaml")
    assert isinstance(cfg.train.lr, float) and cfg.train.lr == 1e-4 and cfg.train.weight_decay == 3e-5


def test_unknown_key_names_file_key_and_closest(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("train:\n  learning_rate: 0.1\n")
    with pytest.raises(ConfigError) as err:
        load_config_file(path)
    message = str(err.value)
    assert str(path) in message and "train.learning_rate" in message and "\n" not in message


def test_misspelt_key_suggests_the_right_one(tmp_path: Path):
    path = tmp_path / "typo.yaml"
    path.write_text("model:\n  transformer:\n    enc_layer: 2\n")
    with pytest.raises(
        ConfigError, match=r"model\.transformer\.enc_layer'; did you mean 'model\.transformer\.enc_layers'"
    ):
        load_config_file(path)


def test_wrong_type_is_an_error(tmp_path: Path):
    path = tmp_path / "type.yaml"
    path.write_text("train:\n  epoch: many\n")
    with pytest.raises(ConfigError, match=r"type\.yaml: 'train\.epoch': expected an int, got 'many'"):
        load_config_file(path)
    path.write_text("model:\n  score_head: 3\n")
    with pytest.raises(ConfigError, match="expected a bool"):
        load_config_file(path)


def test_bad_choice_is_an_error():
    with pytest.raises(ConfigError, match="model.head_type"):
        apply_overrides(Config(), ["model.head_type=corners"])


def test_command_line_overrides_with_the_same_checks():
    cfg = load_config(
        "stark_st1",
        "baseline",
        [
            "train.lr=5e-5",
            "model.transformer.enc_layers=0",
            "data.train.datasets_name=[GOT10K_vottrain]",
            "data.train.datasets_ratio=[1]",
        ],
    )
    assert cfg.train.lr == 5e-5 and cfg.model.transformer.enc_layers == 0
    assert cfg.data.train.datasets_name == ["GOT10K_vottrain"]
    with pytest.raises(ConfigError, match="command line: unknown config key 'train.lrr'"):
        apply_overrides(Config(), ["train.lrr=1"])
    with pytest.raises(ConfigError, match="expected key=value"):
        apply_overrides(Config(), ["train.lr"])


def test_dump_reload_keeps_every_field():
    cfg = load_config("stark_st2", "baseline_R101", ["train.amp=bf16", "train.init_from=/x/y.pth.tar"])
    reloaded = config_from_dict(yaml.safe_load(dump_config(cfg)))
    assert dataclasses.asdict(reloaded) == dataclasses.asdict(cfg)


def test_unknown_script_and_experiment_list_the_valid_ones():
    with pytest.raises(ConfigError, match="valid scripts: .*stark_st2"):
        load_config("stark_xx", "baseline")
    with pytest.raises(ConfigError, match="configs for 'stark_s': .*baseline_got10k_only"):
        load_config("stark_s", "nope")
