#!/usr/bin/env bash
# Create .venv and install dancebooth with the given extra (default: dev).
# Idempotent: a second run with an unchanged pyproject.toml installs nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
extra="${1:-dev}"

python="${PYTHON:-}"
if [ -z "$python" ]; then
  for candidate in python3.11 python3.12 python3.13 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      python="$candidate"; break
    fi
  done
fi
[ -n "$python" ] || { echo "setup: Python 3.11 or newer is required" >&2; exit 1; }

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv with $($python --version)"
  "$python" -m venv .venv
fi

stamp=".venv/.dancebooth-$extra"
want="$(cat pyproject.toml scripts/setup.sh | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "setup: .venv is up to date ($extra)"
else
  echo "setup: installing dancebooth[$extra] into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip setuptools wheel
  # torch first, pinned, so nothing resolves a different (multi-GB CUDA) build.
  if [ "$extra" != "edge" ]; then
    .venv/bin/python -m pip install --quiet "torch==2.13.0"
  fi
  .venv/bin/python -m pip install --quiet -e ".[$extra]"
  echo "$want" > "$stamp"
fi
# Pose models from the mediapipe wheel: idempotent (verifies and returns when cached).
.venv/bin/python -m dancebooth edge fetch-models
# The node's compiled keypoint kernels (numba): compiled once here and cached, so no
# test or demo process waits for the compiler.
.venv/bin/python -c "from edge.smoothing import warm_up; warm_up()"
