"""Reading and validating posts: every bad input is a located Problem, never a traceback.

Each test writes a real project into a temporary folder (the `project`
fixture) and looks at the problems `check`/`load` return, and, for inputs
that are errors, at what `build` does with them: raise `InvalidPostsError`
listing every problem, and write nothing.
"""

from __future__ import annotations

import copy
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import feedparser
import pytest

from conftest import BASE_CONFIG, NOW, Project
from feedpress.errors import InvalidPostsError, Problem, Severity
from feedpress.feeds import build, check, default_cache, load
from feedpress.feeds.markup import render
from feedpress.feeds.posts import _web_url, read_body
from feedpress.model import Author, Post

# --------------------------------------------------------------------------- helpers


def loaded(project: Project) -> tuple[list[Post], list[Problem]]:
    """The valid posts and every problem, as `builder.load` returns them."""
    _, valid, problems = load(project.config(), NOW)
    return valid, problems


def errors(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if p.is_error]


def warnings(problems: list[Problem]) -> list[Problem]:
    return [p for p in problems if not p.is_error]


def about(problems: list[Problem], path: Path) -> list[Problem]:
    return [p for p in problems if p.path == path]


def the_post(project: Project) -> Post:
    """The project's only post, which must be valid."""
    valid, problems = loaded(project)
    assert errors(problems) == []
    assert len(valid) == 1
    return valid[0]


def rejected(project: Project) -> list[Problem]:
    """The errors `check` reports, after making sure `build` refuses them all.

    `build` must raise `InvalidPostsError` listing the very same errors (every
    one of them, in its message too) and leave the output folder unwritten.
    """
    config = project.config()
    found = errors(check(config, NOW))
    assert found, "check() reported no error"
    with pytest.raises(InvalidPostsError) as raised:
        build(config, NOW)
    assert sorted(errors(raised.value.problems)) == sorted(found)
    message = str(raised.value)
    for problem in found:
        assert str(problem) in message
    assert f"{len(found)} error(s)" in message
    assert not project.out.exists(), "a failed build wrote into the output folder"
    return found


def one_error(project: Project, path: Path) -> Problem:
    """The single error reported, which must be about `path`."""
    found = rejected(project)
    assert len(found) == 1, found
    assert found[0].path == path
    return found[0]


def with_config(project: Project, **site: Any) -> None:
    """Rewrite the config with `site` settings changed."""
    data = copy.deepcopy(BASE_CONFIG)
    data["site"].update(site)
    project.write_config(data)


VALID = "---\ntitle: Fine\ndate: 2026-11-01\n---\nBody.\n"


# ------------------------------------------------------------- invalid front matter


@pytest.mark.parametrize(
    "variant",
    [
        pytest.param(lambda t: t, id="lf"),
        pytest.param(lambda t: t.replace("\n", "\r\n"), id="crlf"),
        pytest.param(lambda t: "\ufeff" + t, id="bom"),
    ],
)
def test_invalid_yaml_is_located_by_its_line_in_the_file(project: Project, variant: Any) -> None:
    text = "---\ntitle: Fine\ndate: 2026-11-01\nsummary: a: b\n---\nBody.\n"
    path = project.raw("alpha/broken.md", variant(text))
    problem = one_error(project, path)
    # Line 3 of the YAML, line 4 of the file: the opening --- is line 1.
    assert problem.line == 4
    assert "invalid YAML" in problem.message
    assert "Traceback" not in problem.message


def test_a_key_given_twice_is_a_warning_at_its_second_line(project: Project) -> None:
    """YAML keeps the last; the first title was lost without a word (new user's trial)."""
    path = project.raw("alpha/repeated.md", "---\ntitle: First\ndate: 2026-11-01\ntitle: Second\n"
                       "image:\n  url: /a.jpg\n  alt: A\n  url: /b.jpg\n---\nBody.\n")
    found = [p for p in check(project.config(), NOW) if p.path == path and "twice" in p.message]
    assert [(p.line, p.field, p.severity) for p in found] == [
        (4, "title", Severity.WARNING), (8, "image.url", Severity.WARNING)]
    assert "lines 2 and 4" in found[0].message
    [post] = [p for p in load(project.config(), NOW).valid if p.path == path]
    assert post.title == "Second" and post.image is not None
    assert post.image.url.endswith("/b.jpg")


def test_a_bad_value_of_a_key_given_twice_is_an_error_at_the_one_kept(project: Project) -> None:
    """The error named the first line, whose value YAML had thrown away (third check)."""
    path = project.raw("alpha/kept.md", "---\ntitle: T\ndate: 2026-11-01\nsummary: ok\n"
                       "author: a\nsummary: 3\n---\nBody.\n")
    [error] = [p for p in check(project.config(), NOW) if p.path == path and p.is_error]
    assert (error.line, error.field) == (6, "summary")


def test_keys_given_once_say_nothing_however_the_yaml_is_read(project: Project) -> None:
    project.raw("alpha/plain.md", VALID)  # the quick reader's
    project.raw("alpha/pyyaml.md", "---\n# a comment sends it to PyYAML\ntitle: T\n"
                "date: 2026-11-01\ntags: {a: 1}\n---\nBody.\n")
    assert not [p for p in check(project.config(), NOW) if "twice" in p.message]


@pytest.mark.parametrize(
    "front",
    ["- a list\n- of items\n", "just a sentence\n", "42\n"],
    ids=["list", "string", "number"],
)
def test_front_matter_that_is_not_a_mapping_is_an_error(project: Project, front: str) -> None:
    path = project.raw("alpha/odd.md", f"---\n{front}---\nBody.\n")
    problem = one_error(project, path)
    assert "mapping" in problem.message
    assert problem.line in (1, 2)


def test_empty_front_matter_is_not_a_mapping(project: Project) -> None:
    path = project.raw("alpha/blank.md", "---\n---\nBody.\n")
    assert "mapping" in one_error(project, path).message


@pytest.mark.parametrize("missing", ["title", "date"])
def test_missing_title_or_date_is_an_error_naming_the_field(
    project: Project, missing: str
) -> None:
    lines = {"title": "title: A post\n", "date": "date: 2026-11-01\n"}
    del lines[missing]
    path = project.raw("alpha/post.md", "---\n" + "".join(lines.values()) + "---\nBody.\n")
    problem = one_error(project, path)
    assert problem.field == missing
    assert "required" in problem.message
    assert problem.line is not None


def test_missing_title_and_date_are_both_reported(project: Project) -> None:
    path = project.raw("alpha/post.md", "---\nsummary: Nothing else.\n---\nBody.\n")
    found = rejected(project)
    assert {p.field for p in about(found, path)} == {"title", "date"}


def test_empty_title_is_an_error(project: Project) -> None:
    path = project.raw("alpha/post.md", "---\ntitle: '  '\ndate: 2026-11-01\n---\nBody.\n")
    problem = one_error(project, path)
    assert (problem.field, problem.line) == ("title", 2)


@pytest.mark.parametrize("value", ["2026-02-30", "2026-02-30T10:00:00Z", "2026-13-01", "soon"])
def test_an_impossible_date_is_an_error_on_its_line(project: Project, value: str) -> None:
    path = project.raw("alpha/post.md", f"---\ntitle: A post\ndate: '{value}'\n---\nBody.\n")
    problem = one_error(project, path)
    assert problem.field == "date"
    assert problem.line == 3
    assert value in problem.message


def test_an_impossible_unquoted_date_is_an_error_not_a_yaml_crash(project: Project) -> None:
    path = project.raw("alpha/post.md", "---\ntitle: A post\ndate: 2026-02-30\n---\nBody.\n")
    problem = one_error(project, path)
    assert (problem.field, problem.line) == ("date", 3)
    assert "2026-02-30" in problem.message


