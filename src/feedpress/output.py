"""Putting files into the output folder without ever leaving a broken one.

Every file is written to a temporary name beside it and renamed into place,
so a reader (or a web server) sees the old file or the new one, never half
of one. Files whose bytes did not change are not touched. A manifest
remembers what feedpress wrote, so that feeds of tags or blogs that are
gone can be removed without touching anything else in the folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from feedpress.errors import FeedpressError

MANIFEST = ".feedpress-manifest.json"


@dataclass
class Outcome:
    """What a sync did, or with `dry_run` would do, to each file."""

    written: list[PurePosixPath] = field(default_factory=list)
    unchanged: list[PurePosixPath] = field(default_factory=list)
    removed: list[PurePosixPath] = field(default_factory=list)

    @property
    def changed(self) -> list[PurePosixPath]:
        return sorted(self.written + self.removed)


def sync(out_dir: Path, files: Mapping[PurePosixPath, bytes], *, dry_run: bool = False) -> Outcome:
    """Make `out_dir` hold `files`, and remove what an earlier sync wrote that is gone."""
    outcome = Outcome()
    previous = read_manifest(out_dir)
    for relpath in sorted(files):
        target = out_dir / relpath
        if _same(target, files[relpath]):
            outcome.unchanged.append(relpath)
            continue
        outcome.written.append(relpath)
        if not dry_run:
            write_atomic(target, files[relpath])
    for relpath in sorted(previous - set(files)):
        target = out_dir / relpath
        if target.is_file():
            outcome.removed.append(relpath)
            if not dry_run:
                target.unlink()
                _prune(target.parent, out_dir)
    if not dry_run:
        _write_manifest(out_dir, files)
    return outcome


def write_atomic(target: Path, data: bytes) -> None:
    """Replace `target` with `data` in one step: a temp file in its folder, then rename."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(data)
            os.chmod(temp, 0o644)
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise FeedpressError(f"{target}: cannot write: {exc.strerror}") from None


def read_manifest(out_dir: Path) -> set[PurePosixPath]:
    """The files an earlier build wrote; paths that would leave `out_dir` are ignored."""
    try:
        listed = json.loads((out_dir / MANIFEST).read_text("utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    paths = {PurePosixPath(p) for p in listed if isinstance(p, str)}
    return {p for p in paths if not p.is_absolute() and ".." not in p.parts}


def _write_manifest(out_dir: Path, files: Mapping[PurePosixPath, bytes]) -> None:
    listed = {"files": sorted(p.as_posix() for p in files)}
    data = (json.dumps(listed, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    if not _same(out_dir / MANIFEST, data):
        write_atomic(out_dir / MANIFEST, data)


def _same(target: Path, data: bytes) -> bool:
    try:
        return target.stat().st_size == len(data) and target.read_bytes() == data
    except OSError:
        return False


def _prune(folder: Path, root: Path) -> None:
    """Remove folders left empty by a removal, up to (not including) `root`."""
    while folder != root and folder.is_relative_to(root):
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
