"""Serialising feeds: RSS 2.0 and Atom 1.0 channels through feedgen, JSON Feed 1.1, OPML.

This is the only module that imports feedgen. Each post's item is built
once per format and its text reused in every feed that holds it (the site,
its blog, each of its tags); the channel is built by feedgen with no
entries and the items are spliced in.

Items are written by string templates rather than by feedgen: building a
feedgen entry and serialising it with lxml cost about 0.25 ms per item and
format, most of a cold build's time. The templates write what feedgen and
lxml write, byte for byte (tests/feedgen_items.py is that reference, and a
test compares them), minus feedgen 1.0's traps:

- Atom entry links lose `rel`, `type` and `length` (feedgen issue #135);
- timestamps default to the wall clock, so every one is set explicitly;
- RSS dates are formatted under `setlocale(LC_ALL)`, which is neither fast
  nor thread-safe;
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
from email.utils import format_datetime
from functools import lru_cache
from html import escape
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from feedpress.feeds.catalog import FeedSpec
from feedpress.feeds.catalog import stylesheet as catalog_stylesheet
from feedpress.feeds.markup import Rendered, feed_html
from feedpress.model import Author, FeedOptions, Format, Image, Post, Site
from feedpress.version import __version__

BREAKING_CATEGORY = "Breaking News"
GENERATOR = ("feedpress", __version__, "https://pypi.org/project/feedpress/")



CONTENT = "content"  # the item part that RSS and Atom items share: the escaped content
_SLOT = 4  # bytes of offset that lead an item with a slot for its content


def item_fragments(post: Post, rendered: Rendered, options: FeedOptions) -> dict[str, bytes]:
    """`post` as an item in each configured format, serialised once for every feed.

    An item depends on its post alone (its tags keep the post's own
    spelling), so it can be built in any process and cached by the post's
    digest. It is UTF-8 already, as it will be written: a feed is then
    joined from bytes, without decoding and encoding every item again.

    With full content, RSS and Atom escape the post's HTML alike: it is
    kept once, as the `CONTENT` part, and their items hold a slot for it
    (see `item`). Most of an item's bytes are its content.
    """
    # In UTF-8 once for every format: most posts are not ASCII, whose encoding costs most.
    content = feed_html(post, rendered).encode("utf-8") if options.content == "full" else None
    parts: dict[str, bytes] = {}
    for fmt in options.formats:
        if fmt == "json":
            parts[fmt] = _json_item_utf8(post, rendered, content)
        else:
            head, tail = _xml_item(post, rendered.summary, fmt, content is not None)
            parts[fmt] = (_slotted(head, tail) if content is not None
                          else (head + tail).encode("utf-8"))
    if content is not None and parts.keys() - {"json"}:
        parts[CONTENT] = _text_utf8(content)
    return parts


def item(parts: dict[str, bytes], fmt: Format) -> bytes:
    """The whole item in `fmt` from the `parts` that `item_fragments` made."""
    return b"".join(_item_pieces(parts, fmt))


def _item_pieces(parts: dict[str, bytes], fmt: Format) -> tuple[bytes | memoryview, ...]:
    """The item in `fmt` as the pieces it is joined from, not yet joined: a feed joins
    all of its items' pieces at once, without a copy of each item first."""
    fragment = parts[fmt]
    if fmt == "json" or CONTENT not in parts:
        return (fragment,)
    at = _SLOT + int.from_bytes(fragment[:_SLOT], "little")
    whole = memoryview(fragment)
    return whole[_SLOT:at], parts[CONTENT], whole[at:]


def _slotted(head: str, tail: str) -> bytes:
    """An item with its content left out, led by the byte offset where it goes (see `item`)."""
    first = head.encode("utf-8")
    return len(first).to_bytes(_SLOT, "little") + first + tail.encode("utf-8")


def feed(site: Site, spec: FeedSpec, fmt: Format, items: list[dict[str, bytes]], *,
         stylesheet: bool = True) -> bytes:
    """The whole feed file: the channel, built by feedgen, with the items (each as the
    parts `item_fragments` made) spliced in (and, with `stylesheet`, the instruction that
    shows an RSS or Atom feed as a page)."""
    if fmt == "json":
        return _json_feed(site, spec, [parts[fmt] for parts in items])
    head = _channel(site, spec, fmt)
    sheet = catalog_stylesheet(site.language, spec.language)
    head = _with_stylesheet(head, len(spec.folder.parts), sheet) if stylesheet else head
    cut = head.rindex("</channel>" if fmt == "rss" else "</feed>")
    pieces: list[bytes | memoryview] = [head[:cut].encode("utf-8")]
    for parts in items:
        pieces.append(b"\n")
        pieces.extend(_item_pieces(parts, fmt))
    pieces += [b"\n", head[cut:].encode("utf-8"), b"\n"]
    return b"".join(pieces)


