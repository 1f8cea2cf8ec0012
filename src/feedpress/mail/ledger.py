"""The send ledger: campaigns, deliveries and suppressions, in SQLite.

Every delivery is recorded the moment the server accepts the message, in
its own transaction, so a run killed at any point (SIGKILL included)
resumes without sending anyone a second copy, except for the messages in
flight at the kill. The schema has a version and numbered migrations; the
SQL sticks to what PostgreSQL also accepts, so a second backend can share
it. A lock file held with `flock` for the whole send keeps two sends from
running at once, and is released by the kernel however the holder dies.

The ledger records and answers; it decides nothing (the planner reads it
to decide). A campaign's `kind` is "alert" for the "alerts" stream: the
schema's word, kept so that existing ledgers need no migration.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from feedpress.errors import FeedpressError
from feedpress.mail.select import Stream

Status = Literal["pending", "sent", "bounced"]

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
)


class LockedError(FeedpressError):
    """Another send holds the lock."""

    exit_code = 4


@dataclass(frozen=True)
class Campaign:
    id: int
    kind: Literal["digest", "alert"]
    post_id: str | None
    window_start: datetime | None
    window_end: datetime | None
    posts: tuple[str, ...]
    completed: bool


class Ledger:
    """One open ledger. Get it from `open_ledger`, which also migrates it."""

    def __init__(self, db: sqlite3.Connection, clock: datetime) -> None:
        self._db = db
        self._clock = clock

    # -- campaigns ---------------------------------------------------------------------------

    def open_digest(self, start: datetime, end: datetime, posts: list[str]) -> Campaign:
        """The unfinished digest campaign if there is one (a resumed run), else a new one."""
        found = self.unfinished_digest()
        if found is not None:
            return found
        return self._insert("digest", None, start, end, posts)

    def open_alert(self, post_id: str) -> Campaign:
        row = self._db.execute(
            f"SELECT {_CAMPAIGN} FROM campaigns WHERE kind = 'alert' AND post_id = ?",
            (post_id,)).fetchone()
        return _campaign(row) if row else self._insert("alert", post_id, None, None, [post_id])

    def unfinished_digest(self) -> Campaign | None:
        row = self._db.execute(
            f"SELECT {_CAMPAIGN} FROM campaigns WHERE kind = 'digest' AND completed_at IS NULL "
            "ORDER BY id DESC").fetchone()
        return _campaign(row) if row else None

    def unfinished_alerts(self) -> list[Campaign]:
        rows = self._db.execute(
            f"SELECT {_CAMPAIGN} FROM campaigns WHERE kind = 'alert' AND completed_at IS NULL "
            "ORDER BY id")
        return [_campaign(row) for row in rows]

    def last_digest_end(self) -> datetime | None:
        """Where the next digest's window starts: the end of the last completed one."""
        row = self._db.execute(
            "SELECT window_end FROM campaigns WHERE kind = 'digest' AND completed_at IS NOT NULL "
            "ORDER BY window_end DESC").fetchone()
        return _time(row[0]) if row else None

    def posts_in_digests(self) -> frozenset[str]:
        """Ids of every post already sent in a digest, whatever was edited since."""
        found: set[str] = set()
        for (posts,) in self._db.execute("SELECT posts FROM campaigns WHERE kind = 'digest'"):
            found.update(json.loads(posts))
        return frozenset(found)

    def alerted_posts(self) -> frozenset[str]:
        rows = self._db.execute("SELECT post_id FROM campaigns WHERE kind = 'alert'")
        return frozenset(post_id for (post_id,) in rows)

    def complete(self, campaign: Campaign) -> None:
        with self._db:
            self._db.execute("UPDATE campaigns SET completed_at = ? WHERE id = ?",
                             (self._now(), campaign.id))

    # -- deliveries --------------------------------------------------------------------------

    def statuses(self, campaign: Campaign) -> dict[str, Status]:
        rows = self._db.execute(
            "SELECT address, status FROM deliveries WHERE campaign_id = ?", (campaign.id,))
        return {address: status for address, status in rows}

    def record(self, campaign: Campaign, address: str, status: Status, *,
               message_id: str | None = None, error: str | None = None,
               attempts: int = 1) -> None:
        """Record one delivery outcome, committed at once: this is what survives a kill."""
        with self._db:
            self._db.execute(
                "INSERT INTO deliveries (campaign_id, address, status, attempts, message_id, "
                "last_error, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (campaign_id, address) DO UPDATE SET status = excluded.status, "
                "attempts = deliveries.attempts + excluded.attempts, "
                "message_id = COALESCE(excluded.message_id, deliveries.message_id), "
                "last_error = excluded.last_error, updated_at = excluded.updated_at",
                (campaign.id, address.lower(), status, attempts, message_id, error, self._now()))

    # -- suppression -------------------------------------------------------------------------

    def suppress(self, address: str, streams: tuple[Stream, ...], reason: str) -> None:
        with self._db:
            for stream in streams:
                self._db.execute(
                    "INSERT INTO suppressions (address, stream, reason, created_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (address, stream) DO NOTHING",
                    (address.lower(), stream, reason, self._now()))

    def unsuppress(self, address: str, streams: tuple[Stream, ...]) -> int:
        with self._db:
            return sum(self._db.execute(
                "DELETE FROM suppressions WHERE address = ? AND stream = ?",
                (address.lower(), stream)).rowcount for stream in streams)

    def suppressed(self, stream: Stream) -> frozenset[str]:
        rows = self._db.execute("SELECT address FROM suppressions WHERE stream = ?", (stream,))
        return frozenset(address for (address,) in rows)

    def suppressions(self) -> list[tuple[str, str, str, str]]:
        return list(self._db.execute(
            "SELECT address, stream, reason, created_at FROM suppressions "
            "ORDER BY address, stream"))

    # -- helpers -----------------------------------------------------------------------------

    def _insert(self, kind: str, post_id: str | None, start: datetime | None,
                end: datetime | None, posts: list[str]) -> Campaign:
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO campaigns (kind, post_id, window_start, window_end, posts, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?)",
                (kind, post_id, _iso(start), _iso(end), json.dumps(posts), self._now()))
        row = self._db.execute(f"SELECT {_CAMPAIGN} FROM campaigns WHERE id = ?",
                               (cursor.lastrowid,)).fetchone()
        return _campaign(row)

    def _now(self) -> str:
        return self._clock.astimezone(UTC).isoformat()


