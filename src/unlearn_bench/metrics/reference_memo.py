"""What a run computes on its reference models (original, gold), remembered within one process.

Every method of a `--multirun` sweep over one forget request evaluates the same stored original
and gold models on the same splits, and fine-tunes the same gold model for its relearn time: the
same deterministic work once per job. The memo keeps those results for the life of the process,
keyed by the model's store key and everything the evaluation depends on; the unlearned model is
never remembered."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np

REFERENCE_ROLES = ("original", "gold")


def fingerprint(*parts: Any) -> str:
    """A digest of JSON-able parts and arrays (index arrays hashed by their bytes)."""
    digest = hashlib.sha256()
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(np.ascontiguousarray(part).tobytes())
            digest.update(str(part.dtype).encode())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
        digest.update(b"\x00")
    return digest.hexdigest()


class ReferenceMemo:
    """A bounded in-process memo: key -> value, least recently used dropped first."""

    def __init__(self, capacity: int = 16):
        self.capacity = capacity
        self._entries: OrderedDict[str, Any] = OrderedDict()
        self.hits = 0

    def get_or_compute(self, key: str, compute: Callable[[], Any]) -> Any:
        if key in self._entries:
            self._entries.move_to_end(key)
            self.hits += 1
            return self._entries[key]
        value = compute()
        self._entries[key] = value
        if len(self._entries) > self.capacity:
            self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        self._entries.clear()
        self.hits = 0

    def __len__(self) -> int:
        return len(self._entries)


REFERENCE_MEMO = ReferenceMemo()


def role_memo(model_keys: dict[str, str | None], context: str,
              memo: ReferenceMemo = REFERENCE_MEMO) -> Callable[[str, str, Callable[[], Any]], Any]:
    """`remember(role, what, compute)`: compute's value, reused across runs of this process for the
    reference roles whose store key is known (`context`: the digest of everything else the value
    depends on); computed afresh for any other role."""

    def remember(role: str, what: str, compute: Callable[[], Any]) -> Any:
        key = model_keys.get(role)
        if role not in REFERENCE_ROLES or not key:
            return compute()
        return memo.get_or_compute(fingerprint(role, key, what, context), compute)

    return remember
