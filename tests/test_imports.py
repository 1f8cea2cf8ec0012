"""Posts written for Jekyll, Hugo, Eleventy and Pelican, built as they are.

The corpus in tests/data/imports/ was written for these tests in each tool's own style
(front matter, file names, fields, shortcodes); no post is copied from a real blog. Each
tool gets a blog of its own, the build runs as a user runs it, and the feeds are read back
with feedparser and checked against the Atom and JSON Feed schemas.
"""

from __future__ import annotations

import calendar
import shutil
from datetime import UTC, datetime
from typing import Any

import feedparser
import pytest
from lxml import etree

from conftest import BASE_CONFIG, DATA, Project, run_main
from feedpress.errors import Problem
from test_feeds import invalid_feeds

CORPUS = DATA / "imports"
TOOLS = ("jekyll", "hugo", "eleventy", "pelican")
NOW = datetime(2024, 3, 10, 12, 0, tzinfo=UTC)
# Every post the corpus publishes: title, date, summary, tags, and words of its content.
EXPECTED: dict[str, dict[str, Any]] = {
    "ceasefire-talks-resume": {
        "title": "Ceasefire talks resume in Doha", "date": "2024-03-05T00:00:00Z",
        "summary": "Negotiators met again on Tuesday after weeks of silence.",
        "tags": {"ceasefire", "mena", "diplomacy"},
        "content": ["Negotiators met again in Doha", 'print("<b>the HTML shown</b>")']},
    "refugees-cross-border": {
        "title": "Refugees cross border", "date": "2024-01-15T00:00:00Z",
        "summary": "Thousands crossed the border overnight, aid workers said.",
        "tags": {"refugees"}, "content": ["Thousands crossed the border"]},
    "dated-by-name": {
        "title": "Dated by its file name", "date": "2024-02-10T00:00:00Z",
        "summary": "This post has no date field: Jekyll takes it from the file name.",
        "tags": {"explainer"}, "content": ["no date field"]},
    "militia-clashes": {
        "title": "Militia clashes near the border", "date": "2024-03-01T08:30:00Z",
        "summary": "Fighting broke out overnight between two militias.",
        "tags": {"border", "militias", "africa"},
        "content": ["Fighting broke out", '<div class="map">The HTML of the map</div>']},
    "aid-convoy": {
        "title": "Aid convoy reaches the city", "date": "2024-03-03T11:00:00Z",
        "summary": "The first convoy in a month reached the city on Sunday.",
        "tags": {"aid"}, "content": ["first convoy in a month"]},
    "first-report": {
        "title": "First report from the front", "date": "2024-03-04T00:00:00Z",
        "summary": "Our correspondent's first dispatch.", "tags": {"post"},
        "content": ["filed her first dispatch"]},
    "drone-strikes-north": {
        "title": "Drone strikes reported in the north", "date": "2024-02-20T14:00:00Z",
        "summary": "Witnesses described at least three strikes.",
        "tags": {"drones", "airstrikes", "sahel"}, "content": ["near the town on Tuesday"]},
}


@pytest.fixture
def imported(project: Project) -> tuple[Project, int, str, str]:
    config = {**BASE_CONFIG, "site": {**BASE_CONFIG["site"], "timezone": "UTC"},
              "blogs": {tool: {"title": tool.title(), "description": f"Posts from {tool}.",
                               "language": "en"} for tool in TOOLS}}
    project.write_config(config)
    for tool in TOOLS:
        shutil.copytree(CORPUS / tool, project.posts / tool)
    args = ["--config", str(project.config_path), "--now", "2024-03-10T12:00Z"]
    code, out, err = run_main(["build", *args])
    return project, code, out, err


