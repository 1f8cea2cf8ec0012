"""The unsubscribe endpoint, served for real on loopback by waitress as
`feedpress serve-unsubscribe` serves it, and the subscribers commands."""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from conftest import BASE_CONFIG, NOW, Project
from feedpress.cli import main
from feedpress.mail import UnsubscribeApp, tokens
from feedpress.mail.ledger import Place, open_ledger
from feedpress.mail.server import make_server

SECRET = b"endpoint test secret, 32 bytes or more"
LISTS: dict[str, Any] = {"blogs.news.example.org": "digest",
                         "alerts.blogs.news.example.org": "alerts"}


LOG: list[str] = []


@contextmanager
def serving(app: UnsubscribeApp) -> Iterator[int]:
    """`app` on waitress on a free loopback port, as serve-unsubscribe runs it."""
    server = make_server(app, "127.0.0.1", 0, 4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield int(server.effective_port)
    finally:
        server.close()
        thread.join(5)


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    state = tmp_path / "state.db"
    LOG.clear()
    app = UnsubscribeApp([SECRET], Place(state), LISTS, clock=lambda: NOW, log=LOG.append)
    with serving(app) as port:
        yield f"http://127.0.0.1:{port}/unsubscribe", state


def request(url: str, method: str = "GET", body: bytes | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, data=body, method=method)
    if body is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=5) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def suppressed(state: Path) -> list[tuple[str, str]]:
    if not state.exists():
        return []
    with open_ledger(Place(state), NOW) as ledger:
        return [(a, s) for a, s, _, _ in ledger.suppressions()]


def test_get_shows_a_confirmation_and_changes_nothing(endpoint: tuple[str, Path]) -> None:
    url, state = endpoint
    token = tokens.make(SECRET, "Ana@Example.org", "blogs.news.example.org")
    status, page = request(f"{url}?token={token}")
    assert status == 200
    assert "ana@example.org" in page and "<form" in page and 'method="post"' in page
    assert suppressed(state) == []


def test_one_click_post_unsubscribes_that_stream_only(endpoint: tuple[str, Path]) -> None:
    url, state = endpoint
    token = tokens.make(SECRET, "ana@example.org", "alerts.blogs.news.example.org")
    status, page = request(f"{url}?token={token}", "POST", b"List-Unsubscribe=One-Click")
    assert status == 200 and "unsubscribed" in page
    assert suppressed(state) == [("ana@example.org", "alerts")]


def test_a_repeated_post_answers_200_again(endpoint: tuple[str, Path]) -> None:
    url, state = endpoint
    token = tokens.make(SECRET, "ana@example.org", "blogs.news.example.org")
    first = request(f"{url}?token={token}", "POST", b"List-Unsubscribe=One-Click")
    second = request(f"{url}?token={token}", "POST", b"List-Unsubscribe=One-Click")
    assert first[0] == second[0] == 200
    assert suppressed(state) == [("ana@example.org", "digest")]


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_tampered_token_gets_400_and_changes_nothing(endpoint: tuple[str, Path],
                                                       method: str) -> None:
    url, state = endpoint
    good = tokens.make(SECRET, "ana@example.org", "blogs.news.example.org")
    forged = tokens.make(SECRET, "bob@example.org", "blogs.news.example.org")
    spliced = good.split(".")[0] + "." + forged.split(".")[1]
    other_key = tokens.make(b"another key", "ana@example.org", "blogs.news.example.org")
    for token in (spliced, other_key, good[:-3], "", "x.y"):
        body = b"List-Unsubscribe=One-Click" if method == "POST" else None
        status, _ = request(f"{url}?token={token}", method, body)
        assert status == 400, token
    assert suppressed(state) == []


def test_a_token_for_an_unknown_list_is_refused(endpoint: tuple[str, Path]) -> None:
    url, state = endpoint
    token = tokens.make(SECRET, "ana@example.org", "someone-elses.example.org")
    assert request(f"{url}?token={token}", "POST", b"")[0] == 400
    assert suppressed(state) == []


def run_cli(*args: str) -> int:
    try:
        main(list(args))
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_unsubscribe_and_resubscribe_by_hand(project: Project,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    project.write_config({**BASE_CONFIG, "email": {"subscribers": "subs.csv"}})
    (project.root / "subs.csv").write_text("email,name\nana@example.org,Ana\n", "utf-8")
    config = ["--config", str(project.config_path), "--now", "2026-11-25T12:00Z"]
    assert run_cli("subscribers", "unsubscribe", "ANA@example.org", "--stream", "alerts",
                   *config) == 0
    assert suppressed(project.root / ".feedpress" / "state.db") == [
        ("ana@example.org", "alerts")]
    capsys.readouterr()
    assert run_cli("subscribers", "list", *config) == 0
    assert "ana@example.org\tAna\tdigest\n" in capsys.readouterr().out
    assert run_cli("subscribers", "resubscribe", "ana@example.org", *config) == 0
    assert suppressed(project.root / ".feedpress" / "state.db") == []


def test_subscribers_check_exits_1_on_a_bad_row(project: Project,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    project.write_config({**BASE_CONFIG, "email": {"subscribers": "subs.csv"}})
    csv_path = project.root / "subs.csv"
    csv_path.write_text("email,name\nana@example.org,Ana\nnot-an-address,X\n", "utf-8")
    config = ["--config", str(project.config_path)]
    assert run_cli("subscribers", "check", *config) == 1
    assert "subs.csv:3: warning: email:" in capsys.readouterr().err
    csv_path.write_text("email,name\nana@example.org,Ana\n", "utf-8")
    assert run_cli("subscribers", "check", *config) == 0


def test_export_says_what_each_subscriber_gets(project: Project,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    project.write_config({**BASE_CONFIG, "email": {"subscribers": "subs.csv"}})
    (project.root / "subs.csv").write_text(
        "email,name,blogs,tags,alerts\nana@example.org,Ana,alpha,,no\n", "utf-8")
    assert run_cli("subscribers", "export", "--config", str(project.config_path)) == 0
    assert capsys.readouterr().out.splitlines() == [
        "email,name,blogs,tags,alerts,gets", "ana@example.org,Ana,alpha,,no,digest"]
