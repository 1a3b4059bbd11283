"""Composition root: the ``dancebooth`` command and the demo wiring. No domain logic."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("dancebooth")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0+src"
