#!/usr/bin/env bash
# A 2-job grid through hydra/launcher=slurm on a running Slurm (scripts/slurm/single_node.sh start),
# both jobs sharing one model store, then the report over their results. Exits non-zero on any failure.
#   export SLURM_CONF=/tmp/unlearn-bench-slurm/slurm.conf; scripts/slurm/check_grid.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
WORK=${WORK:-$(mktemp -d /tmp/unlearn-bench-slurm-grid.XXXXXX)}
sinfo >/dev/null || { echo "No Slurm answers here: start one with scripts/slurm/single_node.sh start" >&2; exit 1; }

UNLEARN_BENCH_ROOT=$WORK WANDB_MODE=disabled "$PY" -m unlearn_bench --multirun \
  method=ssd,finetune scale=smoke \
  hydra/launcher=slurm hydra.launcher.partition=local hydra.launcher.gpus_per_node=0 \
  hydra.launcher.cpus_per_task=1 hydra.launcher.mem_gb=2 hydra.launcher.timeout_min=20 \
  hydra.sweep.dir="$WORK/multirun"

results=$(find "$WORK/multirun" -name results.json | wc -l)
models=$(find "$WORK/.cache/unlearn_bench/models" -type f | wc -l)
echo "results.json written by the Slurm jobs: $results; files in the shared model store: $models"
[ "$results" -eq 2 ] || { echo "expected 2 results, found $results" >&2; exit 1; }
"$PY" -m unlearn_bench.report "$WORK/multirun" --out "$WORK/report"
grep -E "ssd|finetune" "$WORK/report/tables.md" | head -n 4
echo "Slurm grid check passed: $WORK"