def test_every_post_of_every_tool_is_published_intact(
        imported: tuple[Project, int, str, str]) -> None:
    project, code, _, err = imported
    assert code == 0, err
    assert invalid_feeds(project.out) == []
    feed = feedparser.parse((project.out / "atom.xml").read_bytes())
    assert not feed.bozo
    by_slug = {entry.link.rstrip("/").rsplit("/", 1)[1]: entry for entry in feed.entries}
    assert set(by_slug) == set(EXPECTED)  # drafts kept back, section pages skipped
    for slug, want in EXPECTED.items():
        entry = by_slug[slug]
        assert entry.title == want["title"], slug
        when = datetime.fromisoformat(want["date"].replace("Z", "+00:00"))
        assert calendar.timegm(entry.published_parsed) == when.timestamp(), slug
        assert entry.summary == want["summary"], slug
        assert {t.term.lower() for t in entry.get("tags", [])} == want["tags"], slug
        content = entry.content[0].value
        for piece in want["content"]:
            assert piece in content.replace("&lt;", "<").replace("&gt;", ">") \
                .replace("&quot;", '"'), (slug, piece)


def test_what_other_tools_write_for_code_tasks_and_footnotes_survives(
        imported: tuple[Project, int, str, str]) -> None:
    project, _, _, _ = imported
    feed = feedparser.parse((project.out / "jekyll" / "atom.xml").read_bytes())
    entry = next(e for e in feed.entries if e.link.endswith("/ceasefire-talks-resume/"))
    html = entry.content[0].value
    assert 'class="language-python"' in html
    assert html.count('type="checkbox"') == 2 and 'checked=""' in html
    assert html.count("disabled") == 2
    refs = etree.HTML(html).xpath("//a[starts-with(@href, '#fn')]/@href")
    ids = set(etree.HTML(html).xpath("//@id"))
    assert refs and all(ref[1:] in ids for ref in refs)  # every footnote link lands
    assert "{% highlight" not in html and "endhighlight" not in html


def test_the_build_says_once_per_field_what_it_read_and_set_aside(
        imported: tuple[Project, int, str, str]) -> None:
    _, _, _, err = imported
    lines = err.splitlines()
    assert "warning: 1 file under it is not read: *.txt (1)" in " ".join(lines) \
        or any("not read: *.txt (1)" in line for line in lines)
    for field, what in (("last_modified_at", "read as updated"),
                        ("excerpt", "read as summary"), ("categories", "read as tags"),
                        ("image.path", "read as image.url"), ("lastmod", "read as updated"),
                        ("layout", "ignored"), ("published", "read as draft")):
        said = [line for line in lines if f"{field}: {what}" in line]
        assert len(said) == 1, (field, said)  # one line, however many posts
    assert any("another tool's template syntax is published as written" in line
               for line in lines)


def problems_of(project: Project, name: str, text: str) -> list[Problem]:
    from feedpress.feeds import check

    path = project.posts / "alpha" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return [p for p in check(project.config(), NOW) if p.path == path]


@pytest.mark.parametrize(("text", "message"), [
    ("---js\n{title: 'x'}\n---\nBody\n", "front matter opened with '---js'"),
    (";;;\n{}\n;;;\nBody\n", "front matter opened with ';;;'"),
    ("+++\ntitle = 'x'\n", "TOML front matter is not closed by a line '+++'"),
    ("+++\ntitle = \n+++\nBody\n", "TOML:"),
    ("---\ntitle: X\ndate: 2024-01-01\nimage:\n  url: \"javascript:alert(4)\"\n---\nB\n",
     "must be an http(s) URL or a path on the site"),
    ("---\ntitle: X\ndate: 2024-01-01\nimage: \"{{ page.cover }}\"\n---\nB\n",
     "must be an http(s) URL or a path on the site"),
    ("---\ntitle: X\ndate: 2024-01-01\n---\n[before]({% post_url 2010-07-21-name %})\n",
     "template syntax in a URL"),
    ("Title: X\nDate: 2024-01-01\n\n[other]({filename}/other.md)\n",
     "template syntax in a URL"),
    ("---\ntitle: X\ndate: 2024-01-01\ntags: war, peace\n---\nB\n", "write a list: [war, peace]"),
])
def test_what_cannot_be_read_is_an_error_saying_what_was_found(
        project: Project, text: str, message: str) -> None:
    found = [p for p in problems_of(project, "bad.md", text) if p.is_error]
    assert found and any(message in p.message for p in found), found


