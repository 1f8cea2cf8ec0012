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
import secrets
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from feedpress.errors import FeedpressError
from feedpress.mail.select import Stream

Status = Literal["pending", "sent", "bounced", "ambiguous"]
# What `statuses` tells of a delivery: its status, or "unconfirmed" for one that was
# ambiguous twice (sent, then sent again with the same Message-ID: never a third time).
Outcome = Literal["untried", "pending", "held", "sent", "bounced", "ambiguous", "unconfirmed"]
# The start of the error a refusal is recorded with while the run holds it back (no
# address accepted yet): such an address goes last next time, and does not trip the
# breaker again.
HELD = "refused before any address was accepted in this run, so not suppressed"
LOCK_WAIT_SECONDS = 10.0  # how long to wait for another process that holds the file

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


class LockedError(FeedpressError):
    """Another send holds the lock."""

    exit_code = 4


class LedgerLostError(FeedpressError):
    """The ledger's file was removed or replaced while a send was recording into it."""


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

    def __init__(self, db: sqlite3.Connection, clock: datetime,
                 path: Path | None = None) -> None:
        """`path`, for a ledger that records: its file is checked to be the same one
        after every delivery recorded (see `record`)."""
        self._db = db
        self._clock = clock
        self._path = path
        self._identity = _identity(path) if path is not None else None

    # -- campaigns ---------------------------------------------------------------------------

    def open_digest(self, start: datetime, end: datetime, posts: list[str],
                    audience: list[str]) -> Campaign:
        """A new digest campaign of `posts`, for the window from `start` to `end`, owed to
        `audience` (and to nobody who joins the list later)."""
        return self._insert("digest", None, start, end, posts, audience)

    def open_alert(self, post_id: str, audience: list[str]) -> Campaign:
        row = self._db.execute(
            f"SELECT {_CAMPAIGN} FROM campaigns WHERE kind = 'alert' AND post_id = ?",
            (post_id,)).fetchone()
        return _campaign(row) if row else self._insert("alert", post_id, None, None,
                                                       [post_id], audience)

    def unfinished_digests(self) -> list[Campaign]:
        return self._unfinished("digest")

    def unfinished_alerts(self) -> list[Campaign]:
        return self._unfinished("alert")

    def _unfinished(self, kind: str) -> list[Campaign]:
        rows = self._db.execute(
            f"SELECT {_CAMPAIGN} FROM campaigns WHERE kind = ? AND completed_at IS NULL "
            "ORDER BY id", (kind,))
        return [_campaign(row) for row in rows]

    def last_digest_end(self) -> datetime | None:
        """Where the next digest's window starts: the end of the last one, finished or not
        (one still owed to a few does not hold the next back)."""
        row = self._db.execute(
            "SELECT window_end FROM campaigns WHERE kind = 'digest' "
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

    def statuses(self, campaign: Campaign) -> dict[str, Outcome]:
        """Each address's delivery in `campaign` so far; "unconfirmed" is a delivery that
        was ambiguous twice, and is never sent again."""
        rows = self._db.execute(
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
        with self._db:
            self._db.execute(
                "INSERT INTO deliveries (campaign_id, address, status, attempts, ambiguous, "
                "message_id, last_error, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (campaign_id, address) DO UPDATE SET status = excluded.status, "
                "attempts = deliveries.attempts + excluded.attempts, "
                "ambiguous = deliveries.ambiguous + excluded.ambiguous, "
                "message_id = COALESCE(excluded.message_id, deliveries.message_id), "
                "last_error = excluded.last_error, updated_at = excluded.updated_at",
                (campaign.id, address.lower(), status, attempts, int(status == "ambiguous"),
                 message_id, error, self._now()))
        self.check_file()

    def check_file(self) -> None:
        """Raise `LedgerLostError` if the file at the ledger's path is not the one opened."""
        if self._path is not None and _identity(self._path) != self._identity:
            raise LedgerLostError(
                f"{self._path}: the send ledger was removed or replaced while sending; "
                "stopped, since deliveries recorded now would be lost. Restore the file "
                "that was there (its deliveries say who has the message already) before "
                "sending again")

    # -- suppression -------------------------------------------------------------------------

    def suppress(self, address: str, streams: tuple[Stream, ...], reason: str) -> int:
        """Suppress `address` for `streams`; how many of them it was not suppressed for."""
        with self._db:
            return sum(self._db.execute(
                "INSERT INTO suppressions (address, stream, reason, created_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (address, stream) DO NOTHING",
                (address.lower(), stream, reason, self._now())).rowcount for stream in streams)

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
                end: datetime | None, posts: list[str], audience: list[str]) -> Campaign:
        """The campaign, and an untried delivery for each address of its audience, in one
        transaction: who a campaign is owed to is fixed when it opens."""
        now = self._now()
        with self._db:
            cursor = self._db.execute(
                "INSERT INTO campaigns (kind, post_id, window_start, window_end, posts, "
                "created_at, nonce) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (kind, post_id, _iso(start), _iso(end), json.dumps(posts), now,
                 secrets.token_hex(16)))
            self._db.executemany(
                "INSERT INTO deliveries (campaign_id, address, status, attempts, updated_at) "
                "VALUES (?, ?, 'pending', 0, ?) ON CONFLICT (campaign_id, address) DO NOTHING",
                ((cursor.lastrowid, address.lower(), now) for address in audience))
        row = self._db.execute(f"SELECT {_CAMPAIGN} FROM campaigns WHERE id = ?",
                               (cursor.lastrowid,)).fetchone()
        return _campaign(row)

    def _now(self) -> str:
        return self._clock.astimezone(UTC).isoformat()


