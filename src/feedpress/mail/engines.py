"""Where the send ledger lives, and the SQLite engine it runs on by default.

The ledger's SQL is written once, in `ledger`, in what SQLite and
PostgreSQL both accept; an engine only runs it. `Engine` is everything
the ledger asks of one: rows, changes, a transaction, an exclusive
transaction for migrations that also reads the schema version, and a
check that the store is still the one opened. `Place` says which engine:
a SQLite file (`email.state`), or a PostgreSQL database whose URL comes
from the environment (`email.state_url_env`) and is never shown whole,
since it carries a password. PostgreSQL's engine is in `postgres`, and
is imported only when a URL asks for it.
"""

from __future__ import annotations

import fcntl
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qs, parse_qsl, unquote, urlsplit

from feedpress.errors import FeedpressError
from feedpress.mailsettings import EmailSettings

LOCK_WAIT_SECONDS = 10.0  # how long to wait for another process that holds the file
_SCHEMES = ("postgresql://", "postgres://")


class LockedError(FeedpressError):
    """Another send holds the lock."""

    exit_code = 4


class LedgerBusyError(FeedpressError):
    """Another process held the ledger longer than this one could wait."""


class LedgerLostError(FeedpressError):
    """The ledger's file was removed or replaced while a send was recording into it."""


@dataclass(frozen=True)
class Place:
    """Where a ledger is: a SQLite file, or a PostgreSQL URL (with its variable's name)."""

    path: Path | None = None
    url: str | None = field(default=None, repr=False)
    variable: str | None = None

    def __str__(self) -> str:
        if self.url is None:
            return str(self.path)
        return f"{shown_url(self.url)} (from {self.variable})" if self.variable \
            else shown_url(self.url)


def locate(email: EmailSettings, environ: Mapping[str, str] = os.environ) -> Place:
    """The ledger's place: the database in the URL variable when it is set, else the file.

    A variable that is set but empty is an error, not the file: it is what
    a CI workflow passes for a secret that was never made, and the file on
    a fresh runner is a new, empty ledger. So is the file once `feedpress
    state copy` has moved it into PostgreSQL.
    """
    variable = email.state_url_env
    url = environ.get(variable)
    if url is not None and not url.strip():
        raise FeedpressError(f"{variable} is set but empty (in CI: a secret that was never "
                             "made?); set it to the ledger's postgresql:// URL, or unset it "
                             f"to keep the ledger in {email.state}")
    if url is None:
        moved = moved_name(email.state)
        if moved.exists() and not email.state.exists():
            raise FeedpressError(f"the ledger in {email.state} was moved into PostgreSQL by "
                                 f"`feedpress state copy` (the old file is {moved.name}); "
                                 f"set {variable} to that database's URL")
        return Place(path=email.state)
    if not url.strip().startswith(_SCHEMES):
        raise FeedpressError(f"{variable} is set but does not start with postgresql://; "
                             f"unset it to keep the ledger in {email.state}")
    return Place(url=url.strip(), variable=variable)


def moved_name(path: Path) -> Path:
    """What `feedpress state copy` renames a SQLite ledger to once it is in PostgreSQL."""
    return path.with_name(path.name + ".moved")


def retire(path: Path) -> None:
    """Rename the ledger at `path` (with its WAL, if one is left) to its moved name."""
    for suffix in ("-wal", ""):
        part = Path(f"{path}{suffix}")
        if part.exists():
            part.rename(Path(f"{moved_name(path)}{suffix}"))


def database_place(url: str, variable: str | None = None) -> Place:
    """`url` as a place, or a `FeedpressError` if it is not a PostgreSQL URL."""
    if not url.startswith(_SCHEMES):
        raise FeedpressError("the target must be a postgresql:// URL")
    return Place(url=url, variable=variable)


def shown_url(url: str) -> str:
    """`url` without its password and its query's other parameters (one may be a
    password): safe to print. A host or port given in the query is shown, since it
    overrides the one before the path."""
    try:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        host = (query.get("host") or [parts.hostname or "localhost"])[0]
        host = f"[{host}]" if ":" in host else host  # IPv6
        port = (query.get("port") or [str(parts.port or "")])[0]
        user = f"{parts.username}@" if parts.username else ""
    except ValueError:
        return "postgresql://(a URL that cannot be read)"
    return f"{parts.scheme}://{user}{host}{':' + port if port else ''}{parts.path}"


def url_secrets(url: str) -> list[str]:
    """Every piece of `url` that may be secret: the password and each query value, raw
    and decoded, and their parts between the characters a parser splits on, so that a
    driver's message quoting any of them can be recognised."""
    try:
        parts = urlsplit(url)
        found = [parts.password or "", *(v for _, v in parse_qsl(parts.query))]
    except ValueError:
        return [url]
    userinfo = parts.netloc.rpartition("@")[0].partition(":")[2]
    found += [userinfo, parts.query]
    pieces = [*found, *(unquote(f) for f in found)]
    pieces += [bit for piece in pieces for bit in re.split(r"[@:/%?&=\s]+", piece)]
    return sorted({p for p in pieces if len(p) >= 3}, key=len, reverse=True)


class Engine(Protocol):
    """What the ledger asks of a database. SQL is written with `?` placeholders."""

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]: ...

    def change(self, sql: str, params: Sequence[object] = ()) -> int:
        """Run a statement; how many rows it changed."""
        ...

    def change_many(self, sql: str, params: Iterable[Sequence[object]]) -> None: ...

    def transaction(self) -> AbstractContextManager[None]:
        """Commit what is run inside at the end, or nothing of it on an error."""
        ...

    def exclusive(self) -> AbstractContextManager[int]:
        """A transaction no other process migrates in at the same time; gives the
        schema version, 0 for a new ledger."""
        ...

    def set_version(self, version: int) -> None: ...

    def lock_table(self, table: str) -> None:
        """Inside a transaction: keep other writers of `table` out until it ends, so that
        an id read as MAX + 1 is still free when inserted."""
        ...

    def check(self) -> None:
        """Raise `LedgerLostError` if the store is no longer the one opened."""
        ...


