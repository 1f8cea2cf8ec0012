"""Serialising feeds: RSS 2.0 and Atom 1.0 through feedgen, JSON Feed 1.1, OPML.

This is the only module that imports feedgen. Each post's item is built
once per format and its XML reused in every feed that holds it (the site,
its blog, each of its tags); the channel is built by feedgen with no
entries and the items are spliced in. That also sidesteps feedgen 1.0's
traps, which are fixed here rather than inherited:

- Atom entry links lose `rel`, `type` and `length` (feedgen issue #135), so
  the enclosure link is added here;
- timestamps default to the wall clock, so every one is set explicitly;
- the RSS channel `<link>` is whichever link was added last, so the self
  link goes first;
- `content(type="CDATA")` is invalid Atom and breaks on "]]>", so content is
  always escaped text.
"""

from __future__ import annotations

import json
import mimetypes
import re
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import urlsplit

from feedgen.entry import FeedEntry
from feedgen.feed import FeedGenerator
from lxml import etree

from feedpress import __version__
from feedpress.catalog import FeedSpec
from feedpress.markup import Rendered, feed_html
from feedpress.model import Author, FeedOptions, Format, Post, Site

BREAKING_CATEGORY = "Breaking News"
GENERATOR = ("feedpress", __version__, "https://pypi.org/project/feedpress/")
_ATOM = "http://www.w3.org/2005/Atom"
_MEDIA = "http://search.yahoo.com/mrss/"
_XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
_RSS_NSMAP = {
    "atom": _ATOM,
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "media": _MEDIA,
}
_NS_DECLARATION = re.compile(r' xmlns(?::\w+)?="[^"]*"')

def item_fragments(post: Post, rendered: Rendered, options: FeedOptions) -> dict[Format, str]:
    """`post` as an item in each configured format, serialised once for every feed.

    An item depends on its post alone (its tags keep the post's own
    spelling), so it can be built in any process and cached by the post's
    digest.
    """
    return {fmt: _fragment(post, rendered, options, fmt) for fmt in options.formats}


def feed(site: Site, spec: FeedSpec, fmt: Format, fragments: list[str]) -> bytes:
    """The whole feed file: the channel, built by feedgen, with the items spliced in."""
    if fmt == "json":
        return _json_feed(site, spec, fragments)
    head = _channel(site, spec, fmt)
    close = "</channel>" if fmt == "rss" else "</feed>"
    cut = head.rindex(close)
    body = "".join(f"\n{item}" for item in fragments)
    return (head[:cut] + body + "\n" + head[cut:] + "\n").encode("utf-8")


def _fragment(post: Post, rendered: Rendered, options: FeedOptions, fmt: Format) -> str:
    if fmt == "json":
        item = _json_item(post, rendered, options)
        return json.dumps(item, ensure_ascii=False, indent=None)
    entry = _entry(post, rendered, options, _categories(post), fmt)
    element = entry.rss_entry() if fmt == "rss" else entry.atom_entry()
    if fmt == "rss":
        _finish_rss_item(element, post)
        parent = etree.Element("rss", nsmap=_RSS_NSMAP)
    else:
        _finish_atom_entry(element, post)
        parent = etree.Element(f"{{{_ATOM}}}feed", nsmap={None: _ATOM})  # type: ignore[dict-item]
    parent.append(element)
    return _strip_declarations(etree.tostring(element, encoding="unicode"))


def _categories(post: Post) -> list[str]:
    names = [tag.name for tag in post.tags]
    return [*names, BREAKING_CATEGORY] if post.breaking else names


def _channel(site: Site, spec: FeedSpec, fmt: Format) -> str:
    fg = FeedGenerator()
    fg.load_extension("dc")
    fg.load_extension("media")
    self_url = spec.url(site.feeds_url, fmt)
    fg.id(self_url)
    fg.title(spec.title)
    fg.subtitle(spec.description) if fmt == "atom" else fg.description(spec.description)
    fg.link(href=self_url, rel="self", type=_MIME[fmt])
    fg.link(href=spec.link, rel="alternate", type="text/html")
    fg.language(spec.language)
    fg.generator(*GENERATOR)
    fg.updated(spec.updated)
    fg.lastBuildDate(spec.updated)
    for author in spec.authors:
        fg.author(_author(author))
    raw: bytes = fg.rss_str() if fmt == "rss" else fg.atom_str()
    return raw.decode("utf-8")


def _json_feed(site: Site, spec: FeedSpec, items: list[str]) -> bytes:
    head: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": spec.title,
        "home_page_url": spec.link,
        "feed_url": spec.url(site.feeds_url, "json"),
        "description": spec.description,
        "language": spec.language,
        "authors": [_json_author(a) for a in spec.authors],
    }
    text = json.dumps(head, ensure_ascii=False, indent=2)
    body = ",\n    ".join(items)
    return (text[:-2] + f',\n  "items": [\n    {body}\n  ]\n}}\n').encode("utf-8")