def test_unknown_blog_in_front_matter_is_an_error_naming_it(project: Project) -> None:
    path = project.raw(
        "alpha/post.md", "---\ntitle: A post\ndate: 2026-11-01\nblog: gamma\n---\nBody.\n"
    )
    problem = one_error(project, path)
    assert (problem.field, problem.line) == ("blog", 4)
    assert "gamma" in problem.message
    assert "alpha" in problem.message and "beta" in problem.message


def test_unknown_blog_folder_is_an_error(project: Project) -> None:
    path = project.raw("gamma/post.md", VALID)
    problem = one_error(project, path)
    assert problem.field == "blog"
    assert "gamma" in problem.message


def test_post_outside_any_blog_folder_needs_a_blog(project: Project) -> None:
    path = project.raw("post.md", VALID)
    problem = one_error(project, path)
    assert problem.field == "blog"


def test_post_outside_a_blog_folder_with_a_blog_field_is_valid(project: Project) -> None:
    project.raw("post.md", "---\ntitle: Fine\ndate: 2026-11-01\nblog: beta\n---\nBody.\n")
    assert the_post(project).blog == "beta"


@pytest.mark.parametrize("tags", ["tags: news, sport\n", "tags: {a: b}\n", "tags: 7\n"])
def test_tags_that_are_not_a_list_are_an_error(project: Project, tags: str) -> None:
    path = project.raw("alpha/post.md", f"---\ntitle: A post\ndate: 2026-11-01\n{tags}---\nB\n")
    problem = one_error(project, path)
    assert (problem.field, problem.line) == ("tags", 4)
    assert "list" in problem.message


def test_a_tag_that_slugifies_to_nothing_is_an_error_naming_it(project: Project) -> None:
    path = project.post("alpha", "post", tags=["Fine tag", "!!!"])
    problem = one_error(project, path)
    assert problem.field == "tags"
    assert "'!!!'" in problem.message
    assert problem.line is not None


@pytest.mark.parametrize("value", [True, False, None])
def test_a_tag_that_is_not_text_is_an_error(project: Project, value: object) -> None:
    # `tags: [yes, no]` are YAML booleans: neither may become a tag "True" or "False".
    path = project.post("alpha", "post", tags=["fine", value])
    problem = one_error(project, path)
    assert problem.field == "tags"


def test_non_text_values_are_errors_naming_their_field(project: Project) -> None:
    path = project.raw(
        "alpha/post.md",
        "---\ntitle: [a, b]\ndate: 2026-11-01\nbreaking: maybe\ndraft: 1\n---\nBody.\n",
    )
    found = about(rejected(project), path)
    assert {(p.field, p.line) for p in found} == {("title", 2), ("breaking", 4), ("draft", 5)}


# ------------------------------------------------------------- clashes between posts


def test_two_posts_with_one_slug_in_a_blog_are_an_error(project: Project) -> None:
    first = project.post("alpha", "2026-10-01-hello", date="2026-10-01")
    second = project.post("alpha", "hello", date="2026-11-01")
    found = rejected(project)
    slug = [p for p in found if p.field == "slug"]
    assert len(slug) == 1
    assert slug[0].path in (first, second)
    other = second if slug[0].path == first else first
    assert str(other) in slug[0].message
    assert "hello" in slug[0].message


def test_one_slug_in_two_blogs_is_fine(project: Project) -> None:
    project.post("alpha", "hello")
    project.post("beta", "hello")
    valid, problems = loaded(project)
    assert errors(problems) == []
    assert sorted(p.blog for p in valid) == ["alpha", "beta"]


def test_two_posts_with_one_id_are_an_error(project: Project) -> None:
    pinned = "tag:news.example.org,2026-01-01:alpha/same"
    first = project.post("alpha", "one", id=pinned)
    second = project.post("beta", "two", id=pinned)
    found = rejected(project)
    assert len(found) == 1
    assert found[0].field == "id"
    assert found[0].path in (first, second)
    assert pinned in found[0].message
    other = second if found[0].path == first else first
    assert str(other) in found[0].message


def test_a_draft_still_clashes(project: Project) -> None:
    pinned = "tag:news.example.org,2026-01-01:alpha/same"
    project.post("alpha", "one", id=pinned)
    project.post("alpha", "two", id=pinned, draft=True)
    assert [p.field for p in rejected(project)] == ["id"]


# ---------------------------------------------------------------- bytes and sizes


@pytest.mark.parametrize(
    ("data", "line"),
    [
        (b"---\ntitle: Caf\xe9\ndate: 2026-11-01\n---\nBody.\n", 2),
        (b"---\ntitle: Fine\ndate: 2026-11-01\n---\nBody.\nMore \xff\xfe\n", 6),
        (b"---\r\ntitle: Fine\r\ndate: 2026-11-01\r\n---\r\nBad \xc3(\r\n", 5),
    ],
    ids=["front-matter", "body", "crlf"],
)
def test_non_utf8_bytes_are_an_error_on_their_line(
    project: Project, data: bytes, line: int
) -> None:
    path = project.raw("alpha/latin1.md", data)
    problem = one_error(project, path)
    assert problem.line == line
    assert "UTF-8" in problem.message


@pytest.mark.parametrize("content", ["", "\n\n  \n", "\ufeff"], ids=["empty", "blank", "bom"])
def test_an_empty_file_is_an_error(project: Project, content: str) -> None:
    path = project.raw("alpha/empty.md", content)
    problem = one_error(project, path)
    assert "empty" in problem.message


def test_a_file_without_front_matter_is_an_error(project: Project) -> None:
    path = project.raw("alpha/plain.md", "# Just Markdown\n\nNo header.\n")
    assert "front matter" in one_error(project, path).message


def test_unclosed_front_matter_is_an_error(project: Project) -> None:
    path = project.raw("alpha/open.md", "---\ntitle: Open\ndate: 2026-11-01\nBody.\n")
    assert "not closed" in one_error(project, path).message


@pytest.mark.parametrize("ending", ["---", "---\n", "---\n\n"])
def test_a_file_with_only_front_matter_is_a_post_with_an_empty_body(
    project: Project, ending: str
) -> None:
    project.raw("alpha/only.md", f"---\ntitle: Only a header\ndate: 2026-11-01\n{ending}")
    post = the_post(project)
    assert post.title == "Only a header"
    assert read_body(post).strip() == ""
    project.build()
    assert (project.out / "alpha" / "rss.xml").is_file()


def test_control_characters_in_the_body_are_removed_with_a_warning(project: Project) -> None:
    path = project.post("alpha", "bell", body="First line.\nA \x07bell and a \x00nul.\n")
    valid, problems = loaded(project)
    assert errors(problems) == []
    assert [p.field for p in warnings(problems)] == ["body"]
    assert warnings(problems)[0].path == path
    assert "control" in warnings(problems)[0].message
    assert warnings(problems)[0].line == path.read_text().splitlines().index(
        "A \x07bell and a \x00nul.") + 1
    assert render(valid[0], read_body(valid[0])).html == "<p>First line.\nA bell and a nul.</p>\n"
    report = project.build()
    assert any(w.field == "body" for w in report.warnings)
    feed = (project.out / "alpha" / "rss.xml").read_bytes()
    assert b"A bell and a nul." in feed and b"\x07" not in feed and b"\x00" not in feed


