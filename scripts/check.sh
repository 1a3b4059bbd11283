#!/usr/bin/env bash
# Lint, type-check and check the import rules: the same command locally and in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff format --check .
.venv/bin/ruff check .
.venv/bin/mypy
.venv/bin/lint-imports
