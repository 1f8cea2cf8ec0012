"""Putting files into the output folder without ever leaving a broken one.

Every file is written to a temporary name beside it and renamed into place,
so a reader (or a web server) sees the old file or the new one, never half
of one. Files whose bytes did not change are not touched. A manifest
remembers what feedpress wrote, so that feeds of tags or blogs that are
gone can be removed without touching anything else in the folder, and
with each file the digest of what it was made from (its "recipe"), its
size and the digest of its bytes. A rebuild tells an unchanged feed by
its recipe and size, without making it again (a feed edited by hand to
the same size is not noticed; `build --no-cache` makes and compares every
file); a removal reads the file and checks all three, so that a file
someone changed or replaced since is left where it is.

The bytes' digest is BLAKE3's: five times faster than SHA-256 here, it adds
about 1 % to a cold build that writes 300 MB, where SHA-256 added 5 %.

Which files a build has is the builder's to say: this module only puts
each in place, and removes only what its own manifest lists.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from blake3 import blake3

from feedpress.errors import FeedpressError, shown
from feedpress.files import (
    read_regular,
    remove_under,
    sweep_temporary,
    write_atomic,
    write_under,
)
from feedpress.text import is_utf8

MANIFEST = ".feedpress-manifest.json"
# Beside it, the files a build is about to put in place, noted before each one is: a build
# killed before it saves its manifest leaves the next one knowing them for its own.
PENDING = ".feedpress-manifest.pending"


class Entry(NamedTuple):
    """What the manifest knows of one file: its recipe, its size and its bytes' digest
    ("" in a manifest from before feedpress kept them: such a file is made again, and
    never removed).

    A named tuple: a build reads one per feed file, thousands of them.
    """

    recipe: str
    size: int
    digest: str


@dataclass
class Outcome:
    """What a sync did, or with `dry_run` would do, to each file."""

    written: list[PurePosixPath] = field(default_factory=list)
    unchanged: list[PurePosixPath] = field(default_factory=list)
    removed: list[PurePosixPath] = field(default_factory=list)

    @property
    def changed(self) -> list[PurePosixPath]:
        return sorted(self.written + self.removed, key=_parts)


class Output:
    """One build's writes into `out_dir`, file by file, so no build holds them all."""

    def __init__(self, out_dir: Path, *, dry_run: bool = False, trust: bool = True,
                 sweep: bool = True,
                 named: Callable[[PurePosixPath], bool] = lambda path: False) -> None:
        """`trust` False makes every file again instead of believing the manifest's recipes;
        `sweep`, for when the last build did not finish, removes the temporary files a
        killed build left (see `finish`) and takes the files it noted (`PENDING`) for
        feedpress's own.

        A note there says a build did not finish, whatever `sweep` says (a build
        takes its note away when it finishes; one with `--no-cache`, killed,
        leaves the cache no word of itself). Only the files it notes that are
        `named` as a build names its files are taken: a build notes no other,
        and whoever can write into the folder could forge a note naming theirs.
        """
        self.out_dir = out_dir  # as given: what problems and reports name
        # Where every read and write goes, resolved once: a link to the output folder
        # pointed elsewhere while the build runs cannot move it.
        self.real = Path(os.path.realpath(out_dir))
        noted = os.path.lexists(self.real / PENDING)
        self.sweep = sweep or noted
        self.dry_run = dry_run
        self.trust = trust
        self.previous, self.damaged = read_manifest(self.real)
        if noted:  # the last build may have been killed: the files it noted are its own
            taken = {path: entry for path, entry in _pending(self.real).items()
                     if named(path)}
            self.previous.update(taken)
            if taken and self.damaged == _MISSING:  # a first build, killed
                files = f"{len(taken):,} file{'' if len(taken) == 1 else 's'}"
                self.damaged = (f"missing: feedpress takes for its own only the {files} its "
                                "last build, stopped before it could save it, noted as it "
                                "wrote them (it removes no other, and says which it writes "
                                "over)")
        self.outcome = Outcome()
        self._entries: dict[PurePosixPath, Entry] = {}
        self._theirs: set[PurePosixPath] = set()
        self.left: list[PurePosixPath] = []  # gone from the build, but no longer as written
        self.replaced: list[PurePosixPath] = []  # written over a file feedpress did not write
        self._unknown: set[PurePosixPath] = set()  # there, and not in the manifest

    def fresh(self, relpath: PurePosixPath, recipe: str) -> bool:
        """True, and the file kept, if it was made from `recipe` and is still there whole."""
        known = self.previous.get(relpath)
        if not self.trust or known is None or known.recipe != recipe or not known.digest:
            return False
        if not _has_size(os.path.join(self.real, relpath), known.size):
            return False
        self._entries[relpath] = known
        self.outcome.unchanged.append(relpath)
        return True

    def expect(self, relpaths: Iterable[PurePosixPath]) -> None:
        """Note which of `relpaths`, about to be written (maybe by other processes), are
        there already but not in the manifest: a file written over them is `replaced`."""
        self._unknown.update(path for path in relpaths if path not in self.previous
                             and os.path.lexists(os.path.join(self.real, path)))

    def put(self, relpath: PurePosixPath, data: bytes, recipe: str = "") -> None:
        """Make the file hold `data`, writing it only if its bytes differ."""
        self.expect([relpath])
        entry = Entry(recipe, len(data), digest(data))
        self.record(relpath, entry, place(self.real, relpath, data, self.dry_run,
                                          noted=entry.digest))

    def put_own(self, relpath: PurePosixPath, data: bytes) -> bool:
        """Like `put`, for a file that people may keep their own of (a page): the file is
        written only if it is not there, or is as feedpress last wrote it, or already holds
        `data` (a build stopped before its manifest was saved). Otherwise it is left alone,
        and False returned."""
        target = self.real / relpath
        known = self.previous.get(relpath)
        if os.path.lexists(target) and not (known is not None and _as_recorded(target, known)) \
                and (target.is_symlink() or not _same(target, data)):
            self._theirs.add(relpath)  # no longer feedpress's: never removed either
            return False
        self.put(relpath, data, digest(data))
        return True

    def record(self, relpath: PurePosixPath, entry: Entry, written: bool) -> None:
        """Account for a file that `place` put, maybe in another process."""
        self._entries[relpath] = entry
        (self.outcome.written if written else self.outcome.unchanged).append(relpath)
        if written and relpath in self._unknown:
            self.replaced.append(relpath)

    @property
    def troubled(self) -> bool:
        """Whether the folder holds files this build met and left, or a manifest it could
        not read: then the next build must look at the folder again, not trust a memo."""
        return bool(self._theirs or self.left or self.replaced or self.damaged)

    @property
    def digest(self) -> str:
        """The digest of the manifest this build writes (see `intact`)."""
        return manifest_digest(self._entries)

    def keep_record(self) -> None:
        """For a build that stops half way: the manifest keeps every file it listed and
        learns those recorded so far, so that the next build still knows them all. The
        note stays: workers may have put files in place that never came to be recorded
        (one worker's error ends the recording of the others')."""
        if not self.dry_run and self._entries:
            _write_manifest(self.real, {**self.previous, **self._entries})

    def finish(self) -> Outcome:
        """Remove what an earlier build wrote that this one did not; save the manifest."""
        for relpath in sorted(set(self.previous) - set(self._entries) - self._theirs,
                              key=_parts):
            entry = self.previous[relpath]
            if entry.digest and remove_under(self.real, relpath, _matching(entry),
                                             dry_run=self.dry_run):
                self.outcome.removed.append(relpath)
            elif os.path.lexists(self.real / relpath):
                self.left.append(relpath)
        if not self.dry_run and self._entries != self.previous:
            _write_manifest(self.real, self._entries)
        if not self.dry_run:
            _forget_pending(self.real)
        if self.sweep and not self.dry_run:
            sweep_temporary(self.real)
        self.outcome.written.sort(key=_parts)
        self.outcome.unchanged.sort(key=_parts)
        return self.outcome


