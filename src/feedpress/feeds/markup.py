"""Markdown to safe, portable HTML, and the plain-text summary of a post.

cmark-gfm (through cmarkgfm) renders CommonMark with tables and footnotes
about forty times faster than the pure-Python renderers; ammonia (through
nh3) then removes scripts, event handlers and `javascript:` URLs and makes
every relative URL absolute against the post's own URL, since a feed
reader or a mail client has no page to resolve it against.

It reads no file: the caller hands it each post's body, and `loading.summary`
is the one road the mail wing takes to a post's summary.
"""

from __future__ import annotations

import ctypes
import hashlib
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from html import escape, unescape
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
import nh3
from cmarkgfm import cmark
from cmarkgfm.cmark import Options

from feedpress.feeds import imported
from feedpress.model import Image, Post
from feedpress.text import (
    has_char_reference,
    is_plain_root_path,
    strip_xml_forbidden,
    xml_safe,
)

SUMMARY_CHARS = 400
_CMARK_OPTIONS = Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_FOOTNOTES
# GitHub's "tagfilter" is left out: it escapes <script> into visible text,
# where the sanitiser below removes it with its content.
_EXTENSIONS = ["table", "strikethrough", "autolink", "tasklist"]
_TAGS = nh3.ALLOWED_TAGS | {"section", "picture", "source", "figure", "figcaption", "input"}
_ATTRIBUTES: dict[str, set[str]] = {
    # Without `cite`: a URL that ammonia does not check the scheme of (javascript:), and
    # that no reader shows.
    **{tag: set(attrs) - {"cite"} for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"lang", "dir", "title"},
    "img": {"src", "srcset", "sizes", "alt", "width", "height"},
    "source": {"srcset", "sizes", "media", "type"},
    "td": {"colspan", "rowspan", "align"},
    "code": {"class"},  # cmark's language-x on fenced code
    "a": {*nh3.ALLOWED_ATTRIBUTES.get("a", ()), "id"},  # footnote references
    "li": {*nh3.ALLOWED_ATTRIBUTES.get("li", ()), "id"},  # footnotes
    "th": {"colspan", "rowspan", "align", "scope"},
}
_DROPPED_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "template"}
_ROOT_RELATIVE = re.compile(r'(\b(?:href|src)=")/(?!/)')
_FOOTNOTE_REF = re.compile(r"\[\^[^\]\s]{1,100}\]")
_LINK_DEFINITION = re.compile(r"^ {0,3}\[[^\]^\n]{1,200}\]:[^\n]{1,2000}$", re.MULTILINE)
_FOOTNOTE_MARK = re.compile(r'<sup><a href="#fn-[^"<>]*" id="fnref-[^"<>]*">[^<>]*</a></sup>')
_FOOTNOTE_ID = re.compile(r'\b(id|href)="(#?)(fn|fnref)-([^"]+)"')
_HTML_SPACE = " \t\n\r\f"
_TOKEN = re.compile(r'<(?:[^">]|"[^"]*")*>|[^<]+')  # a tag, or text


@dataclass(frozen=True)
class Rendered:
    """A post's body as safe HTML, and its summary as plain text (never empty)."""

    html: str
    summary: str


def render(post: Post, body: str) -> Rendered:
    """Render and sanitise `post`'s Markdown `body`; done once per post, reused by every feed."""
    return render_all([post], [body])[0]