def _with_stylesheet(document: str, depth: int, sheet: PurePosixPath) -> str:
    """`document`, a feed `depth` folders below the output's root, with the instruction
    that shows it in a browser as a page (see `pages`), just after its XML declaration.
    The link is relative, so that a copy of the folder elsewhere shows the same. Feed
    readers ignore it."""
    declaration_end = document.index("?>") + 2
    href = _attr("../" * depth + sheet.as_posix())
    return (f'{document[:declaration_end]}\n<?xml-stylesheet type="text/xsl" href="{href}"?>'
            f"{document[declaration_end:]}")


def _xml_item(post: Post, summary: str, fmt: Format, content: bool) -> tuple[str, str]:
    """An RSS item or Atom entry, in two halves: with `content`, it goes between them."""
    return (_rss_item if fmt == "rss" else _atom_entry)(post, summary, content)


def _rss_item(post: Post, summary: str, content: bool) -> tuple[str, str]:
    """An RSS `<item>`, written directly: feedgen's per-item cost was most of a build's.

    The element order and the escaping are what feedgen and lxml write for
    the same item; tests/feedgen_items.py builds it their way and the
    tests compare the two byte for byte.
    """
    head = (f"<item><title>{_text(post.title)}</title><link>{_text(post.url)}</link>"
            # RSS readers treat <description> as HTML: the plain-text summary is escaped for it.
            f"<description>{_text(escape(summary, quote=False))}</description>")
    parts = ["</content:encoded>"] if content else []
    # RSS <author> takes one email address; names go in dc:creator.
    # Both in one item is flagged by feed validators, so it is one or the other.
    by_email = _rss_author_element(post.authors)
    if by_email:
        author = post.authors[0]
        parts.append(f"<author>{_text(f'{author.email} ({author.name})')}</author>")
    permalink = "true" if post.id == post.url else "false"
    parts.append(f'<guid isPermaLink="{permalink}">{_text(post.id)}</guid>')
    parts.extend(f"<category>{_text(name)}</category>" for name in _categories(post))
    image_type = "" if post.image is None else _image_type(post.image.url)
    if post.image is not None:
        parts.append(f'<enclosure url="{_attr(post.image.url)}" length="0" '
                     f'type="{image_type}"/>')
    parts.append(f"<pubDate>{format_datetime(post.date)}</pubDate>")
    if not by_email:
        parts.extend(f"<dc:creator>{_text(a.name)}</dc:creator>" for a in post.authors)
    if post.image is not None:
        parts.append(_media_content(post.image, image_type))
    parts.append("</item>")
    return (head + "<content:encoded>" if content else head), "".join(parts)


def _media_content(image: Image, image_type: str) -> str:
    title = f"<media:title>{_text(image.alt)}</media:title>" if image.alt else ""
    description = (f"<media:description>{_text(image.caption)}</media:description>"
                   if image.caption else "")
    attributes = f'url="{_attr(image.url)}" medium="image" type="{image_type}"'
    if not title and not description:
        return f"<media:content {attributes}/>"
    return f"<media:content {attributes}>{title}{description}</media:content>"


def _atom_entry(post: Post, summary: str, content: bool) -> tuple[str, str]:
    """An Atom `<entry>`, written directly (see `_rss_item`), with its language.

    The links carry `rel` and `type`, which feedgen 1.0 drops (its issue
    #135), and the image is an enclosure link.
    """
    head = "".join([f'<entry xml:lang="{_attr(post.lang)}"><id>{_text(post.id)}</id>'
                    f"<title>{_text(post.title)}</title>"
                    f"<updated>{post.modified.isoformat()}</updated>",
                    *(_atom_author(a) for a in post.authors)])
    parts = ["</content>"] if content else []
    parts.append(f'<link href="{_attr(post.url)}" rel="alternate" type="text/html"/>'
                 f'<summary type="text">{_text(summary)}</summary>')
    parts.extend(f'<category term="{_attr(name)}"/>' for name in _categories(post))
    parts.append(f"<published>{post.date.isoformat()}</published>")
    if post.image is not None:
        image = post.image
        title = f' title="{_attr(image.caption)}"' if image.caption else ""
        parts.append(f'<link rel="enclosure" type="{_image_type(image.url)}" '
                     f'href="{_attr(image.url)}"{title}/>')
    parts.append("</entry>")
    return (head + '<content type="html">' if content else head), "".join(parts)


