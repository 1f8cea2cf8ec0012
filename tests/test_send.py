"""Sending: `feedpress digest --send` and `feedpress alert --send` against real servers.

Every test sends through a real SMTP server on 127.0.0.1 (aiosmtpd, see
smtp_servers.py) or into a real Maildir, and keeps its ledger in a real
SQLite file, read back here with sqlite3. TLS certificates are made at
test time. The command runs through `feedpress.cli.main(argv)` as a user
runs it, or as `python -m feedpress` in a child process where a test needs
to kill it or to take privileges away from it.
"""

from __future__ import annotations

import contextlib
import ctypes
import email
import email.policy
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import psycopg
import pytest

from conftest import BASE_CONFIG, NOW, Project, run_main
from feedpress.feeds import load
from feedpress.mail.ledger import Place, open_ledger, send_lock
from feedpress.mail.transports import PermanentFailure, SmtpTransport, TemporaryFailure
from feedpress.mailsettings import SmtpSettings
from smtp_servers import PASSWORD, USERNAME, Certificates, Mailbox, make_certificates, serve

SECRET = "test secret: never used for real mail"
SUMMARY = re.compile(r"^(\d+) sent, (\d+) skipped, (\d+) retried, (\d+) bounced, (\d+) pending",
                     re.MULTILINE)
SUBSCRIBERS = 40
# aiosmtpd warns when AUTH is offered without STARTTLS: over implicit TLS, or to loopback
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


# --- running the command ----------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def summary(self) -> tuple[int, int, int, int, int]:
        """(sent, skipped, retried, bounced, pending) from the summary line."""
        found = SUMMARY.search(self.out)
        assert found is not None, f"no summary line in {self.out!r} / {self.err!r}"
        sent, skipped, retried, bounced, pending = (int(g) for g in found.groups())
        return sent, skipped, retried, bounced, pending


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def feedpress(project: Project, *args: str, now: datetime = NOW) -> Run:
    """`feedpress ARGS --config ... --now ...` through the console script's `main`; a first
    `--send` over SMTP starts its ledger with `--new-ledger`, as a user does once."""
    first = "--send" in args and not has_ledger(project)
    argv = [*args, *(["--new-ledger"] if first else []), "--config", str(project.config_path),
            "--now", iso(now)]
    return Run(*run_main(argv))


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEEDPRESS_SMTP_")}
    env["FEEDPRESS_SECRET"] = SECRET
    return env


def child(project: Project, *args: str, now: datetime = NOW) -> list[str]:
    first = "--send" in args and not has_ledger(project)
    return [sys.executable, "-m", "feedpress", *args, *(["--new-ledger"] if first else []),
            "--config", str(project.config_path), "--now", iso(now)]