def _json_item(post: Post, rendered: Rendered, options: FeedOptions) -> dict[str, Any]:
    item: dict[str, Any] = {"id": post.id, "url": post.url, "title": post.title}
    if options.content == "full":
        item["content_html"] = feed_html(post, rendered)
    else:
        item["content_text"] = rendered.summary
    item["summary"] = rendered.summary
    if post.image is not None:
        item["image"] = post.image.url
    item["date_published"] = _rfc3339(post.date)
    item["date_modified"] = _rfc3339(post.modified)
    item["authors"] = [_json_author(a) for a in post.authors]
    item["tags"] = _categories(post)
    item["language"] = post.lang
    if post.image is not None or post.breaking:
        item["_feedpress"] = _json_extension(post)
    return item


_MIME: dict[Format, str] = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}


def _entry(post: Post, rendered: Rendered, options: FeedOptions,
           categories: list[str], fmt: Format) -> FeedEntry:
    entry = FeedEntry()
    entry.id(post.id)
    entry.guid(post.id, permalink=post.id == post.url)
    entry.title(post.title)
    entry.link(href=post.url, rel="alternate", type="text/html")
    entry.published(post.date)
    entry.updated(post.modified)
    entry.summary(rendered.summary, type="text")
    if fmt == "rss":
        # RSS readers treat <description> as HTML: the plain-text summary is escaped for it.
        # (feedgen's description() would also set an Atom entry's content.)
        entry.description(escape(rendered.summary, quote=False))
    if options.content == "full":
        entry.content(feed_html(post, rendered), type="html")
    for author in post.authors:
        entry.author(_author(author))
    for name in categories:
        entry.category(term=name)
    if fmt == "rss":
        if not _rss_author_element(post.authors):
            # RSS <author> takes one email address; names go in dc:creator.
            # Both in one item is flagged by feed validators, so it is one or the other.
            entry.load_extension("dc", atom=False)
            entry.dc.dc_creator([a.name for a in post.authors])
        if post.image is not None:
            entry.enclosure(post.image.url, "0", _image_type(post.image.url))
    return entry


def _finish_atom_entry(entry: etree._Element, post: Post) -> None:
    """Add what feedgen cannot write right: the entry's language and its links' attributes."""
    entry.set(_XML_LANG, post.lang)
    for link in entry.findall("link"):  # feedgen issue #135 dropped rel and type
        link.set("rel", "alternate")
        link.set("type", "text/html")
    if post.image is not None:
        link = etree.SubElement(entry, "link")
        link.set("rel", "enclosure")
        link.set("type", _image_type(post.image.url))
        link.set("href", post.image.url)
        if post.image.caption:
            link.set("title", post.image.caption)


def _rss_author_element(authors: tuple[Author, ...]) -> bool:
    """RSS `<author>` fits a single author whose email is known."""
    return len(authors) == 1 and authors[0].email is not None


def _finish_rss_item(item: etree._Element, post: Post) -> None:
    """Keep `<author>` only where it fits, and add the image as `media:content`."""
    if not _rss_author_element(post.authors):
        for author in item.findall("author"):
            item.remove(author)
    if post.image is None:
        return
    content = etree.SubElement(item, f"{{{_MEDIA}}}content")
    content.set("url", post.image.url)
    content.set("medium", "image")
    content.set("type", _image_type(post.image.url))
    if post.image.alt:
        etree.SubElement(content, f"{{{_MEDIA}}}title").text = post.image.alt
    if post.image.caption:
        description = etree.SubElement(content, f"{{{_MEDIA}}}description")
        description.text = post.image.caption


def _strip_declarations(xml: str) -> str:
    """Drop the namespace declarations lxml copies onto a reused item's start tag.

    The feed's root element declares the same namespaces; only the start tag
    is touched, so text inside the item can never be changed.
    """
    end = xml.index(">")
    return _NS_DECLARATION.sub("", xml[:end]) + xml[end:]


def _author(author: Author) -> dict[str, str]:
    fields = {"name": author.name}
    if author.email:
        fields["email"] = author.email
    if author.url:
        fields["uri"] = author.url
    return fields


def _json_author(author: Author) -> dict[str, str]:
    return {"name": author.name, "url": author.url} if author.url else {"name": author.name}


def _json_extension(post: Post) -> dict[str, Any]:
    extension: dict[str, Any] = {"breaking": post.breaking}
    if post.image is not None:
        extension["image_alt"] = post.image.alt
        if post.image.caption:
            extension["image_caption"] = post.image.caption
    return extension


def _image_type(url: str) -> str:
    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    return guessed if guessed and guessed.startswith("image/") else "application/octet-stream"


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def opml(title: str, specs: list[FeedSpec], feeds_url: str, fmt: Format) -> bytes:
    """An OPML list of every feed, one entry each in `fmt`, grouped by blog.

    Importing it subscribes once to each feed: offering every format would
    make a reader show each post three times.
    """
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = title
    body = etree.SubElement(root, "body")
    groups: dict[str | None, etree._Element] = {None: body}
    for spec in specs:
        parent = groups.get(spec.group)
        if parent is None:
            blog_spec = next(s for s in specs if s.kind == "blog" and s.group == spec.group)
            parent = groups[spec.group] = etree.SubElement(body, "outline", text=blog_spec.title)
        etree.SubElement(parent, "outline", type="rss", text=spec.title, title=spec.title,
                         xmlUrl=spec.url(feeds_url, fmt), htmlUrl=spec.link)
    xml: bytes = etree.tostring(root, encoding="utf-8", xml_declaration=True, pretty_print=True)
    return xml
