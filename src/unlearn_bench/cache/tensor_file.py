"""A file of named tensors and JSON metadata (safetensors): loading it never runs code.

The metadata holds a sha256 of the tensors' bytes, so a damaged file is told apart from a good
one; `Layout` says which names, shapes and dtypes a file must hold to be used.
"""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors

from unlearn_bench.cache.files import atomic_write_bytes

FORMAT = "unlearn-bench-tensors/1"
Tensors = dict[str, torch.Tensor]
# name -> (shape, dtype)
Layout = dict[str, tuple[tuple[int, ...], torch.dtype]]


class InvalidEntry(ValueError):
    """A cache file that cannot be used (damaged, foreign, or of another layout)."""


def layout_of(tensors: Mapping[str, torch.Tensor]) -> Layout:
    return {name: (tuple(t.shape), t.dtype) for name, t in tensors.items()}


def _digest(tensors: Mapping[str, torch.Tensor]) -> str:
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(name.encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def encode(tensors: Mapping[str, torch.Tensor], meta: dict) -> bytes:
    # clone: safetensors refuses tensors that share storage
    owned = {n: t.detach().cpu().contiguous().clone() for n, t in tensors.items()}
    header = {"format": FORMAT, "sha256": _digest(owned), "meta": json.dumps(meta, default=str)}
    return save_safetensors(owned, metadata=header)


def write_tensor_file(path: Path, tensors: Mapping[str, torch.Tensor], meta: dict) -> None:
    atomic_write_bytes(path, encode(tensors, meta))


def _metadata(data: bytes) -> dict:
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + length]).get("__metadata__") or {}


# a header larger than this is a damaged file, not one of ours
MAX_HEADER = 100 * 2**20


def read_metadata(path: Path) -> dict:
    """The metadata of the file at `path`, from its header alone: no tensor is read or verified
    (InvalidEntry when the header is unreadable)."""
    try:
        with open(path, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            if length > MAX_HEADER:
                raise InvalidEntry(f"a header of {length} bytes")
            header = json.loads(f.read(length)).get("__metadata__") or {}
        meta = json.loads(header.get("meta", "{}"))
    except (OSError, struct.error, ValueError, AttributeError) as err:
        raise InvalidEntry(f"unreadable header ({err})") from None
    return meta if isinstance(meta, dict) else {}


def decode(data: bytes) -> tuple[Tensors, dict]:
    """The tensors and metadata in `data`; InvalidEntry when they are not ours or are damaged."""
    try:
        header = _metadata(data)
        tensors = load_safetensors(data)
    except Exception as err:  # noqa: BLE001 - any parse failure means "not a usable file"
        raise InvalidEntry(f"not a safetensors file ({err})") from None
    if header.get("format") != FORMAT:
        raise InvalidEntry(f"unknown format {header.get('format')!r}")
    if header.get("sha256") != _digest(tensors):
        raise InvalidEntry("checksum mismatch")
    try:
        meta = json.loads(header.get("meta", "{}"))
    except json.JSONDecodeError as err:
        raise InvalidEntry(f"unreadable metadata ({err})") from None
    return tensors, meta if isinstance(meta, dict) else {}


def non_finite_count(tensors: Mapping[str, torch.Tensor]) -> tuple[int, int]:
    """(how many floating-point tensors hold a NaN or infinite value, how many there are)."""
    floating = [t for t in tensors.values() if torch.is_floating_point(t)]
    return sum(not bool(torch.isfinite(t).all()) for t in floating), len(floating)


def check_finite(tensors: Mapping[str, torch.Tensor]) -> None:
    """InvalidEntry when a stored entry holds non-finite values (a diverged training stored by old code)."""
    bad, total = non_finite_count(tensors)
    if bad:
        raise InvalidEntry(f"{bad} of {total} tensors hold non-finite values")


def check_layout(tensors: Mapping[str, torch.Tensor], expected: Layout) -> None:
    """InvalidEntry unless `tensors` has exactly the expected names, shapes and dtypes."""
    missing, extra = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    if missing or extra:
        raise InvalidEntry(f"names differ (missing {missing[:3]}, unexpected {extra[:3]})")
    for name, (shape, dtype) in expected.items():
        t = tensors[name]
        if tuple(t.shape) != tuple(shape) or t.dtype != dtype:
            raise InvalidEntry(f"{name} is {tuple(t.shape)} {t.dtype}, expected {tuple(shape)} {dtype}")