def test_control_characters_in_front_matter_are_located_by_line(project: Project) -> None:
    # A raw control character makes the YAML reader fail. Whether that is an
    # error or the character is removed with a warning, the report must say on
    # which line, in words meant for the user (not PyYAML's "<unicode string>").
    path = project.raw("alpha/ctl.md", "---\ndate: 2026-11-01\ntitle: A \x01 title\n---\nBody.\n")
    _, problems = loaded(project)
    mine = about(problems, path)
    assert mine
    assert [p.line for p in mine] == [3] * len(mine)
    assert all("<unicode string>" not in p.message for p in mine)


@pytest.mark.parametrize(("header", "line"), [
    ("extra: !!bool maybe\n", 4), ("extra: !!int 0x\n", 4), ("when: !!timestamp 2026-02-30\n", 4),
    ("weight: !!int\n", 4), ("weight: !!float ''\n", 4),
    ("title: 0x" + "f" * 4000 + "\n", 4), ("tags: [" + "9" * 5000 + "]\n", 4),
])
def test_a_yaml_value_that_cannot_be_made_skips_only_its_post(
        project: Project, header: str, line: int) -> None:
    """Each crashed build, check, pin-ids and the digest with a traceback, even with
    --keep-going (attacker's trial)."""
    bad = project.raw("alpha/bad.md", f"---\ntitle: T\ndate: 2026-11-01\n{header}---\nB.\n")
    project.post("alpha", "good")
    _, problems = loaded(project)
    assert [(p.path, p.line) for p in errors(problems)] == [(bad, line)]
    assert "invalid YAML" in errors(problems)[0].message
    report = project.build(keep_going=True)
    assert report.posts == 1 and report.skipped == 1


@pytest.mark.parametrize("number", ["9" * 5000, "0x" + "f" * 400])
def test_a_toml_number_too_long_for_any_field_skips_its_post(project: Project, number: str) -> None:
    bad = project.raw("alpha/bad.md", f'+++\ntitle = "T"\ndate = 2026-11-01\nn = {number}\n'
                      "+++\nB.\n")
    _, problems = loaded(project)
    assert [p.path for p in errors(problems)] == [bad]
    assert "a number of more than 100 digits" in errors(problems)[0].message


def test_a_raw_control_character_in_an_identifier_is_an_error(project: Project) -> None:
    """It was removed with a warning, and the id or slug published changed silently; the
    escaped form was already an error (attacker's trial)."""
    path = project.raw("alpha/c.md", "---\ntitle: T\ndate: 2026-11-01\n"
                       "id: tag:x.org,2026:a\x01b\nslug: a\x02b\n---\nB.\n")
    _, problems = loaded(project)
    assert [(p.path, p.line, p.field) for p in errors(problems)] == [(path, 4, "id"),
                                                                      (path, 5, "slug")]


@pytest.mark.parametrize("front", [
    '+++\ntitle = "T"\ndate = 2026-11-01\nid = "tag:x.org,2026:z\x01z"\n+++\n',
    "---\ntitle: T\ndate: 2026-11-01\nimage: /img/a\x01b.jpg\n---\n",
    "---\ntitle: T\ndate: 2026-11-01\nlastmod: 2026-11-\x0102\n---\n",
    '---\n{title: T, date: 2026-11-01, id: "tag:x.org,2026:z\x01z"}\n---\n',
    "---\ntitle: T\ndate: 2026-11-01\nbase: &u /a\x01b/\nurl: *u\n---\n",
    '---\n{title: T, date: 2026-11-01, id: "tag:x.org,2026:ab\\\nc\x01d"}\n---\n',
    '---\ntitle: T\ndate: 2026-11-01\nimage: {url: "https://x.org/a\\\nb\x01c.png", alt: hi}'
    "\n---\n",
])
def test_a_raw_control_character_that_may_be_in_an_identifier_is_an_error(
        project: Project, front: str) -> None:
    """TOML, another tool's name for a URL or date, several keys on one line, an alias:
    each published a changed id or URL with only a warning (second attacker round)."""
    path = project.raw("alpha/c.md", front + "B.\n")
    _, problems = loaded(project)
    assert [p.path for p in errors(problems)] == [path]
    assert "control character" in errors(problems)[0].message


def test_a_raw_control_character_in_text_is_removed_with_a_warning(project: Project) -> None:
    path = project.raw("alpha/t.md", "---\ntitle: T\x01x\ndate: 2026-11-01\n"
                       "tags: [a\x01b, c]\nimage:\n  url: /i.png\n  alt: A\x01lt\n---\nB.\n")
    valid, problems = loaded(project)
    assert errors(problems) == []
    assert [(p.line, (p.field or "").partition(".")[0]) for p in about(problems, path)
            if "control" in p.message] == [(2, "title"), (4, "tags"), (7, "image")]
    assert valid[0].title == "Tx" and [t.name for t in valid[0].tags] == ["ab", "c"]


@pytest.mark.parametrize("date", ["0001-01-01T00:00:00Z", "9999-12-31T23:00:00Z", "0999-12-31",
                                  "0999-12-31T23:00:00-05:00"])
def test_a_date_at_the_ends_of_time_is_an_error_that_skips_its_post(
        project: Project, date: str) -> None:
    """Moved into the site's time zone it overflowed Python's dates: every command crashed,
    --keep-going too (second attacker round)."""
    path = project.raw("alpha/old.md", f"---\ntitle: T\ndate: {date}\n---\nB.\n")
    project.post("alpha", "good")
    _, problems = loaded(project)
    assert [(p.path, p.line, p.field) for p in errors(problems)] == [(path, 3, "date")]
    assert "years 1000 to 9000" in errors(problems)[0].message
    assert project.build(keep_going=True).posts == 1


def test_a_reference_hidden_by_another_tools_syntax_is_warned_of(project: Project) -> None:
    """"&{% raw %}{% endraw %}#1;" is "&#1;" once imported: it was left out, without the
    warning a plain one gets (attacker's trial)."""
    path = project.raw("alpha/r.md", "---\ntitle: T\ndate: 2026-11-01\n---\nOne.\n\n"
                       "A &{% raw %}{% endraw %}#1; B.\n")
    _, problems = loaded(project)
    assert [(p.line, p.field) for p in about(problems, path) if "names a character" in
            p.message] == [(7, "body")]


def test_a_form_feed_is_said_to_become_a_space(project: Project) -> None:
    """A form feed (a word processor's soft line break) becomes a space, and the warning
    said it was removed (new user's trial); a bell is removed, and said to be."""
    fed = project.raw("alpha/fed.md", "---\ndate: 2026-11-01\ntitle: Form\x0cfeed\n---\nA\x0bb.\n")
    rung = project.raw("alpha/rung.md", "---\ndate: 2026-11-01\ntitle: Be\x07ll\n---\nBody.\n")
    valid, problems = loaded(project)
    assert {p.field: p.message for p in about(problems, fed)} == dict.fromkeys(
        ["title", "body"], "control characters that XML forbids were removed (a form feed "
        "or vertical tab became a space)")
    assert [p.message for p in about(problems, rung)] == [
        "control characters that XML forbids were removed"]
    assert sorted(post.title for post in valid) == ["Bell", "Form feed"]


def test_escaped_control_characters_in_the_title_are_removed_with_a_warning(
    project: Project,
) -> None:
    project.raw("alpha/ctl.md", '---\ntitle: "A \\x01 title"\ndate: 2026-11-01\n---\nBody.\n')
    valid, problems = loaded(project)
    assert [(p.field, p.line) for p in warnings(problems)] == [("title", 2)]
    assert valid[0].title == "A title"


def test_a_5_mb_post_is_too_big_and_never_parsed(project: Project) -> None:
    # Not UTF-8 either: had it been read and parsed, that would be reported too.
    path = project.raw("alpha/huge.md", b"---\n" + b"\xff" * 5_000_000)
    problem = one_error(project, path)
    assert "MB" in problem.message
    assert "5.0" in problem.message
    assert "UTF-8" not in problem.message


