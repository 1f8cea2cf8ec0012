"""The send ledger: campaigns, deliveries and suppressions, in SQLite or PostgreSQL.

Every delivery is recorded the moment the server accepts the message, in
its own transaction, so a run killed at any point (SIGKILL included)
resumes without sending anyone a second copy, except for the messages in
flight at the kill. The schema has a version and numbered migrations,
written once in SQL that both engines accept; `engines` says where a
ledger is and runs SQLite, `postgres` runs PostgreSQL. A send lock held
for the whole send (`flock` beside the file, or an advisory lock in the
database) keeps two sends from running at once, and is released however
the holder dies.

The ledger records and answers; it decides nothing (the planner reads it
to decide). A campaign's `kind` is "alert" for the "alerts" stream: the
schema's word, kept so that existing ledgers need no migration.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from feedpress.errors import FeedpressError
from feedpress.mail import engines
from feedpress.mail.engines import Engine, LedgerLostError, LockedError, Place, locate
from feedpress.mail.select import Stream

__all__ = ["Campaign", "Ledger", "LedgerLostError", "LockedError", "Place", "locate"]

Status = Literal["pending", "sent", "bounced", "ambiguous"]
# What `statuses` tells of a delivery: its status, or "unconfirmed" for one that was
# ambiguous twice (sent, then sent again with the same Message-ID: never a third time).
Outcome = Literal["untried", "pending", "held", "sent", "bounced", "ambiguous", "unconfirmed"]
# The start of the error a refusal is recorded with while the run holds it back (no
# address accepted yet): such an address goes last next time, and does not trip the
# breaker again.
HELD = "refused before any address was accepted in this run, so not suppressed"

MIGRATIONS: tuple[str, ...] = (
    # 1: the first schema
    """
    CREATE TABLE campaigns (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('digest', 'alert')),
        post_id TEXT,
        window_start TEXT,
        window_end TEXT,
        posts TEXT NOT NULL,
        created_at TEXT NOT NULL,
        completed_at TEXT
    );
    CREATE UNIQUE INDEX campaigns_one_alert_per_post ON campaigns (post_id)
        WHERE kind = 'alert';
    CREATE TABLE deliveries (
        campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
        address TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'bounced')),
        attempts INTEGER NOT NULL DEFAULT 0,
        message_id TEXT,
        last_error TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (campaign_id, address)
    );
    CREATE TABLE suppressions (
        address TEXT NOT NULL,
        stream TEXT NOT NULL CHECK (stream IN ('digest', 'alerts')),
        reason TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (address, stream)
    );
    """,
    # 2: ambiguous deliveries (sent, no reply) and a nonce per campaign for its Message-IDs
    """
    ALTER TABLE campaigns ADD COLUMN nonce TEXT;
    CREATE TABLE deliveries_2 (
        campaign_id INTEGER NOT NULL REFERENCES campaigns (id),
        address TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'bounced', 'ambiguous')),
        attempts INTEGER NOT NULL DEFAULT 0,
        ambiguous INTEGER NOT NULL DEFAULT 0,
        message_id TEXT,
        last_error TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (campaign_id, address)
    );
    INSERT INTO deliveries_2 (campaign_id, address, status, attempts, message_id, last_error,
                              updated_at)
        SELECT campaign_id, address, status, attempts, message_id, last_error, updated_at
        FROM deliveries;
    DROP TABLE deliveries;
    ALTER TABLE deliveries_2 RENAME TO deliveries;
    """,
)


@dataclass(frozen=True)
class Campaign:
    """A digest, or the alert of one post, going out to the list: what was sent in it."""

    id: int
    kind: Literal["digest", "alert"]
    post_id: str | None
    window_start: datetime | None
    window_end: datetime | None
    posts: tuple[str, ...]
    completed: bool
    nonce: str  # random, made when the campaign is opened; its Message-IDs derive from it
    audience_known: bool = True  # False: opened before a campaign kept who it is owed to


class Ledger:
    """One open ledger. Get it from `open_ledger`, which also migrates it."""

    def __init__(self, engine: Engine, clock: datetime) -> None:
        self._engine = engine
        self._clock = clock

    # -- campaigns ---------------------------------------------------------------------------

    def open_digest(self, start: datetime, end: datetime, posts: list[str],
                    audience: list[str]) -> Campaign:
        """A new digest campaign of `posts`, for the window from `start` to `end`, owed to
        `audience` (and to nobody who joins the list later)."""
        return self._insert("digest", None, start, end, posts, audience)

    def open_alert(self, post_id: str, audience: list[str]) -> Campaign:
        rows = self._engine.rows(
            f"SELECT {_CAMPAIGN} FROM campaigns WHERE kind = 'alert' AND post_id = ?",
            (post_id,))
        return _campaign(rows[0]) if rows else self._insert("alert", post_id, None, None,
                                                            [post_id], audience)

    def unfinished_digests(self) -> list[Campaign]:
        return self._unfinished("digest")

    def unfinished_alerts(self) -> list[Campaign]:
        return self._unfinished("alert")

    def _unfinished(self, kind: str) -> list[Campaign]:
        rows = self._engine.rows(
            f"SELECT {_CAMPAIGN} FROM campaigns WHERE kind = ? AND completed_at IS NULL "
            "ORDER BY id", (kind,))
        return [_campaign(row) for row in rows]

    def last_digest_end(self) -> datetime | None:
        """Where the next digest's window starts: the end of the last one, finished or not
        (one still owed to a few does not hold the next back). Compared as times, not as
        text: PostgreSQL orders text by its locale."""
        rows = self._engine.rows("SELECT window_end FROM campaigns WHERE kind = 'digest'")
        return max((_time(end) for (end,) in rows), default=None)

    def posts_in_digests(self) -> frozenset[str]:
        """Ids of every post already sent in a digest, whatever was edited since."""
        found: set[str] = set()
        for (posts,) in self._engine.rows("SELECT posts FROM campaigns WHERE kind = 'digest'"):
            found.update(json.loads(posts))
        return frozenset(found)

    def alerted_posts(self) -> frozenset[str]:
        rows = self._engine.rows("SELECT post_id FROM campaigns WHERE kind = 'alert'")
        return frozenset(post_id for (post_id,) in rows)

    def complete(self, campaign: Campaign) -> None:
        with self._engine.transaction():
            self._engine.change("UPDATE campaigns SET completed_at = ? WHERE id = ?",
                                (self._now(), campaign.id))

    # -- deliveries --------------------------------------------------------------------------

    def statuses(self, campaign: Campaign) -> dict[str, Outcome]:
        """Each address's delivery in `campaign` so far; "unconfirmed" is a delivery that
        was ambiguous twice, and is never sent again."""
        rows = self._engine.rows(
            "SELECT address, status, ambiguous, attempts, last_error FROM deliveries "
            "WHERE campaign_id = ?", (campaign.id,))
        return {address: _outcome(*row) for address, *row in rows}

    def record(self, campaign: Campaign, address: str, status: Status, *,
               message_id: str | None = None, error: str | None = None,
               attempts: int = 1) -> None:
        """Record one delivery outcome, committed at once: this is what survives a kill.

        Raises `LedgerLostError` if the ledger's file is no longer the one opened
        (removed, or replaced): recording on would write into nothing.
        """
        with self._engine.transaction():
            self._engine.change(
                "INSERT INTO deliveries (campaign_id, address, status, attempts, ambiguous, "
                "message_id, last_error, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (campaign_id, address) DO UPDATE SET status = excluded.status, "
                "attempts = deliveries.attempts + excluded.attempts, "
                "ambiguous = deliveries.ambiguous + excluded.ambiguous, "
                "message_id = COALESCE(excluded.message_id, deliveries.message_id), "
                "last_error = excluded.last_error, updated_at = excluded.updated_at",
                (campaign.id, address.lower(), status, attempts, int(status == "ambiguous"),
                 message_id, error, self._now()))
        self._engine.check()

    # -- suppression -------------------------------------------------------------------------

    def suppress(self, address: str, streams: tuple[Stream, ...], reason: str) -> int:
        """Suppress `address` for `streams`; how many of them it was not suppressed for."""
        with self._engine.transaction():
            return sum(self._engine.change(
                "INSERT INTO suppressions (address, stream, reason, created_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (address, stream) DO NOTHING",
                (address.lower(), stream, reason, self._now())) for stream in streams)

    def unsuppress(self, address: str, streams: tuple[Stream, ...]) -> int:
        with self._engine.transaction():
            return sum(self._engine.change(
                "DELETE FROM suppressions WHERE address = ? AND stream = ?",
                (address.lower(), stream)) for stream in streams)

    def suppressed(self, stream: Stream) -> frozenset[str]:
        rows = self._engine.rows("SELECT address FROM suppressions WHERE stream = ?", (stream,))
        return frozenset(address for (address,) in rows)

    def suppressions(self) -> list[tuple[str, str, str, str]]:
        """Every suppression, by address then stream (sorted here: the engines' text
        orders differ)."""
        return sorted(self._engine.rows(
            "SELECT address, stream, reason, created_at FROM suppressions"))

    # -- the whole ledger, for `feedpress state copy` -----------------------------------------

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, sorted: what a copy must hold exactly."""
        return {table: sorted(self._engine.rows(f"SELECT {columns} FROM {table}"))
                for table, columns in _TABLES.items()}

    def fill(self, rows: dict[str, list[tuple[Any, ...]]]) -> None:
        """Make or migrate the schema and put `rows` (a `dump`) into this ledger, which must
        hold none, all in one transaction: a refusal or a failure leaves it as it was."""
        with self._engine.transaction():
            _migrate(self._engine)
            held = {table: n for table in _TABLES
                    if (n := self._engine.rows(f"SELECT COUNT(*) FROM {table}")[0][0])}
            if held:
                raise FeedpressError("the target ledger is not empty (" + ", ".join(
                    f"{table}: {n}" for table, n in held.items()) + "); copy into a new "
                    "database only, so that no delivery is lost or mixed up")
            for table, columns in _TABLES.items():
                marks = ", ".join("?" * len(columns.split(",")))
                self._engine.change_many(
                    f"INSERT INTO {table} ({columns}) VALUES ({marks})", rows[table])

    # -- helpers -----------------------------------------------------------------------------

    def _insert(self, kind: str, post_id: str | None, start: datetime | None,
                end: datetime | None, posts: list[str], audience: list[str]) -> Campaign:
        """The campaign, and an untried delivery for each address of its audience, in one
        transaction: who a campaign is owed to is fixed when it opens. Its id is the next
        after the highest, which both engines give alike (campaigns open under the send
        lock only)."""
        now = self._now()
        with self._engine.transaction():
            self._engine.lock_table("campaigns")
            (row,) = self._engine.rows(
                f"INSERT INTO campaigns (id, kind, post_id, window_start, window_end, posts, "
                "created_at, nonce) SELECT COALESCE(MAX(id), 0) + 1, ?, ?, ?, ?, ?, ?, ? "
                f"FROM campaigns RETURNING {_CAMPAIGN}",
                (kind, post_id, _iso(start), _iso(end), json.dumps(posts), now,
                 secrets.token_hex(16)))
            self._engine.change_many(
                "INSERT INTO deliveries (campaign_id, address, status, attempts, updated_at) "
                "VALUES (?, ?, 'pending', 0, ?) ON CONFLICT (campaign_id, address) DO NOTHING",
                ((row[0], address.lower(), now) for address in audience))
        return _campaign(row)

    def _now(self) -> str:
        return self._clock.astimezone(UTC).isoformat()


