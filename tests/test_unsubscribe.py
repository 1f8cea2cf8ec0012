"""The unsubscribe endpoint, served for real on loopback by waitress as
`feedpress serve-unsubscribe` serves it, and the subscribers commands."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
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
from feedpress.mail.server import make_server, stop

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
        stop(server)
        thread.join(5)
        assert not thread.is_alive()


@pytest.fixture
def endpoint(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    state = tmp_path / "state.db"
    with open_ledger(Place(state), NOW):  # made by the first send, as in real life
        pass
    LOG.clear()
    app = UnsubscribeApp([SECRET], Place(state), LISTS, clock=lambda: NOW, log=LOG.append)
    with serving(app) as port:
        yield f"http://127.0.0.1:{port}/unsubscribe", state


def request_full(url: str, method: str = "GET", body: bytes | None = None, *,
                 headers: dict[str, str] | None = None, timeout: float = 5
                 ) -> tuple[int, str, dict[str, str]]:
    """Status, page and headers of one real HTTP request."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    if body is not None:
        req.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8"), dict(response.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8"), dict(exc.headers)


def request(url: str, method: str = "GET", body: bytes | None = None, *,
            timeout: float = 5) -> tuple[int, str]:
    status, page, _ = request_full(url, method, body, timeout=timeout)
    return status, page


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
    assert "subs.csv:3: email:" in capsys.readouterr().err
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


# === under attack: waitress, headers, logs ================================================