@pytest.mark.parametrize(("extra", "accepted"), [(0, True), (1, False)])
def test_the_size_limit_is_one_million_bytes(
        project: Project, extra: int, accepted: bool) -> None:
    head = b"---\ntitle: T\ndate: 2026-11-01\n---\n"
    project.raw("alpha/edge.md", head + b"x" * (1_000_000 - len(head) + extra))
    _, problems = loaded(project)
    errors = [p.message for p in problems if p.is_error]
    assert errors == ([] if accepted else ["file is 1,000,001 bytes; a post may be at most "
                                           "1 MB (1,000,000 bytes)"])


def test_a_long_post_under_the_limit_is_accepted(project: Project) -> None:
    body = ("A paragraph of reporting that goes on for a while. " * 20 + "\n\n") * 200
    project.post("alpha", "long", body=body)
    assert len(read_body(the_post(project))) > 200_000


def test_a_symlink_to_a_file_outside_posts_is_an_error_and_not_read(
    project: Project, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    target = outside / "secret.md"
    target.write_text("---\ntitle: Secret\ndate: 2026-11-01\nblog: alpha\n---\nSecret.\n")
    link = project.posts / "alpha" / "leak.md"
    link.parent.mkdir(parents=True)
    link.symlink_to(target)
    valid, problems = loaded(project)
    assert valid == [], "the link's target was read and published"
    problem = one_error(project, link)
    assert "outside" in problem.message
    assert problems == [problem]


def test_a_relative_symlink_climbing_out_of_posts_is_an_error(
    project: Project, tmp_path: Path
) -> None:
    (tmp_path / "secret.md").write_text(VALID)
    link = project.posts / "alpha" / "leak.md"
    link.parent.mkdir(parents=True)
    link.symlink_to(Path("..", "..", "secret.md"))
    assert "outside" in one_error(project, link).message


def test_a_symlinked_folder_outside_posts_is_an_error_and_not_read(
    project: Project, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "secret.md").write_text(VALID)
    link = project.posts / "alpha"
    project.posts.mkdir()
    link.symlink_to(outside, target_is_directory=True)
    valid, _ = loaded(project)
    assert valid == []
    assert "outside" in one_error(project, link).message


# --------------------------------------------------------------- the whole run


def test_every_bad_file_in_a_run_is_reported(project: Project) -> None:
    good = project.post("alpha", "good")
    bad = {
        project.raw("alpha/yaml.md", "---\ntitle: [unclosed\ndate: 2026-11-01\n---\nB\n"): None,
        project.raw("alpha/no-title.md", "---\ndate: 2026-11-01\n---\nB\n"): "title",
        project.raw("beta/bad-date.md", "---\ntitle: T\ndate: 2026-02-30\n---\nB\n"): "date",
        project.raw("gamma/blogless.md", VALID): "blog",
        project.raw("beta/bytes.md", b"---\ntitle: \xff\ndate: 2026-11-01\n---\n"): None,
        project.raw("alpha/empty.md", ""): None,
        project.post("beta", "tags", tags="one, two"): "tags",
    }
    found = rejected(project)
    assert {p.path for p in found} == set(bad)
    for path, field in bad.items():
        [problem] = about(found, path)
        assert problem.field == field
    assert good not in {p.path for p in found}


def test_a_failed_build_leaves_earlier_output_untouched(project: Project) -> None:
    project.post("alpha", "good")
    project.build()
    before = {p: p.read_bytes() for p in project.out.rglob("*") if p.is_file()}
    assert before
    project.post("alpha", "good", title="Changed title")
    project.raw("alpha/bad.md", "---\ntitle: T\n---\nB\n")
    with pytest.raises(InvalidPostsError):
        project.build()
    after = {p: p.read_bytes() for p in project.out.rglob("*") if p.is_file()}
    assert after == before


def test_keep_going_skips_bad_posts_and_publishes_the_rest(project: Project) -> None:
    project.post("alpha", "good")
    bad = project.raw("alpha/bad.md", "---\ntitle: T\n---\nB\n")
    report = project.build(keep_going=True)
    assert report.posts == 1
    assert report.skipped == 1
    assert any(w.path == bad and "skipped" in w.message for w in report.warnings)


def test_load_gives_valid_posts_in_file_order_and_published_ones_newest_first(
    project: Project
) -> None:
    project.post("beta", "b-old", date="2026-10-01T10:00:00Z")
    project.post("alpha", "z-new", date="2026-11-01T10:00:00Z")
    project.post("alpha", "a-draft", date="2026-10-15T10:00:00Z", draft=True)
    project.post("alpha", "m-mid", date="2026-10-20T10:00:00Z")
    loaded = load(project.config(), NOW)
    assert [p.path.name for p in loaded.valid] == ["a-draft.md", "m-mid.md", "z-new.md",
                                                   "b-old.md"]
    assert [p.path.name for p in loaded.published] == ["z-new.md", "m-mid.md", "b-old.md"]
    assert loaded.problems == []


def test_keep_going_skips_the_later_of_two_posts_with_one_id(project: Project) -> None:
    """Only the post whose path comes later is reported and left out, cold or cached."""
    project.post("alpha", "first", "First body.\n", id="urn:uuid:same")
    later = project.post("beta", "second", "Second body.\n", id="urn:uuid:same",
                         date="2026-11-02T10:00:00Z")
    project.post("alpha", "other", "Other body.\n", id="urn:uuid:other")
    config = project.config()
    for report in [project.build(keep_going=True),  # cold, then from the cache
                   build(config, NOW, keep_going=True, cache_path=default_cache(config)),
                   build(config, NOW, keep_going=True, cache_path=default_cache(config))]:
        assert (report.posts, report.skipped) == (2, 1)
        [warning] = report.warnings
        assert warning.path == later and warning.field == "id"
        rss = (project.out / "rss.xml").read_text("utf-8")
        assert "First body." in rss and "Other body." in rss and "Second body." not in rss


# --------------------------------------------------------------- Problem.__str__


def test_problem_str_is_path_line_field_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "posts" / "alpha" / "a.md"
    shown = os.path.join("posts", "alpha", "a.md")
    assert str(Problem(path, 4, "date", "is bad")) == f"error: {shown}:4: date: is bad"
    assert str(Problem(path, None, "date", "is bad")) == f"error: {shown}: date: is bad"
    assert str(Problem(path, 4, None, "is bad")) == f"error: {shown}:4: is bad"
    warning = Problem(path, 4, "image.alt", "is missing", Severity.WARNING)
    assert str(warning) == f"warning: {shown}:4: image.alt: is missing"


def test_problem_str_keeps_paths_outside_the_current_folder_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = tmp_path / "posts" / "a.md"
    assert str(Problem(path, 2, "title", "is required")) == f"error: {path}:2: title: is required"


def test_reported_problems_print_with_the_post_line(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project.root)
    project.raw("alpha/post.md", "---\ntitle: T\ndate: '2026-02-30'\n---\nB\n")
    [problem] = rejected(project)
    assert str(problem).startswith("error: " + os.path.join("posts", "alpha", "post.md")
                                   + ":3: date: ")


# ------------------------------------------------------------ encodings and endings


def test_crlf_line_endings_are_accepted(project: Project) -> None:
    text = "---\ntitle: Windows post\ndate: 2026-11-01\ntags: [a, b]\n---\nOne.\n\nTwo.\n"
    project.raw("alpha/crlf.md", text.replace("\n", "\r\n"))
    post = the_post(project)
    assert post.title == "Windows post"
    assert [t.slug for t in post.tags] == ["a", "b"]
    assert "\r" not in read_body(post)
    assert read_body(post) == "One.\n\nTwo.\n"


def test_a_utf8_bom_is_accepted(project: Project) -> None:
    project.raw("beta/bom.md", "\ufeff---\ntitle: مرحبا\ndate: 2026-11-01\n---\nنص.\n")
    post = the_post(project)
    assert post.title == "مرحبا"
    assert read_body(post) == "نص.\n"


def test_bom_and_crlf_together_are_accepted(project: Project) -> None:
    project.raw("alpha/both.md", "\ufeff---\r\ntitle: Both\r\ndate: 2026-11-01\r\n---\r\nB\r\n")
    assert the_post(project).title == "Both"


# ----------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        # Bare dates are midnight in the site's timezone (Europe/London).
        ("2026-07-01", datetime(2026, 6, 30, 23, 0, tzinfo=UTC)),
        ("2026-01-15", datetime(2026, 1, 15, 0, 0, tzinfo=UTC)),
        # Date-times without an offset are read in the site's timezone too.
        ("2026-07-01T10:30:00", datetime(2026, 7, 1, 9, 30, tzinfo=UTC)),
        ("2026-01-15T10:30:00", datetime(2026, 1, 15, 10, 30, tzinfo=UTC)),
        ("2026-07-01 10:30", datetime(2026, 7, 1, 9, 30, tzinfo=UTC)),
        # An offset, or Z, is respected.
        ("2026-07-01T10:30:00+02:00", datetime(2026, 7, 1, 8, 30, tzinfo=UTC)),
        ("2026-07-01T10:30:00-05:00", datetime(2026, 7, 1, 15, 30, tzinfo=UTC)),
        ("2026-07-01T10:30:00Z", datetime(2026, 7, 1, 10, 30, tzinfo=UTC)),
    ],
)
def test_dates_are_read_in_the_site_timezone_and_stored_in_utc(
    project: Project, value: str, expected: datetime
) -> None:
    project.raw("alpha/post.md", f"---\ntitle: T\ndate: {value}\nupdated: '{value}'\n---\nB\n")
    post = the_post(project)
    assert post.date == expected
    assert post.date.utcoffset() == timedelta(0)
    assert post.date.tzinfo is not None
    assert post.updated == expected
    assert post.updated is not None and post.updated.utcoffset() == timedelta(0)


