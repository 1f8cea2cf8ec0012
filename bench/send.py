"""Benchmark: personalised digests sent over SMTP to a sink on loopback, 1 and 4 connections.

    python3 bench/send.py [--subscribers 100000] [--connections 1,4] [--sinks smtp-sink,aiosmtpd]

Two sinks, each in its own process on 127.0.0.1, accepting and discarding
every message:

- `smtp-sink`, Postfix's SMTP test server, written in C for exactly this
  kind of measurement (Debian's `postfix` package; installed with apt-get
  when missing, as bench/run installs Hugo);
- aiosmtpd's `Sink` handler, the server the tests use. It handles each
  line of a message in Python, so it caps what any client can reach
  (about 400 messages a second here), and measures itself more than the
  sender.

Each run sends the whole list through feedpress's own `Sender` (worker
threads, one SMTP session each), recording every delivery in a real
SQLite ledger, as `feedpress digest --send` does. Prints messages per
second and this process's peak memory (max RSS) after each run.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from runner import apt_install

from feedpress.config import Config
from feedpress.config import load as load_config
from feedpress.mail.bodies import Renderer, digest_body
from feedpress.mail.campaign import published
from feedpress.mail.delivery import Job, Policy, Sender
from feedpress.mail.ledger import open_ledger
from feedpress.mail.messages import MessageMaker, Recipient
from feedpress.mail.subscribers import Subscriber
from feedpress.mail.transports import SmtpTransport
from feedpress.mailsettings import SmtpSettings


@contextmanager
def sink(kind: str) -> Iterator[int]:
    """A discarding SMTP server of `kind` in its own process, on a free loopback port.

    Its own process, because a sink thread inside this one would fight the
    sender for the interpreter lock and measure that fight instead.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = subprocess.Popen(_sink_command(kind, port), stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield port
    finally:
        server.terminate()
        server.wait()


def _sink_command(kind: str, port: int) -> list[str]:
    if kind == "aiosmtpd":
        return [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                "-c", "aiosmtpd.handlers.Sink"]
    program = shutil.which("smtp-sink") or "/usr/sbin/smtp-sink"
    if not Path(program).exists():
        apt_install("postfix")  # its own mail server is not started
    user = ["-u", "nobody"] if os.geteuid() == 0 else []  # it refuses to run as root
    return [program, *user, f"127.0.0.1:{port}", "256"]


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def jobs(maker: MessageMaker, count: int) -> Iterator[Job]:
    for n in range(count):
        yield Job(Recipient(f"reader{n}@example.org", f"Reader {n}"), maker)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("feedpress.yaml"))
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--connections", default="1,4")
    parser.add_argument("--sinks", default="smtp-sink,aiosmtpd")
    parser.add_argument("--now", default="2026-11-25T12:00:00+00:00")
    parser.add_argument("--posts", type=int, default=5, help="posts in the digest (size)")
    args = parser.parse_args()
    now = datetime.fromisoformat(args.now).astimezone(UTC)
    config = load_config(args.config)
    body = digest_body(config, Renderer(config), published(config, now)[:args.posts],
                       Subscriber("x@example.org", "X").choice)
    assert body is not None, "no posts to send"
    maker = MessageMaker(config.email, config.site.title, body, "digest", now, b"bench")
    for kind in args.sinks.split(","):
        with sink(kind) as port:
            for connections in (int(c) for c in args.connections.split(",")):
                run(kind, port, connections, config, maker, now, args.subscribers)


def run(kind: str, port: int, connections: int, config: Config, maker: MessageMaker,
        now: datetime, subscribers: int) -> None:
    settings = SmtpSettings(host="127.0.0.1", port=port, security="none",
                            connections=connections)
    with tempfile.TemporaryDirectory() as folder, \
            open_ledger(Path(folder) / "state.db", now) as ledger:
        campaign = ledger.open_digest(now, now, ["bench"], [])
        sender = Sender(SmtpTransport(settings, None), ledger, config.email.sender_address,
                        Policy(retries=0))
        started = time.perf_counter()
        summary = sender.run(campaign, jobs(maker, subscribers))
        elapsed = time.perf_counter() - started
    print(f"{kind}, {connections} connection(s): {summary.sent:,} sent in {elapsed:.1f} s, "
          f"{summary.sent / elapsed:,.0f} messages/s; {summary.pending} pending; "
          f"max RSS {max_rss_mb():.0f} MB; {len(maker.make(Recipient('a@b.c', 'A'))[1]):,} "
          "bytes a message", flush=True)


if __name__ == "__main__":
    main()
