"""The feeds `feedpress build` writes, read back the way feed readers read them.

RSS and Atom are parsed with feedparser (bozo must stay 0). feedparser 6.0 has no JSON Feed
parser, so JSON feeds are read with `json`. Atom is validated against the RFC 4287 RELAX NG
schema and JSON Feed against the JSON Feed 1.1 schema, both in tests/data. Expected values
come from the post files as `feedpress.feeds.load` reads them, from the config, and from
the specs (RSS 2.0, RFC 4287, JSON Feed 1.1, the README); never from feedpress's output.
"""

from __future__ import annotations

import calendar
import copy
import functools
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import cmarkgfm
import feedparser
import jsonschema
import lxml.html
import pytest
from cmarkgfm.cmark import Options
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from conftest import BASE_CONFIG, DATA, NOW, SAMPLE_CONFIG, Project
from feedgen_items import reference_item
from feedpress import feeds
from feedpress.config import Config
from feedpress.config import load as load_config
from feedpress.errors import Severity
from feedpress.feeds import formats
from feedpress.feeds.markup import feed_html, first_paragraph, markdown_to_html, render
from feedpress.feeds.posts import read_body
from feedpress.model import Author, FeedOptions, Image, Post, Tag

# ---------------------------------------------------------------------------------------------
# Helpers: reading feeds
# ---------------------------------------------------------------------------------------------

FILE_NAMES = {"rss": "rss.xml", "atom": "atom.xml", "json": "feed.json"}
FORMATS = tuple(FILE_NAMES)
ATOM = "http://www.w3.org/2005/Atom"
MEDIA = "http://search.yahoo.com/mrss/"
DC = "http://purl.org/dc/elements/1.1/"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MANIFEST = ".feedpress-manifest.json"
# Characters XML 1.0 forbids: the list of C0 controls.
FORBIDDEN = [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)]]


@dataclass
class Item:
    """One feed item, in the terms every format shares."""

    id: str
    title: str
    link: str
    published: datetime
    updated: datetime | None
    authors: list[str]
    tags: list[str]
    content: str | None
    summary: str | None


@dataclass
class Feed:
    """One parsed feed: its channel and its items."""

    fmt: str
    title: str
    link: str
    description: str
    language: str
    self_url: str
    generator: str | None
    updated: datetime | None
    items: list[Item] = field(default_factory=list)


def fmt_of(path: Path | PurePosixPath) -> str:
    return {name: fmt for fmt, name in FILE_NAMES.items()}[path.name]


def feed_paths(out: Path) -> dict[str, Path]:
    """Every feed file under `out`, keyed by its path relative to `out` ("tags/x/rss.xml")."""
    return {
        p.relative_to(out).as_posix(): p
        for p in sorted(out.rglob("*"))
        if p.is_file() and p.name in FILE_NAMES.values()
    }


def written_files(out: Path) -> set[str]:
    return {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}


def when(parsed: Any) -> datetime:
    """A feedparser time tuple (always UTC) as an aware datetime."""
    return datetime.fromtimestamp(calendar.timegm(parsed), UTC)


def parse_xml_feed(path: Path) -> Any:
    parsed = feedparser.parse(path.read_bytes())
    assert not parsed.bozo, f"{path}: {parsed.get('bozo_exception')}"
    return parsed


def read_feed(path: Path) -> Feed:
    """Parse any of the three formats into a `Feed`."""
    if path.name == "feed.json":
        return _read_json_feed(path)
    parsed = parse_xml_feed(path)
    fmt = fmt_of(path)
    channel = parsed.feed
    self_urls = [link["href"] for link in channel.get("links", []) if link.get("rel") == "self"]
    assert len(self_urls) == 1, f"{path}: self links {self_urls}"
    feed = Feed(
        fmt=fmt,
        title=channel.get("title", ""),
        link=channel.get("link", ""),
        description=channel.get("subtitle", ""),
        language=channel.get("language", ""),
        self_url=self_urls[0],
        generator=channel.get("generator"),
        updated=when(channel.updated_parsed) if channel.get("updated_parsed") else None,
    )
    for entry in parsed.entries:
        feed.items.append(Item(
            id=entry.get("id", ""),
            title=entry.get("title", ""),
            link=entry.get("link", ""),
            published=when(entry.published_parsed),
            updated=when(entry.updated_parsed) if fmt == "atom" else None,
            authors=[a.get("name", "") for a in entry.get("authors", [])],
            tags=[t["term"] for t in entry.get("tags", [])],
            content=entry.content[0]["value"] if "content" in entry else None,
            summary=entry.get("summary"),
        ))
    return feed


def _read_json_feed(path: Path) -> Feed:
    data = json.loads(path.read_text("utf-8"))
    feed = Feed(
        fmt="json",
        title=data["title"],
        link=data.get("home_page_url", ""),
        description=data.get("description", ""),
        language=data.get("language", ""),
        self_url=data.get("feed_url", ""),
        generator=None,
        updated=None,
    )
    for item in data["items"]:
        feed.items.append(Item(
            id=item["id"],
            title=item.get("title", ""),
            link=item.get("url", ""),
            published=datetime.fromisoformat(item["date_published"]),
            updated=datetime.fromisoformat(item["date_modified"]),
            authors=[a["name"] for a in item.get("authors", [])],
            tags=item.get("tags", []),
            content=item.get("content_html", item.get("content_text")),
            summary=item.get("summary"),
        ))
    return feed


@functools.cache
def atom_schema() -> etree.RelaxNG:
    return etree.RelaxNG(etree.parse(str(DATA / "atom.rng")))


@functools.cache
def json_feed_validator() -> jsonschema.Draft7Validator:
    schema = json.loads((DATA / "jsonfeed-1.1.schema.json").read_text("utf-8"))
    return jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def invalid_feeds(out: Path) -> list[str]:
    """Every reason a feed under `out` fails its parser or schema; empty when all pass."""
    failures = []
    for rel, path in feed_paths(out).items():
        if path.name == "feed.json":
            data = json.loads(path.read_text("utf-8"))
            failures += [f"{rel}: {list(e.absolute_path)}: {e.message}"
                         for e in json_feed_validator().iter_errors(data)]
            continue
        parsed = feedparser.parse(path.read_bytes())
        if parsed.bozo:
            failures.append(f"{rel}: feedparser: {parsed.get('bozo_exception')}")
        if path.name == "atom.xml" and not atom_schema().validate(etree.parse(str(path))):
            failures.append(f"{rel}: RELAX NG: {atom_schema().error_log.last_error}")
    return failures


def xml_items(path: Path) -> dict[str, etree._Element]:
    """The raw <item>/<entry> elements of an RSS or Atom file, by id."""
    root = etree.parse(str(path)).getroot()
    if path.name == "rss.xml":
        return {item.findtext("guid"): item for item in root.iter("item")}
    return {e.findtext(f"{{{ATOM}}}id"): e for e in root.iter(f"{{{ATOM}}}entry")}


def json_items(path: Path) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in json.loads(path.read_text("utf-8"))["items"]}


def raw_contents(path: Path) -> dict[str, str]:
    """Each item's HTML content exactly as the file holds it (feedparser would sanitise it)."""
    if path.name == "feed.json":
        return {i: item["content_html"] for i, item in json_items(path).items()}
    tag = CONTENT if path.name == "rss.xml" else f"{{{ATOM}}}content"
    return {i: element.findtext(tag) or "" for i, element in xml_items(path).items()}


# ---------------------------------------------------------------------------------------------
# Helpers: HTML and text
# ---------------------------------------------------------------------------------------------


def squash(text: str) -> str:
    return " ".join(text.split())


def html_text(html: str) -> str:
    """The text a reader shows for an HTML fragment, whitespace squashed."""
    if not html.strip():
        return ""
    return squash(lxml.html.fragment_fromstring(html, create_parent="div").text_content())


def reference_html(markdown: str) -> str:
    """The body rendered by cmark-gfm itself, with the extensions the README names."""
    return str(cmarkgfm.markdown_to_html_with_extensions(
        markdown,
        options=Options.CMARK_OPT_UNSAFE | Options.CMARK_OPT_FOOTNOTES,
        extensions=["table", "strikethrough", "autolink", "tasklist"],
    ))


def body_of(post: Post) -> str:
    """The Markdown body of a post, read from its file: everything after the closing ---."""
    text = post.path.read_text("utf-8-sig").replace("\r\n", "\n")
    closing = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)
    end = closing.search(text, text.index("\n") + 1)
    assert text.startswith("---") and end is not None, post.path
    return text[end.end():].removeprefix("\n")


def expected_content_text(post: Post) -> str:
    """What a reader should read in the content: the image caption, then the body."""
    caption = post.image.caption if post.image and post.image.caption else ""
    return squash(f"{caption} {html_text(reference_html(body_of(post)))}")


def first_paragraph_text(markdown: str) -> str:
    for element in lxml.html.fragments_fromstring(reference_html(markdown)):
        if isinstance(element, lxml.html.HtmlElement) and element.tag == "p":
            return squash(element.text_content())
    return ""


def dangers(html: str) -> list[str]:
    """Everything in `html` that can run script or load a frame."""
    found = []
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag in ("script", "iframe", "object", "embed", "style", "frame", "svg"):
            found.append(f"<{element.tag}>")
        for name, value in element.attrib.items():
            if name.lower().startswith("on"):
                found.append(f"{element.tag} {name}=")
            if re.sub(r"[\s\x00-\x1f]", "", value).lower().startswith(("javascript:",
                                                                         "vbscript:")):
                found.append(f"{element.tag} {name}={value}")
    return found