def test_the_site_timezone_decides_bare_dates(project: Project) -> None:
    with_config(project, timezone="Asia/Tokyo")
    project.raw("alpha/post.md", "---\ntitle: T\ndate: 2026-07-01\n---\nB\n")
    assert the_post(project).date == datetime(2026, 6, 30, 15, 0, tzinfo=UTC)


def test_updated_earlier_than_date_is_an_error(project: Project) -> None:
    path = project.raw(
        "alpha/post.md",
        "---\ntitle: T\ndate: 2026-11-02T10:00:00Z\nupdated: 2026-11-02T09:59:59Z\n---\nB\n",
    )
    problem = one_error(project, path)
    assert (problem.field, problem.line) == ("updated", 4)
    assert "earlier" in problem.message


def test_updated_compares_moments_not_wall_clock_text(project: Project) -> None:
    # 10:00+02:00 is 08:00Z, before 09:00Z: earlier, though its text reads later.
    path = project.raw(
        "alpha/post.md",
        "---\ntitle: T\ndate: 2026-11-02T09:00:00Z\nupdated: 2026-11-02T10:00:00+02:00\n---\n",
    )
    assert one_error(project, path).field == "updated"


def test_updated_after_date_is_kept(project: Project) -> None:
    project.post("alpha", "post", date="2026-11-01T10:00:00Z", updated="2026-11-03")
    post = the_post(project)
    assert post.updated == datetime(2026, 11, 3, 0, 0, tzinfo=UTC)
    assert post.modified == post.updated


# --------------------------------------------------------------------- authors


def test_author_is_a_key_into_the_config_authors(project: Project) -> None:
    project.post("alpha", "post", author="ann")
    assert the_post(project).authors == (
        Author("Ann Writer", None, "https://news.example.org/ann/"),
    )


def test_author_may_be_a_plain_name(project: Project) -> None:
    project.post("alpha", "post", author="Guest Columnist")
    assert the_post(project).authors == (Author("Guest Columnist"),)


def test_authors_mixes_keys_and_plain_names_in_order(project: Project) -> None:
    project.post("alpha", "post", authors=["Guest Columnist", "desk"])
    assert the_post(project).authors == (
        Author("Guest Columnist"),
        Author("News Desk", "desk@news.example.org"),
    )


def test_a_typo_of_an_author_key_is_published_as_a_name_with_a_warning(project: Project) -> None:
    path = project.raw("alpha/post.md", "---\ntitle: T\ndate: 2026-11-01\n"
                       "authors: [dsek, Guest Columnist, ann]\n---\nBody.\n")
    valid, problems = loaded(project)
    assert errors(problems) == []
    assert [(w.path, w.line, w.field) for w in warnings(problems)] == [(path, 4, "authors")]
    assert "'dsek' is not a key" in warnings(problems)[0].message
    assert "did you mean 'desk'?" in warnings(problems)[0].message
    assert [a.name for a in valid[0].authors] == ["dsek", "Guest Columnist", "Ann Writer"]


def test_author_and_authors_together_are_an_error(project: Project) -> None:
    path = project.raw(
        "alpha/post.md", "---\ntitle: T\ndate: 2026-11-01\nauthor: ann\nauthors: [desk]\n---\n"
    )
    problem = one_error(project, path)
    assert problem.field in ("author", "authors")
    assert problem.line in (4, 5)
    assert "both" in problem.message


def test_authors_fall_back_to_the_blog_then_the_site(project: Project) -> None:
    data = copy.deepcopy(BASE_CONFIG)
    data["blogs"]["alpha"]["author"] = "ann"
    project.write_config(data)
    project.post("alpha", "a")
    project.post("beta", "b")
    valid, problems = loaded(project)
    assert errors(problems) == []
    by_blog = {p.blog: p.authors for p in valid}
    assert by_blog["alpha"] == (Author("Ann Writer", None, "https://news.example.org/ann/"),)
    assert by_blog["beta"] == (Author("News Desk", "desk@news.example.org"),)


# ------------------------------------------------------------------------ slugs


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("2026-11-01-hello-world", "hello-world"),
        ("2026-11-01_hello-world", "hello-world"),
        ("hello-world", "hello-world"),
        ("Hello World", "hello-world"),
        ("2026-11-01", "2026-11-01"),
    ],
)
def test_the_default_slug_is_the_file_name_without_a_leading_date(
    project: Project, name: str, slug: str
) -> None:
    project.raw(f"alpha/{name}.md", VALID)
    assert the_post(project).slug == slug


def test_an_explicit_slug_wins(project: Project) -> None:
    project.post("alpha", "2026-11-01-file-name", slug="chosen-slug")
    post = the_post(project)
    assert post.slug == "chosen-slug"
    assert post.url == "https://news.example.org/alpha/chosen-slug/"


@pytest.mark.parametrize("slug", ["Hello World", "hello/world", "-hello", "hello_world", ""])
def test_an_explicit_slug_is_validated(project: Project, slug: str) -> None:
    path = project.raw("alpha/post.md", f"---\ntitle: T\ndate: 2026-11-01\nslug: '{slug}'\n---\n")
    problem = one_error(project, path)
    assert (problem.field, problem.line) == ("slug", 4)
    assert "slug" in problem.message


def test_a_bad_slug_error_suggests_a_good_one(project: Project) -> None:
    path = project.post("alpha", "post", slug="Hello World")
    assert "'hello-world'" in one_error(project, path).message