def render_all(posts: list[Post], bodies: list[str], root: str = "/", *,
               xml_safe_bodies: bool = False) -> list[Rendered]:
    """`render` for many posts, one stage at a time over all of them (see builder). `root`
    is what a "/path" in a post is under (`Site.root`); `xml_safe_bodies` says that the
    bodies hold no character XML forbids (as `posts.read_body` gives them)."""
    bodies = [imported.markdown(body if xml_safe_bodies else xml_safe(body))
              for body in bodies]
    # Whether a body's HTML can hold an id or a footnote: cmark writes them only for
    # footnotes ("[^") and raw HTML ("<"). Most bodies have neither, which two lone
    # characters tell (see `text.lf_lines`) quicker than the HTML would.
    marked = ["^" in body or "<" in body for body in bodies]
    htmls = [_footnotes(markdown_to_html(body), post) if mark else markdown_to_html(body)
             for body, post, mark in zip(bodies, posts, marked, strict=True)]
    if root != "/":
        htmls = [_under(html, root) for html in htmls]
    # The bodies hold no character XML forbids now: their HTML can hold one only where a
    # numeric reference ("&#1;") in the body was decoded, by cmark or by the sanitiser.
    safe = [_after(sanitize(html, post.url, strip=has_char_reference(body),
                            markdown="<" not in body), post, marked=mark)
            for html, body, post, mark in zip(htmls, bodies, posts, marked, strict=True)]
    return [Rendered(html, post.summary or _summary(body, html, post, marked=mark)
                     or post.title)
            for html, body, post, mark in zip(safe, bodies, posts, marked, strict=True)]


def _under(html: str, root: str) -> str:
    """`html` with its root-relative URLs ("/x", not "//host/x") put under `root`."""
    return _ROOT_RELATIVE.sub(lambda m: m[1] + root, html)


def _summary(body: str, html: str, post: Post, *, marked: bool = True) -> str:
    """The automatic summary: the text before `<!--more-->` where the body has one (as
    Jekyll, Hugo and WordPress read it), else the first paragraph's. Without `marked`
    (see `render_all`), the HTML holds no footnote."""
    cut = imported.more(body)
    if cut is None:  # without the footnotes' numbers, as the cut below leaves them out
        noted = marked and "#fn-" in html
        return first_paragraph(_FOOTNOTE_MARK.sub("", html) if noted else html)
    head = _FOOTNOTE_REF.sub("", body[:cut])  # their notes are past the cut
    # Link definitions may be anywhere: those past the cut still serve links before it.
    head += "\n\n" + "\n".join(_LINK_DEFINITION.findall(body[cut:]))
    before = sanitize(markdown_to_html(head), post.url, markdown="<" not in head)
    return shorten(" ".join(lxml.html.fragment_fromstring(
        before or "<p></p>", create_parent="div").text_content().split()))


def _footnotes(html: str, post: Post) -> str:
    """cmark's footnote ids made this post's own (`fn-<prefix>-1`), so that posts shown
    together in one feed or digest keep apart."""
    if "footnote" not in html:
        return html
    prefix = footnote_prefix(post)
    return _FOOTNOTE_ID.sub(lambda m: f'{m[1]}="{m[2]}{m[3]}-{prefix}-{m[4]}"', html)


def footnote_prefix(post: Post) -> str:
    """64 bits of the digest of the post's id: for two posts' prefixes to clash, someone
    would have to search billions of ids (32 bits took a second, attacker's trial)."""
    return hashlib.sha256(post.id.encode("utf-8")).hexdigest()[:16]


def _after(html: str, post: Post, *, marked: bool = True) -> str:
    """Footnote links back to fragments of the content itself (the sanitiser made them
    absolute: they point into the item, not at the website), and no id but this post's
    footnotes' (an author's own could take another post's, shown beside it). In tags
    only: a post's text may well say `id="main"`. Without `marked` (see `render_all`),
    the HTML holds no id, and a link to a fragment only where it holds a "#"."""
    if not marked and "#" not in html:
        return html
    if "#fn" not in html and ' id="' not in html:
        return html
    page = f"{escape(post.url)}#"
    prefix = footnote_prefix(post)
    own = (f"fn-{prefix}-", f"fnref-{prefix}-")

    def attribute(found: re.Match[str]) -> str:
        name, value = found[1], found[2]
        if name == "id":
            return found[0] if value.startswith(own) else ""
        if name == "href" and value.startswith(page) and value[len(page):].startswith(own):
            return f' href="#{value[len(page):]}"'  # this post's own notes, not "#fnord"
        return found[0]

    def mended(tag: re.Match[str]) -> str:
        return _ATTRIBUTE.sub(attribute, tag[0]) if "=" in tag[0] else tag[0]

    return _SANITISED_TAG.sub(mended, html)