def raw(port: int, data: bytes, wait: float = 5.0) -> bytes:
    """Send `data` on a new connection and read until the server closes or `wait` ends."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
    return b"".join(chunks)


def test_a_half_sent_request_holds_up_nobody_else(endpoint: tuple[str, Path]) -> None:
    url, _ = endpoint
    port = int(url.split(":")[2].split("/")[0])
    stalled = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    try:
        stalled[0].sendall(b"GET /unsubscribe?tok")  # no end of line, ever
        stalled[1].sendall(b"POST /unsubscribe HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n"
                           b"\r\nabc")  # 97 bytes short
        stalled[2].sendall(b"GET /unsubscribe HTTP/1.1\r\nHost: x\r\n")  # headers unfinished
        token = tokens.make(SECRET, "ana@example.org", "blogs.news.example.org")
        started = time.monotonic()
        status, _ = request(f"{url}?token={token}", timeout=1)
        assert status == 200 and time.monotonic() - started < 1
    finally:
        for sock in stalled:
            sock.close()


@pytest.mark.parametrize("length", [b"-1", b"abc", b"1e3", b"99999999999999999999"])
def test_a_malformed_content_length_gets_400(endpoint: tuple[str, Path], length: bytes) -> None:
    url, state = endpoint
    port = int(url.split(":")[2].split("/")[0])
    answer = raw(port, b"POST /unsubscribe HTTP/1.1\r\nHost: x\r\nContent-Length: " + length
                 + b"\r\n\r\ntoken=x")
    assert answer.startswith(b"HTTP/1.1 400") or answer.startswith(b"HTTP/1.1 413"), answer
    assert b"Traceback" not in answer
    assert suppressed(state) == []


def test_a_locked_ledger_gets_503_with_retry_after_not_a_hang(
        endpoint: tuple[str, Path]) -> None:
    url, state = endpoint
    suppressed(state)  # make the ledger
    with open_ledger(Place(state), NOW):
        pass
    holder = sqlite3.connect(state)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        token = tokens.make(SECRET, "ana@example.org", "blogs.news.example.org")
        started = time.monotonic()
        status, page, headers = request_full(f"{url}?token={token}", "POST", b"")
        waited = time.monotonic() - started
        get_status, _ = request(f"{url}?token={token}", timeout=1)
    finally:
        holder.rollback()
        holder.close()
    assert status == 503 and headers["Retry-After"] == "30" and waited < 5
    assert "try again" in page and get_status == 200
    assert suppressed(state) == []
    assert request(f"{url}?token={token}", "POST", b"")[0] == 200  # once the lock is gone


SECURITY = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def test_every_answer_carries_the_security_headers_and_head_has_no_body(
        endpoint: tuple[str, Path]) -> None:
    url, _ = endpoint
    token = tokens.make(SECRET, "ana@example.org", "blogs.news.example.org")
    base = url.rsplit("/", 1)[0]
    for target, method, expected in ((f"{url}?token={token}", "GET", 200),
                                     (f"{url}?token=bad.token", "GET", 400),
                                     (f"{base}/elsewhere", "GET", 404),
                                     (f"{url}?token={token}", "PUT", 405),
                                     (f"{url}?token={token}", "HEAD", 200),
                                     (f"{url}?token=bad.token", "HEAD", 400)):
        status, page, headers = request_full(target, method)
        assert status == expected, (target, method)
        for name, value in SECURITY.items():
            assert headers[name] == value, (name, target, method)
        policy = headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
        if method == "HEAD":
            assert page == "" and int(headers["Content-Length"]) > 0


def test_the_log_names_requests_by_a_hash_never_the_token_or_the_address(
        endpoint: tuple[str, Path]) -> None:
    url, _ = endpoint
    token = tokens.make(SECRET, "ana@example.org", "blogs.news.example.org")
    request(f"{url}?token={token}")
    request(f"{url}?token={token}", "POST", b"")
    request(f"{url}?token=nonsense")
    assert len(LOG) == 3
    hashed = hashlib.sha256(token.encode()).hexdigest()[:12]
    assert LOG[0] == f"GET /unsubscribe 200 token={hashed}"
    assert LOG[1] == f"POST /unsubscribe 200 token={hashed}"
    payload = token.split(".")[0]
    for line in LOG:
        assert token not in line and payload not in line and "ana@" not in line


# === tokens: one spelling, long keys, a previous key =========================================


def test_only_the_one_spelling_of_a_token_verifies() -> None:
    token = tokens.make(SECRET, "ana@example.org", "blogs.news.example.org")
    payload, signature = token.split(".")
    assert tokens.verify([SECRET], token) == ("blogs.news.example.org", "ana@example.org", 0)
    for bad in (token + "A", token + "=", token + "==", token + "!", token + "%",
                f"{payload}=.{signature}", f"{payload}.{signature}.x", " " + token,
                f"{payload}.{signature[:-1]}{'B' if signature[-1] != 'B' else 'C'}",
                token.replace("-", "+").replace("_", "/"), f"{payload}\n.{signature}",
                f"{payload}.{signature}\u00e9"):
        if bad != token:
            assert tokens.verify([SECRET], bad) is None, bad


def test_a_token_signed_with_the_previous_key_still_works_and_is_counted(
        tmp_path: Path) -> None:
    old = b"the key we used last year, long enough"
    with open_ledger(Place(tmp_path / "state.db"), NOW):
        pass
    LOG.clear()
    app = UnsubscribeApp([SECRET, old], Place(tmp_path / "state.db"), LISTS, clock=lambda: NOW,
                         log=LOG.append)
    with serving(app) as port:
        url = f"http://127.0.0.1:{port}/unsubscribe"
        old_token = tokens.make(old, "bob@example.org", "blogs.news.example.org")
        new_token = tokens.make(SECRET, "ana@example.org", "blogs.news.example.org")
        assert request(f"{url}?token={old_token}", "POST", b"")[0] == 200
        assert request(f"{url}?token={new_token}", "POST", b"")[0] == 200
        other = tokens.make(b"a key nobody configured, long enough", "eve@example.org",
                            "blogs.news.example.org")
        assert request(f"{url}?token={other}", "POST", b"")[0] == 400
    assert LOG[0].endswith("(previous key)") and not LOG[1].endswith("(previous key)")
    assert suppressed(tmp_path / "state.db") == [("ana@example.org", "digest"),
                                                  ("bob@example.org", "digest")]


# === the reader's language ===================================================================


@pytest.mark.parametrize(("asked", "lang", "dir_", "words_"), [
    ({"Accept-Language": "ar-EG,ar;q=0.9,en;q=0.5"}, "ar", "rtl", "إلغاء الاشتراك"),
    ({"Accept-Language": "xx, ru;q=0.3"}, "ru", "ltr", "Отписаться"),
    ({"Accept-Language": "fa"}, "fa", "rtl", "لغو اشتراک"),
    ({"Accept-Language": "ja, zh;q=0.8"}, "en", "ltr", "Unsubscribe"),
    ({}, "en", "ltr", "Unsubscribe"),
])
def test_the_page_speaks_the_readers_language(endpoint: tuple[str, Path], asked: dict[str, str],
                                              lang: str, dir_: str, words_: str) -> None:
    url, _ = endpoint
    token = tokens.make(SECRET, "ana@example.org", "blogs.news.example.org")
    status, page, _ = request_full(f"{url}?token={token}", headers=asked)
    assert status == 200
    assert f'<html lang="{lang}" dir="{dir_}">' in page
    assert f">{words_}</button>" in page


def test_lang_in_the_link_wins_and_anything_else_in_it_is_ignored(
        endpoint: tuple[str, Path]) -> None:
    url, _ = endpoint
    token = tokens.make(SECRET, "ana@example.org", "blogs.news.example.org")
    ukrainian = request_full(f"{url}?token={token}&lang=uk", headers={"Accept-Language": "de"})
    assert '<html lang="uk" dir="ltr">' in ukrainian[1] and "Відписатися" in ukrainian[1]
    hostile = request_full(f"{url}?token={token}&lang=%22%3E%3Cscript%3E",
                           headers={"Accept-Language": "es"})
    assert '<html lang="es"' in hostile[1] and "<script>" not in hostile[1]


# === serve-unsubscribe, the command =========================================================


def serve_command(project: Project, *args: str, secret: str = SECRET.decode(),
                  previous: str | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "FEEDPRESS_SECRET": secret}
    env.pop("FEEDPRESS_PREVIOUS_SECRET", None)
    if previous is not None:
        env["FEEDPRESS_PREVIOUS_SECRET"] = previous
    return subprocess.Popen([sys.executable, "-m", "feedpress", "serve-unsubscribe",
                             "--config", str(project.config_path), *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_line(process: subprocess.Popen[str], text: str) -> str:
    assert process.stderr is not None
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if text in line:
            return line
        assert line or process.poll() is None, "the server stopped"
    raise AssertionError(f"no line with {text!r}")


@pytest.mark.parametrize("stop_with", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_and_sigterm_stop_it_cleanly(project: Project, stop_with: int) -> None:
    project.write_config({**BASE_CONFIG, "email": {}})
    server = serve_command(project, "--port", "0", "--threads", "2")
    line = wait_for_line(server, "serving unsubscribe links on http://127.0.0.1:")
    url = line.split(" on ")[1].strip()
    token = tokens.make(SECRET, "ana@example.org", "newsletter.news.example.org")
    assert request(f"{url}?token={token}")[0] == 200
    server.send_signal(stop_with)
    _, err = server.communicate(timeout=20)
    assert server.returncode == 0, err
    assert "stopped" in err and "Traceback" not in err and "Aborted" not in err


def test_a_port_in_use_and_a_bad_host_are_messages(project: Project) -> None:
    project.write_config({**BASE_CONFIG, "email": {}})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = serve_command(project, "--port", str(port))
        _, busy_err = busy.communicate(timeout=20)
    nowhere = serve_command(project, "--host", "no-such-host.invalid", "--port", "0")
    _, nowhere_err = nowhere.communicate(timeout=30)
    foreign = serve_command(project, "--host", "192.0.2.1", "--port", "0")
    _, foreign_err = foreign.communicate(timeout=30)
    for process, err in ((busy, busy_err), (nowhere, nowhere_err), (foreign, foreign_err)):
        assert process.returncode == 1, err
        assert "Traceback" not in err and "\nerror: cannot listen on" in err, err
    assert "the port is in use" in busy_err and "--port" in busy_err


@pytest.mark.parametrize("command", [["serve-unsubscribe", "--port", "0"],
                                     ["digest", "--send"], ["digest", "--preview", "p"]])
def test_a_short_secret_is_refused_with_how_to_make_one(project: Project,
                                                        command: list[str]) -> None:
    project.write_config({**BASE_CONFIG, "email": {}})
    project.post("alpha", "news", title="News", date="2026-11-25T10:00:00Z")
    env = {**os.environ, "FEEDPRESS_SECRET": "a" * 31}
    run = subprocess.run([sys.executable, "-m", "feedpress", *command, "--config",
                          str(project.config_path)], env=env, capture_output=True, text=True,
                         timeout=30, cwd=project.root)
    assert run.returncode == 1, run.stderr
    assert "FEEDPRESS_SECRET is 31 bytes long" in run.stderr
    assert 'python3 -c "import secrets; print(secrets.token_urlsafe(32))"' in run.stderr
    assert "Traceback" not in run.stderr


def test_a_previous_key_is_announced_and_a_weak_one_refused(project: Project) -> None:
    """A short previous key would let anyone holding one old link forge links for any
    address, as a short key would: it is refused like one."""
    project.write_config({**BASE_CONFIG, "email": {}})
    (project.root / ".feedpress").mkdir()
    with open_ledger(Place(project.root / ".feedpress" / "state.db"), NOW):
        pass
    server = serve_command(project, "--port", "0",
                           previous="an older key, also long enough to be one")
    wait_for_line(server, "FEEDPRESS_PREVIOUS_SECRET is set: links signed with the previous")
    wait_for_line(server, "serving unsubscribe links on")
    server.send_signal(signal.SIGHUP)  # a terminal closing stops it cleanly too
    server.communicate(timeout=20)
    assert server.returncode == 0
    for weak, why in (("old", "is 3 bytes long"), (" " * 40, "has only 1 different characters")):
        refused = serve_command(project, "--port", "0", previous=weak)
        _, err = refused.communicate(timeout=20)
        assert refused.returncode == 1 and f"FEEDPRESS_PREVIOUS_SECRET {why}" in err, err


def test_no_ledger_is_made_by_the_server_and_the_start_says_which_it_uses(
        tmp_path: Path, project: Project) -> None:
    """A server pointed at the wrong place must not start a ledger of its own: its
    unsubscribes would be kept where no send reads them, and the new file would pass the
    sends' guard for a ledger that was not kept."""
    state = tmp_path / "nowhere" / "state.db"
    LOG.clear()
    app = UnsubscribeApp([SECRET], Place(state), LISTS, clock=lambda: NOW, log=LOG.append)
    with serving(app) as port:
        token = tokens.make(SECRET, "ana@example.org", "blogs.news.example.org")
        status, _, headers = request_full(f"http://127.0.0.1:{port}/unsubscribe?token={token}",
                                          "POST", b"")
    assert status == 503 and headers["Retry-After"] == "30"
    assert not state.exists() and not state.parent.exists()
    assert any(line.startswith("error: ") and "no send ledger yet" in line for line in LOG)
    project.write_config({**BASE_CONFIG, "email": {}})
    server = serve_command(project, "--port", "0")
    line = wait_for_line(server, "recording unsubscribes in the send ledger at")
    assert str(project.root / ".feedpress" / "state.db") in line
    wait_for_line(server, "warning: there is no ledger at")
    wait_for_line(server, "serving unsubscribe links on")
    server.send_signal(signal.SIGTERM)
    server.communicate(timeout=20)
    assert server.returncode == 0
