"""Reading `feedpress.yaml`: every mistake is reported at once, by dotted key and line.

The configs here are written as YAML text, not dumped from dicts, so that
each test knows the line every key is on.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import NOW, Project
from feedpress.config import Config, load
from feedpress.errors import ConfigError, Problem
from feedpress.feeds import check
from feedpress.model import ALL_FORMATS, Author

# Line numbers, for reference:
#  1 site:                       9   alpha:
#  2   title: Test Newsroom     10     title: Alpha
#  3   url: https://...         11   beta:
#  4   timezone: Europe/London  12     title: Beta
#  5   author: desk             13     language: ar
#  6 feeds:                     14 authors:
#  7   items: 10                15   desk:
#  8 blogs:                     16     name: News Desk
CONFIG = """\
site:
  title: Test Newsroom
  url: https://news.example.org/
  timezone: Europe/London
  author: desk
feeds:
  items: 10
blogs:
  alpha:
    title: Alpha
  beta:
    title: Beta
    language: ar
authors:
  desk:
    name: News Desk
"""


def edited(*, insert: dict[int, str] | None = None, replace: dict[int, str] | None = None,
           drop: tuple[int, ...] = ()) -> str:
    """CONFIG with lines replaced or dropped (numbered as in CONFIG), then new lines inserted.

    Each inserted line gets the given number in the result: `insert={3: "  colour: red"}`
    makes it line 3, pushing the old line 3 down.
    """
    lines = CONFIG.splitlines()
    for number, text in (replace or {}).items():
        lines[number - 1] = text
    for number in sorted(drop, reverse=True):
        del lines[number - 1]
    for number, text in sorted((insert or {}).items()):
        lines.insert(number - 1, text)
    return "\n".join(lines) + "\n"


def problems_of(project: Project, text: str | bytes) -> list[Problem]:
    """The problems of a config that must be rejected."""
    if isinstance(text, bytes):
        project.config_path.write_bytes(text)
    else:
        project.write_config(text)
    with pytest.raises(ConfigError) as raised:
        load(project.config_path)
    problems = raised.value.problems
    assert problems
    message = str(raised.value)
    for problem in problems:
        assert str(problem) in message
    assert all(p.path == project.config_path for p in problems)
    return problems


def one_problem(project: Project, text: str | bytes) -> Problem:
    problems = problems_of(project, text)
    assert len(problems) == 1, problems
    return problems[0]


def loaded(project: Project, text: str) -> Config:
    project.write_config(text)
    return load(project.config_path)


# --------------------------------------------------------------------- a good config


def test_a_valid_config_loads_with_its_defaults(project: Project) -> None:
    config = loaded(project, CONFIG)
    assert config.path == project.config_path
    site = config.site
    assert (site.title, site.url, site.timezone) == (
        "Test Newsroom", "https://news.example.org/", "Europe/London")
    assert site.language == "en"
    assert site.description == "Test Newsroom"
    assert site.permalink == "{blog_url}{slug}/"
    assert site.authors == (Author("News Desk"),)
    assert [b.id for b in config.blogs] == ["alpha", "beta"]
    alpha, beta = config.blogs
    assert alpha.url == "https://news.example.org/alpha/"
    assert (alpha.language, beta.language) == ("en", "ar")
    assert alpha.description == "Alpha"
    assert alpha.authors == site.authors
    assert config.feeds.items == 10
    assert config.feeds.formats == ALL_FORMATS
    assert (config.feeds.content, config.feeds.blog_tags) == ("full", False)
    assert config.blog("beta") is beta
    assert config.blog("gamma") is None


def test_blogs_keep_their_order(project: Project) -> None:
    text = edited(insert={9: "  zulu:", 10: "    title: Z"})
    assert [b.id for b in loaded(project, text).blogs] == ["zulu", "alpha", "beta"]


def test_authors_are_keys_or_plain_names(project: Project) -> None:
    config = loaded(project, edited(
        replace={5: "  author: [desk, Guest Writer]"},
        insert={11: "    author: Someone Else"},
    ))
    assert config.site.authors == (Author("News Desk"), Author("Guest Writer"))
    alpha, beta = config.blogs
    assert alpha.authors == (Author("Someone Else"),)
    assert beta.authors == config.site.authors


def test_without_any_author_the_site_title_is_the_author(project: Project) -> None:
    config = loaded(project, edited(drop=(5,)))
    assert config.site.authors == (Author("Test Newsroom"),)
    assert config.blogs[0].authors == (Author("Test Newsroom"),)


# -------------------------------------------------------------------- unknown keys


@pytest.mark.parametrize(
    ("text", "key", "line"),
    [
        (CONFIG + "colour: red\n", "colour", 17),
        (edited(insert={3: "  colour: red"}), "site.colour", 3),
        (edited(insert={8: "  colour: red"}), "feeds.colour", 8),
        (edited(insert={11: "    colour: red"}), "blogs.alpha.colour", 11),
        (edited(insert={14: "    colour: red"}), "blogs.beta.colour", 14),
        (CONFIG + "    twitter: '@desk'\n", "authors.desk.twitter", 17),
    ],
    ids=["top", "site", "feeds", "blog", "second-blog", "author"],
)
def test_an_unknown_key_is_an_error_naming_the_dotted_key_and_line(
    project: Project, text: str, key: str, line: int
) -> None:
    problem = one_problem(project, text)
    assert (problem.field, problem.line) == (key, line)
    assert "unknown" in problem.message
    assert str(problem).endswith(f"feedpress.yaml:{line}: {key}: unknown key")


def test_a_misspelt_known_key_is_reported_not_ignored(project: Project) -> None:
    problem = one_problem(project, edited(replace={4: "  time_zone: Europe/London"}))
    assert (problem.field, problem.line) == ("site.time_zone", 4)


@pytest.mark.parametrize("blog_id", ["Alpha", "my blog", "-alpha"])
def test_a_blog_id_must_be_lowercase_letters_digits_dash_underscore(
    project: Project, blog_id: str
) -> None:
    problem = one_problem(project, edited(replace={9: f"  {blog_id}:"}))
    assert (problem.field, problem.line) == (f"blogs.{blog_id}", 9)


@pytest.mark.parametrize(("blog_id", "what"), [("breaking", "breaking-news"),
                                                ("tags", "topic")])
def test_a_blog_id_may_not_be_a_folder_of_the_sites_own(project: Project, blog_id: str,
                                                        what: str) -> None:
    problem = one_problem(project, edited(replace={9: f"  {blog_id}:"}))
    assert (problem.field, problem.line) == (f"blogs.{blog_id}", 9)
    assert problem.message == f"is the folder of the site's {what} feeds; give the blog " \
                              "another id"


# ---------------------------------------------------------------------- wrong types


@pytest.mark.parametrize(
    ("line", "key", "words"),
    [
        ("  items: ten", "feeds.items", ["whole number", "'ten'"]),
        ("  items: 2.5", "feeds.items", ["whole number"]),
        ("  items: 0", "feeds.items", ["at least 1"]),
        ("  items: true", "feeds.items", ["whole number", "boolean"]),
        ("  blog_tags: 'yes'", "feeds.blog_tags", ["true or false", "'yes'"]),
        ("  blog_tags: 1", "feeds.blog_tags", ["true or false"]),
        ("  formats: [rss, pdf]", "feeds.formats", ["'pdf'", "rss, atom, json"]),
        ("  formats: []", "feeds.formats", ["at least one"]),
        ("  formats: {rss: true}", "feeds.formats", ["list"]),
        ("  content: html", "feeds.content", ["full", "summary", "'html'"]),
    ],
)
def test_a_feeds_value_of_the_wrong_type_is_an_error(
    project: Project, line: str, key: str, words: list[str]
) -> None:
    problem = one_problem(project, edited(replace={7: line}))
    assert (problem.field, problem.line) == (key, 7)
    for word in words:
        assert word in problem.message


def test_formats_are_read_in_order_without_duplicates(project: Project) -> None:
    config = loaded(project, edited(replace={7: "  formats: [json, rss, json]"}))
    assert config.feeds.formats == ("json", "rss")


def test_a_single_format_may_be_a_string(project: Project) -> None:
    assert loaded(project, edited(replace={7: "  formats: atom"})).feeds.formats == ("atom",)


@pytest.mark.parametrize(
    ("number", "line", "key", "word"),
    [
        (2, "  title: [a, b]", "site.title", "string"),
        (2, "  title: ''", "site.title", "empty"),
        (3, "  url: news.example.org", "site.url", "http"),
        (3, "  url: ftp://news.example.org/", "site.url", "http"),
        (4, "  feeds_url: /feeds/", "site.feeds_url", "http"),
        (10, "    title: 12", "blogs.alpha.title", "string"),
        (10, "    url: https://alpha.example.com/", "blogs.alpha.title", "required"),
        (16, "    email: desk@news.example.org", "authors.desk.name", "required"),
    ],
)
def test_a_site_blog_or_author_value_of_the_wrong_type_is_an_error(
    project: Project, number: int, line: str, key: str, word: str
) -> None:
    problem = one_problem(project, edited(replace={number: line}))
    assert problem.field == key
    assert problem.line is not None
    assert word in problem.message


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (CONFIG.replace("blogs:\n  alpha:\n    title: Alpha\n  beta:\n    title: Beta\n"
                        "    language: ar\n", "blogs: [alpha, beta]\n"), "blogs"),
        (CONFIG.replace("  desk:\n    name: News Desk\n", "  desk: News Desk\n"), "authors.desk"),
        (CONFIG.replace("feeds:\n  items: 10\n", "feeds: 10\n"), "feeds"),
    ],
    ids=["blogs", "author", "feeds"],
)
def test_a_section_that_is_not_a_mapping_is_an_error(
    project: Project, text: str, key: str
) -> None:
    problems = problems_of(project, text)
    assert key in {p.field for p in problems}
    assert any("mapping" in p.message for p in problems if p.field == key)


# ---------------------------------------------------------------- required settings


@pytest.mark.parametrize(("drop", "key"), [(2, "site.title"), (3, "site.url")])
def test_a_missing_site_title_or_url_is_an_error(project: Project, drop: int, key: str) -> None:
    problem = one_problem(project, edited(drop=(drop,)))
    assert problem.field == key
    assert "required" in problem.message
    assert problem.line == 1  # the `site:` line: the key itself has none


def test_missing_site_title_and_url_are_both_reported(project: Project) -> None:
    problems = problems_of(project, edited(drop=(2, 3)))
    assert {p.field for p in problems} == {"site.title", "site.url"}


def test_a_missing_site_section_is_an_error(project: Project) -> None:
    problems = problems_of(project, edited(drop=(1, 2, 3, 4, 5)))
    assert "site" in {p.field for p in problems}


def test_a_missing_blogs_section_is_an_error(project: Project) -> None:
    problem = one_problem(project, edited(drop=(8, 9, 10, 11, 12, 13)))
    assert problem.field == "blogs"
    assert "required" in problem.message


def test_an_empty_blogs_section_is_an_error(project: Project) -> None:
    # The README: "blogs: required: at least one". `blogs: {}` lists none.
    problem = one_problem(project, edited(replace={8: "blogs: {}"}, drop=(9, 10, 11, 12, 13)))
    assert problem.field == "blogs"
    assert problem.line == 8


# ------------------------------------------------------------ timezone and language


@pytest.mark.parametrize("zone", ["Mars/Olympus", "europe/london", "GMT+25", "../etc/passwd"])
def test_an_unknown_timezone_is_an_error(project: Project, zone: str) -> None:
    problem = one_problem(project, edited(replace={4: f"  timezone: '{zone}'"}))
    assert (problem.field, problem.line) == ("site.timezone", 4)
    assert repr(zone) in problem.message


@pytest.mark.parametrize("zone", ["Asia/Tokyo", "America/Argentina/Buenos_Aires", "UTC"])
def test_a_known_timezone_is_kept(project: Project, zone: str) -> None:
    assert loaded(project, edited(replace={4: f"  timezone: {zone}"})).site.timezone == zone


def test_the_timezone_defaults_to_utc(project: Project) -> None:
    assert loaded(project, edited(drop=(4,))).site.timezone == "UTC"


@pytest.mark.parametrize("tag", ["en_GB", "english!", "e", "en-", "12"])
def test_a_bad_site_language_tag_is_an_error(project: Project, tag: str) -> None:
    problem = one_problem(project, edited(insert={5: f"  language: '{tag}'"}))
    assert (problem.field, problem.line) == ("site.language", 5)
    assert repr(tag) in problem.message


def test_a_bad_blog_language_tag_is_an_error(project: Project) -> None:
    problem = one_problem(project, edited(replace={13: "    language: Arabic!"}))
    assert (problem.field, problem.line) == ("blogs.beta.language", 13)


@pytest.mark.parametrize("tag", ["ar", "pt-BR", "zh-Hant-TW", "fil"])
def test_good_language_tags_are_kept(project: Project, tag: str) -> None:
    config = loaded(project, edited(insert={5: f"  language: {tag}"}))
    assert config.site.language == tag
    assert config.blogs[0].language == tag  # alpha has none of its own
    assert config.blogs[1].language == "ar"


# ----------------------------------------------------------------------- permalink


def test_a_permalink_with_an_unknown_placeholder_is_an_error(project: Project) -> None:
    problem = one_problem(
        project, edited(insert={5: "  permalink: '{site_url}{category}/{slug}/'"})
    )
    assert (problem.field, problem.line) == ("site.permalink", 5)
    assert "{category}" in problem.message
    assert "{slug}" in problem.message  # the placeholders that do exist are listed


@pytest.mark.parametrize("pattern", ["{site_url}{slug", "{site_url}}{slug}/", "{}{slug}"])
def test_a_malformed_permalink_is_an_error(project: Project, pattern: str) -> None:
    problem = one_problem(project, edited(insert={5: f"  permalink: '{pattern}'"}))
    assert (problem.field, problem.line) == ("site.permalink", 5)


@pytest.mark.parametrize(
    "pattern",
    ["{site_url}{year:d}/{slug}/", "{site_url}{slug!r}/", "{site_url}{slug.upper}/"],
)
def test_a_permalink_with_format_specs_or_conversions_is_an_error(
    project: Project, pattern: str
) -> None:
    # Each passes the placeholder-name check today. The first then crashes every
    # build with "ValueError: Unknown format code 'd'" (a traceback); the second
    # quietly makes links like https://news.example.org/'post-slug'/.
    problem = one_problem(project, edited(insert={5: f"  permalink: '{pattern}'"}))
    assert (problem.field, problem.line) == ("site.permalink", 5)


def test_a_valid_permalink_is_kept(project: Project) -> None:
    pattern = "{site_url}{year}/{month}/{day}/{blog}-{slug}.html"
    config = loaded(project, edited(insert={5: f"  permalink: '{pattern}'"}))
    assert config.site.permalink == pattern


# --------------------------------------------------------------------------- urls


def test_feeds_url_defaults_to_site_url(project: Project) -> None:
    config = loaded(project, CONFIG)
    assert config.site.feeds_url == config.site.url == "https://news.example.org/"


def test_urls_are_folders_with_a_trailing_slash(project: Project) -> None:
    config = loaded(project, edited(
        replace={3: "  url: https://news.example.org/blogs"},
        insert={4: "  feeds_url: https://cdn.example.net/feeds", 12: "    url: https://a.org/x"},
    ))
    assert config.site.url == "https://news.example.org/blogs/"
    assert config.site.feeds_url == "https://cdn.example.net/feeds/"
    alpha, beta = config.blogs
    assert alpha.url == "https://a.org/x/"
    assert beta.url == "https://news.example.org/blogs/beta/"


# -------------------------------------------------------------------------- paths


def test_paths_default_to_posts_and_public_beside_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "feedpress.yaml").write_text(CONFIG, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load(Path("..", "project", "feedpress.yaml"))
    assert config.path.is_absolute()
    assert config.posts_dir.resolve() == folder / "posts"
    assert config.output_dir.resolve() == folder / "public"


def test_posts_dir_and_output_dir_are_relative_to_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    text = CONFIG + "posts_dir: content/articles\noutput_dir: site/out\n"
    (folder / "feedpress.yaml").write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    config = load(Path("project", "feedpress.yaml"))
    assert config.posts_dir.is_absolute() and config.output_dir.is_absolute()
    assert config.posts_dir.resolve() == folder / "content" / "articles"
    assert config.output_dir.resolve() == folder / "site" / "out"


def test_an_absolute_posts_dir_is_kept(project: Project, tmp_path: Path) -> None:
    shared = tmp_path / "shared-posts"
    config = loaded(project, CONFIG + f"posts_dir: '{shared}'\n")
    assert config.posts_dir == shared


def test_posts_are_found_relative_to_the_config_not_the_current_folder(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write_config(CONFIG + "posts_dir: articles\n")
    post = project.root / "articles" / "alpha" / "hello.md"
    post.parent.mkdir(parents=True)
    post.write_text("---\ntitle: Hello\ndate: 2026-11-01\n---\nBody.\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    problems = check(load(project.config_path), NOW)
    assert [p for p in problems if p.is_error] == []
    assert [p.path for p in problems] == [post]  # its unpinned-id warning


@pytest.mark.parametrize("key", ["posts_dir", "output_dir"])
def test_a_path_that_is_not_text_is_an_error(project: Project, key: str) -> None:
    problem = one_problem(project, CONFIG + f"{key}: [a, b]\n")
    assert (problem.field, problem.line) == (key, 17)


# ---------------------------------------------------------------- unreadable configs


def test_invalid_yaml_in_the_config_is_an_error_with_its_line(project: Project) -> None:
    problem = one_problem(project, edited(replace={4: "  timezone: Europe/London: x"}))
    assert problem.line == 4
    assert "invalid YAML" in problem.message
    assert "Traceback" not in problem.message


def test_a_tab_indented_config_is_an_error_with_its_line(project: Project) -> None:
    problem = one_problem(project, edited(replace={10: "\ttitle: Alpha"}))
    assert problem.line == 10
    assert "YAML" in problem.message


@pytest.mark.parametrize("text", ["- site\n- blogs\n", "just words\n", ""])
def test_a_config_that_is_not_a_mapping_is_an_error(project: Project, text: str) -> None:
    assert "mapping" in one_problem(project, text).message


def test_a_config_that_is_not_utf8_is_an_error(project: Project) -> None:
    data = CONFIG.replace("Test Newsroom", "Caf\xe9").encode("latin-1")
    assert "UTF-8" in one_problem(project, data).message


def test_a_missing_config_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load(tmp_path / "feedpress.yaml")
    [problem] = raised.value.problems
    assert problem.path == tmp_path / "feedpress.yaml"
    assert "cannot read" in problem.message


def test_crlf_and_a_bom_are_accepted_and_lines_still_count(project: Project) -> None:
    text = "\ufeff" + CONFIG.replace("\n", "\r\n")
    assert loaded(project, text).site.title == "Test Newsroom"
    bad = "\ufeff" + edited(insert={3: "  colour: red"}).replace("\n", "\r\n")
    problem = one_problem(project, bad)
    assert (problem.field, problem.line) == ("site.colour", 3)


# ------------------------------------------------------------------ all at once


def test_every_problem_in_the_config_is_reported_together(project: Project) -> None:
    text = edited(
        replace={4: "  timezone: Mars/Olympus", 7: "  items: ten", 13: "    language: Arabic!"},
        insert={3: "  colour: red", 11: "    colour: blue", 19: "    twitter: '@desk'"},
    ) + "posts_dir: [a]\n"
    problems = problems_of(project, text)
    found = {(p.field, p.line) for p in problems}
    assert found == {
        ("site.colour", 3),
        ("site.timezone", 5),
        ("feeds.items", 8),
        ("blogs.alpha.colour", 11),
        ("blogs.beta.language", 15),
        ("authors.desk.twitter", 19),
        ("posts_dir", 20),
    }
    assert len(problems) == len(found)


def test_config_error_text_lists_each_problem_on_its_own_line(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.root)
    project.write_config(edited(replace={7: "  items: ten"}, insert={3: "  colour: red"}))
    with pytest.raises(ConfigError) as raised:
        load(project.config_path)
    lines = str(raised.value).splitlines()
    assert sorted(lines) == sorted([
        "error: feedpress.yaml:3: site.colour: unknown key",
        "error: feedpress.yaml:8: feeds.items: must be a whole number, not the string 'ten'",
    ])


def test_a_control_character_in_config_text_is_an_error_at_its_line(project: Project) -> None:
    """A title or name with one wrote a feed no reader parses, over the good one, and then
    crashed in feedgen; `check` passed (attacker's trial)."""
    text = edited(replace={2: '  title: "Test\\x01Newsroom"',
                           16: '    name: "News\\vDesk"'})
    problems = problems_of(project, text)
    assert [(p.line, p.field) for p in problems] == [(2, "site.title"),
                                                     (16, "authors.desk.name")]
    assert all("control character" in p.message for p in problems)


def test_the_build_keeps_the_last_feeds_when_the_config_gains_a_control_character(
        project: Project) -> None:
    project.post("alpha", "one")
    project.build()
    feed = (project.out / "alpha" / "rss.xml").read_bytes()
    project.write_config(edited(replace={10: '    title: "Al\\x0bpha"'}))
    with pytest.raises(ConfigError):
        load(project.config_path)
    assert (project.out / "alpha" / "rss.xml").read_bytes() == feed


@pytest.mark.parametrize("value", ["!!bool maybe", "!!int abc", "!!timestamp garbage",
                                   "!!float x", "9" * 5000, "0x" + "f" * 4000])
def test_a_value_yaml_cannot_make_is_an_error_at_its_line(project: Project, value: str) -> None:
    """Each crashed every command with a traceback (attacker's trial)."""
    problem = one_problem(project, edited(insert={7: f"  colour: {value}"}))
    assert problem.line == 7
    assert "invalid YAML" in problem.message


def test_a_key_yaml_reads_as_a_number_or_boolean_is_an_error(project: Project) -> None:
    """A blog `2026:` or `on:` crashed every command (mixed keys could not be sorted), or,
    alone, vanished without a word (second attacker round)."""
    problems = problems_of(project, edited(insert={13: "  2026:", 14: "    title: Year",
                                                   15: "  on:", 16: "    title: On"}))
    assert all(p.line == 8 and p.field == "blogs" for p in problems), problems
    assert sorted("int 2026" in p.message or "boolean true" in p.message
                  for p in problems) == [True, True]


@pytest.mark.parametrize(("line", "field"), [
    ("  email: {transport: smtp, smtp: {port: 70000}}", "email.smtp.port"),
    ("  email: {transport: smtp, smtp: {connections: 1000000}}", "email.smtp.connections"),
    ("  email: {transport: smtp, smtp: {timeout: .nan}}", "email.smtp.timeout"),
    ("  email: {transport: smtp, smtp: {timeout: .inf}}", "email.smtp.timeout"),
    ("  email: {transport: smtp, smtp: {rate: 1.0e-7}}", "email.smtp.rate"),
    ("  email: {transport: smtp, smtp: {retries: 1100}}", "email.smtp.retries"),
    ("  email: {transport: smtp, smtp: {retry_backoff: 1.0e+9}}", "email.smtp.retry_backoff"),
])
def test_a_setting_past_its_range_is_an_error(project: Project, line: str, field: str) -> None:
    """Each passed `check` and then crashed or hung the send (second attacker round)."""
    problem = one_problem(project, CONFIG + line.strip() + "\n")
    assert problem.field == field
    assert "must be" in problem.message


@pytest.mark.parametrize("url", ["https://news example.org/", 'https://news.example.org/a"b/',
                                 "https://пример.рф/", "https://news.example.org\\\\x/"])
def test_a_site_url_that_is_no_uri_is_an_error(project: Project, url: str) -> None:
    """Every link, id and feed URL starts with it: a space or a quote in it made each one
    invalid (attacker's trial)."""
    problem = one_problem(project, edited(replace={3: f"  url: '{url}'"}))
    assert (problem.line, problem.field) == (3, "site.url")
    assert "must be a URI" in problem.message


def test_a_control_character_is_reported_with_the_configs_other_problems(
        project: Project) -> None:
    """Every bad input in one run: the control character stopped the reading before the
    rest of the config was checked."""
    problems = problems_of(project, edited(replace={2: '  title: "Test\\x01Newsroom"'},
                                           insert={7: "  colour: red"}))
    assert sorted((p.line, p.field) for p in problems) == [(2, "site.title"),
                                                          (7, "feeds.colour")]
