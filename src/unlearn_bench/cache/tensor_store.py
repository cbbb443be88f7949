"""Entries of named tensors under `root/<key>.safetensors`, computed once however many processes ask.

- A per-key lock (`filelock`): concurrent runs that need the same entry wait for the one computing it,
  then read it.
- A stored entry is used only if it holds the expected tensor names, shapes and dtypes and only
  finite values; otherwise it is recomputed, with a warning. Loading never executes code (no pickle):
  an old `.pt` entry of the key is never read, and a warning says it is recomputed.
- A cache that cannot be written (read-only, full disk) degrades to computing without storing, with
  a warning naming the path.
- Temporary files of a killed writer are removed by the next writer of that key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from unlearn_bench.cache.files import stale_temps
from unlearn_bench.cache.tensor_file import (
    InvalidEntry,
    Layout,
    Tensors,
    check_finite,
    check_layout,
    decode,
    read_metadata,
    write_tensor_file,
)

log = logging.getLogger(__name__)

SUFFIX = ".safetensors"
Create = Callable[[], tuple[Tensors, dict]]


class TensorStore:
    def __init__(self, root: str | Path, what: str = "entry"):
        self.root = Path(root)
        self.what = what  # named in warnings: "model", "importances"
        self.writable = True

    def path(self, key: str) -> Path:
        return self.root / f"{key}{SUFFIX}"

    def lock_path(self, key: str) -> Path:
        return self.root / f".{key}.lock"

    def read(self, key: str, expected: Layout | None = None) -> tuple[Tensors, dict] | None:
        """The stored entry, or None when absent or unusable (then a warning says why)."""
        path = self.path(key)
        if not path.exists():
            old = self.root / f"{key}.pt"
            if old.exists():
                log.warning("Cached %s %s is in the old .pt format, which is never loaded (it could run code); "
                            "recomputing it. Delete the .pt file to silence this.", self.what, old)
            return None
        try:
            tensors, meta = decode(path.read_bytes())
            if expected is not None:
                check_layout(tensors, expected)
            check_finite(tensors)
        except (OSError, InvalidEntry) as err:
            log.warning("Cached %s %s is unusable (%s); recomputing it.", self.what, path, err)
            return None
        return tensors, meta

    def entries(self) -> Iterator[tuple[str, dict]]:
        """(key, metadata) of every stored entry, from the files' headers (entries not verified;
        unreadable ones left out)."""
        for path in sorted(self.root.glob(f"*{SUFFIX}")):
            try:
                yield path.name.removesuffix(SUFFIX), read_metadata(path)
            except InvalidEntry:
                continue

    def write(self, key: str, tensors: Tensors, meta: dict) -> None:
        """Store an entry; a failure to write only warns (the run goes on without caching it)."""
        if not self.writable:
            return
        path = self.path(key)
        try:
            write_tensor_file(path, tensors, meta)
        except OSError as err:
            self._cannot_write(err, path)

    def get_or_create(self, key: str, create: Create, expected: Layout | None = None,
                      use_cache: bool = True) -> tuple[Tensors, dict, bool]:
        """(tensors, meta, cache_hit): the stored entry, or `create()`'s, stored for next time."""
        with self._locked(key) as locked:
            if locked:  # no other writer of this key is alive: its temporary files are leftovers
                for tmp in stale_temps(self.path(key)):
                    tmp.unlink(missing_ok=True)
            found = self.read(key, expected) if use_cache else None
            if found is not None:
                return *found, True
            tensors, meta = create()
            self.write(key, tensors, meta)
            return tensors, meta, False

    @contextmanager
    def _locked(self, key: str) -> Iterator[bool]:
        lock = self._acquire(key)
        try:
            yield lock is not None
        finally:
            if lock is not None:
                lock.release()

    def _acquire(self, key: str) -> FileLock | None:
        if not self.writable:
            return None
        path = self.lock_path(key)
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            lock = FileLock(path)
            try:
                lock.acquire(timeout=0)
            except Timeout:
                log.info("Waiting for another process computing %s %s (lock %s).", self.what, key, path)
                lock.acquire()
        except OSError as err:
            self._cannot_write(err, path)
            return None
        return lock

    def _cannot_write(self, err: OSError, path: Path) -> None:
        self.writable = False
        reason = err.strerror or str(err)
        log.warning("Cannot write to the cache at %s (%s): running without storing %s there.",
                    err.filename or path, reason, self.what)