def urls_in(html: str) -> list[str]:
    """Every URL in href, src and srcset of an HTML fragment."""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    urls = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        urls += [element.get(a) for a in ("href", "src") if element.get(a) is not None]
        srcset = element.get("srcset")
        if srcset:
            urls += [c.split()[0] for c in srcset.split(",") if c.strip()]
    return urls


def percent_encoded(path: str) -> str:
    """`path` as a URL path: every byte of a non-ASCII character as %XX (RFC 3986)."""
    return "".join(
        ch if ch.isascii() else "".join(f"%{byte:02X}" for byte in ch.encode("utf-8"))
        for ch in path
    )


# ---------------------------------------------------------------------------------------------
# Helpers: what each feed should hold, from the posts as loaded
# ---------------------------------------------------------------------------------------------


def published(posts: list[Post], now: datetime) -> list[Post]:
    """Posts that are neither drafts nor dated after `now`, newest first."""
    live = [p for p in posts if not p.draft and p.date <= now]
    return sorted(live, key=lambda p: p.date, reverse=True)


def tag_names(live: list[Post]) -> dict[str, str]:
    """Each tag slug's display name: the spelling of its earliest published post."""
    names: dict[str, str] = {}
    for post in sorted(live, key=lambda p: p.date):
        for tag in post.tags:
            names.setdefault(tag.slug, tag.name)
    return names


def expected_feeds(config: Config, live: list[Post]) -> dict[str, list[Post]]:
    """Feed folder ("" for the site) to the posts it holds, newest first, uncut."""
    feeds: dict[str, list[Post]] = {"": live, "breaking": [p for p in live if p.breaking]}
    for slug in {t.slug for p in live for t in p.tags}:
        feeds[f"tags/{slug}"] = [p for p in live if slug in {t.slug for t in p.tags}]
    for blog in config.blogs:
        mine = [p for p in live if p.blog == blog.id]
        feeds[blog.id] = mine
        if config.feeds.blog_tags:
            for slug in {t.slug for p in mine for t in p.tags}:
                feeds[f"{blog.id}/tags/{slug}"] = [
                    p for p in mine if slug in {t.slug for t in p.tags}
                ]
    return feeds


def feed_file(folder: str, fmt: str) -> str:
    return f"{folder}/{FILE_NAMES[fmt]}" if folder else FILE_NAMES[fmt]


def category_problems(categories: list[str], post: Post, names: dict[str, str]) -> list[str]:
    """How an item's categories differ from its post's tags, plus Breaking News if breaking.

    A tag may be shown as the post spells it or by its display name (the spelling of its
    earliest published post): both name the same tag and the same feed.
    """
    expected = [{t.name, names[t.slug]} for t in post.tags]
    if post.breaking:
        expected.append({"Breaking News"})
    if len(categories) != len(expected):
        return [f"{categories} for tags {[t.name for t in post.tags]}"]
    return [f"{got!r} is not one of {sorted(want)}"
            for got, want in zip(categories, expected, strict=True) if got not in want]


@dataclass
class Built:
    """A project built into `out`, with its posts as feedpress.feeds.load reads them."""

    config: Config
    out: Path
    report: feeds.BuildReport
    posts: list[Post]
    live: list[Post]
    now: datetime
    parsed: dict[str, Feed] = field(default_factory=dict, repr=False)

    @property
    def by_id(self) -> dict[str, Post]:
        return {p.id: p for p in self.posts}

    @property
    def names(self) -> dict[str, str]:
        return tag_names(self.live)

    def feed(self, rel: str) -> Feed:
        """The feed at `rel`, parsed once (the output does not change after the build)."""
        if rel not in self.parsed:
            self.parsed[rel] = read_feed(self.out / rel)
        return self.parsed[rel]

    def feeds(self, fmt: str) -> dict[str, Feed]:
        return {rel: self.feed(rel) for rel, path in feed_paths(self.out).items()
                if fmt_of(path) == fmt}


def build_project(project: Project, now: datetime = NOW, **options: Any) -> Built:
    report = project.build(now, **options)
    config = project.config()
    _, posts, _ = feeds.load(config, now)
    return Built(config, options.get("out_dir", project.out), report, posts,
                 published(posts, now), now)


def config_with(**feeds: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE_CONFIG)
    data["feeds"] = feeds
    return data


# ---------------------------------------------------------------------------------------------
# Helpers: OPML, output snapshots, forbidden characters, summaries, a small corpus
# ---------------------------------------------------------------------------------------------

POST_URL = "https://news.example.org/alpha/{}/"

CONTROLS = "".join(FORBIDDEN)


def opml_outlines(path: Path) -> tuple[list[dict[str, str]], dict[str, list[dict[str, str]]]]:
    """The feed outlines at the top of the OPML body, and those inside each group outline."""
    body = etree.parse(str(path)).getroot().find("body")
    top, groups = [], {}
    for outline in body.findall("outline"):
        if outline.get("xmlUrl"):
            top.append(dict(outline.attrib))
        else:
            groups[outline.get("text", "")] = [dict(o.attrib) for o in outline]
    return top, groups


def snapshot(out: Path) -> dict[str, bytes]:
    return {rel: (out / rel).read_bytes() for rel in written_files(out)}


def strings_in(value: Any) -> Iterator[str]:
    """Every string in a parsed JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def forbidden_in_output(out: Path) -> list[str]:
    """Feed files holding a character XML forbids: raw, as a character reference, or in JSON."""
    found = []
    for rel, path in feed_paths(out).items():
        text = path.read_text("utf-8")
        if path.name == "feed.json":
            text = "\n".join(strings_in(json.loads(text)))
        refs = [int(n[1:], 16) if n[0] in "xX" else int(n)
                for n in re.findall(r"&#([xX][0-9a-fA-F]+|[0-9]+);", text)]
        if any(ch in text for ch in FORBIDDEN) or any(chr(c) in FORBIDDEN for c in refs):
            found.append(rel)
    return found


def item_summaries(built: Built, link: str) -> dict[str, str]:
    """A post's summary as each format's reader shows it (RSS description is HTML)."""
    rss = next(i for i in built.feed("rss.xml").items if i.link == link)
    atom = next(i for i in built.feed("atom.xml").items if i.link == link)
    item = next(i for i in json.loads((built.out / "feed.json").read_text())["items"]
                if i["url"] == link)
    return {"rss": html_text(rss.summary or ""), "atom": atom.summary or "",
            "json": item["summary"]}


def small_corpus(project: Project) -> None:
    project.post("alpha", "a1", tags=["Shared", "Alpha Only"], date="2026-11-01T10:00:00Z")
    project.post("alpha", "a2", tags=["shared"], breaking=True, date="2026-11-03T10:00:00Z")
    project.post("beta", "b1", tags=["Shared", "Северный Кавказ"], date="2026-11-02T10:00:00Z")


# ---------------------------------------------------------------------------------------------
# The sample project (ROOT/feedpress.yaml), built once
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Built:
    config = load_config(SAMPLE_CONFIG)
    out = tmp_path_factory.mktemp("sample") / "public"
    report = feeds.build(config, NOW, out_dir=out)
    _, posts, _ = feeds.load(config, NOW)
    return Built(config, out, report, posts, published(posts, NOW), NOW)


def test_sample_publishes_every_post_but_the_draft_and_the_future_one(sample: Built) -> None:
    # 19 files: one is a draft, one is dated 2027.
    assert len(sample.posts) == 19
    assert sample.report.posts == 17
    assert sample.report.skipped == 0
    assert sample.report.warnings == []


def test_sample_writes_exactly_the_documented_feeds(sample: Built) -> None:
    folders = expected_feeds(sample.config, sample.live)
    expected = {feed_file(f, fmt) for f in folders for fmt in FORMATS}
    assert set(feed_paths(sample.out)) == expected
    pages = {"index.html", "feed.xsl", "feed.ar.xsl", "feed.ru.xsl"} | {
        f"{b.id}/index.html" for b in sample.config.blogs}  # a stylesheet per language
    assert written_files(sample.out) == expected | {"feeds.opml", MANIFEST} | pages


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_sample_xml_feeds_parse_without_bozo(sample: Built, fmt: str) -> None:
    paths = [p for p in feed_paths(sample.out).values() if fmt_of(p) == fmt]
    assert len(paths) > 30
    bozo = {str(p): feedparser.parse(p.read_bytes()).get("bozo_exception") for p in paths}
    assert {p: e for p, e in bozo.items() if e is not None} == {}


def test_sample_atom_feeds_validate_against_rfc4287_schema(sample: Built) -> None:
    failures = []
    for rel, path in feed_paths(sample.out).items():
        if path.name == "atom.xml" and not atom_schema().validate(etree.parse(str(path))):
            failures.append(f"{rel}: {atom_schema().error_log.last_error}")
    assert failures == []


def test_sample_json_feeds_validate_against_json_feed_schema(sample: Built) -> None:
    failures = []
    for rel, path in feed_paths(sample.out).items():
        if path.name == "feed.json":
            data = json.loads(path.read_text("utf-8"))
            failures += [f"{rel}: {list(e.absolute_path)}: {e.message}"
                         for e in json_feed_validator().iter_errors(data)]
    assert failures == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_sample_items_round_trip(sample: Built, fmt: str) -> None:
    """Every item of every feed carries its post's id, title, link, dates, authors, tags."""
    names = sample.names
    checked = 0
    for rel, feed in sample.feeds(fmt).items():
        for item in feed.items:
            post = sample.by_id[item.id]
            where = f"{rel} {post.slug}"
            assert item.title == post.title, where
            assert item.link == post.url, where
            assert item.published == post.date, where
            if fmt != "rss":  # RSS items have no updated date
                assert item.updated == (post.updated or post.date), where
            assert item.authors == [a.name for a in post.authors], where
            assert category_problems(item.tags, post, names) == [], where
            checked += 1
    assert checked == sum(map(len, expected_feeds(sample.config, sample.live).values()))


