#!/usr/bin/env bash
# Create .venv in the repository root and install snnlang with every extra.
#
#   bash scripts/install.sh            # uses python3.11 (override: PYTHON=/path/to/python3.11)
#
# Use pip (not uv/poetry): the machine's pip configuration supplies the CPU-only
# torch wheel; other resolvers would download a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"

"$PYTHON" -m venv .venv
.venv/bin/pip install -e ".[all]"
# lava-nc declares Requires-Python <3.11 (and numpy<2), so no resolver can install it
# here: install it alone, without its dependencies. snnlang/_lava_shim.py makes it
# import on Python 3.11. Never use --ignore-requires-python for the main resolve above.
.venv/bin/pip install --no-deps --ignore-requires-python lava-nc==0.10.0
