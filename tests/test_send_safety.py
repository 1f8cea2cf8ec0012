"""Sending that cannot destroy a list: what real relays, subscriber files and bad luck do.

Every case runs `feedpress digest --send` (or `alert`) as a user does, against a real SMTP
server on 127.0.0.1 (aiosmtpd, see smtp_servers.py) that refuses, cuts or stalls on
purpose, and then counts the messages the server kept and the rows in the real SQLite
ledger.
"""

from __future__ import annotations

import contextlib
import email
import email.header
import email.policy
import email.utils
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from conftest import NOW, Project, run_main
from feedpress.mail.transports import (
    PermanentFailure,
    RefusedFailure,
    TemporaryFailure,
    classify,
)
from postgres_server import PASSWORD as PG_PASSWORD
from smtp_servers import Mailbox, serve
from test_send import (
    Run,
    address,
    campaigns,
    configure,
    digest_posts,
    digest_recipients,
    execute,
    feedpress,
    has_ledger,
    ids,
    iso,
    no_traceback,
    population,
    query,
    read_eml,
    state_url,
    statuses,
    to_address,
    write_subscribers,
)

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDPRESS_SECRET", "test secret: never used for real mail")


def suppressions(project: Project) -> list[tuple[str, str]]:
    return [tuple(row) for row in query(project, "SELECT address, stream FROM suppressions")]


# === 1. replies by their enhanced status code ==============================================


@pytest.mark.parametrize(("code", "text", "stage", "kind"), [
    (550, "5.1.1 <a@x>: no such user", "recipient", PermanentFailure),
    (550, "5.1.10 null MX", "recipient", PermanentFailure),
    (551, "user not local", "recipient", PermanentFailure),
    (553, "mailbox name not allowed", "recipient", PermanentFailure),
    (550, "no such user", "recipient", PermanentFailure),
    (550, "5.2.1 mailbox disabled", "recipient", PermanentFailure),
    (552, "5.2.2 mailbox full", "recipient", TemporaryFailure),
    (550, "5.4.4 unable to route", "recipient", TemporaryFailure),
    (554, "5.7.1 Relay access denied", "recipient", RefusedFailure),
    (550, "5.7.1 Client host rejected", "recipient", RefusedFailure),
    (550, "5.7.26 unauthenticated mail is prohibited", "recipient", RefusedFailure),
    (553, "5.7.1 Sender address rejected", "recipient", RefusedFailure),
    (552, "5.3.4 message too big", "recipient", RefusedFailure),
    (501, "5.5.2 syntax error", "recipient", RefusedFailure),
    (554, "Transaction failed", "recipient", RefusedFailure),
    (530, "authentication required", "recipient", RefusedFailure),
    (550, "5.1.1 no such user", "sender", RefusedFailure),
    (554, "5.7.1 spam", "message", RefusedFailure),
    (550, "rejected", "message", RefusedFailure),
    (451, "4.3.0 try later", "recipient", TemporaryFailure),
    (421, "closing", "message", TemporaryFailure),
    (550, "Requested action not taken\n5.7.1 Relaying denied", "recipient", RefusedFailure),
    (553, "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)", "recipient",
     RefusedFailure),
    (550, "relaying denied", "recipient", RefusedFailure),
    (550, "5.1.1 first line\n5.1.1 second line", "recipient", PermanentFailure),
    (550, "4.1.1 a class that does not match", "recipient", TemporaryFailure),
    (550, "5.1.0 <news@x>: Sender address rejected", "recipient", RefusedFailure),
    (550, "5.1.7 bad sender mailbox", "recipient", RefusedFailure),
    (550, "5.1.8 bad sender system", "recipient", RefusedFailure),
    (550, "5.1.90 daily user sending quota exceeded", "recipient", RefusedFailure),
    (550, "Sending rate overlimit", "recipient", RefusedFailure),
    (550, "SMTP AUTH is required for users of this service", "recipient", RefusedFailure),
    (550, "Sending quota exceeded", "recipient", RefusedFailure),
    (550, "5.1.2 bad destination system", "recipient", PermanentFailure),
])
def test_a_reply_means_what_its_enhanced_code_says(code: int, text: str, stage: str,
                                                    kind: type[Exception]) -> None:
    found = classify(code, text, stage)  # type: ignore[arg-type]
    assert type(found) is kind
    assert " ".join(f"{code} {text}".split()) in str(found)
    if isinstance(found, TemporaryFailure):
        assert found.now == (code < 500)  # a 5xx about the mailbox waits for a later run


@pytest.mark.parametrize("reply", ["554 5.7.1 <{}>: Relay access denied",
                                   "554 Transaction failed",
                                   "530 5.7.0 Authentication required"])
