"""Atomic file writes: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import BinaryIO


def content_key(material: dict) -> str:
    """A short hash of everything that determines an artefact (JSON-serialisable)."""
    blob = json.dumps(material, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def temp_name(path: Path) -> Path:
    """Where `path` is written before it is renamed into place (a unique name per writer)."""
    return path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"


def stale_temps(path: Path) -> list[Path]:
    """Temporary files of `path` (left by writers that were killed before renaming)."""
    return list(path.parent.glob(f".{path.name}.*.tmp"))


# os.link refused by the file system (some network and FUSE mounts), not by an existing name
LINK_REFUSED = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK, errno.ENOSYS})


def place_new(tmp: Path, path: Path) -> None:
    """Move the complete file `tmp` to `path`, never over an existing `path` (FileExistsError).

    A hard link does it in one step. Where the file system refuses hard links, the name is taken by
    creating an empty file exclusively, then `tmp` is renamed over it (a reader may see the empty
    file for that moment, never a partial one)."""
    try:
        os.link(tmp, path)
    except OSError as err:
        if isinstance(err, FileExistsError) or err.errno not in LINK_REFUSED:
            raise
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        try:
            os.replace(tmp, path)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return
    tmp.unlink()


def _write(f: BinaryIO, data: bytes) -> None:
    f.write(data)
    f.flush()
    os.fsync(f.fileno())


def atomic_write_bytes(path: Path, data: bytes, *, replace: bool = True) -> None:
    """Write `data` to `path` through a temporary file and a rename.

    The file gets the permissions of any new file (0666 less the umask). On failure the temporary
    file is removed and the OSError names `path`. With replace=False an existing `path` is never
    replaced: FileExistsError instead (the check and the write are one atomic step).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_name(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as f:
            _write(f, data)
        if replace:
            os.replace(tmp, path)
        else:
            place_new(tmp, path)
    except FileExistsError:
        tmp.unlink(missing_ok=True)
        raise
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise OSError(err.errno, err.strerror or str(err), str(path)) from err
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
