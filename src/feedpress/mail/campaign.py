"""Campaigns going out: `--send`, `--dry-run`, `--to` and `--preview`, all from one plan.

Each way starts from the same `plan` (which campaigns, which posts) and
the same `owed` (who gets each), then does its own I/O: `send` opens the
new campaigns in the ledger under the send lock and delivers; a dry run
writes every message as a file; `--to` sends one test message; a preview
writes one subscriber's message and its parts. Only `send` writes to the
ledger. This module also fetches what those need from outside: the
published posts (through the feeds wing), the subscriber list, the
secret that signs unsubscribe links and the DKIM key. It decides nothing
of what goes to whom: that is the planner's, so the four ways cannot drift.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from feedpress import feeds
from feedpress.config import Config
from feedpress.errors import FeedpressError, InvalidPostsError, Problem, UsageError
from feedpress.files import write_atomic
from feedpress.mail import select
from feedpress.mail import subscribers as subscriber_list
from feedpress.mail.bodies import Body, Renderer, alert_body, digest_body, personalise
from feedpress.mail.delivery import Job, Policy, Sender, Summary
from feedpress.mail.ledger import (
    Campaign,
    Ledger,
    Place,
    exists,
    locate,
    open_ledger,
    peek,
)
from feedpress.mail.messages import MessageMaker, Recipient, Signer
from feedpress.mail.planner import Planned, Skip, owed, plan, why_none
from feedpress.mail.select import Choice, Stream
from feedpress.mail.subscribers import Subscriber
from feedpress.mail.transports import (
    AmbiguousFailure,
    MaildirTransport,
    PermanentFailure,
    RefusedFailure,
    SmtpTransport,
    TemporaryFailure,
    Transport,
    credentials,
)
from feedpress.model import Post

PREVIEW_SECRET = b"feedpress preview only: set the secret variable to send"
MIN_SECRET_BYTES = 32
MIN_DISTINCT_BYTES = 10
MAKE_A_KEY = ('Make one with: python3 -c "import secrets; print(secrets.token_urlsafe(32))"; '
              "to replace a key without breaking the links already delivered, move the old "
              "one to email.previous_secret_env (FEEDPRESS_PREVIOUS_SECRET) for a while")
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9@._+-]")
_ORDER = {"untried": 0, "held": 2}  # the order owed addresses are tried in; the rest: 1


@dataclass(frozen=True)
class SendOptions:
    """How a send runs: where messages go, and whether anything is recorded."""

    transport: Transport | None = None  # None: the config's
    dry_run: Path | None = None  # write DIR/*.eml instead, record nothing
    to: str | None = None  # one test message to this address, record nothing
    progress: Callable[[str, str], None] | None = None
    on_start: Callable[[int, str], None] | None = None  # a campaign's messages, and its name
    sleep: Callable[[float], None] = time.sleep
    new_ledger: bool = False  # an SMTP send may start a ledger where there is none


@dataclass(frozen=True)
class Preview:
    """What a preview wrote, notes for the reader, and the subscriber list's problems.

    Nothing is written when nothing is due (`due` False) or when nothing
    would go to the chosen subscriber (`skipped` says why).
    """

    paths: list[Path]
    notes: list[str]
    due: bool = True
    skipped: str | None = None
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class _Run:
    """What every way of sending needs, fetched once."""

    config: Config
    stream: Stream
    now: datetime
    posts: list[Post]
    key: bytes
    renderer: Renderer
    signer: Signer | None = None  # DKIM, for what is sent or written as a dry run


def send(config: Config, stream: Stream, now: datetime, options: SendOptions) -> Summary | None:
    """Send the next digest, or every alert that is due; None when there is nothing to send."""
    posts = published(config, now)
    key, notes = secret(config, required=options.dry_run is None)
    run = _Run(config, stream, now, posts, key, Renderer(config), signer(config))
    if options.to is not None:
        return _send_test(run, subscriber_list.sendable(options.to), options)
    rows, problems = subscriber_list.load(config.email.subscribers, _blog_ids(config))
    # A list that cannot be right would use up the campaign on nobody: stop first.
    subscriber_list.usable(config.email.subscribers, rows, problems,
                           config.email.min_subscribers)
    if options.dry_run is not None:
        summary = _write_all(run, rows, options.dry_run)
        if summary is not None:
            summary.problems = problems
            if notes:  # the secret is missing
                summary.notes = [f"{config.email.secret_env} is not set: the dry run's "
                                 "unsubscribe links use a placeholder key"]
        return summary
    _refuse_a_throwaway_outbox(config, options)
    place = locate(config.email)
    _refuse_a_missing_ledger(config, place, options)
    with open_ledger(place, now, locked=True) as ledger:
        planned = plan(config.email, stream, now, run.posts, ledger)
        if not planned:
            return None
        sender = Sender(options.transport or _transport(config), ledger,
                        config.email.sender_address, _policy(config), sleep=options.sleep,
                        progress=options.progress)
        skipped: Counter[Skip] = Counter()
        troubled = _troubled(planned)
        for item in planned:
            skipped += _send_campaign(run, item, rows, ledger, sender, options, troubled)
            if sender.stopped:
                break
        summary = sender.finish()
        summary.skipped += sum(skipped.values())
        summary.reasons.update({("skipped", skip.value): n for skip, n in skipped.items()})
        summary.problems = problems
        return summary


def _refuse_a_throwaway_outbox(config: Config, options: SendOptions) -> None:
    """A Maildir send on a CI runner writes the messages into a folder that goes with the
    runner, and records them as sent: nobody would ever get them."""
    ci = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
    if ci and config.email.transport == "maildir" and options.transport is None:
        raise FeedpressError(
            f"email.transport is maildir, and this looks like a CI runner (CI is set): the "
            f"messages would be written into {config.email.maildir} on a machine that is "
            "thrown away, and recorded as sent. Set email.transport: smtp for CI (see "
            "Publishing from CI in the README), or unset CI to send into the folder anyway")


def _refuse_a_missing_ledger(config: Config, place: Place, options: SendOptions) -> None:
    """An SMTP send without a ledger would send everyone everything again: a ledger not
    kept (a fresh CI runner, a deleted file) must not pass for a first send. A Maildir
    send makes one, as the Quick start's first send does."""
    if config.email.transport == "smtp" and not options.new_ledger and not exists(place):
        moving = "" if place.url is None else (
            "; to keep sending from a ledger you have in a file, move it here with "
            "`feedpress state copy` instead")
        raise FeedpressError(f"no ledger at {place}: if this is the very first send, run "
                             "again with --new-ledger; in CI this usually means the state "
                             f"was not kept between runs{moving}")


