"""The subscribe pages and the feeds' stylesheet, built from the sample project and read
with real tools: html5lib (strict) for validity, lxml's XSLT for the stylesheet, feedparser
for the feeds that now point at it, and headless Chromium for the layout at 375 and 1280 px.

Regenerate the README's screenshots (docs/subscribe-*.png) with
`python tests/test_pages.py`.
"""

from __future__ import annotations

import html
import shutil
import tempfile
from pathlib import Path
from urllib.parse import unquote, urljoin, urlsplit

import feedparser
import html5lib
import pytest
from lxml import etree
from lxml import html as lxml_html

from conftest import BASE_CONFIG, NOW, ROOT, SAMPLE, Project
from feedpress.config import load
from feedpress.feeds import build
from feedpress.words import words
from test_email_clients import PROBE, _Frames, chromium, png_size, screenshot

PAGES = ("index.html", "black-flag/index.html", "al-marsad/index.html", "khronika/index.html")
WIDTHS = (375, 1280)
FEEDS_URL = "https://news.example.org/feeds/"
ALLOWED_ELSEWHERE = {"https://news.example.org/", "https://news.example.org/newsletter/",
                     *(f"https://news.example.org/{blog}/" for blog in
                       ("black-flag", "al-marsad", "khronika"))}


def build_sample(out: Path) -> Path:
    build(load(SAMPLE / "feedpress.yaml"), NOW, out_dir=out)
    return out


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sample(tmp_path_factory.mktemp("pages") / "public")


def parse(page: Path) -> etree._Element:
    return lxml_html.fromstring(page.read_bytes())


@pytest.mark.parametrize("name", PAGES)
def test_each_page_is_valid_html(out: Path, name: str) -> None:
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    parser.parse((out / name).read_bytes())  # raises on the first parse error
    doc = parse(out / name)
    assert not doc.xpath("//script") and not doc.xpath("//@*[starts-with(name(), 'on')]")


def test_the_validity_check_catches_a_broken_page() -> None:
    parser = html5lib.HTMLParser(strict=True, namespaceHTMLElements=False)
    with pytest.raises(html5lib.html5parser.ParseError):
        parser.parse(b"<!DOCTYPE html><html><head><title>x</title></head><body><p></div>")


def target(out: Path, page: str, href: str) -> Path | None:
    """The written file a link on `page` leads to, or None for an allowed outside URL."""
    if href.startswith(FEEDS_URL):
        return out / unquote(href[len(FEEDS_URL):])
    if urlsplit(href).scheme:
        assert href in ALLOWED_ELSEWHERE, href
        return None
    return out / unquote(urljoin(page, href))


@pytest.mark.parametrize("name", PAGES)
def test_every_link_leads_to_a_file_that_was_written(out: Path, name: str) -> None:
    hrefs = parse(out / name).xpath("//a/@href | //link/@href")
    assert len(hrefs) > 10
    for href in hrefs:
        found = target(out, name, href)
        assert found is None or found.is_file(), f"{name}: {href} leads nowhere"


def test_the_site_page_lists_every_feed_and_the_ways_to_subscribe(out: Path) -> None:
    doc = parse(out / "index.html")
    links = {a.get("href") for a in doc.iter("a")}
    for folder in ("", "breaking/", "black-flag/", "al-marsad/", "khronika/"):
        for name in ("rss.xml", "atom.xml", "feed.json"):
            assert f"{folder}{name}" in links, folder + name
    for blog in ("black-flag", "al-marsad", "khronika"):
        assert f"{blog}/index.html" in links
    assert "feeds.opml" in links and "https://news.example.org/newsletter/" in links
    copyable = [code.text for code in doc.iter("code")]
    assert f"{FEEDS_URL}rss.xml" in copyable and f"{FEEDS_URL}al-marsad/feed.json" in copyable
    text = doc.text_content()
    assert "Under The Black Flag follows armed groups" in text
    assert any(href.startswith("tags/") for href in links)


@pytest.mark.parametrize(("name", "lang", "dir_"), [
    ("index.html", "en", "ltr"), ("black-flag/index.html", "en", "ltr"),
    ("al-marsad/index.html", "ar", "rtl"), ("khronika/index.html", "ru", "ltr")])
