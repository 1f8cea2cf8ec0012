"""Benchmark: personalised digests sent over SMTP to a sink on loopback, 1 and 4 connections.

    python3 bench/send.py [--subscribers 100000] [--connections 1,4]

The sink is aiosmtpd on 127.0.0.1, in its own process, accepting and
discarding every message. Each run sends the whole list through feedpress's own `Sender`
(worker threads, one SMTP session each), recording every delivery in a
real SQLite ledger, as `feedpress digest --send` does. Prints messages per
second and this process's peak memory (max RSS) after each run.
"""

from __future__ import annotations

import argparse
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from feedpress.config import load as load_config
from feedpress.mailing import digest_body, published
from feedpress.mailsettings import SmtpSettings
from feedpress.messages import MessageMaker, Recipient
from feedpress.render import Renderer
from feedpress.send import Job, Policy, Sender
from feedpress.store import open_store
from feedpress.subscribers import Subscriber
from feedpress.transports import SmtpTransport


@contextmanager
def sink() -> Iterator[int]:
    """aiosmtpd's discarding Sink handler in its own process on a free loopback port.

    Its own process, because a sink thread inside this one would fight the
    sender for the interpreter lock and measure that fight instead.
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = subprocess.Popen([sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}",
                               "-c", "aiosmtpd.handlers.Sink"])
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
    parser.add_argument("--now", default="2026-11-25T12:00:00+00:00")
    parser.add_argument("--posts", type=int, default=5, help="posts in the digest (size)")
    args = parser.parse_args()
    now = datetime.fromisoformat(args.now).astimezone(UTC)
    config = load_config(args.config)
    body = digest_body(config, Renderer(config), published(config, now)[:args.posts],
                       Subscriber("x@example.org", "X"))
    assert body is not None, "no posts to send"
    maker = MessageMaker(config.email, config.site.title, body, "digest", now, b"bench")
    with sink() as port:
        for connections in (int(c) for c in args.connections.split(",")):
            settings = SmtpSettings(host="127.0.0.1", port=port, security="none",
                                    connections=connections)
            with tempfile.TemporaryDirectory() as folder, \
                    open_store(Path(folder) / "state.db", now) as ledger:
                campaign = ledger.open_digest(now, now, ["bench"])
                sender = Sender(SmtpTransport(settings, None), ledger, campaign,
                                config.email.sender_address, Policy(retries=0))
                started = time.perf_counter()
                summary = sender.run(jobs(maker, args.subscribers))
                elapsed = time.perf_counter() - started
            print(f"{connections} connection(s): {summary.sent:,} sent in {elapsed:.1f} s, "
                  f"{summary.sent / elapsed:,.0f} messages/s; {summary.pending} pending; "
                  f"max RSS {max_rss_mb():.0f} MB; {len(maker.make(Recipient('a@b.c', 'A'))[1]):,} "
                  "bytes a message")


if __name__ == "__main__":
    main()