def test_a_relay_that_refuses_everyone_stops_at_once_and_suppresses_nobody(
        backend: str, project: Project, reply: str) -> None:
    digest_posts(project)
    write_subscribers(project, population(30))
    box = Mailbox(refuse_all=reply.format("x"))
    with serve(box) as port:
        configure(project, port, smtp={"retries": 0})
        refused = feedpress(project, "digest", "--send")
        box.refuse_all = None
        fixed = feedpress(project, "digest", "--send")
    no_traceback(refused)
    assert refused.code == 3
    assert "stopped early: the mail server refused a recipient: " + reply[:8] in refused.err
    assert "nobody was suppressed" in refused.err
    assert suppressions(project) == []
    assert fixed.code == 0, fixed.err
    assert box.copies() == Counter(dict.fromkeys(digest_recipients(30), 1))
    assert [c[6] for c in campaigns(project)] == [True]


def test_a_relay_that_bounces_everyone_trips_the_breaker_and_suppresses_nobody(
        backend: str, project: Project) -> None:
    """550 5.1.1 to all 60: after the first 20 the run stops; none is suppressed; once the
    relay is right, everyone gets the digest once."""
    digest_posts(project)
    write_subscribers(project, population(60))
    everyone = {address(i) for i in range(60)}
    box = Mailbox(permanent=set(everyone))
    with serve(box) as port:
        configure(project, port, smtp={"retries": 0, "connections": 2})
        refused = feedpress(project, "digest", "--send")
        tried = sum(box.rcpt_tries.values())
        box.permanent = set()
        fixed = feedpress(project, "digest", "--send")
    assert refused.code == 3, refused.err
    # The breaker trips at 20; the other connection may have one more refusal under way.
    assert re.search(r"the first 2[0-2] recipients were all refused", refused.err)
    assert "550 5.1.1" in refused.err and "nobody was suppressed" in refused.err
    assert 20 <= tried <= 22
    assert suppressions(project) == []
    assert refused.summary()[3] == 0  # bounced
    assert fixed.code == 0, fixed.err
    assert box.copies() == Counter(dict.fromkeys(digest_recipients(60), 1))


def test_refusals_before_the_first_acceptance_bounce_once_an_address_is_accepted(
        backend: str, project: Project) -> None:
    digest_posts(project)
    write_subscribers(project, population(20))
    gone = {address(0), address(1), address(2)}
    box = Mailbox(permanent=set(gone))
    with serve(box) as port:
        configure(project, port, smtp={"retries": 0, "connections": 1})
        run = feedpress(project, "digest", "--send")
    assert run.code == 0, run.err
    sent, _, _, bounced, pending = run.summary()
    assert (bounced, pending) == (3, 0)
    assert {a for a, _ in suppressions(project)} == gone
    assert "  3 bounced: 550 5.1.1 <address>: no such user here" in run.out
    assert statuses(project) == Counter(sent=sent, bounced=3)
    assert [c[6] for c in campaigns(project)] == [True]


def test_one_message_refused_after_data_leaves_that_one_pending_and_the_run_goes_on(
        project: Project) -> None:
    digest_posts(project)
    write_subscribers(project, population(10))
    box = Mailbox(refuse_data={address(5): "554 5.7.1 looks like spam"})
    with serve(box) as port:
        configure(project, port, smtp={"retries": 0, "connections": 1})
        run = feedpress(project, "digest", "--send")
    assert run.code == 3, run.err
    assert "stopped early" not in run.err
    assert box.copies() == Counter(dict.fromkeys(digest_recipients(10) - {address(5)}, 1))
    assert "  1 pending: the mail server refused the message: 554 5.7.1 looks like spam" \
        in run.out
    assert suppressions(project) == []


# === 2. a subscriber file that cannot be right ============================================


@pytest.mark.parametrize(("content", "says"), [
    ("", "the file is empty"),
    ("email,name,blogs,tags,alerts\n", "no valid subscriber"),
    ("name,address,alerts\nAna,ana@example.org,yes\n", "must have an email column; it has "
                                                      "name, address, alerts"),
    ("email;name\nana@example.org;Ana\n", "looks separated by semicolons"),
    ("\ufeffEmail Address,Name\nana@example.org,Ana\n", "must have an email column"),
])
def test_a_subscriber_file_that_cannot_be_right_stops_the_send_before_anything_is_recorded(
        project: Project, content: str, says: str) -> None:
    digest_posts(project)
    (project.root / "subscribers.csv").write_text(content, encoding="utf-8")
    box = Mailbox()
    with serve(box) as port:
        configure(project, port)
        refused = feedpress(project, "digest", "--send")
        dry = feedpress(project, "digest", "--dry-run", str(project.root / "dry"))
        write_subscribers(project, population(5))
        fixed = feedpress(project, "digest", "--send")
    no_traceback(refused)
    assert refused.code == 1 and dry.code == 1
    assert says in refused.err and "nothing was sent and nothing recorded" in refused.err
    assert fixed.code == 0, fixed.err
    assert box.copies() == Counter(dict.fromkeys(digest_recipients(5), 1))


