"""Benchmark: 100,000 personalised digest messages, rendered once per variant, to a null sink.

    python3 bench/digest.py [--subscribers 100000] [--variants 40] [--config feedpress.yaml]

Subscribers get seeded random blog and tag choices drawn from the project
(`--variants` distinct choices), so the run renders and inlines each
distinct body once and personalises the rest by substitution, as
`feedpress digest --send` will. Prints wall time, messages per second and
the peak memory (max RSS) of this process, before and after, to show that
memory stays flat as the list grows.
"""

from __future__ import annotations

import argparse
import random
import resource
import time
from datetime import UTC, datetime
from pathlib import Path

from feedpress.config import load as load_config
from feedpress.mail import select
from feedpress.mail.bodies import Renderer, digest_body
from feedpress.mail.campaign import published
from feedpress.mail.messages import MessageMaker, Recipient
from feedpress.model import Post


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def choices(posts: list[Post], count: int,
            rng: random.Random) -> list[tuple[frozenset[str], frozenset[str]]]:
    """`count` distinct choices, each matching at least one post of the window."""
    found: set[tuple[frozenset[str], frozenset[str]]] = {(frozenset(), frozenset())}
    for _ in range(count * 50):
        if len(found) >= count:
            break
        post = rng.choice(posts)
        blogs = frozenset([post.blog]) if rng.random() < 0.6 else frozenset()
        tags = frozenset([rng.choice(post.tags).slug]) if post.tags and rng.random() < 0.5 \
            else frozenset()
        found.add((blogs, tags))
    return sorted(found, key=lambda c: (sorted(c[0]), sorted(c[1])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("feedpress.yaml"))
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--variants", type=int, default=40)
    parser.add_argument("--now", default="2026-11-25T12:00:00+00:00")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    now = datetime.fromisoformat(args.now).astimezone(UTC)
    config = load_config(args.config)
    posts = published(config, now)
    window = select.Window(now - config.email.digest.first_window, now)
    in_window = select.in_window(posts, window)
    variants = choices(in_window, args.variants, rng)
    rss_before = max_rss_mb()

    started = time.perf_counter()
    renderer = Renderer(config)
    makers: dict[tuple[frozenset[str], frozenset[str]], MessageMaker | None] = {}
    sent = total_bytes = 0
    for n in range(args.subscribers):
        choice = variants[n % len(variants)]
        if choice not in makers:
            body = digest_body(config, renderer, in_window, choice)
            makers[choice] = None if body is None else MessageMaker(
                config.email, config.site.title, body, "digest", now, b"benchmark secret")
        maker = makers[choice]
        if maker is None:
            continue
        _, message = maker.make(Recipient(f"reader{n}@example.org", f"Reader Number {n}"))
        total_bytes += len(message)  # the null sink
        sent += 1
    elapsed = time.perf_counter() - started
    rendered = sum(m is not None for m in makers.values())
    print(f"{sent:,} messages ({rendered} distinct bodies rendered and inlined, "
          f"{len(in_window)} posts in the window) in {elapsed:.2f} s: "
          f"{sent / elapsed:,.0f} messages/s, {total_bytes / sent / 1024:.1f} KiB each; "
          f"max RSS {rss_before:.0f} MB before, {max_rss_mb():.0f} MB after")


if __name__ == "__main__":
    main()