def preview(config: Config, stream: Stream, out: Path, now: datetime, *,
            since: datetime | None = None, until: datetime | None = None,
            subscriber_email: str | None = None) -> Preview:
    """Write into `out` the message the next `--send` would send one subscriber.

    The subscriber is `subscriber_email`'s row, else the first row that
    would get a message, else a sample reader. Never writes to the ledger.
    """
    posts = published(config, now)
    key, notes = secret(config, required=False)
    run = _Run(config, stream, now, posts, key, Renderer(config))
    rows, problems = _preview_rows(config, subscriber_email)
    planned, suppressed, why_nothing = _read_plan(run, since, until)
    if not planned:
        return Preview([], notes + why_nothing, due=False, problems=problems)
    subscriber = _chosen(rows, planned, suppressed)
    stem = "digest" if stream == "digest" else "alert"
    mine = [item for item in planned if owed(item, subscriber, suppressed) is None]
    if not mine:
        for stale in (out / f"{stem}.html", out / f"{stem}.txt", out / f"{stem}.eml"):
            stale.unlink(missing_ok=True)  # an earlier preview's: not what would go now
        why = min(filter(None, (owed(item, subscriber, suppressed) for item in planned)),
                  key=list(Skip).index)
        return Preview([], notes, skipped=f"nothing would go to {subscriber.email}: {why.value}",
                       problems=problems)
    if len(mine) > 1:
        notes.append(f"{len(mine) - 1} more {'alert' if stream == 'alerts' else stream}(s) "
                     f"would go to {subscriber.email} in the same run; this is the first")
    maker, body = _maker(run, mine[0], subscriber.choice)
    return Preview(write_preview(out, stem, maker, subscriber, body), notes, problems=problems)