# -------------------------------------------------------------------------- ids


def test_the_default_id_is_a_tag_uri_with_the_local_date(project: Project) -> None:
    # 23:30Z on 1 July is 00:30 on 2 July in London: the tag carries the local date.
    project.post("alpha", "2026-07-01-late", date="2026-07-01T23:30:00Z")
    post = the_post(project)
    assert post.id == "tag:news.example.org,2026-07-02:alpha/late"
    assert post.id_pinned is False


def test_check_warns_about_each_unpinned_id(project: Project) -> None:
    path = project.post("alpha", "post")
    [warning] = warnings(check(project.config(), NOW))
    assert (warning.path, warning.field) == (path, "id")
    assert "tag:news.example.org,2026-11-01:alpha/post" in warning.message


def test_an_id_in_front_matter_pins_it(project: Project) -> None:
    project.post("alpha", "post", id="urn:uuid:9f1c0d3e-2b1a-4c2e-8f00-1234567890ab")
    post = the_post(project)
    assert post.id == "urn:uuid:9f1c0d3e-2b1a-4c2e-8f00-1234567890ab"
    assert post.id_pinned is True
    assert [p for p in check(project.config(), NOW) if p.field == "id"] == []


def test_an_id_that_is_not_a_uri_is_an_error(project: Project) -> None:
    path = project.raw("alpha/post.md", "---\ntitle: T\ndate: 2026-11-01\nid: my post\n---\n")
    problem = one_error(project, path)
    assert (problem.field, problem.line) == ("id", 4)


def test_the_id_does_not_change_with_the_title(project: Project) -> None:
    project.post("alpha", "post", title="First title")
    before = the_post(project).id
    project.post("alpha", "post", title="A completely different title")
    after = the_post(project)
    assert after.title == "A completely different title"
    assert after.id == before


def test_a_pinned_id_survives_renaming_the_file_and_its_folder(project: Project) -> None:
    pinned = "tag:news.example.org,2026-11-01:alpha/original"
    old = project.post("alpha", "original", id=pinned)
    assert the_post(project).id == pinned
    new = project.posts / "beta" / "renamed.md"
    new.parent.mkdir(parents=True)
    old.rename(new)
    post = the_post(project)
    assert (post.blog, post.slug, post.path) == ("beta", "renamed", new)
    assert post.id == pinned


def test_an_unpinned_id_follows_the_file_name(project: Project) -> None:
    old = project.post("alpha", "original")
    old.rename(old.with_name("renamed.md"))
    assert the_post(project).id == "tag:news.example.org,2026-11-01:alpha/renamed"


# ------------------------------------------------------------------------ links


def test_the_default_link_is_the_blog_url_and_slug(project: Project) -> None:
    project.post("beta", "2026-11-01-news")
    assert the_post(project).url == "https://news.example.org/beta/news/"


def test_the_link_uses_a_custom_blog_url(project: Project) -> None:
    data = copy.deepcopy(BASE_CONFIG)
    data["blogs"]["alpha"]["url"] = "https://alpha.example.com/blog"
    project.write_config(data)
    project.post("alpha", "news")
    assert the_post(project).url == "https://alpha.example.com/blog/news/"


def test_a_custom_permalink_uses_the_local_year_and_month(project: Project) -> None:
    with_config(project, permalink="{site_url}{year}/{month}/{slug}.html")
    # 30 June 23:30Z is already 1 July in London.
    project.post("alpha", "2026-06-30-midsummer", date="2026-06-30T23:30:00Z")
    assert the_post(project).url == "https://news.example.org/2026/07/midsummer.html"


def test_a_permalink_with_blog_and_day(project: Project) -> None:
    with_config(project, permalink="{site_url}{blog}/{year}-{month}-{day}/{slug}/")
    project.post("beta", "item", date="2026-03-05")
    assert the_post(project).url == "https://news.example.org/beta/2026-03-05/item/"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://elsewhere.example.com/story", "https://elsewhere.example.com/story"),
        ("/special/story/", "https://news.example.org/special/story/"),
    ],
)
def test_a_url_in_front_matter_wins(project: Project, url: str, expected: str) -> None:
    with_config(project, permalink="{site_url}{year}/{slug}.html")
    project.post("alpha", "post", url=url)
    assert the_post(project).url == expected


# ------------------------------------------------------------------------- lang


@pytest.mark.parametrize(("blog", "lang"), [("alpha", "en"), ("beta", "ar")])
def test_lang_defaults_to_the_blog_language(project: Project, blog: str, lang: str) -> None:
    project.post(blog, "post")
    assert the_post(project).lang == lang


def test_lang_in_front_matter_wins(project: Project) -> None:
    project.post("beta", "post", lang="fr")
    assert the_post(project).lang == "fr"


def test_a_bad_lang_is_an_error(project: Project) -> None:
    path = project.raw("alpha/post.md", "---\ntitle: T\ndate: 2026-11-01\nlang: en_GB\n---\n")
    problem = one_error(project, path)
    assert (problem.field, problem.line) == ("lang", 4)


# ------------------------------------------------------------- unknown keys, images


def test_an_unknown_front_matter_key_is_a_warning_not_an_error(project: Project) -> None:
    path = project.raw(
        "alpha/post.md", "---\ntitle: T\ndate: 2026-11-01\ncategry: news\n---\nBody.\n"
    )
    valid, problems = loaded(project)
    assert errors(problems) == []
    assert len(valid) == 1
    [warning] = warnings(problems)
    assert (warning.path, warning.line, warning.field) == (path, 4, "categry")
    assert warning.severity is Severity.WARNING
    assert "unknown" in warning.message
    report = project.build()
    assert report.posts == 1
    assert any(w.field == "categry" for w in report.warnings)


def test_a_relative_image_url_is_resolved_against_the_post_link(project: Project) -> None:
    project.post("alpha", "post", image={"url": "cover.jpg", "alt": "A cover"})
    post = the_post(project)
    assert post.image is not None
    assert post.image.url == "https://news.example.org/alpha/post/cover.jpg"
    assert post.image.alt == "A cover"


def test_a_root_relative_image_url_is_resolved_against_the_site(project: Project) -> None:
    project.post("alpha", "post", image={"url": "/media/a.png", "alt": "A"})
    post = the_post(project)
    assert post.image is not None
    assert post.image.url == "https://news.example.org/media/a.png"


def test_an_absolute_image_url_is_kept(project: Project) -> None:
    project.post("alpha", "post", image={"url": "https://cdn.example.net/a.png", "alt": "A"})
    post = the_post(project)
    assert post.image is not None
    assert post.image.url == "https://cdn.example.net/a.png"


def test_an_image_without_alt_is_a_warning(project: Project) -> None:
    path = project.raw(
        "alpha/post.md",
        "---\ntitle: T\ndate: 2026-11-01\nimage:\n  url: a.png\n  caption: The harbour\n---\n",
    )
    valid, problems = loaded(project)
    assert errors(problems) == []
    [warning] = warnings(problems)
    assert (warning.path, warning.field) == (path, "image.alt")
    assert warning.line == 4
    assert "missing" in warning.message
    assert valid[0].image is not None
    assert valid[0].image.alt == "The harbour"


def test_an_image_without_url_is_an_error(project: Project) -> None:
    path = project.raw(
        "alpha/post.md", "---\ntitle: T\ndate: 2026-11-01\nimage:\n  alt: Nothing\n---\n"
    )
    problem = one_error(project, path)
    assert problem.field == "image.url"
    assert problem.line == 4


