"""The generated data set and settings of the training tests, shared here."""

from tests.train.conftest import got10k_root, settings, settings_file  # noqa: F401
