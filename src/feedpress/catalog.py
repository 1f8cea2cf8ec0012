"""What gets published, and into which feeds: pure decisions, no I/O.

`assemble` turns every valid post into a `Catalog` (what is published now,
with tags merged across posts) and reports what is wrong *between* posts,
such as two posts sharing an id. `plan` then lists every feed the site
has and the newest posts in each. Both are pure functions of their
arguments, the clock included, which is what makes builds reproducible.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Literal
from urllib.parse import quote

from feedpress.config import Config
from feedpress.errors import Problem, relative
from feedpress.model import FEED_FILE_NAMES, Author, Format, Post, Tag

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Kind = Literal["site", "blog", "tag", "breaking", "blog-tag"]

_TAGGED = {
    "en": "Posts tagged {tag}",
    "ar": "منشورات موسومة بـ«{tag}»",
    "fa": "نوشته‌های با برچسب «{tag}»",
    "ru": "Записи с меткой «{tag}»",
    "uk": "Дописи з міткою «{tag}»",
    "uz": "«{tag}» tegli maqolalar",
    "fr": "Articles avec l’étiquette « {tag} »",
    "de": "Beiträge mit dem Schlagwort „{tag}“",
    "es": "Entradas con la etiqueta «{tag}»",
}
_BREAKING = {
    "en": "Breaking News",
    "ar": "عاجل",
    "fa": "خبر فوری",
    "ru": "Срочные новости",
    "uk": "Термінові новини",
    "fr": "Dernière minute",
    "de": "Eilmeldungen",
    "es": "Última hora",
}


@dataclass(frozen=True)
class Catalog:
    """The published posts, newest first, and the tags they use."""

    posts: tuple[Post, ...]
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
    posts: tuple[Post, ...]
    group: str | None

    def file(self, fmt: Format) -> PurePosixPath:
        return self.folder / FEED_FILE_NAMES[fmt]

    def url(self, feeds_url: str, fmt: Format) -> str:
        return feed_url(feeds_url, self.folder, fmt)

    @property
    def updated(self) -> datetime:
        """The newest item's time, never the clock: unchanged posts give identical feeds."""
        return max((post.modified for post in self.posts), default=EPOCH)


def feed_url(feeds_url: str, folder: PurePosixPath, fmt: Format) -> str:
    """Where the feed kept in `folder` is published in `fmt`: the one rule for feed URLs."""
    return feeds_url + quote((folder / FEED_FILE_NAMES[fmt]).as_posix())


def assemble(posts: Iterable[Post], now: datetime) -> tuple[Catalog, list[Problem]]:
    """Published posts (no drafts, nothing dated after `now`) and the clashes between posts."""
    every = sorted(posts, key=lambda p: p.path.parts)  # path order, compared in C
    problems = _clashes(every, "id", lambda p: p.id) + _clashes(
        every, "slug", lambda p: f"{p.blog}/{p.slug}"
    )
    live = [p for p in every if not p.draft and p.date <= now]
    live.sort(key=lambda p: (p.date, p.id), reverse=True)
    return Catalog(tuple(live), _merge_tags(live)), problems


def plan(config: Config, catalog: Catalog) -> list[FeedSpec]:
    """Every feed of the site, each holding its newest `feeds.items` posts."""
    site = config.site
    limit = config.feeds.items
    by_tag = _group(catalog.posts, lambda p: [t.slug for t in p.tags])
    specs = [
        FeedSpec("site", PurePosixPath("."), site.title, site.description, site.url,
                 site.language, site.authors, catalog.posts[:limit], None),
        FeedSpec("breaking", PurePosixPath("breaking"),
                 f"{site.title}: {_say(_BREAKING, site.language)}",
                 _say(_BREAKING, site.language), site.url, site.language, site.authors,
                 tuple(p for p in catalog.posts if p.breaking)[:limit], None),
    ]
    for slug, posts in sorted(by_tag.items()):
        name = catalog.tags[slug].name
        specs.append(FeedSpec("tag", PurePosixPath("tags", slug), f"{site.title}: {name}",
                              _say(_TAGGED, site.language).format(tag=name), site.url,
                              site.language, site.authors, tuple(posts[:limit]), None))
    by_blog = _group(catalog.posts, lambda p: [p.blog])
    for blog in config.blogs:
        mine = tuple(by_blog.get(blog.id, ()))
        specs.append(FeedSpec("blog", PurePosixPath(blog.id), blog.title, blog.description,
                              blog.url, blog.language, blog.authors, mine[:limit], blog.id))
        if config.feeds.blog_tags:
            specs.extend(_blog_tag_specs(blog.id, blog.title, blog.url, blog.language,
                                         blog.authors, mine, catalog, limit))
    return specs


def _blog_tag_specs(blog_id: str, title: str, url: str, language: str,
                    authors: tuple[Author, ...], posts: tuple[Post, ...], catalog: Catalog,
                    limit: int) -> list[FeedSpec]:
    specs = []
    for slug, tagged in sorted(_group(posts, lambda p: [t.slug for t in p.tags]).items()):
        name = catalog.tags[slug].name
        specs.append(FeedSpec("blog-tag", PurePosixPath(blog_id, "tags", slug),
                              f"{title}: {name}", _say(_TAGGED, language).format(tag=name),
                              url, language, authors, tuple(tagged[:limit]), blog_id))
    return specs


def _merge_tags(posts: list[Post]) -> dict[str, Tag]:
    """One display name per slug: the spelling of the earliest post that uses it.

    The earliest post rarely changes, so a tag's name stays put as new posts
    spell it differently.
    """
    tags: dict[str, Tag] = {}
    for post in reversed(posts):
        for tag in post.tags:
            tags.setdefault(tag.slug, tag)
    return tags


def _group(posts: Iterable[Post], keys: object) -> dict[str, list[Post]]:
    groups: dict[str, list[Post]] = defaultdict(list)
    for post in posts:
        for key in keys(post):  # type: ignore[operator]
            groups[key].append(post)
    return groups


def _clashes(posts: list[Post], field: str, key: object) -> list[Problem]:
    seen: dict[str, Post] = {}
    problems = []
    for post in posts:
        value = key(post)  # type: ignore[operator]
        first = seen.setdefault(value, post)
        if first is not post:
            problems.append(Problem(post.path, None, field,
                                    f"{value!r} is also used by {relative(first.path)}"))
    return problems


def _say(table: dict[str, str], language: str) -> str:
    return table.get(language.split("-")[0].lower(), table["en"])
