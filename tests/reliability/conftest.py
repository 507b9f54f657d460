"""The generated data set and settings of the training tests, and the prepared workspace of the matrix."""

import pytest

from tests.reliability.workspace import build_template
from tests.train.conftest import got10k_root, settings, settings_file  # noqa: F401


@pytest.fixture(scope="session")
def template(tmp_path_factory):
    """A workspace after a first run of every tool (see bad_inputs.yaml); copy it before changing it."""
    work = tmp_path_factory.mktemp("template") / "work"
    work.mkdir()
    build_template(work)
    return work
