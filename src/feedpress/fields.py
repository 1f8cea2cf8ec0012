"""Typed reading of YAML mappings that collects problems instead of raising.

Config sections and post front matter are both plain mappings from YAML;
`Fields` reads one of them key by key, records a `Problem` for every key
that is missing, of the wrong type or unknown, and lets the caller go on,
so that a single run reports every mistake in a file.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from feedpress.errors import Problem, Severity

T = TypeVar("T")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


class Fields:
    """A mapping being read, with where it sits in its file."""

    def __init__(
        self,
        data: dict[str, Any],
        *,
        path: Path,
        prefix: tuple[str, ...],
        locate: Callable[[tuple[str, ...]], int | None],
        problems: list[Problem],
    ) -> None:
        self.data = data
        self.path = path
        self.prefix = prefix
        self.locate = locate
        self.problems = problems
        self._seen: set[str] = set()

    def name(self, key: str) -> str:
        return ".".join((*self.prefix, key))

    def problem(self, key: str, message: str, severity: Severity = Severity.ERROR) -> None:
        line = self.locate((*self.prefix, key)) or self.locate(self.prefix)
        self.problems.append(Problem(self.path, line, self.name(key), message, severity))

    def get(self, key: str, kind: type[T], what: str) -> T | None:
        """The value of `key` if present and of type `kind`, else None."""
        self._seen.add(key)
        value = self.data.get(key)
        if value is None:
            return None
        if (kind is not bool and isinstance(value, bool)) or not isinstance(value, kind):
            self.problem(key, f"must be {what}, not {_describe(value)}")
            return None
        return value

    def text(self, key: str, default: str | None = None, *, required: bool = False) -> str | None:
        value = self.get(key, str, "a string")
        if required and self.data.get(key) is None:
            self.problem(key, "is required")
        elif value is not None and required and not value.strip():
            self.problem(key, "must not be empty")
            return None
        return default if value is None else value

    def flag(self, key: str, default: bool) -> bool:
        value = self.get(key, bool, "true or false")
        return default if value is None else value

    def integer(self, key: str, default: int, minimum: int, maximum: int = 10**9) -> int:
        """A whole number from `minimum` to `maximum`: past what any setting means, a
        number only makes something fail later (a port, a list of a million threads)."""
        value = self.get(key, int, "a whole number")
        if value is not None and not minimum <= value <= maximum:
            self.problem(key, bounds(value, minimum, maximum))
            return default
        return default if value is None else value

    def choice(self, key: str, choices: Iterable[str], default: str) -> str:
        options = tuple(choices)
        value = self.text(key)
        if value is not None and value not in options:
            self.problem(key, f"must be one of {', '.join(options)}, not {value!r}")
            return default
        return default if value is None else value

    def language(self, key: str) -> str | None:
        """A language tag such as en, ar or pt-BR; None when absent or invalid."""
        value = self.text(key)
        if value is not None and not _LANGUAGE.match(value):
            self.problem(key, f"must be a language tag such as en, ar or pt-BR, not {value!r}")
            return None
        return value

    def text_list(self, key: str, *, single: bool = True) -> list[str] | None:
        """A list of strings; with `single`, a lone string is a list of one."""
        self._seen.add(key)
        value = self.data.get(key)
        if value is None:
            return None
        if single and isinstance(value, str):
            return [value]
        if not isinstance(value, list):
            self.problem(key, f"must be a list of strings, not {_describe(value)}")
            return None
        bad = [v for v in value if isinstance(v, bool) or not isinstance(v, str | int | float)]
        if bad:
            self.problem(key, f"must be a list of strings; {_describe(bad[0])} is not one")
            return None
        return [str(item) for item in value]

    def section(self, key: str) -> Fields | None:
        """A nested mapping read with the same rules, or None when absent."""
        value = self.get(key, dict, "a mapping")
        if value is None:
            return None
        return Fields(
            value,
            path=self.path,
            prefix=(*self.prefix, key),
            locate=self.locate,
            problems=self.problems,
        )

    def finish(self, severity: Severity = Severity.ERROR) -> None:
        """Report every key that nothing asked for: a typo must not pass silently."""
        for key in self.data:
            if key not in self._seen:
                near = difflib.get_close_matches(str(key), sorted(self._seen), n=1, cutoff=0.75)
                hint = f"; did you mean {near[0]}?" if near else ""
                self.problem(str(key), f"unknown key{hint}", severity)


def bounds(value: float, minimum: float, maximum: float) -> str:
    """What is wrong with `value`, outside `minimum` to `maximum` (or NaN)."""
    if value != value:  # NaN, which YAML reads from .nan
        return f"must be a number from {_shown(minimum)} to {_shown(maximum)}, not .nan"
    shown = value if isinstance(value, float) or abs(value) < 10**12 else \
        "a number that long"  # an int's digits: Python refuses to print 4,300
    if value < minimum:
        return f"must be at least {_shown(minimum)}, not {shown}"
    return f"must be at most {_shown(maximum)}, not {shown}"


def _shown(bound: float) -> str:
    return f"{int(bound):,}" if float(bound).is_integer() else f"{bound:g}"


def _describe(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {value!r}"
    return f"the {type(value).__name__} {value!r}"
