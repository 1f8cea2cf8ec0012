"""The subscriber list as the ledger sees it: who gets what, and changing that by hand.

The CSV says who subscribed; the ledger's suppressions (unsubscribes and
hard bounces) always win over it. These functions back the `feedpress
subscribers` commands.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime

from feedpress import subscribers as subscriber_list
from feedpress.config import Config
from feedpress.errors import Problem
from feedpress.store import STREAMS, Stream, open_store
from feedpress.subscribers import Subscriber


@dataclass(frozen=True)
class Member:
    subscriber: Subscriber
    suppressed: frozenset[str]

    @property
    def gets(self) -> tuple[Stream, ...]:
        wanted = ("digest", "alerts") if self.subscriber.alerts else ("digest",)
        return tuple(s for s in wanted if s not in self.suppressed)  # type: ignore[misc]


def members(config: Config, now: datetime) -> tuple[list[Member], list[Problem]]:
    rows, problems = subscriber_list.load(config.email.subscribers)
    found: dict[str, set[str]] = {}
    if config.email.state.exists():
        with open_store(config.email.state, now) as ledger:
            for address, stream, _, _ in ledger.suppressions():
                found.setdefault(address, set()).add(stream)
    return [Member(r, frozenset(found.get(r.email.lower(), ()))) for r in rows], problems


def set_suppressed(config: Config, now: datetime, address: str, streams: tuple[Stream, ...],
                   *, suppressed: bool) -> int:
    """Unsubscribe (or resubscribe) `address` from `streams`; returns how many changed."""
    with open_store(config.email.state, now) as ledger:
        before = {s for a, s, _, _ in ledger.suppressions() if a == address.lower()}
        if suppressed:
            ledger.suppress(address, streams, "unsubscribed by hand")
            return len(set(streams) - before)
        return ledger.unsuppress(address, streams)


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
