#!/usr/bin/env bash
# Creates the Python environment of the side-by-side harness: torch, ninja and the official
# SRU++ (sru==3.0.0.dev6, a pre-release, installed without its dependency pins).
#
#   bash benches/compare/setup.sh [VENV]        (default VENV: benches/compare/.venv)
#
# PyPI's torch wheel for Linux also pulls the CUDA libraries (several GB); where a CPU-only
# index is reachable, set TORCH_INDEX_URL to it. `import sru` JIT-compiles two small C++
# extensions on first use (needs a C++ compiler; ninja comes from the venv).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="${1:-$here/.venv}"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip
if [ -n "${TORCH_INDEX_URL:-}" ]; then
  "$venv/bin/pip" install --quiet torch --index-url "$TORCH_INDEX_URL"
else
  "$venv/bin/pip" install --quiet torch
fi
"$venv/bin/pip" install --quiet numpy ninja
"$venv/bin/pip" install --quiet --no-deps --pre sru==3.0.0.dev6
PATH="$venv/bin:$PATH" "$venv/bin/python" -c "import torch, sru; print('torch', torch.__version__, 'sru ok')"
echo "venv ready: $venv"
