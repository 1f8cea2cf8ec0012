"""Writing a file so that no reader ever sees half of it.

Every writer in feedpress (feeds, the manifest, scaffolded files, previews
and dry-run messages) goes through `write_atomic`: the bytes go to a
temporary file beside the target, which is then renamed over it. A crash
or a full disk leaves the old file, never a truncated one. This module
knows nothing of what it writes: which files to write, and whether they
changed, is the caller's.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from feedpress.errors import FeedpressError, shown

_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_TEMP_COUNT = itertools.count()


def write_atomic(target: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `target` with `data` in one step: a temp file in its folder, then rename.
    `mode` 0o644 by default: readable by the web server whatever the umask."""
    try:
        fd, temp = _temp_beside(target)
        try:
            with os.fdopen(fd, "wb") as stream:
                os.fchmod(fd, mode)
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


# What `_replace_in` and `_temp_beside` name a file being written: ".rss.xml.<pid>.<n>.tmp".
_TEMP_NAME = re.compile(r"\..+\.(\d+)\.\d+\.tmp")


def sweep_temporary(root: Path) -> int:
    """Remove, under `root`, the temporary files of writers that are no longer running (a
    build killed outright leaves its half-written ones); how many were removed. Links are
    not followed."""
    removed = 0
    for folder, _, names in os.walk(root):
        for name in names:
            found = _TEMP_NAME.fullmatch(name)
            if found and not _running(int(found[1])):
                with contextlib.suppress(OSError):
                    os.unlink(os.path.join(folder, name))
                    removed += 1
    return removed


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process: running
        return True
    return True


def rewrite(path: Path, data: bytes) -> None:
    """Give the file at `path` new contents, as `write_atomic` does, keeping what it is: a
    link's target is the file rewritten (the link stays), and its mode and owner stay."""
    target = Path(os.path.realpath(path))
    try:
        before = os.stat(target)
    except OSError as exc:
        raise FeedpressError(f"{path}: cannot write: {exc.strerror}") from None
    write_atomic(target, data, stat.S_IMODE(before.st_mode))
    with contextlib.suppress(OSError):  # only root may give a file away: then it does
        if (before.st_uid, before.st_gid) != (os.getuid(), os.getgid()):
            os.chown(target, before.st_uid, before.st_gid)


def write_under(root: Path, relpath: PurePosixPath, data: bytes, *, dry_run: bool = False
                ) -> bool:
    """Make `root/relpath` hold `data`, as `write_atomic` does, unless it holds them already;
    whether that took (with `dry_run`: would take) a write.

    Every folder below `root` is opened, or made, without following a link: a link on
    the way, even one swapped in while a build runs, stops the write with an error
    instead of leading it elsewhere. (`root` itself may be a link: the operator's
    choice.) A link at the file itself is replaced, never written through.
    """
    try:
        folder = _open_folders(root, relpath.parent.parts, make=not dry_run)
    except OSError as exc:
        raise FeedpressError(f"{shown(Path(exc.filename or root))}: cannot write there "
                             f"({exc.strerror}): feedpress writes only into folders of its "
                             f"own in {shown(root)}; a link or a file on the way is not "
                             "followed") from None
    if folder is None:  # a dry run, and the folder is not there yet
        return True
    try:
        if _holds(folder, relpath.name, data):
            return False
        if not dry_run:
            _replace_in(folder, relpath.name, data, root / relpath)
        return True
    finally:
        os.close(folder)


def _open_folders(root: Path, parts: tuple[str, ...], *, make: bool) -> int | None:
    """A descriptor of `root`/parts..., each part opened without following links."""
    if make:
        root.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        if make:
            raise
        return None
    for depth, part in enumerate(parts, start=1):
        try:
            try:
                inner = os.open(part, _FOLDER_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not make:
                    return None
                os.mkdir(part, 0o755, dir_fd=fd)
                inner = os.open(part, _FOLDER_FLAGS, dir_fd=fd)
        except OSError as exc:  # named as the folder that stands in the way
            raise OSError(exc.errno, exc.strerror, str(root.joinpath(*parts[:depth]))) from None
        finally:
            os.close(fd)
        fd = inner
    return fd


def _holds(folder: int, name: str, data: bytes) -> bool:
    """Whether the regular file `name` in `folder` holds exactly `data`."""
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=folder)
    except OSError:  # not there, or a link
        return False
    with os.fdopen(fd, "rb") as stream:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or found.st_size != len(data):
            return False
        return stream.read() == data


def _replace_in(folder: int, name: str, data: bytes, shown: Path) -> None:
    """`write_atomic` within an open folder: a temp file beside `name`, then a rename."""
    for _ in range(3):
        temp = f".{name}.{os.getpid()}.{next(_TEMP_COUNT)}.tmp"
        try:
            fd = os.open(temp, _TEMP_FLAGS, 0o600, dir_fd=folder)
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise FeedpressError(f"{shown}: cannot write: {exc.strerror}") from None
    else:
        raise FeedpressError(f"{shown}: cannot write: no free temporary name")
    try:
        with os.fdopen(fd, "wb") as stream:
            os.fchmod(fd, 0o644)  # readable by the web server whatever the umask
            stream.write(data)
        os.replace(temp, name, src_dir_fd=folder, dst_dir_fd=folder)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=folder)
        if isinstance(exc, OSError):
            raise FeedpressError(f"{shown}: cannot write: {exc.strerror}") from None
        raise


def remove_under(root: Path, relpath: PurePosixPath, wanted: Callable[[bytes], bool], *,
                 dry_run: bool = False) -> bool:
    """Remove the regular file `root/relpath` if `wanted` says yes to its bytes, and then
    the folders it leaves empty (up to `root`); whether it was (would be) removed.

    As in `write_under`, each folder below `root` is opened without following links,
    and the file is read and removed by its name in the folder so opened: a link on the
    way, even one swapped in since the manifest was read, makes it stay, never leads a
    removal outside `root`.
    """
    try:
        folder = _open_folders(root, relpath.parent.parts, make=False)
    except OSError:
        return False
    if folder is None:
        return False
    try:
        if not _file_wanted(folder, relpath.name, wanted):
            return False
        if not dry_run:
            os.unlink(relpath.name, dir_fd=folder)
    except OSError:
        return False
    finally:
        os.close(folder)
    if not dry_run:
        _remove_empty_folders(root, relpath.parent.parts)
    return True


def _file_wanted(folder: int, name: str, wanted: Callable[[bytes], bool]) -> bool:
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=folder)
    except OSError:  # not there, or a link
        return False
    with os.fdopen(fd, "rb") as stream:
        return stat.S_ISREG(os.fstat(fd).st_mode) and wanted(stream.read())


def _remove_empty_folders(root: Path, parts: tuple[str, ...]) -> None:
    """The folders `parts` under `root`, deepest first, while each is left empty."""
    for depth in range(len(parts), 0, -1):
        try:
            parent = _open_folders(root, parts[: depth - 1], make=False)
        except OSError:
            return
        if parent is None:
            return
        try:
            os.rmdir(parts[depth - 1], dir_fd=parent)
        except OSError:  # not empty (or not a folder): the ones above are not either
            return
        finally:
            os.close(parent)
