#!/usr/bin/env bash
# The README's first command: set everything up, then run the whole booth on this machine.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh cloud
exec .venv/bin/dancebooth demo "$@"
