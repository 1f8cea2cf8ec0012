"""Putting files into the output folder without ever leaving a broken one.

Every file is written to a temporary name beside it and renamed into place,
so a reader (or a web server) sees the old file or the new one, never half
of one. Files whose bytes did not change are not touched. A manifest
remembers what feedpress wrote, so that feeds of tags or blogs that are
gone can be removed without touching anything else in the folder, and
with each file the digest of what it was made from (its "recipe") and its
size, so a rebuild can tell an unchanged feed without making it again. (A
feed edited by hand to the same size is not noticed; `build --no-cache`
makes and compares every file.)

Which files a build has is the builder's to say: this module only puts
each in place, and removes only what its own manifest lists.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from feedpress.files import write_atomic

MANIFEST = ".feedpress-manifest.json"


class Entry(NamedTuple):
    """What the manifest knows of one file: its recipe and its size.

    A named tuple: a build reads one per feed file, thousands of them.
    """

    recipe: str
    size: int


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

    def __init__(self, out_dir: Path, *, dry_run: bool = False, trust: bool = True) -> None:
        """`trust` False makes every file again instead of believing the manifest's recipes."""
        self.out_dir = out_dir
        self.dry_run = dry_run
        self.trust = trust
        self.previous = read_manifest(out_dir)
        self.outcome = Outcome()
        self._entries: dict[PurePosixPath, Entry] = {}
        self._theirs: set[PurePosixPath] = set()
        self.left: list[PurePosixPath] = []  # gone from the build, but no longer as written

    def fresh(self, relpath: PurePosixPath, recipe: str) -> bool:
        """True, and the file kept, if it was made from `recipe` and is still there whole."""
        known = self.previous.get(relpath)
        if not self.trust or known is None or known.recipe != recipe:
            return False
        if not _has_size(os.path.join(self.out_dir, relpath), known.size):
            return False
        self._entries[relpath] = known
        self.outcome.unchanged.append(relpath)
        return True

    def put(self, relpath: PurePosixPath, data: bytes, recipe: str = "") -> None:
        """Make the file hold `data`, writing it only if its bytes differ."""
        self.record(relpath, recipe, len(data), place(self.out_dir, relpath, data, self.dry_run))

    def put_own(self, relpath: PurePosixPath, data: bytes) -> bool:
        """Like `put`, for a file that people may keep their own of (a page): the file is
        written only if it is not there, or is as feedpress last wrote it (its digest is
        its recipe). Otherwise it is left alone, and False returned."""
        recipe = hashlib.sha256(data).hexdigest()
        target = os.path.join(self.out_dir, relpath)
        known = self.previous.get(relpath)
        if os.path.lexists(target) and not (
                known is not None and os.path.isfile(target) and not os.path.islink(target)
                and _has_size(target, known.size) and _digest(target) == known.recipe):
            self._theirs.add(relpath)  # no longer feedpress's: never removed either
            return False
        self.put(relpath, data, recipe)
        return True

    def _removable(self, target: Path, entry: Entry) -> bool:
        return _removable_file(target, self.out_dir, entry)

    def record(self, relpath: PurePosixPath, recipe: str, size: int, written: bool) -> None:
        """Account for a file that `place` put, maybe in another process."""
        self._entries[relpath] = Entry(recipe, size)
        (self.outcome.written if written else self.outcome.unchanged).append(relpath)

    @property
    def digest(self) -> str:
        """The digest of the manifest this build writes (see `intact`)."""
        return manifest_digest(self._entries)

    def finish(self) -> Outcome:
        """Remove what an earlier build wrote that this one did not; save the manifest."""
        for relpath in sorted(set(self.previous) - set(self._entries) - self._theirs,
                              key=_parts):
            target = self.out_dir / relpath
            if not self._removable(target, self.previous[relpath]):
                if os.path.lexists(target):
                    self.left.append(relpath)
                continue
            self.outcome.removed.append(relpath)
            if not self.dry_run:
                target.unlink()
                _prune(target.parent, self.out_dir)
        if not self.dry_run and self._entries != self.previous:
            _write_manifest(self.out_dir, self._entries)
        self.outcome.written.sort(key=_parts)
        self.outcome.unchanged.sort(key=_parts)
        return self.outcome


def _removable_file(target: Path, out_dir: Path, entry: Entry) -> bool:
    """Whether `target` is a file feedpress may remove: a regular file (not a link) inside
    `out_dir` by its real path, at the size the manifest recorded. Anything else (a
    manifest edited by hand, a file replaced since) is left alone."""
    if target.is_symlink() or not target.is_file():
        return False
    real = Path(os.path.realpath(target))
    if Path(os.path.realpath(out_dir)) not in real.parents:
        return False
    return _has_size(target, entry.size)


def intact(out_dir: Path, digest: str) -> list[PurePosixPath] | None:
    """The files of the manifest in `out_dir`, if its entries have `digest` and every
    file is still there at its size; otherwise None."""
    entries = read_manifest(out_dir)
    if not entries or manifest_digest(entries) != digest:
        return None
    if not all(_has_size(os.path.join(out_dir, path), entry.size)
               for path, entry in entries.items()):
        return None
    return sorted(entries, key=_parts)


def manifest_digest(entries: dict[PurePosixPath, Entry]) -> str:
    digest = hashlib.sha256()
    for path, entry in sorted(entries.items(), key=_first_parts):
        digest.update(f"{path.as_posix()}\0{entry.recipe}\0{entry.size}\n".encode())
    return digest.hexdigest()


def place(out_dir: Path, relpath: PurePosixPath, data: bytes, dry_run: bool = False) -> bool:
    """Make `out_dir/relpath` hold `data`; True if that took (or with `dry_run` would take)
    a write, False if the file already held exactly those bytes."""
    target = out_dir / relpath
    if _same(target, data):
        return False
    if not dry_run:
        write_atomic(target, data)
    return True


def read_manifest(out_dir: Path) -> dict[PurePosixPath, Entry]:
    """The files an earlier build wrote; paths that would leave `out_dir` are ignored."""
    try:
        listed = json.loads((out_dir / MANIFEST).read_text("utf-8"))["files"]
        entries = {PurePosixPath(p): Entry(str(e["recipe"]), int(e["size"]))
                   for p, e in listed.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
    return {p: e for p, e in entries.items() if not p.is_absolute() and ".." not in p.parts}


def _write_manifest(out_dir: Path, entries: dict[PurePosixPath, Entry]) -> None:
    """The manifest as JSON with a line per file: as readable as indented JSON, and
    made by the C encoder (indenting takes Python's, ten times slower)."""
    lines = [f"{_json(p.as_posix())}: {{\"recipe\": {_json(e.recipe)}, \"size\": {e.size:d}}}"
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


def _digest(target: str) -> str:
    with open(target, "rb") as file:
        return hashlib.sha256(file.read()).hexdigest()


def _same(target: Path, data: bytes) -> bool:
    return _has_size(target, len(data)) and target.read_bytes() == data


def _prune(folder: Path, root: Path) -> None:
    """Remove folders left empty by a removal, up to (not including) `root`."""
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def _parts(path: PurePosixPath) -> tuple[str, ...]:
    """The order of paths, compared in C: sorting paths themselves compares in Python."""
    return path.parts


def _first_parts(item: tuple[PurePosixPath, Entry]) -> tuple[str, ...]:
    return item[0].parts
