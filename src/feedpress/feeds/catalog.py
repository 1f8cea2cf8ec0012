"""What gets published, and into which feeds: pure decisions, no I/O.

`assemble` turns the cards of every valid post (`model.Card`: what these
decisions need of a post, and no more) into a `Catalog`, what is published
now with tags merged across posts, and reports what is wrong *between*
posts, such as two posts sharing an id. `plan` then lists every feed the
site has and the newest posts in each. Both are pure functions of their
arguments, the clock included, which is what makes builds reproducible.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from operator import attrgetter
from pathlib import Path, PurePosixPath
from typing import Any, Literal
from urllib.parse import quote

from feedpress.config import Config
from feedpress.errors import Problem, relative
from feedpress.model import FEED_FILE_NAMES, Author, Card, Format, Tag, from_us, to_us
from feedpress.words import primary, words

Kind = Literal["site", "blog", "tag", "breaking", "blog-tag"]
_ID = attrgetter("id")
_BLOG_SLUG = attrgetter("blog", "slug")  # one slug per blog
_NEWEST = attrgetter("date_us", "id")  # the order of feeds, newest first when reversed

@dataclass(frozen=True)
class Catalog:
    """The published posts' cards, newest first, and the tags they use."""

    posts: tuple[Card, ...]
    tags: dict[str, Tag]


@dataclass(frozen=True)
class FeedSpec:
    """One feed to write, in every configured format, under `folder`."""

    kind: Kind
    folder: PurePosixPath
    title: str
    description: str
    link: str
    language: str
    authors: tuple[Author, ...]
    posts: tuple[Card, ...]
    group: str | None

    def file(self, fmt: Format) -> PurePosixPath:
        return self.folder / FEED_FILE_NAMES[fmt]

    def url(self, feeds_url: str, fmt: Format) -> str:
        return feed_url(feeds_url, self.folder, fmt)

    @property
    def updated(self) -> datetime:
        """The newest item's time, never the clock: unchanged posts give identical feeds."""
        return from_us(max((post.modified_us for post in self.posts), default=0))


def feed_url(feeds_url: str, folder: PurePosixPath, fmt: Format) -> str:
    """Where the feed kept in `folder` is published in `fmt`: the one rule for feed URLs."""
    return feeds_url + quote((folder / FEED_FILE_NAMES[fmt]).as_posix())


SITE_FOLDER = PurePosixPath(".")
PAGE = "index.html"  # each folder's subscribe page (see `pages`)
OPML = PurePosixPath("feeds.opml")
STYLESHEET = PurePosixPath("feed.xsl")  # what RSS and Atom feeds ask a browser to show them with


def stylesheet(site_language: str, language: str) -> PurePosixPath:
    """The stylesheet of a feed in `language`: `feed.xsl` in the site's, `feed.<xx>.xsl`
    in another (a blog's), so that the page a browser shows speaks the feed's."""
    if primary(language) == primary(site_language):
        return STYLESHEET
    return PurePosixPath(f"feed.{primary(language)}.xsl")


def named_as_built(config: Config, path: PurePosixPath) -> bool:
    """Whether a build of `config` may write a file at `path`: a feed (at most three
    folders down: a blog's tag), a subscribe page (at the root or in a blog's folder),
    the OPML file or a feed stylesheet (`feed.xsl`, `feed.ar.xsl`, at the root)."""
    name, folders = path.name, path.parent.parts
    if name in FEED_FILE_NAMES.values():
        return len(folders) <= 3
    if name == PAGE:
        return not folders or (len(folders) == 1 and config.blog(folders[0]) is not None)
    return not folders and (name == OPML.name or _STYLESHEET_NAME.fullmatch(name) is not None)


_STYLESHEET_NAME = re.compile(r"feed(?:\.[a-z]{2,8})?\.xsl")


def blog_folder(blog_id: str) -> PurePosixPath:
    """Where a blog's feed is kept, under the feeds URL."""
    return PurePosixPath(blog_id)


def linked_format(config: Config) -> Format:
    """The format a feed is linked in where only one link is given (OPML, emails): the
    first of `feeds.formats`."""
    return config.feeds.formats[0]


def feed_links(config: Config) -> dict[str, str]:
    """The site's feed URL (under "site") and each blog's (under its id), in the linked
    format: what an email points a reader to."""
    fmt = linked_format(config)
    links = {"site": feed_url(config.site.feeds_url, SITE_FOLDER, fmt)}
    links.update({b.id: feed_url(config.site.feeds_url, blog_folder(b.id), fmt)
                  for b in config.blogs})
    return links


