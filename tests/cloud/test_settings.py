"""Cloud settings from the environment, as containers and systemd units set them."""

from __future__ import annotations

import pytest

from cloud.settings import CloudSettings
from protocol.settings import ConfigError, load_settings


def test_training_resolution_from_an_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DANCEBOOTH_CLOUD_TRAINING__RESOLUTION", "256")
    assert load_settings(CloudSettings).training.resolution == 256
    monkeypatch.setenv("DANCEBOOTH_CLOUD_TRAINING__RESOLUTION", "200")
    with pytest.raises(ConfigError, match=r"training\.resolution"):
        load_settings(CloudSettings)
