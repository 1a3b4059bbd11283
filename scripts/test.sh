#!/usr/bin/env bash
# The README's second command: set everything up, then lint, type-check and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh dev
scripts/system-deps.sh
scripts/check.sh
.venv/bin/python -m pytest "$@"
