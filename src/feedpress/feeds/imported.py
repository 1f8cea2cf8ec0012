"""Posts written for Jekyll, Hugo, Eleventy and Pelican, read as they are.

Other tools name the same fields differently, and keep fields feedpress
has no use for. `adopt` turns a post's front matter into feedpress's own
names before it is validated, and says what it did, field by field, so
that the build can tell the newsroom once per field, not once per post:

- `lastmod`, `last_modified_at`, `modified` are `updated`;
- `description`, `excerpt` are `summary`;
- `categories`, `category` are added to `tags` (unless the config says not);
- `image: path/to.jpg`, `image.path`, `image.src` are `image.url`;
- a lone string `tags: post` is one tag;
- dates that TOML front matter gives as date-times become ISO 8601 text;
- `published: false` (Jekyll) and `status: draft` (Pelican) are `draft: true`;
- fields only another tool reads (`layout`, `permalink`, `weight`…) are
  set aside.

A date and a title may also come from a Jekyll file name
(`2024-05-01-my-post.md`): see `from_file_name`. In a body, `markdown`
turns the tags other tools use for code into Markdown, and `templates`
finds the template syntax that would be published as written. All pure.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from datetime import date, datetime, time
from typing import Any

from feedpress.text import slugify

RENAMED = {
    "lastmod": "updated", "last_modified_at": "updated", "modified": "updated",
    "description": "summary", "excerpt": "summary",
}
CATEGORIES = ("categories", "category")
IGNORED = frozenset({
    "layout", "permalink", "weight", "aliases", "comments", "toc", "type", "menu", "share",
    "sitemap", "hidden", "template",
    "eleventyNavigation", "pagination", "permalinkPattern", "series", "keywords", "featured",
    "redirect_from", "redirect_to", "excerpt_separator", "math", "mathjax", "cover",
    "thumbnail", "showToc", "tocopen", "ShowToc", "TocOpen", "translationKey", "expiryDate",
    "headless", "outputs", "markup", "linkTitle", "save_as", "modified_at",
    "sidebar", "header", "footer", "classes", "render_with_liquid", "js", "css",
})
_JEKYLL_NAME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-(.+)$")
# A highlight block's opening and closing lines, alone on their lines (as the tools write
# them); one on a line with other text is left as it is.
_HIGHLIGHT_OPEN = re.compile(
    r"[ \t]{0,3}(?:\{\{<\s*highlight\s+(?P<lang>[\w+#.-]{0,40})[^>\n]{0,200}>\}\}"
    r"|\{%-?\s*highlight\s+(?P<lang2>[\w+#.-]{0,40})[^%\n]{0,200}%\})[ \t]*")
_HIGHLIGHT_CLOSE = re.compile(
    r"[ \t]{0,3}(?:\{\{<\s*/highlight\s*>\}\}|\{%-?\s*endhighlight\s*-?%\})[ \t]*")
_MORE = re.compile(r"<!--\s{0,20}more\s{0,20}-->", re.IGNORECASE)
_FENCE_OPEN = re.compile(r"[ \t]{0,3}(`{3,}|~{3,})")
_CODE_SPAN = re.compile(r"(`+)[^`]{0,2000}?\1")
_RAW = re.compile(r"\{%-?\s{0,20}(?:end)?raw\s{0,20}-?%\}")
_RAW_OPEN = re.compile(r"\{%-?\s{0,20}raw\s{0,20}-?%\}")
_RAW_CLOSE = re.compile(r"\{%-?\s{0,20}endraw\s{0,20}-?%\}")
_RAW_MARK = "\x00raw\x00"  # no post can hold it: XML forbids NUL, and it is removed
_RAW_SPAN = re.compile(r"\x00raw\x00[^\x00]{0,5000}\x00raw\x00")
# What resolves without the other tool: Pelican's {static}/{attach} before a path from the
# site's root, Jekyll's {{ site.url }}{{ site.baseurl }}, and a quoted path through
# Jekyll's or Eleventy's URL filters ({{ '/img/a.png' | relative_url }}).
_STATIC = re.compile(r"\{(?:static|attach)\}(?=/)")
_SITE_PATH = re.compile(r"\{\{-?\s{0,20}site\.(?:url|baseurl)\s{0,20}-?\}\}")
_URL_FILTER = re.compile(
    r"\{\{-?\s{0,20}[\"']([^\"'{}\n]{0,500})[\"']\s{0,20}\|\s{0,20}"
    r"(?:relative_url|absolute_url|url)\s{0,20}-?\}\}")
# Liquid and Nunjucks tags and output, Hugo's shortcodes, Jinja's, Pelican's link marks:
# each on one line and of bounded length, so a line of a thousand "{{" costs no more than
# its length.
_TEMPLATE = re.compile(r"\{\{[<%][^\n]{0,300}?[>%]\}\}|\{%[^\n]{0,300}?%\}"
                       r"|\{\{[^\n]{0,300}?\}\}"
                       r"|\{(?:filename|index|tag|category|author|static|attach)\}")
# Just before a piece of template syntax: a link's or an image's URL (inline, a reference
# definition, an autolink, an HTML attribute).
_IN_URL = re.compile(r"(?:\]\(\s{0,20}|^\s{0,3}\[[^\]]{1,200}\]:\s{0,20}|<"
                     r"|\b(?:src|href)\s{0,5}=\s{0,5}[\"']?)[^)\"'\s<>]{0,300}$")


def adopt(data: dict[str, Any], *, categories_as_tags: bool = True
          ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """`data` with other tools' fields under feedpress's names; and a note (field, what
    happened) for each field so read, and each field set aside."""
    # Only TOML gives dates and times; YAML front matter is read with timestamps as text.
    found = {key: value if isinstance(value, str) else _plain(value)
             for key, value in data.items()}
    notes: list[tuple[str, str]] = []
    for old, new in RENAMED.items():
        if old in found:
            value = found.pop(old)
            if new in found:
                notes.append((old, f"ignored: {new} is given too"))
            else:
                found[new] = value
                notes.append((old, f"read as {new}"))
    _publish_date(found, notes)
    _categories(found, notes, categories_as_tags)
    _image(found, notes)
    _draft(found, notes)
    for key in sorted(k for k in found if k in IGNORED):
        del found[key]
        notes.append((key, "ignored: only the tool the post was written for uses it"))
    return found, notes


def _categories(found: dict[str, Any], notes: list[tuple[str, str]], as_tags: bool) -> None:
    for key in CATEGORIES:
        if key not in found:
            continue
        value = found.pop(key)
        if not as_tags:
            notes.append((key, "ignored: import.categories_as_tags is false"))
            continue
        extra = value.split() if isinstance(value, str) else value  # Jekyll: "a b" is two
        tags = found.get("tags")
        if isinstance(tags, str) and "," not in tags:
            tags = [tags]
        if isinstance(extra, list) and (tags is None or isinstance(tags, list)):
            found["tags"] = [*(tags or []), *extra]
            notes.append((key, "read as tags"))
        else:
            found[key] = value  # left for validation to name what is wrong with it


def _publish_date(found: dict[str, Any], notes: list[tuple[str, str]]) -> None:
    """Hugo's `publishDate`, the time a post goes out: the post's date when it is later
    (a post is published at its date), so that it holds the post back as in Hugo."""
    publish = found.pop("publishDate", None)
    if publish is None:
        return
    date = found.get("date")
    if date is None or (isinstance(publish, str) and isinstance(date, str)
                        and publish > date):
        found["date"] = publish
        notes.append(("publishDate", "read as date"))
    else:
        notes.append(("publishDate", "ignored: not later than date"))


def _draft(found: dict[str, Any], notes: list[tuple[str, str]]) -> None:
    """Jekyll's `published: false` and Pelican's `status: draft` (or `hidden`) keep a post
    from being published, as `draft: true` does; set aside otherwise."""
    published = found.pop("published", None)
    status = found.pop("status", None)
    if found.pop("eleventyExcludeFromCollections", None) is True:
        published = False  # Eleventy lists such a page in no collection: no feed either
        notes.append(("eleventyExcludeFromCollections", "read as draft"))
    if published is not None:
        notes.append(("published", "read as draft" if published is False else "ignored"))
    hidden = str(status or "").strip().lower() in ("draft", "hidden", "private")
    if status is not None:
        notes.append(("status", "read as draft" if hidden else "ignored"))
    if published is False or hidden:  # kept back, whatever draft: says: the safer reading
        found["draft"] = True


def _image(found: dict[str, Any], notes: list[tuple[str, str]]) -> None:
    if "image" not in found:
        for key in ("featured_image", "featuredImage", "images", "cover"):
            value = found.get(key)
            if isinstance(value, list) and value and isinstance(value[0], str):
                value = value[0]  # Hugo's images: the first is the post's
            elif isinstance(value, dict) and isinstance(value.get("image"), str):
                value = value["image"]  # Hugo themes' cover.image
            if isinstance(value, str):
                del found[key]
                found["image"] = {"url": value, **({"alt": found.pop("imageAlt")}
                                                   if isinstance(found.get("imageAlt"), str)
                                                   else {})}
                notes.append((key, "read as image.url"))
                break
    image = found.get("image")
    if isinstance(image, str):
        image = _SITE_PATH.sub("", _STATIC.sub("", image))
        found["image"] = {"url": image}
        notes.append(("image", "a plain string read as image.url"))
    elif isinstance(image, dict) and "url" not in image:
        for other in ("path", "src"):
            if other in image:
                image = {**image, "url": image[other]}
                del image[other]
                found["image"] = image
                notes.append((f"image.{other}", "read as image.url"))
                break


def _plain(value: Any) -> Any:
    """TOML's dates and times as the ISO 8601 text YAML front matter gives."""
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def from_file_name(stem: str) -> tuple[str, str] | None:
    """The date ("2024-05-01") and a title ("My first post") of a Jekyll-style file name
    ("2024-05-01-my-first-post"), or None for another name."""
    found = _JEKYLL_NAME.match(stem)
    if found is None:
        return None
    year, month, day, rest = found.groups()
    words = slugify(rest).replace("-", " ").strip()
    return f"{year}-{month}-{day}", words[:1].upper() + words[1:]