@pytest.mark.parametrize("fmt", FORMATS)
def test_sample_items_carry_full_content_and_summary(sample: Built, fmt: str) -> None:
    feed = sample.feed(FILE_NAMES[fmt])
    assert len(feed.items) == 17
    for item in feed.items:
        post = sample.by_id[item.id]
        assert item.content is not None, post.slug
        assert html_text(item.content) == expected_content_text(post), post.slug
        summary = post.summary or first_paragraph_text(body_of(post))
        shown = html_text(item.summary or "") if fmt == "rss" else item.summary
        assert shown == summary, post.slug


@pytest.mark.parametrize("fmt", FORMATS)
def test_sample_content_urls_are_absolute(sample: Built, fmt: str) -> None:
    feed = sample.feed(FILE_NAMES[fmt])
    relative = [(item.id, url) for item in feed.items for url in urls_in(item.content or "")
                if urlsplit(url).scheme not in ("http", "https") and not url.startswith("#")]
    assert relative == []
    # A footnote's link is a fragment of the item itself: its id is in the same content.
    fragments = [(item.content or "", url[1:]) for item in feed.items
                 for url in urls_in(item.content or "") if url.startswith("#")]
    assert fragments and all(f'id="{name}"' in content for content, name in fragments)
    # posts/al-marsad/...-militia-checkpoints-south-libya.md links to ../truce-deir-al-ward/
    libya = next(i for i in feed.items if i.link.endswith("/militia-checkpoints-south-libya/"))
    assert "https://news.example.org/al-marsad/truce-deir-al-ward/" in urls_in(libya.content or "")


def test_sample_item_text_is_not_in_the_drafts_or_future_posts(sample: Built) -> None:
    hidden = [p for p in sample.posts if p.draft or p.date > NOW]
    assert {p.slug for p in hidden} == {"militia-recruitment-online", "year-ahead-armed-groups"}
    for path in feed_paths(sample.out).values():
        text = path.read_text("utf-8")
        for post in hidden:
            assert post.id not in text, path
            assert post.url not in text, path


@pytest.mark.parametrize("fmt", FORMATS)
def test_sample_channels(sample: Built, fmt: str) -> None:
    """Title, link, description, language, self link and last-build time of every feed."""
    site = sample.config.site
    names = sample.names
    blogs = {b.id: b for b in sample.config.blogs}
    for folder, posts in expected_feeds(sample.config, sample.live).items():
        rel = feed_file(folder, fmt)
        feed = sample.feed(rel)
        if folder in blogs:
            blog = blogs[folder]
            want = (blog.title, blog.url, blog.description, blog.language)
        elif folder == "breaking":
            want = (f"{site.title}: Breaking News", site.url, "Breaking News", site.language)
        elif folder.startswith("tags/"):
            name = names[folder.removeprefix("tags/")]
            want = (f"{site.title}: {name}", site.url, f"Posts tagged {name}", site.language)
        else:
            want = (site.title, site.url, site.description, site.language)
        assert (feed.title, feed.link, feed.description, feed.language) == want, rel
        assert feed.self_url == site.feeds_url + percent_encoded(rel), rel
        if fmt != "json":
            assert feed.generator == "feedpress", rel
            newest = max((p.updated or p.date for p in posts), default=EPOCH)
            assert feed.updated == newest, rel


def test_sample_blog_descriptions_are_the_about_text(sample: Built) -> None:
    # Read straight from the config file: the "About" text of each blog.
    feed = sample.feed("khronika/rss.xml")
    assert feed.description.startswith("Хроника вооружённых конфликтов")
    assert sample.feed("al-marsad/atom.xml").description.startswith("المرصد يتابع")
    assert sample.feed("black-flag/feed.json").description.startswith("Under The Black Flag")


@pytest.mark.parametrize("fmt", FORMATS)
def test_sample_items_are_newest_first_and_complete(sample: Built, fmt: str) -> None:
    for folder, posts in expected_feeds(sample.config, sample.live).items():
        feed = sample.feed(feed_file(folder, fmt))
        dates = [item.published for item in feed.items]
        assert dates == sorted(dates, reverse=True), folder
        assert sorted(item.id for item in feed.items) == sorted(p.id for p in posts), folder


def test_sample_breaking_feed_holds_only_breaking_posts(sample: Built) -> None:
    feed = sample.feed("breaking/atom.xml")
    assert [i.link for i in feed.items] == [
        "https://news.example.org/al-marsad/clashes-border-crossing/",
        "https://news.example.org/black-flag/aid-workers-freed-ouro-ndiaye/",
    ]
    assert all("Breaking News" in item.tags for item in feed.items)
    site = sample.feed("rss.xml")
    plain = [i for i in site.items if not sample.by_id[i.id].breaking]
    assert plain and all("Breaking News" not in i.tags for i in plain)


def test_sample_rss_guid_is_not_a_permalink_for_tag_ids(sample: Built) -> None:
    items = xml_items(sample.out / "rss.xml")
    assert len(items) == 17
    for guid, item in items.items():
        assert guid.startswith("tag:news.example.org,")
        assert item.find("guid").get("isPermaLink") == "false"


def test_sample_rss_author_only_with_a_known_email(sample: Built) -> None:
    """RSS <author> is "email (name)" for one author with an email; else dc:creator names."""
    for guid, item in xml_items(sample.out / "rss.xml").items():
        post = sample.by_id[guid]
        authors = [a.text for a in item.findall("author")]
        creators = [c.text for c in item.findall(f"{{{DC}}}creator")]
        if len(post.authors) == 1 and post.authors[0].email:
            one = post.authors[0]
            assert (authors, creators) == ([f"{one.email} ({one.name})"], []), post.slug
        else:
            assert (authors, creators) == ([], [a.name for a in post.authors]), post.slug
    # Spot checks against the post files: tom has no email; prisoner-exchange has two authors.
    by_slug = {sample.by_id[g].slug: i for g, i in xml_items(sample.out / "rss.xml").items()}
    tom = by_slug["drone-strikes-tal-hamra"]
    assert [c.text for c in tom.findall(f"{{{DC}}}creator")] == ["Tom Hargreaves"]
    two = by_slug["prisoner-exchange-yemen"]
    assert two.find("author") is None
    assert [c.text for c in two.findall(f"{{{DC}}}creator")] == ["كريم منصور", "Amina Diallo"]


def test_sample_images_in_every_format(sample: Built) -> None:
    # posts/black-flag/2026-10-02-lake-region-ceasefire-talks.md: url "photo.jpg", relative
    # to the post's link.
    post = next(p for p in sample.posts if p.slug == "lake-region-ceasefire-talks")
    url = "https://news.example.org/black-flag/lake-region-ceasefire-talks/photo.jpg"
    caption = "The second round of talks opened in a hotel conference room."
    assert post.image is not None

    rss = xml_items(sample.out / "rss.xml")[post.id]
    enclosure = rss.find("enclosure")
    assert (enclosure.get("url"), enclosure.get("type")) == (url, "image/jpeg")
    media = rss.find(f"{{{MEDIA}}}content")
    assert (media.get("url"), media.get("medium")) == (url, "image")
    assert media.findtext(f"{{{MEDIA}}}description") == caption

    atom = xml_items(sample.out / "atom.xml")[post.id]
    enclosures = [link for link in atom.findall(f"{{{ATOM}}}link")
                  if link.get("rel") == "enclosure"]
    assert [(e.get("href"), e.get("type")) for e in enclosures] == [(url, "image/jpeg")]

    item = json_items(sample.out / "feed.json")[post.id]
    assert item["image"] == url


def test_sample_items_carry_their_language(sample: Built) -> None:
    """Atom xml:lang and JSON Feed language: the post's lang, else its blog's."""
    blogs = {b.id: b.language for b in sample.config.blogs}
    assert blogs == {"black-flag": "en", "al-marsad": "ar", "khronika": "ru"}
    atom = xml_items(sample.out / "atom.xml")
    items = json_items(sample.out / "feed.json")
    for post in sample.live:
        # Only posts/black-flag/2026-10-29-raids-frontiere-nord.md sets lang: fr.
        want = "fr" if post.slug == "raids-frontiere-nord" else blogs[post.blog]
        assert atom[post.id].get(XML_LANG) == want, post.slug
        assert items[post.id]["language"] == want, post.slug


def test_sample_posts_without_image_have_no_enclosure(sample: Built) -> None:
    post = next(p for p in sample.posts if p.slug == "prisoner-exchange-yemen")
    assert post.image is None
    assert xml_items(sample.out / "rss.xml")[post.id].find("enclosure") is None
    atom = xml_items(sample.out / "atom.xml")[post.id]
    assert [x for x in atom.findall(f"{{{ATOM}}}link") if x.get("rel") == "enclosure"] == []
    assert "image" not in json_items(sample.out / "feed.json")[post.id]


