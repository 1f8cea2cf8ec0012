"""What goes into a digest or an alert: pure decisions over published posts, no I/O.

A subscriber's digest holds the posts of the window that match their
choices; everyone with the same choices gets the same `Digest`, so each
distinct body is rendered once however long the list is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from feedpress.model import Blog, Post

Stream = Literal["digest", "alerts"]
"""What a subscriber can get: the digest, and breaking-news alerts (one campaign per post,
which the ledger calls an "alert")."""
STREAMS: tuple[Stream, ...] = ("digest", "alerts")
Choice = tuple[frozenset[str], frozenset[str]]


@dataclass(frozen=True)
class Window:
    """The posts published after `since`, up to and including `until`."""

    since: datetime
    until: datetime

    def holds(self, post: Post) -> bool:
        return self.since < post.date <= self.until


@dataclass(frozen=True)
class Section:
    blog: Blog
    posts: tuple[Post, ...]


@dataclass(frozen=True)
class Digest:
    """One digest body: breaking posts first, then each blog's, newest first."""

    breaking: tuple[Post, ...]
    sections: tuple[Section, ...]
    more: int
    count: int

    @property
    def posts(self) -> tuple[Post, ...]:
        return self.breaking + tuple(p for s in self.sections for p in s.posts)


def next_window(now: datetime, last_end: datetime | None, first_window: timedelta) -> Window:
    """After the last digest's end, or `first_window` back for the very first digest."""
    return Window(last_end if last_end is not None else now - first_window, now)


def in_window(posts: Iterable[Post], window: Window, sent: frozenset[str] = frozenset()
              ) -> list[Post]:
    """Posts of `window` never sent in a digest before (by id, whatever was edited since)."""
    return [p for p in posts if window.holds(p) and p.id not in sent]


def matches(post: Post, choice: Choice) -> bool:
    """A blog among the chosen (or none chosen) and a tag among the chosen (or none chosen)."""
    blogs, tags = choice
    blog_ok = not blogs or post.blog.lower() in blogs
    return blog_ok and (not tags or any(tag.slug in tags for tag in post.tags))


def compose(posts: list[Post], blogs: tuple[Blog, ...], max_items: int) -> Digest:
    """Lay out `posts` (newest first): breaking on top, then blogs in config order."""
    ordered = [p for p in posts if p.breaking] + [p for p in posts if not p.breaking]
    shown = ordered[:max_items]
    sections = tuple(
        Section(blog, tuple(p for p in shown if p.blog == blog.id and not p.breaking))
        for blog in blogs
    )
    return Digest(
        breaking=tuple(p for p in shown if p.breaking),
        sections=tuple(s for s in sections if s.posts),
        more=len(ordered) - len(shown),
        count=len(ordered),
    )


def alerts_due(posts: Iterable[Post], now: datetime, max_age: timedelta,
               alerted: frozenset[str] = frozenset()) -> list[Post]:
    """Breaking posts published less than `max_age` ago that have had no alert yet."""
    return [p for p in posts
            if p.breaking and p.id not in alerted and now - max_age < p.date <= now]