def test_a_soft_line_break_from_a_word_processor_keeps_words_apart(project: Project) -> None:
    raw = "---\ntitle: Prime Minister\x0bresigns\ndate: 2024-01-01\n---\nBody\n"
    escaped = '---\ntitle: "Prime Minister\\vresigns"\ndate: 2024-01-01\n---\nBody\n'
    for name, text in (("raw.md", raw), ("escaped.md", escaped)):
        found = [p for p in problems_of(project, name, text) if "control" in p.message]
        assert [(p.is_error, p.line) for p in found] == [(False, 2)], found
    project.build(NOW)
    titles = {e.title for e in feedparser.parse((project.out / "atom.xml").read_bytes()).entries}
    assert titles == {"Prime Minister resigns"}


def test_categories_can_be_left_out_of_the_tags(project: Project) -> None:
    project.write_config({**BASE_CONFIG, "import": {"categories_as_tags": False}})
    project.raw("alpha/2024-01-02-x.md", "---\ncategories: [a]\ntags: [b]\n---\nBody\n")
    project.build(NOW)
    entry = feedparser.parse((project.out / "atom.xml").read_bytes()).entries[0]
    assert [t.term for t in entry.tags] == ["b"]


def test_root_relative_links_can_resolve_under_the_sites_own_path(project: Project) -> None:
    """A site in a subfolder, as Jekyll's relative_url serves it: with
    `site.root_relative: site`, "/img/a.png" is under https://example.org/news/."""
    body = "See [the map](/maps/north/) and ![a](/img/a.png).\n"
    front = "---\ntitle: T\ndate: 2024-01-01\nimage:\n  url: /img/cover.jpg\n  alt: c\n---\n"
    for mode, prefix in (("host", "https://example.org/"), ("site", "https://example.org/news/")):
        site = {**BASE_CONFIG["site"], "url": "https://example.org/news/", "root_relative": mode}
        project.write_config({**BASE_CONFIG, "site": site})
        project.raw("alpha/2024-01-01-t.md", front + body)
        project.build(NOW, cache_path=None)
        content = feedparser.parse((project.out / "atom.xml").read_bytes()).entries[0]
        html = content.content[0].value
        assert f'href="{prefix}maps/north/"' in html, mode
        assert f'src="{prefix}img/a.png"' in html, mode
        assert f'src="{prefix}img/cover.jpg"' in html, mode


def test_what_the_trial_brought_from_each_tool_reads_right(project: Project) -> None:
    """Second round, from a trial with posts written as each tool's users write them."""
    posts = {
        "alpha/2024-01-02-linked.markdown": (
            "---\ntitle: Linked\n---\n![m]({{ site.baseurl }}/img/m.png) "
            "[a]({{ '/about/' | relative_url }}) {% raw %}{{ kept }}{% endraw %}\n"),
        "alpha/pelican.md": ("Title: Pelican\nDate: 2024-01-03 10:00\n"
                             "Image: {static}/images/p.png\nDate2: x\n\n"
                             "![p]({static}/images/p.png)\n"),
        "alpha/hugo-images.md": ('---\ntitle: Hugo\ndate: 2024-01-04\n'
                                 'images: ["/img/h.jpg"]\npublishDate: 2024-01-05\n---\nB\n'),
        "alpha/excluded.md": ("---\ntitle: Internal\ndate: 2024-01-04\n"
                              "eleventyExcludeFromCollections: true\n---\nB\n"),
        "alpha/_drafts/undated.md": "---\ntitle: Draft\n---\nB\n",
    }
    for rel, text in posts.items():
        project.raw(rel, text)
    from feedpress.feeds import check

    problems = check(project.config(), NOW)
    assert [p for p in problems if p.is_error] == []
    templates = [p for p in problems if "template syntax" in p.message]
    assert templates == []  # resolved, or inside {% raw %} on purpose
    pelican = next(p for p in problems if p.field == "date2")
    assert pelican.line == 4  # Pelican's header keys are located by their own lines
    project.build(NOW)
    entries = {e.title: e for e in feedparser.parse((project.out / "atom.xml").read_bytes())
               .entries}
    assert set(entries) == {"Linked", "Pelican", "Hugo"}
    linked = entries["Linked"].content[0].value
    assert 'src="https://news.example.org/img/m.png"' in linked
    assert 'href="https://news.example.org/about/"' in linked and "{{ kept }}" in linked
    assert 'src="https://news.example.org/images/p.png"' in entries["Pelican"].content[0].value
    assert 'src="https://news.example.org/img/h.jpg"' in entries["Hugo"].content[0].value
    assert entries["Hugo"].published.startswith("2024-01-05")  # publishDate holds it back