def test_sample_non_latin_tags_get_percent_encoded_feed_urls(sample: Built) -> None:
    feeds_url = "https://news.example.org/feeds/"
    # The README's own example: سوريا is %D8%B3%D9%88%D8%B1%D9%8A%D8%A7.
    syria = "tags/%D8%B3%D9%88%D8%B1%D9%8A%D8%A7/rss.xml"
    assert sample.feed("tags/سوريا/rss.xml").self_url == feeds_url + syria
    kto = "tags/%D0%BA%D1%82%D0%BE/atom.xml"  # "КТО", case folded
    assert sample.feed("tags/кто/atom.xml").self_url == feeds_url + kto
    cote = "tags/c%C3%B4te-d-ivoire/feed.json"
    assert sample.feed("tags/côte-d-ivoire/feed.json").self_url == feeds_url + cote


def test_sample_tags_differing_in_case_are_one_feed(sample: Built) -> None:
    # "Sahel" (2026-09-04, the earliest) and "sahel" (lake-region, 2026-10-02) are one tag.
    assert not (sample.out / "tags" / "Sahel").exists()
    feed = sample.feed("tags/sahel/rss.xml")
    assert feed.title == "Newsroom Blogs: Sahel"
    assert any(i.link.endswith("/lake-region-ceasefire-talks/") for i in feed.items)


def test_sample_tags_of_drafts_and_future_posts_get_no_feed(sample: Built) -> None:
    # "recruitment" and "social media" are only on the draft; "year ahead" only on 2027's post.
    for slug in ("recruitment", "social-media", "year-ahead"):
        assert not (sample.out / "tags" / slug).exists()


def test_sample_opml_lists_every_feed_once_grouped_by_blog(sample: Built) -> None:
    site = sample.config.site
    top, groups = opml_outlines(sample.out / "feeds.opml")
    every = top + [o for group in groups.values() for o in group]
    urls = [o["xmlUrl"] for o in every]
    assert len(urls) == len(set(urls))
    folders = expected_feeds(sample.config, sample.live)
    assert set(urls) == {site.feeds_url + percent_encoded(feed_file(f, "rss")) for f in folders}
    for outline in every:
        assert outline["title"] and outline["htmlUrl"].startswith("https://")
    assert set(groups) == {b.title for b in sample.config.blogs}
    for blog in sample.config.blogs:
        assert groups[blog.title] == [{
            "type": "rss", "text": blog.title, "title": blog.title,
            "xmlUrl": f"{site.feeds_url}{blog.id}/rss.xml", "htmlUrl": blog.url,
        }]
    by_url = {o["xmlUrl"]: o for o in top}
    syria = by_url[site.feeds_url + "tags/%D8%B3%D9%88%D8%B1%D9%8A%D8%A7/rss.xml"]
    assert (syria["title"], syria["htmlUrl"]) == ("Newsroom Blogs: سوريا", site.url)


# ---------------------------------------------------------------------------------------------
# A hostile corpus
# ---------------------------------------------------------------------------------------------

HOSTILE: dict[str, tuple[str, dict[str, Any]]] = {
    "script-body": (
        "Before <script>alert('body')</script> after.\n\n<script>\nsteal(document.cookie)\n"
        "</script>\n\nEnd.\n", {}),
    "script-title": ("Body.\n", {"title": "<script>alert('title')</script> headline"}),
    "iframe": ('<iframe src="https://evil.example/">inner frame</iframe>\n\nVisible.\n', {}),
    "onclick": ('<a href="/ok/" onclick="steal()">click</a> <img src="x.png" '
                'onerror="steal()"> <p onmouseover="steal()">hover</p>\n', {}),
    "javascript-links": (
        "[md](javascript:alert(1)) <a href=\"JaVaScRiPt:alert(2)\">raw</a> "
        "<a href=\"jav&#x09;ascript:alert(3)\">encoded</a> <img src=\"javascript:alert(4)\">\n",
        {}),
    "style-object-embed": ("<style>p{color:red}</style>\n\n<object data=\"x.swf\"></object>"
                           "<embed src=\"y.swf\">\n\n<svg onload=\"alert(1)\"><circle/></svg>"
                           "\n\nPlain.\n", {}),
    "template-braces": ("Hello {{ name }} and {% if x %}{% endif %} ${var}.\n",
                        {"title": "{{ title }} {% raw %} ${x}"}),
    "cdata-end": ("Text with ]]> inside and `]]>` in code.\n\n```\n]]>\n<![CDATA[x]]>\n```\n",
                  {"title": "Ends ]]> here <![CDATA[ x ]]>"}),
    "ampersand": ("AT&T, 1 < 2 and 3 > 2, &amp; &copy; &#169; &bogus; & done.\n",
                  {"title": "Fish & Chips & Peas"}),
    "less-than": ("Body.\n", {"title": "x < y > z <<>> </notatag"}),
    "crlf-title": ("Body.\n", {"title": "First line\r\nsecond line\rthird\nfourth"}),
    "rtl": ("النص العربي \u202eoverride\u202c والعبرية שלום.\n\n\u200fمرحبا\u200f\n",
            {"title": "مرحبا \u200fبالعالم — שלום", "lang": "ar"}),
    "emoji": ("Party 🎉🔥 👩🏽‍💻 and flags 🇸🇩.\n", {"title": "Emoji 🎉 👩🏽‍💻 🇸🇩 title"}),
    "long-title": ("Body.\n", {"title": "Very long " + " ".join(["headline"] * 300)}),
    "tags-spaces": ("Body.\n", {"tags": ["  Spaced   Out  Tag ", "Ünïcödé Tag", "naïve café",
                                         "Tag: With/Slash & Amp"]}),
    "tags-alike": ("Body.\n", {"tags": ["spaced out tag", "ÜNÏCÖDÉ TAG", "Naïve-Café"],
                               "date": "2026-11-03T10:00:00Z"}),
    "relative-urls": (
        "[up](../other/) [root](/about/) [same](page.html) [frag](#sec) [query](?q=1)\n\n"
        "![pic](img/pic.png)\n\n"
        "<img src=\"/abs.jpg\" srcset=\"small.jpg 1x, /big.jpg 2x\">\n\n"
        "<picture><source srcset=\"a.webp 480w, ../b.webp 800w\"><img src=\"c.jpg\" alt=\"c\">"
        "</picture>\n",
        {"image": {"url": "pics/cover.jpg", "alt": "cover", "caption": "A <cover> & more"}}),
    "html-entities-summary": ("Body.\n", {"summary": "Tom & Jerry say hi"}),
    "breaking-hostile": ("<script>x()</script>Urgent & now.\n",
                         {"title": "Breaking & <urgent>", "breaking": True}),
    "nested-markup": ("> <script>alert(1)</script> quoted\n\n- <iframe></iframe> list\n\n"
                      "| a | b |\n|---|---|\n| <script>y</script> | <b onclick=x>c</b> |\n", {}),
    "footnote": ("Claim.[^1]\n\n[^1]: <script>z</script> Source.\n", {}),
    "uppercase-tags": ("Body.\n", {"tags": ["SYRIA", "Syria", "syria"]}),
    "cyrillic": ("Текст.\n", {"title": "Заголовок", "tags": ["Северный Кавказ"]}),
    "arabic": ("نص.\n", {"title": "عنوان", "tags": ["سوريا", "سُوريا"]}),
    "zero-width": ("Zero\u200bwidth\u200djoin\ufeffbom.\n", {"title": "Zero\u200bwidth"}),
    "unicode-lines": ("Line\u2028sep\u2029para.\n", {"title": "Line\u2028separator"}),
    "markdown-title": ("Body.\n", {"title": "*stars* _under_ `code` [link](x)"}),
    "quotes": ("\"double\" 'single' «guillemets».\n", {"title": "\"Quoted\" 'title' «x»"}),
    "backslashes": ("C:\\path\\to \\u0000 \\x00.\n", {"title": "C:\\path \\u0000"}),
}


def write_hostile_corpus(project: Project) -> dict[str, Path]:
    """~30 posts in blog alpha, each dated a minute apart, full of hostile content."""
    paths = {}
    start = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)
    for n, (name, (body, front)) in enumerate(HOSTILE.items()):
        front = {"date": (start + timedelta(minutes=n)).isoformat(), **front}
        paths[name] = project.post("alpha", name, body, **front)
    return paths


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The corpus, built once: a `Project` like the `project` fixture's, shared by the module."""
    project = Project(tmp_path_factory.mktemp("hostile"))
    write_hostile_corpus(project)
    return build_project(project)


def test_hostile_corpus_is_large(hostile: Built) -> None:
    assert len(HOSTILE) >= 28
    assert hostile.report.posts == len(HOSTILE)
    assert hostile.report.skipped == 0
    # One post shows Liquid and Jinja syntax in its text: published as written, with a warning.
    assert {(w.path.stem, w.field, w.line) for w in hostile.report.warnings} == {
        ("template-braces", "body", 5)}


