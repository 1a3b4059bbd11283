"""Infra fixtures: the throwaway PostgreSQL database of the cloud tests."""

from tests.cloud.conftest import postgres_server

__all__ = ["postgres_server"]
