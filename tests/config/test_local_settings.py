from pathlib import Path

import pytest
import yaml

from lib.config import ConfigError, load_local_settings, write_local_settings


def test_written_file_round_trips_with_absolute_paths(tmp_path: Path):
    out = tmp_path / "stark_local.yaml"
    written = write_local_settings(out, str(tmp_path), str(tmp_path / "data"), str(tmp_path / "save"))
    loaded = load_local_settings(out)
    assert loaded == written
    assert Path(loaded.got10k_dir) == (tmp_path / "data" / "got10k").resolve()
    assert loaded.checkpoints_dir == (tmp_path / "save").resolve() / "checkpoints" / "train"


def test_override_and_unknown_key(tmp_path: Path):
    out = tmp_path / "s.yaml"
    out.write_text(yaml.safe_dump({"data_dir": str(tmp_path)}))
    settings = load_local_settings(out, [f"lasot_dir={tmp_path / 'L'}"])
    assert settings.lasot_dir == str(tmp_path / "L") and settings.got10k_dir == str(tmp_path / "got10k")
    out.write_text("lasot_path: /x\n")
    with pytest.raises(ConfigError, match="unknown settings key 'lasot_path'; did you mean 'lasot_dir'"):
        load_local_settings(out)


def test_missing_root_names_path_and_layout(tmp_path: Path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    settings = load_local_settings(empty, [f"data_dir={tmp_path}"])
    with pytest.raises(ConfigError) as err:
        settings.dataset_root("got10k_dir")
    assert str(tmp_path / "got10k") in str(err.value) and "list.txt" in str(err.value)


def test_an_explicit_settings_file_must_exist_and_parse(tmp_path: Path, monkeypatch):
    fallback = tmp_path / "stark_local.yaml"
    fallback.write_text(yaml.safe_dump({"data_dir": str(tmp_path)}))
    monkeypatch.chdir(tmp_path)  # a usable file in the working directory must not stand in for a typo
    with pytest.raises(ConfigError, match="typo.yaml: settings file not found"):
        load_local_settings(tmp_path / "typo.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("data_dir: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: not valid YAML"):
        load_local_settings(broken)
