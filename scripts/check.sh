#!/usr/bin/env bash
# Lint and type-check: the same command locally and in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff format --check .
.venv/bin/ruff check .
.venv/bin/mypy