def markdown(body: str) -> str:
    """Another tool's code-block and verbatim tags as Markdown, so that what they show
    is kept: a Hugo `{{< highlight x >}}` or Liquid `{% highlight x %}` line, up to its
    closing line, becomes fenced code of language x, and Liquid's `{% raw %}` marks are
    dropped, their text kept; links through `site.baseurl`, URL filters and Pelican's
    `{static}` become plain paths. Code, fenced or inline, is left as it is, and every
    line stays on its line (problems are located by line). Other template syntax stays
    as written (see `templates`)."""
    if "{" not in body:
        return body
    return "\n".join(line for _, line in _read(body))


def _read(body: str) -> Iterator[tuple[bool, str]]:
    """Each line of `body` as `markdown` writes it, and whether it is code. A highlight
    block whose closing line never comes is left as it was written."""
    lines = body.split("\n")
    closers = [i for i, line in enumerate(lines)
               if "highlight" in line and _HIGHLIGHT_CLOSE.fullmatch(line)]
    fence: str | None = None  # the fence of the code block the line is in
    until = -1  # the closing line of the highlight block the line is in
    for number, line in enumerate(lines):
        if number < until:
            yield True, line
        elif number == until:
            yield True, "````"
        elif fence is not None:
            if _closes(line, fence):
                fence = None
            yield True, line
        elif (opening := _FENCE_OPEN.match(line)) is not None:
            fence = opening[1]
            yield True, line
        elif "highlight" in line and (whole := _HIGHLIGHT_OPEN.fullmatch(line)) and \
                (after := bisect.bisect_right(closers, number)) < len(closers):
            until = closers[after]
            yield True, "````" + (whole["lang"] or whole["lang2"] or "")
        else:
            yield False, _outside_code(line)


