"""Markdown to safe, portable HTML, and the plain-text summary of a post.

cmark-gfm (through cmarkgfm) renders CommonMark with tables and footnotes
about forty times faster than the pure-Python renderers; ammonia (through
nh3) then removes scripts, event handlers and `javascript:` URLs and makes
every relative URL absolute against the post's own URL, since a feed
reader or a mail client has no page to resolve it against.
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from html import escape
from typing import Any
from urllib.parse import urljoin

import lxml.html
import nh3
from cmarkgfm import cmark
from cmarkgfm.cmark import Options

from feedpress.model import Image, Post
from feedpress.text import strip_xml_forbidden

SUMMARY_CHARS = 400
_CMARK_OPTIONS = Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_FOOTNOTES
# GitHub's "tagfilter" is left out: it escapes <script> into visible text,
# where the sanitiser below removes it with its content.
_EXTENSIONS = ["table", "strikethrough", "autolink", "tasklist"]
_TAGS = nh3.ALLOWED_TAGS | {"section", "picture", "source", "figure", "figcaption"}
_ATTRIBUTES: dict[str, set[str]] = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"lang", "dir", "title"},
    "img": {"src", "srcset", "sizes", "alt", "width", "height"},
    "source": {"srcset", "sizes", "media", "type"},
    "td": {"colspan", "rowspan", "align"},
    "th": {"colspan", "rowspan", "align", "scope"},
}
_DROPPED_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "template"}
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Rendered:
    """A post's body as safe HTML, and its summary as plain text (never empty)."""

    html: str
    summary: str


def render(post: Post, body: str) -> Rendered:
    """Render and sanitise `post`'s Markdown `body`; done once per post, reused by every feed."""
    html = sanitize(markdown_to_html(body), post.url)
    return Rendered(html, post.summary or first_paragraph(html) or post.title)


def markdown_to_html(text: str) -> str:
    """CommonMark with GitHub's tables, strikethrough, autolinks and task lists, as HTML.

    cmarkgfm's own `markdown_to_html_with_extensions` never frees the
    syntax tree nor the HTML it renders (cmarkgfm issue #53): about 40 kB
    lost per post, 300 MB over a 10,000-post build. This is the same call
    sequence, freeing both. cmarkgfm's bindings do not expose
    `cmark_node_free`, so it is called through ctypes from the same library.
    """
    parser = cmark.parser_new(options=_CMARK_OPTIONS)
    try:
        for extension in _extensions():
            cmark.parser_attach_syntax_extension(parser, extension)
        cmark.parser_feed(parser, text)
        root = cmark.parser_finish(parser)
        try:
            rendered = cmark._cmark.lib.cmark_render_html(
                root, _CMARK_OPTIONS, cmark.parser_get_syntax_extensions(parser))
            try:
                return str(cmark._cmark.ffi.string(rendered).decode("utf-8"))
            finally:
                _native().free(_address(rendered))
        finally:
            _native().node_free(_address(root))
    finally:
        cmark.parser_free(parser)


@lru_cache(maxsize=1)
def _extensions() -> tuple[Any, ...]:
    cmark.core_extensions_ensure_registered()
    return tuple(cmark.find_syntax_extension(name) for name in _EXTENSIONS)


class _Allocator(ctypes.Structure):
    """cmark's `cmark_mem`: the allocator that made what it returns, and must free it."""

    _fields_ = [("calloc", ctypes.c_void_p), ("realloc", ctypes.c_void_p),
                ("free", ctypes.CFUNCTYPE(None, ctypes.c_void_p))]


@dataclass(frozen=True)
class _Native:
    node_free: Callable[[int], None]
    free: Callable[[int], None]


@lru_cache(maxsize=1)
def _native() -> _Native:
    library = ctypes.CDLL(cmark._cmark.__file__)  # already loaded: the same code and heap
    library.cmark_node_free.argtypes = [ctypes.c_void_p]
    library.cmark_node_free.restype = None
    library.cmark_get_default_mem_allocator.restype = ctypes.POINTER(_Allocator)
    allocator = library.cmark_get_default_mem_allocator().contents
    return _Native(library.cmark_node_free, allocator.free)


def _address(pointer: Any) -> int:
    return int(cmark._cmark.ffi.cast("uintptr_t", pointer))


def sanitize(html: str, base: str) -> str:
    """Safe HTML: no script, iframe or event handler, and every URL absolute against `base`.

    ammonia resolves `href` and `src` itself; `srcset` (a list of URLs it
    does not resolve) goes through a Python filter, paid for only by the
    posts that have one.
    """

    def srcset(tag: str, name: str, value: str) -> str | None:
        return _absolute_srcset(value, base) if name == "srcset" else value

    cleaned = nh3.clean(
        html,
        tags=_TAGS,
        clean_content_tags=_DROPPED_WITH_CONTENT,
        attributes=_ATTRIBUTES,
        attribute_filter=srcset if "srcset" in html else None,
        url_relative=("rewrite_with_base", base),
        link_rel=None,
    )
    return strip_xml_forbidden(cleaned)


def feed_html(post: Post, rendered: Rendered) -> str:
    """The content a feed carries: the post's image and caption above its body."""
    if post.image is None:
        return rendered.html
    return figure(post.image) + "\n" + rendered.html


def figure(image: Image) -> str:
    caption = f"<figcaption>{escape(image.caption)}</figcaption>" if image.caption else ""
    return f'<figure><img src="{escape(image.url)}" alt="{escape(image.alt)}">{caption}</figure>'


def first_paragraph(html: str) -> str:
    """The first top-level paragraph's text, cut at a word near `SUMMARY_CHARS`.

    Most bodies open with a paragraph, so the HTML up to the first `</p>`
    is parsed first: sanitised HTML closes every paragraph explicitly, and
    an HTML parser builds a prefix's tree as it builds the start of the
    whole, so a top-level paragraph found there is the one the whole body
    has. Only when there is none is the whole body parsed.
    """
    if "<p" not in html:
        return ""
    end = html.find("</p>") + 4
    found = _first_top_level_p(html[:end]) if end > 3 else None
    if found is None and end < len(html):
        found = _first_top_level_p(html)
    return "" if found is None else shorten(_SPACE.sub(" ", found).strip())


def _first_top_level_p(html: str) -> str | None:
    for element in lxml.html.fragments_fromstring(html):
        if isinstance(element, lxml.html.HtmlElement) and element.tag == "p":
            return str(element.text_content())
    return None


def shorten(text: str, limit: int = SUMMARY_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(",;:.") + "…"


def _absolute_srcset(value: str, base: str) -> str:
    candidates = []
    for candidate in value.split(","):
        parts = candidate.strip().split(maxsplit=1)
        if parts:
            parts[0] = urljoin(base, parts[0])
            candidates.append(" ".join(parts))
    return ", ".join(candidates)