def test_pin_ids_writes_into_toml_and_pelican_headers(project: Project) -> None:
    from feedpress.feeds import check

    toml = project.raw("alpha/toml.md", '+++\ntitle = "T"\ndate = 2024-01-02\n+++\nBody\n')
    pelican = project.raw("alpha/pel.md", "Title: P\nDate: 2024-01-03\n\nBody\n")
    yaml_post = project.raw("alpha/yaml.md", "---\ntitle: Y\ndate: 2024-01-04\n---\nBody\n")
    code, out, err = run_main(["pin-ids", "--config", str(project.config_path),
                               "--now", "2024-03-10T12:00Z"])
    assert code == 0, err
    assert "3 id(s) pinned" in out
    assert 'id = "tag:news.example.org,2024-01-02:alpha/toml"\n+++' in toml.read_text()
    assert "Id: tag:news.example.org,2024-01-03:alpha/pel\n\nBody" in pelican.read_text()
    assert 'id: "tag:news.example.org,2024-01-04:alpha/yaml"\n---' in yaml_post.read_text()
    assert [p for p in check(project.config(), NOW) if "pinned" in p.message] == []


def test_what_the_attackers_trial_found_is_read_safely(project: Project) -> None:
    """Third round: posts built to break the readers of other tools' conventions."""
    deep = "+++\ntitle = 'deep'\ndate = 2024-01-02\nx = " + "[" * 1000 + "]" * 1000 + "\n+++\nB\n"
    posts = {
        "alpha/deep.md": deep,
        "alpha/ctrl.md": '---\ntitle: c\ndate: 2024-01-02\nimage: "https://e.example/a\\x01b.png"'
                         "\n---\nB\n",
        "alpha/held.md": "---\ntitle: Held\ndate: 2024-01-02\npublished: false\ndraft: false\n"
                         "---\nB\n",
        "alpha/code.md": ("---\ntitle: Code\ndate: 2024-01-03\ncategories: jekyll update\n---\n"
                          "Use the `<!--more-->` marker and `{% raw %}`.\n\n"
                          "Inline {% highlight js %}a(){% endhighlight %} stays as written.\n\n"
                          "```liquid\n{% highlight x %}\ncode\n{% endhighlight %}\n```\n\n"
                          'Read [the report][r] first.<a id="fn-00000000-1">spoof</a>\n\n'
                          "<!--more-->\n\nAfter.\n\n[r]: /report/\n"),
        "alpha/pel.md": ("Title: Pel\nDate: 2024-01-04\nSummary: a summary that goes\n"
                         "  on here\n\nB\n"),
    }
    for rel, text in posts.items():
        project.raw(rel, text)
    from feedpress.feeds import check

    problems = check(project.config(), NOW)
    errors = {(p.path.name, p.message[:40]) for p in problems if p.is_error}
    assert errors == {("deep.md", "TOML: nested too deeply"),
                      ("ctrl.md", "contains a control character, which XML ")}
    for name in ("deep.md", "ctrl.md"):
        (project.posts / "alpha" / name).unlink()
    project.build(NOW)
    entries = {e.title: e for e in feedparser.parse((project.out / "atom.xml").read_bytes())
               .entries}
    assert set(entries) == {"Code", "Pel"}  # published: false wins over draft: false
    code = entries["Code"]
    assert code.summary == "Use the <!--more--> marker and {% raw %}. Inline {% highlight js " \
        "%}a(){% endhighlight %} stays as written. {% highlight x %} code {% endhighlight %} " \
        "Read the report first.spoof"
    html = code.content[0].value
    assert 'id="fn-00000000-1"' not in html and "spoof" in html
    assert {t.term for t in code.tags} == {"jekyll", "update"}
    assert "<code>{% raw %}</code>" in html
    assert entries["Pel"].summary == "a summary that goes on here"
