"""One plan for every way a campaign goes out: `--send`, `--dry-run`, `--to`, `--preview`.

Each test puts the ledger in a state (a partial run, a bounce, an
unsubscribe, time moving past `alert.max_age`), then asks each way what
it would send, and checks them against what `--send` really delivers to
a real SMTP server on loopback.
"""

from __future__ import annotations

import email
import email.policy
from collections import Counter
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from conftest import NOW, Project
from smtp_servers import Mailbox, serve
from test_send import (
    address,
    alert_posts,
    configure,
    digest_posts,
    feedpress,
    iso,
    population,
    read_eml,
    subject_of,
    to_address,
    write_subscribers,
)

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
LATER = NOW + timedelta(days=2)  # every alert of `alert_posts` is older than max_age (24h)


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDPRESS_SECRET", "test secret: never used for real mail")


def html_part(message: EmailMessage) -> str:
    part = message.get_body(("html",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def dry_run(project: Project, command: str, out: Path,
            now: datetime = NOW) -> Counter[tuple[str, str]]:
    """(recipient, subject) of every message `--dry-run` writes."""
    run = feedpress(project, command, "--dry-run", str(out), now=now)
    assert run.code == 0, run.err
    return Counter((to_address(m), str(m["Subject"]))
                   for m in map(read_eml, sorted(out.glob("*.eml"))))


def previews(project: Project, command: str, out: Path, rows: list[tuple[str, ...]],
             now: datetime = NOW) -> dict[str, EmailMessage]:
    """Each subscriber's `--preview` message, for those who get one."""
    found = {}
    for row in rows:
        folder = out / row[0]
        run = feedpress(project, command, "--preview", str(folder), "--subscriber", row[0],
                        now=now)
        assert run.code == 0, run.err
        eml = folder / f"{'digest' if command == 'digest' else 'alert'}.eml"
        if eml.exists():
            found[row[0]] = read_eml(eml)
            assert (folder / eml.with_suffix(".html").name).read_text("utf-8") == html_part(
                found[row[0]])
        else:
            assert "Nothing to preview: nothing would go to" in run.out, run.out
    return found


def sent(box: Mailbox, since: int = 0) -> Counter[tuple[str, str]]:
    return Counter((r.recipient, subject_of(r.data)) for r in box.snapshot()[since:])


@pytest.mark.parametrize("command", ["digest", "alert"])
def test_dry_run_previews_and_send_agree_after_a_partial_run(
        project: Project, tmp_path: Path, command: str) -> None:
    """Bounced, pending, unsubscribed, filtered and done subscribers: every way agrees."""
    if command == "digest":
        digest_posts(project)
    else:
        alert_posts(project)
    rows = population(15)
    write_subscribers(project, rows)
    gone, later = {address(0), address(1)}, {address(5), address(6), address(10)}
    first = Mailbox(permanent=set(gone), temporary=set(later))
    with serve(first) as port:
        configure(project, port, smtp={"retries": 0})
        partial = feedpress(project, command, "--send")
    assert partial.code == 3, partial.err
    assert feedpress(project, "subscribers", "unsubscribe", address(10)).code == 0

    written = dry_run(project, command, tmp_path / "dry")
    shown = previews(project, command, tmp_path / "preview", rows)
    box = Mailbox()
    with serve(box) as port:
        configure(project, port, smtp={"retries": 0})
        done = feedpress(project, command, "--send")
    assert done.code == 0, done.err
    delivered = sent(box)
    assert delivered == written
    assert set(delivered) == {(a, str(m["Subject"])) for a, m in shown.items()}
    assert {a for a, _ in delivered} == {address(5), address(6)}  # pending, not unsubscribed
    for message in (r.message() for r in box.snapshot()):
        assert html_part(message) == html_part(shown[to_address(message)])


def test_an_unfinished_alert_goes_out_in_every_way_even_past_max_age(
        project: Project, tmp_path: Path) -> None:
    """An alert left pending is resumed by the next send however old its post; the dry
    run, the preview and the test message show it too (they used to say "nothing new")."""
    alert_posts(project)
    rows = population(10)
    write_subscribers(project, rows)
    first = Mailbox(temporary={address(5)})
    with serve(first) as port:
        configure(project, port, smtp={"retries": 0})
        partial = feedpress(project, "alert", "--send")
    assert partial.code == 3, partial.err

    written = dry_run(project, "alert", tmp_path / "dry", now=LATER)
    assert written == Counter({(address(5), "BREAKING: Earthquake hits the coast"): 1})
    preview = feedpress(project, "alert", "--preview", str(tmp_path / "p"), now=LATER)
    assert preview.code == 0, preview.err
    assert to_address(read_eml(tmp_path / "p" / "alert.eml")) == address(5)
    box = Mailbox()
    with serve(box) as port:
        configure(project, port, smtp={"retries": 0})
        test = feedpress(project, "alert", "--to", "editor@news.example.org", now=LATER)
        done = feedpress(project, "alert", "--send", now=LATER)
        again = feedpress(project, "alert", "--dry-run", str(tmp_path / "again"), now=LATER)
    assert test.code == 0 and done.code == 0, test.err + done.err
    assert sent(box) == written + Counter(
        {("editor@news.example.org", "BREAKING: Earthquake hits the coast"): 1})
    assert "Nothing new to send" in again.out and not (tmp_path / "again").exists()


def test_a_breaking_post_older_than_max_age_is_previewed_by_no_one_and_the_preview_says_why(
        project: Project, tmp_path: Path) -> None:
    project.post("alpha", "old", title="Old flash", breaking=True,
                 date=iso(NOW - timedelta(hours=30)))
    write_subscribers(project, population(5))
    box = Mailbox()
    with serve(box) as port:
        configure(project, port)
        preview = feedpress(project, "alert", "--preview", str(tmp_path / "p"))
        dry = feedpress(project, "alert", "--dry-run", str(tmp_path / "dry"))
        send = feedpress(project, "alert", "--send")
    assert preview.code == 0, preview.err
    assert preview.out.strip() == "Nothing new to send: no breaking posts in the window."
    assert "'Old flash'" in preview.err and "older than email.alert.max_age (24h)" in preview.err
    assert not (tmp_path / "p").exists()
    assert "Nothing new to send" in dry.out and "Nothing new to send" in send.out
    assert box.snapshot() == []


def test_a_subscriber_whose_choice_leaves_the_alert_out_is_told_so(
        project: Project, tmp_path: Path) -> None:
    """A preview for someone the send would skip says why and writes nothing; without
    --subscriber, the preview is for the first subscriber who would get it."""
    alert_posts(project)  # the fresh alert is in alpha
    rows = [("beta-only@example.org", "B", "beta", "", "yes"),
            ("no-alerts@example.org", "N", "", "", "no"),
            ("everything@example.org", "E", "", "", "yes")]
    write_subscribers(project, rows)
    box = Mailbox()
    with serve(box) as port:
        configure(project, port)
        beta = feedpress(project, "alert", "--preview", str(tmp_path / "b"),
                         "--subscriber", "beta-only@example.org")
        off = feedpress(project, "alert", "--preview", str(tmp_path / "n"),
                        "--subscriber", "no-alerts@example.org")
        default = feedpress(project, "alert", "--preview", str(tmp_path / "d"))
        send = feedpress(project, "alert", "--send")
    assert beta.code == 0 and off.code == 0 and default.code == 0
    assert beta.out.strip() == ("Nothing to preview: nothing would go to beta-only@example.org: "
                                "none of its posts is in their blogs and tags.")
    assert "alerts: no in the subscriber list" in off.out
    assert not (tmp_path / "b").exists() and not (tmp_path / "n").exists()
    assert to_address(read_eml(tmp_path / "d" / "alert.eml")) == "everything@example.org"
    assert send.code == 0, send.err
    assert [r.recipient for r in box.snapshot()] == ["everything@example.org"]


def test_a_preview_for_someone_already_reached_says_so(project: Project, tmp_path: Path) -> None:
    digest_posts(project)
    rows = population(10)
    write_subscribers(project, rows)
    with serve(Mailbox(temporary={address(6)})) as port:
        configure(project, port, smtp={"retries": 0})
        assert feedpress(project, "digest", "--send").code == 3
        reached = feedpress(project, "digest", "--preview", str(tmp_path / "r"),
                            "--subscriber", address(0))
        pending = feedpress(project, "digest", "--preview", str(tmp_path / "p"),
                            "--subscriber", address(6))
    assert reached.code == 0 and pending.code == 0, reached.err + pending.err
    assert "already reached by this campaign in an earlier run" in reached.out
    assert not (tmp_path / "r").exists()
    message = email.message_from_bytes((tmp_path / "p" / "digest.eml").read_bytes(),
                                       policy=email.policy.default)
    assert str(message["To"]).endswith(f"<{address(6)}>")


@pytest.mark.parametrize("mode", [["--send"], ["--dry-run", "dry"], ["--to", "a@example.org"]])
def test_since_and_until_go_with_the_preview_only(project: Project, mode: list[str]) -> None:
    """They used to be accepted and ignored: a send always takes what is due now."""
    digest_posts(project)
    write_subscribers(project, population(3))
    configure(project, transport="maildir")
    run = feedpress(project, "digest", *mode, "--since", iso(NOW - timedelta(days=30)))
    assert run.code == 2
    assert "--since and --until go with --preview only" in run.err
    assert not (project.root / "outbox").exists() and not (project.root / ".feedpress").exists()