def test_hostile_feeds_parse_and_validate(hostile: Built) -> None:
    assert len(feed_paths(hostile.out)) > 20
    assert invalid_feeds(hostile.out) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_items_round_trip(hostile: Built, fmt: str) -> None:
    names = hostile.names
    feed = hostile.feed(feed_file("alpha", fmt))
    assert len(feed.items) == len(HOSTILE)
    for item in feed.items:
        post = hostile.by_id[item.id]
        assert (item.title, item.link) == (post.title, post.url), post.slug
        assert item.published == post.date, post.slug
        assert item.authors == ["News Desk"], post.slug
        assert category_problems(item.tags, post, names) == [], post.slug


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_dangerous_markup_is_gone_from_content(hostile: Built, fmt: str) -> None:
    for rel, feed in hostile.feeds(fmt).items():
        for item in feed.items:
            assert item.content is not None
            assert dangers(item.content) == [], f"{rel} {item.link}"
            text = html_text(item.content)
            for payload in ("alert(", "steal(", "document.cookie", "inner frame", "color:red"):
                assert payload not in text, f"{rel} {item.link}: {payload}"


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_dangerous_markup_is_gone_from_raw_content(hostile: Built, fmt: str) -> None:
    """Read without feedparser's own sanitiser: the content as written in the file."""
    contents = raw_contents(hostile.out / "alpha" / FILE_NAMES[fmt])
    assert len(contents) == len(HOSTILE)
    for guid, html in contents.items():
        assert dangers(html) == [], guid
        assert "alert(" not in html and "steal(" not in html, guid


def test_hostile_text_survives_as_text(hostile: Built) -> None:
    """`]]>`, `{{ }}`, `&` and `<` are text: escaped, never dropped or doubled."""
    items = {i.link: i for i in hostile.feed("alpha/atom.xml").items}
    cdata = items[POST_URL.format("cdata-end")]
    assert cdata.title == "Ends ]]> here <![CDATA[ x ]]>"
    assert html_text(cdata.content or "").startswith("Text with ]]> inside and ]]> in code.")
    braces = items[POST_URL.format("template-braces")]
    assert braces.title == "{{ title }} {% raw %} ${x}"
    assert "Hello {{ name }} and {% if x %}{% endif %} ${var}." in html_text(braces.content or "")
    amp = items[POST_URL.format("ampersand")]
    assert amp.title == "Fish & Chips & Peas"
    assert html_text(amp.content or "") == "AT&T, 1 < 2 and 3 > 2, & © © &bogus; & done."
    assert items[POST_URL.format("less-than")].title == "x < y > z <<>> </notatag"
    for fmt in ("rss", "json"):
        other = {i.link: i for i in hostile.feed(f"alpha/{FILE_NAMES[fmt]}").items}
        assert other[POST_URL.format("ampersand")].title == "Fish & Chips & Peas"
        assert other[POST_URL.format("cdata-end")].title == "Ends ]]> here <![CDATA[ x ]]>"


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_crlf_title_is_one_line(hostile: Built, fmt: str) -> None:
    items = {i.link: i for i in hostile.feed(f"alpha/{FILE_NAMES[fmt]}").items}
    title = items[POST_URL.format("crlf-title")].title
    assert title == "First line second line third fourth"


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_rtl_emoji_and_long_titles_round_trip(hostile: Built, fmt: str) -> None:
    items = {i.link: i for i in hostile.feed(f"alpha/{FILE_NAMES[fmt]}").items}
    assert items[POST_URL.format("rtl")].title == "مرحبا \u200fبالعالم — שלום"
    assert "\u202eoverride\u202c" in html_text(items[POST_URL.format("rtl")].content or "")
    assert items[POST_URL.format("emoji")].title == "Emoji 🎉 👩🏽‍💻 🇸🇩 title"
    long_title = "Very long " + " ".join(["headline"] * 300)
    assert items[POST_URL.format("long-title")].title == long_title


def test_hostile_tags_with_spaces_and_accents_get_feeds(hostile: Built) -> None:
    tags = hostile.out / "tags"
    assert {p.name for p in tags.iterdir()} >= {
        "spaced-out-tag", "ünïcödé-tag", "naïve-café", "tag-with-slash-amp", "syria",
        "северный-кавказ", "سوريا",
    }
    feed = hostile.feed("tags/spaced-out-tag/rss.xml")
    # Display name: the earliest post's spelling, its whitespace collapsed.
    assert feed.title == "Test Newsroom: Spaced Out Tag"
    assert {i.link for i in feed.items} == {POST_URL.format("tags-spaces"),
                                            POST_URL.format("tags-alike")}
    unicode_feed = hostile.feed("tags/ünïcödé-tag/atom.xml")
    assert unicode_feed.self_url == (
        "https://news.example.org/tags/%C3%BCn%C3%AFc%C3%B6d%C3%A9-tag/atom.xml")


def test_hostile_tags_that_slugify_alike_are_one_tag(hostile: Built) -> None:
    syria = [p for p in (hostile.out / "tags").iterdir() if p.name.casefold() == "syria"]
    assert [p.name for p in syria] == ["syria"]
    arabic = [p.name for p in (hostile.out / "tags").iterdir() if "سوريا" in p.name]
    assert arabic == ["سوريا"]  # with or without the damma: one tag
    items = {i.link: i for i in hostile.feed("alpha/feed.json").items}
    assert items[POST_URL.format("uppercase-tags")].tags == ["SYRIA"]
    assert items[POST_URL.format("arabic")].tags == ["سوريا"]
    # Three tags, whether shown as this post spells them or by their display names.
    alike = items[POST_URL.format("tags-alike")].tags
    assert [{"spaced out tag": "Spaced Out Tag", "ÜNÏCÖDÉ TAG": "Ünïcödé Tag",
             "Naïve-Café": "naïve café"}.get(t, t) for t in alike] == [
        "Spaced Out Tag", "Ünïcödé Tag", "naïve café"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_relative_urls_are_made_absolute(hostile: Built, fmt: str) -> None:
    base = POST_URL.format("relative-urls")
    path = hostile.out / "alpha" / FILE_NAMES[fmt]
    post = next(p for p in hostile.posts if p.url == base)
    urls = urls_in(raw_contents(path)[post.id])
    expected = [
        "https://news.example.org/alpha/other/",
        "https://news.example.org/about/",
        base + "page.html",
        base + "#sec",
        base + "?q=1",
        base + "img/pic.png",
        "https://news.example.org/abs.jpg",
        base + "small.jpg",
        "https://news.example.org/big.jpg",
        base + "a.webp",
        "https://news.example.org/alpha/b.webp",
        base + "c.jpg",
    ]
    for url in expected:
        assert url in urls, url
    assert [u for u in urls if urlsplit(u).scheme != "https"] == []
    assert base + "pics/cover.jpg" in urls  # the front-matter image, as the <figure>


@pytest.mark.parametrize("fmt", FORMATS)
def test_hostile_every_content_url_is_absolute(hostile: Built, fmt: str) -> None:
    relative = []
    for rel, path in feed_paths(hostile.out).items():
        if fmt_of(path) == fmt:
            relative += [(rel, guid, u) for guid, html in raw_contents(path).items()
                         for u in urls_in(html) if urlsplit(u).scheme not in ("http", "https")
                         and not (u.startswith("#fn") and f'id="{u[1:]}"' in html)]
    assert relative == []  # but footnotes' links into their own item


# ---------------------------------------------------------------------------------------------
# Characters XML forbids
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("field", "front", "body", "clean"),
    [
        ("title", {"title": f"Ti\x00t\x01le{CONTROLS} end"}, "Body.\n", "Title end"),
        ("summary", {"summary": f"Sum\x02mary\x0b{CONTROLS} end"}, "Body.\n", "Summary end"),
        ("body", {}, f"Bo\x00dy\x08 with{CONTROLS} controls.\n", "Body with controls."),
        ("image.caption", {"image": {"url": "a.jpg", "alt": "alt",
                                     "caption": f"Cap\x03tion{CONTROLS}"}},
         "Body.\n", "Caption"),
        ("image.alt", {"image": {"url": "a.jpg", "alt": f"A\x04lt{CONTROLS}"}},
         "Body.\n", "Alt"),
    ],
)
def test_forbidden_characters_are_removed_with_a_warning(
    project: Project, field: str, front: dict[str, Any], body: str, clean: str
) -> None:
    path = project.post("alpha", "controls", body, **front)
    built = build_project(project)
    warnings = [w for w in built.report.warnings if w.path == path]
    assert warnings and all(w.severity is Severity.WARNING for w in warnings)
    assert field in {w.field for w in warnings}
    assert built.report.posts == 1
    assert forbidden_in_output(built.out) == []
    assert invalid_feeds(built.out) == []
    for fmt in FORMATS:
        text = (built.out / FILE_NAMES[fmt]).read_text("utf-8")
        if fmt == "json":
            text = "\n".join(strings_in(json.loads(text)))
        assert clean in text, fmt


@pytest.mark.parametrize(
    "front",
    [
        pytest.param({"tags": ["bad\x01tag"]}, id="tag"),
        pytest.param({"author": "Bad\x02 Name"}, id="author-name"),
    ],
)
def test_forbidden_characters_in_tags_and_author_names_are_removed(
    project: Project, front: dict[str, Any]
) -> None:
    """README: "Characters that XML 1.0 forbids are removed from all text", tags included."""
    path = project.post("alpha", "controls", "Body.\n", **front)
    built = build_project(project)
    assert built.report.posts == 1
    assert {w.path for w in built.report.warnings} == {path}
    assert all(w.severity is Severity.WARNING for w in built.report.warnings)
    assert forbidden_in_output(built.out) == []
    assert invalid_feeds(built.out) == []