def _outside_code(line: str) -> str:
    """One line of prose: raw marks dropped and links resolved, but for inline code."""
    if "{" not in line:
        return line
    pieces, at = [], 0
    for span in _CODE_SPAN.finditer(line):  # inline code stays as it is
        pieces += [_prose(line[at: span.start()]), span[0]]
        at = span.end()
    return "".join([*pieces, _prose(line[at:])])


def _prose(text: str) -> str:
    text = _SITE_PATH.sub("", _STATIC.sub("", text))
    return _RAW.sub("", _URL_FILTER.sub(lambda m: m[1], text))


def _closes(line: str, fence: str) -> bool:
    stripped = line.strip()
    return stripped.startswith(fence) and set(stripped) == {fence[0]} and \
        len(stripped) >= len(fence)


def more(body: str) -> int | None:
    """Where the automatic summary ends: the first `<!--more-->` outside code, as
    Jekyll, Hugo and WordPress read it (an offset into `body`), else None."""
    # Most bodies: said without reading them line by line, by a lone "<" first (a
    # character is found several times quicker than a string, see text.lf_lines).
    if "<" not in body or "<!--" not in body:
        return None
    at = 0
    for line, (code, _) in zip(body.split("\n"), _read(body), strict=True):
        if not code:
            found = _MORE.search(_CODE_SPAN.sub(lambda m: " " * len(m[0]), line))
            if found is not None:
                return at + found.start()
        at += len(line) + 1
    return None


