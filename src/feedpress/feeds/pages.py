"""What a person sees of the output folder: subscribe pages, and a stylesheet for feeds.

`index.html` at the root lists every feed of the site (all posts, breaking
news, each blog with its About text, each topic), the OPML file, and how
to get the email digest; `<blog>/index.html` does the same for one blog,
in its own language and direction. Both are static HTML with no script,
`<link rel="alternate">` tags for feed autodiscovery, and a layout that
reads at 375 px. Each RSS and Atom feed points at `feed.xsl`, which turns
the feed, opened in a browser, into a page that says what a feed is and
how to follow it, instead of raw XML.

Every string comes from the catalogue (`feedpress.words`); every value
from a post or the config is escaped. Links between pages are relative,
so the folder reads the same from disk or from any host.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from html import escape
from pathlib import PurePosixPath
from urllib.parse import quote

from feedpress.config import Config
from feedpress.feeds.catalog import (
    PAGE,
    Catalog,
    FeedSpec,
    blog_folder,
    feed_url,
    linked_format,
)
from feedpress.model import FEED_FILE_NAMES, Blog, Format
from feedpress.words import direction, primary, words

FORMAT_NAMES = {"rss": "RSS", "atom": "Atom", "json": "JSON Feed"}
MIME = {"rss": "application/rss+xml", "atom": "application/atom+xml",
        "json": "application/feed+json"}
_CSS = """body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:0 auto;padding:1rem;
color:#1a1a1a;background:#fff;overflow-wrap:anywhere}h1{font-size:1.6rem;line-height:1.25}h2{font-size:1.2rem;
margin-top:2rem}a{color:#0b57d0}.feeds{list-style:none;padding:0}.feeds li{margin:.4rem 0}
code{display:block;overflow-wrap:anywhere;user-select:all;background:#f2f2f2;padding:.2rem .4rem;
border-radius:3px;font-size:.9rem}.about{color:#444}.blog{border-top:1px solid #ddd;
padding-top:.5rem}@media (prefers-color-scheme:dark){body{color:#eee;background:#121212}
a{color:#8ab4f8}code{background:#2a2a2a}.about{color:#bbb}.blog{border-color:#444}}"""


def site_page(config: Config, catalog: Catalog, specs: list[FeedSpec]) -> bytes:
    """`index.html` at the root of the output: every feed of the site."""
    site, said = config.site, words(config.site.language)
    by_kind = {spec.folder: spec for spec in specs}
    parts = [f"<h1>{_t(said['follow_title']).replace('{site}', _bdi(site.title))}</h1>",
             f"<p>{_t(site.description)}</p>", f"<p>{_t(said['follow_intro'])}</p>",
             f"<h2>{_t(said['all_posts'])}</h2>",
             _feed_list(config, by_kind[PurePosixPath(".")], ""),
             f"<h2>{_t(said['breaking'])}</h2>",
             _feed_list(config, by_kind[PurePosixPath("breaking")], ""),
             f"<h2>{_t(said['blogs'])}</h2>"]
    for blog in config.blogs:
        parts.append(_blog_summary(config, blog, by_kind[blog_folder(blog.id)]))
    parts.append(_topics(config, catalog, [s for s in specs if s.kind == "tag"], "",
                         said["topics"]))
    parts.append(_footer(config, ""))
    alternates = [by_kind[PurePosixPath(".")]]
    return _page(config, site.language, site.title, alternates, parts)


def blog_pages(config: Config, catalog: Catalog, specs: list[FeedSpec]) -> dict[str, bytes]:
    """Each blog's `index.html` (see `_blog_page`), by blog id: the tags each uses found
    in one pass over the posts, not one per blog."""
    used: dict[str, set[str]] = {}
    for card in catalog.posts:
        used.setdefault(card.blog, set()).update(slug for slug, _ in card.tags)
    return {blog.id: _blog_page(config, blog, catalog, specs, used.get(blog.id, set()))
            for blog in config.blogs}


def _blog_page(config: Config, blog: Blog, catalog: Catalog, specs: list[FeedSpec],
               used: set[str]) -> bytes:
    """`<blog>/index.html`: one blog's feeds and topics (its own tag feeds, or the site's
    of the tags its posts use), in the blog's language."""
    said = words(blog.language)
    spec = next(s for s in specs if s.kind == "blog" and s.group == blog.id)
    own = [s for s in specs if s.kind == "blog-tag" and s.group == blog.id]
    topics = own or [s for s in specs if s.kind == "tag" and s.folder.name in used]
    parts = [f"<h1>{_bdi(blog.title)}</h1>", f"<h2>{_t(said['about_blog'])}</h2>",
             f'<p class="about">{_t(blog.description)}</p>',
             f"<p>{_t(said['follow_intro'])}</p>",
             _feed_list(config, spec, "../"),
             _topics(config, catalog, topics, "../", said["topics"]),
             f'<p><a href="../{PAGE}">'
             f"{_t(said['all_blogs'].replace('{site}', config.site.title))}</a></p>",
             _footer(config, "../", blog.language, blog.url)]
    return _page(config, blog.language, blog.title, [spec], parts)


def _blog_summary(config: Config, blog: Blog, spec: FeedSpec) -> str:
    lang = escape(blog.language)
    return (f'<section class="blog" lang="{lang}" dir="{direction(blog.language)}">'
            f'<h3><a href="{_href(blog_folder(blog.id) / PAGE)}">{_bdi(blog.title)}</a></h3>'
            f'<p class="about">{_t(blog.description)}</p>{_feed_list(config, spec, "")}'
            "</section>")


def _feed_list(config: Config, spec: FeedSpec, up: str) -> str:
    """A feed in each configured format: a link to its file and its address to copy."""
    items = []
    for fmt in config.feeds.formats:
        url = feed_url(config.site.feeds_url, spec.folder, fmt)
        items.append(f'<li><a href="{up}{_feed_href(spec.folder, fmt)}" type="{MIME[fmt]}">'
                     f'{FORMAT_NAMES[fmt]}</a> <code dir="ltr">{_t(url)}</code></li>')
    return f'<ul class="feeds">{"".join(items)}</ul>'


def _topics(config: Config, catalog: Catalog, specs: Iterable[FeedSpec], up: str,
            heading: str) -> str:
    """Each topic's feed, linked in the one format emails and OPML use."""
    fmt: Format = linked_format(config)
    items = [f'<li><a href="{up}{_feed_href(spec.folder, fmt)}" type="{MIME[fmt]}">'
             f"<bdi>{_t(catalog.tags[spec.folder.name].name)}</bdi></a></li>"
             for spec in specs]
    if not items:
        return ""
    return f'<h2>{_t(heading)}</h2><ul class="feeds">{"".join(items)}</ul>'


def _footer(config: Config, up: str, language: str | None = None,
            website: str | None = None) -> str:
    """How to get the email (when `email.subscribe_url` says where), OPML, the website
    (the blog's own, on a blog's page)."""
    said = words(language or config.site.language)
    parts = []
    subscribe = config.email.subscribe_url
    if subscribe:
        parts.append(f'<h2>{_t(said["by_email"])}</h2><p>{_t(said["by_email_text"])} '
                     f'<a href="{escape(subscribe)}">{_t(said["by_email_link"])}</a></p>')
    parts.append(f'<p><a href="{up}feeds.opml" type="text/x-opml">{_t(said["opml"])}</a></p>')
    parts.append(f'<p><a href="{escape(website or config.site.url)}">'
                 f'{_t(said["on_the_site"])}</a></p>')
    return "".join(parts)


def _page(config: Config, language: str, title: str, alternates: list[FeedSpec],
          parts: list[str]) -> bytes:
    links = "".join(
        f'<link rel="alternate" type="{MIME[fmt]}" title="{_t(spec.title)} ({FORMAT_NAMES[fmt]})"'
        f' href="{escape(feed_url(config.site.feeds_url, spec.folder, fmt))}">'
        for spec in alternates for fmt in config.feeds.formats)
    html = (f'<!DOCTYPE html>\n<html lang="{escape(language)}" dir="{direction(language)}">'
            '<head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_t(title)}</title>{links}<style>{_CSS}</style></head>"
            f"<body>{''.join(parts)}</body></html>\n")
    return html.encode("utf-8")


def stylesheet(config: Config, language: str) -> bytes:
    """A stylesheet (`catalog.stylesheet`) that shows an RSS or Atom feed as a page, in
    `language`: the site's, or a blog's."""
    said = words(language)
    lang = escape(primary(language))
    filled = {"@LANG@": lang, "@DIR@": direction(language), "@CSS@": _CSS,
              "@TITLE@": _t(said["feed_title"]), "@INTRO@": _t(said["feed_intro"]),
              "@LATEST@": _t(said["latest"])}
    text = _XSL
    for mark, value in filled.items():
        text = text.replace(mark, value)
    return text.encode("utf-8")


def _t(text: str) -> str:
    return escape(text, quote=True)


def _bdi(text: str) -> str:
    """A name from the config, isolated: its own direction marks stay inside it."""
    return f"<bdi>{_t(text)}</bdi>"


def _href(path: PurePosixPath) -> str:
    return quote(path.as_posix())


@lru_cache(maxsize=4096)  # a tag's feed is linked from the site's page and its blogs'
def _feed_href(folder: PurePosixPath, fmt: Format) -> str:
    return _href(folder / FEED_FILE_NAMES[fmt])


_XSL = """<?xml version="1.0" encoding="utf-8"?>
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom">
<xsl:output method="html" encoding="utf-8" doctype-system="about:legacy-compat"/>
<xsl:template match="/">
<html lang="@LANG@" dir="@DIR@"><head><meta charset="utf-8"/>
<meta name="viewport" content="width=device-width, initial-scale=1"/>
<title><xsl:value-of select="/rss/channel/title|/atom:feed/atom:title"/></title>
<style>@CSS@</style></head>
<body>
<p><strong>@TITLE@.</strong> @INTRO@</p>
<code><xsl:value-of select="/rss/channel/atom:link[@rel='self']/@href
    |/atom:feed/atom:link[@rel='self']/@href"/></code>
<h1 dir="auto"><xsl:value-of select="/rss/channel/title|/atom:feed/atom:title"/></h1>
<p class="about" dir="auto"><xsl:value-of select="/rss/channel/description
    |/atom:feed/atom:subtitle"/></p>
<h2>@LATEST@</h2>
<ul>
<xsl:for-each select="/rss/channel/item">
<li dir="auto"><a href="{link}"><xsl:value-of select="title"/></a></li>
</xsl:for-each>
<xsl:for-each select="/atom:feed/atom:entry">
<li dir="auto"><a href="{atom:link[@rel='alternate']/@href}"><xsl:value-of
    select="atom:title"/></a></li>
</xsl:for-each>
</ul>
</body></html>
</xsl:template>
</xsl:stylesheet>
"""
