"""Feed items built the slow, obvious way: with feedgen and lxml, as feedpress first did.

feedpress writes RSS items and Atom entries with string templates, because
feedgen's per-item cost was most of a cold build. This module is the
reference those templates must match byte for byte: feedgen chooses the
element order, lxml does the escaping, and the few fixes feedpress makes
on top (see feedpress.feeds) are applied to the tree, not to the text.
"""

from __future__ import annotations

import re
from html import escape

from feedgen.entry import FeedEntry
from lxml import etree

from feedpress.feeds.formats import _author, _image_type  # what feedgen is given, not how it writes
from feedpress.feeds.markup import Rendered, feed_html
from feedpress.model import FeedOptions, Post

ATOM = "http://www.w3.org/2005/Atom"
MEDIA = "http://search.yahoo.com/mrss/"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
RSS_NSMAP = {
    "atom": ATOM,
    "content": "http://purl.org/rss/1.0/modules/content/",
    "dc": "http://purl.org/dc/elements/1.1/",
    "media": MEDIA,
}
NS_DECLARATION = re.compile(r' xmlns(?::\w+)?="[^"]*"')


def reference_item(post: Post, rendered: Rendered, options: FeedOptions, fmt: str) -> str:
    """`post` as an RSS item or Atom entry, serialised by feedgen and lxml."""
    entry = _entry(post, rendered, options, fmt)
    if fmt == "rss":
        element = entry.rss_entry()
        _finish_rss_item(element, post)
        parent = etree.Element("rss", nsmap=RSS_NSMAP)
    else:
        element = entry.atom_entry()
        _finish_atom_entry(element, post)
        parent = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})  # type: ignore[dict-item]
    parent.append(element)
    xml = etree.tostring(element, encoding="unicode")
    end = xml.index(">")  # lxml copies the namespace declarations onto the start tag
    return NS_DECLARATION.sub("", xml[:end]) + xml[end:]


def _entry(post: Post, rendered: Rendered, options: FeedOptions, fmt: str) -> FeedEntry:
    entry = FeedEntry()
    entry.id(post.id)
    entry.guid(post.id, permalink=post.id == post.url)
    entry.title(post.title)
    entry.link(href=post.url, rel="alternate", type="text/html")
    entry.published(post.date)
    entry.updated(post.modified)
    entry.summary(rendered.summary, type="text")
    if fmt == "rss":
        entry.description(escape(rendered.summary, quote=False))
    if options.content == "full":
        entry.content(feed_html(post, rendered), type="html")
    for author in post.authors:
        entry.author(_author(author))
    for name in [tag.name for tag in post.tags] + (["Breaking News"] if post.breaking else []):
        entry.category(term=name)
    if fmt == "rss":
        if not _single_author_with_email(post):
            entry.load_extension("dc", atom=False)
            entry.dc.dc_creator([a.name for a in post.authors])
        if post.image is not None:
            entry.enclosure(post.image.url, "0", _image_type(post.image.url))
    return entry


def _finish_atom_entry(entry: etree._Element, post: Post) -> None:
    entry.set(XML_LANG, post.lang)
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


def _finish_rss_item(item: etree._Element, post: Post) -> None:
    if not _single_author_with_email(post):
        for author in item.findall("author"):
            item.remove(author)
    if post.image is None:
        return
    content = etree.SubElement(item, f"{{{MEDIA}}}content")
    content.set("url", post.image.url)
    content.set("medium", "image")
    content.set("type", _image_type(post.image.url))
    if post.image.alt:
        etree.SubElement(content, f"{{{MEDIA}}}title").text = post.image.alt
    if post.image.caption:
        etree.SubElement(content, f"{{{MEDIA}}}description").text = post.image.caption


def _single_author_with_email(post: Post) -> bool:
    return len(post.authors) == 1 and post.authors[0].email is not None