def test_an_unknown_image_key_is_a_warning_with_its_dotted_name(project: Project) -> None:
    project.raw(
        "alpha/post.md",
        "---\ntitle: T\ndate: 2026-11-01\nimage:\n  url: a.png\n  alt: A\n  width: 9\n---\n",
    )
    _, problems = loaded(project)
    assert [(p.field, p.line) for p in warnings(problems)] == [("image.width", 7)]


def xml_allows(cp: int) -> bool:
    """XML 1.0's Char production (section 2.2), written out from the spec."""
    return (cp in (0x9, 0xA, 0xD) or 0x20 <= cp <= 0xD7FF or 0xE000 <= cp <= 0xFFFD
            or 0x10000 <= cp <= 0x10FFFF)


def test_the_forbidden_character_check_follows_the_xml_char_production() -> None:
    from feedpress.text import has_xml_forbidden, strip_xml_forbidden

    points = [*range(0x11000), *range(0x11000, 0x110000, 4099), 0x10FFFF]
    wrong = [hex(cp) for cp in points
             for text in (chr(cp), f"ab{chr(cp)}c", f"é{chr(cp)}\n")
             if has_xml_forbidden(text) == xml_allows(cp)]
    assert wrong == []
    assert strip_xml_forbidden("a\x00b\ufffec\U0001F600\x1fd") == "abc\U0001F600d"
    # Long texts, as bodies are, ASCII or not; and text known to come from decoding UTF-8,
    # which holds no lone surrogate (and is not searched for one).
    some = [*range(0x100), 0x2028, 0xD7FF, 0xD800, 0xDFFF, 0xE000, 0xFFFD, 0xFFFE, 0xFFFF,
            0x10000, 0x10FFFF]
    wrong = [(hex(cp), len(text)) for cp in some
             for text in ("a" * 600 + chr(cp), "é" * 600 + chr(cp) + "z", "😀" * 9 + chr(cp))
             if has_xml_forbidden(text) == xml_allows(cp)
             or (not 0xD800 <= cp <= 0xDFFF
                 and has_xml_forbidden(text, decoded=True) == xml_allows(cp))]
    assert wrong == []


def test_the_check_of_a_files_bytes_follows_the_xml_char_production() -> None:
    """`utf8_xml_safe` answers for a file's bytes what `has_xml_forbidden` would for its
    text, for every character, alone, among ASCII, among other letters, and after the
    other characters whose UTF-8 starts with byte EF (U+F000 to U+FFFF)."""
    from feedpress.text import utf8_xml_safe

    points = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF
              and (cp < 0x3000 or cp >= 0xE000 or cp % 97 == 0)]
    wrong = [hex(cp) for cp in points
             for text in (chr(cp), f"a{chr(cp)}", f"é\uf000{chr(cp)}\ufffd\n")
             if utf8_xml_safe(text.encode("utf-8")) != xml_allows(cp)]
    assert wrong == []


def test_line_ends_and_references_are_found_as_a_plain_search_finds_them() -> None:
    from feedpress.text import has_char_reference, lf_lines

    for text in ["", "a\r\nb\r\n", "a\rb\n\r", "\r\r\n\n", "é\r\nz", "no ends"]:
        assert lf_lines(text) == text.replace("\r\n", "\n")
    for text in ["", "&", "#", "& #", "&#", "a&amp;b&#1;", "é&\u00e9#&#x1;", "#&"]:
        assert has_char_reference(text) == ("&#" in text)


@pytest.mark.parametrize("base", [
    "https://news.example.org/alpha/2026/11/01/post/", "HTTPS://News.Example.org:443/x?y#z",
    "http://user:pw@host/x", "https://host", "https://host/a;p?q", "ftp://host/x/",
])
@pytest.mark.parametrize("url", [
    "/images/a.jpg", "/a/../b.jpg", "/a/./b", "//cdn.example.net/x", "/a//b", "/a;p", "/a?q",
    "/a#f", "/%2e%2e/x", "/a b", "/é.jpg", "/a\tb", "/", "/.x", "/a:b@c", "rel.png", "",
    "https://other.example/y.jpg", "../up.jpg",
])
def test_image_urls_are_made_absolute_as_urljoin_makes_them(base: str, url: str) -> None:
    from urllib.parse import urljoin

    from feedpress.feeds.posts import absolute_url

    assert absolute_url(base, url) == urljoin(base, url)


@pytest.mark.parametrize(("text", "front", "body"), [
    ("---\na: b\n---\nBody\n", "a: b\n", "Body\n"),
    ("---\n---\nBody", "", "Body"),
    ("---\na: b\n--- \t\nBody", "a: b\n", "Body"),
    ("---\na: b\n...\nBody", "a: b\n", "Body"),
    ("---\na: b\n----\nc: d\n---\n", "a: b\n----\nc: d\n", ""),
    ("---\na: b\nx ---\n---", "a: b\nx ---\n", ""),
    ("---\na: b\n-- -\n---\nB\n---\nC", "a: b\n-- -\n", "B\n---\nC"),
])
def test_front_matter_ends_at_the_first_line_that_is_a_fence(
        text: str, front: str, body: str) -> None:
    from feedpress.feeds.posts import FrontMatter, split_front_matter

    assert split_front_matter(text) == FrontMatter(front, body, 2)


def test_front_matter_without_a_closing_fence_is_refused() -> None:
    from feedpress.feeds.posts import split_front_matter

    assert split_front_matter("---\na: b\n----\n--") == "front matter is not closed by a line '---'"


def test_post_files_are_found_in_the_order_of_their_paths(project: Project) -> None:
    from feedpress.feeds.posts import discover

    for rel in ["beta/c.md", "alpha/b.md", "alpha/a/z.md", "alpha/a.md", "alpha/a-b.md",
                "alpha/a/y/x.md", "alpha/.hidden.md", "alpha/notes.txt", "alpha/A.md"]:
        project.raw(rel, "---\ntitle: T\ndate: 2026-11-01\n---\n")
    found, problems = discover(project.config())
    assert list(found) == ["alpha/A.md", "alpha/a/y/x.md", "alpha/a/z.md", "alpha/a-b.md",
                           "alpha/a.md", "alpha/b.md", "beta/c.md"]
    paths = [project.posts / rel for rel in found]
    assert paths == sorted(paths)
    for rel, stat in found.items():
        assert stat == ((project.posts / rel).stat().st_size,
                        (project.posts / rel).stat().st_mtime_ns)
    assert [(p.message, p.severity.value) for p in problems] == [
        ("1 file under it is not read: *.txt (1)", "warning")]


@pytest.mark.parametrize(("field", "value"), [
    ("id", '"tag:news.example.org,2026-11-01:alpha/a\\x01b"'),
    ("url", '"/alpha/a\\x02b/"'),
])
def test_a_control_character_in_an_id_or_url_is_an_error(
        project: Project, field: str, value: str) -> None:
    """Text fields lose such characters with a warning; an identifier cannot, or it changes."""
    path = project.raw("alpha/post.md", f"---\ntitle: T\ndate: 2026-11-01\n{field}: {value}\n---\n")
    problem = one_error(project, path)
    assert (problem.field, problem.line) == (field, 4)
    assert "control character" in problem.message


@pytest.mark.parametrize(("body", "depth"), [
    (">" * 300 + " deep\n", 301),  # 300 quotes and the paragraph in the last
    ("<div>" * 2000 + "x\n", 2000),
    ("> " * 500 + "x\n", 501),
    ("<span>" * 300 + "x" + "</span>" * 300 + "\n", 301),  # within its paragraph
])
def test_a_body_nested_too_deep_is_an_error_at_its_first_line(project: Project, body: str,
                                                              depth: int) -> None:
    path = project.raw("alpha/deep.md", "---\ntitle: T\ndate: 2026-11-01\n---\n" + body)
    problem = one_error(project, path)
    assert (problem.field, problem.line) == ("body", 5)
    assert problem.message == (f"nests {depth:,} levels deep (quotes or HTML elements); at "
                               "most 256 are allowed")