def test_fewer_valid_rows_than_min_subscribers_stops_the_send(project: Project) -> None:
    digest_posts(project)
    write_subscribers(project, population(3))
    configure(project, transport="maildir", min_subscribers=10)
    run = feedpress(project, "digest", "--send")
    assert run.code == 1
    assert "only 3 valid subscriber(s), fewer than email.min_subscribers (10)" in run.err
    assert not (project.root / ".feedpress" / "state.db").exists()
    assert not (project.root / "outbox").exists()


def test_subscribers_check_names_a_wrong_separator(project: Project) -> None:
    configure(project, transport="maildir")
    (project.root / "subscribers.csv").write_text("email;name\na@example.org;A\n", "utf-8")
    run = feedpress(project, "subscribers", "check")
    assert run.code == 1
    assert "looks separated by semicolons; feedpress reads comma-separated files" in run.err


def test_a_campaign_that_reaches_nobody_is_not_completed_and_its_posts_stay_due(
        backend: str, project: Project) -> None:
    """Everyone pending (the relay was down): the next run sends the same campaign."""
    digest_posts(project)
    write_subscribers(project, population(5))
    with serve(Mailbox(temporary={address(i) for i in range(5)})) as port:
        configure(project, port, smtp={"retries": 0})
        first = feedpress(project, "digest", "--send")
    box = Mailbox()
    with serve(box) as port:
        configure(project, port, smtp={"retries": 0})
        second = feedpress(project, "digest", "--send")
    assert first.code == 3 and second.code == 0, first.err + second.err
    assert box.copies() == Counter(dict.fromkeys(digest_recipients(5), 1))
    assert [c[6] for c in campaigns(project)] == [True]


# === 3. headers every server accepts =======================================================


def test_long_names_are_folded_and_control_characters_removed_so_everyone_gets_it(
        project: Project) -> None:
    digest_posts(project)
    rows = population(30)
    long_name = "Very Long Name, Esq. " * 57 + "Ünïcödé"  # over 1,200 characters
    rows[0] = (rows[0][0], f'"{long_name}"', *rows[0][2:])
    rows[5] = (rows[5][0], "Bell\x07Esc\x1bNul\x00Name", *rows[5][2:])
    rows[6] = (rows[6][0], "Evil\u202egpj.exe", *rows[6][2:])
    write_subscribers(project, rows)
    box = Mailbox()  # aiosmtpd refuses a line over 1,000 bytes with "500 Line too long"
    with serve(box) as port:
        configure(project, port, smtp={"retries": 0, "connections": 1})
        run = feedpress(project, "digest", "--send")
    assert run.code == 0, run.err
    assert box.copies() == Counter(dict.fromkeys(digest_recipients(30), 1))
    assert "subscribers.csv:7: name: control characters (or bidirectional " \
        "overrides) removed" in run.err
    assert "subscribers.csv:8: name:" in run.err  # the right-to-left override
    for received in box.snapshot():
        head = received.data.split(b"\r\n\r\n", 1)[0]
        lines = head.split(b"\r\n")
        assert max(map(len, lines)) <= 998
        long = [line for line in lines if len(line) > 78 and b"https://" not in line]
        assert not long, long  # only a URL, which cannot be folded, may be longer
    by_address = {r.recipient: r.data for r in box.snapshot()}
    assert to_name(by_address[address(0)]) == long_name
    assert to_name(by_address[address(5)]) == "Bell Esc Nul Name"
    assert to_name(by_address[address(6)]) == "Evil gpj.exe"


def to_name(data: bytes) -> str:
    """The To: display name decoded as RFC 2047 says (white space between encoded words is
    dropped; Python's default policy keeps it)."""
    raw = email.message_from_bytes(data, policy=email.policy.compat32)["To"]
    ((name, _),) = email.utils.getaddresses([raw])
    return str(email.header.make_header(email.header.decode_header(name)))


# === 5. the ledger guards itself ==========================================================


def test_a_ledger_removed_during_the_run_stops_it(project: Project) -> None:
    digest_posts(project)
    write_subscribers(project, population(60))
    state = project.root / ".feedpress" / "state.db"

    def remove(count: int) -> None:
        if count == 5:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{state}{suffix}").unlink(missing_ok=True)

    box = Mailbox(on_accept=remove)
    with serve(box) as port:
        configure(project, port, smtp={"retries": 0, "connections": 1})
        run = feedpress(project, "digest", "--send")
    no_traceback(run)
    assert run.code == 1
    assert "the send ledger was removed or replaced while sending; stopped" in run.err
    assert len(box.snapshot()) <= 6  # the one being recorded when it went, at most