def templates(body: str) -> list[tuple[int, str, bool]]:
    """Each piece of another tool's template syntax left in `body` once `markdown` has
    read it: its line (from 1), its text, and whether it sits in a URL, where it makes a
    link that goes nowhere. Code, fenced or inline, and text between `{% raw %}` marks
    are left out: they show such syntax on purpose."""
    if "{" not in body:
        return []
    found = []
    verbatim = False
    for number, (code, line) in enumerate(_read(_mark_raw(body)), start=1):
        if code:
            continue
        text = _CODE_SPAN.sub(lambda m: " " * len(m[0]), line)
        if _RAW_MARK in text:
            verbatim = not verbatim if text.count(_RAW_MARK) % 2 else verbatim
            text = _RAW_SPAN.sub(lambda m: " " * len(m[0]), text)
            continue
        if verbatim:
            continue
        for match in _TEMPLATE.finditer(text):
            before = text[max(0, match.start() - 300): match.start()]
            found.append((number, match[0][:60], _IN_URL.search(before) is not None))
    return found


def _mark_raw(body: str) -> str:
    """`body` with `{% raw %}` and `{% endraw %}` as a mark of their own, so `templates`
    can tell what they enclose once `markdown` has dropped them."""
    return _RAW_OPEN.sub(_RAW_MARK, _RAW_CLOSE.sub(_RAW_MARK, body))


_PELICAN_LINE = re.compile(r"^([A-Za-z][A-Za-z0-9_-]*):[ \t]*(.*)$")
_PELICAN_LISTS = frozenset({"tags", "authors", "category", "categories"})


def pelican_header(text: str) -> tuple[dict[str, Any], str, int, dict[str, int]] | None:
    """Pelican's Markdown metadata (`Title: …` lines up to the first blank line) as a
    mapping, the body after it, the body's first line and each key's line; None if
    `text` does not open so. Keys are read in lower case; `Tags`, `Authors` and
    `Category` are comma lists."""
    lines = text.split("\n")
    end = next((i for i, line in enumerate(lines) if not line.strip()), len(lines))
    data: dict[str, Any] = {}
    where: dict[str, int] = {}
    key = ""
    for number, line in enumerate(lines[:end], start=1):
        if line[:1] in (" ", "\t") and key and isinstance(data[key], str):
            data[key] += " " + line.strip()  # a value continued on an indented line
            continue
        found = _PELICAN_LINE.match(line)
        if found is None:
            return None
        key, value = found[1].lower(), found[2].strip()
        data[key] = [v.strip() for v in value.split(",") if v.strip()] \
            if key in _PELICAN_LISTS else value
        where[key] = number
    if "title" not in data:
        return None
    return data, "\n".join(lines[end + 1:]), end + 2, where