def _matching(entry: Entry) -> Callable[[bytes], bool]:
    """Whether a file's bytes are as the manifest recorded them: anything else (a file
    changed or replaced since, even to the same size) is someone's, and stays."""
    return lambda data: len(data) == entry.size and digest(data) == entry.digest


def _as_recorded(target: Path, entry: Entry) -> bool:
    """Whether `target` is a regular file (not a link) of the size and digest recorded."""
    if target.is_symlink() or not target.is_file() or not entry.digest:
        return False
    try:
        return _has_size(target, entry.size) and _matching(entry)(target.read_bytes())
    except OSError:
        return False


def digest(data: bytes) -> str:
    """The digest of a file's bytes, as the manifest records it."""
    return blake3(data).hexdigest()


def intact(out_dir: Path, digest: str) -> list[PurePosixPath] | None:
    """The files of the manifest in `out_dir`, if its entries have `digest` and every
    file is still there at its size, and no build left a note since (one killed with
    `--no-cache` tells the cache nothing); otherwise None."""
    if os.path.lexists(os.path.join(out_dir, PENDING)):
        return None
    entries, damaged = read_manifest(out_dir)
    if not entries or damaged or manifest_digest(entries) != digest:
        return None
    if not all(_has_size(os.path.join(out_dir, path), entry.size)
               for path, entry in entries.items()):
        return None
    return sorted(entries, key=_parts)