_CAMPAIGN = "id, kind, post_id, window_start, window_end, posts, completed_at, nonce, created_at"


def _campaign(row: tuple[object, ...]) -> Campaign:
    return Campaign(
        id=int(row[0]),  # type: ignore[call-overload]
        kind=row[1],  # type: ignore[arg-type]
        post_id=row[2],  # type: ignore[arg-type]
        window_start=_time(row[3]) if row[3] else None,  # type: ignore[arg-type]
        window_end=_time(row[4]) if row[4] else None,  # type: ignore[arg-type]
        posts=tuple(json.loads(row[5])),  # type: ignore[arg-type]
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


@contextmanager
def open_ledger(path: Path, clock: datetime, *, create: bool = True) -> Iterator[Ledger]:
    """The ledger at `path`, migrated to the current schema."""
    if not create and not path.exists():
        raise FeedpressError(f"{path}: no send ledger yet (nothing has been sent)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Worker threads record deliveries; `Sender` serialises them with its own lock.
        db = sqlite3.connect(path, timeout=LOCK_WAIT_SECONDS, check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise FeedpressError(f"{path}: cannot open the send ledger for writing: {exc}") from None
    try:
        _prepare(db)
        yield Ledger(db, clock, path)
    except sqlite3.Error as exc:
        raise FeedpressError(f"{path}: the send ledger failed: {exc}") from None
    finally:
        db.close()


def _prepare(db: sqlite3.Connection) -> None:
    """WAL mode, and the schema made or migrated in one transaction that also proves the
    file writable, before anything is sent."""
    _wal(db)
    # In WAL mode, NORMAL keeps every commit through a crash or a kill of the process
    # (SIGKILL included); only a power cut can lose the last ones. FULL would fsync
    # once per delivery and cap sending at the disk's sync rate.
    db.execute("PRAGMA synchronous = NORMAL")
    db.execute("PRAGMA foreign_keys = ON")
    _migrate(db)


def _wal(db: sqlite3.Connection) -> None:
    """Switch to WAL, waiting while another process makes or migrates the same file.

    The switch takes a lock that SQLite does not wait for, so several
    processes opening a new ledger at once would see "database is locked".
    """
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def peek(path: Path, clock: datetime) -> Iterator[Ledger | None]:
    """The ledger read-only, or None if there is none: previews must not create it.

    A ledger of an older schema is copied into memory and migrated there,
    so that a preview reads it as the next send (which migrates the file)
    will.
    """
    if not path.exists():
        yield None
        return
    try:
        db = _read_only(path)
    except sqlite3.Error as exc:
        raise FeedpressError(f"{path}: cannot read the send ledger: {exc}") from None
    current = db
    try:
        current = _current(db)
        yield Ledger(current, clock)
    except sqlite3.Error as exc:
        raise FeedpressError(f"{path}: cannot read the send ledger: {exc}") from None
    finally:
        current.close()
        db.close()


def _read_only(path: Path) -> sqlite3.Connection:
    """`path` opened for reading. Reading a WAL database makes its shared-memory file
    where there is none; in a folder this process may not write to, the file is read
    as it stands instead (no send can be writing there either)."""
    uri = path.resolve().as_uri()
    db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=LOCK_WAIT_SECONDS)
    try:
        db.execute("PRAGMA user_version").fetchone()
        return db
    except sqlite3.OperationalError as exc:
        db.close()
        if "readonly" not in str(exc) and "unable to open" not in str(exc):
            raise
    return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True)


def _current(db: sqlite3.Connection) -> sqlite3.Connection:
    """`db` itself if its schema is current, else a copy in memory migrated to it."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version == len(MIGRATIONS):
        db.execute("SELECT COUNT(*) FROM campaigns").fetchone()  # a damaged file fails here
        return db
    copy = sqlite3.connect(":memory:")
    db.backup(copy)
    _migrate(copy)
    return copy


@contextmanager
def send_lock(path: Path) -> Iterator[None]:
    """Hold the send lock beside the ledger, or raise `LockedError` at once."""
    lock_path = path.with_name(path.name + ".lock")
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise FeedpressError(f"{lock_path}: cannot make the send lock: {exc.strerror}; the "
                             "ledger's folder must be writable to send") from None
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
    """Bring the schema up to date in one `BEGIN IMMEDIATE` transaction.

    The version is read inside the transaction, so of several processes
    making a new ledger at once, one creates it and the others find it made.
    """
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise FeedpressError(f"the send ledger has schema version {version}, newer than "
                                 f"this feedpress knows ({len(MIGRATIONS)}); upgrade feedpress")
        for script in MIGRATIONS[version:]:
            for statement in _statements(script):
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {len(MIGRATIONS)}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:  # a failed COMMIT (a full disk) has ended it already
            db.execute("ROLLBACK")
        raise


def _statements(script: str) -> list[str]:
    """The statements of a migration script (no semicolon inside one of ours)."""
    return [s.strip() for s in script.split(";") if s.strip()]


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file is at `path` (device and inode), or None if none is."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino
