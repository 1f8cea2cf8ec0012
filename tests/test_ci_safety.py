"""What a CI runner and a ledger in PostgreSQL do that a laptop does not: a throwaway
machine, a secret that was never made, a connection killed under a send, a URL a driver
quotes back. Real servers throughout: PostgreSQL and SMTP on loopback."""

from __future__ import annotations

import subprocess
import time
from collections import Counter

import psycopg
import pytest

from conftest import Project
from postgres_server import PASSWORD, Cluster
from smtp_servers import Mailbox, serve
from test_send import (
    child,
    child_env,
    configure,
    digest_posts,
    digest_recipients,
    feedpress,
    no_traceback,
    population,
    write_subscribers,
)


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDPRESS_SECRET", "test secret: never used for real mail")


def test_a_maildir_send_on_a_ci_runner_is_refused(project: Project,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    digest_posts(project)
    write_subscribers(project, population(5))
    configure(project, transport="maildir")
    monkeypatch.setenv("CI", "true")
    run = feedpress(project, "digest", "--send")
    no_traceback(run)
    assert run.code == 1
    assert "this looks like a CI runner" in run.err and "email.transport: smtp" in run.err
    assert not (project.root / "outbox").exists()
    assert not (project.root / ".feedpress" / "state.db").exists()
    dry = feedpress(project, "digest", "--dry-run", str(project.root / "dry"))
    assert dry.code == 0, dry.err  # writing files to look at is fine anywhere
    monkeypatch.setenv("CI", "false")
    assert feedpress(project, "digest", "--send").code == 0


def test_an_empty_state_url_is_an_error_not_a_new_file(project: Project,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """GitHub passes "" for a secret that was never made; the file on a fresh runner would
    be a new, empty ledger, and --new-ledger (which the message would suggest) resends
    everything."""
    digest_posts(project)
    write_subscribers(project, population(5))
    configure(project, transport="maildir")
    monkeypatch.setenv("FEEDPRESS_STATE_URL", " ")
    for args in (["digest", "--send", "--new-ledger"], ["digest", "--preview", "p"],
                 ["subscribers", "list"]):
        run = feedpress(project, *args)
        no_traceback(run)
        assert run.code == 1, args
        assert "FEEDPRESS_STATE_URL is set but empty" in run.err, args
    assert not (project.root / ".feedpress" / "state.db").exists()


def test_a_sqlite_file_of_another_program_is_no_ledger(project: Project) -> None:
    import sqlite3

    digest_posts(project)
    write_subscribers(project, population(5))
    state = project.root / ".feedpress" / "state.db"
    state.parent.mkdir()
    with sqlite3.connect(state) as db:
        db.execute("CREATE TABLE notes (text TEXT)")
    box = Mailbox()
    with serve(box) as port:
        configure(project, port)
        run = feedpress(project, "digest", "--send")  # no --new-ledger: the helper sees a file
    assert run.code == 1 and "no ledger at" in run.err, run.err
    assert box.snapshot() == []


def backends(url: str, database: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [pid for (pid,) in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND application_name = "
            "'feedpress'", (database,))]


def test_a_send_whose_connection_is_killed_stops_and_another_takes_over_without_copies(
        project: Project, postgres_cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    """The send lock lives on the ledger's own connection: a DBA's kill, a pooler's or an
    idle timeout ends both, so the run stops at its next record instead of sending on
    beside the run that then takes the lock."""
    url = postgres_cluster.database()
    database = url.rsplit("/", 1)[1]
    monkeypatch.setenv("FEEDPRESS_STATE_URL", url)
    digest_posts(project)
    write_subscribers(project, population(60))
    box = Mailbox(delay=0.05)
    with serve(box) as port:
        configure(project, port, smtp={"connections": 2})
        first = subprocess.Popen([*child(project, "digest", "--send"), "--new-ledger"],
                                 env=child_env(), stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while len(box.snapshot()) < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        with psycopg.connect(postgres_cluster.url(), autocommit=True) as admin:
            for pid in backends(postgres_cluster.url(), database):
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        second = subprocess.run(child(project, "digest", "--send"), env=child_env(),
                                capture_output=True, text=True, timeout=60)
        _, err = first.communicate(timeout=60)
        box.delay = 0
        third = subprocess.run(child(project, "digest", "--send"), env=child_env(),
                               capture_output=True, text=True, timeout=60)
    assert first.returncode == 1, err
    assert "the send ledger failed" in err and "Traceback" not in err
    assert second.returncode in (0, 3, 4), second.stderr
    assert third.returncode == 0, third.stderr
    copies = box.copies()
    assert set(copies) == digest_recipients(60)
    twice = [address for address, n in copies.items() if n > 1]
    assert all(copies[a] == 2 for a in twice) and len(twice) <= 2  # in flight at the kill


def test_ledgers_in_two_schemas_of_one_database_lock_apart(
        project: Project, postgres_cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    from feedpress.mail.ledger import Place, send_lock

    url = postgres_cluster.database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA one")
        conn.execute("CREATE SCHEMA two")
    digest_posts(project)
    write_subscribers(project, population(5))
    box = Mailbox()
    with serve(box) as port:
        configure(project, port)
        with send_lock(Place(url=f"{url}?options=-csearch_path%3Done")):
            monkeypatch.setenv("FEEDPRESS_STATE_URL", f"{url}?options=-csearch_path%3Dtwo")
            other = feedpress(project, "digest", "--send", "--new-ledger")
            monkeypatch.setenv("FEEDPRESS_STATE_URL", f"{url}?options=-csearch_path%3Done")
            same = feedpress(project, "digest", "--send", "--new-ledger")
    assert other.code == 0, other.err
    assert same.code == 4 and "another send holds the lock" in same.err
    assert box.copies() == Counter(dict.fromkeys(digest_recipients(5), 1))


SECRET_PIECE = "Zq81SECRET"


@pytest.mark.parametrize("shape", [
    "postgresql://postgres:Hun@{s}pw@127.0.0.1:{port}/postgres",  # an @ left unencoded
    "postgresql://postgres@127.0.0.1:{port}/postgres?password=ab {s}",
    "postgresql://postgres@127.0.0.1:{port}/postgres?password=Hun%zz{s}",
    "postgresql://postgres@127.0.0.1:{port}/postgres?password=ab%00{s}",
    "postgresql://postgres:Hunter%FF{s}@127.0.0.1:{port}/postgres",
    "postgresql://postgres@127.0.0.1:{port}/postgres?application_name=%FF{s}",
    "postgresql://postgres:{s}@127.0.0.1:{port}/no_such_database",
    "postgresql://postgres:{s}@127.0.0.1:1/postgres",
])
def test_no_piece_of_a_secret_in_the_url_reaches_the_output(
        project: Project, postgres_cluster: Cluster, monkeypatch: pytest.MonkeyPatch,
        shape: str) -> None:
    url = shape.format(s=SECRET_PIECE, port=postgres_cluster.port)
    monkeypatch.setenv("FEEDPRESS_STATE_URL", url)
    digest_posts(project)
    write_subscribers(project, population(3))
    configure(project, transport="smtp")
    runs = [feedpress(project, "digest", "--preview", str(project.root / "p")),
            feedpress(project, "digest", "--send", "--json"),
            feedpress(project, "state", "copy", "--to", url)]
    for run in runs:
        no_traceback(run)
        assert run.code == 1, run.out + run.err
        assert SECRET_PIECE not in run.out + run.err
        assert PASSWORD not in run.out + run.err
    assert '"error"' in runs[1].out  # the JSON object is still printed
