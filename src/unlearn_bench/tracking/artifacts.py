"""Which of a run's files go to W&B as artifacts: results.json and every file the record lists
under `artifacts` ({name: path relative to the output folder}), each up to a size cap."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from unlearn_bench.tracking.guard import guarded

log = logging.getLogger("unlearn_bench.tracking")
MODEL_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth")


@dataclass(frozen=True)
class ArtifactSettings:
    """`logger.wandb.artifacts` in the config: enabled (the opt-out) and max_mb (the per-file cap)."""

    enabled: bool = True
    max_mb: float = 200.0

    @classmethod
    def from_config(cls, node: dict | None) -> ArtifactSettings:
        node = dict(node or {})
        return cls(enabled=bool(node.get("enabled", True)), max_mb=float(node.get("max_mb", cls.max_mb)))


@dataclass(frozen=True)
class RunFile:
    name: str  # the record's key (results for results.json)
    path: Path
    kind: str  # the W&B artifact type: results, model or file


def run_files(record: dict, results_path: Path, settings: ArtifactSettings) -> list[RunFile]:
    """results.json and the record's listed files that exist and fit under the cap (others: a warning)."""
    if not settings.enabled:
        return []
    out_dir = results_path.parent
    listed = {"results": results_path, **{name: out_dir / rel for name, rel in (record.get("artifacts") or {}).items()}}
    files = []
    for name, path in listed.items():
        if not path.is_file():
            log.warning("Not logging %s as a W&B artifact: %s does not exist.", name, path)
            continue
        size_mb = path.stat().st_size / 2**20
        if size_mb > settings.max_mb:
            log.warning("Not logging %s (%.1f MB) as a W&B artifact: above logger.wandb.artifacts.max_mb=%g.",
                        path.name, size_mb, settings.max_mb)
            continue
        kind = "results" if name == "results" else "model" if path.suffix in MODEL_SUFFIXES else "file"
        files.append(RunFile(name, path, kind))
    return files


def log_artifacts(run, files: list[RunFile], run_name: str) -> None:
    """One artifact per file, named <file name>-<run name> (a rerun of the same run adds a version)."""
    import wandb

    for item in files:
        with guarded(f"uploading {item.path.name} as a W&B artifact"):
            artifact = wandb.Artifact(_artifact_name(f"{item.name}-{run_name}"), type=item.kind,
                                      metadata={"file": item.path.name, "run": run_name})
            artifact.add_file(str(item.path), name=item.path.name)
            run.log_artifact(artifact)


def _artifact_name(text: str) -> str:
    return re.sub(r"[^\w.-]+", "_", text)[:128]
