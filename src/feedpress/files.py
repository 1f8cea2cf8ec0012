"""Writing a file so that no reader ever sees half of it.

Every writer in feedpress (feeds, the manifest, scaffolded files, previews
and dry-run messages) goes through `write_atomic`: the bytes go to a
temporary file beside the target, which is then renamed over it. A crash
or a full disk leaves the old file, never a truncated one. This module
knows nothing of what it writes: which files to write, and whether they
changed, is the caller's.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from pathlib import Path

from feedpress.errors import FeedpressError

_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_TEMP_COUNT = itertools.count()


def write_atomic(target: Path, data: bytes) -> None:
    """Replace `target` with `data` in one step: a temp file in its folder, then rename."""
    try:
        fd, temp = _temp_beside(target)
        try:
            with os.fdopen(fd, "wb") as stream:
                os.fchmod(fd, 0o644)  # readable by the web server whatever the umask
                stream.write(data)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise FeedpressError(f"{target}: cannot write: {exc.strerror}") from None


def _temp_beside(target: Path) -> tuple[int, str]:
    """A new temporary file in `target`'s folder, made first if missing.

    Named by process and count, not by `tempfile`'s random names (a build
    writes a thousand files, and those cost more than the write); a name
    left by a killed process is skipped. The folder is made only when the
    file cannot be: most folders exist.
    """
    for _ in range(3):
        temp = f"{target.parent}{os.sep}.{target.name}.{os.getpid()}.{next(_TEMP_COUNT)}.tmp"
        try:
            return os.open(temp, _TEMP_FLAGS, 0o600), temp
        except FileNotFoundError:
            target.parent.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            continue
    return tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