Migrate = Callable[[Engine], None]


class SqliteEngine:
    """A SQLite file, or a copy of one in memory."""

    def __init__(self, db: sqlite3.Connection, path: Path | None = None) -> None:
        """`path`, for a ledger that records: its file is checked to be the same one
        after every delivery recorded."""
        self._db = db
        self._path = path
        self._identity = _identity(path) if path is not None else None

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        return self._db.execute(sql, params).fetchall()

    def change(self, sql: str, params: Sequence[object] = ()) -> int:
        return self._db.execute(sql, params).rowcount

    def change_many(self, sql: str, params: Iterable[Sequence[object]]) -> None:
        self._db.executemany(sql, params)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._db:
            yield

    @contextmanager
    def exclusive(self) -> Iterator[int]:
        """`BEGIN IMMEDIATE`, so of several processes making a new ledger at once one
        creates it and the others find it made."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db.execute("PRAGMA user_version").fetchone()[0]
            self._db.execute("COMMIT")
        except BaseException:
            if self._db.in_transaction:  # a failed COMMIT (a full disk) has ended it already
                self._db.execute("ROLLBACK")
            raise

    def set_version(self, version: int) -> None:
        self._db.execute(f"PRAGMA user_version = {int(version)}")

    def lock_table(self, table: str) -> None:
        """Nothing to do: SQLite has one writer at a time, and a statement that reads
        MAX(id) and inserts runs whole under the write lock."""

    def check(self) -> None:
        if self._path is not None and _identity(self._path) != self._identity:
            raise LedgerLostError(
                f"{self._path}: the send ledger was removed or replaced while sending; "
                "stopped, since deliveries recorded now would be lost. Restore the file "
                "that was there (its deliveries say who has the message already) before "
                "sending again")


# -- SQLite: opening, reading, locking ---------------------------------------------------------


def sqlite_exists(path: Path) -> bool:
    """Whether there is a ledger at `path`: a file with feedpress's schema in it. An empty
    file, or a database of something else, holds no ledger; a file that cannot be read
    is taken to be one (opening it then says what is wrong)."""
    if not path.exists() or path.stat().st_size == 0:
        return False
    try:
        db = _read_only(path)
        try:
            return int(db.execute("PRAGMA user_version").fetchone()[0]) > 0
        finally:
            db.close()
    except sqlite3.Error:
        return True


@contextmanager
def open_sqlite(path: Path, migrate: Migrate, wait: float = LOCK_WAIT_SECONDS
                ) -> Iterator[Engine]:
    """The file at `path` (made if missing), migrated, for reading and writing; a lock
    held by another process for longer than `wait` seconds is `LedgerBusyError`."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Worker threads record deliveries; `Sender` serialises them with its own lock.
        db = sqlite3.connect(path, timeout=wait, check_same_thread=False)
    except (OSError, sqlite3.Error) as exc:
        raise FeedpressError(f"{path}: cannot open the send ledger for writing: {exc}") from None
    try:
        _wal(db, wait)
        # In WAL mode, NORMAL keeps every commit through a crash or a kill of the process
        # (SIGKILL included); only a power cut can lose the last ones. FULL would fsync
        # once per delivery and cap sending at the disk's sync rate.
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
        engine = SqliteEngine(db, path)
        migrate(engine)
        yield engine
    except sqlite3.OperationalError as exc:
        if "locked" in str(exc):
            raise LedgerBusyError(f"{path}: the send ledger stayed locked by another "
                                  f"process for {wait:g} s") from None
        raise FeedpressError(f"{path}: the send ledger failed: {exc}") from None
    except sqlite3.Error as exc:
        raise FeedpressError(f"{path}: the send ledger failed: {exc}") from None
    finally:
        db.close()


def _wal(db: sqlite3.Connection, wait: float) -> None:
    """Switch to WAL, waiting while another process makes or migrates the same file.

    The switch takes a lock that SQLite does not wait for, so several
    processes opening a new ledger at once would see "database is locked".
    """
    deadline = time.monotonic() + wait
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def peek_sqlite(path: Path, version: int, migrate: Migrate) -> Iterator[Engine | None]:
    """The file read-only, or None if there is none; one of an older schema than
    `version` is copied into memory and migrated there, so that a preview reads it as
    the next send (which migrates the file) will."""
    if not sqlite_exists(path):
        yield None
        return
    try:
        db = _read_only(path)
    except sqlite3.Error as exc:
        raise FeedpressError(f"{path}: cannot read the send ledger: {exc}") from None
    current = db
    try:
        current = _current(db, version, migrate)
        yield SqliteEngine(current)
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


def _current(db: sqlite3.Connection, version: int, migrate: Migrate) -> sqlite3.Connection:
    """`db` itself if its schema is current, else a copy in memory migrated to it."""
    if db.execute("PRAGMA user_version").fetchone()[0] == version:
        db.execute("SELECT COUNT(*) FROM campaigns").fetchone()  # a damaged file fails here
        return db
    copy = sqlite3.connect(":memory:")
    db.backup(copy)
    migrate(SqliteEngine(copy))
    return copy


@contextmanager
def sqlite_lock(path: Path) -> Iterator[None]:
    """Hold the send lock beside the file with `flock`, or raise `LockedError` at once.
    The kernel releases it however the holder dies."""
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


def _identity(path: Path) -> tuple[int, int] | None:
    """Which file is at `path` (device and inode), or None if none is."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino
