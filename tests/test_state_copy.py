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


def sqlite_rows(project: Project, table: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(project.root / ".feedpress" / "state.db")) as db:
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
    run = feedpress(sent, "state", "copy")
    assert run.code == 0, run.err
    no_traceback(run)
    for table in TABLES:
        assert pg_rows(url, table) == sqlite_rows(sent, table), table
    assert "copied (campaigns: 1, deliveries: 8, suppressions: 3)" in run.out
    assert PASSWORD not in run.out + run.err
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
