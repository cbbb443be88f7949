"""Config-group choices on the command line (`method=ssd`, `dataset=cifar10,digits`) checked before
Hydra composes anything, so that an unknown one is one sentence with the list of choices (exit 2)."""

from __future__ import annotations

import os
from pathlib import Path

from unlearn_bench.conf import CONF_DIR

# groups of the suite's own conf/ (Hydra's hydra/* groups are left to Hydra)
SKIPPED = ("hydra",)
SWEEP_SYNTAX = ("(", "*", "?", "[", "$", "{")


def config_dirs() -> list[Path]:
    """The package's configs and the user's ($UNLEARN_BENCH_ROOT/conf, default ./conf)."""
    return [CONF_DIR, Path(os.environ.get("UNLEARN_BENCH_ROOT", ".")) / "conf"]


def group_choices(group: str, dirs: list[Path] | None = None) -> list[str] | None:
    """The choices of config group `group` (None when no such group exists)."""
    found, exists = set(), False
    for base in dirs or config_dirs():
        folder = base / group
        if folder.is_dir():
            exists = True
            found |= {p.stem for p in folder.glob("*.yaml")}
    return sorted(found) if exists else None


def searchpath_dirs(overrides: list[str]) -> list[Path] | None:
    """The folders a `hydra.searchpath=[file://...]` override adds (None: one Hydra resolves otherwise)."""
    found: list[Path] = []
    for override in overrides:
        key, _, value = override.partition("=")
        if key.lstrip("+") != "hydra.searchpath":
            continue
        for entry in value.strip("[]").split(","):
            entry = entry.strip().strip("'\"")
            if not entry.startswith("file://") or "${" in entry:
                return None
            found.append(Path(entry.removeprefix("file://")))
    return found


# groups whose choices name the method presets (conf/config.yaml: ${method}_${model}, ...): never removed
PRESET_KEYS = ("method", "model", "dataset", "protocol")


def removed_group(overrides: list[str]) -> str | None:
    """The sentence for an override that deletes a group the method presets are chosen by, else None."""
    for override in overrides:
        if override.startswith("~") and override[1:].partition("=")[0] in PRESET_KEYS:
            group = override[1:].partition("=")[0]
            hint = (" (a method of your own without a YAML: method=custom +method._target_=my_module.MyMethod)"
                    if group == "method" else f" (pick another: {group}=<choice>)")
            return f"{override} removes the {group} group, which every run needs{hint}."
    return None


def unknown_choice(overrides: list[str], dirs: list[Path] | None = None) -> str | None:
    """The sentence for the first `group=choice` override whose choice does not exist, else None."""
    if dirs is None:
        extra = searchpath_dirs(overrides)
        if extra is None:
            return None  # a search path we cannot see: Hydra decides
        dirs = [*config_dirs(), *extra]
    for override in overrides:
        key, sep, value = override.partition("=")
        key = key.lstrip("+~")
        if not sep or override.startswith(("-", "~")) or "." in key or key.split("/")[0] in SKIPPED:
            continue
        if not value or any(mark in value for mark in SWEEP_SYNTAX):
            continue
        choices = group_choices(key, dirs)
        if choices is None:
            continue
        for choice in value.split(","):
            choice = choice.strip()
            if choice and choice != "null" and choice not in choices:
                return f"{key}={choice} is not a choice of {key}: use one of {', '.join(choices)}."
    return None
