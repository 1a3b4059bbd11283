"""Fixtures for training tests: small sessions drawn by the stand-in dancer."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.training.config import Pix2PixConfig
from tests.cloud.training.dancer import write_session

TINY = Pix2PixConfig(ngf=8, ndf=8, max_channels=32)


@pytest.fixture
def session_shard(tmp_path: Path) -> Path:
    return write_session(tmp_path / "store", "visitor1", frames=20)


@pytest.fixture
def tiny_config() -> Pix2PixConfig:
    return TINY
