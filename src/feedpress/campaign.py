"""Sending the next digest, or every alert that is due: campaigns, and who is owed what.

A campaign is opened in the ledger (`store`) before its first message and
completed after its last; a run that stops half way is resumed by the
next. `--dry-run` and `--to` go through here too, reading the ledger
without writing to it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from feedpress import digest as select
from feedpress import subscribers as subscriber_list
from feedpress.config import Config
from feedpress.errors import FeedpressError
from feedpress.mailing import alert_body, digest_body, next_digest, published, secret, signer
from feedpress.messages import MessageMaker, Recipient, Stream
from feedpress.model import Post
from feedpress.output import write_atomic
from feedpress.render import Renderer
from feedpress.send import Job, Policy, Sender, Summary
from feedpress.store import Campaign, Store, open_store, peek, send_lock
from feedpress.subscribers import Subscriber
from feedpress.transports import (
    MaildirTransport,
    PermanentFailure,
    SmtpTransport,
    TemporaryFailure,
    Transport,
    credentials,
)

_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9@._+-]")


@dataclass(frozen=True)
class SendOptions:
    """How a send runs: where messages go, and whether anything is recorded."""

    transport: Transport | None = None  # None: the config's
    dry_run: Path | None = None  # write DIR/*.eml instead, record nothing
    to: str | None = None  # one test message to this address, record nothing
    progress: Callable[[str, str], None] | None = None
    on_start: Callable[[int], None] | None = None  # told how many messages a campaign has
    sleep: Callable[[float], None] = time.sleep


def send(config: Config, stream: Stream, now: datetime, options: SendOptions) -> Summary | None:
    """Send the next digest, or every alert that is due; None when there is nothing to send."""
    posts = published(config, now)
    key, _ = secret(config, required=options.dry_run is None)
    rows, problems = subscriber_list.load(config.email.subscribers)
    whole_file = [p for p in problems if p.line is None]
    if whole_file and options.to is None:
        # Sending to nobody would use up the campaign: its posts would never go out.
        raise FeedpressError(f"{whole_file[0]}; nothing was sent")
    renderer = Renderer(config)
    settings = config.email
    if options.dry_run is not None or options.to is not None:
        return _without_ledger(config, stream, now, posts, rows, renderer, key, options)
    with send_lock(settings.state), open_store(settings.state, now) as ledger:
        plans = _plans(config, stream, now, posts, ledger)
        if not plans:
            return None
        summary = Summary(problems=[str(p) for p in problems])
        transport = options.transport or _transport(config)
        for campaign, campaign_posts in plans:
            done = _send_campaign(config, stream, now, campaign, campaign_posts, rows, ledger,
                                  renderer, key, transport, options)
            _add(summary, done)
            if done.stopped:
                break
        return summary


def _plans(config: Config, stream: Stream, now: datetime, posts: list[Post],
           ledger: Store) -> list[tuple[Campaign, list[Post]]]:
    """The campaigns to (re)send: an unfinished one first, else a new one if anything is due."""
    if stream == "digest":
        unfinished, window, due = next_digest(config, now, posts, ledger)
        if unfinished is not None:
            return [(unfinished, due)]
        if not due:
            return []
        return [(ledger.open_digest(window.since, window.until, [p.id for p in due]), due)]
    by_id = {p.id: p for p in posts}
    plans = [(c, [by_id[c.post_id]]) for c in ledger.unfinished_alerts() if c.post_id in by_id]
    for post in select.alerts_due(posts, now, config.email.alert.max_age,
                                  ledger.alerted_posts()):
        plans.append((ledger.open_alert(post.id), [post]))
    return plans


def _send_campaign(config: Config, stream: Stream, now: datetime, campaign: Campaign,
                   posts: list[Post], rows: list[Subscriber], ledger: Store, renderer: Renderer,
                   key: bytes, transport: Transport, options: SendOptions) -> Summary:
    done = ledger.statuses(campaign)
    suppressed = ledger.suppressed(stream)
    sender = Sender(transport, ledger, campaign, config.email.sender_address,
                    _policy(config), sleep=options.sleep, progress=options.progress)
    makers = _Makers(config, stream, now, posts, renderer, key)
    todo, already = _owed(rows, stream, suppressed, done)
    if options.on_start is not None:
        options.on_start(sum(makers.get(row) is not None for row in todo))

    def jobs() -> Iterator[Job]:
        for row in todo:
            maker = makers.get(row)
            if maker is not None:
                yield Job(Recipient(row.email, row.name), maker)

    summary = sender.run(jobs())
    summary.skipped += already
    if not summary.pending and not summary.stopped:
        ledger.complete(campaign)
    return summary


class _Makers:
    """One message maker per distinct body: a body is rendered and inlined once."""

    def __init__(self, config: Config, stream: Stream, now: datetime, posts: list[Post],
                 renderer: Renderer, key: bytes) -> None:
        self.config, self.stream, self.now, self.posts = config, stream, now, posts
        self.renderer, self.key = renderer, key
        self.signer = signer(config)
        self._found: dict[object, MessageMaker | None] = {}

    def get(self, row: Subscriber) -> MessageMaker | None:
        choice = row.choice
        if choice not in self._found:
            self._found[choice] = self._make(row)
        return self._found[choice]

    def _make(self, row: Subscriber) -> MessageMaker | None:
        if self.stream == "digest":
            body = digest_body(self.config, self.renderer, self.posts, row)
        else:
            post = self.posts[0]
            body = (alert_body(self.config, self.renderer, post)
                    if select.matches(post, row.choice) else None)
        if body is None:
            return None
        return MessageMaker(self.config.email, self.config.site.title, body, self.stream,
                            self.now, self.key, self.signer)


def _owed(rows: list[Subscriber], stream: Stream, suppressed: frozenset[str],
          done: Mapping[str, str]) -> tuple[list[Subscriber], int]:
    """Who is still owed this campaign's message, and how many already have theirs.

    Eligible: not suppressed for the stream, and for alerts, wanting them.
    Already done: recorded as sent or bounced by an earlier run.
    """
    eligible = [r for r in rows
                if r.email.lower() not in suppressed and (stream == "digest" or r.alerts)]
    todo = [r for r in eligible if done.get(r.email.lower()) not in ("sent", "bounced")]
    return todo, len(eligible) - len(todo)


def _without_ledger(config: Config, stream: Stream, now: datetime, posts: list[Post],
                    rows: list[Subscriber], renderer: Renderer, key: bytes,
                    options: SendOptions) -> Summary | None:
    """`--dry-run DIR` (every message as a file) or `--to ADDRESS` (one test message)."""
    with peek(config.email.state, now) as ledger:
        suppressed = ledger.suppressed(stream) if ledger else frozenset()
        if stream == "digest":
            unfinished, _, due = next_digest(config, now, posts, ledger)
            done = ledger.statuses(unfinished) if ledger and unfinished else {}
            groups = [due]
        else:
            alerted = ledger.alerted_posts() if ledger else frozenset()
            done = {}
            groups = [[p] for p in select.alerts_due(posts, now, config.email.alert.max_age,
                                                     alerted)]
    groups = [group for group in groups if group]
    if not groups:
        return None
    summary = Summary()
    if options.to is not None:
        maker = _Makers(config, stream, now, groups[0], renderer, key).get(
            Subscriber(options.to, ""))
        if maker is None:
            return None
        try:
            connection = (options.transport or _transport(config)).connect()
            try:
                connection.deliver(config.email.sender_address, options.to,
                                   maker.make(Recipient(options.to, ""))[1])
            finally:
                connection.close()
        except (TemporaryFailure, PermanentFailure) as exc:
            raise FeedpressError(f"the test message to {options.to} was not sent: {exc}") from None
        summary.sent = 1
        return summary
    assert options.dry_run is not None
    todo, _ = _owed(rows, stream, suppressed, done)  # as the resumed --send would
    for number, group in enumerate(groups, start=1):
        makers = _Makers(config, stream, now, group, renderer, key)
        for row in todo:
            maker = makers.get(row)
            if maker is not None:
                summary.sent += 1
                safe = _UNSAFE_IN_NAME.sub("_", row.email)
                name = f"{stream}-{number:03d}-{summary.sent:06d}-{safe}.eml"
                write_atomic(options.dry_run / name, maker.make(Recipient(row.email, row.name))[1])
    return summary




def _policy(config: Config) -> Policy:
    smtp = config.email.smtp
    return Policy(retries=smtp.retries, backoff=smtp.retry_backoff,
                  max_errors=smtp.max_errors, rate=smtp.rate)


def _transport(config: Config) -> Transport:
    settings = config.email
    if settings.transport == "maildir":
        return MaildirTransport(settings.maildir)
    return SmtpTransport(settings.smtp, credentials(settings.smtp))


def _add(total: Summary, part: Summary) -> None:
    for name in ("sent", "skipped", "retried", "bounced", "pending"):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    total.stopped = total.stopped or part.stopped
