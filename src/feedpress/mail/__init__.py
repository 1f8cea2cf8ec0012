"""The mail wing: the digest and breaking-news alerts, from plan to delivery.

The stages, one module each: `planner` (which campaigns, which posts, owed
to whom: pure decisions over the posts and the ledger), `select` (what
goes into a digest or an alert), `bodies` (Jinja2 templates to inlined
HTML and text), `messages` (whole messages as bytes, with `tokens` for
the unsubscribe links), `delivery` (every owed subscriber once, over a
`transports` connection), and `campaign`, which runs a plan as a send,
a dry run, a test message or a preview. `ledger` keeps what was sent,
`subscribers` the list and its suppressions, and `unsubscribe` is the
web app behind the links.

What is re-exported here is the wing's whole public face; it uses the
feeds wing only through `feedpress.feeds`.
"""

from __future__ import annotations

from feedpress.mail.bodies import shipped_templates
from feedpress.mail.campaign import (
    Preview,
    SendOptions,
    preview,
    send,
    unsubscribe_keys,
)
from feedpress.mail.delivery import Summary
from feedpress.mail.engines import database_place
from feedpress.mail.ledger import LockedError, Place, copy_ledger, locate
from feedpress.mail.ledger import exists as ledger_exists
from feedpress.mail.select import STREAMS, Stream
from feedpress.mail.server import serve
from feedpress.mail.subscribers import (
    Member,
    Subscriber,
    export,
    members,
    set_suppressed,
    streams_for,
)
from feedpress.mail.subscribers import load as load_subscribers
from feedpress.mail.unsubscribe import UnsubscribeApp

__all__ = [
    "STREAMS",
    "LockedError",
    "Member",
    "Place",
    "Preview",
    "SendOptions",
    "Stream",
    "Subscriber",
    "Summary",
    "UnsubscribeApp",
    "copy_ledger",
    "database_place",
    "export",
    "ledger_exists",
    "load_subscribers",
    "locate",
    "members",
    "preview",
    "send",
    "serve",
    "set_suppressed",
    "shipped_templates",
    "streams_for",
    "unsubscribe_keys",
]
