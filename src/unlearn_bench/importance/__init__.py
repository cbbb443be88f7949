"""Diagonal Fisher importances: one pass on one or many devices, and their on-disk store.

One accumulation (`sums`) serves every estimator (`estimators`): the importance is the total of
the estimator's per-batch sums divided by the total count. Two runners share it: a plain loop on
one device (`loop`) and Lightning ``predict`` on any accelerator / devices / strategy
(`lightning_pass`); `compute` picks one. `store` keeps the full-training-set importances on disk.
"""

from unlearn_bench.importance.compute import BACKENDS, compute_importance
from unlearn_bench.importance.estimators import (
    ESTIMATORS,
    BatchEstimator,
    Importances,
    batch_estimator,
    expected_estimator,
    get_estimator,
    per_sample_estimator,
)
from unlearn_bench.importance.lightning_pass import (
    FixedBatches,
    ImportancePass,
    loader_batches,
    rank_batches,
)
from unlearn_bench.importance.store import ImportanceStore
from unlearn_bench.importance.sums import ImportanceSums

__all__ = [
    "BACKENDS", "ESTIMATORS", "BatchEstimator", "FixedBatches", "ImportancePass", "ImportanceStore",
    "ImportanceSums", "Importances", "batch_estimator", "compute_importance", "expected_estimator",
    "get_estimator", "loader_batches", "per_sample_estimator", "rank_batches",
]