def _troubled(planned: list[Planned]) -> frozenset[str]:
    """Addresses an earlier run tried and could not deliver to: they go last in every
    campaign of this run, so that whatever refused them meets an address accepted first."""
    return frozenset(address for item in planned for address, outcome in item.done.items()
                     if outcome in ("pending", "held"))


def _send_campaign(run: _Run, item: Planned, rows: list[Subscriber], ledger: Ledger,
                   sender: Sender, options: SendOptions,
                   troubled: frozenset[str] = frozenset()) -> Counter[Skip]:
    """Deliver one planned campaign, opening it first if it is new; the subscribers it had
    reached already, by how.

    A new campaign that nobody is owed is not opened, and one that reached
    nobody is not completed: its posts stay due for the next run.
    """
    suppressed = ledger.suppressed(run.stream)  # bounces of an earlier campaign count
    skips = [owed(item, row, suppressed) for row in rows]
    todo = [row for row, skip in zip(rows, skips, strict=True) if skip is None]
    # Who was never tried goes first, those refused while held back last: such addresses
    # must not stand at the head of every run and trip the breaker again.
    todo.sort(key=lambda row: (row.email.lower() in troubled,
                               _ORDER.get(item.done.get(row.email.lower(), "untried"), 1)))
    reached: Counter[Skip] = Counter(s for s in skips if s in (Skip.DONE, Skip.UNCONFIRMED))
    if not todo and item.campaign is None:
        why = Counter(skip for skip in skips if skip is not None)
        sender.summary.notes.append(f"{_label(item)}: nobody on the list is owed it (" + ", "
                                    .join(f"{n}: {skip.value}" for skip, n in why.items()) + ")")
        return Counter()
    campaign = item.campaign or _open(ledger, item, [row.email for row in todo])
    if options.on_start is not None and todo:
        options.on_start(len(todo), _label(item))
    makers = _Makers(run, item)
    jobs: Iterator[Job] = (Job(Recipient(row.email, row.name), makers.get(row.choice),
                               makers.get(row.choice).message_id(campaign.nonce, row.email),
                               item.done.get(row.email.lower()) == "ambiguous",
                               item.done.get(row.email.lower()) == "held")
                           for row in todo)
    sent_before = sender.summary.sent
    sender.run(campaign, jobs)
    went = not todo or sender.summary.sent > sent_before or any(
        status in ("sent", "ambiguous", "unconfirmed") for status in item.done.values())
    if not sender.stopped and went and not _still_owed(item, campaign, rows, ledger):
        ledger.complete(campaign)
    return reached


def _still_owed(item: Planned, campaign: Campaign, rows: list[Subscriber],
                ledger: Ledger) -> bool:
    """Whether anyone on the list is still owed `campaign` after this run (pending, or
    ambiguous once). Someone who left the list, or was suppressed since, is not: their
    unsettled delivery must not keep the campaign open for ever."""
    now = Planned(item.stream, item.posts, campaign, item.window, ledger.statuses(campaign))
    suppressed = ledger.suppressed(item.stream)
    return any(owed(now, row, suppressed) is None for row in rows)


def _label(item: Planned) -> str:
    """A campaign as a progress line names it."""
    if item.stream == "digest":
        return f"the digest of {len(item.posts)} post(s)"
    return f"the alert for {item.posts[0].title!r}"


def _open(ledger: Ledger, item: Planned, audience: list[str]) -> Campaign:
    if item.stream == "digest":
        assert item.window is not None
        return ledger.open_digest(item.window.since, item.window.until,
                                  [p.id for p in item.posts], audience)
    return ledger.open_alert(item.posts[0].id, audience)


def _read_plan(run: _Run, since: datetime | None = None, until: datetime | None = None
               ) -> tuple[list[Planned], frozenset[str], list[str]]:
    """The plan, the stream's suppressed addresses and, when nothing is due in the usual
    window, notes on why: read from the ledger without writing to it (previews, dry runs
    and test messages)."""
    email = run.config.email
    with peek(locate(email), run.now) as ledger:
        planned = plan(email, run.stream, run.now, run.posts, ledger, since=since, until=until)
        suppressed = ledger.suppressed(run.stream) if ledger else frozenset()
        usual = since is None and until is None
        why = [] if planned or not usual else why_none(email, run.stream, run.now,
                                                          run.posts, ledger)
    return planned, suppressed, why