def test_eight_processes_making_a_new_ledger_at_once_all_succeed(
        backend: str, project: Project) -> None:
    state = project.root / ".feedpress" / "state.db"
    script = textwrap.dedent(f"""
        import os, sys
        from datetime import datetime, UTC
        from pathlib import Path
        from feedpress.mail.ledger import Place, open_ledger
        url = os.environ.get("FEEDPRESS_STATE_URL")
        place = Place(url=url) if url else Place(Path({str(state)!r}))
        with open_ledger(place, datetime.now(UTC)) as ledger:
            ledger.open_alert("post-" + sys.argv[1], [])
    """)
    children = [subprocess.Popen([sys.executable, "-c", script, str(n)], stderr=subprocess.PIPE)
                for n in range(8)]
    errors = [child.communicate(timeout=60)[1].decode() for child in children]
    assert [child.returncode for child in children] == [0] * 8, errors
    assert schema_version(project) == 2
    assert query(project, "SELECT COUNT(*) FROM campaigns") == [(8,)]


def schema_version(project: Project) -> int:
    """The ledger's schema version, read as each engine keeps it."""
    if state_url():
        return int(query(project, "SELECT version FROM feedpress_schema")[0][0])
    return int(query(project, "PRAGMA user_version")[0][0])


def make_first_schema_ledger(project: Project) -> None:
    """A ledger as the first feedpress made it (schema version 1), on the test's engine."""
    from feedpress.mail.ledger import MIGRATIONS

    statements = [s for s in MIGRATIONS[0].split(";") if s.strip()]
    url = state_url()
    if url:
        with psycopg.connect(url) as conn:
            for statement in statements:
                conn.execute(statement)
            conn.execute("CREATE TABLE feedpress_schema (version INTEGER NOT NULL)")
            conn.execute("INSERT INTO feedpress_schema VALUES (1)")
        return
    state = project.root / ".feedpress" / "state.db"
    state.parent.mkdir()
    with contextlib.closing(sqlite3.connect(state)) as db, db:
        db.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")


def test_a_ledger_of_the_first_schema_is_migrated_and_read_alike_by_every_mode(
        backend: str, project: Project, tmp_path: Path) -> None:
    """An unfinished digest in a version-1 ledger: the dry run reads it migrated (leaving
    the ledger as it is), and the send migrates the ledger and resumes it."""
    digest_posts(project)
    write_subscribers(project, population(5))
    make_first_schema_ledger(project)
    execute(project, "INSERT INTO campaigns (id, kind, window_start, window_end, posts, "
            "created_at) VALUES (1, 'digest', '2026-11-18T12:00:00+00:00', "
            "'2026-11-25T12:00:00+00:00', ?, '2026-11-25T12:00:00+00:00')",
            json.dumps(ids(project, "markets")))
    execute(project, "INSERT INTO deliveries VALUES (1, ?, 'sent', 1, NULL, NULL, 'x')",
            address(0))
    configure(project, transport="maildir")
    dry = feedpress(project, "digest", "--dry-run", str(tmp_path / "dry"))
    assert dry.code == 0, dry.err
    assert schema_version(project) == 1
    assert query(project, "SELECT COUNT(*) FROM deliveries") == [(1,)]
    owed = {address(1), address(4)}  # the alpha post's readers, but address(0), who had it
    assert sorted(to_address(read_eml(f)) for f in (tmp_path / "dry").glob("*.eml")) == sorted(
        owed)
    run = feedpress(project, "digest", "--send")
    assert run.code == 0, run.err
    assert run.summary()[:2] == (len(owed), 1)
    assert schema_version(project) == 2
    assert sorted(query(project, "SELECT address, status FROM deliveries")) == sorted(
        [(address(0), "sent"), *((a, "sent") for a in owed)])


# === 6. say why ============================================================================


def test_a_closed_port_is_named_in_the_summary(project: Project) -> None:
    digest_posts(project)
    write_subscribers(project, population(5))
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    configure(project, port, smtp={"retries": 0, "max_errors": 100})
    run = feedpress(project, "digest", "--send")
    assert run.code == 3
    pending = len(digest_recipients(5))
    assert f"  {pending} pending: cannot connect to 127.0.0.1:{port}:" in run.out
    assert "Connection refused" in run.out