def _atom_author(author: Author) -> str:
    email = f"<email>{_text(author.email)}</email>" if author.email else ""
    uri = f"<uri>{_text(author.url)}</uri>" if author.url else ""
    return f"<author><name>{_text(author.name)}</name>{email}{uri}</author>"


def _text(value: str) -> str:
    """`value` escaped as XML character data, as lxml escapes it."""
    value = escape(value, quote=False)
    return value.replace("\r", "&#13;") if "\r" in value else value


def _text_utf8(data: bytes) -> bytes:
    """`_text(text)` in UTF-8, for the `text` whose UTF-8 is `data`, escaped as bytes: a
    few times faster on a post's whole content (UTF-8 never uses these ASCII bytes inside
    another character)."""
    data = data.replace(b"&", b"&amp;").replace(b"<", b"&lt;").replace(b">", b"&gt;")
    return data.replace(b"\r", b"&#13;") if b"\r" in data else data


def _attr(value: str) -> str:
    """`value` escaped for a double-quoted XML attribute, as lxml escapes it."""
    value = _text(value).replace('"', "&quot;")
    return value.replace("\n", "&#10;").replace("\t", "&#9;")


def _categories(post: Post) -> list[str]:
    names = [tag.name for tag in post.tags]
    return [*names, BREAKING_CATEGORY] if post.breaking else names


def _channel(site: Site, spec: FeedSpec, fmt: Format) -> str:
    from feedgen.ext.dc import DcEntryExtension, DcExtension
    from feedgen.ext.media import MediaEntryExtension, MediaExtension
    from feedgen.feed import FeedGenerator  # not imported by a build with nothing to write

    fg = FeedGenerator()
    # What load_extension("dc") does, without its failed import of a "dc_entry"
    # module, which searches the disk on every call: most of a channel's cost.
    fg.register_extension("dc", DcExtension, DcEntryExtension)
    fg.register_extension("media", MediaExtension, MediaEntryExtension)
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
    if fmt == "atom":
        for hub in site.hubs:
            fg.link(href=hub, rel="hub")
    raw: bytes = fg.rss_str() if fmt == "rss" else fg.atom_str()
    text = raw.decode("utf-8")
    if fmt == "rss" and site.hubs:  # feedgen's RSS keeps only the self atom:link
        at = text.index("/>", text.index('rel="self"')) + 2
        hubs = "".join(f'<atom:link href="{_attr(hub)}" rel="hub"/>' for hub in site.hubs)
        text = text[:at] + hubs + text[at:]
    return text


def _json_feed(site: Site, spec: FeedSpec, items: list[bytes]) -> bytes:
    head: dict[str, Any] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": spec.title,
        "home_page_url": spec.link,
        "feed_url": spec.url(site.feeds_url, "json"),
        "description": spec.description,
        "language": spec.language,
        "authors": [_json_author(a) for a in spec.authors],
    }
    if site.hubs:
        head["hubs"] = [{"type": "WebSub", "url": hub} for hub in site.hubs]
    text = json.dumps(head, ensure_ascii=False, indent=2)
    opening = (text[:-2] + ',\n  "items": [\n    ').encode("utf-8")
    return opening + b",\n    ".join(items) + b"\n  ]\n}\n"