def assemble(cards: Iterable[Card], now: datetime,
             posts_dir: Path) -> tuple[Catalog, list[Problem]]:
    """Published posts (no drafts, nothing dated after `now`) and the clashes between posts.

    `posts_dir` is the folder the cards' keys are under, to say where a clash is.
    """
    every = sorted(cards, key=_path_order)
    problems = (_clashes(every, "id", _ID, str, posts_dir)
                + _clashes(every, "slug", _BLOG_SLUG, "/".join, posts_dir))
    until = to_us(now)
    live = [p for p in every if not p.draft and p.date_us <= until]
    live.sort(key=_NEWEST, reverse=True)
    return Catalog(tuple(live), _merge_tags(live)), problems


def plan(config: Config, catalog: Catalog) -> list[FeedSpec]:
    """Every feed of the site, each holding its newest `feeds.items` posts."""
    site = config.site
    limit = config.feeds.items
    by_tag = _by_tag(catalog.posts)
    specs = [
        FeedSpec("site", SITE_FOLDER, site.title, site.description, site.url,
                 site.language, site.authors, catalog.posts[:limit], None),
        FeedSpec("breaking", PurePosixPath("breaking"),
                 f"{site.title}: {words(site.language)['breaking']}",
                 words(site.language)["breaking"], site.url, site.language, site.authors,
                 tuple(p for p in catalog.posts if p.breaking)[:limit], None),
    ]
    for slug, posts in sorted(by_tag.items()):
        name = catalog.tags[slug].name
        specs.append(FeedSpec("tag", PurePosixPath("tags", slug), f"{site.title}: {name}",
                              words(site.language)["tagged"].format(tag=name), site.url,
                              site.language, site.authors, tuple(posts[:limit]), None))
    by_blog: dict[str, list[Card]] = defaultdict(list)
    for post in catalog.posts:
        by_blog[post.blog].append(post)
    for blog in config.blogs:
        mine = tuple(by_blog.get(blog.id, ()))
        specs.append(FeedSpec("blog", blog_folder(blog.id), blog.title, blog.description,
                              blog.url, blog.language, blog.authors, mine[:limit], blog.id))
        if config.feeds.blog_tags:
            specs.extend(_blog_tag_specs(blog.id, blog.title, blog.url, blog.language,
                                         blog.authors, mine, catalog, limit))
    return specs


def _blog_tag_specs(blog_id: str, title: str, url: str, language: str,
                    authors: tuple[Author, ...], posts: tuple[Card, ...], catalog: Catalog,
                    limit: int) -> list[FeedSpec]:
    specs = []
    for slug, tagged in sorted(_by_tag(posts).items()):
        name = catalog.tags[slug].name
        specs.append(FeedSpec("blog-tag", PurePosixPath(blog_id, "tags", slug),
                              f"{title}: {name}", words(language)["tagged"].format(tag=name),
                              url, language, authors, tuple(tagged[:limit]), blog_id))
    return specs


def _merge_tags(posts: list[Card]) -> dict[str, Tag]:
    """One display name per slug: the spelling of the earliest post that uses it.

    The earliest post rarely changes, so a tag's name stays put as new posts
    spell it differently. (`posts` are newest first: the last spelling seen
    of each slug is the earliest post's.)
    """
    names = {slug: name for post in posts for slug, name in post.tags}
    return {slug: Tag(slug, name) for slug, name in names.items()}


def _by_tag(posts: Iterable[Card]) -> dict[str, list[Card]]:
    groups: dict[str, list[Card]] = defaultdict(list)
    for post in posts:
        for slug, _ in post.tags:
            groups[slug].append(post)
    return groups


def _clashes(posts: list[Card], field: str, key: Callable[[Card], Any],
             shown: Callable[[Any], str], posts_dir: Path) -> list[Problem]:
    """A problem for each post whose `key` an earlier post has (`shown` as text)."""
    values = list(map(key, posts))
    if len(set(values)) == len(values):
        return []  # the usual case, told without a loop in Python
    seen: dict[Any, Card] = {}
    problems = []
    for post, value in zip(posts, values, strict=True):
        first = seen.setdefault(value, post)
        if first is not post:
            problems.append(Problem(posts_dir / post.key, None, field,
                                    f"{shown(value)!r} is also used by "
                                    f"{relative(posts_dir / first.key)}"
                                    + ("; give one of them a slug: of its own"
                                       if field == "slug" else "")))
    return problems


def _path_order(card: Card) -> list[str]:
    """The order of the files' paths, part by part, as `sorted` on their `Path`s gives."""
    return card.key.split("/")