def test_the_progress_count_only_goes_forward_over_campaigns() -> None:
    from feedpress.cli import _Progress

    shown: list[str] = []
    progress = _Progress()
    progress.tty = True
    import click

    real = click.echo
    click.echo = lambda message="", **_: shown.append(str(message))  # type: ignore[assignment]
    try:
        progress.start(2, "the alert for 'A'")
        progress("a@example.org", "sent")
        progress("b@example.org", "pending")
        progress.start(3, "the alert for 'B'")
        progress("a@example.org", "sent")
    finally:
        click.echo = real  # type: ignore[assignment]
    counts = [line.split("] ")[1].split(" ")[0] for line in shown if "] " in line]
    assert counts == ["1/2", "2/2", "3/5"]


# === 7. unsubscribing by hand ==============================================================


def test_unsubscribing_an_address_not_in_the_list_needs_force(
        backend: str, project: Project) -> None:
    write_subscribers(project, [("ana@example.org", "Ana", "", "", "yes"),
                                ("karl@bücher.de", "Karl", "", "", "yes")])
    configure(project, transport="maildir")
    typo = feedpress(project, "subscribers", "unsubscribe", "ana@exmaple.org")
    invalid = feedpress(project, "subscribers", "unsubscribe", "not-an-email")
    assert typo.code == 2 and invalid.code == 2
    assert "is not in" in typo.err and "did you mean ana@example.org?" in typo.err
    assert "not a valid address" in invalid.err
    assert not has_ledger(project)
    forced = feedpress(project, "subscribers", "unsubscribe", "ana@exmaple.org", "--force")
    idn = feedpress(project, "subscribers", "unsubscribe", " Karl@Bücher.de")
    assert forced.code == 0 and idn.code == 0, forced.err + idn.err
    assert sorted({a for a, _ in suppressions(project)}) == [
        "ana@exmaple.org", "karl@xn--bcher-kva.de"]
    listed = feedpress(project, "subscribers", "list")
    assert "karl@xn--bcher-kva.de\tKarl\tnothing (suppressed)" in listed.out


# === 9. messages, not tracebacks ===========================================================


@pytest.mark.parametrize("mode", [["--preview", "p"], ["--dry-run", "d"],
                                  ["--to", "x@example.org"], ["--send"]])
@pytest.mark.parametrize("damage", ["garbage", "newer", "no-table"])
def test_a_damaged_or_newer_ledger_is_a_message_in_every_mode(
        project: Project, mode: list[str], damage: str) -> None:
    digest_posts(project)
    write_subscribers(project, population(3))
    configure(project, transport="maildir")
    assert feedpress(project, "digest", "--send").code == 0
    state = project.root / ".feedpress" / "state.db"
    with sqlite3.connect(state) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    if damage == "garbage":
        data = bytearray(state.read_bytes())
        data[4096:8192] = os.urandom(4096)
        state.write_bytes(bytes(data))
    elif damage == "newer":
        with sqlite3.connect(state) as db:
            db.execute("PRAGMA user_version = 99")
    else:
        with sqlite3.connect(state) as db:
            db.execute("DROP TABLE suppressions")
    args = [mode[0], str(project.root / mode[1])] if len(mode) > 1 and mode[0] != "--to" \
        else mode
    run = feedpress(project, "alert", *args, now=NOW)
    no_traceback(run)
    if run.code != 0:
        assert "send ledger" in run.err, run.err


