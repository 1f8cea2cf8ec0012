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
from urllib.parse import unquote, urlsplit

from feedpress.errors import FeedpressError
from feedpress.mail.engines import Engine, LockedError, Migrate, Place

if TYPE_CHECKING:
    import psycopg

SEND_LOCK = int.from_bytes(b"feedpres", "big")  # advisory lock keys, one per purpose
MIGRATION_LOCK = int.from_bytes(b"fpschema", "big")
CONNECT_TIMEOUT_SECONDS = 10


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
            self.rows("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
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
def open_postgres(place: Place, migrate: Migrate) -> Iterator[Engine]:
    """The ledger's database, migrated, for reading and writing; each change commits."""
    with _connected(place) as conn:
        engine = PostgresEngine(conn)
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
    """Hold the send lock, or raise `LockedError` at once."""
    with _connected(place) as conn:
        if not PostgresEngine(conn).rows("SELECT pg_try_advisory_lock(?)", (SEND_LOCK,))[0][0]:
            raise LockedError(f"another send holds the lock on {place}; wait for it to finish")
        yield


@contextmanager
def _connected(place: Place) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """A connection in autocommit mode; the driver's errors become messages without the
    password, whether raised connecting or later."""
    psycopg = _driver()
    assert place.url is not None
    try:
        conn = psycopg.connect(place.url, autocommit=True, application_name="feedpress",
                               connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except psycopg.Error as exc:
        raise FeedpressError(f"{place}: cannot connect to the send ledger: "
                             f"{_clean(exc, place.url)}") from None
    try:
        with conn:
            yield conn
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
    """The driver's message, first line, with anything of the URL's secrets taken out."""
    message = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    if "connection info string" in message or "invalid dsn" in message.lower():
        return "the URL cannot be read (check its form: postgresql://user:password@host/db)"
    secrets = [url]
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    if password:
        secrets += [password, unquote(password)]
    for secret in secrets:
        message = message.replace(secret, "***")
    return message
