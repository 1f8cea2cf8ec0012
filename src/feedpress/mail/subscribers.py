"""The subscriber list: a CSV as exported from any CRM, checked row by row, and the
ledger's suppressions over it.

Columns: `email`, `name`, and optionally `blogs` and `tags` (`;`-separated
blog ids and tag names; empty means all) and `alerts` (yes/no, default
yes). A bad or duplicate row is reported with its line number and skipped;
every other subscriber still gets their mail. Addresses are checked for
syntax only (email-validator, no DNS): a run must not depend on the network.

The CSV says who subscribed; the ledger's suppressions (unsubscribes and
hard bounces) always win over it. `members`, `set_suppressed` and `export`
back the `feedpress subscribers` commands. Nothing here sends or decides
what a campaign holds.
"""

from __future__ import annotations

import csv
import difflib
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from email_validator import EmailNotValidError, validate_email

from feedpress.config import Config
from feedpress.errors import FeedpressError, Problem, Severity, UsageError, relative
from feedpress.mail.ledger import locate, open_ledger, peek
from feedpress.mail.select import STREAMS, Stream
from feedpress.text import slugify

_NOT_UTF8 = re.compile("[\udc80-\udcff]")
# A quoted field that runs over a line break into what reads as further rows (a later line
# with a comma and an address): a closing quote is missing, and the rows it swallowed would
# go unsent.
_LATER_ADDRESS = re.compile(r"[\r\n][^\r\n]*[^,;\s\"<>]+@[^,;\s\"<>]+\.\w")
_SWALLOWED = re.compile(r"[\r\n](?=[^\r\n]*,)[^\r\n]*[^,;\s\"<>]+@[^,;\s\"<>]+\.\w")
# C0, DEL and C1 controls, and the bidirectional overrides and isolates that can make a
# name read backwards: never in a display name. (White space becomes one space first.)
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_YES = {"yes", "y", "true", "1", ""}
_NO = {"no", "n", "false", "0"}
SAMPLE = ("reader@example.org", "Sample Reader")


class SubscriberListError(FeedpressError):
    """The subscriber list cannot be right (no email column, no valid row, too few rows)."""

    def __init__(self, message: str, problems: list[Problem]) -> None:
        super().__init__(message)
        self.problems = problems


@dataclass(frozen=True)
class Subscriber:
    email: str
    name: str
    blogs: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    alerts: bool = True
    line: int = 0

    @property
    def choice(self) -> tuple[frozenset[str], frozenset[str]]:
        """What decides this subscriber's posts: everyone with the same choice gets one body."""
        return self.blogs, self.tags


def load(path: Path, blogs: Iterable[str] | None = None
         ) -> tuple[list[Subscriber], list[Problem]]:
    """Every valid row of the CSV at `path`, and a problem for every other row; with the
    site's `blogs`, a warning for each row that names a blog the site does not have."""
    try:
        # A row with bytes that are not UTF-8 is skipped on its own, not the whole file.
        text = path.read_bytes().decode("utf-8", "surrogateescape").removeprefix("\ufeff")
    except OSError as exc:
        return [], [Problem(path, None, "subscribers", f"cannot read: {exc.strerror}")]
    rows = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip().lower() for h in next(rows, [])]
    if "email" not in header:
        return [], [Problem(path, 1, "email", _no_email_column(header))]
    subscribers: list[Subscriber] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    line = rows.line_num + 1  # where the next row starts: a quoted field may span lines
    try:
        for row in rows:
            if _swallowed(row, len(header)):
                problems.append(Problem(path, line, "email", f"a quoted field runs on to line "
                                        f"{rows.line_num}, swallowing the rows between: is "
                                        "a closing quote missing?"))
            elif (found := _row(path, line, dict(zip(header, row, strict=False)), seen,
                                problems)) is not None:
                subscribers.append(found)
            line = rows.line_num + 1
    except csv.Error as exc:  # a field past the csv module's limit: an unclosed quote
        problems.append(Problem(path, line, "email", f"cannot read on from here ({exc}): "
                                "is a closing quote missing?"))
    if blogs is not None:
        problems.extend(_unknown_blogs(path, subscribers, frozenset(b.lower() for b in blogs)))
    return subscribers, problems


