#!/usr/bin/env bash
# Wheels for scripts/device_check.sh, fetched where there is internet: the project itself and the
# pure-Python dependencies a bare GPU machine (PyTorch, Lightning, timm, scikit-learn) lacks for a
# run: Hydra, OmegaConf and ANTLR's runtime (Optuna and W&B are imported only when used).
#   scripts/fetch_device_wheels.sh [DIR]     # default scripts/device_wheels (git-ignored, < 1 MB)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIR="${1:-$HERE/device_wheels}"
PY="${PY:-python3}"
mkdir -p "$DIR"
"$PY" -m pip wheel --no-deps --wheel-dir "$DIR" "hydra-core>=1.3.2,<1.4" "omegaconf>=2.3,<2.4" \
  "antlr4-python3-runtime==4.9.*"
"$PY" -m pip wheel --no-deps --wheel-dir "$DIR" "$(dirname "$HERE")"
du -sh "$DIR"
ls "$DIR"