# ---------------------------------------------------------------------------------------------
# Summaries
# ---------------------------------------------------------------------------------------------


def test_summary_defaults_to_first_paragraph_as_plain_text(project: Project) -> None:
    project.post("alpha", "first", "## Heading\n\nFirst *emphasised* paragraph with a "
                 "[link](/x/) and `code`.\n\nSecond paragraph.\n")
    built = build_project(project)
    summaries = item_summaries(built, POST_URL.format("first"))
    want = "First emphasised paragraph with a link and code."
    assert summaries == {"rss": want, "atom": want, "json": want}


def test_summary_of_a_long_first_paragraph_is_cut_at_a_word(project: Project) -> None:
    words = [f"word{n:03d}" for n in range(120)]  # 120 words of 7 letters: 959 characters
    project.post("alpha", "long", " ".join(words) + "\n\nSecond.\n")
    built = build_project(project)
    summary = item_summaries(built, POST_URL.format("long"))["json"]
    assert 300 <= len(summary) <= 410
    assert summary.endswith("…")
    kept = summary.removesuffix("…").split(" ")
    assert kept == words[: len(kept)]


def test_summary_is_one_non_empty_text_when_the_first_paragraph_has_none(
    project: Project,
) -> None:
    """A body that opens with an image: every format shows the same, non-empty summary."""
    project.post("alpha", "pic-first", "![photo](a.jpg)\n\nThe story starts here.\n")
    built = build_project(project)
    summaries = item_summaries(built, POST_URL.format("pic-first"))
    assert "" not in summaries.values(), summaries
    assert len(set(summaries.values())) == 1, summaries


def test_front_matter_summary_wins(project: Project) -> None:
    project.post("alpha", "given", "Body paragraph.\n", summary="Given summary.")
    built = build_project(project)
    assert set(item_summaries(built, POST_URL.format("given")).values()) == {"Given summary."}


@pytest.mark.parametrize(
    ("front", "body", "text"),
    [
        pytest.param({"summary": "<script>alert(1)</script> Fish & <b>chips</b>"}, "Body.\n",
                     "<script>alert(1)</script> Fish & <b>chips</b>", id="front-matter"),
        pytest.param({}, "Use the `<script>` tag and `<iframe onload=x>`.\n",
                     "Use the <script> tag and <iframe onload=x>.", id="first-paragraph"),
    ],
)
def test_plain_text_summary_is_escaped_in_rss_description(
    project: Project, front: dict[str, Any], body: str, text: str
) -> None:
    """RSS <description> is read as HTML: a plain-text summary must not become markup."""
    project.post("alpha", "markup", body, **front)
    built = build_project(project)
    item = xml_items(built.out / "rss.xml")["tag:news.example.org,2026-11-01:alpha/markup"]
    description = item.findtext("description")
    assert dangers(description) == []
    assert html_text(description) == text
    # Atom (type="text") and JSON Feed's summary are plain text by spec: kept as written.
    assert item_summaries(built, POST_URL.format("markup"))["json"] == text


# ---------------------------------------------------------------------------------------------
# Channel details, ids and authors, on small projects
# ---------------------------------------------------------------------------------------------


def test_feed_updated_is_the_latest_item_change_not_the_clock(project: Project) -> None:
    project.post("alpha", "old-but-updated", date="2026-11-01T10:00:00Z",
                 updated="2026-11-20T09:30:00Z")
    project.post("alpha", "newer", date="2026-11-10T10:00:00Z")
    built = build_project(project)
    latest = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    for rel in ("alpha/rss.xml", "alpha/atom.xml", "rss.xml", "atom.xml"):
        assert built.feed(rel).updated == latest, rel
    # Items are newest first by date: the updated post stays second.
    assert [i.link for i in built.feed("alpha/atom.xml").items] == [
        POST_URL.format("newer"), POST_URL.format("old-but-updated")]


@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_empty_feeds_say_1970(project: Project, fmt: str) -> None:
    project.post("alpha", "only")
    built = build_project(project)
    for folder in ("beta", "breaking"):
        feed = built.feed(feed_file(folder, fmt))
        assert (feed.items, feed.updated) == ([], EPOCH), folder


def test_build_time_does_not_leak_into_output(project: Project, tmp_path: Path) -> None:
    project.post("alpha", "one", tags=["x"])
    project.post("beta", "two", date="2026-10-01", breaking=True)
    project.build(NOW, out_dir=tmp_path / "a")
    project.build(NOW + timedelta(days=400, hours=3), out_dir=tmp_path / "b")
    a, b = written_files(tmp_path / "a"), written_files(tmp_path / "b")
    assert a == b
    for rel in a:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel


def test_rss_guid_is_a_permalink_only_when_the_id_is_the_link(project: Project) -> None:
    project.post("alpha", "linked", id="https://news.example.org/alpha/linked/")
    project.post("alpha", "tagged", id="tag:news.example.org,2026-11-01:alpha/tagged")
    built = build_project(project)
    items = xml_items(built.out / "alpha/rss.xml")
    assert items["https://news.example.org/alpha/linked/"].find("guid").get(
        "isPermaLink") == "true"
    assert items["tag:news.example.org,2026-11-01:alpha/tagged"].find("guid").get(
        "isPermaLink") == "false"


@pytest.mark.parametrize(
    ("authors", "rss_author", "creators", "names"),
    [
        pytest.param(["desk"], ["desk@news.example.org (News Desk)"], [], ["News Desk"],
                     id="email"),
        pytest.param(["ann"], [], ["Ann Writer"], ["Ann Writer"], id="no-email"),
        pytest.param(["Plain Name"], [], ["Plain Name"], ["Plain Name"], id="plain-name"),
        pytest.param(["desk", "ann"], [], ["News Desk", "Ann Writer"],
                     ["News Desk", "Ann Writer"], id="two"),
    ],
)
def test_rss_author_needs_an_email_else_dc_creator(
    project: Project, authors: list[str], rss_author: list[str], creators: list[str],
    names: list[str],
) -> None:
    project.post("alpha", "by", authors=authors)
    built = build_project(project)
    item = next(iter(xml_items(built.out / "rss.xml").values()))
    assert [a.text for a in item.findall("author")] == rss_author
    assert [c.text for c in item.findall(f"{{{DC}}}creator")] == creators
    for fmt in FORMATS:
        assert built.feed(FILE_NAMES[fmt]).items[0].authors == names, fmt


@pytest.mark.parametrize("fmt", FORMATS)
def test_breaking_posts_carry_the_breaking_news_category(project: Project, fmt: str) -> None:
    project.post("alpha", "calm", tags=["x"])
    project.post("beta", "urgent", tags=["x"], breaking=True, date="2026-11-02T10:00:00Z")
    built = build_project(project)
    items = {i.link: i for i in built.feed(FILE_NAMES[fmt]).items}
    assert items["https://news.example.org/beta/urgent/"].tags == ["x", "Breaking News"]
    assert items[POST_URL.format("calm")].tags == ["x"]
    breaking = built.feed(feed_file("breaking", fmt))
    assert [i.link for i in breaking.items] == ["https://news.example.org/beta/urgent/"]


def test_image_caption_in_every_format(project: Project) -> None:
    image = {"url": "/img/a.png", "alt": "Alt text", "caption": "Caption & <more>"}
    project.post("alpha", "pic", image=image)
    built = build_project(project)
    url = "https://news.example.org/img/a.png"
    rss = next(iter(xml_items(built.out / "rss.xml").values()))
    assert rss.find("enclosure").get("url") == url
    assert rss.find("enclosure").get("type") == "image/png"
    media = rss.find(f"{{{MEDIA}}}content")
    assert media.get("url") == url
    assert media.findtext(f"{{{MEDIA}}}description") == "Caption & <more>"
    atom = next(iter(xml_items(built.out / "atom.xml").values()))
    links = [x for x in atom.findall(f"{{{ATOM}}}link") if x.get("rel") == "enclosure"]
    assert [x.get("href") for x in links] == [url]
    item = next(iter(json_items(built.out / "feed.json").values()))
    assert item["image"] == url
    for fmt in FORMATS:
        content = built.feed(FILE_NAMES[fmt]).items[0].content or ""
        assert html_text(content).startswith("Caption & <more>"), fmt


# ---------------------------------------------------------------------------------------------
# Config: formats, blog tags, content, items
# ---------------------------------------------------------------------------------------------


def test_blog_tags_writes_a_feed_per_blog_and_tag(project: Project) -> None:
    project.write_config(config_with(blog_tags=True))
    small_corpus(project)
    built = build_project(project)
    folders = ["", "alpha", "beta", "breaking", "tags/shared", "tags/alpha-only",
               "tags/северный-кавказ", "alpha/tags/shared", "alpha/tags/alpha-only",
               "beta/tags/shared", "beta/tags/северный-кавказ"]
    assert set(feed_paths(built.out)) == {feed_file(f, fmt) for f in folders for fmt in FORMATS}
    feed = built.feed("beta/tags/северный-кавказ/rss.xml")
    assert feed.self_url == ("https://news.example.org/beta/tags/%D1%81%D0%B5%D0%B2%D0%B5%D1%80"
                             "%D0%BD%D1%8B%D0%B9-%D0%BA%D0%B0%D0%B2%D0%BA%D0%B0%D0%B7/rss.xml")
    assert [i.link for i in feed.items] == ["https://news.example.org/beta/b1/"]
    assert [i.link for i in built.feed("alpha/tags/shared/atom.xml").items] == [
        POST_URL.format("a2"), POST_URL.format("a1")]
    assert invalid_feeds(built.out) == []


