"""The send ledger in PostgreSQL (psycopg 3): a ledger that outlives a CI runner.

It runs the ledger's own SQL, its `?` placeholders turned into psycopg's.
The schema version is kept in a table of its own, `feedpress_schema`;
migrations run under a transaction-scoped advisory lock, so two runners
opening a new database at once do not both make it. The send lock is a
session advisory lock held on a connection of its own for the whole
send: the server releases it when that connection ends, however the
runner dies. A read (a preview, a dry run) runs in one transaction that
is always rolled back, so it can migrate an older schema to read it the
way the next send will, and leave the database as it was.

The URL carries a password: no message here shows it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from feedpress.errors import FeedpressError
from feedpress.mail.engines import (
    Engine,
    LedgerBusyError,
    LockedError,
    Migrate,
    Place,
    url_secrets,
)

if TYPE_CHECKING:
    import psycopg

# Advisory lock keys: one per purpose and per schema, so ledgers in two schemas of one
# database do not hold each other back.
SEND_LOCK = ("SELECT pg_try_advisory_lock(hashtext(COALESCE(current_schema(), '') || "
             "':feedpress send'))")
MIGRATION_LOCK = ("SELECT pg_advisory_xact_lock(hashtext(COALESCE(current_schema(), '') || "
                  "':feedpress migration'))")
CONNECT_TIMEOUT_SECONDS = 10
STATEMENT_TIMEOUT = "60s"  # a database that stops answering stops the run, not hangs it
# TCP keepalives: a connection whose server vanished is noticed in about a minute.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 30, "keepalives_interval": 10,
              "keepalives_count": 3}


class PostgresEngine:
    """One connection to the ledger's database."""

    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        self._conn = conn

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._conn.cursor() as cursor:
            cursor.execute(_sql(sql), params)
            return cursor.fetchall() if cursor.description else []

    def change(self, sql: str, params: Sequence[object] = ()) -> int:
        with self._conn.cursor() as cursor:
            cursor.execute(_sql(sql), params)
            return cursor.rowcount

    def change_many(self, sql: str, params: Iterable[Sequence[object]]) -> None:
        with self._conn.cursor() as cursor:
            cursor.executemany(_sql(sql), params)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self._conn.transaction():
            yield

    @contextmanager
    def exclusive(self) -> Iterator[int]:
        with self._conn.transaction():
            self.rows(MIGRATION_LOCK)
            if not _has_schema(self):
                self.change("CREATE TABLE feedpress_schema (version INTEGER NOT NULL)")
            found = self.rows("SELECT version FROM feedpress_schema")
            yield int(found[0][0]) if found else 0

    def set_version(self, version: int) -> None:
        self.change("DELETE FROM feedpress_schema")
        self.change("INSERT INTO feedpress_schema (version) VALUES (?)", (version,))

    def lock_table(self, table: str) -> None:
        self.change(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")

    def check(self) -> None:
        """Nothing to check: a database is not replaced under an open connection."""


def _sql(sql: str) -> str:
    assert "%" not in sql, "the ledger's SQL has no literal % (psycopg would read it)"
    return sql.replace("?", "%s")


def _has_schema(engine: Engine) -> bool:
    return engine.rows("SELECT to_regclass('feedpress_schema') IS NOT NULL")[0][0] is True


def exists(place: Place) -> bool:
    """Whether the database holds a ledger (made by an earlier send)."""
    with _connected(place) as conn:
        engine = PostgresEngine(conn)
        return _has_schema(engine) and bool(engine.rows("SELECT version FROM feedpress_schema"))


@contextmanager
def open_postgres(place: Place, migrate: Migrate | None, *, locked: bool = False,
                  wait: float | None = None) -> Iterator[Engine]:
    """The ledger's database, migrated (unless `migrate` is None), for reading and
    writing; each change commits. `locked` takes the send lock on this very connection
    first, or raises `LockedError`: the lock and the ledger are lost together. `wait`
    bounds how long a lock held by another session is waited for (`LedgerBusyError`)."""
    with _connected(place, wait) as conn:
        engine = PostgresEngine(conn)
        if locked:
            _lock(engine, place)
        if migrate is not None:
            migrate(engine)
        yield engine


@contextmanager
def peek_postgres(place: Place, migrate: Migrate) -> Iterator[Engine | None]:
    """The ledger as the next send will read it, or None if there is none; nothing read
    through it is kept, migrations included."""
    with _connected(place) as conn, conn.transaction(force_rollback=True):
        engine = PostgresEngine(conn)
        if not _has_schema(engine):
            yield None
            return
        migrate(engine)
        yield engine


@contextmanager
def postgres_lock(place: Place) -> Iterator[None]:
    """Hold the send lock on a connection of its own, or raise `LockedError` at once."""
    with _connected(place) as conn:
        _lock(PostgresEngine(conn), place)
        yield


def _lock(engine: Engine, place: Place) -> None:
    if not engine.rows(SEND_LOCK)[0][0]:
        raise LockedError(f"another send holds the lock on {place}; wait for it to finish")


@contextmanager
def _connected(place: Place, wait: float | None = None
               ) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """A connection in autocommit mode; the driver's errors become messages without the
    password, whether raised connecting or later. With `wait`, a lock or a statement
    that takes longer is `LedgerBusyError` (the unsubscribe endpoint's 503)."""
    psycopg = _driver()
    assert place.url is not None
    timeout = CONNECT_TIMEOUT_SECONDS if wait is None else max(2, int(wait))
    try:
        conn = psycopg.connect(place.url, autocommit=True, application_name="feedpress",
                               connect_timeout=timeout, **KEEPALIVES)
    except (psycopg.Error, UnicodeError, ValueError) as exc:  # a URL libpq cannot read too
        raise FeedpressError(f"{place}: cannot connect to the send ledger: "
                             f"{_clean(exc, place.url)}") from None
    try:
        with conn:
            limit = STATEMENT_TIMEOUT if wait is None else f"{int(wait * 1000)}ms"
            conn.execute(f"SET statement_timeout = '{limit}'")
            if wait is not None:
                conn.execute(f"SET lock_timeout = '{int(wait * 1000)}ms'")
            yield conn
    except (psycopg.errors.LockNotAvailable, psycopg.errors.QueryCanceled):
        raise LedgerBusyError(f"{place}: the send ledger stayed locked by another session "
                              "longer than this request waits") from None
    except psycopg.Error as exc:
        raise FeedpressError(f"{place}: the send ledger failed: {_clean(exc, place.url)}"
                             ) from None


def _driver() -> Any:
    try:
        import psycopg
    except ImportError:
        raise FeedpressError("a PostgreSQL ledger needs psycopg: pip install "
                             "'feedpress[postgresql]'") from None
    return psycopg


def _clean(exc: Exception, url: str) -> str:
    """The driver's message, its first line, unless it quotes any piece of the URL that
    may be secret (libpq quotes what it cannot parse, a password included): then a
    message of feedpress's own instead."""
    message = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if any(secret in message for secret in url_secrets(url)) or isinstance(exc, UnicodeError):
        return ("the URL cannot be used as written (the driver's message quotes part of "
                "it, so it is not shown); check its form: postgresql://user:password@host"
                ":5432/database, with @ : / % ? & in the password %-encoded")
    return message
