#!/usr/bin/env bash
# Issue 33 item 3 (docs/results/cpu_recipe/): one scale=cpu grid run one job at a time with every
# core's thread (hydra/launcher=basic) and two at a time with one thread each (cpu_pool), each on a
# fresh model store under OUT, so its models are trained inside the grid. Prints each wall time.
#   scripts/threads_grid.sh OUT     (needs Fashion-MNIST: make fashion-mnist)
set -u
OUT=${1:?usage: scripts/threads_grid.sh OUT}
cd "$(dirname "$0")/.."
export OMP_WAIT_POLICY=PASSIVE WANDB_MODE=disabled
for L in basic cpu_pool; do
  R=$OUT/$L; rm -rf "$R"; mkdir -p "$R"
  t0=$(date +%s.%N)
  .venv/bin/python -m unlearn_bench -m scale=cpu dataset=fashion_mnist model=cnn task=class task.forget=Trouser \
    method=baseline,finetune,ssd,scrub seed=0,1 hydra/launcher=$L paths.root_dir="$R" \
    hydra.sweep.dir="$R/sweep" > "$R/log.txt" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  echo "$L rc=$rc wall_s=$(python3 -c "print(round($t1 - $t0, 1))")"
done
