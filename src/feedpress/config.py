"""Reading and validating `feedpress.yaml`.

The file is turned into frozen values once, here; nothing else in
feedpress reads the YAML or looks keys up by string. Every unknown key and
every wrong type is reported, all at once, naming the key and its line.

The `email:` block is read here too (its values are in `mailsettings`), so
that one pass reports every mistake in the file. This module holds plain
values only: it must not import either wing, nor read posts or the ledger.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from feedpress import yamltext
from feedpress.errors import ConfigError, Problem
from feedpress.fields import Fields
from feedpress.mailsettings import EmailSettings, read_email
from feedpress.model import ALL_FORMATS, Author, Blog, FeedOptions, Format, Site
from feedpress.text import decode, has_xml_forbidden

CONFIG_NAME = "feedpress.yaml"
CACHE_FOLDER = ".feedpress"  # beside the config: the build cache, the ping state
PERMALINK_FIELDS = frozenset({"site_url", "blog_url", "blog", "slug", "year", "month", "day"})
# Folders of the output that are the site's own, not a blog's.
_RESERVED_IDS = {"tags": "topic", "breaking": "breaking-news"}
_BLOG_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class Config:
    """A validated project configuration; paths are absolute."""

    path: Path
    site: Site
    blogs: tuple[Blog, ...]
    authors: dict[str, Author]
    feeds: FeedOptions
    posts_dir: Path
    output_dir: Path
    fingerprint: str
    email: EmailSettings
    categories_as_tags: bool = True  # import.categories_as_tags: other tools' categories

    def blog(self, blog_id: str) -> Blog | None:
        for blog in self.blogs:
            if blog.id == blog_id:
                return blog
        return None


def load(path: Path) -> Config:
    """Read and validate the config at `path`; raise `ConfigError` listing every problem."""
    path = path.absolute()
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problem = Problem(path, None, None, f"cannot read config: {exc.strerror}")
        raise ConfigError([problem]) from None
    try:
        text = decode(raw)
        data = yamltext.load(text)
    except UnicodeDecodeError:
        raise ConfigError([Problem(path, None, None, "not valid UTF-8")]) from None
    except yamltext.YamlSyntaxError as exc:
        raise ConfigError([Problem(path, exc.line, None, str(exc))]) from None
    if not isinstance(data, dict):
        raise ConfigError([Problem(path, 1, None, "must be a mapping of settings")])
    problems: list[Problem] = []
    lines: dict[tuple[str, ...], int] | None = None

    def locate(key: tuple[str, ...]) -> int | None:
        nonlocal lines
        if lines is None:
            lines = yamltext.key_lines(text)
        return lines.get(key)

    unreadable = _unreadable(data)
    problems += sorted((Problem(path, _nearest(key, locate), ".".join(key) or None, message)
                        for key, message, _ in unreadable), key=lambda p: p.line or 0)
    if any(untextual for _, _, untextual in unreadable):  # it would trip what reads below
        raise ConfigError(problems)
    top = Fields(data, path=path, prefix=(), locate=locate, problems=problems)
    config = _read(top, path, _fingerprint(data))
    if problems:
        raise ConfigError(problems)
    assert config is not None
    return config


def _unreadable(data: dict[str, Any]) -> list[tuple[tuple[str, ...], str, bool]]:
    """Each key and message of what no setting can hold, and whether it is a key that is
    not text: text with a character XML forbids (only an escape in a quoted string,
    "\\v", can put one there), which would make a feed that no reader parses, and a key
    that YAML reads as a number, a boolean or nothing (a blog `2026:`, `on:`), which no
    setting is named. Each is an error, where a post's control character is removed with
    a warning: the config is one file its owner fixes once."""
    found: list[tuple[tuple[str, ...], str, bool]] = []
    waiting: list[tuple[tuple[str, ...], Any]] = [((), data)]
    while waiting:
        key, value = waiting.pop()
        if isinstance(value, str) and has_xml_forbidden(value):
            found.append((key, _FORBIDDEN, False))
        elif isinstance(value, dict):
            for name, inner in value.items():
                if not isinstance(name, str):
                    found.append((key, f"a key is read by YAML as {_kind(name)}, not as "
                                       "text: write it in quotes (\"2026\":, \"on\":)", True))
                elif has_xml_forbidden(name):
                    found.append(((*key, name), f"the key {_FORBIDDEN}", False))
                else:
                    waiting.append(((*key, name), inner))
        elif isinstance(value, list):
            waiting.extend(((*key, str(i)), v) for i, v in enumerate(value))
    return found


_FORBIDDEN = "contains a control character, which XML forbids (feeds and mail could not " \
             "carry it)"


def _kind(value: object) -> str:
    if isinstance(value, bool):  # `on`, `yes` and `true` alike
        return f"the boolean {str(value).lower()}"
    return "nothing" if value is None else f"{type(value).__name__} {value!r}"


def _nearest(key: tuple[str, ...], locate: Callable[[tuple[str, ...]], int | None]) -> int | None:
    """The line of `key`, or of the nearest key it is under that has one."""
    while key:
        line = locate(key)
        if line is not None:
            return line
        key = key[:-1]
    return None


def _fingerprint(data: dict[str, Any]) -> str:
    """A digest of everything in the config that shapes the feeds and their pages: not the
    email block, but for the subscribe URL the pages link to."""
    feeds_only = {key: value for key, value in data.items() if key != "email"}
    email = data.get("email")
    if isinstance(email, dict) and "subscribe_url" in email:
        feeds_only["email.subscribe_url"] = email["subscribe_url"]
    text = json.dumps(feeds_only, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _read(top: Fields, path: Path, fingerprint: str) -> Config | None:
    root = path.parent.resolve()
    authors = _read_authors(top.section("authors"))
    site = _read_site(top.section("site"), authors, top)
    blogs = _read_blogs(top.section("blogs"), site, authors, top)
    feeds = _read_feeds(top.section("feeds"))
    posts_dir = _folder(top, "posts_dir", root, "posts")
    output_dir = _folder(top, "output_dir", root, "public")
    wrong_posts = _unsafe_posts(posts_dir, root)
    if wrong_posts:
        top.problem("posts_dir", wrong_posts)
    email = read_email(top.section("email"), root, site.domain if site else "example.org")
    why = None if wrong_posts else unsafe_output(
        output_dir, root, posts_dir, email.templates) or _outside(output_dir, root)
    if why:
        top.problem("output_dir", why)
    hubs = _read_hubs(top.section("websub"))
    categories_as_tags = _read_import(top.section("import"))
    top.finish()
    if site is None:
        return None
    return Config(path, replace(site, hubs=hubs), blogs, authors, feeds, posts_dir, output_dir,
                  fingerprint, email, categories_as_tags)


def _read_import(fields: Fields | None) -> bool:
    """`import:`: how posts written for other tools are read."""
    if fields is None:
        return True
    as_tags = fields.flag("categories_as_tags", True)
    fields.finish()
    return as_tags


def _read_hubs(fields: Fields | None) -> tuple[str, ...]:
    """`websub.hubs`: https URLs (http only to a loopback address, for a hub under test)."""
    if fields is None:
        return ()
    hubs = []
    for value in fields.text_list("hubs", single=False) or []:
        hub = _hub(value)
        if hub is None:
            fields.problem("hubs", f"each hub must be an https URL (no user or password, "
                           f"nothing to escape), not {value!r}")
        else:
            hubs.append(hub)
    fields.finish()
    return tuple(dict.fromkeys(hubs))


def _hub(value: str) -> str | None:
    """A hub's URL in one spelling (lower-case scheme and host, no default port), or None
    if it cannot be one: it is written into every feed as it is."""
    if not value.isascii() or any(c.isspace() or c in '"<>\\^`{|}' for c in value):
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    host, scheme = parts.hostname, parts.scheme.lower()
    loopback = host in ("127.0.0.1", "localhost", "::1")  # a hub under test
    if not host or parts.username is not None or parts.password is not None or not (
            scheme == "https" or (scheme == "http" and loopback)):
        return None
    shown = f"[{host}]" if ":" in host else host
    if port is not None and port != {"https": 443, "http": 80}[scheme]:
        shown = f"{shown}:{port}"
    return urlunsplit((scheme, shown, parts.path or "/", parts.query, ""))


def _read_authors(fields: Fields | None) -> dict[str, Author]:
    authors: dict[str, Author] = {}
    if fields is None:
        return authors
    for key in list(fields.data):
        entry = fields.section(str(key))
        if entry is None:
            continue
        name = entry.text("name", required=True)
        email = entry.text("email")
        url = _url(entry, "url")
        entry.finish()
        if name:
            authors[str(key)] = Author(name.strip(), email, url)
    return authors


def _read_site(fields: Fields | None, authors: dict[str, Author], top: Fields) -> Site | None:
    if fields is None:
        top.problem("site", "is required (at least site.title and site.url)")
        return None
    title = fields.text("title", required=True)
    url = _url(fields, "url", required=True, folder=True)
    feeds_url = _url(fields, "feeds_url", folder=True) or url
    description = fields.text("description") or ""
    permalink = _permalink(fields)
    language = _language(fields, "language", "en")
    timezone = _timezone(fields)
    site_authors = _author_refs(fields, "author", authors)
    root_relative = fields.choice("root_relative", ("host", "site"), "host")
    fields.finish()
    if not (title and url and feeds_url):
        return None
    return Site(
        title=title,
        url=url,
        feeds_url=feeds_url,
        description=description or title,
        permalink=permalink,
        language=language,
        timezone=timezone,
        authors=site_authors or (Author(title),),
        root_relative=root_relative,  # type: ignore[arg-type]
    )


def _read_blogs(
    fields: Fields | None, site: Site | None, authors: dict[str, Author], top: Fields
) -> tuple[Blog, ...]:
    if fields is None or not fields.data:
        top.problem("blogs", "is required: list at least one blog")
        return ()
    blogs = []
    for key in list(fields.data):
        blog_id = str(key)
        entry = fields.section(blog_id)
        if entry is None:
            continue
        if not _BLOG_ID.match(blog_id):
            fields.problem(blog_id, "a blog id uses lowercase letters, digits, - and _ only")
        elif blog_id in _RESERVED_IDS:
            fields.problem(blog_id, f"is the folder of the site's {_RESERVED_IDS[blog_id]} "
                           "feeds; give the blog another id")
        blog = _read_blog(blog_id, entry, site, authors)
        if blog is not None:
            blogs.append(blog)
    return tuple(blogs)


def _read_blog(
    blog_id: str, fields: Fields, site: Site | None, authors: dict[str, Author]
) -> Blog | None:
    title = fields.text("title", required=True)
    description = fields.text("description") or ""
    language = _language(fields, "language", site.language if site else "en")
    url = _url(fields, "url", folder=True)
    blog_authors = _author_refs(fields, "author", authors)
    fields.finish()
    if site is None or not title:
        return None
    return Blog(
        id=blog_id,
        title=title,
        description=description or title,
        language=language,
        url=url or f"{site.url}{blog_id}/",
        authors=blog_authors or site.authors,
    )


def _read_feeds(fields: Fields | None) -> FeedOptions:
    default = FeedOptions()
    if fields is None:
        return default
    formats = fields.text_list("formats")
    chosen: list[Format] = []
    for name in formats or ALL_FORMATS:
        if name not in ALL_FORMATS:
            fields.problem("formats", f"unknown format {name!r}; use any of rss, atom, json")
        elif name not in chosen:
            chosen.append(name)
    if formats is not None and not formats:
        fields.problem("formats", "must name at least one format")
    options = FeedOptions(
        formats=tuple(chosen) or default.formats,
        items=fields.integer("items", default.items, minimum=1),
        content=cast(Any, fields.choice("content", ("full", "summary"), default.content)),
        blog_tags=fields.flag("blog_tags", default.blog_tags),
        pages=fields.flag("pages", default.pages),
    )
    fields.finish()
    return options


def author_refs(refs: list[str], authors: dict[str, Author]) -> tuple[Author, ...]:
    """Authors named by config key, or by plain name for anyone not in `authors`."""
    return tuple(authors.get(ref) or Author(ref.strip()) for ref in refs if ref.strip())


def _author_refs(fields: Fields, key: str, authors: dict[str, Author]) -> tuple[Author, ...]:
    return author_refs(fields.text_list(key) or [], authors)


def _url(fields: Fields, key: str, *, required: bool = False, folder: bool = False) -> str | None:
    value = fields.text(key, required=required)
    if value is None:
        return None
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        fields.problem(key, f"must be an absolute http(s) URL, not {value!r}")
        return None
    if not _URI_TEXT.fullmatch(value.strip()):  # every link, id and feed URL starts with it
        fields.problem(key, f"must be a URI: no space, quote, angle bracket, backslash or "
                       f"letter outside ASCII (write it %-encoded, or the host in "
                       f"punycode), not {value!r}")
        return None
    if folder and (parts.query or parts.fragment):  # links are made by adding to it
        fields.problem(key, f"must have no ?query or #fragment, since links are made by "
                       f"adding paths to it: {value!r}")
        return None
    url = parts.geturl()
    return url if not folder or url.endswith("/") else url + "/"


# The characters RFC 3986 allows in a URI, as themselves or in %XX escapes.
_URI_TEXT = re.compile(r"[A-Za-z0-9\-._~!#$%&'()*+,/:;=?@\[\]]*")


def _language(fields: Fields, key: str, default: str) -> str:
    return fields.language(key) or default


def _timezone(fields: Fields) -> str:
    value = fields.text("timezone")
    if value is None:
        return "UTC"
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        fields.problem("timezone", f"unknown IANA timezone {value!r}, e.g. Europe/London")
        return "UTC"
    return value


def _permalink(fields: Fields) -> str:
    default = "{blog_url}{slug}/"
    value = fields.text("permalink") or default
    try:
        parsed = [(n, spec, conv) for _, n, spec, conv in string.Formatter().parse(value)
                  if n is not None]
    except ValueError as exc:
        fields.problem("permalink", f"is not a valid pattern: {exc}")
        return default
    if any(spec or conv for _, spec, conv in parsed):
        fields.problem("permalink", "placeholders take no format spec or conversion, "
                       "e.g. {year}, not {year:d}")
        return default
    names = {name for name, _, _ in parsed}
    unknown = sorted(names - PERMALINK_FIELDS)
    if unknown:
        known = ", ".join(f"{{{n}}}" for n in sorted(PERMALINK_FIELDS))
        fields.problem("permalink", f"unknown placeholder {{{unknown[0]}}}; use {known}")
        return default
    return value


def find(start: Path | None) -> Path:
    """The config file to use: the one given, else `feedpress.yaml` in the current folder
    or the nearest folder above it (as git finds its repository), so that a command works
    from `posts/world/` too."""
    if start is not None:
        return start
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / CONFIG_NAME).is_file():
            return folder / CONFIG_NAME
    raise ConfigError([Problem(here / CONFIG_NAME, None, None, "not found in this folder or "
                               "any folder above; make a project with `feedpress init "
                               "DIR`, or give --config FILE")])


def unknown_blog(config: Config, blog: str) -> str | None:
    """Why `blog` is not a blog of `config`, with the nearest id it has, or None if it is.
    One message for a post's `blog:` and for `feedpress new --blog`."""
    if config.blog(blog) is not None:
        return None
    known = [b.id for b in config.blogs]
    near = difflib.get_close_matches(blog, known, n=1, cutoff=0.6)
    hint = f" (did you mean {near[0]}?)" if near else ""
    return f"unknown blog {blog!r}{hint}; the config has {', '.join(known)}"


