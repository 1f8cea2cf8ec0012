"""Digests and alerts from the catalog to finished messages, and their previews.

This is where the pure selection (`digest`), the templates (`render`) and
the message assembly (`messages`) meet the project: its posts, its
subscriber list, the secret for unsubscribe tokens and the DKIM key.
Sending them is `campaign`'s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from feedpress import digest as select
from feedpress import subscribers as subscriber_list
from feedpress.builder import load
from feedpress.config import Config
from feedpress.errors import FeedpressError, InvalidPostsError, Problem, UsageError
from feedpress.messages import MessageMaker, Recipient, Signer, Stream
from feedpress.model import Post
from feedpress.output import write_atomic
from feedpress.render import MAX_HTML_BYTES, PERSONAL_BYTES, Body, Renderer, personalise
from feedpress.store import Campaign, Store, peek
from feedpress.subscribers import Subscriber

PREVIEW_SECRET = b"feedpress preview only: set the secret variable to send"


@dataclass(frozen=True)
class Preview:
    """What a preview wrote, and what the reader should know about it."""

    paths: list[Path]
    notes: list[str]


def secret(config: Config, *, required: bool) -> tuple[bytes, list[str]]:
    """The unsubscribe-token key from the environment; previews may do without it."""
    name = config.email.secret_env
    value = os.environ.get(name)
    if value:
        return value.encode("utf-8"), []
    if required:
        raise FeedpressError(f"the environment variable {name} (email.secret_env) is not set; "
                             "it signs the unsubscribe links")
    return PREVIEW_SECRET, [f"{name} is not set: the preview's unsubscribe links use a "
                            "placeholder key"]


def published(config: Config, now: datetime) -> list[Post]:
    """Every published post, newest first; invalid posts stop here as they stop a build."""
    posts, _, problems = load(config, now)
    if any(p.is_error for p in problems):
        raise InvalidPostsError(problems)
    return posts


def sample_subscriber(config: Config, email: str | None) -> tuple[Subscriber, list[Problem]]:
    """The subscriber a preview is for: `email`'s row, else the first valid row, else a sample."""
    rows, problems = (subscriber_list.load(config.email.subscribers)
                      if config.email.subscribers.exists() else ([], []))
    if email is not None:
        wanted = subscriber_list.normal_address(email)
        for row in rows:
            if row.email.lower() == wanted:
                return row, problems
        raise UsageError(f"{email} is not a valid row of {config.email.subscribers}")
    if rows:
        return rows[0], problems
    return Subscriber(*subscriber_list.SAMPLE), problems


def digest_body(config: Config, renderer: Renderer, posts: list[Post],
                subscriber: Subscriber) -> Body | None:
    """The digest body for `subscriber`'s choice, or None when no post matches.

    Past the size where Gmail clips a message, fewer posts are shown and the
    rest counted in "N more on the site": on the busiest day a digest still
    goes out.
    """
    mine = [p for p in posts if select.matches(p, subscriber.choice)]
    if not mine:
        return None
    subject = _subject(config.email.digest.subject, config.site.title, len(mine))
    shown = config.email.digest.max_items
    while True:
        body = renderer.digest(select.compose(mine, config.blogs, shown), subject)
        if body.fits or shown == 1:
            return body
        ratio = (MAX_HTML_BYTES - PERSONAL_BYTES) / len(body.html.encode("utf-8"))
        shown = max(1, min(shown - 1, int(min(shown, len(mine)) * ratio * 0.95)))



def _subject(template: str | None, site: str, count: int) -> str:
    """The digest's subject: the configured one, or one that counts in good English."""
    if template is None:
        template = "{site} — 1 new post" if count == 1 else "{site} — {count} new posts"
    return template.replace("{site}", site).replace("{count}", str(count))

def alert_body(config: Config, renderer: Renderer, post: Post) -> Body:
    return renderer.alert(post, f"{config.email.alert.subject_prefix} {post.title}")


def next_digest(config: Config, now: datetime, posts: list[Post], ledger: Store | None,
                 since: datetime | None = None, until: datetime | None = None
                 ) -> tuple[Campaign | None, select.Window, list[Post]]:
    """The digest the next `--send` sends: an unfinished campaign's posts, else the window's.

    One decision for previews, dry runs and sends alike; `ledger` None is a
    project that has never sent anything.
    """
    unfinished = ledger.unfinished_digest() if ledger else None
    if unfinished is not None and since is None and until is None:
        assert unfinished.window_start and unfinished.window_end
        by_id = {p.id: p for p in posts}
        return (unfinished, select.Window(unfinished.window_start, unfinished.window_end),
                [by_id[i] for i in unfinished.posts if i in by_id])
    last_end = ledger.last_digest_end() if ledger else None
    sent = ledger.posts_in_digests() if ledger else frozenset()
    start = since or select.next_window(now, last_end, config.email.digest.first_window).since
    window = select.Window(start, until or now)
    return None, window, select.in_window(posts, window, sent)


def _next_digest_posts(config: Config, now: datetime, posts: list[Post],
                       since: datetime | None, until: datetime | None) -> list[Post]:
    """What the next `--send` would send, read from the ledger without writing to it."""
    with peek(config.email.state, now) as ledger:
        return next_digest(config, now, posts, ledger, since, until)[2]


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


def preview(config: Config, stream: Stream, out: Path, now: datetime, *,
            since: datetime | None = None, until: datetime | None = None,
            subscriber_email: str | None = None) -> Preview | None:
    """Write the next digest (or the newest alert) for one subscriber into `out`.

    Returns None when there is nothing to send. Never touches the state
    database: a preview changes nothing.
    """
    posts = published(config, now)
    key, notes = secret(config, required=False)
    subscriber, problems = sample_subscriber(config, subscriber_email)
    notes.extend(str(p) for p in problems)
    renderer = Renderer(config)
    if stream == "digest":
        due = _next_digest_posts(config, now, posts, since, until)
        body = digest_body(config, renderer, due, subscriber)
        stem = "digest"
    else:
        breaking = [p for p in posts if p.breaking and (until is None or p.date <= until)
                    and (since is None or p.date > since)]
        body = alert_body(config, renderer, breaking[0]) if breaking else None
        stem = "alert"
    if body is None:
        return None
    maker = MessageMaker(config.email, config.site.title, body, stream, now, key)
    return Preview(write_preview(out, stem, maker, subscriber, body), notes)


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
    return Signer(dkim.selector, dkim.domain, key)
