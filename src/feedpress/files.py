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
import errno
import itertools
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from feedpress.errors import FeedpressError, shown

_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
_FOLDER_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_PARENT_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0)
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_TEMP_COUNT = itertools.count()


def write_atomic(target: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `target` with `data` in one step: a temp file in its folder, then rename.
    `mode` 0o644 by default: readable by the web server whatever the umask. The folder
    is made if missing."""
    try:
        try:
            folder = os.open(target.parent, _PARENT_FLAGS)
        except FileNotFoundError:
            target.parent.mkdir(parents=True, exist_ok=True)
            folder = os.open(target.parent, _PARENT_FLAGS)
    except OSError as exc:
        raise FeedpressError(f"{target}: cannot write: {exc.strerror}") from None
    try:
        _replace_in(folder, target.name, data, target, mode)
    finally:
        os.close(folder)


# What `_replace_in` names a file being written: ".rss.xml.<pid>.<n>.tmp".
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
    """Whether process `pid` may still write: not once it is gone, nor while it is a zombie
    (a killed build's workers are, until someone reaps them), which `kill(pid, 0)` alone
    would take for running."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process: running
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            state = stat.read().rpartition(b")")[2].split()[0]
    except (OSError, IndexError):  # no /proc, or it ended meanwhile
        return True
    return state not in (b"Z", b"X")


def read_regular(path: Path, most: int | None = None) -> tuple[bytes, os.stat_result]:
    """The bytes and stat of the regular file at `path`: not through a link at its name,
    not a pipe (which would block) or a device, and of at most `most` bytes when given;
    else an `OSError` (`FileNotFoundError` if nothing is there)."""
    fd = os.open(path, _READ_FLAGS)
    with os.fdopen(fd, "rb") as stream:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode):
            raise OSError(errno.EINVAL, "not a regular file", str(path))
        if most is not None and found.st_size > most:
            raise OSError(errno.EFBIG, "too big", str(path))
        return stream.read() if most is None else stream.read(most + 1), found


def rewrite(path: Path, data: bytes, was: os.stat_result) -> None:
    """Give the regular file at `path`, read as `was` (`read_regular`), new contents as
    `write_atomic` does, keeping its mode and owner: in its folder, by a temporary file
    renamed over it, so never through a link; and not at all if another file has taken
    its name since it was read (a link swapped in would otherwise lead the write out)."""
    try:
        folder = os.open(path.parent, _PARENT_FLAGS)
    except OSError as exc:
        raise FeedpressError(f"{shown(path)}: cannot write: {exc.strerror}") from None
    try:
        try:
            now = os.stat(path.name, dir_fd=folder, follow_symlinks=False)
        except OSError as exc:
            raise FeedpressError(f"{shown(path)}: cannot write: {exc.strerror}") from None
        if (now.st_dev, now.st_ino) != (was.st_dev, was.st_ino):
            raise FeedpressError(f"{shown(path)}: replaced since it was read; not written")
        _replace_in(folder, path.name, data, path, stat.S_IMODE(was.st_mode))
        with contextlib.suppress(OSError):  # only root may give a file away: then it does
            if (was.st_uid, was.st_gid) != (os.getuid(), os.getgid()):
                os.chown(path.name, was.st_uid, was.st_gid, dir_fd=folder,
                         follow_symlinks=False)
    finally:
        os.close(folder)


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
        if _regular_bytes(folder, relpath.name, len(data)) == data:
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
        fd = os.open(root, _PARENT_FLAGS)
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
                with contextlib.suppress(FileExistsError):  # made by another writer meanwhile
                    os.mkdir(part, 0o755, dir_fd=fd)
                inner = os.open(part, _FOLDER_FLAGS, dir_fd=fd)
        except OSError as exc:  # named as the folder that stands in the way
            raise OSError(exc.errno, exc.strerror, str(root.joinpath(*parts[:depth]))) from None
        finally:
            os.close(fd)
        fd = inner
    return fd


def _regular_bytes(folder: int, name: str, size: int | None = None) -> bytes | None:
    """The bytes of `name` in `folder` if it is a regular file (not a link, a pipe or a
    device), and of `size` when one is given (a file of another size is not read)."""
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=folder)
    except OSError:  # not there, or a link
        return None
    try:
        found = os.fstat(fd)
        if not stat.S_ISREG(found.st_mode) or size not in (None, found.st_size):
            return None  # a folder too: a file object refuses to open one
        with os.fdopen(os.dup(fd), "rb") as stream:
            return stream.read()
    finally:
        os.close(fd)


def _replace_in(folder: int, name: str, data: bytes, shown: Path, mode: int = 0o644) -> None:
    """Replace `name` in the open `folder` with `data`: a temp file beside it, then a
    rename; `shown` names it in an error.

    The temp file is named by process and count, not by `tempfile`'s random names (a
    build writes a thousand files, and those cost more than the write), so that the next
    build can tell a killed writer's (`sweep_temporary`); a name left by a killed
    process of the same number is skipped, and after three a random one is taken.
    """
    names = [f".{name}.{os.getpid()}.{next(_TEMP_COUNT)}.tmp" for _ in range(3)]
    for temp in [*names, f".{name}.{os.urandom(6).hex()}.tmp"]:
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
            os.fchmod(fd, mode)
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
        found = _regular_bytes(folder, relpath.name)
        if found is None or not wanted(found):
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