def _folder(top: Fields, key: str, root: Path, default: str) -> Path:
    """A folder setting: relative to the project, `~` as the shell reads it. Set but
    empty is an error, not the default: in YAML, `~` alone means nothing at all."""
    if key in top.data and not str(top.data[key] or "").strip():
        top.get(key, str, "a string")  # seen, and its type said if it is not one
        top.problem(key, "is empty; give a folder's path (in YAML, ~ alone means nothing: "
                    "quote it, or better, give a folder of the project's)")
        return root / default
    return root / Path(top.text(key) or default).expanduser()


def _unsafe_posts(posts_dir: Path, root: Path) -> str | None:
    """Why `posts_dir` cannot be the posts folder: the project's own folder, or above it,
    would hold the output folder, the cache and every file of the project."""
    posts = posts_dir.resolve()
    if posts == root.resolve() or posts in root.resolve().parents:
        return f"{posts_dir} is the project's folder or above it; posts go in a folder of " \
               "their own, e.g. posts"
    return None


# The system's own folders, where no build belongs (/var/www and /srv/... are fine).
_SYSTEM = frozenset({"bin", "boot", "dev", "etc", "lib", "lib32", "lib64", "proc", "run",
                     "sbin", "sys", "usr"})


def unsafe_output(output: Path, root: Path, posts_dir: Path, templates: Path) -> str | None:
    """Why `output` must not be a build's output folder, or None. A build writes and
    removes files there: never over the system, a home, the project, its posts, its
    email templates, its cache or a Git repository's own folder, and only into a folder."""
    try:
        target = output.resolve()
    except OSError as exc:  # a loop of links, a folder that may not be looked into
        return f"{output} cannot be followed to a folder ({exc.strerror})"
    if ".." in output.parts:
        output = target  # said as it resolves: "/srv/news/public/.." says little
    if target == Path(target.anchor):
        return f"{output} is the root folder; give a folder of its own"
    if target == Path.home().resolve():
        return f"{output} is the home folder; give a folder of its own"
    if target.parent == Path(target.anchor):
        return f"{output} is a folder right under the root; give a folder of its own"
    if target.parts[1:2] and target.parts[1] in _SYSTEM:
        return f"{output} is inside /{target.parts[1]}, the system's; give a folder of its own"
    if target == root.resolve():
        return f"{output} is the project's own folder; give a folder inside it, e.g. public"
    if target in root.resolve().parents:
        return f"{output} holds the project; give a folder of its own"
    if _overlaps(target, posts_dir):
        return f"{output} overlaps the posts folder {posts_dir}; give another folder"
    if _overlaps(target, templates):
        return f"{output} overlaps the email templates folder {templates}; give another folder"
    if {".git", CACHE_FOLDER} & {part.lower() for part in target.parts}:  # any case: macOS
        return f"{output} is inside a .git or {CACHE_FOLDER} folder; give a folder of its own"
    if (target / CONFIG_NAME).exists():
        return f"{output} holds a {CONFIG_NAME}: it is a project, not an output folder"
    if target.exists() and not target.is_dir():
        return f"{output} is a file, not a folder"
    return None


def _overlaps(one: Path, other: Path) -> bool:
    """Whether either folder is, or holds, the other (as they resolve)."""
    try:
        first, second = one.resolve(), other.resolve()
    except OSError:
        return False
    return first == second or first in second.parents or second in first.parents


def _outside(output: Path, root: Path) -> str | None:
    """Only `--out` may send a build outside the project: a config that does so is more
    likely a mistake (`../../anywhere`) than a wish. Said of the path as written: a
    folder of the project that is a link to the web server's folder is the project's."""
    written = Path(os.path.normpath(root / output))
    if written != root and written.is_relative_to(root):
        return None
    return f"{output} is outside the project; give it with `feedpress build --out` instead"
