#!/usr/bin/env bash
# GPU check of the fast path on real CIFAR-10, for a bare machine with one NVIDIA GPU, PyTorch,
# Lightning, timm and scikit-learn but no Hydra/OmegaConf (nor Optuna/W&B) and no internet.
#
#   scripts/fetch_device_wheels.sh          # here, with internet: wheels into scripts/device_wheels/
#   scripts/device_check.sh [--archive PATH] [--wheels DIR] [--out DIR]    # there, ~8 min on one H100
#   scripts/device_check.sh --dry-run       # anywhere: the same steps, tiny, on the CPU (a test runs it)
#
# Steps: install the project and its missing pure-Python dependencies from the wheels (offline),
# unpack the CIFAR-10 JPEG archive, run `python -m unlearn_bench.bench --device cuda`, measure the
# data path and ResNet18 (CIFAR stem) training images/s in bf16 + channels_last on real CIFAR-10
# (`python -m unlearn_bench.bench.data`), train a short-recipe ResNet18 original and gold model and
# run SSD and the baselines on them (class forgetting, airplane), printing each method's table.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
PY="${PY:-python}"
ARCHIVE="${ARCHIVE:-}"
WHEELS="${WHEELS:-$HERE/device_wheels}"
OUT="${OUT:-${TMPDIR:-/tmp}/unlearn_bench_device_check}"
METHODS="${METHODS:-baseline,ssd,finetune,bad_teacher,amnesiac,unsir}"
EPOCHS="${EPOCHS:-8}"
DRY=0

while [ $# -gt 0 ]; do
  case "$1" in
    --dry-run) DRY=1 ;;
    --archive) ARCHIVE="$2"; shift ;;
    --wheels) WHEELS="$2"; shift ;;
    --out) OUT="$2"; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "device_check.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

step() { printf '\n=== %s (%ds)\n' "$1" "$SECONDS"; }
mkdir -p "$OUT"
DATA="$OUT/data"

step "environment"
if [ "$DRY" = 1 ]; then
  DEVICE=cpu
  export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
else
  DEVICE=cuda
fi
"$PY" - <<'PYEOF'
import importlib.util, sys
missing = [m for m in ("torch", "torchvision", "lightning", "timm", "sklearn", "PIL") if importlib.util.find_spec(m) is None]
if missing:
    sys.exit(f"device_check.sh: this machine lacks {', '.join(missing)}; install them first.")
import torch
print("torch", torch.__version__, "cuda", torch.cuda.is_available(),
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
PYEOF
if [ "$DEVICE" = cuda ]; then
  "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'device_check.sh: no CUDA device; use --dry-run on a CPU machine.')"
fi

step "install (offline, from $WHEELS)"
if "$PY" -c "import hydra, omegaconf, unlearn_bench" 2>/dev/null; then
  echo "hydra, omegaconf and unlearn_bench already importable; nothing to install"
elif [ -d "$WHEELS" ]; then
  "$PY" -m pip install --no-index --no-deps --find-links "$WHEELS" \
    antlr4-python3-runtime omegaconf hydra-core unlearn-bench
else
  echo "device_check.sh: $WHEELS does not exist: run scripts/fetch_device_wheels.sh where there is internet." >&2
  exit 2
fi

step "data"
if [ "$DRY" = 1 ]; then
  "$PY" - "$DATA" <<'PYEOF'
import sys
from pathlib import Path
import numpy as np
from PIL import Image
classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
rng = np.random.default_rng(0)
for split, count in (("train", 24), ("test", 6)):
    for label, name in enumerate(classes):
        folder = Path(sys.argv[1]) / "cifar10" / split / name
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = np.clip(label * 22 + rng.integers(-30, 31, (32, 32, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i:04d}.jpg")
print("tiny CIFAR-10-shaped tree written")
PYEOF
else
  if [ -z "$ARCHIVE" ]; then
    for candidate in "$REPO/shared/data/cifar10-jpeg.tar.gz" "$REPO/../shared/data/cifar10-jpeg.tar.gz" "$HERE/cifar10-jpeg.tar.gz"; do
      [ -f "$candidate" ] && ARCHIVE="$candidate" && break
    done
  fi
  if [ -z "$ARCHIVE" ] || [ ! -f "$ARCHIVE" ]; then
    echo "device_check.sh: no CIFAR-10 archive found; pass --archive PATH/cifar10-jpeg.tar.gz." >&2
    exit 2
  fi
  mkdir -p "$DATA"
  [ -d "$DATA/cifar10/train" ] || tar -xzf "$ARCHIVE" -C "$DATA"
fi

if [ "$DRY" = 1 ]; then
  IMP_ARGS=(--device cpu --repeats 1 --train-samples 192 --width 4 --retrain-epochs 1 --out "$OUT/bench")
  DATA_ARGS=(--device cpu --images 240 --old-images 32 --train-images 64 --repeats 1)
  # scale.models.resnet18=resnet18: smoke would otherwise train its stand-in (cnn) for model=resnet18
  RUN_ARGS=(scale=smoke scale.models.resnet18=resnet18 dataset.train_subset=null dataset.test_subset=null
            +model.net.width=4 trainer.accelerator=cpu)
  METHODS="${DRY_METHODS:-baseline,ssd,finetune}"
else
  IMP_ARGS=(--device cuda --out "$OUT/bench")
  DATA_ARGS=(--device cuda)
  RUN_ARGS=(training.epochs="$EPOCHS" training.milestones=[] training.schedule=onecycle training.batch_size=512
            training.optimizer.lr=0.4 training.label_smoothing=0.1 trainer.precision=bf16-mixed
            trainer.channels_last=true trainer.accelerator=gpu)
fi

step "python -m unlearn_bench.bench (importance pass)"
"$PY" -m unlearn_bench.bench "${IMP_ARGS[@]}"

step "python -m unlearn_bench.bench.data (data path, training images/s on real CIFAR-10)"
"$PY" -m unlearn_bench.bench.data "${DATA_ARGS[@]}" --data "$DATA" --out "$OUT/bench"

step "ResNet18 original + gold, then $METHODS (class forgetting: airplane)"
cd "$OUT"
IFS=',' read -r -a METHOD_LIST <<< "$METHODS"
for method in "${METHOD_LIST[@]}"; do
  step "method=$method"
  log="$OUT/runs/$method.log"
  mkdir -p "$OUT/runs"
  if ! "$PY" -m unlearn_bench dataset=cifar10 dataset.root="$DATA" model=resnet18 task=class method="$method" \
      "${RUN_ARGS[@]}" trainer.enable_progress_bar=false paths.root_dir="$OUT" hydra.run.dir="$OUT/runs/$method" \
      > "$log" 2>&1; then
    tail -20 "$log" >&2
    echo "device_check.sh: method=$method failed (log: $log)." >&2
    exit 1
  fi
  sed -n '/accuracies and MIA/,/gap to gold/p' "$log"
done
step "done: results under $OUT/runs, benchmarks under $OUT/bench"