def _json_item_utf8(post: Post, rendered: Rendered, content: bytes | None) -> bytes:
    """The JSON Feed item, written string by string as `json.dumps` (with
    `ensure_ascii=False`) writes the same object: a test holds the two equal. With
    `content` (UTF-8), that (most of its bytes) is escaped apart by `_json_string_utf8`."""
    q = _json_text
    fields = [f'"id": {q(post.id)}', f'"url": {q(post.url)}', f'"title": {q(post.title)}',
              _JSON_SLOT if content is not None else f'"content_text": {q(rendered.summary)}',
              f'"summary": {q(rendered.summary)}']
    if post.image is not None:
        fields.append(f'"image": {q(post.image.url)}')
    fields += [f'"date_published": {q(_rfc3339(post.date))}',
               f'"date_modified": {q(_rfc3339(post.modified))}',
               f'"authors": [{", ".join(map(_json_item_author, post.authors))}]',
               f'"tags": [{", ".join(map(q, _categories(post)))}]',
               f'"language": {q(post.lang)}']
    if post.image is not None or post.breaking:
        fields.append(f'"_feedpress": {_json_extension(post)}')
    head, _, tail = ("{" + ", ".join(fields) + "}").partition(_JSON_SLOT)
    if content is None:
        return head.encode("utf-8")
    return b"".join([head.encode("utf-8"), b'"content_html": ', _json_string_utf8(content),
                     tail.encode("utf-8")])


_json_text = json.JSONEncoder(ensure_ascii=False).encode  # a string, as json.dumps writes it
_JSON_SLOT = "\0content"  # where the content goes: a NUL, which no escaped string holds
# What json.dumps escapes besides the backslash, the quote and the newline, tab and carriage
# return that `_json_string_utf8` escapes as bytes: control characters, rare in HTML.
_JSON_RARE = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])


def _json_string_utf8(data: bytes) -> bytes:
    """`json.dumps(text, ensure_ascii=False)` in UTF-8, for the `text` whose UTF-8 is
    `data`, escaped as bytes: a few times faster on a post's whole content (UTF-8 never
    uses these ASCII bytes inside another character)."""
    if len(data.translate(None, _JSON_RARE)) != len(data):  # found quicker than by regex
        return json.dumps(data.decode("utf-8"), ensure_ascii=False).encode("utf-8")
    data = data.replace(b"\\", b"\\\\").replace(b'"', b'\\"').replace(b"\n", b"\\n")
    return b'"' + data.replace(b"\t", b"\\t").replace(b"\r", b"\\r") + b'"'


def _json_item_author(author: Author) -> str:
    name = f'{{"name": {_json_text(author.name)}'
    return f'{name}, "url": {_json_text(author.url)}}}' if author.url else name + "}"


def _json_extension(post: Post) -> str:
    fields = [f'"breaking": {"true" if post.breaking else "false"}']
    if post.image is not None:
        fields.append(f'"image_alt": {_json_text(post.image.alt)}')
        if post.image.caption:
            fields.append(f'"image_caption": {_json_text(post.image.caption)}')
    return "{" + ", ".join(fields) + "}"


_MIME: dict[Format, str] = {
    "rss": "application/rss+xml",
    "atom": "application/atom+xml",
    "json": "application/feed+json",
}


def _rss_author_element(authors: tuple[Author, ...]) -> bool:
    """RSS `<author>` fits a single author whose email is known."""
    return len(authors) == 1 and authors[0].email is not None


def _author(author: Author) -> dict[str, str]:
    fields = {"name": author.name}
    if author.email:
        fields["email"] = author.email
    if author.url:
        fields["uri"] = author.url
    return fields


def _json_author(author: Author) -> dict[str, str]:
    return {"name": author.name, "url": author.url} if author.url else {"name": author.name}


def _image_type(url: str) -> str:
    """The media type of the image at `url`, by the extension of its path's last part
    (as `mimetypes` reads the whole path: it looks at nothing before the last "/")."""
    plain = _PLAIN_WEB_URL.fullmatch(url)  # most: split without urllib's cost
    path = (plain[1] or "") if plain else urlsplit(url).path
    if not path.startswith("/"):  # where mimetypes would read "x:" at its start as a scheme
        return _image_only(mimetypes.guess_type(path)[0])
    return _type_of_name(path.rpartition("/")[2])


# An http(s) URL of URI characters, its path apart: what urlsplit splits off as the path.
_PLAIN_WEB_URL = re.compile(r"https?://[A-Za-z0-9\-._~!$&'()*+,;=:@%\[\]]*"
                            r"(/[A-Za-z0-9\-._~!$&'()*+,;=:@%/\[\]]*)?(?:[?#][^\s]*)?")


@lru_cache(maxsize=256)  # a few names: "photo.jpg" and the like
def _type_of_name(name: str) -> str:
    return _image_only(mimetypes.guess_type("/" + name)[0])  # as for the whole path


def _image_only(guessed: str | None) -> str:
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
