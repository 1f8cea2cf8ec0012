"""The feeds wing: post files in, RSS, Atom and JSON feeds out.

The stages, one module each: `posts` (files to validated posts),
`catalog` (what is published, and in which feeds: pure decisions),
`markup` (Markdown to safe HTML and summaries), `formats` (items and
feeds as bytes), `output` (files put in place, and the manifest), wired
by `builder`, with `cache`, `memo` and `parallel` to make a rebuild cheap.
`loading` reads posts for the commands that build nothing; `websub` tells
hubs which feeds changed.

What is re-exported here is the wing's whole public face: the mail wing,
the CLI and the top-level API use nothing else of it. This package
never imports the mail wing.
"""

from __future__ import annotations

from feedpress.feeds.builder import BuildReport, build, default_cache
from feedpress.feeds.catalog import feed_links
from feedpress.feeds.loading import Loaded, check, load, summary
from feedpress.feeds.posts import default_id
from feedpress.feeds.websub import HubReport, PingReport, ping

__all__ = [
    "BuildReport",
    "HubReport",
    "Loaded",
    "PingReport",
    "build",
    "check",
    "default_cache",
    "default_id",
    "feed_links",
    "load",
    "ping",
    "summary",
]
