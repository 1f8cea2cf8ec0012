"""What the next send does: which campaigns, with which posts, owed to whom.

One decision for every way a campaign goes out. `--send` acts on it,
`--dry-run` writes it out as files, `--to` sends its first message to one
address, and `--preview` shows what one subscriber would get or says why
nothing would go. None of them decides anything on its own, so they
cannot disagree.

Pure: the posts, the clock, the settings and a ledger to read come in;
nothing here writes, sends or reads a file. Opening the campaigns that
the plan calls new is the caller's job, under the send lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from feedpress.mail import select
from feedpress.mail.ledger import Campaign, Ledger, Outcome
from feedpress.mail.select import Stream, Window
from feedpress.mail.subscribers import Subscriber
from feedpress.mailsettings import EmailSettings
from feedpress.model import Post


@dataclass(frozen=True)
class Planned:
    """One campaign the next send goes through: an unfinished one resumed, or a new one."""

    stream: Stream
    posts: tuple[Post, ...]
    campaign: Campaign | None = None  # the unfinished campaign resumed; None: a new one
    window: Window | None = None  # a new digest's window
    done: Mapping[str, Outcome] = field(default_factory=dict)  # address: outcome so far


class Skip(Enum):
    """Why a subscriber is not owed a planned campaign's message, in the order checked."""

    SUPPRESSED = "unsubscribed or bounced from this stream"
    NO_ALERTS = "alerts: no in the subscriber list"
    NOT_IN_AUDIENCE = "joined the list after this campaign began"
    DONE = "already reached by this campaign in an earlier run"
    UNCONFIRMED = ("its delivery went unconfirmed twice (sent, no reply from the server); "
                   "it is not sent a third time")
    FILTERED = "none of its posts is in their blogs and tags"


def plan(settings: EmailSettings, stream: Stream, now: datetime, posts: list[Post],
         ledger: Ledger | None, *, since: datetime | None = None,
         until: datetime | None = None) -> list[Planned]:
    """The campaigns the next send goes through, in order; empty when nothing is due.

    `posts` are the published posts, newest first; `ledger` None is a
    project that has never sent anything. `since` and `until` narrow the
    posts to a window of their own (a preview's choice).
    """
    if stream == "digest":
        return _digest(settings, now, posts, ledger, since, until)
    return [item for item in _alerts(settings, now, posts, ledger)
            if _within(item.posts[0], since, until)]


def owed(item: Planned, subscriber: Subscriber, suppressed: frozenset[str]) -> Skip | None:
    """None when `subscriber` gets `item`'s message now, else why not."""
    address = subscriber.email.lower()
    if address in suppressed:
        return Skip.SUPPRESSED
    if item.stream == "alerts" and not subscriber.alerts:
        return Skip.NO_ALERTS
    done = item.done.get(address)
    if item.campaign is not None and item.campaign.audience_known and done is None:
        return Skip.NOT_IN_AUDIENCE
    if done in ("sent", "bounced"):
        return Skip.DONE
    if done == "unconfirmed":
        return Skip.UNCONFIRMED
    if not any(select.matches(post, subscriber.choice) for post in item.posts):
        return Skip.FILTERED
    return None


def why_none(settings: EmailSettings, stream: Stream, now: datetime,
             posts: list[Post], ledger: Ledger | None) -> list[str]:
    """Notes on why nothing is due, where more can be said than "nothing in the window"."""
    if stream == "digest":
        return []
    alerted = ledger.alerted_posts() if ledger else frozenset()
    late = [p for p in posts if p.breaking and p.id not in alerted and p.date <= now]
    if not late:
        return []
    newest = late[0]
    return [f"the newest breaking post without an alert, {newest.title!r} "
            f"({newest.date:%Y-%m-%d %H:%M} UTC), is older than email.alert.max_age "
            f"({_shown(settings.alert.max_age)}): alerts go out for fresh news only"]


def _digest(settings: EmailSettings, now: datetime, posts: list[Post], ledger: Ledger | None,
            since: datetime | None, until: datetime | None) -> list[Planned]:
    """Unfinished digests resumed for whoever they still owe, then a new one of the posts
    since the last digest's window (a window of its own with `since` or `until`)."""
    resumed = []
    if ledger is not None and since is None and until is None:
        by_id = {p.id: p for p in posts}
        resumed = [Planned("digest", mine, c, None, ledger.statuses(c))
                   for c in ledger.unfinished_digests()
                   if (mine := tuple(by_id[i] for i in c.posts if i in by_id))]
        # one whose posts are all unpublished for now (drafts again) waits, unplanned
    last_end = ledger.last_digest_end() if ledger else None
    sent = ledger.posts_in_digests() if ledger else frozenset()
    start = since or select.next_window(now, last_end, settings.digest.first_window).since
    window = Window(start, until or now)
    due = select.in_window(posts, window, sent)
    # New campaigns go first: one still owed to a few (who may be refused again) must not
    # be the head of every run, where the breaker or a refusal would stop it.
    return ([Planned("digest", tuple(due), None, window)] if due else []) + resumed


def _alerts(settings: EmailSettings, now: datetime, posts: list[Post],
            ledger: Ledger | None) -> list[Planned]:
    """Unfinished alerts resumed (however old their post), then one for each new
    breaking post younger than `alert.max_age`."""
    if ledger is None:
        return [Planned("alerts", (p,)) for p in select.alerts_due(
            posts, now, settings.alert.max_age)]
    by_id = {p.id: p for p in posts}
    resumed = [Planned("alerts", (by_id[c.post_id],), c, None, ledger.statuses(c))
               for c in ledger.unfinished_alerts() if c.post_id in by_id]
    fresh = select.alerts_due(posts, now, settings.alert.max_age, ledger.alerted_posts())
    return [Planned("alerts", (p,)) for p in fresh] + resumed


def _shown(age: timedelta) -> str:
    """A duration as a config would write it: 24h, 36h, 2d, 1w, 90m."""
    seconds = int(age.total_seconds())
    for unit, size, least in (("w", 604800, 1), ("d", 86400, 2), ("h", 3600, 1), ("m", 60, 1)):
        if seconds % size == 0 and seconds // size >= least:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _within(post: Post, since: datetime | None, until: datetime | None) -> bool:
    return (since is None or post.date > since) and (until is None or post.date <= until)
