"""`--json`: one JSON object on stdout, valid against the schema printed in the README.

The schema is read from the README itself (between its json-schema markers), so the
block a reader sees is the one every output here is validated against.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from conftest import NOW, ROOT, Project
from smtp_servers import Mailbox, serve
from test_send import (
    Run,
    address,
    configure,
    digest_posts,
    digest_recipients,
    feedpress,
    iso,
    population,
    write_subscribers,
)

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def readme_schema() -> dict[str, Any]:
    text = (ROOT / "README.md").read_text("utf-8")
    found = re.search(r"<!-- json-schema:start -->\s*```json\n(.*?)```\s*"
                      r"<!-- json-schema:end -->", text, re.DOTALL)
    assert found, "the README has no JSON schema block"
    schema: dict[str, Any] = json.loads(found.group(1))
    jsonschema.Draft202012Validator.check_schema(schema)
    return schema


VALIDATOR = jsonschema.Draft202012Validator(
    readme_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDPRESS_SECRET", "test secret: never used for real mail")


def parsed(run: Run) -> dict[str, Any]:
    """stdout as the one JSON object it must be, checked against the schema."""
    result: dict[str, Any] = json.loads(run.out)  # fails on anything else in stdout
    VALIDATOR.validate(result)
    assert result["exit_code"] == run.code and result["ok"] == (run.code == 0)
    return result


def test_build_prints_its_files_and_counts(project: Project) -> None:
    project.post("alpha", "one", tags=["Sahel"])
    run = feedpress(project, "build", "--json")
    result = parsed(run)
    assert result["command"] == "build"
    assert result["build"]["posts"] == 1 and result["build"]["output"].endswith("public")
    assert "alpha/rss.xml" in result["build"]["written"]
    assert result["build"]["unchanged"] == 0
    assert "files written" in run.err  # the summary, for a person, on stderr
    again = parsed(feedpress(project, "build", "--json"))
    assert again["build"]["written"] == [] and again["build"]["unchanged"] > 0


def test_build_counts_drafts_and_scheduled_posts_with_the_next_due(project: Project) -> None:
    project.post("alpha", "one")
    project.post("alpha", "kept-back", draft=True)
    project.post("alpha", "later", date=iso(NOW + timedelta(days=2)))
    project.post("alpha", "soon", date=iso(NOW + timedelta(hours=3)))
    result = parsed(feedpress(project, "build", "--json"))["build"]
    assert (result["posts"], result["drafts"], result["scheduled"]) == (1, 1, 2)
    assert result["next_due"] is not None
    assert datetime.fromisoformat(result["next_due"]) == NOW + timedelta(hours=3)
    project.post("alpha", "soon", date=iso(NOW - timedelta(hours=3)))
    project.post("alpha", "later", date=iso(NOW - timedelta(hours=2)))
    none_due = parsed(feedpress(project, "build", "--json"))["build"]
    assert (none_due["posts"], none_due["scheduled"], none_due["next_due"]) == (3, 0, None)


def test_a_previews_subscriber_problems_are_problems_not_notes(project: Project,
                                                              tmp_path: Path) -> None:
    project.post("alpha", "flash", title="Flash", breaking=True,
                 date=iso(NOW - timedelta(hours=1)))
    write_subscribers(project, [("a@example.org", "A", "", "", "yes"),
                                ("not an address", "B", "", "", "yes")])
    configure(project, transport="maildir")
    run = feedpress(project, "alert", "--preview", str(tmp_path / "p"), "--json")
    result = parsed(run)
    assert [(p["path"].endswith("subscribers.csv"), p["line"], p["field"], p["severity"])
            for p in result["problems"]] == [(True, 3, "email", "warning")]
    assert not any("subscribers.csv" in note for note in result["preview"]["notes"])
    said = [line for line in run.err.splitlines() if "subscribers.csv" in line]
    assert len(said) == 1 and said[0].startswith("warning: ") and ":3: email: " in said[0]


def test_build_check_says_what_would_change_and_fails(project: Project) -> None:
    project.post("alpha", "one")
    project.build()
    project.post("alpha", "two")
    run = feedpress(project, "build", "--check", "--json")
    result = parsed(run)
    assert run.code == 1 and result["ok"] is False
    assert "alpha/rss.xml" in result["build"]["written"]
    assert "would change: alpha/rss.xml" in run.err


def test_invalid_posts_are_an_error_object_with_every_problem(project: Project) -> None:
    project.raw("alpha/bad.md", "---\ntitle: [\n---\nBody\n")
    project.post("alpha", "nodate", date="not a date")
    run = feedpress(project, "build", "--json")
    result = parsed(run)
    assert run.code == 1 and result["error"] == "2 error(s) in posts; nothing was written."
    assert {Path(p["path"]).name for p in result["problems"]} == {"bad.md", "nodate.md"}
    assert all(p["severity"] == "error" for p in result["problems"])


def test_a_config_error_is_an_error_object(project: Project) -> None:
    project.write_config({"site": {"title": "x"}})
    result = parsed(feedpress(project, "check", "--json"))
    assert result["command"] == "check" and result["exit_code"] == 1
    assert any(p["field"] for p in result["problems"])


def test_check_counts_errors_and_warnings(project: Project) -> None:
    project.post("alpha", "one")
    result = parsed(feedpress(project, "check", "--json"))
    assert result["check"] == {"errors": 0, "warnings": 1}  # the id is not pinned
    (warning,) = result["problems"]
    assert warning["field"] == "id" and warning["line"] and warning["severity"] == "warning"


def test_a_send_reports_counts_and_reasons(project: Project) -> None:
    digest_posts(project)
    write_subscribers(project, population(10))
    box = Mailbox(temporary={address(0)})
    with serve(box) as port:
        configure(project, port, smtp={"retries": 0})
        run = feedpress(project, "digest", "--send", "--json")
        box.temporary.clear()
        again = feedpress(project, "digest", "--send", "--json",
                          now=NOW + timedelta(minutes=5))
    result = parsed(run)
    send = result["send"]
    assert run.code == 3 and send["mode"] == "send" and send["due"] is True
    assert (send["sent"], send["pending"]) == (len(digest_recipients(10)) - 1, 1)
    assert send["reasons"] == [{"status": "pending", "count": 1,
                                "reason": "451 4.3.0 greylisted, try again later"}]
    assert "sending" in run.err and "sent," in run.err
    second = parsed(again)["send"]
    assert second["sent"] == 1 and second["skipped"] == len(digest_recipients(10)) - 1


def test_nothing_due_dry_runs_and_test_messages(project: Project, tmp_path: Path) -> None:
    write_subscribers(project, population(5))
    configure(project, transport="maildir")
    project.post("alpha", "old", date=iso(NOW - timedelta(days=30)))
    nothing = parsed(feedpress(project, "digest", "--send", "--json"))
    assert nothing["send"] == {"mode": "send", "due": False}
    digest_posts(project)
    dry = parsed(feedpress(project, "digest", "--dry-run", str(tmp_path / "d"), "--json"))
    assert dry["send"]["mode"] == "dry-run" and dry["send"]["sent"] == len(digest_recipients(5))
    test = parsed(feedpress(project, "digest", "--to", "editor@example.org", "--json"))
    assert test["send"]["mode"] == "to" and test["send"]["sent"] == 1


def test_a_preview_lists_its_files_or_why_not(project: Project, tmp_path: Path) -> None:
    project.post("alpha", "flash", title="Flash", breaking=True,
                 date=iso(NOW - timedelta(hours=1)))
    write_subscribers(project, [("b@example.org", "B", "beta", "", "yes"),
                                ("a@example.org", "A", "", "", "yes")])
    configure(project, transport="maildir")
    shown = parsed(feedpress(project, "alert", "--preview", str(tmp_path / "p"), "--json"))
    assert shown["command"] == "alert"
    assert [Path(p).name for p in shown["preview"]["paths"]] == [
        "alert.html", "alert.txt", "alert.eml"]
    skipped = parsed(feedpress(project, "alert", "--preview", str(tmp_path / "q"),
                               "--subscriber", "b@example.org", "--json"))
    assert skipped["preview"]["paths"] == []
    assert "none of its posts is in their blogs and tags" in skipped["preview"]["skipped"]


def test_an_error_in_a_send_is_an_error_object(project: Project) -> None:
    digest_posts(project)
    (project.root / "subscribers.csv").write_text("", encoding="utf-8")
    configure(project, transport="maildir")
    run = feedpress(project, "digest", "--send", "--json")
    result = parsed(run)
    assert run.code == 1 and "the file is empty" in result["error"]
    assert run.err.startswith("error: ")


def test_without_json_stdout_is_for_people(project: Project) -> None:
    project.post("alpha", "one")
    run = feedpress(project, "build")
    with pytest.raises(json.JSONDecodeError):
        json.loads(run.out)
    assert "files written" in run.out


@pytest.mark.parametrize("args", [["build", "--json", "--bogus"],
                                  ["digest", "--send", "--since", "2026-11-01", "--json"],
                                  ["alert", "--json"], ["build", "--json", "--jobs", "0"]])
def test_a_usage_error_prints_its_object_too(project: Project, args: list[str]) -> None:
    project.post("alpha", "one")
    run = feedpress(project, *args)
    result = parsed(run)
    assert run.code == 2 and result["command"] == args[0] and result["error"]


def test_a_subscriber_list_error_lists_its_problems(project: Project) -> None:
    digest_posts(project)
    (project.root / "subscribers.csv").write_text("email;name\na@example.org;A\n", "utf-8")
    configure(project, transport="maildir")
    result = parsed(feedpress(project, "digest", "--send", "--json"))
    assert result["exit_code"] == 1
    assert [p["field"] for p in result["problems"]] == ["email"]
    assert "semicolons" in result["problems"][0]["message"]