def test_each_page_has_its_language_direction_and_autodiscovery(
        out: Path, name: str, lang: str, dir_: str) -> None:
    doc = parse(out / name)
    assert (doc.get("lang"), doc.get("dir")) == (lang, dir_)
    said = words(lang)
    assert said["follow_intro"] in doc.text_content()
    alternates = {(link.get("type"), link.get("href"))
                  for link in doc.xpath("//head/link[@rel='alternate']")}
    folder = name.removesuffix("index.html")
    assert alternates == {("application/rss+xml", f"{FEEDS_URL}{folder}rss.xml"),
                          ("application/atom+xml", f"{FEEDS_URL}{folder}atom.xml"),
                          ("application/feed+json", f"{FEEDS_URL}{folder}feed.json")}
    if name != "index.html":
        assert said["about_blog"] in doc.text_content()


def test_on_the_site_page_each_blog_keeps_its_own_direction(out: Path) -> None:
    sections = {s.xpath("string(h3)"): (s.get("lang"), s.get("dir"))
                for s in parse(out / "index.html").xpath("//section")}
    assert sections["المرصد"] == ("ar", "rtl")
    assert sections["Хроника конфликтов"] == ("ru", "ltr")


@pytest.mark.parametrize(("name", "sheet", "lang"), [
    ("rss.xml", "feed.xsl", "en"), ("atom.xml", "feed.xsl", "en"),
    ("al-marsad/rss.xml", "feed.ar.xsl", "ar"), ("khronika/atom.xml", "feed.ru.xsl", "ru")])
def test_feeds_point_at_the_stylesheet_and_it_turns_them_into_a_page(
        out: Path, name: str, sheet: str, lang: str) -> None:
    """Each feed names the stylesheet in its own language, by a relative link."""
    if True:
        data = (out / name).read_bytes()
        lines = data.split(b"\n", 2)
        href = lines[1].removeprefix(b'<?xml-stylesheet type="text/xsl" href="').removesuffix(
            b'"?>').decode()
        assert (out / name).parent.joinpath(href).resolve() == (out / sheet).resolve()
        assert href == "../" * name.count("/") + sheet, name  # relative: works anywhere
        transform = etree.XSLT(etree.parse(str(out / sheet)))
        parsed = feedparser.parse(data)
        assert not parsed.bozo and parsed.entries, name
        page = str(transform(etree.fromstring(data)))
        assert words(lang)["feed_intro"] in html.unescape(page)
        assert f'lang="{lang}"' in page
        assert html.escape(parsed.entries[0].title, quote=False) in page, name
        assert parsed.entries[0].link in html.unescape(page), name
        assert f"{FEEDS_URL}{name}" in page  # the address to copy
        assert not (out / "feed.json").read_bytes().startswith(b"<")


def test_what_a_post_or_the_config_says_is_escaped(project: Project, tmp_path: Path) -> None:
    hostile = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    config = {**BASE_CONFIG, "email": {"subscribe_url": "https://news.example.org/join"}}
    config["blogs"] = {**BASE_CONFIG["blogs"],
                       "alpha": {"title": hostile, "description": hostile, "language": "en"}}
    config["site"] = {**BASE_CONFIG["site"], "title": hostile}
    project.write_config(config)
    project.post("alpha", "one", title="One", date="2026-11-20T10:00:00Z", tags=[hostile])
    project.build()
    for name in ("index.html", "alpha/index.html"):
        page = (project.out / name).read_text(encoding="utf-8")
        doc = lxml_html.fromstring(page)
        assert not doc.xpath("//script | //img | //@onerror"), name
        assert hostile in doc.text_content(), name


# --- Chromium ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def layout(out: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, str]]:
    """Every page in an iframe of each width, measured after load (see test_email_clients
    on why iframes: headless Chromium widens a small window)."""
    frames = "".join(
        f'<iframe id="{name}-{width}" width="{width}" height="5000" '
        f'srcdoc="{html.escape((out / name).read_text(encoding="utf-8"), quote=True)}"></iframe>'
        for name in PAGES for width in WIDTHS)
    wide = '<div style="width:900px">wide</div>'
    control = (out / "index.html").read_text(encoding="utf-8").replace("<body>", "<body>" + wide)
    frames += (f'<iframe id="control-375" width="375" height="5000" '
               f'srcdoc="{html.escape(control, quote=True)}"></iframe>')
    scratch = tmp_path_factory.mktemp("page-layout")
    host = scratch / "host.html"
    host.write_text('<!DOCTYPE html><html><head><meta charset="utf-8"><style>body{margin:0}'
                    f"iframe{{display:block;border:0}}</style></head><body>{frames}{PROBE}"
                    "</body></html>", encoding="utf-8")
    parser = _Frames()
    parser.feed(chromium(scratch, "--window-size=1400,1000", "--dump-dom",
                         host.as_uri()).decode("utf-8"))
    return parser.frames