_CAMPAIGN = "id, kind, post_id, window_start, window_end, posts, completed_at"


def _campaign(row: tuple[object, ...]) -> Campaign:
    return Campaign(
        id=int(row[0]),  # type: ignore[call-overload]
        kind=row[1],  # type: ignore[arg-type]
        post_id=row[2],  # type: ignore[arg-type]
        window_start=_time(row[3]) if row[3] else None,  # type: ignore[arg-type]
        window_end=_time(row[4]) if row[4] else None,  # type: ignore[arg-type]
        posts=tuple(json.loads(row[5])),  # type: ignore[arg-type]
        completed=row[6] is not None,
    )


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@contextmanager
def open_ledger(path: Path, clock: datetime, *, create: bool = True) -> Iterator[Ledger]:
    """The ledger at `path`, migrated to the current schema."""
    if not create and not path.exists():
        raise FeedpressError(f"{path}: no send ledger yet (nothing has been sent)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Worker threads record deliveries; `Sender` serialises them with its own lock.
        db = sqlite3.connect(path, timeout=10, check_same_thread=False)
        db.execute("PRAGMA journal_mode = WAL")
        # In WAL mode, NORMAL keeps every commit through a crash or a kill of the process
        # (SIGKILL included); only a power cut can lose the last ones. FULL would fsync
        # once per delivery and cap sending at the disk's sync rate.
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        _migrate(db)
        # Fail now, before anything is sent, if the ledger cannot record deliveries.
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
    except (OSError, sqlite3.Error) as exc:
        raise FeedpressError(f"{path}: cannot open the send ledger for writing: {exc}") from None
    try:
        yield Ledger(db, clock)
    except sqlite3.Error as exc:
        raise FeedpressError(f"{path}: the send ledger failed: {exc}") from None
    finally:
        db.close()


@contextmanager
def peek(path: Path, clock: datetime) -> Iterator[Ledger | None]:
    """The ledger opened read-only, or None if there is none: previews must not create it."""
    if not path.exists():
        yield None
        return
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
        version = db.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as exc:
        raise FeedpressError(f"{path}: cannot read the send ledger: {exc}") from None
    try:
        yield Ledger(db, clock) if version == len(MIGRATIONS) else None
    finally:
        db.close()


@contextmanager
def send_lock(path: Path) -> Iterator[None]:
    """Hold the send lock beside the ledger, or raise `LockedError` at once."""
    lock_path = path.with_name(path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError(f"another send holds the lock {lock_path}; "
                              "wait for it to finish") from None
        yield
    finally:
        os.close(fd)


def _migrate(db: sqlite3.Connection) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise FeedpressError(f"the send ledger has schema version {version}, newer than this "
                             f"feedpress knows ({len(MIGRATIONS)}); upgrade feedpress")
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        with db:
            db.executescript(f"BEGIN; {script}; PRAGMA user_version = {number}; COMMIT;")