# A tag as the sanitiser writes one: a quote in a value is "&quot;", a "<" in text "&lt;";
# and each attribute in it, read from the tag's start, so that a value is never read as one.
_SANITISED_TAG = re.compile(r'<[A-Za-z][^>"]*(?:"[^"]*"[^>"]*)*>')
_ATTRIBUTE = re.compile(r' ([^\s"=/>]+)="([^"]*)"')


# How deep a body's elements may nest. The sanitiser's time grows with the square of the
# depth: 40 KB of ">" (40,000 nested quotes) took 7 s, 900 KB a minute. No writing needs
# more than a few dozen levels.
MOST_NESTED = 256
# How many footnote references a body may make. Each renders to a hundred bytes or so:
# a megabyte of "x[^1] " rendered to 45 MB of HTML, in every feed the post is in.
MOST_FOOTNOTE_REFERENCES = 1_000
_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)[^<>]*?(/?)>")
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                   "source", "track", "wbr"})


def nesting(body: str) -> int:
    """How deep the HTML that `body` renders to nests its elements, where it could nest
    deeper than `MOST_NESTED`: quotes and raw HTML, which take a ">" or a "<" a level
    (lists nest by indent, and cost the sanitiser little). 0 for a body with fewer."""
    if body.count("<") + body.count(">") <= MOST_NESTED:
        return 0
    depth = deepest = 0
    for closing, name, self_closing in _TAG.findall(markdown_to_html(body)):
        if closing:
            depth = max(depth - 1, 0)
        elif not self_closing and name.lower() not in _VOID:
            depth += 1
            deepest = max(deepest, depth)
    return deepest


def markdown_to_html(text: str) -> str:
    """CommonMark with GitHub's tables, strikethrough, autolinks and task lists, as HTML.

    The autolink extension (bare `www.` and `https://` addresses, email
    addresses) takes a third of cmark's time on a post, and most posts give
    it nothing to do: their addresses are inside [links](...). So a body is
    rendered without it first, and again with it only where that HTML holds,
    as text, what the extension looks for (`_autolink_bait`): without one,
    the extension would leave the document as it is.
    """
    html = _cmark_html(text, _extensions(autolink=False))
    return _cmark_html(text, _extensions(autolink=True)) if _autolink_bait(html) else html


def _autolink_bait(html: str) -> bool:
    """Whether `html`, as cmark wrote it, has text (not a tag, where link addresses are)
    holding "www.", "://" or "@": where the autolink extension starts a link, and
    all it starts one at (cmark-gfm's extensions/autolink.c)."""
    for bait in _BAITS:
        at = html.find(bait)
        opened = closed = searched = -1  # the last "<" and ">" before `at`
        while at != -1:
            # Only what lies after the last bait is searched: looking back to the start
            # from each bait took the square of the length (a million "@" in a URL, 10 s).
            opened = max(opened, html.rfind("<", searched + 1, at))
            closed = max(closed, html.rfind(">", searched + 1, at))
            if opened <= closed:  # no tag open here
                return True
            searched = closed = html.find(">", at)  # the end of the tag it is in
            if closed == -1:
                break
            at = html.find(bait, closed)
    return False


_BAITS = ("www.", "://", "@")


def _cmark_html(text: str, extensions: tuple[Any, ...]) -> str:
    """cmark's HTML for `text` with `extensions`.

    cmarkgfm's own `markdown_to_html_with_extensions` never frees the
    syntax tree nor the HTML it renders (cmarkgfm issue #53): about 40 kB
    lost per post, 300 MB over a 10,000-post build. This is the same call
    sequence, freeing both. cmarkgfm's bindings do not expose
    `cmark_node_free`, so it is called through ctypes from the same library.
    """
    parser = cmark.parser_new(options=_CMARK_OPTIONS)
    try:
        for extension in extensions:
            cmark.parser_attach_syntax_extension(parser, extension)
        cmark.parser_feed(parser, text)
        root = cmark.parser_finish(parser)
        try:
            rendered = cmark._cmark.lib.cmark_render_html(
                root, _CMARK_OPTIONS, cmark.parser_get_syntax_extensions(parser))
            try:  # a reference to U+FFFE or U+FFFF ("&#xFFFF;") comes out as a lone byte
                return str(cmark._cmark.ffi.string(rendered).decode("utf-8", "replace"))
            finally:
                _native().free(_address(rendered))
        finally:
            _native().node_free(_address(root))
    finally:
        cmark.parser_free(parser)


