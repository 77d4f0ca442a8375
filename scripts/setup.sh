#!/usr/bin/env bash
# Create .venv with a Python >= 3.12 found on this machine and install the locked dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."

find_python() {
  local candidates=("${PYTHON:-}" python3.13 python3.12 python3.14 python3)
  local pyenv_root="${PYENV_ROOT:-$HOME/.pyenv}"
  for v in 3.13 3.12 3.14; do
    for p in "$pyenv_root"/versions/"$v"*/bin/python3; do [ -x "$p" ] && candidates+=("$p"); done
  done
  for c in "${candidates[@]}"; do
    [ -n "$c" ] || continue
    local exe
    exe=$(command -v "$c" 2>/dev/null) || continue
    if "$exe" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      echo "$exe"; return 0
    fi
  done
  return 1
}

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
  py=$(find_python) || { echo "error: no Python 3.12 or newer found (set PYTHON=/path/to/python3.12)" >&2; exit 1; }
  echo "==> creating .venv with $py ($("$py" --version))"
  rm -rf .venv
  "$py" -m venv .venv
fi

UV_VERSION=$(sed -n 's/^ *"uv==\([0-9.]*\)".*/\1/p' pyproject.toml)
if ! .venv/bin/python -m uv --version 2>/dev/null | grep -q "$UV_VERSION"; then
  echo "==> installing uv $UV_VERSION"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION" 2>&1 \
    | grep -v "is ignored: it is neither a file nor a directory" || true
  .venv/bin/python -m uv --version >/dev/null || { echo "error: could not install uv" >&2; exit 1; }
fi
echo "==> installing locked dependencies (uv.lock)"
UV_PROJECT_ENVIRONMENT=.venv UV_PYTHON_DOWNLOADS=never .venv/bin/python -m uv sync --frozen --inexact --quiet --python .venv/bin/python
