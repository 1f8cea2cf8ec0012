"""The exceptions feedpress raises, and the problems it reports about input.

Every message is written for the person running feedpress, not for a
debugger: the CLI prints them as they are, without a traceback.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from feedpress.text import printable


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"


_SEVERITIES = {severity.value: severity for severity in Severity}


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with one input file, located as precisely as known.

    Problems are collected, not raised, so that a run can report every bad
    input at once instead of stopping at the first.
    """

    path: Path
    line: int | None
    field: str | None
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        """`error: path:line: field: message` (or `warning:`): one prefix, first, on every
        line, so that `grep ^error:` finds every error."""
        what = f"{self.field}: {self.message}" if self.field else self.message
        return printable(f"{self.severity.value}: {_place(self)}: {what}")

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def as_row(self) -> tuple[str, int | None, str | None, str, str]:
        """Plain values, for the build cache to store."""
        return (str(self.path), self.line, self.field, self.message, self.severity.value)

    def placeless_row(self) -> tuple[int | None, str | None, str, str]:
        """`as_row` without the path, for a file's own problems (see `at`)."""
        return (self.line, self.field, self.message, self.severity.value)

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Problem:
        return cls.at(Path(row[0]), row[1:])

    @classmethod
    def at(cls, path: Path, row: Sequence[Any]) -> Problem:
        """The problem of `placeless_row` in the file `path` (one `Path` for all of a
        file's problems: a build of 10,000 warned posts makes no more).

        Made as a frozen dataclass's `__init__` would make it, at a third of the cost:
        a build from the cache makes one per warning, in the process that waits on
        the workers.
        """
        line, field, message, severity = row
        problem: Problem = object.__new__(cls)
        problem.__dict__.update(path=path, line=line, field=field, message=message,
                                severity=_SEVERITIES[severity])
        return problem


def grouped(problems: Sequence[Problem], examples: int = 3,
            more: str = "`feedpress check` lists them all") -> list[str]:
    """Problems as lines for a person, each led by `error:` or `warning:`; warnings of one
    kind (field and message) said once, with the number of files and the first few
    places: a newsroom of 10,000 posts that all lack one field gets one line, not 10,000.
    `more` says where to see every one: `check` for a post's, `build -v` for a build's."""
    kinds: dict[tuple[str | None, str], list[Problem]] = {}
    for problem in problems:
        if not problem.is_error:
            kinds.setdefault((problem.field, problem.message), []).append(problem)
    files = {kind: len({str(p.path) for p in found}) for kind, found in kinds.items()}
    lines = []
    for problem in problems:
        kind = (problem.field, problem.message)
        if problem.is_error or files[kind] == 1:
            lines.append(str(problem))
        elif kinds[kind][0] is problem:
            where = ", ".join(_place(p) for p in _firsts(kinds[kind], examples))
            what = f"{problem.field}: {problem.message}" if problem.field else problem.message
            lines.append(printable(f"warning: {what} ({files[kind]:,} files, e.g. {where}; "
                                   f"{more})"))
    return lines


def _firsts(problems: list[Problem], count: int) -> list[Problem]:
    """The first problem of each of the first `count` files that `problems` name."""
    firsts: dict[str, Problem] = {}
    for problem in problems:
        firsts.setdefault(str(problem.path), problem)
        if len(firsts) == count:
            break
    return list(firsts.values())


def _place(problem: Problem) -> str:
    where = shown(problem.path)
    return f"{where}:{problem.line}" if problem.line else where


def by_place(problem: Problem) -> tuple[str, int]:
    """The order problems are listed in: by file, then by line, whatever found them."""
    return str(problem.path), problem.line or 0


def relative(path: Path) -> Path:
    """`path` as the user would type it from the current folder, where that is shorter."""
    return Path(shown(path))


def shown(path: Path) -> str:
    """`relative(path)` as text, without making a `Path` of it (a run may show 10,000)."""
    text, here = str(path), os.path.join(os.getcwd(), "")
    if not text.startswith(here):
        return "." if text == here[:-1] else text
    return text[len(here):] or "."


class FeedpressError(Exception):
    """Base of every error feedpress raises on purpose; its text is for users."""

    exit_code = 1
    listed = False  # True: the text is lines that each say error: or warning: already


class ConfigError(FeedpressError):
    """`feedpress.yaml` is missing, unreadable or invalid."""

    listed = True  # its message is problems, each line led by error: or warning:

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class InvalidPostsError(FeedpressError):
    """One or more posts are invalid; nothing was written."""

    listed = True

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(self.lines()))

    def lines(self, *, each: bool = False, warnings: bool = True) -> list[str]:
        """The problems as lines, warnings grouped by kind unless `each`, and none without
        `warnings`; then the count of errors."""
        errors = [p for p in self.problems if p.is_error]
        if each:
            said = self.problems if warnings else errors
            lines = [str(p) for p in said]
        else:  # the errors, which stopped the build, first; the warnings together after
            kept = [p for p in self.problems if not p.is_error] if warnings else []
            lines = [str(p) for p in errors] + grouped(kept)
        return [*lines, f"error: {len(errors)} error(s) in posts; nothing was written."]


class UsageError(FeedpressError):
    """A command was asked for something it cannot do as asked."""

    exit_code = 2