@lru_cache(maxsize=2)
def _extensions(*, autolink: bool) -> tuple[Any, ...]:
    cmark.core_extensions_ensure_registered()
    return tuple(cmark.find_syntax_extension(name) for name in _EXTENSIONS
                 if autolink or name != "autolink")


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


def sanitize(html: str, base: str, *, strip: bool = True, markdown: bool = False) -> str:
    """Safe HTML: no script, iframe or event handler, and every URL absolute against `base`;
    no character XML forbids, unless `strip` is False (for HTML known to hold none, nor a
    numeric reference that could decode to one, "&#1;"). `markdown` says that `html` is
    cmark's rendering of Markdown without a "<" (so without raw HTML): written by cmark
    alone, its elements nest as HTML allows (see `_as_cleaned`).

    ammonia resolves `href` and `src` itself; `srcset` (a list of URLs it
    does not resolve) goes through a Python filter, paid for only by the
    posts that have one. Most posts take a quicker road to the same result
    (see `_Resolver`).
    """
    cleaned = _as_cleaned(html, base) if markdown else None
    if cleaned is None:
        cleaned = _ammonia(html, base)
    return strip_xml_forbidden(cleaned) if strip else cleaned


def _ammonia(html: str, base: str) -> str:
    """`html` cleaned by ammonia: by the shared cleaner where it can, else with `base`."""
    has_srcset = "srcset" in html or "srcset" in html.lower()  # SRCSET="..." is one too
    cleaned = None if has_srcset else _RESOLVER.clean(html, base)
    if cleaned is None:
        def srcset(tag: str, name: str, value: str) -> str | None:
            return _absolute_srcset(value, base) if name == "srcset" else value

        options = {**_POLICY, "attribute_filter": srcset if has_srcset else None}
        try:
            cleaned = nh3.clean(html, **options, url_relative=("rewrite_with_base", base))
        except ValueError:  # a base ammonia refuses: relative URLs, which need one, are dropped
            cleaned = nh3.clean(html, **options, url_relative="deny")
    return _BOX.sub(_steady_box, cleaned) if "<input" in cleaned else cleaned


# A task list's box as ammonia leaves it (`_POLICY`): the attributes it sets come in an order
# that changes from one process to the next, and so would the feeds of a cold build.
_BOX = re.compile(r'<input(?: (?:checked|disabled|type)="[^"]*")*>')


def _steady_box(box: re.Match[str]) -> str:
    checked = ' checked=""' if " checked=" in box[0] else ""
    return f'<input type="checkbox" disabled=""{checked}>'


# What cmark writes for plain Markdown (no raw HTML, table, footnote or task list), with
# links and images to http(s) addresses or to paths from the site's root: only what
# ammonia allows, written as it writes it but for three things (see `_as_cleaned`).
_URL_HOST = r"(?:(?![Xx][Nn]--)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*" \
            r"(?![Xx][Nn]--)[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"  # no IP address, port
_URL = (rf"(?:https?://{_URL_HOST}(?:[/?#](?:[A-Za-z0-9\-._~!$()*+,;=:@/%?#]|&amp;)*)?"
        r"|(?!//)(?:/(?!\.|%2[Ee])(?:[A-Za-z0-9\-_~!$()*+,=:@%.]|&amp;)*)+)")