def _write_all(run: _Run, rows: list[Subscriber], folder: Path) -> Summary | None:
    """`--dry-run DIR`: every message the send would send, as a file; nothing recorded."""
    planned, suppressed, _ = _read_plan(run)
    for stale in folder.glob(f"{run.stream}-[0-9][0-9][0-9]-[0-9][0-9][0-9][0-9][0-9][0-9]-*.eml"):
        stale.unlink()  # an earlier dry run's: the folder shows this run's messages only
    if not planned:
        return None
    summary = Summary()
    for number, item in enumerate(planned, start=1):
        makers = _Makers(run, item)
        for row in rows:
            if owed(item, row, suppressed) is None:
                summary.sent += 1
                safe = _UNSAFE_IN_NAME.sub("_", row.email)
                name = f"{run.stream}-{number:03d}-{summary.sent:06d}-{safe}.eml"
                message = makers.get(row.choice).make(Recipient(row.email, row.name))[1]
                write_atomic(folder / name, message)
    return summary


def _send_test(run: _Run, address: str, options: SendOptions) -> Summary | None:
    """`--to ADDRESS`: the plan's first message, as a reader with no filters gets it."""
    planned, _, _ = _read_plan(run)
    if not planned:
        return None
    maker = _Makers(run, planned[0]).get(Subscriber(address, "").choice)
    try:
        connection = (options.transport or _transport(run.config)).connect()
        try:
            connection.deliver(run.config.email.sender_address, address,
                               maker.make(Recipient(address, ""))[1])
        finally:
            connection.close()
    except (TemporaryFailure, PermanentFailure, RefusedFailure, AmbiguousFailure) as exc:
        raise FeedpressError(f"the test message to {address} was not sent: {exc}") from None
    return Summary(sent=1)


class _Makers:
    """One message maker per distinct body: a body is rendered and inlined (premailer is
    slow) once, however many choices lead to it. An alert has one body for all; a digest
    one for each set of its posts that a choice selects."""

    def __init__(self, run: _Run, item: Planned) -> None:
        self.run, self.item = run, item
        self._found: dict[tuple[str, ...], MessageMaker] = {}

    def get(self, choice: Choice) -> MessageMaker:
        """The maker for subscribers with `choice`, who must be owed the item's message."""
        key = (() if self.item.stream == "alerts" else
               tuple(p.id for p in self.item.posts if select.matches(p, choice)))
        if key not in self._found:
            self._found[key] = _maker(self.run, self.item, choice, self.run.signer)[0]
        return self._found[key]


def _maker(run: _Run, item: Planned, choice: Choice,
           signer: Signer | None = None) -> tuple[MessageMaker, Body]:
    config = run.config
    if item.stream == "digest":
        body = digest_body(config, run.renderer, list(item.posts), choice)
    else:
        body = alert_body(config, run.renderer, item.posts[0])
    assert body is not None, "owed: at least one post matches the choice"
    maker = MessageMaker(config.email, config.site.title, body, item.stream, run.now, run.key,
                         signer)
    return maker, body


def _chosen(rows: list[Subscriber], planned: list[Planned],
            suppressed: frozenset[str]) -> Subscriber:
    """The asked-for row; else the first row that would get a message; else the first row."""
    for row in rows:
        if any(owed(item, row, suppressed) is None for item in planned):
            return row
    return rows[0]


def _preview_rows(config: Config, email: str | None) -> tuple[list[Subscriber], list[Problem]]:
    """The rows a preview may be for: `email`'s alone, else every valid row, else a sample."""
    rows, problems = (subscriber_list.load(config.email.subscribers, _blog_ids(config))
                      if config.email.subscribers.exists() else ([], []))
    if email is not None:
        wanted = subscriber_list.normal_address(email)
        mine = [row for row in rows if row.email.lower() == wanted]
        if not mine:
            raise UsageError(f"{email} is not a valid row of {config.email.subscribers}")
        return mine, problems
    return rows or [Subscriber(*subscriber_list.SAMPLE)], problems


