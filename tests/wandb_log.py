"""Read an offline W&B run's `run-<id>.wandb` file (wandb 0.31 ships no Python reader for it).

The file: a 7-byte header (":W&B", magic 0xBEE1, version), then LevelDB log records in 32 KiB
blocks (crc32c, length, type: full / first / middle / last), each a wandb_internal_pb2.Record."""

from __future__ import annotations

import json
import struct
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

BLOCK = 32 * 1024
HEADER = 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def records(path: Path):
    from wandb.proto import wandb_internal_pb2

    data = Path(path).read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run log"
    pos, pending = HEADER, b""
    while pos + HEADER <= len(data):
        if BLOCK - pos % BLOCK < HEADER:  # a block's tail too short for a header is padding
            pos += BLOCK - pos % BLOCK
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + HEADER])
        chunk, pos = data[pos + HEADER:pos + HEADER + length], pos + HEADER + length
        if kind == 0:  # zero padding up to the block's end
            pos += BLOCK - pos % BLOCK if pos % BLOCK else 0
            continue
        pending = chunk if kind in (FULL, FIRST) else pending + chunk
        if kind in (FULL, LAST):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending)
            yield record


def _key(item) -> str:
    return "/".join(item.nested_key) if item.nested_key else item.key


@dataclass
class OfflineRun:
    """What an offline run logged: its identity, history (key -> values per step), summary,
    config and artifacts (type, name, file names)."""

    name: str = ""
    group: str = ""
    job_type: str = ""
    tags: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)
    history: dict[str, list] = field(default_factory=lambda: defaultdict(list))
    summary: dict = field(default_factory=dict)
    artifacts: list[tuple[str, str, list[str]]] = field(default_factory=list)
    exit_code: int | None = None


def read_run(folder: Path) -> OfflineRun:
    (log_file,) = Path(folder).glob("run-*.wandb")
    run = OfflineRun()
    for record in records(log_file):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            run.name, run.group, run.job_type = record.run.display_name, record.run.run_group, record.run.job_type
            run.tags = list(record.run.tags)
        elif kind == "config":
            run.config.update({u.key: json.loads(u.value_json) for u in record.config.update})
        elif kind == "history":
            for item in record.history.item:
                run.history[_key(item)].append(json.loads(item.value_json))
        elif kind == "summary":
            run.summary.update({_key(u): json.loads(u.value_json) for u in record.summary.update})
        elif kind == "artifact":
            art = record.artifact
            run.artifacts.append((art.type, art.name, [entry.path for entry in art.manifest.contents]))
        elif kind == "exit":
            run.exit_code = record.exit.exit_code
    return run