_CAMPAIGN = "id, kind, post_id, window_start, window_end, posts, completed_at, nonce, created_at"
_TABLES = {  # every column of every table, in the current schema
    "campaigns": "id, kind, post_id, window_start, window_end, posts, created_at, "
                 "completed_at, nonce",
    "deliveries": "campaign_id, address, status, attempts, ambiguous, message_id, "
                  "last_error, updated_at",
    "suppressions": "address, stream, reason, created_at",
}


def _campaign(row: tuple[Any, ...]) -> Campaign:
    return Campaign(
        id=int(row[0]),
        kind=row[1],
        post_id=row[2],
        window_start=_time(row[3]) if row[3] else None,
        window_end=_time(row[4]) if row[4] else None,
        posts=tuple(json.loads(row[5])),
        completed=row[6] is not None,
        nonce=str(row[7] or f"{row[0]} {row[8]}"),  # opened before nonces: its id and time
        audience_known=row[7] is not None,
    )


def _outcome(status: Status, ambiguous: int, attempts: int, error: str | None) -> Outcome:
    """A delivery's outcome: ambiguous once (whatever came after) leaves one more try, and
    twice is final; a pending one is untried, held back by the breaker, or tried."""
    if status in ("sent", "bounced"):
        return status
    if ambiguous:
        return "unconfirmed" if ambiguous > 1 else "ambiguous"
    if not attempts:
        return "untried"
    return "held" if (error or "").startswith(HELD) else "pending"


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