def _unknown_blogs(path: Path, rows: list[Subscriber], known: frozenset[str]) -> list[Problem]:
    """A warning for each row that chose a blog the site does not have: a typo there means
    fewer posts, or none, for that subscriber."""
    shown = ", ".join(sorted(known))
    return [Problem(path, row.line, "blogs", f"{', '.join(sorted(row.blogs - known))} is "
                    f"not a blog of this site ({shown}); this subscriber gets nothing from "
                    "it", Severity.WARNING)
            for row in rows if row.blogs - known]


def _swallowed(row: list[str], width: int) -> bool:
    """Whether a field ran on into rows a closing quote should have ended: a later line
    with a comma and an address, or one with an address in a row wider than the header
    (where the quote that ended it split that line)."""
    return any(_SWALLOWED.search(cell) or (len(row) > width and _LATER_ADDRESS.search(cell))
               for cell in row)


def usable(path: Path, rows: list[Subscriber], problems: list[Problem], minimum: int) -> None:
    """Raise `SubscriberListError` unless the list can be right: a send to a wrong list
    would use up a campaign on nobody. Called before anything is recorded."""
    if not rows:
        why = str(problems[0]) if problems else f"{relative(path)}: no subscriber rows"
        raise SubscriberListError(f"{why}; no valid subscriber in the list, so nothing was "
                                  "sent and nothing recorded", problems)
    errors = [p for p in problems if p.is_error]
    if errors:  # rows lost to a broken file: the rest must not use the campaign up
        raise SubscriberListError(f"{errors[0]}; the file is broken there, so nothing was "
                                  "sent and nothing recorded", problems)
    if len(rows) < minimum:
        raise SubscriberListError(
            f"{relative(path)}: only {len(rows)} valid subscriber(s), fewer than "
            "email.min_subscribers "
            f"({minimum}); nothing was sent and nothing recorded. Check the file, or lower "
            "the setting", problems)


def _no_email_column(header: list[str]) -> str:
    """Why a header is not one, with the likely reason: a wrong separator or column name."""
    if not any(header):
        return "the file is empty or its first line is blank: it needs a header line with " \
               "an email column, such as email,name"
    joined = ",".join(header)
    for separator, name in ((";", "semicolons"), ("\t", "tabs"), ("|", "bars")):
        if len(header) == 1 and separator in joined and "email" in joined.split(separator):
            return (f"the header {joined!r} looks separated by {name}; feedpress reads "
                    "comma-separated files (export the CSV with commas)")
    return f"the header must have an email column; it has {', '.join(header) or 'none'}"


def _row(path: Path, line: int, row: dict[str, str], seen: dict[str, int],
         problems: list[Problem]) -> Subscriber | None:
    """The subscriber of one row, or None, with a problem, for a row that is skipped."""
    found = _checked(path, line, row, seen)
    if isinstance(found, Problem):
        problems.append(found)
        return None
    if found is None:
        return None
    raw_name = " ".join((row.get("name") or "").split())
    name = " ".join(_CONTROL.sub(" ", raw_name).split())
    if name != raw_name:
        problems.append(Problem(path, line, "name", "control characters (or bidirectional "
                                "overrides) removed from the name, which the To: header "
                                "shows", Severity.WARNING))
    return Subscriber(found[0], name, _split(row.get("blogs"), str.lower),
                      _split(row.get("tags"), slugify), found[1], line)


def _checked(path: Path, line: int, row: dict[str, str],
             seen: dict[str, int]) -> tuple[str, bool] | Problem | None:
    """The row's address and alerts choice, a problem, or None for a blank line."""
    raw = (row.get("email") or "").strip()
    if not raw and not any(v.strip() for v in row.values()):
        return None  # a blank line
    if any(_NOT_UTF8.search(v) for v in row.values()):
        return _skip(path, line, "email", "the row is not valid UTF-8")
    email, why = _ascii_address(raw)
    if email is None:
        return _skip(path, line, "email", why)
    first = seen.setdefault(email.lower(), line)
    if first != line:
        return _skip(path, line, "email", f"{email} is already on line {first}")
    alerts = (row.get("alerts") or "").strip().lower()
    if alerts not in _YES | _NO:
        return _skip(path, line, "alerts", f"must be yes or no, not {alerts!r}")
    return email, alerts in _YES


def sendable(address: str) -> str:
    """`address` as feedpress sends to it (ASCII, its domain in punycode), or `UsageError`
    saying why it cannot be: for addresses typed on the command line."""
    email, why = _ascii_address(address.strip())
    if email is None:
        raise UsageError(f"{why}; nothing was done")
    return email


