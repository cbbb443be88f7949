"""Experiment trackers (W&B through Lightning's loggers): open for the whole run, curves of the
trained models, results, the report's table row and the run's files; never a reason to fail a run."""

from unlearn_bench.tracking.lightning import RunLogger, for_role, log_model_source
from unlearn_bench.tracking.session import RunTracker, open_tracker

__all__ = ["RunLogger", "RunTracker", "for_role", "log_model_source", "open_tracker"]