# -- opening a ledger, wherever it is ----------------------------------------------------------


def exists(place: Place) -> bool:
    """Whether a ledger was made at `place` (by an earlier send)."""
    if place.path is not None:
        return engines.sqlite_exists(place.path)
    from feedpress.mail import postgres

    return postgres.exists(place)


@contextmanager
def open_ledger(place: Place, clock: datetime, *, create: bool = True, locked: bool = False,
                wait: float | None = None) -> Iterator[Ledger]:
    """The ledger at `place`, migrated to the current schema (and made if missing, when
    `create`); a lock held elsewhere for longer than `wait` seconds (by default, a send's
    patient wait) is `LedgerBusyError`.

    `locked` holds the send lock for as long as the ledger is open, or raises
    `LockedError`. In PostgreSQL the lock is taken on the ledger's own
    connection: a send whose connection dies (a timeout, a DBA's kill) has
    lost its lock and its ledger together, and stops at its next record
    instead of sending beside the run that took the lock over.
    """
    if not create and not exists(place):
        raise FeedpressError(f"{place}: no send ledger yet (nothing has been sent)")
    if place.path is not None:
        with contextlib.ExitStack() as stack:
            if locked:
                stack.enter_context(engines.sqlite_lock(place.path))
            engine = stack.enter_context(engines.open_sqlite(
                place.path, _migrate, engines.LOCK_WAIT_SECONDS if wait is None else wait))
            yield Ledger(engine, clock)
        return
    from feedpress.mail import postgres

    with postgres.open_postgres(place, _migrate, locked=locked, wait=wait) as engine:
        yield Ledger(engine, clock)


