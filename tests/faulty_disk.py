"""`python -m faulty_disk OVERRIDES`: the command line with one file-system fault injected, named by
the environment variable UB_FAULT:

- `full:<folder>`: creating any file under <folder> through os.open fails with ENOSPC (the suite's
  atomic writes; Hydra's own log file is opened otherwise and still works);
- `no_link`: os.link fails with EPERM everywhere (file systems without hard links);
- `term_at_link`: SIGTERM arrives while results.json is being linked into place.
"""

from __future__ import annotations

import errno
import os
import signal
from pathlib import Path

KIND, _, WHERE = os.environ.get("UB_FAULT", "").partition(":")


def _under(path, folder: str) -> bool:
    return Path(os.path.abspath(path)).is_relative_to(Path(folder).resolve())


if KIND == "full":
    _open = os.open

    def _full_open(path, flags, mode=0o777, *args, **kwargs):
        if flags & os.O_CREAT and _under(path, WHERE):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return _open(path, flags, mode, *args, **kwargs)

    os.open = _full_open
elif KIND == "no_link":
    def _no_link(src, dst, *args, **kwargs):
        raise OSError(errno.EPERM, os.strerror(errno.EPERM), str(src), None, str(dst))

    os.link = _no_link
elif KIND == "term_at_link":
    _link = os.link

    def _term_at_link(src, dst, *args, **kwargs):
        if Path(dst).name.startswith("results"):
            os.kill(os.getpid(), signal.SIGTERM)
        return _link(src, dst, *args, **kwargs)

    os.link = _term_at_link
elif KIND:
    raise SystemExit(f"unknown UB_FAULT kind {KIND!r}")

if __name__ == "__main__":
    from unlearn_bench.__main__ import cli

    cli()
