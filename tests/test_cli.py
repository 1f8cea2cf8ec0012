"""The `feedpress` command as a user runs it: arguments in, output and exit code out.

Every test goes through `feedpress.cli.main`, the console script, not the
click group `cli`: `main` is where `FeedpressError`s become messages and
exit codes, so `CliRunner().invoke(cli, ...)` would not show what a user
sees (a `UsageError` would come back as an uncaught exception with exit
code 1 instead of a message and exit code 2). `main` reads `sys.argv`, so
the `feedpress` fixture runs it inside `CliRunner.isolation()` with
`sys.argv` patched, and turns anything that escapes `main` into the
traceback Python would print.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

import pytest
import yaml
from blake3 import blake3
from click.testing import CliRunner

from conftest import BASE_CONFIG, Project
from feedpress.cli import main
from feedpress.errors import Problem

NOW = "2026-11-25T12:00:00Z"
LATER = "2027-03-01T00:00:00Z"
SITE_FEEDS = ("rss.xml", "atom.xml", "feed.json")
SUMMARY = re.compile(
    r"^(?P<posts>\d+) posts? published(?:, (?P<drafts>\d+) drafts?)?"
    r"(?:, (?P<scheduled>\d+) scheduled \(next [^)]*\))?"
    r"(?:, (?P<skipped>\d+) invalid posts? skipped)?; "
    r"\d+ feeds and feeds\.opml in \S+: (?P<written>\d+) files? written, "
    r"(?P<unchanged>\d+) unchanged, (?P<removed>\d+) removed; \d+\.\d+s$"
)
# error|warning: path:line: field: message
PROBLEM = re.compile(r"^(?:error|warning): (?P<path>[^:\s]+):(?P<line>\d+): (?P<field>[\w.]+): \S")


@dataclass(frozen=True)
class Run:
    """What one `feedpress` run printed and how it exited."""

    exit_code: int
    stdout: str
    stderr: str
    output: str  # stdout and stderr interleaved, as in a terminal


Feedpress = Callable[..., Run]


@pytest.fixture
def feedpress(project: Project, monkeypatch: pytest.MonkeyPatch) -> Feedpress:
    """`feedpress(*args, cwd=...)` runs the console script, by default in the project."""

    def run(*args: str, cwd: Path | None = None) -> Run:
        monkeypatch.chdir(cwd or project.root)
        monkeypatch.setattr(sys, "argv", ["feedpress", *args])
        with CliRunner().isolation() as (out, err, mixed):
            code = 0
            try:
                main()
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
            except Exception:  # noqa: BLE001 - shown as the user would see it
                traceback.print_exc()  # what Python prints for an uncaught exception
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
            return Run(code, out.getvalue().decode(), err.getvalue().decode(),
                       mixed.getvalue().decode())

    return run


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder`, by relative path, with its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def feed_items(out: Path) -> list[dict[str, Any]]:
    """The items of the site's JSON feed in `out`."""
    items: list[dict[str, Any]] = json.loads((out / "feed.json").read_text("utf-8"))["items"]
    return items


def config_with(**site: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE_CONFIG)
    data["site"].update(site)
    return data


def assert_no_traceback(run: Run) -> None:
    assert "Traceback" not in run.output, run.output


# --- init -----------------------------------------------------------------------------


def test_init_creates_a_project_that_builds_out_of_the_box(
    feedpress: Feedpress, tmp_path: Path
) -> None:
    # No --now anywhere: a user runs `init` and then `build` with the real clock.
    created = feedpress("init", "newsroom", cwd=tmp_path)
    assert created.exit_code == 0, created.output
    folder = tmp_path / "newsroom"
    assert "created newsroom/feedpress.yaml" in created.stdout
    assert created.stdout.splitlines()[-1] == "next: cd newsroom && feedpress build"
    assert (folder / "feedpress.yaml").is_file()
    posts = list((folder / "posts").rglob("*.md"))
    assert len(posts) == 1

    checked = feedpress("check", cwd=folder)
    assert checked.exit_code == 0, checked.output
    assert "0 error(s), 0 warning(s)" in checked.stdout

    built = feedpress("build", cwd=folder)
    assert built.exit_code == 0, built.output
    for name in (*SITE_FEEDS, "feeds.opml"):
        assert (folder / "public" / name).is_file(), name
    match = SUMMARY.match(built.stdout.strip())
    assert match is not None, built.stdout
    assert match["posts"] == "1"
    assert [item["title"] for item in feed_items(folder / "public")] == ["Welcome"]
    listed = feedpress("subscribers", "list", cwd=folder)  # an empty list, not an error
    assert listed.exit_code == 0 and "0 subscriber(s)" in listed.stdout, listed.output
    date_line = next(line for line in posts[0].read_text().splitlines()
                     if line.startswith("date:"))
    assert re.fullmatch(r"date: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", date_line), date_line
    assert "# email:" in (folder / "feedpress.yaml").read_text()


def test_init_adds_its_lines_to_an_existing_gitignore(feedpress: Feedpress,
                                                      tmp_path: Path) -> None:
    folder = tmp_path / "newsroom"
    folder.mkdir()
    (folder / ".gitignore").write_text("*.pyc\n/public/")  # no newline at the end
    run = feedpress("init", "newsroom", cwd=tmp_path)
    assert run.exit_code == 0
    assert (folder / ".gitignore").read_text() == "*.pyc\n/public/\n/.feedpress/\n/outbox/\n"
    assert "added /.feedpress/, /outbox/ to newsroom/.gitignore" in run.stdout
    assert "created newsroom/.gitignore" not in run.stdout


@pytest.mark.parametrize(("before", "after"), [
    (b"a\r\nb\r\n", b"a\r\nb\r\n/public/\r\n/.feedpress/\r\n/outbox/\r\n"),  # its endings
    (b"public/\n.feedpress\n", b"public/\n.feedpress\n/outbox/\n"),  # its own spelling
    (b"/public\n/.feedpress/\n outbox/ \n", None),  # all there: left as it is
])
def test_init_keeps_what_a_gitignore_says_and_how(feedpress: Feedpress, tmp_path: Path,
                                                  before: bytes, after: bytes | None) -> None:
    folder = tmp_path / "newsroom"
    folder.mkdir()
    (folder / ".gitignore").write_bytes(before)
    run = feedpress("init", "newsroom", cwd=tmp_path)
    assert run.exit_code == 0, run.output
    assert (folder / ".gitignore").read_bytes() == (after or before)
    assert (".gitignore" in run.stdout) == (after is not None)


