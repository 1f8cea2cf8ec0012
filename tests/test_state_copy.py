"""`feedpress state copy`: a SQLite ledger moved into a real PostgreSQL database.

The source is made by real sends (an SMTP server on loopback that bounces
one address and leaves one pending); the copy is read back with psycopg,
row by row, and then used by the next send, which must send nothing new.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections import Counter
from typing import Any

import psycopg
import pytest

from conftest import Project
from postgres_server import PASSWORD, Cluster
from smtp_servers import Mailbox, serve
from test_send import (
    configure,
    digest_posts,
    feedpress,
    no_traceback,
    population,
    write_subscribers,
)

TABLES = {"campaigns": "id", "deliveries": "campaign_id, address",
          "suppressions": "address, stream"}


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDPRESS_SECRET", "test secret: never used for real mail")


def sqlite_rows(project: Project, table: str, name: str = "state.db") -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(project.root / ".feedpress" / name)) as db:
        return sorted(db.execute(f"SELECT * FROM {table}"))


def pg_rows(url: str, table: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return sorted(tuple(r) for r in conn.execute(f"SELECT * FROM {table}"))


@pytest.fixture
def sent(project: Project) -> Project:
    """A project whose SQLite ledger holds a digest: sent, one bounce, one pending."""
    digest_posts(project)
    write_subscribers(project, population(10))
    box = Mailbox(permanent={"reader001@example.org"}, temporary={"reader005@example.org"})
    with serve(box) as port:
        configure(project, port, smtp={"retries": 0})
        run = feedpress(project, "digest", "--send")
    assert run.code == 3, run.err  # one pending
    feedpress(project, "subscribers", "unsubscribe", "reader006@example.org", "--stream", "digest")
    return project


def test_every_row_arrives_unchanged_and_the_next_send_sends_nothing_new(
        sent: Project, postgres_cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres_cluster.database()
    monkeypatch.setenv("FEEDPRESS_STATE_URL", url)
    before = {table: sqlite_rows(sent, table) for table in TABLES}
    run = feedpress(sent, "state", "copy")
    assert run.code == 0, run.err
    no_traceback(run)
    for table in TABLES:
        assert pg_rows(url, table) == before[table], table
    assert "copied (campaigns: 1, deliveries: 8, suppressions: 3)" in run.out
    assert PASSWORD not in run.out + run.err
    # The file is kept under another name, unchanged, and no send can go on using it.
    assert not (sent.root / ".feedpress" / "state.db").exists()
    assert {table: sqlite_rows(sent, table, "state.db.moved") for table in TABLES} == before
    monkeypatch.delenv("FEEDPRESS_STATE_URL")
    stale = feedpress(sent, "digest", "--send", "--new-ledger")
    assert stale.code == 1 and "was moved into PostgreSQL by `feedpress state copy`" in stale.err
    monkeypatch.setenv("FEEDPRESS_STATE_URL", url)
    box = Mailbox()
    with serve(box) as port:
        configure(sent, port, smtp={"retries": 0})
        again = feedpress(sent, "digest", "--send")
    assert again.code == 0, again.err
    assert box.copies() == Counter({"reader005@example.org": 1})  # only the pending one


def test_a_target_that_holds_a_ledger_is_refused_and_left_as_it_was(
        sent: Project, postgres_cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    url = postgres_cluster.database()
    monkeypatch.setenv("FEEDPRESS_STATE_URL", url)
    assert feedpress(sent, "state", "copy").code == 0
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE deliveries SET status = 'sent' WHERE status = 'pending'")
    before = {table: pg_rows(url, table) for table in TABLES}
    moved = sent.root / ".feedpress" / "state.db.moved"
    moved.rename(sent.root / ".feedpress" / "state.db")  # a second try, by mistake
    second = feedpress(sent, "state", "copy")
    assert second.code == 1
    no_traceback(second)
    assert "the target ledger is not empty (campaigns: 1, deliveries: 8, suppressions: 3)" \
        in second.err
    assert {table: pg_rows(url, table) for table in TABLES} == before


def test_what_cannot_be_copied_is_a_message_without_the_password(
        project: Project, postgres_cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    configure(project, transport="maildir")
    nothing = feedpress(project, "state", "copy", "--to", postgres_cluster.database())
    assert nothing.code == 1 and "no send ledger to copy" in nothing.err
    digest_posts(project)
    write_subscribers(project, population(3))
    assert feedpress(project, "digest", "--send").code == 0
    no_target = feedpress(project, "state", "copy")
    assert no_target.code == 2 and "give --to URL, or set FEEDPRESS_STATE_URL" in no_target.err
    not_pg = feedpress(project, "state", "copy", "--to", "mysql://u:pw@host/db")
    assert not_pg.code == 1 and "postgresql://" in not_pg.err
    wrong_db = postgres_cluster.url("no_such_database")
    missing = feedpress(project, "state", "copy", "--to", wrong_db)
    wrong_pw = feedpress(project, "state", "copy", "--to",
                         postgres_cluster.database().replace(PASSWORD, "wrong-Zq81-pw"))
    for run in (nothing, no_target, not_pg, missing, wrong_pw):
        no_traceback(run)
        assert PASSWORD not in run.out + run.err
        assert "wrong-Zq81-pw" not in run.out + run.err
    assert missing.code == 1 and "cannot connect to the send ledger" in missing.err
    assert 'database "no_such_database" does not exist' in missing.err
    assert wrong_pw.code == 1 and "password authentication failed" in wrong_pw.err


def tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {name for (name,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def test_a_refused_copy_leaves_no_ledger_and_an_older_target_unmigrated(
        sent: Project, postgres_cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """Schema and rows go in one transaction: a copy refused (or killed) half-way must
    not leave an empty ledger behind, which the next send would take for a started one."""
    from feedpress.mail.ledger import MIGRATIONS

    other_app = postgres_cluster.database()
    with psycopg.connect(other_app) as conn:
        conn.execute("CREATE TABLE campaigns (id INTEGER PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO campaigns VALUES (1, 'spring sale')")
    older = postgres_cluster.database()
    with psycopg.connect(older) as conn:
        for statement in filter(str.strip, MIGRATIONS[0].split(";")):
            conn.execute(statement)
        conn.execute("CREATE TABLE feedpress_schema (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO feedpress_schema VALUES (1)")
        conn.execute("INSERT INTO suppressions VALUES ('a@example.org', 'digest', 'x', 'y')")
    for url in (other_app, older):
        run = feedpress(sent, "state", "copy", "--to", url)
        assert run.code == 1, run.out
        no_traceback(run)
    assert tables(other_app) == {"campaigns"}
    assert pg_rows(other_app, "campaigns") == [(1, "spring sale")]
    assert pg_rows(older, "feedpress_schema") == [(1,)]
    assert (sent.root / ".feedpress" / "state.db").exists()  # not moved: nothing copied


@pytest.mark.parametrize("source", ["empty", "another database"])
def test_a_source_that_holds_no_ledger_is_refused(
        project: Project, postgres_cluster: Cluster, source: str) -> None:
    configure(project, transport="maildir")
    state = project.root / ".feedpress" / "state.db"
    state.parent.mkdir()
    state.touch()
    if source == "another database":
        with contextlib.closing(sqlite3.connect(state)) as db, db:
            db.execute("CREATE TABLE notes (text TEXT)")
    url = postgres_cluster.database()
    run = feedpress(project, "state", "copy", "--to", url)
    assert run.code == 1 and "no send ledger to copy" in run.err, run.err
    assert tables(url) == set()
