"""A finished run is never lost to its folder: when the run folder cannot take results.json and the
unlearned model (full, read-only, refused), they are written to a rescue folder that is named, and
the run ends non-zero (`RunRescued`)."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

from omegaconf import DictConfig
from torch import nn

from unlearn_bench.cli.resolvers import run_id
from unlearn_bench.experiment.record import write_results
from unlearn_bench.experiment.saved_model import save_artifacts
from unlearn_bench.utils.errors import UnlearnBenchError

log = logging.getLogger(__name__)

RESCUE_FOLDER = Path("outputs") / "_rescued"


class RunRescued(UnlearnBenchError):
    """The run finished, but its results are not in its run folder (the message says where they are):
    exit 1, the run folder left as it is."""

    exit_code = 1


def rescue_folders(cfg: DictConfig) -> list[Path]:
    """Where results go when the run folder refuses them: under paths.root_dir, else the temp folder."""
    name = f"{time.strftime('%Y-%m-%d_%H-%M-%S')}_{run_id()}"
    return [Path(cfg.paths.root_dir) / RESCUE_FOLDER / name,
            Path(tempfile.gettempdir()) / "unlearn_bench" / RESCUE_FOLDER / name]


def _save(cfg: DictConfig, record: dict, model: nn.Module | None, folder: Path) -> Path:
    record["artifacts"] = save_artifacts(cfg, record, model, folder) if model is not None else {}
    return write_results(record, folder)


def save_run(cfg: DictConfig, record: dict, model: nn.Module | None) -> Path:
    """Write the run's unlearned model (if any) and results.json into its run folder, or (when that
    fails for a disk reason) into the first rescue folder that takes them, then raise RunRescued."""
    out = Path(cfg.paths.output_dir)
    try:
        return _save(cfg, record, model, out)
    except OSError as err:
        failure = err
    reason = f"{failure.strerror or failure}: {failure.filename or out}"
    tried = []
    for folder in rescue_folders(cfg):
        try:
            path = _save(cfg, record, model, folder)
        except OSError as err:
            tried.append(f"{folder} ({err.strerror or err})")
            continue
        log.error("The run folder %s could not take the results (%s); they were written to %s.", out, reason, path)
        raise RunRescued(f"the run finished, but its folder {out} could not take its results ({reason}); "
                         f"they were written to {path} instead.") from failure
    raise RunRescued(f"the run finished, but neither its folder {out} ({reason}) nor a rescue folder "
                     f"({'; '.join(tried)}) could take its results: free some space or fix the permissions "
                     "and rerun.") from failure
