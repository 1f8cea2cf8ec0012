"""Whether the last build still stands, so that a build with nothing to do does nothing.

A rebuild that finds every post file, the config and feedpress itself as
they were, and the output folder as it left it, would make the same
catalog and the same files again. What it needs to know that is small:
a digest of its inputs (the cache's salt, every post file's path, size
and mtime, the options), the window of time in which its catalog holds
(a post dated in the future is published once the clock passes its date),
a digest of the manifest it wrote, and what it reported. This module
makes and judges that record; the cache stores it, `output` checks the
files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from feedpress.errors import Problem
from feedpress.model import Card, from_us, to_us


@dataclass(frozen=True)
class Inputs:
    """A digest of what a build reads; `settled` is False if a file may still be changing."""

    digest: str
    settled: bool


@dataclass(frozen=True)
class Memo:
    """What a finished build leaves for the next one to judge itself by."""

    inputs: str
    since: datetime | None  # the catalog holds from the newest published post's date...
    until: datetime | None  # ...until the earliest future post's date (exclusive)
    manifest: str
    feeds: int
    posts: int
    skipped: int
    warnings: tuple[Problem, ...]
    drafts: int = 0
    scheduled: int = 0

    def holds(self, inputs: Inputs, now: datetime) -> bool:
        """True if a build from `inputs` at `now` would make exactly what this one made."""
        return (inputs.digest == self.inputs
                and (self.since is None or self.since <= now)
                and (self.until is None or now < self.until))

    def dumps(self) -> str:
        fields = {**self.__dict__, "since": _iso(self.since), "until": _iso(self.until),
                  "warnings": [p.as_row() for p in self.warnings]}
        return json.dumps(fields, ensure_ascii=False)


def loads(text: str | None) -> Memo | None:
    """The memo `Memo.dumps` wrote, or None for none or for anything unreadable."""
    if text is None:
        return None
    try:
        fields = json.loads(text)
        warnings = tuple(Problem.from_row(row) for row in fields.pop("warnings"))
        since, until = (_moment(fields.pop(key)) for key in ("since", "until"))
        return Memo(**fields, since=since, until=until, warnings=warnings)
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def inputs(parts: Iterable[str], files: Mapping[str, tuple[int, int] | None],
           settled_before_ns: int) -> Inputs:
    """The digest of `parts` (salt, options, discovery problems) and of every post file.

    `files` gives each file's (size, mtime_ns), or None for a file that
    vanished. A file modified at or after `settled_before_ns` could change
    again without its size or mtime showing it, and a build that read it
    is not remembered.
    """
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part.encode("utf-8", "surrogateescape") + b"\0")
    stats = [stat or (-1, -1) for stat in files.values()]
    digest.update("".join([f"{key}\0{size}\0{mtime_ns}\n" for key, (size, mtime_ns)
                           in zip(files, stats, strict=True)]).encode("utf-8", "surrogateescape"))
    settled = max((mtime_ns for _, mtime_ns in stats), default=-1) < settled_before_ns
    return Inputs(digest.hexdigest(), settled)


def window(valid: Iterable[Card], now: datetime) -> tuple[datetime | None, datetime | None]:
    """The span of clock times around `now` in which the published posts are the same."""
    at = to_us(now)
    since: int | None = None
    until: int | None = None
    for post in valid:
        if post.draft:
            continue
        if post.date_us <= at:
            since = post.date_us if since is None or post.date_us > since else since
        elif until is None or post.date_us < until:
            until = post.date_us
    return (None if since is None else from_us(since)), (None if until is None else from_us(until))


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _moment(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)