def test_blog_tags_feeds_are_in_their_blogs_opml_group(project: Project) -> None:
    project.write_config(config_with(blog_tags=True))
    small_corpus(project)
    built = build_project(project)
    top, groups = opml_outlines(built.out / "feeds.opml")
    site = "https://news.example.org/"
    assert {o["xmlUrl"] for o in groups["Alpha"]} == {
        site + "alpha/rss.xml", site + "alpha/tags/shared/rss.xml",
        site + "alpha/tags/alpha-only/rss.xml"}
    assert {o["xmlUrl"] for o in top} == {
        site + "rss.xml", site + "breaking/rss.xml", site + "tags/shared/rss.xml",
        site + "tags/alpha-only/rss.xml",
        site + "tags/%D1%81%D0%B5%D0%B2%D0%B5%D1%80%D0%BD%D1%8B%D0%B9-%D0%BA%D0%B0%D0%B2%D0%BA"
               "%D0%B0%D0%B7/rss.xml"}
    urls = [o["xmlUrl"] for o in top] + [o["xmlUrl"] for g in groups.values() for o in g]
    assert len(urls) == len(set(urls)) == len(feed_paths(built.out)) // 3


def test_only_the_configured_formats_are_written(project: Project) -> None:
    project.write_config(config_with(formats=["atom"]))
    small_corpus(project)
    built = build_project(project)
    names = {Path(rel).name for rel in written_files(built.out)}
    assert names == {"atom.xml", "feeds.opml", MANIFEST, "index.html", "feed.xsl",
                     "feed.ar.xsl"}  # the beta blog is Arabic
    top, groups = opml_outlines(built.out / "feeds.opml")
    urls = [o["xmlUrl"] for o in top] + [o["xmlUrl"] for g in groups.values() for o in g]
    assert urls and all(u.endswith("/atom.xml") for u in urls)
    assert invalid_feeds(built.out) == []


