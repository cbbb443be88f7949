"""A content-addressed cache of trained models: never train the same model twice."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

log = logging.getLogger(__name__)


def content_key(material: dict) -> str:
    """A short hash of everything that determines an artefact (JSON-serialisable)."""
    blob = json.dumps(material, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_verified(path: Path, payload: dict) -> None:
    """torch.save `payload` atomically, with a sha256 sidecar that later loads check."""
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    data = buffer.getvalue()
    atomic_write_bytes(path, data)
    atomic_write_bytes(path.with_suffix(path.suffix + ".sha256"), hashlib.sha256(data).hexdigest().encode())


def load_verified(path: Path) -> dict | None:
    """The payload at `path`, or None if absent; a file that fails its checksum is removed."""
    sidecar = path.with_suffix(path.suffix + ".sha256")
    if not path.exists():
        return None
    try:
        data = path.read_bytes()
        if not sidecar.exists() or hashlib.sha256(data).hexdigest() != sidecar.read_text().strip():
            raise ValueError("checksum mismatch")
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=False)
    except Exception as err:  # noqa: BLE001 - any unreadable cache entry is recomputed
        log.warning("Cached file %s is corrupt (%s); recomputing it.", path, err)
        path.unlink(missing_ok=True)
        sidecar.unlink(missing_ok=True)
        return None


class ModelStore:
    """Trained weights under `root/<key>.pt`, keyed by a hash of all that determines them."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / f"{key}.pt"

    def get_or_train(
        self,
        material: dict,
        build: Callable[[], nn.Module],
        train: Callable[[nn.Module], dict],
    ) -> tuple[nn.Module, dict]:
        """The cached model for `material`, or a freshly trained one (then cached)."""
        key = content_key(material)
        net = build()
        cached = load_verified(self.path(key))
        if cached is not None:
            net.load_state_dict(cached["state_dict"])
            return net.eval(), {**cached["meta"], "key": key, "cache_hit": True}
        meta = train(net)
        save_verified(self.path(key), {"state_dict": net.state_dict(), "meta": meta, "material": material})
        return net.eval(), {**meta, "key": key, "cache_hit": False}