def test_an_invalid_dkim_key_is_a_message(project: Project, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    digest_posts(project)
    write_subscribers(project, population(3))
    monkeypatch.setenv("FEEDPRESS_DKIM_KEY", "-----BEGIN RSA PRIVATE KEY-----\nAAAA\n"
                                             "-----END RSA PRIVATE KEY-----\n")
    configure(project, transport="maildir",
              dkim={"selector": "s1", "key_env": "FEEDPRESS_DKIM_KEY"})
    run = feedpress(project, "digest", "--send")
    no_traceback(run)
    assert run.code == 1
    assert "the DKIM key in FEEDPRESS_DKIM_KEY cannot sign: Unparsable private key" in run.err


@pytest.mark.parametrize("to", ["not-an-address", "", "josé@example.org",
                                "a@b.org> NOTIFY=NEVER", "a@b.org>\r\nRCPT TO:<x@y.org"])
def test_to_takes_only_a_valid_address(project: Project, to: str) -> None:
    digest_posts(project)
    write_subscribers(project, population(3))
    box = Mailbox()
    with serve(box) as port:
        configure(project, port)
        run = feedpress(project, "digest", "--to", to)
    no_traceback(run)
    assert run.code == 2 and "address" in run.err
    assert box.snapshot() == []


@pytest.mark.parametrize("now", ["0001-01-03T00:00Z", "9999-12-31T00:00Z"])
def test_a_clock_out_of_range_is_a_usage_error(project: Project, now: str) -> None:
    digest_posts(project)
    write_subscribers(project, population(3))
    configure(project, transport="maildir")
    run = Run(*run_main(["digest", "--dry-run", str(project.root / "d"), "--now", now,
                         "--config", str(project.config_path)]))
    no_traceback(run)
    assert run.code == 2 and "out of range" in run.err


def test_a_row_naming_a_blog_the_site_does_not_have_is_warned_about(project: Project) -> None:
    write_subscribers(project, [("ana@example.org", "Ana", "alpha;sport", "", "yes"),
                                ("omar@example.org", "Omar", "beta", "", "yes")])
    configure(project, transport="maildir")
    run = feedpress(project, "subscribers", "check")
    assert run.code == 1
    assert ("subscribers.csv:2: blogs: sport is not a blog of this site (alpha, "
            "beta)") in run.err
    assert "subscribers.csv:3" not in run.err


def test_a_name_that_cannot_be_encoded_leaves_the_address_alone() -> None:
    """Not text (a lone surrogate, as undecodable bytes become): the address goes alone,
    and the run is not stopped by it."""
    from feedpress.mail.messages import _address

    assert _address("To", "Bad \udcff Name", "ana@example.org") == "ana@example.org"
    assert _address("To", "", "ana@example.org") == "ana@example.org"
    assert _address("To", "Ana Lima", "ana@example.org") == "Ana Lima <ana@example.org>"


def test_an_smtp_send_without_a_ledger_needs_new_ledger(backend: str, project: Project) -> None:
    """A ledger not kept (a fresh CI runner, a removed file) must not pass for a first send:
    everyone would get everything again."""
    digest_posts(project)
    write_subscribers(project, population(5))
    state = project.root / ".feedpress" / "state.db"
    box = Mailbox()
    with serve(box) as port:
        configure(project, port)
        argv = ["digest", "--send", "--config", str(project.config_path),
                "--now", "2026-11-25T12:00Z"]
        refused = Run(*run_main(argv))
        assert not has_ledger(project) and box.snapshot() == []
        wrong = Run(*run_main(["digest", "--dry-run", "d", "--new-ledger", *argv[2:]]))
        first = Run(*run_main([*argv, "--new-ledger"]))
    no_traceback(refused)
    assert refused.code == 1
    url = state_url()
    shown = f"{url.replace(':' + PG_PASSWORD, '')} (from FEEDPRESS_STATE_URL)" if url else state
    assert f"no ledger at {shown}: if this is the very first send, run again with " \
           "--new-ledger; in CI this usually means the state was not kept" in refused.err
    assert PG_PASSWORD not in refused.err
    assert wrong.code == 2 and "--new-ledger goes with --send only" in wrong.err
    assert first.code == 0, first.err
    assert box.copies() == Counter(dict.fromkeys(digest_recipients(5), 1))


def test_a_maildir_send_starts_its_ledger_as_the_quick_start_does(project: Project) -> None:
    digest_posts(project)
    write_subscribers(project, population(5))
    configure(project, transport="maildir")
    run = Run(*run_main(["digest", "--send", "--config", str(project.config_path),
                         "--now", "2026-11-25T12:00Z"]))
    assert run.code == 0, run.err
    assert (project.root / ".feedpress" / "state.db").exists()


def test_a_delivery_ambiguous_twice_is_unconfirmed_and_never_sent_a_third_time(
        backend: str, project: Project) -> None:
    digest_posts(project)
    write_subscribers(project, population(3))
    box = Mailbox(lose_reply_every=1)  # every message kept, every reply lost
    with serve(box) as port:
        configure(project, port, smtp={"connections": 1})
        runs = [feedpress(project, "digest", "--send") for _ in range(3)]
    eligible = digest_recipients(3)
    assert runs[0].code == 3 and f", {len(eligible)} ambiguous" in runs[0].out
    assert runs[1].code == 0, runs[1].out  # nothing is left for a later run
    assert f", {len(eligible)} unconfirmed" in runs[1].out
    assert f"  {len(eligible)} unconfirmed: ambiguous twice, so not sent again" in runs[1].out
    assert "Nothing new to send" in runs[2].out
    assert box.copies() == Counter(dict.fromkeys(eligible, 2))
    assert all(len({r.message()["Message-ID"] for r in box.snapshot() if r.recipient == a}) == 1
               for a in eligible)
    assert [c[6] for c in campaigns(project)] == [True]


def test_a_campaign_nobody_is_owed_says_why(project: Project) -> None:
    digest_posts(project)
    write_subscribers(project, [("ana@example.org", "Ana", "", "weather", "yes")])
    configure(project, transport="maildir")
    run = feedpress(project, "digest", "--send")
    assert run.code == 0, run.err
    assert ("note: the digest of 2 post(s): nobody on the list is owed it (1: none of its "
            "posts is in their blogs and tags)") in run.err
    assert campaigns(project) == []  # not opened: its posts stay due


def test_checks_against_a_list_that_cannot_be_read_say_so(project: Project) -> None:
    configure(project, transport="maildir")
    (project.root / "subscribers.csv").write_text("email,name\n", encoding="utf-8")
    check = feedpress(project, "subscribers", "check")
    assert check.code == 1 and "no valid subscriber" in check.err
    (project.root / "subscribers.csv").write_text("email;name\nana@example.org;Ana\n", "utf-8")
    unsubscribe = feedpress(project, "subscribers", "unsubscribe", "ana@example.org")
    assert unsubscribe.code == 2
    assert "cannot check ana@example.org against the list" in unsubscribe.err
    assert "looks separated by semicolons" in unsubscribe.err


def test_an_acceptance_after_the_breaker_tripped_releases_nothing(project: Project) -> None:
    """One good address slow to be accepted on one connection while the other meets 20
    refusals: the breaker trips first, and its held refusals stay unsuppressed."""
    project.post("alpha", "news", title="News", date="2026-11-25T10:00:00Z")
    rows = [(address(i), f"Reader {i}", "", "", "yes") for i in range(41)]
    write_subscribers(project, rows)
    box = Mailbox(permanent={address(i) for i in range(1, 41)}, delay=1.0)
    with serve(box) as port:
        configure(project, port, smtp={"retries": 0, "connections": 2})
        run = feedpress(project, "digest", "--send")
    assert run.code == 3, run.err
    assert "the first 20 recipients were all refused" in run.err
    assert suppressions(project) == []
    assert box.copies() == Counter({address(0): 1})


def test_addresses_refused_last_time_go_last_so_the_breaker_does_not_trip_for_ever(
        project: Project) -> None:
    project.post("alpha", "news", title="News", date="2026-11-25T10:00:00Z")
    rows = [(address(i), f"Reader {i}", "", "", "yes") for i in range(60)]
    write_subscribers(project, rows)
    dead = {address(i) for i in range(25)}
    box = Mailbox(permanent=set(dead))
    with serve(box) as port:
        configure(project, port, smtp={"retries": 0, "connections": 1})
        first = feedpress(project, "digest", "--send")
        second = feedpress(project, "digest", "--send")
    assert first.code == 3 and "the first 20 recipients were all refused" in first.err
    assert second.code == 0, second.out + second.err
    assert box.copies() == Counter(dict.fromkeys({address(i) for i in range(25, 60)}, 1))
    assert {a for a, _ in suppressions(project)} == dead
    assert [c[6] for c in campaigns(project)] == [True]


def test_a_stray_quote_in_the_csv_skips_the_rows_it_swallows_and_says_where(
        project: Project) -> None:
    digest_posts(project)
    lines = ["email,name,blogs,tags,alerts", "first@example.org,First,,,yes",
             'ana@example.org,"Ana Lima,,,yes']
    lines += [f"{address(i)},Reader {i},,,yes" for i in range(3)]
    (project.root / "subscribers.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    configure(project, transport="maildir")
    check = feedpress(project, "subscribers", "check")
    send = feedpress(project, "digest", "--send")
    assert check.code == 1
    assert "subscribers.csv:3: email: a quoted field runs on to line 6, swallowing the rows " \
           "between: is a closing quote missing?" in check.err
    assert send.code == 1 and "the file is broken there" in send.err
    huge = 'email,name\nana@example.org,"' + "x" * 200_000 + "\n"
    (project.root / "subscribers.csv").write_text(huge, encoding="utf-8")
    again = feedpress(project, "subscribers", "check")
    no_traceback(again)
    assert again.code == 1 and "is a closing quote missing?" in again.err


def test_a_sender_address_that_is_not_ascii_is_a_config_error(project: Project) -> None:
    configure(project, transport="maildir", **{"from": "News <news@nëws.example.org>"})
    run = feedpress(project, "digest", "--dry-run", str(project.root / "d"))
    no_traceback(run)
    assert run.code == 1 and "must be an ASCII address" in run.err


def test_a_host_name_that_cannot_be_one_is_a_message(project: Project) -> None:
    digest_posts(project)
    write_subscribers(project, population(3))
    configure(project, 25, smtp={"host": "bad..host"})
    run = feedpress(project, "digest", "--send")
    no_traceback(run)
    assert run.code == 1 and "email.smtp.host: 'bad..host' is not a valid host name" in run.err


def test_a_subject_of_one_long_word_is_still_folded() -> None:
    from feedpress.mail.messages import _encode

    header = "Subject: " + _encode("Subject", "Breaking:" + "x" * 1200)
    assert max(len(line) for line in header.split("\r\n")) <= 78
    decoded = email.header.make_header(email.header.decode_header(header[len("Subject: "):]))
    assert str(decoded) == "Breaking:" + "x" * 1200


@pytest.mark.parametrize(("key", "value"), [
    ("unsubscribe_url", "https://nëws.example.org/unsubscribe?token={token}"),
    ("unsubscribe_url", "https://news.example.org/un subscribe?token={token}"),
    ("unsubscribe_mailto", "unsubscribe@news.example.org\r\nBcc: x@evil.example"),
    ("unsubscribe_mailto", "ünsubscribe@news.example.org"),
])
def test_unsubscribe_settings_that_cannot_go_in_a_header_are_config_errors(
        project: Project, key: str, value: str) -> None:
    digest_posts(project)
    write_subscribers(project, population(3))
    configure(project, transport="maildir", **{key: value})
    run = feedpress(project, "digest", "--send")
    no_traceback(run)
    assert run.code == 1 and key in run.err
    assert not (project.root / "outbox").exists()


def test_a_relay_refusing_every_message_after_the_first_is_stopped_by_max_errors(
        project: Project) -> None:
    digest_posts(project)
    write_subscribers(project, population(40))
    box = Mailbox(refuse_data={address(i): "554 5.7.1 rejected" for i in range(1, 40)})
    with serve(box) as port:
        configure(project, port, smtp={"retries": 0, "connections": 1, "max_errors": 5})
        run = feedpress(project, "digest", "--send")
    assert run.code == 3
    assert "5 failures in a row" in run.err
    assert len(box.snapshot()) == 1 and suppressions(project) == []


@pytest.mark.parametrize("command", ["digest", "alert"])
def test_a_campaign_resumed_later_goes_only_to_whom_it_was_owed(
        backend: str, project: Project, command: str) -> None:
    """Someone who joins the list after a campaign began never gets that old campaign."""
    if command == "digest":
        digest_posts(project)
    else:
        project.post("alpha", "quake", title="Quake", breaking=True,
                     date=iso(NOW - timedelta(hours=2)))
    rows = [("ana@example.org", "Ana", "", "", "yes"), ("full@example.org", "Full", "", "", "yes")]
    write_subscribers(project, rows)
    box = Mailbox(temporary={"full@example.org"})
    with serve(box) as port:
        configure(project, port, smtp={"retries": 0})
        first = feedpress(project, command, "--send")
        write_subscribers(project, [*rows, ("new@example.org", "New", "", "", "yes")])
        box.temporary.clear()
        later = feedpress(project, command, "--send", now=NOW + timedelta(days=3))
    assert first.code == 3 and later.code == 0, later.err
    assert box.copies() == Counter({"ana@example.org": 1, "full@example.org": 1})
    assert all(c[6] for c in campaigns(project))


def test_an_address_refused_at_data_holds_back_no_new_digest(project: Project) -> None:
    project.post("alpha", "first", title="First", date=iso(NOW - timedelta(hours=2)))
    rows = [("big@example.org", "Big", "", "", "yes"), ("ana@example.org", "Ana", "", "", "yes")]
    write_subscribers(project, rows)
    box = Mailbox(refuse_data={"big@example.org": "552 5.3.4 message too big"})
    with serve(box) as port:
        configure(project, port, smtp={"retries": 0, "connections": 1})
        feedpress(project, "digest", "--send")
        project.post("alpha", "second", title="Second", date=iso(NOW + timedelta(hours=20)))
        second = feedpress(project, "digest", "--send", now=NOW + timedelta(days=1))
    second_got = {r.recipient for r in box.snapshot() if "Second" in r.data.decode()}
    assert second_got == {"ana@example.org"}, second.err


@pytest.mark.parametrize("content", [
    'name,email\n"Ann,a@example.org\nBob,b@example.org\nCy,c@example.org\nDee,d@example.org\n',
    '"email","name"\n"a@example.org","Ann\n"b@example.org","Bob"\n"c@example.org","Cy"\n',
])
def test_a_stray_quote_is_caught_whatever_the_column_order(project: Project,
                                                           content: str) -> None:
    digest_posts(project)
    (project.root / "subscribers.csv").write_text(content, encoding="utf-8")
    configure(project, transport="maildir")
    check = feedpress(project, "subscribers", "check")
    send = feedpress(project, "digest", "--send")
    assert check.code == 1 and "is a closing quote missing?" in check.err
    assert send.code == 1 and not (project.root / "outbox").exists()


def test_an_empty_ledger_file_is_no_ledger(project: Project) -> None:
    digest_posts(project)
    write_subscribers(project, population(3))
    state = project.root / ".feedpress" / "state.db"
    state.parent.mkdir()
    state.write_bytes(b"")
    configure(project, 25)
    run = Run(*run_main(["digest", "--send", "--config", str(project.config_path),
                         "--now", "2026-11-25T12:00Z"]))
    assert run.code == 1 and "--new-ledger" in run.err