def test_init_leaves_a_gitignore_that_is_not_a_plain_file_of_its_own(
        feedpress: Feedpress, tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("someone else's\n")
    for kind in ("link", "folder", "read-only"):
        folder = tmp_path / kind
        folder.mkdir()
        if kind == "link":
            (folder / ".gitignore").symlink_to(victim)
        elif kind == "folder":
            (folder / ".gitignore").mkdir()
        else:
            (folder / ".gitignore").write_text("*.pyc\n")
            (folder / ".gitignore").chmod(0o444)
        run = feedpress("init", kind, cwd=tmp_path)
        assert run.exit_code == 0, run.output
        assert_no_traceback(run)
        assert f"warning: {kind}/.gitignore: not a plain text file feedpress may change: add " \
               "/public/, /.feedpress/, /outbox/ to it yourself" in run.stderr, run.output
    assert victim.read_text() == "someone else's\n"
    assert (tmp_path / "link" / ".gitignore").is_symlink()
    assert (tmp_path / "read-only" / ".gitignore").read_text() == "*.pyc\n"


def test_init_quiet_says_nothing_but_does_it_all(feedpress: Feedpress, tmp_path: Path) -> None:
    run = feedpress("init", "-q", "newsroom", cwd=tmp_path)
    assert run.exit_code == 0 and run.output == ""
    assert (tmp_path / "newsroom" / "feedpress.yaml").is_file()


def test_a_config_key_typo_gets_a_did_you_mean(feedpress: Feedpress, project: Project) -> None:
    text = project.config_path.read_text() + "feeds:\n  itmes: 20\n"
    project.config_path.write_text(text)
    run = feedpress("check")
    assert "feeds.itmes: unknown key; did you mean items?" in run.stderr, run.output


def test_init_refuses_to_overwrite_an_existing_project(
    feedpress: Feedpress, project: Project
) -> None:
    before = snapshot(project.root)
    run = feedpress("init", str(project.root))
    assert run.exit_code == 2, run.output
    assert "already exists" in run.stderr
    assert_no_traceback(run)
    assert snapshot(project.root) == before


def test_init_refuses_the_current_folder_when_it_is_a_project(
    feedpress: Feedpress, project: Project
) -> None:
    before = snapshot(project.root)
    run = feedpress("init", ".")
    assert run.exit_code == 2, run.output
    assert "feedpress.yaml already exists" in run.stderr
    assert snapshot(project.root) == before


# --- new ------------------------------------------------------------------------------


def front_matter(path: Path) -> tuple[list[str], dict[str, Any]]:
    text = path.read_text("utf-8")
    assert text.startswith("---\n"), text
    header = text.split("---\n")[1]
    return header.splitlines(), yaml.load(header, Loader=yaml.BaseLoader)


def test_new_creates_a_draft_dated_in_the_site_timezone_with_a_pinned_id(
    feedpress: Feedpress, project: Project
) -> None:
    project.write_config(config_with(timezone="Asia/Tokyo"))
    # 20:00 UTC on the 25th is 05:00 on the 26th in Tokyo.
    run = feedpress("--now", "2026-11-25T20:00:00Z", "new", "--blog", "alpha",
                    'Who funds the "Kessa" brigade?')
    assert run.exit_code == 0, run.output
    path = project.posts / "alpha" / "2026-11-26-who-funds-the-kessa-brigade.md"
    assert path.is_file(), sorted(p.name for p in project.posts.rglob("*"))
    assert "created posts/alpha/2026-11-26-who-funds-the-kessa-brigade.md" in run.stdout

    lines, fields = front_matter(path)
    assert fields["title"] == 'Who funds the "Kessa" brigade?'
    assert "date: 2026-11-26T05:00:00+09:00" in lines
    assert fields["id"] == "tag:news.example.org,2026-11-26:alpha/who-funds-the-kessa-brigade"
    assert fields["draft"] == "true"

    # Pinned: `check` has nothing to say about it.
    checked = feedpress("check")
    assert checked.exit_code == 0, checked.output
    assert "0 error(s), 0 warning(s)" in checked.stdout
    # A draft: not published, even long after its date.
    built = feedpress("build", "--now", LATER)
    assert built.exit_code == 0, built.output
    assert feed_items(project.out) == []


def test_a_new_post_once_published_carries_its_title_and_pinned_id(
    feedpress: Feedpress, project: Project
) -> None:
    title = "Côte d’Ivoire: «الهدنة» holds"
    run = feedpress("new", "--now", NOW, "--blog", "beta", title)
    assert run.exit_code == 0, run.output
    [path] = (project.posts / "beta").glob("*.md")
    _, fields = front_matter(path)
    text = path.read_text("utf-8")
    path.write_text(text.replace("draft: true   # remove this line to publish\n", ""), "utf-8")

    built = feedpress("build", "--now", LATER)
    assert built.exit_code == 0, built.output
    [item] = feed_items(project.out)
    assert item["title"] == title
    assert item["id"] == fields["id"]


def test_new_with_an_unknown_blog_exits_2_and_writes_nothing(
    feedpress: Feedpress, project: Project
) -> None:
    before = snapshot(project.root)
    run = feedpress("new", "--blog", "gamma", "A title")
    assert run.exit_code == 2, run.output
    assert "unknown blog 'gamma'" in run.stderr
    assert "alpha" in run.stderr and "beta" in run.stderr
    assert_no_traceback(run)
    assert snapshot(project.root) == before


def test_new_refuses_to_overwrite_a_post(feedpress: Feedpress, project: Project) -> None:
    first = feedpress("new", "--now", NOW, "--blog", "alpha", "Same title")
    assert first.exit_code == 0, first.output
    path = project.posts / "alpha" / "2026-11-25-same-title.md"
    path.write_text(path.read_text("utf-8") + "Work in progress.\n", "utf-8")
    before = path.read_bytes()

    again = feedpress("new", "--now", NOW, "--blog", "alpha", "Same title")
    assert again.exit_code == 2, again.output
    assert "already exists" in again.stderr
    assert_no_traceback(again)
    assert path.read_bytes() == before


@pytest.mark.parametrize("slug", ["../../../../escaped", "Two Words"])
def test_new_rejects_a_slug_that_is_not_a_slug(
    feedpress: Feedpress, project: Project, slug: str
) -> None:
    """BUG: `--slug` is used unchecked: `../` leaves posts/, spaces give a file whose
    URL slug (from the file name) differs from the slug in its pinned id."""
    before = snapshot(project.root)
    run = feedpress("new", "--now", NOW, "--blog", "alpha", "--slug", slug, "Title")
    assert run.exit_code == 2, run.output
    assert_no_traceback(run)
    assert snapshot(project.root) == before


# --- pin-ids --------------------------------------------------------------------------

# Comments, blank lines, odd field order, and a `---` rule in the body: all must survive.
UNPINNED = (
    "---\n"
    "# notes for the desk\n"
    "tags: [Sahel]   # one tag for now\n"
    "title: 'Field notes'\n"
    "\n"
    "date: 2026-07-31T23:30:00Z\n"
    "---\n"
    "First part.\n"
    "\n"
    "---\n"
    "\n"
    "Second part.\n"
)
# 23:30 UTC on 31 July is 00:30 on 1 August in London (BST): the id's date is the local one.
FIELD_NOTES_ID = "tag:news.example.org,2026-08-01:alpha/field-notes"


def inserted(text: str, line: str) -> str:
    """`text` with `line` inserted just before the closing fence of its front matter."""
    head, sep, rest = text.partition("---")
    newline = "\r\n" if rest.startswith("\r\n") else "\n"
    at = rest.index(f"{newline}---", 1) + len(newline)
    return head + sep + rest[:at] + line + newline + rest[at:]


def test_pin_ids_inserts_exactly_one_id_line_and_nothing_else(
    feedpress: Feedpress, project: Project
) -> None:
    path = project.raw("alpha/2026-08-01-field-notes.md", UNPINNED)
    pinned = project.post("alpha", "already-pinned", id="urn:uuid:1", tags=["x"])
    pinned_before = pinned.read_bytes()

    run = feedpress("pin-ids")
    assert run.exit_code == 0, run.output
    expected = inserted(UNPINNED, f'id: "{FIELD_NOTES_ID}"')
    assert path.read_bytes() == expected.encode("utf-8")
    assert pinned.read_bytes() == pinned_before
    assert f"pinned {FIELD_NOTES_ID} in posts/alpha/2026-08-01-field-notes.md" in run.stdout
    assert "1 id(s) pinned" in run.stdout

    again = feedpress("pin-ids")
    assert again.exit_code == 0, again.output
    assert "0 id(s) pinned" in again.stdout
    assert path.read_bytes() == expected.encode("utf-8")


def test_pin_ids_keeps_crlf_line_endings_and_a_byte_order_mark(
    feedpress: Feedpress, project: Project
) -> None:
    text = UNPINNED.replace("\n", "\r\n")
    path = project.raw("alpha/2026-08-01-field-notes.md", b"\xef\xbb\xbf" + text.encode())

    run = feedpress("pin-ids")
    assert run.exit_code == 0, run.output
    expected = b"\xef\xbb\xbf" + inserted(text, f'id: "{FIELD_NOTES_ID}"').encode("utf-8")
    assert path.read_bytes() == expected
    assert b"\n" not in path.read_bytes().replace(b"\r\n", b"")


def test_pinned_ids_are_reported_as_pinned_by_check(
    feedpress: Feedpress, project: Project
) -> None:
    project.raw("alpha/2026-08-01-field-notes.md", UNPINNED)
    project.post("beta", "2026-11-02-second")

    before = feedpress("check")
    assert before.exit_code == 0, before.output
    assert "0 error(s), 2 warning(s)" in before.stdout
    assert f"id: not pinned; it would change with the file's blog or slug. " \
           f"Run `feedpress pin-ids` to write id: {FIELD_NOTES_ID}" in before.stderr

    pinned = feedpress("pin-ids")
    assert pinned.exit_code == 0, pinned.output
    assert "2 id(s) pinned" in pinned.stdout

    after = feedpress("check")
    assert after.exit_code == 0, after.output
    assert "0 error(s), 0 warning(s)" in after.stdout
    assert "not pinned" not in after.output


def test_renaming_a_pinned_post_keeps_its_id_in_the_feeds(
    feedpress: Feedpress, project: Project
) -> None:
    path = project.raw("alpha/2026-08-01-field-notes.md", UNPINNED)
    project.post("alpha", "2026-11-01-other")
    first = feedpress("build", "--now", NOW)
    assert first.exit_code == 0, first.output
    ids_before = {item["url"]: item["id"] for item in feed_items(project.out)}
    assert FIELD_NOTES_ID in ids_before.values()

    assert feedpress("pin-ids").exit_code == 0
    # Pinning the id a post already had changes no feed.
    unchanged = feedpress("build", "--now", NOW, "--check")
    assert unchanged.exit_code == 0, unchanged.output
    assert "up to date" in unchanged.stdout

    path.rename(path.with_name("2026-08-01-notes-from-the-field.md"))
    second = feedpress("build", "--now", NOW)
    assert second.exit_code == 0, second.output
    ids_after = {item["url"]: item["id"] for item in feed_items(project.out)}
    assert set(ids_after.values()) == set(ids_before.values())
    moved = [url for url, post_id in ids_after.items() if post_id == FIELD_NOTES_ID]
    assert moved == ["https://news.example.org/alpha/notes-from-the-field/"]


def test_pin_ids_does_not_add_a_second_id_key_to_an_empty_one(
    feedpress: Feedpress, project: Project
) -> None:
    """BUG: `id:` with no value counts as unpinned, and pin-ids adds another `id:` key
    below it: a duplicate mapping key, which YAML forbids (PyYAML keeps the last)."""
    path = project.raw("alpha/2026-11-02-empty-id.md",
                       "---\ntitle: Empty id\ndate: 2026-11-02\nid:\n---\nBody.\n")
    feedpress("pin-ids")
    lines = path.read_text("utf-8").split("---\n")[1].splitlines()
    assert len([line for line in lines if line.startswith("id:")]) == 1, lines


def test_pin_ids_exits_1_when_a_post_is_invalid(
    feedpress: Feedpress, project: Project
) -> None:
    """BUG: pin-ids lists the invalid posts it could not pin, then exits 0."""
    good = project.raw("alpha/2026-08-01-field-notes.md", UNPINNED)
    project.post("alpha", "broken", date="2026-02-30")
    run = feedpress("pin-ids")
    assert f'id: "{FIELD_NOTES_ID}"' in good.read_text("utf-8")  # the valid post is pinned
    assert "posts/alpha/broken.md:2: date: '2026-02-30' is not a valid date" in run.stderr
    assert_no_traceback(run)
    assert run.exit_code == 1, run.output


# --- check ----------------------------------------------------------------------------


def test_check_prints_each_problem_as_path_line_field_message_and_exits_1(
    feedpress: Feedpress, project: Project
) -> None:
    project.post("alpha", "bad-date", date="2026-02-30", id="urn:uuid:1")
    project.post("alpha", "no-title", title=None, id="urn:uuid:2")
    project.post("gamma", "unknown-blog", id="urn:uuid:3")
    project.post("beta", "typo", colour="red", id="urn:uuid:4")

    run = feedpress("check")
    assert run.exit_code == 1, run.output
    problems = run.stderr.splitlines()
    assert "posts/alpha/bad-date.md:2: date: '2026-02-30' is not a valid date" in run.stderr
    assert "error: posts/alpha/no-title.md:2: title: is required" in problems
    assert any(p.startswith("error: posts/gamma/unknown-blog.md:1: blog: unknown blog 'gamma'")
               for p in problems), problems
    assert "warning: posts/beta/typo.md:2: colour: unknown key" in problems
    assert all(PROBLEM.match(p) for p in problems), problems
    assert run.stdout.strip() == "3 error(s), 1 warning(s)"
    assert_no_traceback(run)


def test_check_exits_0_with_only_warnings(feedpress: Feedpress, project: Project) -> None:
    project.post("alpha", "typo", colour="red", id="urn:uuid:1")
    project.post("alpha", "unpinned")
    run = feedpress("check")
    assert run.exit_code == 0, run.output
    assert "warning: posts/alpha/typo.md:2: colour: unknown key" in run.stderr
    assert "posts/alpha/unpinned.md" in run.stderr
    assert run.stdout.strip() == "0 error(s), 2 warning(s)"


def test_check_warns_about_each_unpinned_id(feedpress: Feedpress, project: Project) -> None:
    project.post("alpha", "2026-10-05-one", date="2026-10-05")
    project.post("beta", "2026-10-06-two", date="2026-10-06")
    project.post("beta", "pinned", id="urn:uuid:1")
    run = feedpress("check")
    assert run.exit_code == 0, run.output
    warnings = [line for line in run.stderr.splitlines() if "not pinned" in line]
    assert len(warnings) == 2, run.stderr
    assert warnings[0].startswith("warning: posts/alpha/2026-10-05-one.md")
    assert "id: tag:news.example.org,2026-10-05:alpha/one" in warnings[0]
    assert warnings[1].startswith("warning: posts/beta/2026-10-06-two.md")
    assert "id: tag:news.example.org,2026-10-06:beta/two" in warnings[1]
    assert all(": id: not pinned" in w and w.startswith("warning: ") for w in warnings)


def test_check_reports_two_posts_with_one_id_as_an_error(
    feedpress: Feedpress, project: Project
) -> None:
    project.post("alpha", "first", id="urn:uuid:same")
    project.post("beta", "second", id="urn:uuid:same")
    run = feedpress("check")
    assert run.exit_code == 1, run.output
    assert run.stdout.strip() == "1 error(s), 0 warning(s)"
    [problem] = run.stderr.splitlines()
    assert "warning" not in problem
    assert "id: 'urn:uuid:same' is also used by" in problem
    assert "first.md" in problem and "second.md" in problem


def test_check_locates_every_problem_by_line(feedpress: Feedpress, project: Project) -> None:
    """BUG: the unpinned-id warning and the duplicate-id error have no line
    (`path: warning: id: ...`), unlike the documented `path:line: field: message`."""
    project.post("alpha", "unpinned")
    project.post("alpha", "first", id="urn:uuid:same")
    project.post("beta", "second", id="urn:uuid:same")
    run = feedpress("check")
    assert run.exit_code == 1, run.output
    problems = run.stderr.splitlines()
    assert len(problems) == 2, problems
    assert all(PROBLEM.match(p) for p in problems), problems


def test_check_reports_an_out_of_range_date_without_a_traceback(
    feedpress: Feedpress, project: Project
) -> None:
    """BUG: a date that leaves datetime's range once turned to UTC raises OverflowError."""
    project.write_config(config_with(timezone="Asia/Tokyo"))
    project.post("alpha", "ancient", date="0001-01-01", id="urn:uuid:1")
    run = feedpress("check")
    assert_no_traceback(run)
    assert run.exit_code == 1, run.output
    assert "posts/alpha/ancient.md:2: date:" in run.stderr


# --- build ----------------------------------------------------------------------------


def test_build_with_invalid_posts_lists_every_error_and_writes_nothing(
    feedpress: Feedpress, project: Project
) -> None:
    good = project.post("alpha", "good", id="urn:uuid:1", tags=["Sahel"])
    assert feedpress("build", "--now", NOW).exit_code == 0
    published = snapshot(project.out)

    good.write_text(good.read_text("utf-8").replace("Body text.", "New body."), "utf-8")
    project.post("alpha", "bad-date", date="2026-02-30", id="urn:uuid:2")
    project.post("beta", "two-errors", title=None, lang="not a language", id="urn:uuid:3")

    run = feedpress("build", "--now", NOW)
    assert run.exit_code == 1, run.output
    assert "posts/alpha/bad-date.md:2: date: '2026-02-30' is not a valid date" in run.stderr
    assert "posts/beta/two-errors.md:2: title: is required" in run.stderr
    assert "posts/beta/two-errors.md:3: lang: must be a language tag" in run.stderr
    assert "3 error(s) in posts; nothing was written." in run.stderr
    assert run.stdout == ""
    assert_no_traceback(run)
    assert snapshot(project.out) == published
    # Every line says what it is, so `grep ^error:` finds every error.
    lines = run.stderr.splitlines()
    assert all(line.startswith(("error: ", "warning: ")) for line in lines), lines
    assert sum(line.startswith("error: ") for line in lines) == 4  # 3 and the total


def test_build_keep_going_skips_invalid_posts_with_warnings(
    feedpress: Feedpress, project: Project
) -> None:
    project.post("alpha", "good", id="urn:uuid:1")
    project.post("alpha", "bad-date", date="2026-02-30", id="urn:uuid:2")
    run = feedpress("build", "--now", NOW, "--keep-going")
    assert run.exit_code == 0, run.output
    assert ("warning: posts/alpha/bad-date.md:2: date: '2026-02-30' is not a valid date"
            in run.stderr)
    assert "(post skipped)" in run.stderr
    match = SUMMARY.match(run.stdout.strip())
    assert match is not None, run.stdout
    assert (match["posts"], match["skipped"]) == ("1", "1")
    assert [item["id"] for item in feed_items(project.out)] == ["urn:uuid:1"]


def test_build_check_lists_what_would_change_and_writes_nothing(
    feedpress: Feedpress, project: Project
) -> None:
    post = project.post("alpha", "good", id="urn:uuid:1")

    fresh = feedpress("build", "--now", NOW, "--check")
    assert fresh.exit_code == 1, fresh.output
    would = fresh.stdout.splitlines()
    assert "would change: rss.xml" in would
    assert "would change: alpha/feed.json" in would
    assert "would change: feeds.opml" in would
    assert not project.out.exists()

    built = feedpress("build", "--now", NOW)
    assert built.exit_code == 0, built.output
    published = snapshot(project.out)
    current = feedpress("build", "--now", NOW, "--check")
    assert current.exit_code == 0, current.output
    assert current.stdout.strip() == "up to date"

    post.write_text(post.read_text("utf-8").replace("Body text.", "New body."), "utf-8")
    stale = feedpress("build", "--now", NOW, "--check")
    assert stale.exit_code == 1, stale.output
    changed = stale.stdout.splitlines()
    assert "would change: alpha/feed.json" in changed
    assert "would change: beta/feed.json" not in changed
    assert "up to date" not in stale.stdout
    assert snapshot(project.out) == published


def test_build_ends_with_one_summary_line(feedpress: Feedpress, project: Project) -> None:
    project.post("alpha", "one", id="urn:uuid:1", tags=["Gold"])
    project.post("beta", "two", id="urn:uuid:2")

    first = feedpress("build", "--now", NOW)
    assert first.exit_code == 0, first.output
    [line] = first.stdout.splitlines()
    match = SUMMARY.match(line)
    assert match is not None, line
    files = len(snapshot(project.out)) - 1  # less the manifest
    assert (match["written"], match["unchanged"], match["removed"], match["posts"]) == (
        str(files), "0", "0", "2")

    again = feedpress("build", "--now", NOW)
    match = SUMMARY.match(again.stdout.strip())
    assert match is not None, again.stdout
    assert (match["written"], match["unchanged"]) == ("0", str(files))

    project.post("alpha", "one", id="urn:uuid:1")  # the tag's feeds go
    gone = feedpress("build", "--now", NOW)
    match = SUMMARY.match(gone.stdout.strip())
    assert match is not None, gone.stdout
    assert match["removed"] == "3"
    assert not (project.out / "tags" / "gold").exists()


def test_build_now_makes_a_future_post_appear(feedpress: Feedpress, project: Project) -> None:
    project.post("alpha", "future", date="2027-01-15T09:00:00Z", id="urn:uuid:future")
    today = feedpress("build", "--now", NOW)
    assert today.exit_code == 0, today.output
    assert feed_items(project.out) == []

    later = feedpress("build", "--now", LATER)
    assert later.exit_code == 0, later.output
    assert [item["id"] for item in feed_items(project.out)] == ["urn:uuid:future"]


def test_build_while_another_holds_the_cache_says_so_without_a_traceback(
    feedpress: Feedpress, project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from feedpress.feeds import cache

    project.post("alpha", "one", id="urn:uuid:1")
    assert feedpress("build", "--now", NOW).exit_code == 0
    project.post("alpha", "two", id="urn:uuid:2")
    monkeypatch.setattr(cache, "LOCK_WAIT_SECONDS", 0.05)
    other = sqlite3.connect(project.root / ".feedpress" / "cache.sqlite")
    try:
        other.execute("BEGIN EXCLUSIVE")  # as another build writing items would
        run = feedpress("build", "--now", NOW)
    finally:
        other.close()
    assert_no_traceback(run)
    assert run.exit_code == 1
    assert run.stderr.startswith("error: .feedpress/cache.sqlite: the build cache failed: "
                                 "database is locked. If another build of this project is "
                                 "running, let it finish")
    assert feedpress("build", "--now", NOW).exit_code == 0  # once it is released


def test_build_with_a_damaged_cache_says_to_delete_it(
    feedpress: Feedpress, project: Project
) -> None:
    project.post("alpha", "one", id="urn:uuid:1")
    (project.root / ".feedpress").mkdir()
    (project.root / ".feedpress" / "cache.sqlite").write_bytes(b"not a database, " * 300)
    run = feedpress("build", "--now", NOW)
    assert_no_traceback(run)
    assert run.exit_code == 1
    assert run.stderr.startswith("error: .feedpress/cache.sqlite: the build cache failed: "
                                 "file is not a database. The file is damaged: delete it (it "
                                 "is only a cache) and build again")


def test_build_out_writes_to_the_given_folder(
    feedpress: Feedpress, project: Project, tmp_path: Path
) -> None:
    project.post("alpha", "one", id="urn:uuid:1")
    run = feedpress("build", "--now", NOW, "--out", "elsewhere")
    assert run.exit_code == 0, run.output
    assert (project.root / "elsewhere" / "rss.xml").is_file()
    assert not project.out.exists()


@pytest.mark.parametrize("args", [
    ["--config", "{config}", "--now", LATER, "build"],
    ["build", "--config", "{config}", "--now", LATER],
    ["--config", "{config}", "build", "--now", LATER],
    ["--now", LATER, "build", "--config", "{config}"],
], ids=["both-before", "both-after", "config-before", "now-before"])
def test_config_and_now_are_accepted_before_and_after_the_command(
    feedpress: Feedpress, project: Project, tmp_path: Path, args: list[str]
) -> None:
    project.post("alpha", "future", date="2027-01-15T09:00:00Z", id="urn:uuid:future")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = feedpress(*(a.format(config=project.config_path) for a in args), cwd=elsewhere)
    assert run.exit_code == 0, run.output
    assert [item["id"] for item in feed_items(project.out)] == ["urn:uuid:future"]
    assert list(elsewhere.iterdir()) == []


def test_paths_in_the_config_are_relative_to_its_folder(
    feedpress: Feedpress, project: Project, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    site.mkdir()
    data = copy.deepcopy(BASE_CONFIG)
    data.update(posts_dir="content/posts", output_dir="build/feeds")
    (site / "feedpress.yaml").write_text(yaml.safe_dump(data), "utf-8")
    post = site / "content" / "posts" / "alpha" / "one.md"
    post.parent.mkdir(parents=True)
    post.write_text("---\ntitle: One\ndate: 2026-11-01\nid: urn:uuid:1\n---\nBody.\n", "utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    for command in ("check", "build"):
        run = feedpress("--config", "../site/feedpress.yaml", "--now", NOW, command,
                        cwd=elsewhere)
        assert run.exit_code == 0, run.output
    assert [item["id"] for item in feed_items(site / "build" / "feeds")] == ["urn:uuid:1"]
    assert list(elsewhere.iterdir()) == []


# --- exit codes and errors ------------------------------------------------------------


@pytest.mark.parametrize("command", [
    ["build"], ["check"], ["pin-ids"], ["new", "--blog", "alpha", "Title"],
])
def test_an_unknown_config_key_exits_1_naming_the_key(
    feedpress: Feedpress, project: Project, command: list[str]
) -> None:
    data = copy.deepcopy(BASE_CONFIG)
    data["theme"] = "dark"
    data["site"]["colour"] = "red"
    project.write_config(data)
    before = snapshot(project.root)
    run = feedpress(*command)
    assert run.exit_code == 1, run.output
    assert_no_traceback(run)
    lines = {line.removeprefix("error: ") for line in run.stderr.splitlines()}
    assert "feedpress.yaml:25: theme: unknown key" in lines, run.stderr
    assert "feedpress.yaml:19: site.colour: unknown key" in lines, run.stderr
    assert snapshot(project.root) == before


def test_invalid_yaml_in_the_config_exits_1(feedpress: Feedpress, project: Project) -> None:
    project.write_config("site: [unclosed\n")
    run = feedpress("build")
    assert run.exit_code == 1, run.output
    assert run.stderr.startswith("error: feedpress.yaml:")
    assert "invalid YAML" in run.stderr
    assert_no_traceback(run)


def test_a_missing_config_exits_1_naming_it(
    feedpress: Feedpress, tmp_path: Path
) -> None:
    empty = tmp_path.parent / f"{tmp_path.name}-empty"  # no project above it
    empty.mkdir()
    run = feedpress("build", cwd=empty)
    assert run.exit_code == 1, run.output
    assert "feedpress.yaml: not found in this folder or any folder above" in run.stderr
    assert "feedpress init DIR" in run.stderr
    assert_no_traceback(run)
    named = feedpress("build", "--config", str(empty / "feedpress.yaml"), cwd=empty)
    assert named.exit_code == 1 and "feedpress.yaml: cannot read config" in named.stderr


def test_the_config_is_found_from_a_folder_below_it(feedpress: Feedpress, project: Project) -> None:
    project.post("alpha", "one")
    deep = project.posts / "alpha"
    run = feedpress("build", cwd=deep)
    assert run.exit_code == 0, run.output
    assert (project.out / "rss.xml").is_file()


@pytest.mark.parametrize("args", [
    ["build", "--bogus"], ["check", "--bogus"], ["pin-ids", "--bogus"],
    ["new", "--blog", "alpha", "--bogus", "Title"], ["init", "--bogus", "x"],
    ["--bogus", "build"], ["publish"], ["new", "Title"],
])
def test_usage_errors_exit_2(feedpress: Feedpress, project: Project, args: list[str]) -> None:
    before = snapshot(project.root)
    run = feedpress(*args)
    assert run.exit_code == 2, run.output
    [line] = run.stderr.splitlines()  # one line, which says what it is, as every error does
    assert line.startswith("error: ") and line.endswith(" --help)"), line
    assert_no_traceback(run)
    assert snapshot(project.root) == before


@pytest.mark.parametrize("args", [
    ["--now", "next tuesday", "build"],
    ["build", "--now", "2026-13-01"],
    ["check", "--now", "2026-11-25T25:00"],
    ["--now", "", "pin-ids"],
])
def test_a_bad_now_value_exits_2(feedpress: Feedpress, project: Project,
                                 args: list[str]) -> None:
    project.post("alpha", "one")
    before = snapshot(project.root)
    run = feedpress(*args)
    assert run.exit_code == 2, run.output
    assert "Invalid value for '--now'" in run.stderr
    assert "is not an ISO 8601 time" in run.stderr
    assert_no_traceback(run)
    assert snapshot(project.root) == before


@pytest.mark.parametrize("now", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:30:00+01:00"])
def test_a_now_past_the_ends_of_time_exits_2(feedpress: Feedpress, project: Project,
                                            now: str) -> None:
    """Moved to UTC it overflowed: a traceback (second attacker round)."""
    run = feedpress("--now", now, "check")
    assert run.exit_code == 2, run.output
    assert "is out of range" in run.stderr
    assert_no_traceback(run)


@pytest.mark.parametrize("command", ["build", "check", "pin-ids", "new", "init"])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_every_command_has_help_with_an_example(
    feedpress: Feedpress, command: str, flag: str
) -> None:
    run = feedpress(command, flag)
    assert run.exit_code == 0, run.output
    # The program name in "Usage:" comes from how Python was started; the rest is fixed.
    assert run.stdout.startswith("Usage: ")
    assert f" {command} [OPTIONS]" in run.stdout.splitlines()[0]
    example = run.stdout.split("Example:", 1)
    assert len(example) == 2, run.stdout
    assert f"feedpress {command}" in example[1]
    assert "--now" in run.stdout and "--quiet" in run.stdout
    # init makes a project: there is none yet to name with --config
    assert ("--config" in run.stdout) == (command != "init")


def test_the_group_has_help_with_an_example(feedpress: Feedpress) -> None:
    run = feedpress("--help")
    assert run.exit_code == 0, run.output
    assert "Example:" in run.stdout
    for command in ("build", "check", "init", "new", "pin-ids"):
        assert f"  {command} " in run.stdout


@pytest.mark.parametrize(("where", "why"), [
    ("/", "/ is the root folder"), ("/srv", "/srv is a folder right under the root"),
    ("..", "holds the project"),
    ("/etc/feeds", "is inside /etc, the system's"), ("/proc/self", "is inside /proc"),
    (".", "the project's own folder"),
    ("posts", "overlaps the posts folder"), ("posts/alpha", "overlaps the posts folder"),
    ("../../anywhere", "is outside the project"),
    (".feedpress", "inside a .git or .feedpress folder"),
    (".git/public", "inside a .git or .feedpress folder"),
    ('"~"', "is the home folder"), ("~/public", "is outside the project"),
    ("~", "is empty"), ('""', "is empty"), ("feedpress.yaml", "is a file, not a folder"),
    ("email_templates", "overlaps the email templates folder"),
    ("email_templates/public", "overlaps the email templates folder"),
])
def test_an_output_folder_that_could_harm_is_refused(feedpress: Feedpress, project: Project,
                                                     where: str, why: str) -> None:
    project.post("alpha", "one")
    text = project.config_path.read_text(encoding="utf-8") + f"output_dir: {where}\n"
    project.config_path.write_text(text, encoding="utf-8")
    run = feedpress("build")
    assert run.exit_code == 1 and why in run.stderr and "output_dir" in run.stderr, run.output
    assert_no_traceback(run)


def test_the_project_folder_is_not_a_posts_folder(feedpress: Feedpress,
                                                   project: Project) -> None:
    text = project.config_path.read_text(encoding="utf-8") + "posts_dir: .\n"
    project.config_path.write_text(text, encoding="utf-8")
    run = feedpress("check")
    assert run.exit_code == 1, run.output
    lines = run.stderr.splitlines()
    assert any(line.startswith("error: feedpress.yaml:") and
               "is the project's folder or above it" in line and ": posts_dir: " in line
               for line in lines)
    assert "output_dir" not in run.stderr


def test_out_may_leave_the_project_but_not_for_harm(feedpress: Feedpress, project: Project,
                                                    tmp_path: Path) -> None:
    project.post("alpha", "one")
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    assert feedpress("build", "--out", str(elsewhere)).exit_code == 0
    assert (elsewhere / "rss.xml").is_file()
    for where in ("/", str(project.posts), str(project.root), str(project.root / ".feedpress"),
                  str(project.config_path)):
        run = feedpress("build", "--out", where)
        assert run.exit_code == 2 and "--out" in run.stderr, (where, run.output)


def test_a_pipe_among_the_posts_is_an_error_not_a_hang(feedpress: Feedpress,
                                                      project: Project) -> None:
    project.post("alpha", "one")
    os.mkfifo(project.posts / "alpha" / "fifo.md")
    run = feedpress("check")
    assert run.exit_code == 1
    assert "fifo.md: path: is not a regular file (a pipe, socket or device)" in run.stderr


def test_the_manifest_never_removes_through_a_link_or_a_changed_file(
        feedpress: Feedpress, project: Project, tmp_path: Path) -> None:
    project.post("alpha", "one", tags=["gone", "kept", "also-gone"])
    assert feedpress("build").exit_code == 0
    outside = tmp_path / "precious.txt"
    outside.write_text("not feedpress's\n")
    gone, also_gone = project.out / "tags" / "gone", project.out / "tags" / "also-gone"
    (gone / "rss.xml").unlink()
    (gone / "rss.xml").symlink_to(outside)  # the manifest lists it: a link now
    (gone / "atom.xml").write_text("edited by hand\n")  # another size than written
    json_feed = (gone / "feed.json").read_bytes()
    edited = json_feed.replace(b"one", b"two", 1)
    assert edited != json_feed and len(edited) == len(json_feed)
    (gone / "feed.json").write_bytes(edited)  # changed, to the same size
    project.post("alpha", "one", tags=["kept"])
    run = feedpress("build")
    assert run.exit_code == 0, run.output
    assert outside.read_text() == "not feedpress's\n"
    assert (gone / "atom.xml").read_text() == "edited by hand\n"
    assert (gone / "feed.json").read_bytes() == edited
    assert not also_gone.exists()  # as written: removed, and its folder with them
    assert (project.out / "tags" / "kept" / "feed.json").exists()
    assert run.stderr.count("no longer built, but not removed") == 1  # said once, 3 files
    assert "(3 files" in run.stderr


def test_a_file_feedpress_did_not_write_is_written_over_with_a_warning(
        feedpress: Feedpress, project: Project) -> None:
    project.post("alpha", "one", tags=["b"])
    project.out.mkdir()
    (project.out / "rss.xml").write_text("an old tool's feed\n")  # before any build
    first = feedpress("build")
    assert first.exit_code == 0, first.output
    assert "warning: public/rss.xml: written over a file that was not in feedpress's " \
        "manifest" in first.stderr, first.output
    edited = project.out / "tags" / "b" / "rss.xml"
    edited.write_text("edited by hand\n")
    project.post("alpha", "one")
    left = feedpress("build")
    assert "no longer built, but not removed" in left.stderr and edited.exists()
    project.post("alpha", "one", tags=["b"])  # the tag is back: its feed with it
    again = feedpress("build")
    assert "warning: public/tags/b/rss.xml: written over a file that was not in feedpress's " \
           "manifest (changed by hand since, or another tool's)" in again.stderr, again.output
    assert edited.read_text() != "edited by hand\n"
    quiet = feedpress("build")  # its own now: nothing to say
    assert "written over" not in quiet.stderr


def test_warnings_of_one_kind_are_counted_by_file() -> None:
    from feedpress.errors import Severity, grouped

    def warning(name: str, line: int) -> Problem:
        return Problem(Path(name), line, "body", "same thing", Severity.WARNING)

    lines = grouped([warning("a.md", 3), warning("a.md", 9), warning("b.md", 4),
                     Problem(Path("c.md"), 1, "title", "is required")])
    assert lines == [
        "warning: body: same thing (2 files, e.g. a.md:3, b.md:4; `feedpress check` lists "
        "them all)",
        "error: c.md:1: title: is required"]


def test_an_unknown_blog_gets_a_did_you_mean(feedpress: Feedpress, project: Project) -> None:
    project.raw("alhpa/post.md", "---\ntitle: T\ndate: 2026-11-01\n---\nB\n")
    run = feedpress("check")
    assert "blog: unknown blog 'alhpa' (did you mean alpha?)" in run.stderr, run.output
    new = feedpress("new", "--blog", "betta", "Title")
    assert new.exit_code == 2 and "(did you mean beta?)" in new.stderr


def test_the_summary_counts_what_was_not_published_and_says_where_it_went(
        feedpress: Feedpress, project: Project) -> None:
    project.post("alpha", "one", date="2026-11-20T10:00:00Z")
    project.post("alpha", "draft", date="2026-11-20T10:00:00Z", draft=True)
    project.post("alpha", "later", date="2026-12-24T09:30:00Z")
    project.post("beta", "later2", date="2027-01-01T00:00:00Z")
    run = feedpress("build", "--now", NOW)
    line = run.stdout.strip()
    assert line.startswith("1 post published, 1 draft, 2 scheduled (next 2026-12-24 09:30 UTC); "
                           ), line
    assert " feeds and feeds.opml in public: " in line
    again = feedpress("build", "--now", NOW)  # from the last build's memo: the same counts
    assert again.stdout.strip().startswith("1 post published, 1 draft, 2 scheduled (next "
                                           "2026-12-24 09:30 UTC); ")


def test_the_summary_says_one_of_each_in_the_singular() -> None:
    from feedpress.feeds import BuildReport
    from feedpress.feeds.output import Outcome

    one = BuildReport(Outcome(written=[PurePosixPath("rss.xml")]), feeds=1, posts=1, skipped=1,
                      drafts=1).summary("out")
    assert one == ("1 post published, 1 draft, 1 invalid post skipped; 1 feed and feeds.opml "
                   "in out: 1 file written, 0 unchanged, 0 removed; 0.00s")
    none = BuildReport(Outcome(), feeds=2, posts=0, skipped=0).summary("out")
    assert none == ("0 posts published; 2 feeds and feeds.opml in out: 0 files written, "
                    "0 unchanged, 0 removed; 0.00s")


@pytest.mark.parametrize("name", ["x\nerror: forged.md", "red\x1b[31m\x1b[2J.md",
                                  "evil\u202egnp.md", "nel\x85error: forged.md"])
def test_a_hostile_file_name_cannot_forge_or_hide_a_line(feedpress: Feedpress, project: Project,
                                                         name: str) -> None:
    project.raw(f"alpha/{name}", "---\ntitle: T\ndate: 2026-11-01\nimage:\n  url: /i.jpg\n"
                '"odd\\nerror: key": 1\n---\nBody\n')
    project.post("alpha", "plain", image={"url": "/i.jpg"})  # two of a kind: one line for both
    for args in (["check"], ["build"], ["build", "-v"], ["pin-ids"]):
        run = feedpress(*args)
        for line in run.stderr.splitlines():
            assert line.startswith(("error: ", "warning: ")) or line[0].isdigit(), (args, line)
            assert "\x1b" not in line and "\u202e" not in line and "\x85" not in line, line
        assert "forged.md:" not in run.stderr.replace("\\nerror: forged.md", "") \
            .replace("\\x85error: forged.md", ""), run.stderr
    assert repr(name)[1:-1] in feedpress("check").stderr  # shown, escaped as Python writes it


@pytest.mark.parametrize(("text", "shown"), [
    ("posts/ar/حرب.md", "posts/ar/حرب.md"),
    ("می\u200cخواهم", "می\u200cخواهم"),  # Persian's zero-width non-joiner stays
    ("a\u00a0b\u200fc", "a\u00a0b\u200fc"),  # no-break space and a right-to-left mark stay
    ("a\tb\rc\x00", "a\\tb\\rc\\x00"),
    ("x\x7f\x9b2J", "x\\x7f\\x9b2J"),  # DEL, and the one-byte escape sequence opener
    ("a\u2028b\u2029", "a\\u2028b\\u2029"),
    ("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069",
     "\\u202a\\u202b\\u202c\\u202d\\u202e\\u2066\\u2067\\u2068\\u2069"),
])
def test_printable_escapes_what_could_forge_or_hide_a_line(text: str, shown: str) -> None:
    from feedpress.text import printable

    assert printable(text) == shown


def test_quiet_prints_errors_only_and_verbose_every_warning(feedpress: Feedpress,
                                                           project: Project) -> None:
    for slug in ("one", "two"):
        project.post("alpha", slug, date="2026-11-20T10:00:00Z", colour="red")
    quiet = feedpress("build", "--now", NOW, "--quiet")
    assert quiet.exit_code == 0 and quiet.output == "", quiet.output
    assert (project.out / "rss.xml").is_file()
    grouped_run = feedpress("build", "--now", NOW, "--no-cache")
    assert grouped_run.stderr.count("colour: unknown key") == 1  # one line, 2 files
    assert "(2 files, e.g. " in grouped_run.stderr and "; -v lists them all)" in \
        grouped_run.stderr  # which the very command lists, given -v
    verbose = feedpress("build", "--now", NOW, "--no-cache", "-v")
    assert verbose.stderr.count("colour: unknown key") == 2
    project.raw("alpha/bad.md", "---\ntitle: T\n---\nB\n")
    failed = feedpress("check", "-q")
    assert failed.exit_code == 1 and failed.stdout == ""
    assert "error: " in failed.stderr and "warning: " not in failed.stderr
    both = feedpress("check", "-q", "-v")
    assert both.exit_code == 2 and "not both" in both.stderr


def test_a_build_tells_its_progress_stage_by_stage(project: Project) -> None:
    from feedpress.feeds import build

    for n in range(5):
        project.post("alpha", f"p{n}", date="2026-11-20T10:00:00Z")
    heard: list[tuple[str, int, int]] = []
    build(project.config(), datetime.fromisoformat(NOW), cache_path=None, jobs=1,
          progress=lambda stage, done, total: heard.append((stage, done, total)))
    stages = [stage for stage, _, _ in heard]
    assert stages.index("parsing posts") < stages.index("rendering posts") \
        < stages.index("writing feeds")
    for stage in ("parsing posts", "rendering posts", "writing feeds"):
        last = [h for h in heard if h[0] == stage][-1]
        assert last[1] == last[2] > 0, last  # it ends at its total


def test_the_bar_waits_a_second_and_clears_itself(capsys: pytest.CaptureFixture[str]) -> None:
    from feedpress.cli import _BuildProgress

    now = [0.0]
    bar = _BuildProgress(clock=lambda: now[0])
    bar("parsing posts", 1, 10)
    assert capsys.readouterr().err == ""  # a quick build shows nothing
    now[0] = 1.5
    bar("parsing posts", 10, 10)
    bar.finish()
    err = capsys.readouterr().err
    # click drops the ANSI "clear to the end of line" when stderr is not a terminal
    assert "parsing posts [" + "#" * 30 + "] 10/10" in err and err.endswith("\r")


def test_a_build_never_writes_through_a_link_on_the_way(
        feedpress: Feedpress, project: Project, tmp_path: Path) -> None:
    project.post("alpha", "one", tags=["sahel"])
    assert feedpress("build").exit_code == 0
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "rss.xml").write_text("the victim's own\n")
    tag = project.out / "tags" / "sahel"
    shutil.rmtree(tag)
    tag.symlink_to(victim)
    project.post("alpha", "one", title="Changed", tags=["sahel"])
    run = feedpress("build")
    assert run.exit_code == 1, run.output
    assert_no_traceback(run)
    assert "public/tags/sahel: cannot write there (Not a directory): feedpress writes only " \
           "into folders of its own" in run.stderr, run.output
    assert (victim / "rss.xml").read_text() == "the victim's own\n"
    assert sorted(p.name for p in victim.iterdir()) == ["rss.xml"]
    # What the failed build wrote is in the manifest: the next one still knows it as its own.
    manifest = json.loads((project.out / ".feedpress-manifest.json").read_text())["files"]
    for name, entry in manifest.items():
        if name.startswith("tags/sahel/"):
            continue
        data = (project.out / name).read_bytes()
        assert entry["digest"] == blake3(data).hexdigest(), name
    site_feed = (project.out / "rss.xml").read_bytes()
    tag.unlink()
    tag.symlink_to("..")  # a link that stays inside would make a tag's feed the site's
    assert feedpress("build").exit_code == 1
    assert (project.out / "rss.xml").read_bytes() == site_feed
    tag.unlink()
    assert feedpress("build").exit_code == 0  # the link gone, the build goes on
    assert (tag / "rss.xml").is_file()


def test_a_file_name_that_is_not_utf8_is_an_error_not_a_traceback(
        feedpress: Feedpress, project: Project) -> None:
    project.post("alpha", "one")
    name = os.fsdecode(b"bad\xff\xfename.md")
    (project.posts / "alpha" / name).write_text("---\ntitle: x\ndate: 2026-01-01\n---\nb\n")
    for args in (["build"], ["build", "--json"], ["check"], ["build", "--keep-going"]):
        run = feedpress(*args)
        assert_no_traceback(run)
        assert run.exit_code == 1 or args[-1] == "--keep-going", (args, run.output)
        assert "bad\\udcff\\udcfename.md: path: the name is not valid UTF-8" in run.stderr, \
            run.output
    kept = feedpress("build", "--keep-going", "--json")
    assert json.loads(kept.stdout)["problems"][0]["path"].endswith("bad\\udcff\\udcfename.md")


def test_a_link_to_nothing_among_the_posts_is_said_to_be_one(
        feedpress: Feedpress, project: Project) -> None:
    project.post("alpha", "one")
    (project.posts / "alpha" / "gone.md").symlink_to("nowhere.md")
    (project.posts / "alpha" / "loop1.md").symlink_to("loop2.md")
    (project.posts / "alpha" / "loop2.md").symlink_to("loop1.md")
    (project.posts / "alpha" / "here.md").symlink_to(".")
    run = feedpress("check")
    assert "gone.md: path: is a link to nothing (nowhere.md does not exist); not read" \
        in run.stderr, run.output
    for loop in ("loop1.md", "loop2.md"):
        assert f"{loop}: path: is a loop of links; not read" in run.stderr, run.output
    assert "here.md: path: is a link to a folder, which is not followed" in run.stderr


def test_a_damaged_manifest_is_a_warning_and_the_build_goes_on(feedpress: Feedpress,
                                                               project: Project) -> None:
    project.post("alpha", "one")
    assert feedpress("build").exit_code == 0
    manifest = project.out / ".feedpress-manifest.json"
    manifest.write_text('{"files": {"x.xml": {"recipe": "r", "size": 1e400}}}')
    run = feedpress("build")
    assert run.exit_code == 0, run.output
    assert_no_traceback(run)
    assert "warning: public/.feedpress-manifest.json: 1 of its entries are not as feedpress " \
           "writes them" in run.stderr
    assert "x.xml" not in manifest.read_text()  # made anew from what the build wrote
    assert feedpress("build").stderr == ""


def test_init_neither_overwrites_a_post_nor_writes_through_a_link(
        feedpress: Feedpress, tmp_path: Path) -> None:
    folder = tmp_path / "newsroom"
    news = folder / "posts" / "news"
    news.mkdir(parents=True)
    today = datetime.now(UTC).date().isoformat()
    mine = news / f"{today}-welcome.md"
    mine.write_text("my own post\n")
    victim = tmp_path / "victim"
    victim.mkdir()
    (folder / "email_templates").symlink_to(victim)
    run = feedpress("init", "newsroom", cwd=tmp_path)
    assert run.exit_code == 0, run.output
    assert_no_traceback(run)
    assert mine.read_text() == "my own post\n"
    assert f"warning: newsroom/posts/news/{today}-welcome.md: already there: left as it is" \
        in run.stderr
    assert list(victim.iterdir()) == []
    assert "warning: newsroom/email_templates/base.html: not written: email_templates is a " \
           "link" in run.stderr
    assert (folder / "feedpress.yaml").is_file()


def test_a_failed_build_heeds_quiet_and_verbose(feedpress: Feedpress, project: Project) -> None:
    for slug in ("one", "two"):
        project.post("alpha", slug, colour="red")
    project.raw("alpha/bad.md", "---\ntitle: T\n---\nB\n")
    plain = feedpress("build")
    assert plain.exit_code == 1 and plain.stderr.count("colour: unknown key") == 1
    quiet = feedpress("build", "-q")
    assert quiet.exit_code == 1 and "colour" not in quiet.stderr, quiet.output
    assert quiet.stderr.splitlines() == [
        "error: posts/alpha/bad.md:1: date: is required",
        "error: 1 error(s) in posts; nothing was written."]
    verbose = feedpress("build", "-v")
    assert verbose.exit_code == 1 and verbose.stderr.count("colour: unknown key") == 2
    project.raw("alpha/zz-bad.md", "---\ntitle: T\n---\nB\n")
    lines = feedpress("build").stderr.splitlines()  # errors first, then warnings together
    assert [line.split(":", 2)[:2] for line in lines[:2]] == [
        ["error", " posts/alpha/bad.md"], ["error", " posts/alpha/zz-bad.md"]]
    assert "colour: unknown key" in lines[2] and lines[3].startswith("error: 2 error(s)")


def test_out_reads_a_tilde_as_the_home_folder(feedpress: Feedpress, project: Project,
                                               tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    project.post("alpha", "one")
    run = feedpress("build", "--out=~/feeds")  # no shell expands a ~ after "="
    assert run.exit_code == 0, run.output
    assert (home / "feeds" / "rss.xml").is_file() and not (project.root / "~").exists()
    assert feedpress("build", "--out=~").exit_code == 2


def test_an_output_folder_that_is_a_link_to_the_web_servers_is_the_projects(
        feedpress: Feedpress, project: Project, tmp_path: Path) -> None:
    served = tmp_path / "srv-www"
    served.mkdir()
    project.out.symlink_to(served)
    project.post("alpha", "one")
    run = feedpress("build")
    assert run.exit_code == 0, run.output
    assert (served / "rss.xml").is_file() and project.out.is_symlink()
    for odd in ("public/.GIT/x", ".Feedpress"):
        text = project.config_path.read_text(encoding="utf-8") + f"output_dir: {odd}\n"
        project.config_path.write_text(text, encoding="utf-8")
        refused = feedpress("check")
        assert refused.exit_code == 1 and "inside a .git or .feedpress folder" in refused.stderr
        project.config_path.write_text(text.replace(f"output_dir: {odd}\n", ""), "utf-8")


def test_new_and_pin_ids_keep_to_the_posts_folder_and_to_what_a_file_is(
        feedpress: Feedpress, project: Project, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(project.posts / "beta", ignore_errors=True)
    project.posts.mkdir(exist_ok=True)
    (project.posts / "beta").symlink_to(elsewhere)
    run = feedpress("new", "--blog", "beta", "Hello there", "--now", NOW)
    assert run.exit_code == 1 and "cannot write there" in run.stderr, run.output
    assert list(elsewhere.iterdir()) == []
    (project.posts / "beta").unlink()
    (project.posts / "alpha").mkdir(parents=True, exist_ok=True)
    (project.posts / "alpha" / "2026-11-25-hello.md").symlink_to("nowhere.md")
    dangling = feedpress("new", "--blog", "alpha", "Hello", "--now", NOW)
    assert dangling.exit_code == 2 and "already exists" in dangling.stderr
    real = project.raw("alpha/real.md", "---\ntitle: T\ndate: 2026-11-01\n---\nB\n")
    real.chmod(0o600)
    (project.posts / "alpha" / "2026-11-25-hello.md").unlink()
    (project.posts / "alpha" / "linked.md").symlink_to("real.md")
    pinned = feedpress("pin-ids")
    assert pinned.exit_code == 1 and "linked.md: a link to another post's file" in \
        pinned.stderr, pinned.output  # the link's own id would go into real.md
    assert (project.posts / "alpha" / "linked.md").is_symlink()
    assert "id: " in real.read_text() and oct(real.stat().st_mode & 0o777) == "0o600"


def test_init_ci_never_writes_through_a_linked_github_folder(feedpress: Feedpress,
                                                              project: Project,
                                                              tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (project.root / ".github").symlink_to(elsewhere)
    run = feedpress("init", str(project.root), "--ci", "github")
    assert run.exit_code == 1 and "cannot write there" in run.stderr, run.output
    assert list(elsewhere.iterdir()) == []


def test_pin_ids_never_pins_through_a_link_to_another_post(feedpress: Feedpress,
                                                           project: Project) -> None:
    real = project.raw("alpha/real.md", "---\ntitle: T\ndate: 2026-11-01\n---\nB\n")
    (project.posts / "alpha" / "alias.md").symlink_to("real.md")
    run = feedpress("pin-ids")
    assert run.exit_code == 1, run.output
    assert "alias.md: a link to another post's file: its id is not pinned" in run.stderr
    assert real.read_text().count("id: ") == 1 and "alpha/real" in real.read_text()


def test_a_link_to_the_output_folder_repointed_mid_build_moves_nothing(
        project: Project, tmp_path: Path) -> None:
    """The output folder is resolved once: where its link points later is not followed."""
    from feedpress.feeds import output

    served, victim = tmp_path / "served", tmp_path / "victim"
    served.mkdir()
    victim.mkdir()
    project.out.symlink_to(served)
    sink = output.Output(project.out)
    project.out.unlink()
    project.out.symlink_to(victim)  # re-pointed once the build has begun
    sink.put(PurePosixPath("tags/x/rss.xml"), b"<rss/>")
    sink.finish()
    assert list(victim.iterdir()) == []
    assert (served / "tags" / "x" / "rss.xml").read_bytes() == b"<rss/>"


def test_the_link_in_the_way_is_the_one_named(feedpress: Feedpress, project: Project,
                                               tmp_path: Path) -> None:
    project.post("alpha", "one", tags=["sahel"])
    assert feedpress("build").exit_code == 0
    shutil.rmtree(project.out / "tags")
    (project.out / "tags").symlink_to(tmp_path)
    run = feedpress("build", "--no-cache")
    assert run.exit_code == 1
    assert run.stderr.startswith("error: public/tags: cannot write there (Not a directory)"), \
        run.stderr


def test_new_cuts_a_long_titles_slug_after_a_word(feedpress: Feedpress, project: Project) -> None:
    title = " ".join(["Переговоры"] * 12) + " о прекращении огня"
    run = feedpress("new", "--blog", "alpha", title, "--now", NOW)
    assert run.exit_code == 0, run.output
    made = next((project.posts / "alpha").glob("*.md"))
    slug = made.name.removeprefix("2026-11-25-").removesuffix(".md")
    assert slug == "-".join(["переговоры"] * 5) and len(slug) <= 60
    long_slug = feedpress("new", "--blog", "alpha", "T", "--slug", "я" * 120, "--now", NOW)
    assert long_slug.exit_code == 2 and "too long for a file name" in long_slug.stderr


def test_a_subscriber_list_that_cannot_be_read_is_an_error_not_an_empty_list(
    feedpress: Feedpress, tmp_path: Path
) -> None:
    assert feedpress("init", "newsroom", cwd=tmp_path).exit_code == 0
    folder = tmp_path / "newsroom"
    (folder / "subscribers.csv").unlink()
    listed = feedpress("subscribers", "list", cwd=folder)
    assert listed.exit_code == 1, listed.output
    assert "error: subscribers.csv: subscribers: cannot read" in listed.stderr


def test_an_empty_out_is_a_usage_error_not_the_current_folder(
    feedpress: Feedpress, tmp_path: Path
) -> None:
    assert feedpress("init", "newsroom", cwd=tmp_path).exit_code == 0
    built = feedpress("build", "--out", "", cwd=tmp_path / "newsroom")
    assert built.exit_code == 2
    assert "'--out': is empty" in built.stderr and "project's own folder" not in built.stderr


def test_out_may_not_be_the_email_templates_folder(feedpress: Feedpress,
                                                   project: Project) -> None:
    project.post("alpha", "one")
    run = feedpress("build", "--out", "email_templates")
    assert run.exit_code == 2 and "overlaps the email templates folder" in run.stderr
    assert not (project.root / "email_templates" / "rss.xml").exists()


def test_pin_ids_never_writes_a_post_swapped_since_it_was_read(
        project: Project, tmp_path: Path) -> None:
    """A post swapped, after it was loaded, for a link to a file outside the posts folder,
    or for a pipe: pinning its id must neither write that file nor hang (second attacker
    round: the outside file was overwritten)."""
    from feedpress.errors import FeedpressError
    from feedpress.feeds import load
    from feedpress.scaffold import pin_id

    path = project.raw("alpha/victim.md", "---\ntitle: T\ndate: 2026-11-01\n---\nB\n")
    from conftest import NOW as CLOCK

    post = next(p for p in load(project.config(), CLOCK).valid if p.path == path)
    precious = tmp_path / "precious.md"
    precious.write_text("PRECIOUS")
    moved = tmp_path / "victim.md"
    path.rename(moved)
    path.symlink_to(precious)
    with pytest.raises(FeedpressError):
        pin_id(post)
    assert precious.read_text() == "PRECIOUS"
    path.unlink()
    os.mkfifo(path)
    with pytest.raises(FeedpressError):
        pin_id(post)  # would block for ever on a plain open
    path.unlink()
    moved.rename(path)
    pin_id(post)  # the same file back: pinned
    assert "id: " in path.read_text()


def test_the_installed_command_says_all_it_has_to_and_keeps_its_exit_code(
        project: Project) -> None:
    """`python -m feedpress` (what the `feedpress` script runs) leaves without Python's
    teardown: what it printed must still all arrive, and its exit code be main's."""
    import subprocess

    project.post("alpha", "hello", summary="Hi.")

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "feedpress", "--config",
                               str(project.config_path), *args], capture_output=True,
                              text=True, timeout=60, check=False)

    built = command("--now", NOW, "build", "--json")
    assert built.returncode == 0, built.stderr
    assert json.loads(built.stdout)["build"]["posts"] == 1  # the whole object, to its last brace
    assert SUMMARY.match(command("--now", NOW, "build").stdout.strip())
    refused = command("build", "--out", "")
    assert refused.returncode == 2
    assert "--out" in refused.stderr
    project.raw("alpha/broken.md", "---\ntitle: [\n---\n")
    failed = command("--now", NOW, "build")
    assert failed.returncode == 1
    assert failed.stderr.startswith("error: ")
    # Started with its output closed (`feedpress build >&-`): Python gives it no stream.
    closed = subprocess.run([sys.executable, "-m", "feedpress", "--config",
                             str(project.config_path), "bogus"], stderr=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, timeout=60, check=False,
                            preexec_fn=lambda: os.close(2))
    assert closed.returncode == 2


def test_the_command_list_says_what_each_command_does_in_full(feedpress: Feedpress) -> None:
    """click cuts a long first sentence short with "..." (six of eleven were cut)."""
    run = feedpress("--help")
    commands = run.stdout.split("Commands:", 1)[1].strip().splitlines()
    assert len(commands) >= 11
    assert [line for line in commands if line.endswith("...")] == []


def test_feedpress_alone_shows_its_help(feedpress: Feedpress) -> None:
    """It came out as one 'error:' line holding the whole help (second attacker round)."""
    run = feedpress()
    assert run.exit_code == 2
    assert run.stdout.startswith("Usage: ") and "Commands:" in run.stdout
    assert "error:" not in run.output


def test_a_command_started_with_its_output_closed_still_builds(project: Project) -> None:
    """`feedpress build 2>&-`: the progress bar asked a stream that is None if it was a
    terminal, and the build failed (second attacker round)."""
    import subprocess

    project.post("alpha", "hello")
    run = subprocess.run([sys.executable, "-m", "feedpress", "--config",
                          str(project.config_path), "--now", NOW, "build"],
                         stdout=subprocess.DEVNULL, timeout=60, check=False,
                         preexec_fn=lambda: os.close(2))
    assert run.returncode == 0
    assert (project.out / "rss.xml").is_file()


def test_output_to_a_full_disk_is_one_error_line(project: Project) -> None:
    """`feedpress check --json > file` on a full disk printed click's traceback."""
    import subprocess

    project.post("alpha", "hello")
    with open("/dev/full", "w") as full:  # Linux's always-full device
        run = subprocess.run([sys.executable, "-m", "feedpress", "--config",
                              str(project.config_path), "--now", NOW, "check", "--json"],
                             stdout=full, stderr=subprocess.PIPE, text=True, timeout=60,
                             check=False)
    assert run.returncode == 1
    assert "error: cannot write the output: No space left on device" in run.stderr
    assert "Traceback" not in run.stderr
