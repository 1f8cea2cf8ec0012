"""The feed model: plain, frozen values that every later stage reads.

This module imports nothing else from feedpress, so that every stage can
depend on it without reaching back up the pipeline. Datetimes are always
timezone-aware and in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal, NamedTuple

Format = Literal["rss", "atom", "json"]
ALL_FORMATS: tuple[Format, ...] = ("rss", "atom", "json")
FEED_FILE_NAMES: dict[Format, str] = {"rss": "rss.xml", "atom": "atom.xml", "json": "feed.json"}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Author:
    name: str
    email: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Image:
    url: str
    alt: str
    caption: str | None = None


@dataclass(frozen=True)
class Blog:
    id: str
    title: str
    description: str
    language: str
    url: str
    authors: tuple[Author, ...]


@dataclass(frozen=True)
class Site:
    title: str
    url: str
    feeds_url: str
    description: str
    permalink: str
    language: str
    timezone: str
    authors: tuple[Author, ...]
    hubs: tuple[str, ...] = ()  # WebSub hubs every feed names, and `feedpress ping` tells
    # Where a post's "/path" points: "host" (the URL standard's way), or "site": under
    # site.url's own path, as Jekyll's relative_url makes it for a site in a subfolder.
    root_relative: Literal["host", "site"] = "host"

    @property
    def root(self) -> str:
        """What a post's "/path" is joined to: the host's root, or the site's folder."""
        from urllib.parse import urlsplit

        return urlsplit(self.url).path if self.root_relative == "site" else "/"

    @property
    def domain(self) -> str:
        from urllib.parse import urlsplit

        return urlsplit(self.url).hostname or "localhost"


@dataclass(frozen=True)
class FeedOptions:
    formats: tuple[Format, ...] = ALL_FORMATS
    items: int = 50
    content: Literal["full", "summary"] = "full"
    blog_tags: bool = False
    pages: bool = True  # the subscribe pages, and the stylesheet feeds point browsers at


@dataclass(frozen=True)
class Tag:
    """A tag as feeds see it: tags that slugify alike are one tag."""

    slug: str
    name: str


@dataclass(frozen=True)
class Post:
    """One published-or-not post, validated; its body stays in its file.

    The Markdown body is read and rendered by a later stage, and only for
    posts that appear in a feed: a big archive costs neither the memory to
    hold every body nor the time to render it. `digest` is the SHA-256 of
    the file's bytes, which identifies this version of the post.
    """

    path: Path
    blog: str
    slug: str
    id: str
    id_pinned: bool
    title: str
    url: str
    date: datetime
    updated: datetime | None
    authors: tuple[Author, ...]
    tags: tuple[Tag, ...]
    breaking: bool
    summary: str | None
    image: Image | None
    lang: str
    draft: bool
    digest: str

    @property
    def modified(self) -> datetime:
        """The time feeds report as this post's last change."""
        return self.updated or self.date


class Card(NamedTuple):
    """What deciding where a post is published takes, and nothing more.

    The catalog places every post by its card alone; the whole `Post` is
    loaded only for the few posts whose feed items must be built. A rebuild
    reads one card per post from the cache, so a card is a named tuple of
    plain values, as cheap to load as the cache can make it: times are
    microseconds since the epoch (`to_us`), tags are (slug, name) pairs.
    """

    key: str  # the file's path under the posts folder, with "/"
    blog: str
    slug: str
    id: str
    date_us: int
    updated_us: int | None
    tags: tuple[tuple[str, str], ...]
    breaking: bool
    draft: bool
    digest: str

    @classmethod
    def of(cls, post: Post, key: str) -> Card:
        return cls(key, post.blog, post.slug, post.id, to_us(post.date),
                   None if post.updated is None else to_us(post.updated),
                   tuple((tag.slug, tag.name) for tag in post.tags), post.breaking,
                   post.draft, post.digest)

    @property
    def modified_us(self) -> int:
        """The time feeds report as this post's last change (see `Post.modified`)."""
        return self.date_us if self.updated_us is None else self.updated_us


def to_us(moment: datetime) -> int:
    """`moment` as whole microseconds since the epoch: exact, and compared as an int."""
    return (moment - EPOCH) // _MICROSECOND


def from_us(us: int) -> datetime:
    """The aware UTC datetime that `to_us` turned into `us`."""
    return EPOCH + timedelta(microseconds=us)