def test_a_body_with_too_many_footnote_references_is_an_error(project: Project) -> None:
    """A megabyte of "x[^1] " rendered to 45 MB of HTML (second attacker round)."""
    path = project.raw("alpha/notes.md", "---\ntitle: T\ndate: 2026-11-01\n---\n"
                       + "x[^1] " * 1_000 + "\n\n[^1]: A note.\n")
    problem = one_error(project, path)
    assert (problem.field, problem.line) == ("body", 5)
    assert problem.message == ("holds 1,001 footnote marks ([^…], references and notes); at "
                               "most 1,000 are allowed")
    project.raw("alpha/notes.md", "---\ntitle: T\ndate: 2026-11-01\n---\n"
                + "x[^1] " * 999 + "\n\n[^1]: A note.\n")
    assert project.build().posts == 1


def test_a_body_with_many_brackets_but_shallow_builds(project: Project) -> None:
    body = "".join(f"> quote {n} <b>bold</b> a > b\n\n" for n in range(400))  # 2,000 brackets
    project.raw("alpha/flat.md", "---\ntitle: T\ndate: 2026-11-01\n---\n" + body)
    assert project.build().posts == 1


@pytest.mark.parametrize("nested", [
    "[" + ".".join(["a"] * 500) + "]\nx = 1\n",
    ".".join(["a"] * 600) + " = 1\n",
    "x = " + "[" * 60 + "]" * 60 + "\n",
])
def test_toml_front_matter_nested_too_deep_is_an_error(project: Project, nested: str) -> None:
    path = project.raw("alpha/deep.md", f'+++\ntitle = "T"\ndate = 2026-11-01\n{nested}+++\nB\n')
    problem = one_error(project, path)
    assert problem.message.startswith("TOML: nested"), problem.message


@pytest.mark.parametrize(("url", "web"), [
    ("/images/a.jpg", True), ("  /images/a.jpg\n", True), ("/a:b/c.jpg", True),
    ("images/a.jpg", True), ("//cdn.example.org/a.jpg", True), ("https://x.example/a", True),
    ("javascript:alert(1)", False), (" JavaScript:alert(1)", False), ("/{{ page.x }}", False),
    ("data:image/png;base64,AAAA", False), ("file:///etc/passwd", False),
    ("http://[::1/a.jpg", False), ("mailto:a@example.org", False),
    ("https://example.org:abc/x", False), ("http://[fe80::1%eth0]/x.jpg", False),
    ("https://exa mple.org/x.jpg", False), ("//javascript:alert(1)/x.jpg", False),
    ("https://" + "a" * 70 + ".org/x", False), ("https://bücher.example/x", True),
    ("http://[::1]:8080/x", True), ("https://example.org:443/x", True),
])
def test_a_post_url_is_a_web_address_or_a_path_on_the_site(url: str, web: bool) -> None:
    assert _web_url("https://news.example.org/", url) is web


def test_a_soft_line_break_in_a_body_keeps_the_words_apart(project: Project) -> None:
    """A word processor pastes a vertical tab or a form feed for a soft line break."""
    project.post("alpha", "soft", body="alpha\x0cbeta gamma\x0bdelta and \x07bell.\n")
    project.build()
    entry = feedparser.parse((project.out / "alpha" / "atom.xml").read_bytes()).entries[0]
    assert "alpha beta gamma delta and bell." in entry.content[0].value
    assert entry.summary == "alpha beta gamma delta and bell."


def test_a_post_swapped_after_discovery_for_a_link_or_a_pipe_is_not_read(
        project: Project, tmp_path: Path) -> None:
    """`discover` refuses links to outside and pipes; a file swapped for one between the
    listing and the read (an attacker's race) must not be read either, nor hang."""
    from feedpress.feeds import posts

    config = project.config()
    secret = tmp_path / "outside" / "secret.md"
    secret.parent.mkdir()
    secret.write_text("---\ntitle: SECRET\ndate: 2026-11-01\n---\nSECRET\n")
    path = project.post("alpha", "victim")
    sibling = project.post("alpha", "sibling")
    path.unlink()
    path.symlink_to(secret)
    found = posts.read(config, path)
    assert isinstance(found, Problem) and "outside the posts folder" in found.message
    path.unlink()
    path.symlink_to(sibling)  # a link inside posts/ is read
    assert not isinstance(posts.read(config, path), Problem)
    path.unlink()
    os.mkfifo(path)
    found = posts.read(config, path)  # would block for ever on a plain open
    assert isinstance(found, Problem) and "not a regular file" in found.message
    alpha = project.posts / "alpha"
    alpha.rename(tmp_path / "alpha-moved")
    alpha.symlink_to(secret.parent)  # a folder on the way swapped for a link
    (secret.parent / "sibling.md").write_text(secret.read_text())
    found = posts.read(config, alpha / "sibling.md")
    assert isinstance(found, Problem) and "outside the posts folder" in found.message


def test_control_characters_in_image_fields_are_reported_at_their_lines(
        project: Project) -> None:
    path = project.raw("alpha/img.md", '---\ntitle: T\ndate: 2026-11-01\nimage:\n'
                       '  url: /i.png\n  alt: "A\\x07lt"\n  caption: "Cap\\x0btion"\n---\nB.\n')
    valid, problems = loaded(project)
    assert errors(problems) == []
    assert [(w.path, w.line, w.field) for w in warnings(problems)] == [
        (path, 6, "image.alt"), (path, 7, "image.caption")]
    assert valid[0].image is not None and valid[0].image.alt == "Alt"
    assert valid[0].image.caption == "Cap tion"


def test_a_reference_to_a_character_xml_forbids_is_warned_of_at_its_line(
        project: Project) -> None:
    path = project.post("alpha", "refs", body="Fine &#233; and &#x2014;.\n\nA bell &#7; "
                        "and &#x1F; here.\n")
    _, problems = loaded(project)
    assert [(w.line, w.field) for w in warnings(problems)] == [(7, "body")]
    assert "&#7; names a character that XML forbids" in warnings(problems)[0].message
    assert warnings(problems)[0].path == path
    project.build()
    feed = (project.out / "alpha" / "atom.xml").read_text("utf-8")
    assert "A bell  and  here." in feed and "é" in feed


def test_raw_control_characters_in_front_matter_are_warned_of_with_their_field(
        project: Project) -> None:
    path = project.raw("alpha/raw.md", "---\ntitle: Prime\x0bMinister\ndate: 2026-11-01\n"
                       "summary: >\n  one\n  two\x07 lines\nimage:\n  url: /i.png\n"
                       "  alt: A\x01lt\n---\nB.\n")
    valid, problems = loaded(project)
    assert errors(problems) == []
    assert [(w.path, w.line, w.field) for w in warnings(problems)] == [
        (path, 2, "title"), (path, 6, "summary"), (path, 9, "image.alt")]
    assert valid[0].title == "Prime Minister" and valid[0].image is not None
    assert valid[0].image.alt == "Alt"


def test_a_post_swapped_for_a_pipe_before_its_body_is_read_again_says_so(
        project: Project) -> None:
    from feedpress.errors import FeedpressError

    path = project.post("alpha", "pipe")
    post = next(p for p in loaded(project)[0] if p.path == path)
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(FeedpressError) as raised:
        read_body(post)
    assert str(raised.value).endswith("alpha/pipe.md: cannot read: not a regular file")
