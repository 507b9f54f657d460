import subprocess
import sys
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


def test_every_load_names_the_settings_file_it_used(tmp_path: Path, monkeypatch, caplog):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("STARK_LOCAL_FILE", raising=False)
    caplog.set_level("INFO", logger="lib.config.local")
    own = tmp_path / "stark_local.yaml"
    own.write_text(yaml.safe_dump({"data_dir": str(tmp_path)}))
    load_local_settings()
    assert f"settings: {own.resolve()}" in caplog.text


def test_default_settings_file_goes_to_the_workspace_folder(tmp_path: Path):
    workspace = tmp_path / "run_a"
    script = Path(__file__).resolve().parents[2] / "tracking" / "create_default_local_file.py"
    args = ["--workspace_dir", str(workspace), "--data_dir", str(tmp_path / "data"), "--save_dir", str(workspace)]
    done = subprocess.run([sys.executable, str(script), *args], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    written = yaml.safe_load((workspace / "stark_local.yaml").read_text())
    assert written["save_dir"] == str(workspace.resolve())
    assert not (tmp_path / "stark_local.yaml").exists()
