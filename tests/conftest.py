"""Shared fixtures. Service fixtures live in tests/services.py."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.services import Mosquitto, run_mosquitto


@pytest.fixture
def mosquitto() -> Iterator[Mosquitto]:
    """A private, anonymous Mosquitto on a free port with the project's config."""
    with run_mosquitto() as broker:
        yield broker