def test_the_overflow_check_catches_a_900px_block(layout: dict[str, dict[str, str]]) -> None:
    assert layout["control-375"].get("data-overflow") == "true"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", PAGES)
def test_no_page_is_wider_than_the_screen(layout: dict[str, dict[str, str]], name: str,
                                          width: int) -> None:
    frame = layout[f"{name}-{width}"]
    assert frame.get("data-inner-width") == str(width)
    assert frame.get("data-overflow") == "false", (
        f"{name} is {frame.get('data-scroll-width')} px wide at {width} px")


@pytest.mark.parametrize("width", WIDTHS)
def test_chromium_draws_the_pages(out: Path, tmp_path: Path, width: int) -> None:
    for name in ("index.html", "al-marsad/index.html"):
        png = tmp_path / f"{name.replace('/', '-')}-{width}.png"
        screenshot(out / name, png, width, 1400)
        assert png_size(png) == (width, 1400)


def write_docs_screenshots() -> list[Path]:
    """docs/subscribe-{site,al-marsad}-{375,1280}.png, from a fresh build of the sample."""
    docs = ROOT / "docs"
    written = []
    with tempfile.TemporaryDirectory() as scratch:
        built = build_sample(Path(scratch) / "public")
        for name, stem in (("index.html", "site"), ("al-marsad/index.html", "al-marsad")):
            for width in WIDTHS:
                png = Path(scratch) / f"subscribe-{stem}-{width}.png"
                screenshot(built / name, png, width, 1400)
                written.append(Path(shutil.copyfile(png, docs / png.name)))
    return written


if __name__ == "__main__":
    for path in write_docs_screenshots():
        print(path.relative_to(ROOT))


def test_a_page_of_someone_elses_is_left_alone_and_pages_can_be_turned_off(
        project: Project) -> None:
    project.post("alpha", "one", title="One", date="2026-11-20T10:00:00Z")
    project.out.mkdir()
    (project.out / "index.html").write_bytes(b"<!DOCTYPE html><p>our home page</p>\n")
    report = project.build()
    assert (project.out / "index.html").read_bytes() == b"<!DOCTYPE html><p>our home page</p>\n"
    assert [(p.path.name, p.is_error) for p in report.warnings] == [
        (".feedpress-manifest.json", False), ("index.html", False)]  # a folder of theirs
    assert report.warnings[0].message.startswith("missing, in a folder that already holds")
    assert "left as it is" in report.warnings[1].message
    assert (project.out / "alpha" / "index.html").is_file()
    project.write_config({**BASE_CONFIG, "feeds": {"pages": False}})
    project.build()
    assert (project.out / "index.html").read_bytes() == b"<!DOCTYPE html><p>our home page</p>\n"
    assert not (project.out / "alpha" / "index.html").exists()
    assert not (project.out / "feed.xsl").exists()
    assert b"xml-stylesheet" not in (project.out / "rss.xml").read_bytes()


def test_a_page_left_alone_under_out_is_named_where_it_is(project: Project,
                                                          tmp_path: Path) -> None:
    project.post("alpha", "one", title="One", date="2026-11-20T10:00:00Z")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "index.html").write_bytes(b"<p>mine</p>")
    report = project.build(out_dir=elsewhere)
    assert [p.path for p in report.warnings] == [elsewhere / ".feedpress-manifest.json",
                                                 elsewhere / "index.html"]


def test_a_page_as_feedpress_would_write_it_is_its_own_without_the_manifest(
        project: Project) -> None:
    project.post("alpha", "one", title="One", date="2026-11-20T10:00:00Z")
    project.build()
    page = (project.out / "index.html").read_bytes()
    (project.out / ".feedpress-manifest.json").unlink()  # a build killed before saving it
    report = project.build()
    assert [p.message.split(",")[0] for p in report.warnings] == ["missing"]  # only that
    project.write_config({**BASE_CONFIG, "site": {**BASE_CONFIG["site"], "title": "Renamed"}})
    project.build()
    assert (project.out / "index.html").read_bytes() != page  # kept up to date again
    assert b"Renamed" in (project.out / "index.html").read_bytes()
