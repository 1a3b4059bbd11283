"""The booth's HTTP API and web UI (FastAPI): kiosk, operator dashboard, events."""

from cloud.api.app import create_app

__all__ = ["create_app"]