@contextmanager
def peek(place: Place, clock: datetime) -> Iterator[Ledger | None]:
    """The ledger read-only, as the next send (which migrates it) will read it, or None
    if there is none: previews must not create it."""
    if place.path is not None:
        with engines.peek_sqlite(place.path, len(MIGRATIONS), _migrate) as engine:
            yield Ledger(engine, clock) if engine is not None else None
        return
    from feedpress.mail import postgres

    with postgres.peek_postgres(place, _migrate) as engine:
        yield Ledger(engine, clock) if engine is not None else None


@contextmanager
def send_lock(place: Place) -> Iterator[None]:
    """Hold the send lock of the ledger at `place`, or raise `LockedError` at once."""
    if place.path is not None:
        with engines.sqlite_lock(place.path):
            yield
        return
    from feedpress.mail import postgres

    with postgres.postgres_lock(place):
        yield


def copy_ledger(source: Place, target: Place, clock: datetime) -> dict[str, int]:
    """Copy every row of the SQLite ledger at `source` into the PostgreSQL database at
    `target`, which must hold no ledger rows, and read it back; how many rows of each
    table were copied. Both send locks are held throughout. The schema and the rows go
    in one transaction, so a copy that fails or is killed leaves no ledger behind (an
    empty one would pass for a started ledger). The source file is then renamed
    (`moved_name`), so that no send goes on using it beside the copy."""
    from feedpress.mail import postgres

    assert source.path is not None
    with send_lock(source):
        with peek(source, clock) as ledger:
            if ledger is None:
                raise FeedpressError(f"{source}: no send ledger to copy")
            rows = ledger.dump()
        with postgres.open_postgres(target, None, locked=True) as engine:
            copy = Ledger(engine, clock)
            copy.fill(rows)
            if copy.dump() != rows:
                raise FeedpressError(f"{target}: the copy does not read back as the "
                                     "original; do not use it")
        engines.retire(source.path)
    return {table: len(found) for table, found in rows.items()}


def _migrate(engine: Engine) -> None:
    """Bring the schema up to date in one exclusive transaction.

    The version is read inside the transaction, so of several processes
    making a new ledger at once, one creates it and the others find it made.
    """
    with engine.exclusive() as version:
        if version > len(MIGRATIONS):
            raise FeedpressError(f"the send ledger has schema version {version}, newer than "
                                 f"this feedpress knows ({len(MIGRATIONS)}); upgrade feedpress")
        for script in MIGRATIONS[version:]:
            for statement in _statements(script):
                engine.change(statement)
        engine.set_version(len(MIGRATIONS))


def _statements(script: str) -> list[str]:
    """The statements of a migration script (no semicolon inside one of ours)."""
    return [s.strip() for s in script.split(";") if s.strip()]