def _ascii_address(raw: str) -> tuple[str | None, str]:
    """`raw` as feedpress sends to it, or None and why it cannot be: one rule for the list
    and the command line. An internationalised domain goes in its ASCII (punycode) form;
    a non-ASCII local part would need SMTPUTF8 end to end, which feedpress does not rely
    on."""
    try:
        checked = validate_email(raw, check_deliverability=False)
    except EmailNotValidError as exc:
        return None, f"{raw!r} is not a valid address ({exc})"
    if checked.ascii_email is None:
        return None, (f"{raw!r} has non-ASCII letters before the @, which needs SMTPUTF8; "
                      "feedpress sends plain ASCII addresses only")
    return checked.ascii_email, ""


def normal_address(address: str) -> str:
    """`address` as the list stores it (ASCII domain, lower case), for comparing."""
    try:
        checked = validate_email(address.strip(), check_deliverability=False)
    except EmailNotValidError:
        return address.strip().lower()
    return (checked.ascii_email or checked.normalized).lower()


def _split(cell: str | None, normal: object) -> frozenset[str]:
    parts = (p.strip() for p in (cell or "").split(";"))
    return frozenset(normal(p) for p in parts if p)  # type: ignore[operator]


def _skip(path: Path, line: int, field: str, message: str) -> Problem:
    return Problem(path, line, field, f"{message}; row skipped", Severity.WARNING)


@dataclass(frozen=True)
class Member:
    subscriber: Subscriber
    suppressed: frozenset[str]

    @property
    def gets(self) -> tuple[Stream, ...]:
        wanted = ("digest", "alerts") if self.subscriber.alerts else ("digest",)
        return tuple(s for s in wanted if s not in self.suppressed)  # type: ignore[misc]


def members(config: Config, now: datetime) -> tuple[list[Member], list[Problem]]:
    rows, problems = load(config.email.subscribers, (b.id for b in config.blogs))
    found: dict[str, set[str]] = {}
    with peek(locate(config.email), now) as ledger:
        for address, stream, _, _ in ledger.suppressions() if ledger else ():
            found.setdefault(address, set()).add(stream)
    return [Member(r, frozenset(found.get(r.email.lower(), ()))) for r in rows], problems


def set_suppressed(config: Config, now: datetime, address: str, streams: tuple[Stream, ...],
                   *, suppressed: bool, force: bool = False) -> tuple[str, int]:
    """Unsubscribe (or resubscribe) `address` from `streams`; returns the address as stored
    and how many streams changed.

    The address is compared as the list stores it (its domain in punycode,
    lower case). Unsubscribing an address that is not valid or not in the
    list is refused unless `force`: a typo would leave the real subscriber
    getting mail while the command said it was done.
    """
    wanted = normal_address(address)
    if suppressed and not force:
        _known(config.email.subscribers, address, wanted)
    with open_ledger(locate(config.email), now) as ledger:
        if suppressed:
            return wanted, ledger.suppress(wanted, streams, "unsubscribed by hand")
        return wanted, ledger.unsuppress(wanted, streams)


def _known(path: Path, typed: str, wanted: str) -> None:
    """Raise `UsageError` unless `wanted` is a valid address with a row in the list."""
    sendable(typed)
    rows, problems = load(path)
    if not rows:
        why = str(problems[0]) if problems else f"{relative(path)}: no subscriber rows"
        raise UsageError(f"cannot check {typed} against the list: {why}; nothing was "
                         "changed. Use --force to suppress it anyway")
    addresses = [row.email.lower() for row in rows]
    if wanted in addresses:
        return
    near = difflib.get_close_matches(wanted, addresses, n=1, cutoff=0.8)
    hint = f" (did you mean {near[0]}?)" if near else ""
    raise UsageError(f"{typed} is not in {path}{hint}; nothing was changed. Use --force to "
                     "suppress it anyway")


def export(found: list[Member]) -> str:
    """The list as CSV, with what each subscriber gets after suppressions."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["email", "name", "blogs", "tags", "alerts", "gets"])
    for m in found:
        s = m.subscriber
        writer.writerow([s.email, s.name, ";".join(sorted(s.blogs)), ";".join(sorted(s.tags)),
                         "yes" if s.alerts else "no", ";".join(m.gets)])
    return out.getvalue()


def streams_for(choice: str) -> tuple[Stream, ...]:
    return STREAMS if choice == "all" else (choice,)  # type: ignore[return-value]