# --- projects: posts, subscribers, config -----------------------------------------------


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDPRESS_SECRET", SECRET)
    for name in ("FEEDPRESS_SMTP_USERNAME", "FEEDPRESS_SMTP_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return make_certificates(tmp_path_factory.mktemp("certs"))


def configure(project: Project, port: int | None = None, *, transport: str = "smtp",
              smtp: dict[str, Any] | None = None, **block: Any) -> None:
    """An `email:` block that sends to 127.0.0.1:`port`, quickly and without backoff."""
    data: dict[str, Any] = {
        "from": "Test Newsroom <news@news.example.org>",
        "subscribers": "subscribers.csv",
        "transport": transport,
        **block,
    }
    if transport == "smtp":
        data["smtp"] = {"host": "127.0.0.1", "port": port or 25, "security": "none",
                        "timeout": 5, "connections": 2, "retries": 2, "retry_backoff": 0,
                        "max_errors": 1000, **(smtp or {})}
    project.write_config({**BASE_CONFIG, "email": data})


def write_subscribers(project: Project, rows: list[tuple[str, ...]]) -> Path:
    """subscribers.csv with columns email, name, blogs, tags, alerts."""
    lines = ["email,name,blogs,tags,alerts"]
    lines += [",".join(row) for row in rows]
    path = project.root / "subscribers.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def address(n: int) -> str:
    return f"reader{n:03d}@example.org"


def population(n: int = SUBSCRIBERS) -> list[tuple[str, ...]]:
    """Five kinds of subscriber, in turn: everything; alpha only; beta only; a tag no post
    has; everything but no alerts."""
    kinds = [("", "", "yes"), ("alpha", "", "yes"), ("beta", "", "yes"),
             ("", "weather", "yes"), ("", "", "no")]
    return [(address(i), f"Reader {i}", *kinds[i % 5]) for i in range(n)]


def digest_recipients(n: int = SUBSCRIBERS) -> set[str]:
    """Who gets the digest of `digest_posts`: everyone but the 'weather' tag."""
    return {address(i) for i in range(n) if i % 5 != 3}


def alert_recipients(n: int = SUBSCRIBERS) -> set[str]:
    """Who gets an alert for an alpha post: alerts on, and everything or alpha chosen."""
    return {address(i) for i in range(n) if i % 5 in (0, 1)}


def digest_posts(project: Project) -> None:
    """Two posts in the first week's window (one per blog) and one older than it."""
    project.post("alpha", "markets", title="Markets rally", date=iso(NOW - timedelta(days=2)),
                 tags=["economy"])
    project.post("beta", "match", title="Cup final", date=iso(NOW - timedelta(days=1)),
                 tags=["sport"])
    project.post("alpha", "ancient", title="Ancient news", date=iso(NOW - timedelta(days=20)))


def ids(project: Project, *slugs: str) -> list[str]:
    by_slug = {p.slug: p.id for p in load(project.config(), NOW + timedelta(days=30)).published}
    return [by_slug[s] for s in slugs]


def ledger(project: Project) -> sqlite3.Connection:
    return sqlite3.connect(project.root / ".feedpress" / "state.db")


def state_url() -> str:
    """The PostgreSQL ledger the `backend` fixture chose, or "" for the SQLite file."""
    return os.environ.get("FEEDPRESS_STATE_URL", "").strip()


def query(project: Project, sql: str, *args: object) -> list[tuple[Any, ...]]:
    """Rows from the project's ledger, read straight from the database the `backend`
    fixture chose: the SQLite file, or PostgreSQL when FEEDPRESS_STATE_URL is set."""
    url = state_url()
    if url:
        with psycopg.connect(url) as conn:
            return [tuple(row) for row in conn.execute(sql.replace("?", "%s"), args)]
    with contextlib.closing(ledger(project)) as db:
        return list(db.execute(sql, args))


def execute(project: Project, sql: str, *args: object) -> None:
    """Change the project's ledger behind feedpress's back, on the test's engine."""
    url = state_url()
    if url:
        with psycopg.connect(url) as conn:
            conn.execute(sql.replace("?", "%s"), args)
        return
    with contextlib.closing(ledger(project)) as db, db:
        db.execute(sql, args)


def has_ledger(project: Project) -> bool:
    """Whether the project's ledger was made, wherever the `backend` fixture put it (a
    database that cannot be reached has none)."""
    url = state_url()
    if url:
        try:
            with psycopg.connect(url) as conn:
                found = conn.execute("SELECT to_regclass('feedpress_schema')").fetchone()
        except (psycopg.Error, UnicodeError):
            return False
        return found is not None and found[0] is not None
    return (project.root / ".feedpress" / "state.db").exists()


def place(project: Project) -> Place:
    url = state_url()
    return Place(url=url) if url else Place(project.root / ".feedpress" / "state.db")


def statuses(project: Project) -> Counter[str]:
    return Counter(s for (s,) in query(project, "SELECT status FROM deliveries"))


def campaigns(project: Project) -> list[tuple[Any, ...]]:
    """(id, kind, post_id, window_start, window_end, posts, completed?) in order."""
    return [(*row[:6], row[6] is not None) for row in query(
        project, "SELECT id, kind, post_id, window_start, window_end, posts, completed_at "
        "FROM campaigns ORDER BY id")]


def subject_of(data: bytes) -> str:
    message = email.message_from_bytes(data, policy=email.policy.default)
    return str(message["Subject"])


def read_eml(path: Path) -> EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def to_address(message: EmailMessage) -> str:
    return str(message["To"].addresses[0].addr_spec).lower()


def no_traceback(run: Run) -> None:
    assert "Traceback" not in run.err + run.out, run.err


# === digest --send ========================================================================


def test_digest_goes_to_every_eligible_subscriber_once(backend: str, project: Project) -> None:
    digest_posts(project)
    write_subscribers(project, population())
    box = Mailbox()
    with serve(box) as port:
        configure(project, port)
        with open_ledger(place(project), NOW) as store:
            store.suppress(address(0), ("digest",), "unsubscribed")
        run = feedpress(project, "digest", "--send")
        again = feedpress(project, "digest", "--send")

    expected = digest_recipients() - {address(0)}
    assert run.code == 0, run.err
    assert run.summary() == (len(expected), 0, 0, 0, 0)
    assert box.copies() == Counter(dict.fromkeys(expected, 1))
    subjects = {r.recipient: subject_of(r.data) for r in box.snapshot()}
    assert subjects[address(5)] == "Test Newsroom — 2 new posts"  # everything
    assert subjects[address(1)] == "Test Newsroom — 1 new post"  # alpha only
    assert subjects[address(4)] == "Test Newsroom — 2 new posts"  # no alerts, still a digest
    assert all(r.mail_from == "news@news.example.org" for r in box.snapshot())
    # the ledger: one completed campaign of the two posts in the window, one row per address,
    # each carrying the Message-ID the server received
    (campaign,) = campaigns(project)
    assert campaign[1] == "digest" and campaign[6] is True
    assert sorted(json.loads(campaign[5])) == sorted(ids(project, "markets", "match"))
    sent = dict(query(project, "SELECT address, message_id FROM deliveries WHERE status='sent'"))
    assert sent == {r.recipient: r.message()["Message-ID"] for r in box.snapshot()}
    # nothing new since: says so, exit 0, nobody gets another copy
    assert again.code == 0, again.err
    assert "Nothing new to send" in again.out
    assert sum(box.copies().values()) == len(expected)


def test_each_delivery_is_in_the_ledger_before_the_next_message_starts(
        backend: str, project: Project) -> None:
    """With one connection, when the server accepts message k the ledger holds k-1 sends."""
    digest_posts(project)
    write_subscribers(project, population(20))
    seen: list[tuple[int, int]] = []

    def check(count: int) -> None:
        seen.append((count, statuses(project)["sent"]))

    box = Mailbox(on_accept=check)
    with serve(box) as port:
        configure(project, port, smtp={"connections": 1})
        run = feedpress(project, "digest", "--send")
    assert run.code == 0, run.err
    assert len(seen) == len(digest_recipients(20))
    assert seen == [(count, count - 1) for count, _ in seen]
    assert statuses(project) == Counter(sent=len(seen))


def test_a_partial_run_is_resumed_and_new_posts_go_out_beside_it(
        backend: str, project: Project) -> None:
    """A digest still owed to a few is resumed for them alone; it does not hold back the
    next digest, whose window starts where the unfinished one's ended."""
    digest_posts(project)
    write_subscribers(project, population())
    greylisted = {address(i) for i in (0, 1, 5, 6, 10)}
    box = Mailbox(temporary=set(greylisted))
    later, latest = NOW + timedelta(hours=6), NOW + timedelta(days=1)
    with serve(box) as port:
        configure(project, port, smtp={"retries": 1})
        first = feedpress(project, "digest", "--send")
        first_campaigns = campaigns(project)
        # a post published after the first run's window ends
        project.post("alpha", "late", title="Late news", date=iso(NOW + timedelta(hours=1)))
        box.temporary.clear()
        second = feedpress(project, "digest", "--send", now=later)
        second_campaigns = campaigns(project)
        third = feedpress(project, "digest", "--send", now=latest)

    eligible = digest_recipients()
    late_eligible = {address(i) for i in range(SUBSCRIBERS) if i % 5 in (0, 1, 4)}
    # first run: everyone but the greylisted, who were tried twice and left pending
    assert first.code == 3, first.err
    assert first.summary() == (len(eligible) - 5, 0, 5, 0, 5)
    assert all(box.rcpt_tries[a] >= 2 for a in greylisted)
    assert [c[6] for c in first_campaigns] == [False]
    # second run: the first campaign for the pending five, and a new one for the late post
    assert second.code == 0, second.err
    assert second.summary() == (5 + len(late_eligible), len(eligible) - 5, 0, 0, 0)
    assert [c[:6] for c in second_campaigns[:1]] == [c[:6] for c in first_campaigns]
    assert [c[6] for c in second_campaigns] == [True, True]
    new = second_campaigns[1]
    assert new[3] == first_campaigns[0][4]  # window_start == the first window_end
    assert json.loads(new[5]) == ids(project, "late")
    first_digest = [r for r in box.snapshot() if "Late news" not in r.data.decode()]
    assert Counter(r.recipient for r in first_digest) == Counter(dict.fromkeys(eligible, 1))
    late = [r for r in box.snapshot() if "Late news" in r.data.decode()]
    assert Counter(r.recipient for r in late) == Counter(dict.fromkeys(late_eligible, 1))
    assert {subject_of(r.data) for r in late} == {"Test Newsroom — 1 new post"}
    assert third.code == 0 and "Nothing new to send" in third.out


def test_a_subscriber_stuck_pending_holds_back_no_later_digest(
        backend: str, project: Project) -> None:
    """A mailbox that stays full: that one delivery is retried each run, and every new
    digest still goes to everyone else."""
    digest_posts(project)
    write_subscribers(project, population(10))
    box = Mailbox(temporary={address(0)})
    with serve(box) as port:
        configure(project, port, smtp={"retries": 0})
        runs = []
        for day in range(1, 4):
            project.post("alpha", f"day-{day}", title=f"Day {day}",
                         date=iso(NOW + timedelta(days=day, hours=-1)))
            runs.append(feedpress(project, "digest", "--send", now=NOW + timedelta(days=day)))
        assert feedpress(project, "subscribers", "unsubscribe", address(0)).code == 0
        last = feedpress(project, "digest", "--send", now=NOW + timedelta(days=4))
    assert [r.code for r in runs] == [3, 3, 3]
    for day in range(1, 4):
        got = {r.recipient for r in box.snapshot() if f"Day {day}" in r.data.decode()}
        assert got == digest_recipients(10) - {address(0)} - {address(i) for i in (2, 7)}
    assert last.code == 0, last.err  # unsubscribed: nobody is owed those campaigns any more
    assert all(c[6] for c in campaigns(project))


def test_nothing_in_the_window_says_so_and_exits_0(project: Project) -> None:
    project.post("alpha", "ancient", title="Ancient", date=iso(NOW - timedelta(days=20)))
    write_subscribers(project, population(5))
    box = Mailbox()
    with serve(box) as port:
        configure(project, port)
        run = feedpress(project, "digest", "--send")
    assert run.code == 0, run.err
    assert run.out.strip() == "Nothing new to send: no posts in the window."
    assert box.snapshot() == []


# === alert --send =========================================================================


def alert_posts(project: Project) -> None:
    project.post("alpha", "quake", title="Earthquake hits the coast", breaking=True,
                 date=iso(NOW - timedelta(hours=2)), tags=["disaster"])
    project.post("alpha", "yesterday", title="Yesterday's storm", breaking=True,
                 date=iso(NOW - timedelta(hours=30)))
    project.post("beta", "last-week", title="Last week's fire", breaking=True,
                 date=iso(NOW - timedelta(days=6)))
    project.post("alpha", "routine", title="Routine news", date=iso(NOW - timedelta(hours=1)))
    project.post("alpha", "draft", title="Draft flash", breaking=True, draft=True,
                 date=iso(NOW - timedelta(hours=1)))


def test_alert_goes_once_to_subscribers_with_alerts_on_for_fresh_breaking_posts_only(
        backend: str, project: Project) -> None:
    alert_posts(project)
    rows = population()
    rows.append(("tagged@example.org", "Tagged", "", "disaster", "yes"))
    rows.append(("other-tag@example.org", "Other", "", "sport", "yes"))
    write_subscribers(project, rows)
    box = Mailbox()
    with serve(box) as port:
        configure(project, port)
        first = feedpress(project, "alert", "--send")
        second = feedpress(project, "alert", "--send")
        project.post("beta", "flood", title="Flood warning", breaking=True,
                     date=iso(NOW + timedelta(minutes=30)))
        third = feedpress(project, "alert", "--send", now=NOW + timedelta(hours=1))

    quake = alert_recipients() | {"tagged@example.org"}
    flood = {address(i) for i in range(SUBSCRIBERS) if i % 5 in (0, 2)}
    assert first.code == 0, first.err
    assert first.summary() == (len(quake), 0, 0, 0, 0)
    assert second.code == 0 and "Nothing new to send: no breaking posts" in second.out
    assert third.code == 0, third.err
    by_subject: dict[str, Counter[str]] = {}
    for r in box.snapshot():
        by_subject.setdefault(subject_of(r.data), Counter())[r.recipient] += 1
    assert by_subject == {
        "BREAKING: Earthquake hits the coast": Counter(dict.fromkeys(quake, 1)),
        "عاجل: Flood warning": Counter(dict.fromkeys(flood, 1)),  # beta's language: Arabic
    }
    assert all(r.message()["X-Priority"] == "1" for r in box.snapshot())
    assert [(c[1], c[6]) for c in campaigns(project)] == [("alert", True), ("alert", True)]


def test_alert_max_age_is_configurable(project: Project) -> None:
    alert_posts(project)
    write_subscribers(project, [("one@example.org", "One", "", "", "yes")])
    box = Mailbox()
    with serve(box) as port:
        configure(project, port, alert={"max_age": "2d"})
        run = feedpress(project, "alert", "--send")
    assert run.code == 0, run.err
    assert sorted(subject_of(r.data) for r in box.snapshot()) == [
        "BREAKING: Earthquake hits the coast", "BREAKING: Yesterday's storm"]


# === transports ===========================================================================


def test_starttls_with_auth_and_a_ca_file(project: Project, certificates: Certificates,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDPRESS_SMTP_USERNAME", USERNAME)
    monkeypatch.setenv("FEEDPRESS_SMTP_PASSWORD", PASSWORD)
    digest_posts(project)
    write_subscribers(project, population(10))
    (project.root / "certs").mkdir()
    (project.root / "certs" / "ca.pem").write_bytes(certificates.ca_file.read_bytes())
    box = Mailbox()
    with serve(box, tls=certificates.server_context(), auth=True) as port:
        configure(project, port, smtp={"security": "starttls", "ca_file": "certs/ca.pem"})
        run = feedpress(project, "digest", "--send")
    assert run.code == 0, run.err
    assert box.copies() == Counter(dict.fromkeys(digest_recipients(10), 1))
    assert {(r.tls, r.login) for r in box.snapshot()} == {(True, USERNAME)}


def test_implicit_tls_with_auth(project: Project, certificates: Certificates,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_USER", USERNAME)
    monkeypatch.setenv("MY_PASS", PASSWORD)
    digest_posts(project)
    write_subscribers(project, population(10))
    box = Mailbox()
    with serve(box, tls=certificates.server_context(), implicit_tls=True, auth=True) as port:
        configure(project, port, smtp={
            "security": "ssl", "ca_file": str(certificates.ca_file),
            "username_env": "MY_USER", "password_env": "MY_PASS"})
        run = feedpress(project, "digest", "--send")
    assert run.code == 0, run.err
    assert box.copies() == Counter(dict.fromkeys(digest_recipients(10), 1))
    assert {(r.tls, r.login) for r in box.snapshot()} == {(True, USERNAME)}


@pytest.mark.parametrize("trust", ["system", "another CA"])
def test_an_untrusted_certificate_stops_before_anything_is_sent(
        project: Project, certificates: Certificates, tmp_path: Path, trust: str) -> None:
    digest_posts(project)
    write_subscribers(project, population(10))
    smtp: dict[str, Any] = {"security": "starttls"}
    if trust == "another CA":
        smtp["ca_file"] = str(make_certificates(tmp_path / "other", "Other CA").ca_file)
    box = Mailbox()
    with serve(box, tls=certificates.server_context()) as port:
        configure(project, port, smtp=smtp)
        run = feedpress(project, "digest", "--send")
    assert run.code == 1
    no_traceback(run)
    assert "certificate" in run.err and "email.smtp.ca_file" in run.err
    assert box.snapshot() == []
    assert statuses(project)["sent"] == 0


def test_a_server_without_starttls_is_refused_before_anything_is_sent(
        project: Project) -> None:
    digest_posts(project)
    write_subscribers(project, population(5))
    box = Mailbox()
    with serve(box) as port:
        configure(project, port, smtp={"security": "starttls"})
        run = feedpress(project, "digest", "--send")
    assert run.code == 1
    no_traceback(run)
    assert "STARTTLS" in run.err and "email.smtp.security" in run.err
    assert box.snapshot() == []


def test_maildir_messages_land_in_new_and_parse(project: Project) -> None:
    digest_posts(project)
    write_subscribers(project, population(15))
    configure(project, transport="maildir", maildir="outbox")
    run = feedpress(project, "digest", "--send")
    assert run.code == 0, run.err
    files = sorted((project.root / "outbox" / "new").iterdir())
    messages = [read_eml(f) for f in files]
    assert Counter(to_address(m) for m in messages) == Counter(
        dict.fromkeys(digest_recipients(15), 1))
    for message in messages:
        assert message.get_body(("plain",)) is not None
        assert message.get_body(("html",)) is not None
        assert message["Subject"].startswith("Test Newsroom — ")
    assert list((project.root / "outbox" / "tmp").iterdir()) == []
    assert statuses(project) == Counter(sent=len(messages))


def test_dry_run_writes_every_message_and_changes_no_state(project: Project,
                                                           tmp_path: Path) -> None:
    digest_posts(project)
    write_subscribers(project, population(15))
    box = Mailbox()
    out = tmp_path / "dry"
    with serve(box) as port:
        configure(project, port)
        run = feedpress(project, "digest", "--dry-run", str(out))
    assert run.code == 0, run.err
    assert box.snapshot() == []
    assert not (project.root / ".feedpress").exists()  # no ledger, no lock file
    files = sorted(out.glob("*.eml"))
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in files]
    assert Counter(to_address(read_eml(f)) for f in files) == Counter(
        dict.fromkeys(digest_recipients(15), 1))
    assert f"{len(files)} message(s) written to" in run.out and "nothing recorded" in run.out


def test_dry_run_leaves_out_whom_the_next_send_would_leave_out(project: Project,
                                                             tmp_path: Path) -> None:
    """After a run that bounced some and left others pending, a dry run shows the rest only."""
    digest_posts(project)
    write_subscribers(project, population(20))
    gone, later = {address(0), address(1)}, {address(5), address(6)}
    box = Mailbox(permanent=set(gone), temporary=set(later))
    with serve(box) as port:
        configure(project, port, smtp={"retries": 0})
        partial = feedpress(project, "digest", "--send")
        out = tmp_path / "dry"
        dry = feedpress(project, "digest", "--dry-run", str(out))
    assert partial.code == 3, partial.err
    assert dry.code == 0, dry.err
    written = Counter(to_address(read_eml(f)) for f in out.glob("*.eml"))
    assert not gone & set(written), "suppressed (bounced) addresses are in the dry run"
    assert written == Counter(dict.fromkeys(later, 1))


def test_dry_run_names_files_inside_the_folder_whatever_the_address(project: Project,
                                                                    tmp_path: Path) -> None:
    """An address may hold a '/' ("a/b@example.org" is valid); its file is still DIR/*.eml."""
    digest_posts(project)
    write_subscribers(project, [("a/b@example.org", "Slash", "", "", "yes"),
                                ("plain@example.org", "Plain", "", "", "yes")])
    configure(project, transport="maildir")
    out = tmp_path / "dry"
    run = feedpress(project, "digest", "--dry-run", str(out))
    assert run.code == 0, run.err
    files = sorted(out.glob("*.eml"))
    assert sorted(to_address(read_eml(f)) for f in files) == [
        "a/b@example.org", "plain@example.org"]
    assert [p for p in out.iterdir() if p.is_dir()] == []


def test_to_sends_one_test_message_and_records_nothing(project: Project) -> None:
    digest_posts(project)
    write_subscribers(project, population(10))
    box = Mailbox()
    with serve(box) as port:
        configure(project, port)
        test = feedpress(project, "digest", "--to", "editor@news.example.org")
        assert not (project.root / ".feedpress" / "state.db").exists()
        real = feedpress(project, "digest", "--send")
    assert test.code == 0, test.err
    assert "test message sent to editor@news.example.org; nothing recorded" in test.out
    assert real.code == 0, real.err
    copies = box.copies()
    assert copies.pop("editor@news.example.org") == 1
    assert copies == Counter(dict.fromkeys(digest_recipients(10), 1))


def test_to_an_address_the_server_refuses_is_a_clear_error(project: Project) -> None:
    digest_posts(project)
    write_subscribers(project, population(5))
    box = Mailbox(permanent={"nobody@news.example.org"})
    with serve(box) as port:
        configure(project, port)
        run = feedpress(project, "digest", "--to", "nobody@news.example.org")
    assert run.code == 1
    no_traceback(run)
    assert "550" in run.err


# === credentials ==========================================================================


def test_a_server_that_offers_no_auth_is_named_as_such(
        project: Project, certificates: Certificates, monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials are set but the server (which does offer STARTTLS) offers no AUTH."""
    monkeypatch.setenv("FEEDPRESS_SMTP_USERNAME", USERNAME)
    monkeypatch.setenv("FEEDPRESS_SMTP_PASSWORD", PASSWORD)
    digest_posts(project)
    write_subscribers(project, population(5))
    box = Mailbox(hide_auth=True)
    with serve(box, tls=certificates.server_context()) as port:
        configure(project, port, smtp={"security": "starttls",
                                       "ca_file": str(certificates.ca_file)})
        run = feedpress(project, "digest", "--send")
    assert run.code == 1
    no_traceback(run)
    assert box.snapshot() == []
    assert "AUTH" in run.err
    assert "does not offer STARTTLS" not in run.err


def test_the_password_never_goes_unencrypted_to_a_remote_host(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDPRESS_SMTP_USERNAME", USERNAME)
    monkeypatch.setenv("FEEDPRESS_SMTP_PASSWORD", PASSWORD)
    digest_posts(project)
    write_subscribers(project, population(5))
    configure(project, smtp={"host": "192.0.2.25", "port": 25, "security": "none"})
    started = time.monotonic()
    run = feedpress(project, "digest", "--send")
    assert run.code == 1
    no_traceback(run)
    assert "email.smtp.security" in run.err and "192.0.2.25" in run.err
    assert time.monotonic() - started < 5  # refused at once, without trying to connect
    assert statuses(project)["sent"] == 0


def test_plain_auth_is_allowed_to_loopback(project: Project,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDPRESS_SMTP_USERNAME", USERNAME)
    monkeypatch.setenv("FEEDPRESS_SMTP_PASSWORD", PASSWORD)
    digest_posts(project)
    write_subscribers(project, population(5))
    box = Mailbox()
    with serve(box, auth=True) as port:
        configure(project, port, smtp={"security": "none"})
        run = feedpress(project, "digest", "--send")
    assert run.code == 0, run.err
    assert {(r.tls, r.login) for r in box.snapshot()} == {(False, USERNAME)}


def test_a_non_ascii_password_logs_in_or_is_a_clear_error(
        project: Project, certificates: Certificates, monkeypatch: pytest.MonkeyPatch) -> None:
    """A password from a generator may hold any letter; AUTH PLAIN carries UTF-8 (RFC 4616)."""
    password = "pässwörd-€"
    monkeypatch.setenv("FEEDPRESS_SMTP_USERNAME", USERNAME)
    monkeypatch.setenv("FEEDPRESS_SMTP_PASSWORD", password)
    digest_posts(project)
    write_subscribers(project, population(5))
    box = Mailbox()
    with serve(box, tls=certificates.server_context(), auth=True, password=password) as port:
        configure(project, port, smtp={"security": "starttls",
                                       "ca_file": str(certificates.ca_file)})
        run = feedpress(project, "digest", "--send")
    no_traceback(run)
    if run.code == 0:
        assert {(r.tls, r.login) for r in box.snapshot()} == {(True, USERNAME)}
    else:
        assert run.code == 1 and "FEEDPRESS_SMTP_PASSWORD" in run.err
        assert box.snapshot() == []


def test_a_password_in_the_config_is_refused(project: Project) -> None:
    digest_posts(project)
    write_subscribers(project, population(5))
    configure(project, 2525, smtp={"password": "hunter2"})
    run = feedpress(project, "digest", "--send")
    assert run.code == 1
    no_traceback(run)
    assert "password" in run.err
    assert not (project.root / ".feedpress" / "state.db").exists()


def test_a_missing_unsubscribe_secret_stops_before_anything_is_sent(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FEEDPRESS_SECRET")
    digest_posts(project)
    write_subscribers(project, population(5))
    box = Mailbox()
    with serve(box) as port:
        configure(project, port)
        run = feedpress(project, "digest", "--send")
    assert run.code == 1
    no_traceback(run)
    assert "FEEDPRESS_SECRET" in run.err
    assert box.snapshot() == []
    assert not (project.root / ".feedpress" / "state.db").exists()


def test_half_the_smtp_credentials_stops_before_anything_is_sent(
        project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDPRESS_SMTP_USERNAME", USERNAME)
    digest_posts(project)
    write_subscribers(project, population(5))
    box = Mailbox()
    with serve(box, auth=True) as port:
        configure(project, port)
        run = feedpress(project, "digest", "--send")
    assert run.code == 1
    no_traceback(run)
    assert "FEEDPRESS_SMTP_PASSWORD" in run.err
    assert box.snapshot() == [] and box.connections == 0


def test_a_relay_that_wants_auth_it_did_not_get_suppresses_nobody(project: Project) -> None:
    """No credentials in the environment, and the relay answers MAIL FROM with 530.

    That refuses the sender, not the subscribers: nobody may be marked bounced or
    suppressed, and the run must not end as a success.
    """
    digest_posts(project)
    write_subscribers(project, population(10))
    box = Mailbox()
    with serve(box, auth=True, require_tls=False) as port:
        configure(project, port, smtp={"retries": 0})
        run = feedpress(project, "digest", "--send")
    no_traceback(run)
    assert box.snapshot() == []
    assert query(project, "SELECT address, stream FROM suppressions") == []
    assert statuses(project)["bounced"] == 0
    assert run.code != 0


# === faults ===============================================================================


def test_451_is_retried_on_a_new_try(backend: str, project: Project) -> None:
    digest_posts(project)
    write_subscribers(project, population(20))
    greylisted = {address(i) for i in (0, 1, 2)}
    box = Mailbox(temporary=set(greylisted), temporary_times=1)
    with serve(box) as port:
        configure(project, port, smtp={"retries": 2})
        run = feedpress(project, "digest", "--send")
    eligible = digest_recipients(20)
    assert run.code == 0, run.err
    assert run.summary() == (len(eligible), 0, 3, 0, 0)
    assert box.copies() == Counter(dict.fromkeys(eligible, 1))
    assert all(box.rcpt_tries[a] == 2 for a in greylisted)
    attempts = dict(query(project, "SELECT address, attempts FROM deliveries"))
    assert {a: attempts[a] for a in greylisted} == dict.fromkeys(greylisted, 2)


@pytest.mark.parametrize("pipelining", [False, True])
def test_550_bounces_and_suppresses_for_both_streams_and_the_run_goes_on(
        backend: str, project: Project, pipelining: bool) -> None:
    digest_posts(project)
    alert_posts(project)
    write_subscribers(project, population())
    gone = {address(0), address(1), address(15)}
    box = Mailbox(permanent=set(gone), pipelining=pipelining)
    with serve(box) as port:
        configure(project, port)
        digest = feedpress(project, "digest", "--send")
        box.permanent.clear()  # even if the addresses come back, they stay suppressed
        alert = feedpress(project, "alert", "--send")

    # the digest holds the quake post too; everyone but 'weather' gets it
    eligible = digest_recipients()
    assert digest.code == 0, digest.err
    assert digest.summary() == (len(eligible) - 3, 0, 0, 3, 0)
    assert all(box.rcpt_tries[a] == 1 for a in gone)  # a 550 is not retried
    assert sorted(query(project, "SELECT address, stream, reason FROM suppressions")) == sorted(
        (a, s, "bounced") for a in gone for s in ("digest", "alerts"))
    bounced = query(project, "SELECT address, last_error FROM deliveries WHERE status='bounced'")
    assert {a for a, _ in bounced} == gone
    assert all(e.startswith("550") for _, e in bounced)
    assert alert.code == 0, alert.err
    alerted = {r.recipient for r in box.snapshot() if subject_of(r.data).startswith("BREAKING")}
    assert alerted == alert_recipients() - gone
    assert not gone & set(box.copies())


@pytest.mark.parametrize("pipelining", [False, True])
def test_a_connection_cut_after_the_message_is_ambiguous_and_sent_once_more_next_run(
        backend: str, project: Project, pipelining: bool) -> None:
    """Cut before the server kept it: the next run sends it once, with the same Message-ID,
    and nobody ends with two copies; the run itself never retries a message that went."""
    digest_posts(project)
    write_subscribers(project, population(50))
    box = Mailbox(drop_after=4, pipelining=pipelining)
    with serve(box) as port:
        configure(project, port, smtp={"connections": 3, "retries": 3})
        first = feedpress(project, "digest", "--send")
        ids = dict(query(project, "SELECT address, message_id FROM deliveries "
                                  "WHERE status = 'ambiguous'"))
        box.drop_after = None
        second = feedpress(project, "digest", "--send")
        third = feedpress(project, "digest", "--send")
    eligible = digest_recipients(50)
    assert first.code == 3, first.err
    sent, skipped, retried, bounced, pending = first.summary()
    assert (skipped, retried, bounced, pending) == (0, 0, 0, 0)
    assert len(ids) == box.drops >= 5 and sent == len(eligible) - len(ids)
    assert f", {len(ids)} ambiguous" in first.out
    assert f"  {len(ids)} ambiguous: no reply after the message was sent" in first.out
    assert second.code == 0, second.err
    assert second.summary() == (len(ids), len(eligible) - len(ids), 0, 0, 0)
    assert box.copies() == Counter(dict.fromkeys(eligible, 1))
    again = {r.recipient: r.message()["Message-ID"] for r in box.snapshot()
             if r.recipient in ids}
    assert again == ids
    assert statuses(project) == Counter(sent=len(eligible))
    assert "Nothing new to send" in third.out


def test_a_reply_lost_after_the_server_kept_the_message_costs_one_copy_at_most(
        backend: str, project: Project) -> None:
    """Every 10th reply lost: those recipients get exactly one extra copy, the next run,
    with the same Message-ID; a third run sends nothing."""
    digest_posts(project)
    write_subscribers(project, population(60))
    box = Mailbox(lose_reply_every=10)
    with serve(box) as port:
        configure(project, port, smtp={"connections": 2, "retries": 3})
        runs = [feedpress(project, "digest", "--send") for _ in range(3)]
    eligible = digest_recipients(60)
    assert [r.code for r in runs[:1]] == [3], runs[0].err
    assert "Nothing new to send" in runs[2].out
    copies = box.copies()
    assert set(copies) == eligible
    doubled = {a for a, n in copies.items() if n > 1}
    assert doubled and max(copies.values()) == 2
    assert len(doubled) <= box.drops
    for address in doubled:
        assert len({r.message()["Message-ID"] for r in box.snapshot()
                    if r.recipient == address}) == 1
    rows = query(project, "SELECT status, ambiguous FROM deliveries")
    assert len(rows) == len(eligible)
    # sent, or ambiguous twice (sent, then once more with the same Message-ID: no third time)
    assert all(row in (("sent", 0), ("sent", 1), ("ambiguous", 2)) for row in rows), rows


def test_max_errors_in_a_row_stops_early_and_leaves_the_rest_pending(
        backend: str, project: Project) -> None:
    digest_posts(project)
    write_subscribers(project, population())
    everyone = {address(i) for i in range(SUBSCRIBERS)}
    box = Mailbox(temporary=set(everyone))
    with serve(box) as port:
        configure(project, port, smtp={"connections": 1, "retries": 1, "max_errors": 5})
        stopped = feedpress(project, "digest", "--send")
        tries = sum(box.rcpt_tries.values())
        box.temporary.clear()
        resumed = feedpress(project, "digest", "--send")
    eligible = digest_recipients()
    assert stopped.code == 3, stopped.err
    assert "stopped early: 5 failures in a row" in stopped.err
    assert "stopped early" in stopped.out  # the summary line says why too
    sent, skipped, _, bounced, pending = stopped.summary()
    assert (sent, skipped, bounced, pending) == (0, 0, 0, len(eligible))
    assert tries == 5  # one connection: the fifth failure stops it
    assert resumed.code == 0, resumed.err
    assert box.copies() == Counter(dict.fromkeys(eligible, 1))


# === killed half-way ======================================================================


def test_a_send_killed_half_way_is_finished_by_the_next_run_without_second_copies(
        backend: str, project: Project) -> None:
    connections = 2
    digest_posts(project)
    write_subscribers(project, population(60))
    process: list[subprocess.Popen[bytes]] = []

    def kill_at(count: int) -> None:
        if count == 15:
            process[0].send_signal(signal.SIGKILL)

    box = Mailbox(delay=0.05, on_accept=kill_at)
    with serve(box) as port:
        configure(project, port, smtp={"connections": connections})
        process.append(subprocess.Popen(child(project, "digest", "--send"), env=child_env(),
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        _, err = process[0].communicate(timeout=30)
        assert process[0].returncode == -signal.SIGKILL, err.decode()
        time.sleep(0.3)  # let the server finish what was in flight at the kill
        killed_at = box.copies()
        recorded = statuses(project)["sent"]
        box.delay = 0
        rerun = subprocess.run(child(project, "digest", "--send"), env=child_env(),
                               capture_output=True, text=True, timeout=30)
    eligible = digest_recipients(60)
    assert 15 <= sum(killed_at.values()) < len(eligible)
    assert sum(killed_at.values()) - connections <= recorded <= sum(killed_at.values())
    assert rerun.returncode == 0, rerun.stderr
    copies = box.copies()
    assert set(copies) == eligible
    twice = [a for a, n in copies.items() if n > 1]
    assert all(copies[a] == 2 for a in twice)
    assert len(twice) <= connections
    assert set(twice) <= set(killed_at)
    for address_ in twice:  # the copy in flight at the kill and its resend: one Message-ID
        assert len({r.message()["Message-ID"] for r in box.snapshot()
                    if r.recipient == address_}) == 1
    assert statuses(project) == Counter(sent=len(eligible))
    assert [c[6] for c in campaigns(project)] == [True]


# === the lock =============================================================================


def test_a_second_send_while_one_holds_the_lock_exits_4(backend: str, project: Project) -> None:
    digest_posts(project)
    write_subscribers(project, population(5))
    box = Mailbox()
    with serve(box) as port:
        configure(project, port)
        with send_lock(place(project)):
            blocked = feedpress(project, "digest", "--send")
            blocked_alert = feedpress(project, "alert", "--send")
        after = feedpress(project, "digest", "--send")
    assert blocked.code == 4 and blocked_alert.code == 4
    no_traceback(blocked)
    assert "another send" in blocked.err
    assert after.code == 0, after.err
    assert box.copies() == Counter(dict.fromkeys(digest_recipients(5), 1))


def test_two_processes_at_once_one_exits_4(backend: str, project: Project) -> None:
    digest_posts(project)
    write_subscribers(project, population(30))
    box = Mailbox(delay=0.05)
    with serve(box) as port:
        configure(project, port, smtp={"connections": 1})
        first = subprocess.Popen(child(project, "digest", "--send"), env=child_env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 20
        while not box.snapshot() and time.monotonic() < deadline:
            time.sleep(0.02)
        second = feedpress(project, "digest", "--send")
        _, err = first.communicate(timeout=30)
    assert first.returncode == 0, err.decode()
    assert second.code == 4, second.err
    assert box.copies() == Counter(dict.fromkeys(digest_recipients(30), 1))


# === bad inputs ===========================================================================


def test_bad_csv_rows_are_reported_by_line_and_skipped_and_the_others_get_mail(
        project: Project) -> None:
    digest_posts(project)
    rows = population(10)
    rows.insert(3, ("not-an-address", "Broken", "", "", "yes"))  # line 5
    rows.insert(6, (address(2).upper(), "Dup", "", "", "yes"))  # line 8
    rows.insert(8, ("maybe@example.org", "Maybe", "", "", "perhaps"))  # line 10
    write_subscribers(project, rows)
    box = Mailbox()
    with serve(box) as port:
        configure(project, port)
        run = feedpress(project, "digest", "--send")
    assert run.code == 0, run.err
    warnings = [line for line in run.err.splitlines() if "subscribers.csv" in line]
    assert [re.search(r"subscribers\.csv:(\d+):", w).group(1) for w in warnings] == [  # type: ignore[union-attr]
        "5", "8", "10"]
    assert "not-an-address" in warnings[0] and "line 4" in warnings[1]
    assert box.copies() == Counter(dict.fromkeys(digest_recipients(10), 1))


def test_a_row_that_is_not_utf8_is_reported_by_line_and_the_others_get_mail(
        project: Project) -> None:
    digest_posts(project)
    path = write_subscribers(project, population(10))
    lines = path.read_bytes().split(b"\n")
    lines.insert(3, b"zoe@example.org,Zo\xeb Latin-1,,,yes")  # line 4
    path.write_bytes(b"\n".join(lines))
    box = Mailbox()
    with serve(box) as port:
        configure(project, port)
        run = feedpress(project, "digest", "--send")
    assert "subscribers.csv:4:" in run.err
    assert set(digest_recipients(10)) <= set(box.copies())


def test_a_missing_subscriber_list_does_not_use_up_the_digest(project: Project) -> None:
    """Nobody could be read, so nobody got the digest: it must still go out once fixed."""
    digest_posts(project)
    box = Mailbox()
    with serve(box) as port:
        configure(project, port)
        missing = feedpress(project, "digest", "--send")
        write_subscribers(project, population(10))
        fixed = feedpress(project, "digest", "--send", now=NOW + timedelta(hours=1))
    assert "subscribers.csv" in missing.err
    assert fixed.code == 0, fixed.err
    assert box.copies() == Counter(dict.fromkeys(digest_recipients(10), 1)), fixed.out
    assert missing.code != 0  # nobody got the digest: not a success


def _without_dac_override() -> None:
    """In the child, before exec: root loses the right to ignore file permissions."""
    if os.geteuid() != 0:
        return
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2, 3):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


@pytest.mark.parametrize("resuming", [False, True], ids=["new-campaign", "resumed-campaign"])
def test_a_read_only_ledger_is_a_clear_error_and_nothing_is_sent(
        project: Project, resuming: bool) -> None:
    digest_posts(project)
    write_subscribers(project, population(10))
    state = project.root / ".feedpress" / "state.db"
    box = Mailbox()
    with serve(box) as port:
        configure(project, port, smtp={"connections": 1})
        with open_ledger(Place(state), NOW) as store:
            if resuming:  # an unfinished campaign from an earlier run, nothing sent yet
                store.open_digest(NOW - timedelta(days=7), NOW, ids(project, "markets"), [])
        state.chmod(0o444)
        run = subprocess.run(child(project, "digest", "--send"), env=child_env(),
                             capture_output=True, text=True, timeout=30,
                             preexec_fn=_without_dac_override)
    assert run.returncode == 1, run.stderr
    assert "Traceback" not in run.stderr
    assert str(state) in run.stderr or "state.db" in run.stderr
    assert "read" in run.stderr.lower()
    assert box.snapshot() == []


# ---------------------------------------------------------------------------------------------
# The SMTP transaction itself, with and without PIPELINING
# ---------------------------------------------------------------------------------------------

AWKWARD = (b"Subject: dots\r\n\r\n.starts with a dot\r\n..two dots\r\nbare\nnewline and bare\r"
           b"return\r\n.\r\nlast line without an end")


@pytest.mark.parametrize("pipelining", [False, True])
def test_a_message_arrives_byte_for_byte_after_dots_and_bare_line_ends(pipelining: bool) -> None:
    box = Mailbox(pipelining=pipelining)
    with serve(box) as port:
        connection = SmtpTransport(SmtpSettings(host="127.0.0.1", port=port, security="none"),
                                   None).connect()
        connection.deliver("news@example.org", "a@example.org", AWKWARD)
        connection.close()
    expected = (b"Subject: dots\r\n\r\n.starts with a dot\r\n..two dots\r\nbare\r\nnewline and "
                b"bare\r\nreturn\r\n.\r\nlast line without an end\r\n")
    assert [r.data for r in box.snapshot()] == [expected]


@pytest.mark.parametrize("pipelining", [False, True])
def test_refusals_leave_the_connection_ready_for_the_next_message(pipelining: bool) -> None:
    box = Mailbox(permanent={"gone@example.org"}, temporary={"later@example.org"},
                  pipelining=pipelining)
    message = b"Subject: hello\r\n\r\nHello.\r\n"
    with serve(box) as port:
        connection = SmtpTransport(SmtpSettings(host="127.0.0.1", port=port, security="none"),
                                   None).connect()
        with pytest.raises(PermanentFailure, match="550"):
            connection.deliver("news@example.org", "gone@example.org", message)
        with pytest.raises(TemporaryFailure, match="451"):
            connection.deliver("news@example.org", "later@example.org", message)
        connection.deliver("news@example.org", "ok@example.org", message)
        connection.close()
    assert [(r.recipient, r.data) for r in box.snapshot()] == [("ok@example.org", message)]
    assert box.connections == 1