def test_opml_points_at_the_first_configured_format(project: Project) -> None:
    project.write_config(config_with(formats=["json", "rss"]))
    small_corpus(project)
    built = build_project(project)
    top, _ = opml_outlines(built.out / "feeds.opml")
    assert {o["xmlUrl"] for o in top} >= {"https://news.example.org/feed.json",
                                          "https://news.example.org/tags/shared/feed.json"}
    assert not list(built.out.rglob("atom.xml"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_content_summary_leaves_full_content_out(project: Project, fmt: str) -> None:
    project.write_config(config_with(content="summary"))
    project.post("alpha", "s", "First paragraph.\n\nSECRET second paragraph.\n")
    project.post("alpha", "t", "Body.\n", summary="Given.", date="2026-11-02T10:00:00Z")
    built = build_project(project)
    path = built.out / FILE_NAMES[fmt]
    assert "SECRET" not in path.read_text("utf-8")
    items = {i.link: i for i in read_feed(path).items}
    assert item_summaries(built, POST_URL.format("s"))[fmt] == "First paragraph."
    assert item_summaries(built, POST_URL.format("t"))[fmt] == "Given."
    if fmt == "json":
        assert json_items(path)[items[POST_URL.format("t")].id]["content_text"] == "Given."
        assert all("content_html" not in i for i in json_items(path).values())
    if fmt == "rss":
        assert all(x.find(CONTENT) is None
                   for x in xml_items(path).values())
    if fmt == "atom":  # feedgen's description() would have put the summary in <content>
        assert all(x.find(f"{{{ATOM}}}content") is None for x in xml_items(path).values())
    assert invalid_feeds(built.out) == []


def test_items_limit_keeps_the_newest(project: Project) -> None:
    project.write_config(config_with(items=2))
    for day in (3, 1, 4, 2, 5):
        project.post("alpha", f"d{day}", tags=["t"], date=f"2026-11-0{day}T10:00:00Z")
    built = build_project(project)
    for rel in ("rss.xml", "alpha/atom.xml", "tags/t/feed.json"):
        assert [i.link for i in built.feed(rel).items] == [
            POST_URL.format("d5"), POST_URL.format("d4")], rel


# ---------------------------------------------------------------------------------------------
# Publishing: drafts and future posts
# ---------------------------------------------------------------------------------------------


def test_drafts_never_appear(project: Project) -> None:
    project.post("alpha", "public", tags=["both"])
    project.post("alpha", "secret-draft", tags=["both", "draft-only"], draft=True,
                 breaking=True)
    built = build_project(project)
    assert not (built.out / "tags" / "draft-only").exists()
    for rel, path in feed_paths(built.out).items():
        assert "secret-draft" not in path.read_text("utf-8"), rel
    assert "secret-draft" not in (built.out / "feeds.opml").read_text("utf-8")


@pytest.mark.parametrize(
    ("now", "shown"),
    [
        pytest.param(datetime(2026, 12, 1, 8, 59, 59, tzinfo=UTC), False, id="a-second-before"),
        pytest.param(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), True, id="at-its-time"),
        pytest.param(datetime(2027, 1, 1, tzinfo=UTC), True, id="later"),
    ],
)
def test_future_post_appears_once_its_time_has_come(
    project: Project, now: datetime, shown: bool
) -> None:
    project.post("alpha", "today", tags=["now"])
    # 2026-12-01 09:00 in Europe/London is 09:00 UTC (winter time).
    project.post("alpha", "later", tags=["future-only"], date="2026-12-01T09:00:00")
    built = build_project(project, now)
    links = [i.link for i in built.feed("atom.xml").items]
    assert (POST_URL.format("later") in links) is shown
    assert (built.out / "tags" / "future-only" / "rss.xml").exists() is shown


def test_a_later_build_publishes_a_post_whose_time_has_come(project: Project) -> None:
    project.post("alpha", "today", tags=["now"])
    project.post("alpha", "later", tags=["future-only"], date="2026-12-01T09:00:00Z")
    project.build(datetime(2026, 11, 30, tzinfo=UTC))
    assert not (project.out / "tags" / "future-only").exists()
    report = project.build(datetime(2026, 12, 2, tzinfo=UTC))
    assert "tags/future-only/atom.xml" in {str(p) for p in report.outcome.written}
    built = build_project(project, datetime(2026, 12, 2, tzinfo=UTC))
    assert [i.link for i in built.feed("alpha/atom.xml").items] == [
        POST_URL.format("later"), POST_URL.format("today")]


# ---------------------------------------------------------------------------------------------
# Rebuilding: byte-identical output, only what changed is written, removals via the manifest
# ---------------------------------------------------------------------------------------------


def test_rebuild_is_byte_identical_and_reports_nothing_written(project: Project) -> None:
    write_hostile_corpus(project)
    small_corpus(project)
    first = project.build(NOW)
    before = snapshot(project.out)
    second = project.build(NOW)
    assert snapshot(project.out) == before
    assert second.outcome.written == []
    assert second.outcome.removed == []
    produced = {str(p) for p in first.outcome.written}
    assert {str(p) for p in second.outcome.unchanged} == produced
    assert produced == set(before) - {MANIFEST}


def test_editing_a_post_rewrites_only_the_feeds_that_hold_it(project: Project) -> None:
    small_corpus(project)
    project.post("beta", "b2", tags=["Beta Only"], date="2026-11-04T10:00:00Z")
    project.build(NOW)
    before = snapshot(project.out)
    # b1 is in the site feed, the beta feed, and the tags shared and северный-кавказ.
    project.post("beta", "b1", "An edited body.\n", tags=["Shared", "Северный Кавказ"],
                 date="2026-11-02T10:00:00Z")
    report = project.build(NOW)
    holding = ["", "beta", "tags/shared", "tags/северный-кавказ"]
    expected = {feed_file(f, fmt) for f in holding for fmt in FORMATS}
    # The manifest is feedpress's own bookkeeping, not a feed: it may change or not.
    assert {str(p) for p in report.outcome.written} - {MANIFEST} == expected
    after = snapshot(project.out)
    changed = {rel for rel in after if after[rel] != before.get(rel)}
    assert changed - {MANIFEST} == expected
    assert "An edited body." in (project.out / "beta/feed.json").read_text("utf-8")


def test_a_removed_tags_feeds_are_deleted(project: Project) -> None:
    project.post("alpha", "one", tags=["keep", "Gone Tag"])
    project.build(NOW)
    gone = project.out / "tags" / "gone-tag"
    assert {p.name for p in gone.iterdir()} == set(FILE_NAMES.values())
    project.post("alpha", "one", tags=["keep"])
    report = project.build(NOW)
    assert {str(p) for p in report.outcome.removed} == {
        f"tags/gone-tag/{name}" for name in FILE_NAMES.values()}
    assert not gone.exists()
    assert (project.out / "tags" / "keep" / "rss.xml").exists()
    assert "tags/gone-tag/rss.xml" not in (project.out / "feeds.opml").read_text("utf-8")
    again = project.build(NOW)  # the manifest no longer lists the removed files
    assert (again.outcome.written, again.outcome.removed) == ([], [])


def test_files_feedpress_did_not_write_are_never_touched(project: Project) -> None:
    project.post("alpha", "one", tags=["gone"])
    project.build(NOW)
    mine = {
        "index.html": b"<!doctype html><p>home</p>\n",
        "tags/notes.txt": b"notes\n",
        "tags/gone/keep.txt": b"kept\n",
        "alpha/rss.xml.bak": b"backup\n",
    }
    for rel, data in mine.items():  # index.html replaces the page feedpress wrote
        (project.out / rel).write_bytes(data)
    stamps = {rel: (project.out / rel).stat().st_mtime_ns for rel in mine}
    project.post("alpha", "one", tags=["other"])
    report = project.build(NOW)
    assert [(p.path.name, p.severity.value) for p in report.warnings] == [
        ("index.html", "warning")]
    assert {str(p) for p in report.outcome.removed} == {
        f"tags/gone/{name}" for name in FILE_NAMES.values()}
    for rel, data in mine.items():
        assert (project.out / rel).read_bytes() == data, rel
        assert (project.out / rel).stat().st_mtime_ns == stamps[rel], rel


def test_dry_run_writes_and_removes_nothing(project: Project) -> None:
    project.post("alpha", "one", tags=["gone"])
    project.build(NOW)
    before = snapshot(project.out)
    project.post("alpha", "one", "Changed.\n", tags=["other"])
    report = project.build(NOW, dry_run=True)
    assert report.outcome.written and report.outcome.removed
    assert snapshot(project.out) == before



# ---------------------------------------------------------------------------------------------
# Items: the string templates against feedgen and lxml (tests/feedgen_items.py)
# ---------------------------------------------------------------------------------------------

EDGE_IMAGES = [
    None,
    Image("https://news.example.org/a.png", "", None),
    Image("https://news.example.org/b c.webp?x=1&y=\"2\"", 'alt "q" & <a>\ttab',
          "line one\nline two\r\nthree\ttab & \"quoted\" <b>"),
    Image("https://news.example.org/no-extension", "alt only", None),
]
EDGE_AUTHORS = [
    (Author("Solo", "solo@news.example.org"),),
    (Author("No Mail", None, "https://news.example.org/no-mail/"),),
    (Author("A & B <x>", "ab@news.example.org", "https://e.example/?a=1&b=2"),
     Author("Second\rAuthor")),
]


def edge_posts() -> Iterator[Post]:
    """Posts made directly, to reach corners a YAML file cannot (a bare \\r in a title)."""
    date = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    for n, (image, authors) in enumerate(
            (i, a) for i in EDGE_IMAGES for a in EDGE_AUTHORS):
        url = f"https://news.example.org/alpha/edge-{n}/"
        yield Post(
            path=Path(f"edge-{n}.md"), blog="alpha", slug=f"edge-{n}",
            id=url if n % 2 else f"tag:news.example.org,2026-03-29:alpha/edge-{n}",
            id_pinned=True, title=f"Edge {n}: \"q\" & 'a' <b>\r\n\tend", url=url,
            date=date, updated=date + timedelta(days=n) if n % 3 else None, authors=authors,
            tags=(Tag("t-amp", "T & amp"), Tag("قسم", "قسم")), breaking=n % 4 == 0,
            summary=None, image=image, lang="ar" if n % 2 else "en", draft=False,
            digest=str(n))


@pytest.mark.parametrize("content", ["full", "summary"])
@pytest.mark.parametrize("fmt", ["rss", "atom"])
def test_items_match_feedgen_byte_for_byte(
        sample: Built, hostile: Built, fmt: str, content: str) -> None:
    options = FeedOptions(content=content)  # type: ignore[arg-type]
    everyone = [*sample.posts, *hostile.posts, *edge_posts()]
    differ = []
    for post in everyone:
        body = "Body & <b>bold</b>\r\n\ttab.\n" if post.digest.isdigit() else read_body(post)
        rendered = render(post, body)
        ours = formats.item_fragments(post, rendered, options)
        reference = reference_item(post, rendered, options, fmt).encode("utf-8")
        if formats.item(ours, fmt) != reference:  # type: ignore[arg-type]
            differ.append(post.slug)
    assert len(everyone) >= 50
    assert differ == []


@pytest.mark.parametrize(("html", "expected"), [
    ("<p>one <em>two</em>\nthree</p>\n<p>second</p>", "one two three"),
    ("<blockquote>\n<p>quoted</p>\n</blockquote>\n<p>top</p>", "top"),
    ("<ul>\n<li>\n<p>in a list</p>\n</li>\n</ul>\n", ""),
    ("<div><p>in a div</p></div><p>after</p>", "after"),
    ("<h1>heading</h1><p></p><p>later</p>", ""),
    ("<table><tr><td><p>cell</p></td></tr></table><p>below</p>", "below"),
    ("<p>never closed", "never closed"),
    ("<h2>no paragraph</h2>", ""),
])
def test_first_paragraph_is_the_first_top_level_one(html: str, expected: str) -> None:
    assert first_paragraph(html) == expected


def resident_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads Linux's /proc")
def test_rendering_markdown_does_not_leak_memory() -> None:
    """cmarkgfm's own wrapper loses about 40 kB a call (its issue #53); ours frees it all."""
    body = "\n\n".join(f"Paragraph {n} with **bold**, a [link](/x/{n}) and ~~strike~~.\n\n"
                       f"| a | b |\n|---|---|\n| {n} | {n} |\n\n- [ ] task {n}"
                       for n in range(40))
    for _ in range(50):  # let the allocator settle
        markdown_to_html(body)
    before = resident_mb()
    for _ in range(3000):
        html = markdown_to_html(body)
    assert "<table>" in html and "<del>strike</del>" in html and 'type="checkbox"' in html
    assert resident_mb() - before < 15


@pytest.mark.parametrize("text", ["a & b <c> \r\n", "é ب 😀 &amp; ]]> \r", "", "plain"])
def test_content_escaped_as_bytes_is_the_text_escape_in_utf8(text: str) -> None:
    assert formats._text_utf8(text.encode()) == formats._text(text).encode("utf-8")


@pytest.mark.parametrize("content", ["full", "summary"])
def test_json_items_are_what_json_dumps_writes(
        sample: Built, hostile: Built, content: str) -> None:
    """The content is escaped apart from the rest of the item (as bytes, for speed): the
    item must still read back to the post's content and be byte for byte what json.dumps
    writes for what it holds."""
    options = FeedOptions(content=content)  # type: ignore[arg-type]
    everyone = [*sample.posts, *hostile.posts, *edge_posts()]
    for post in everyone:
        body = ("Body & <b>bold</b>\r\n\ttab \\ \"q\" \x0b\x1f.\n" if post.digest.isdigit()
                else read_body(post))
        rendered = render(post, body)
        ours = formats.item_fragments(post, rendered, options)["json"]
        held = json.loads(ours)
        assert json.dumps(held, ensure_ascii=False).encode("utf-8") == ours, post.slug
        if content == "full":
            assert held["content_html"] == feed_html(post, rendered)
            assert "content_text" not in held
        else:
            assert held["content_text"] == rendered.summary
            assert "content_html" not in held
        assert held["title"] == post.title


@given(st.lists(st.sampled_from(["https://", "http://", "HTTPS://", "x.org", ":80", "/", "a",
                                 ".jpg", ".JPG", ".svgz", ".tar.gz", ".", "?q=/b.png", "#f",
                                 "data:", "%20", " ", "\t", "é", "[::1]", ";p", ".webp", ":",
                                 "b:", "//"]),
                max_size=8).map("".join))
def test_an_images_type_is_what_mimetypes_gives_for_its_path(url: str) -> None:
    import mimetypes
    from urllib.parse import urlsplit

    guessed, _ = mimetypes.guess_type(urlsplit(url).path)
    expected = guessed if guessed and guessed.startswith("image/") else \
        "application/octet-stream"
    assert formats._image_type(url) == expected


@given(st.text(st.characters(blacklist_categories=["Cs"])))
def test_json_strings_escaped_as_bytes_are_what_json_dumps_writes(value: str) -> None:
    assert formats._json_string_utf8(value.encode()) == json.dumps(
        value, ensure_ascii=False).encode("utf-8")


def test_urls_a_post_gives_are_written_as_uris(project: Project) -> None:
    """Spaces, quotes, angle brackets and bidi controls in a post's url or image url are
    percent-encoded as a browser would send them: every format then holds a URI, as JSON
    Feed's schema (format: uri) and feed readers want (attacker trial)."""
    project.raw("alpha/a.md", '---\ntitle: A\ndate: 2026-11-01\nurl: " https://a.example/ x"'
                '\n---\nA.\n')
    project.raw("alpha/b.md", '---\ntitle: B\ndate: 2026-11-02\n'
                'url: "https://news.example.org/a b/<x>\\"y\\u202e%zz"\nimage:\n'
                '  url: "/i.png\\" onerror=\\"alert(1)"\n  alt: i\n---\nB.\n')
    project.build(NOW)
    assert invalid_feeds(project.out) == []
    items = {item["title"]: item for item in json.loads(
        (project.out / "alpha" / "feed.json").read_text("utf-8"))["items"]}
    assert items["A"]["url"] == "https://a.example/%20x"
    assert items["B"]["url"] == "https://news.example.org/a%20b/%3Cx%3E%22y%E2%80%AE%25zz"
    assert items["B"]["image"] == "https://news.example.org/i.png%22%20onerror=%22alert(1)"