_VALUE = r'(?:[^<>&"\r\x00]|&amp;)*'  # what ammonia writes as cmark did, but U+00A0
_PLAIN_TAG = (
    r"<(?:/?(?:p|em|strong|li|h[1-6]|ul|blockquote|code|del)>|/(?:ol|pre|a)>"
    rf'|a href="{_URL}"(?: title="{_VALUE}")?>'
    rf'|img src="{_URL}" alt="{_VALUE}"(?: title="{_VALUE}")? />'
    r'|ol(?: start="[0-9]{1,9}")?>|pre>(?=<code[ >])'
    r'|code class="language-[A-Za-z0-9_+#.-]{1,64}">|(?:hr|br) />)')
_TEXT_RUN = r'[^<>&"\r\x00]*+'
_PLAIN_HTML = re.compile(
    rf"{_TEXT_RUN}(?:(?:&(?:amp|lt|gt|quot);|{_PLAIN_TAG}){_TEXT_RUN})*+")
_PLAIN_ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?/")


def _as_cleaned(html: str, base: str) -> str | None:
    """`html`, which cmark wrote for Markdown without raw HTML, as ammonia would clean it
    against `base`, where it is in the plain form cmark writes for most posts
    (`_PLAIN_HTML`); else None.

    ammonia parses the HTML and writes it out again: most of the time of
    rendering a post, to give back what it was given. Plain HTML holds
    nothing it removes (no other tag or attribute, no URL but a web
    address or a path from the root), and cmark's elements nest as HTML
    allows (raw HTML in a post could nest a paragraph in a paragraph,
    which a parser takes apart), so all it changes is: each path from the
    root made absolute (as `_Resolver` does), a void element's " />"
    written ">", "&quot;" in text written as a plain quote, and a no-break
    space as "&nbsp;".
    """
    origin = _origin(base)
    if (origin is None or _PLAIN_ORIGIN.fullmatch(origin) is None
            or _PLAIN_HTML.fullmatch(html) is None or _nests_links(html)):
        return None
    if '="/' in html:
        html = html.replace(' href="/', f' href="{origin}').replace(' src="/', f' src="{origin}')
    if " />" in html:
        html = html.replace(" />", ">")
    if "\xa0" in html:  # in text and values alike (and ammonia's parser is slow on many)
        html = html.replace("\xa0", "&nbsp;")
    return html.replace("&quot;", '"') if "&" in html and "&quot;" in html else html


def _nests_links(html: str) -> bool:
    """Whether a link opens inside another (which an HTML parser would take apart): two
    openings with no closing between them. The tags are found by a regular expression
    that skips to each "<", quicker than searches for "<a " and "</a>"."""
    return "<a <a " in "".join(_LINK_TAG.findall(html))


_LINK_TAG = re.compile(r"<(?:a |/a>)")


_POLICY: dict[str, Any] = {
    "tags": _TAGS, "clean_content_tags": _DROPPED_WITH_CONTENT, "attributes": _ATTRIBUTES,
    "link_rel": None,
    # A task list's box, and nothing else an <input> could be: checked or not, disabled.
    "tag_attribute_values": {"input": {"checked": {""}}},
    "set_tag_attribute_values": {"input": {"type": "checkbox", "disabled": ""}},
}


class _Resolver:
    """One reusable ammonia cleaner for every post, for the common case.

    `nh3.clean` with a per-post base URL converts the whole policy to Rust
    on every call, which is most of its cost. The shared cleaner instead
    asks this resolver about each relative URL: a plain path from the root
    (an inline image's "/images/x.jpg") becomes the origin and the path;
    anything else (a dot segment, a query, "#fragment", "../x") marks the
    post for `nh3.clean` with its base, which resolves by the URL standard.
    The origin itself is taken from ammonia's own resolution of "/", once
    per site, so the two roads cannot differ in how they write it.
    """

    def __init__(self) -> None:
        self._cleaner = nh3.Cleaner(**_POLICY, url_relative=self._resolve)
        self._local = threading.local()  # the post being cleaned, per thread

    def clean(self, html: str, base: str) -> str | None:
        """`html` cleaned as `nh3.clean` with `base` would, or None if it must be."""
        origin = _origin(base)
        if origin is None:
            return None
        self._local.origin = origin
        self._local.plain = True
        cleaned = self._cleaner.clean(html)
        return cleaned if self._local.plain else None

    def _resolve(self, url: str) -> str:
        if is_plain_root_path(url):
            return str(self._local.origin) + url[1:]
        self._local.plain = False
        return url