def write_preview(out: Path, stem: str, maker: MessageMaker, subscriber: Subscriber,
                  body: Body) -> list[Path]:
    """`stem`.html, `stem`.txt and `stem`.eml; the .html is exactly the message's HTML part."""
    recipient = Recipient(subscriber.email, subscriber.name)
    text, html = personalise(body, recipient.name, recipient.email,
                             maker.unsubscribe_url(recipient.email))
    _, message = maker.make(recipient)
    paths = [out / f"{stem}.html", out / f"{stem}.txt", out / f"{stem}.eml"]
    for path, data in zip(paths, (html.encode(), text.encode(), message), strict=True):
        write_atomic(path, data)
    return paths


def published(config: Config, now: datetime) -> list[Post]:
    """Every published post, newest first; invalid posts stop here as they stop a build."""
    posts, _, problems = feeds.load(config, now)
    if any(p.is_error for p in problems):
        raise InvalidPostsError(problems)
    return posts


def secret(config: Config, *, required: bool) -> tuple[bytes, list[str]]:
    """The unsubscribe-token key from the environment; previews may do without it."""
    name = config.email.secret_env
    value = os.environ.get(name)
    if value:
        return _long_enough(name, value.encode("utf-8")), []
    if value is not None and required:
        raise FeedpressError(f"the environment variable {name} (email.secret_env) is set but "
                             f"empty; it signs the unsubscribe links. {MAKE_A_KEY}")
    if required:
        raise FeedpressError(f"the environment variable {name} (email.secret_env) is not set; "
                             f"it signs the unsubscribe links. {MAKE_A_KEY}")
    return PREVIEW_SECRET, [f"{name} is not set: the preview's unsubscribe links use a "
                            "placeholder key"]


def unsubscribe_keys(config: Config) -> tuple[list[bytes], list[str]]:
    """The keys the unsubscribe endpoint verifies with: the current one, then the previous
    one while it is set (a key being rotated out), with notes for the operator."""
    key, _ = secret(config, required=True)
    name = config.email.previous_secret_env
    previous = os.environ.get(name, "").encode("utf-8")
    if not previous:
        return [key], []
    note = [f"{name} is set: links signed with the previous key still work; unset it once "
            "the messages that carry them have aged"]
    return [key, _long_enough(name, previous)], note


def _long_enough(name: str, key: bytes) -> bytes:
    """`key`, unless it is too short to resist an offline search from one token."""
    if len(key) < MIN_SECRET_BYTES:
        raise FeedpressError(f"{name} is {len(key)} bytes long; the key that signs "
                             f"unsubscribe links needs at least {MIN_SECRET_BYTES}, or a "
                             f"token can be forged for any address. {MAKE_A_KEY}")
    if len(set(key)) < MIN_DISTINCT_BYTES:  # 32 spaces, "aaaa…": long, but no secret
        raise FeedpressError(f"{name} has only {len(set(key))} different characters; a key "
                             f"must be random. {MAKE_A_KEY}")
    return key


def signer(config: Config) -> Signer | None:
    """The DKIM signer the config asks for, with its key from the environment or a file."""
    dkim = config.email.dkim
    if dkim is None:
        return None
    if dkim.key_env is not None:
        key = os.environ.get(dkim.key_env, "").encode()
        if not key:
            raise FeedpressError(f"the environment variable {dkim.key_env} "
                                 "(email.dkim.key_env) is not set")
    else:
        assert dkim.key_file is not None
        try:
            key = dkim.key_file.read_bytes()
        except OSError as exc:
            raise FeedpressError(f"{dkim.key_file}: cannot read the DKIM key: "
                                 f"{exc.strerror}") from None
    try:
        return Signer(dkim.selector, dkim.domain, key)
    except ValueError as exc:
        where = dkim.key_env or dkim.key_file
        raise FeedpressError(f"the DKIM key in {where} cannot sign: {exc}") from None


def _blog_ids(config: Config) -> list[str]:
    return [blog.id for blog in config.blogs]


def _policy(config: Config) -> Policy:
    smtp = config.email.smtp
    return Policy(retries=smtp.retries, backoff=smtp.retry_backoff,
                  max_errors=smtp.max_errors, rate=smtp.rate, breaker=smtp.breaker)


def _transport(config: Config) -> Transport:
    settings = config.email
    if settings.transport == "maildir":
        return MaildirTransport(settings.maildir)
    return SmtpTransport(settings.smtp, credentials(settings.smtp))

