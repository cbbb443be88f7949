"""Results records back from W&B: offline run folders (no server needed) or, online, a project
through wandb.Api(). Each run carries its results.json as a file (tracking/session.py saves it)."""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterable
from pathlib import Path

from unlearn_bench.experiment.record import RESULTS_FILE
from unlearn_bench.report.collect import dedupe, load_records

log = logging.getLogger(__name__)
RUN_GLOBS = (f"**/offline-run-*/files/{RESULTS_FILE}", f"**/run-*/files/{RESULTS_FILE}")


def offline_result_files(folders: Iterable[str | Path]) -> list[Path]:
    """The results.json of every W&B run folder (offline-run-*/ or synced run-*/) under `folders`."""
    files = []
    for folder in map(Path, folders):
        for pattern in RUN_GLOBS:
            files.extend(sorted(folder.glob(pattern)))
    return files


def read_offline(folders: Iterable[str | Path], include_searches: bool = False) -> list[dict]:
    return load_records(offline_result_files(folders), include_searches)


def read_project(path: str, filters: dict | None = None, include_searches: bool = False) -> list[dict]:
    """Every run of an online W&B project ("entity/project") that holds a results.json.
    Needs network access and a W&B login; not exercised by the offline tests."""
    import wandb

    records = []
    with tempfile.TemporaryDirectory() as tmp:
        for run in wandb.Api().runs(path, filters=filters or {}):
            try:
                handle = run.file(RESULTS_FILE).download(root=str(Path(tmp) / run.id), replace=True)
                with handle:
                    records.append(json.load(handle))
            except Exception as err:  # a run without the file, or a failed download
                log.warning("Skipping W&B run %s: %s", run.id, err)
    return dedupe(records, include_searches)