def _origin(base: str) -> str | None:
    """The URL standard's resolution of "/" against `base`, as ammonia writes it;
    None for a base whose authority Python's URL parser might read otherwise.

    Worked out by ammonia once per scheme and authority, that is per site.
    """
    if not base.isascii() or "\\" in base:
        return None
    plain = _PLAIN_BASE.match(base)  # most: split without urllib's cost
    if plain is not None:
        key = (plain[1], plain[2])
    else:
        parts = urlsplit(base)
        key = (parts.scheme, parts.netloc)
    if key not in _ROOTS:
        try:
            found = _ROOT_LINK.fullmatch(nh3.clean(
                '<a href="/"></a>', tags={"a"}, attributes={"a": {"href"}}, link_rel=None,
                url_relative=("rewrite_with_base", base)))
        except ValueError:  # not a base ammonia takes (a port that is no number)
            found = None
        _ROOTS[key] = None if found is None else unescape(found[1])
    return _ROOTS[key]


_ROOTS: dict[tuple[str, str], str | None] = {}
# An http(s) URL's scheme and authority as urlsplit splits them, where it has nothing
# that urlsplit would strip or read otherwise.
_PLAIN_BASE = re.compile(r"(https?)://([A-Za-z0-9.-]*(?::[0-9]*)?)(?=[/?#]|\Z)")
_ROOT_LINK = re.compile(r'<a href="([^"]*/)"></a>')
_RESOLVER = _Resolver()


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
    found = _opening_paragraph(html)
    if found is None:
        end = html.find("</p>") + 4
        found = _first_top_level_p(html[:end]) if end > 3 else None
        if found is None and end < len(html):
            found = _first_top_level_p(html)
    # Runs of whitespace become one space (what str.split() splits on is what the
    # regular expression \s+ matches, at a fraction of its cost).
    return "" if found is None else shorten(" ".join(found.split()))


def _opening_paragraph(html: str) -> str | None:
    """The text of the paragraph `html` opens with, if it does, read without a parser.

    Sanitised HTML is written one way: every "<" in text is escaped, tags
    end at the first ">" outside a double-quoted value, no comment is
    left, and a paragraph ends at its first `</p>` tag (HTML cannot nest
    one). Its text is then the paragraph's text between tags, unescaped.
    """
    start = len(html) - len(html.lstrip(_HTML_SPACE))
    if not html.startswith(("<p>", "<p "), start):
        return None
    texts: list[str] = []
    at = start
    for token in _TOKEN.finditer(html, start):
        piece = token[0]
        if token.start() != at:  # not written as sanitised HTML is: ask a parser
            return None
        if piece == "</p>":
            return unescape("".join(texts))
        if not piece.startswith("<"):
            texts.append(piece)
        at = token.end()
    return None


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


_NOT_IN_URL = frozenset('<>"\'`')  # what a data: URL split at its comma leaves behind


def _absolute_srcset(value: str, base: str) -> str:
    """Each candidate's URL made absolute against `base`; a candidate that is not http(s)
    (`javascript:`, `data:`, which ammonia would refuse in a `src`) is left out."""
    candidates = []
    for candidate in value.split(","):
        parts = candidate.strip().split(maxsplit=1)
        if not parts:
            continue
        try:
            parts[0] = urljoin(base, parts[0])
            web = urlsplit(parts[0]).scheme in ("http", "https") and not _NOT_IN_URL & set(
                parts[0])
        except ValueError:  # not a URL at all ("http://[")
            web = False
        if web:
            candidates.append(" ".join(parts))
    return ", ".join(candidates)
