"""Checks of where a run will write, made before Hydra creates its run folder, so that a root or run
folder that is a file, or cannot be written, is one sentence (exit 2) rather than Hydra's traceback.
Only literal values are checked (a path with `${...}` is left to Hydra)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

FOLDER_KEYS = ("hydra.run.dir", "hydra.sweep.dir", "paths.root_dir")


def _given(argv: Sequence[str], key: str) -> str | None:
    for arg in argv:
        name, sep, value = arg.partition("=")
        if sep and name.lstrip("+") == key and "${" not in value:
            return value
    return None


def _nearest_existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def folder_problem(path: Path) -> str | None:
    """Why a run could not create or write the folder `path` (None when it can)."""
    existing = _nearest_existing(path.absolute())
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    probe = existing / f".unlearn-bench-probe-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        return f"{existing} cannot be written ({err.strerror or err})"
    return None


def output_problem(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> str | None:
    """The sentence for the first output location of this command line that cannot work, else None."""
    environ = os.environ if environ is None else environ
    for key in FOLDER_KEYS:
        value = _given(argv, key)
        if value is not None:
            problem = folder_problem(Path(value))
            if problem is not None:
                return f"{key}={value}: {problem}; set it to a folder this user can write to."
    if all(_given(argv, key) is None for key in FOLDER_KEYS):
        root = environ.get("UNLEARN_BENCH_ROOT")
        base = Path(root or ".")
        problem = folder_problem(base) or folder_problem(base / "outputs")
        if problem is not None:
            where = f"UNLEARN_BENCH_ROOT={root}" if root else "the current folder (UNLEARN_BENCH_ROOT is unset)"
            return (f"{where}: {problem}; runs write their outputs and model store there: set UNLEARN_BENCH_ROOT "
                    "to a folder this user can write to.")
    return None