def manifest_digest(entries: dict[PurePosixPath, Entry]) -> str:
    summed = blake3()
    for path, entry in sorted(entries.items(), key=_first_parts):
        summed.update(f"{path.as_posix()}\0{entry.recipe}\0{entry.size}\0{entry.digest}\n"
                      .encode())
    return summed.hexdigest()


def place(out_dir: Path, relpath: PurePosixPath, data: bytes, dry_run: bool = False, *,
          noted: str | None = None) -> bool:
    """Make `out_dir/relpath` hold `data`; True if that took (or with `dry_run` would take)
    a write, False if the file already held exactly those bytes. With `noted` (the bytes'
    digest), the file is first noted as pending (see `PENDING`).

    Raises `FeedpressError` if a link (or a file) stands where a folder on the way should
    be: a build writes into folders of its own in its output folder, and never through
    a link, even one swapped in while it runs (see `files.write_under`).
    """
    if noted is not None and not dry_run:
        _note_pending(out_dir, relpath, len(data), noted)
    return write_under(out_dir, relpath, data, dry_run=dry_run)


_PENDING_FLAGS = (os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
                  | getattr(os, "O_CLOEXEC", 0))  # a link or a pipe there is an error


def _note_pending(out_dir: Path, relpath: PurePosixPath, size: int, digest: str) -> None:
    """One line appended (one `write`: the workers' lines do not mix) to `PENDING`."""
    line = json.dumps([relpath.as_posix(), size, digest], ensure_ascii=False) + "\n"
    try:
        try:
            fd = os.open(out_dir / PENDING, _PENDING_FLAGS, 0o644)
        except FileNotFoundError:  # the first file of a new output folder
            out_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(out_dir / PENDING, _PENDING_FLAGS, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as exc:
        # A link or a pipe there (ELOOP, ENXIO), or a folder (EISDIR): not a full or
        # read-only disk, whose own words say enough.
        advice = (" (it is feedpress's note of the files it is writing: if it is not a "
                  "plain file, remove it)" if exc.errno in _NOT_A_FILE else "")
        raise FeedpressError(f"{shown(out_dir / PENDING)}: cannot write: "
                             f"{exc.strerror}{advice}") from None


_NOT_A_FILE = frozenset({errno.ELOOP, errno.ENXIO, errno.EISDIR, errno.EAGAIN})


def _pending(out_dir: Path) -> dict[PurePosixPath, Entry]:
    """The files a killed build noted as pending that are there as it noted them: its own,
    to be removed like any the manifest lists once they are no longer built."""
    try:
        lines = read_regular(out_dir / PENDING, _MANIFEST_MOST)[0].splitlines()
    except OSError:  # none (the usual case), or not a file of ours
        return {}
    found = {}
    for line in lines:
        try:
            path, size, digest = json.loads(line)
        except (ValueError, TypeError):  # a line cut short by the kill
            continue
        entry = _entry(path, {"recipe": "", "size": size, "digest": digest})
        if entry is not None and entry[1].digest and not _through_link(out_dir, entry[0]) \
                and _as_recorded(out_dir / entry[0], entry[1]):
            found[entry[0]] = entry[1]
    return found


def _through_link(out_dir: Path, relpath: PurePosixPath) -> bool:
    """Whether a folder on the way to `relpath` is a link: a build writes through none, so
    a file there is no build's (and would only be left, with a warning, at its removal)."""
    folder = out_dir
    for part in relpath.parent.parts:
        folder = folder / part
        if folder.is_symlink():
            return True
    return False


def _forget_pending(out_dir: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(out_dir / PENDING)


def read_manifest(out_dir: Path) -> tuple[dict[PurePosixPath, Entry], str | None]:
    """The files an earlier build wrote, and what was wrong with the manifest, if anything:
    an entry that is not as feedpress writes it (a path that would leave `out_dir`, a
    size that is not one) is left out, and a manifest that does not read is none."""
    try:
        listed = json.loads(read_regular(out_dir / MANIFEST, _MANIFEST_MOST)[0])["files"]
        items = list(listed.items())
    except FileNotFoundError:
        return {}, _missing(out_dir)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return {}, "cannot be read: a new one is made, and no file it listed is removed"
    entries = dict(filter(None, (_entry(path, entry) for path, entry in items)))
    if len(entries) < len(items):
        return entries, (f"{len(items) - len(entries):,} of its entries are not as feedpress "
                         "writes them: those files are not removed")
    return entries, None


_MANIFEST_MOST = 64 * 1024 * 1024  # 100,000 feeds' worth is a tenth of it


def _missing(out_dir: Path) -> str | None:
    """What to say of a manifest that is not there: nothing in a new or empty folder."""
    try:
        with os.scandir(out_dir) as entries:
            if next(entries, None) is None:
                return None
    except OSError:
        return None
    return _MISSING


_MISSING = ("missing, in a folder that already holds files: feedpress takes none of them for "
            "its own (it removes none, and says which it writes over)")


def _entry(path: object, entry: object) -> tuple[PurePosixPath, Entry] | None:
    if not isinstance(path, str) or not isinstance(entry, dict) or "\0" in path:
        return None
    recipe, size, digest = entry.get("recipe"), entry.get("size"), entry.get("digest", "")
    if not isinstance(recipe, str) or not isinstance(digest, str) or type(size) is not int \
            or size < 0 or not is_utf8(path + recipe + digest):
        return None
    relpath = PurePosixPath(path)
    if relpath.is_absolute() or relpath == PurePosixPath(".") or ".." in relpath.parts \
            or len(path.encode()) > 1024 or any(len(part.encode()) > 255
                                                for part in relpath.parts):
        return None
    return relpath, Entry(recipe, size, digest)


def _write_manifest(out_dir: Path, entries: dict[PurePosixPath, Entry]) -> None:
    """The manifest as JSON with a line per file: as readable as indented JSON, and
    made by the C encoder (indenting takes Python's, ten times slower)."""
    lines = [f"{_json(p.as_posix())}: {{\"recipe\": {_json(e.recipe)}, \"size\": {e.size:d}, "
             f"\"digest\": {_json(e.digest)}}}"
             for p, e in sorted(entries.items(), key=_first_parts)]
    data = ('{"files": {\n' + ",\n".join(lines) + "\n}}\n").encode("utf-8")
    if not _same(out_dir / MANIFEST, data):
        write_atomic(out_dir / MANIFEST, data)


def _json(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def _has_size(target: Path | str, size: int) -> bool:
    try:
        return os.stat(target).st_size == size
    except OSError:
        return False


def _same(target: Path, data: bytes) -> bool:
    return _has_size(target, len(data)) and target.read_bytes() == data


def _parts(path: PurePosixPath) -> tuple[str, ...]:
    """The order of paths, compared in C: sorting paths themselves compares in Python."""
    return path.parts


def _first_parts(item: tuple[PurePosixPath, Entry]) -> tuple[str, ...]:
    return item[0].parts
