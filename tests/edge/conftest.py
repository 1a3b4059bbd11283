"""Fixtures of the edge tests: a model cache holding Coral's files, set up the way a node
sets it up (``fetch-models --coral --from``, sha256-checked)."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.pose.coral import machine_arch
from edge.pose.models import fetch_models
from tests.edge.pose.coral_files import FIXTURES

FIXTURE_ARCH = "x86_64"  # the committed posenet_decoder.so


@pytest.fixture(scope="session")
def coral_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if machine_arch() != FIXTURE_ARCH:
        pytest.skip(f"the committed posenet_decoder.so is for {FIXTURE_ARCH}, not {machine_arch()}")
    cache = tmp_path_factory.mktemp("coral-models")
    fetch_models(cache, group="coral", arch=FIXTURE_ARCH, source_dir=FIXTURES)
    return cache
