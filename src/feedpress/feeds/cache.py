"""The build cache: parsed posts, their cards and built feed items, kept between builds.

A rebuild re-parses only the post files whose bytes changed and rebuilds
only the items of those posts; it reads every post's card (what the
catalog needs), but a whole parsed post only where it builds items. The
cache lives in a SQLite file in the project's `.feedpress/` folder. Every
entry is keyed by the file's path and the SHA-256 of its bytes, so a post
can never be served stale: a changed byte is a different key. The whole
cache is also salted with everything else that shapes the output (the
config file's bytes, feedpress's own source code, the versions of the
libraries that render and serialise); a different salt empties it.

The stat shortcut (same size and mtime as last time means same bytes) is
git's: it spares reading unchanged files. A file edited within the same
clock tick as its last build and with the same size could slip past it,
so entries whose mtime is within two seconds of the build that cached
them are always re-read.

The cache stores and serves; it must not decide what is published or
what a feed holds, and nothing outside a build reads it (`loading` parses
posts on its own).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import importlib.util
import marshal
import os
import re
import sqlite3
import stat
import time
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from feedpress.errors import FeedpressError, Problem, relative
from feedpress.feeds.posts import Stat
from feedpress.model import Author, Card, Image, Post, Tag, from_us, to_us
from feedpress.version import __version__

SCHEMA_VERSION = "6"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sources (
    path TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    digest TEXT NOT NULL,
    card BLOB NOT NULL,
    parsed BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    path TEXT PRIMARY KEY,
    digest TEXT NOT NULL,
    parts BLOB NOT NULL
);
"""
# The libraries that shape items, by module name: their distributions' names.
_LIBRARIES = {"feedgen": "feedgen", "cmarkgfm": "cmarkgfm", "nh3": "nh3", "lxml": "lxml",
              "yaml": "PyYAML"}
RACY_NS = 2_000_000_000  # an mtime this close to a build may yet change within its tick
_BATCH = 500  # below SQLite's limit on bound parameters
LOCK_WAIT_SECONDS = 5.0  # how long a build waits while another one writes the cache


class Checked(NamedTuple):
    """What the catalog needs of one parsed file: the post's card (None when the
    post is invalid) and the file's problems."""

    card: Card | None
    problems: tuple[Problem, ...]


class Entry(NamedTuple):
    """A cached file's size, mtime and digest, and its card and problems as `pack_card`
    packed them (unpacked only for a file that is as cached).

    A named tuple, not a dataclass: a rebuild makes one per post file.
    """

    size: int
    mtime_ns: int
    digest: str
    card: bytes


def salt(config_fingerprint: str, timezone: str = "UTC", *, version: str = __version__,
         code: bytes | None = None, libraries: bytes | None = None,
         zone: bytes | None = None) -> str:
    """Everything besides a post's own bytes that shapes what is cached.

    `code` defaults to feedpress's own source files, so that even an
    unreleased change to how items are written empties the cache;
    `libraries` to the versions of the libraries that render and serialise;
    `zone` to the rules of the site's `timezone` (see `zone_rules`).
    """
    digest = hashlib.sha256()
    digest.update(f"{SCHEMA_VERSION}\0{version}\0{config_fingerprint}\0".encode())
    digest.update(library_versions() if libraries is None else libraries)
    digest.update(zone_rules(timezone) if zone is None else zone)
    digest.update(_source_code() if code is None else code)
    return digest.hexdigest()


def zone_rules(key: str) -> bytes:
    """The compiled rules of time zone `key`, from where `zoneinfo` reads them.

    A post dated without an offset is in the site's zone, and an update of
    the time zone database can change what its date means in UTC: with the
    rules in the salt, such an update empties the cache.
    """
    for folder in zoneinfo.TZPATH:
        try:
            with open(os.path.join(folder, key), "rb") as stream:
                return stream.read()
        except OSError:
            continue
    package, _, name = f"tzdata.zoneinfo.{key}".replace("/", ".").rpartition(".")
    try:  # the tzdata package, where the system has no zone files
        from importlib import resources

        return resources.files(package).joinpath(name).read_bytes()
    except (ImportError, OSError):
        return b""


def library_versions(libraries: Mapping[str, str] = _LIBRARIES) -> bytes:
    """The installed version of each library in `libraries` (module name: distribution).

    Read from the name of the distribution's `.dist-info` folder beside the
    module, found without importing it (a build with nothing to do imports
    no feedgen); `importlib.metadata`, whose import alone costs as much as
    the rest of such a build's checks, only where that folder is not there.
    """
    listings: dict[str, list[str]] = {}
    found = []
    for module, dist in libraries.items():
        found.append(f"{dist}={_dist_info(module, dist, listings) or _metadata_version(dist)}")
    return "\0".join(found).encode("utf-8", "surrogateescape")


def _dist_info(module: str, dist: str, listings: dict[str, list[str]]) -> str | None:
    """The versions in the names of `dist`'s `.dist-info` folders beside package `module`."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.submodule_search_locations:
        return None
    folder = os.path.dirname(os.path.dirname(spec.origin))
    if folder not in listings:
        try:
            listings[folder] = os.listdir(folder)
        except OSError:
            listings[folder] = []
    wanted = _normal(dist)
    versions = sorted(version for name in listings[folder] if name.endswith(".dist-info")
                      for project, _, version in [name.removesuffix(".dist-info").partition("-")]
                      if _normal(project) == wanted)
    return "+".join(versions) or None


def _normal(project: str) -> str:
    """A distribution's name as its folders may spell it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", project).lower()


def _metadata_version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "?"


def source_files() -> list[Path]:
    """Every Python file of the feedpress package, wings included, in a fixed order."""
    package = Path(__file__).resolve().parent.parent
    return sorted(package.rglob("*.py"), key=lambda path: path.relative_to(package).parts)


def _source_code() -> bytes:
    """Each source file's place in the package and its bytes: a file moved or edited
    anywhere in the package empties the cache."""
    package = Path(__file__).resolve().parent.parent
    return b"\0".join(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes()
                      for path in source_files())


class Cache:
    """A SQLite file of parsed posts, their cards and their items; `None` path keeps
    nothing."""

    def __init__(self, connection: sqlite3.Connection, started_ns: int) -> None:
        self._db = connection
        self._started_ns = started_ns

    def entries(self) -> dict[str, Entry]:
        """Every cached file but its full parse, by path: one query instead of one per file."""
        rows = self._db.execute("SELECT path, size, mtime_ns, digest, card FROM sources")
        return {row[0]: Entry._make(row[1:]) for row in rows}

    def store_packed(self, rows: Iterable[tuple[str, Stat, str, bytes, bytes]]) -> None:
        """Keep parses, each as (path, stat, digest, `pack_card(...)`, `pack_post(post)`, or
        empty bytes for an invalid post)."""
        self._db.executemany(
            "INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?)",
            ((path, size, self._mtime(mtime), digest, card, parsed)
             for path, (size, mtime), digest, card, parsed in rows),
        )

    def restat(self, path: str, stat: Stat) -> None:
        """Record a new size and mtime for a file whose bytes are as cached (a `touch`)."""
        self._db.execute("UPDATE sources SET size = ?, mtime_ns = ? WHERE path = ?",
                         (stat.size, self._mtime(stat.mtime_ns), path))

    def _mtime(self, mtime_ns: int) -> int:
        # A file modified in the last moments may change again within the mtime's
        # resolution; record an mtime that can never match, so it is re-read.
        return mtime_ns if mtime_ns < self.settled_before_ns else -1

    def parsed(self, keys: Iterable[tuple[str, str]]) -> dict[str, bytes]:
        """The whole posts, as `pack_post` packed them, of the files keyed (path, digest)."""
        return dict(self._select("sources", keys, "parsed"))

    def posts(self, keys: Iterable[tuple[str, str]], posts_dir: Path) -> dict[str, Post]:
        """The full cached posts keyed (path, digest), by path; each post's file is
        `posts_dir` / its path."""
        return {path: unpack_post(blob, posts_dir / path)
                for path, blob in self.parsed(keys).items()}

    def items(self, keys: Iterable[tuple[str, str]]) -> dict[str, dict[str, bytes]]:
        """The cached item parts (see `pack_items`) of the posts keyed (path, digest), by path."""
        return {path: unpack_items(parts) for path, parts in self._select("items", keys, "parts")}

    def has_items(self, keys: Iterable[tuple[str, str]]) -> set[str]:
        """The paths, of those keyed (path, digest), whose items are cached.

        Asks for the keys only, not the items, which can be megabytes.
        """
        return {path for path, _ in self._select("items", keys, "NULL")}

    def _select(self, table: str, keys: Iterable[tuple[str, str]],
                column: str) -> Iterator[tuple[str, Any]]:
        wanted = dict(keys)
        paths = list(wanted)
        for start in range(0, len(paths), _BATCH):
            batch = paths[start : start + _BATCH]
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                f"SELECT path, digest, {column} FROM {table} WHERE path IN ({marks})", batch)
            yield from ((path, data) for path, digest, data in rows if wanted[path] == digest)

    def store_items(self, rows: Iterable[tuple[str, str, bytes]]) -> int:
        """Keep each post's items, given as (path, digest, `pack_items(parts)`); how many
        posts' items that was."""
        cursor = self._db.executemany("INSERT OR REPLACE INTO items VALUES (?, ?, ?)", rows)
        return cursor.rowcount

    @property
    def settled_before_ns(self) -> int:
        """Files modified before this time cannot change unseen by their size and mtime."""
        return self._started_ns - RACY_NS

    def memo(self) -> str | None:
        """What the last complete build left for the next one (see `memo`)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'memo'").fetchone()
        return None if row is None else str(row[0])

    def remember(self, memo: str | None) -> None:
        """Keep `memo` for the next build, or with None, forget the last one."""
        if memo is None:
            self._db.execute("DELETE FROM meta WHERE key = 'memo'")
        else:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('memo', ?)", (memo,))

    def commit(self) -> None:
        """Make what is stored so far visible to `reader`s in other processes."""
        self._db.commit()

    def forget(self, paths: Iterable[str]) -> None:
        """Drop the entries of files that are gone, so the cache does not grow forever."""
        gone = [(path,) for path in paths]
        self._db.executemany("DELETE FROM sources WHERE path = ?", gone)
        self._db.executemany("DELETE FROM items WHERE path = ?", gone)


@contextmanager
def open_cache(db_path: Path | None, cache_salt: str) -> Iterator[Cache]:
    """The cache at `db_path` (created if missing, emptied if its salt differs)."""
    started = time.time_ns()
    connection = _connect(db_path)
    try:
        with connection:
            connection.executescript(_SCHEMA)
            row = connection.execute("SELECT value FROM meta WHERE key = 'salt'").fetchone()
            if row is None or row[0] != cache_salt:  # the schema version is in the salt
                connection.executescript("DROP TABLE sources; DROP TABLE items;"
                                         "DELETE FROM meta WHERE key = 'memo';" + _SCHEMA)
                connection.execute("INSERT OR REPLACE INTO meta VALUES ('salt', ?)", (cache_salt,))
        with connection:
            yield Cache(connection, started)
    except sqlite3.Error as exc:  # from this process or, re-raised here, from a worker
        raise _failed(db_path, exc) from None
    finally:
        connection.close()


@contextmanager
def one_build(db_path: Path, wait: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """One build at a time of the project whose cache is `db_path`: a second one waits up
    to `wait` seconds for the first to end, then stops with an error.

    SQLite's own lock covers the cache alone, and only while a transaction is open: two
    builds at once would write the same output folder, each its own manifest. The lock
    is `flock` on a file beside the cache, which the kernel lets go of when the build
    ends, however it ends (its workers hold it too, and die with it).
    """
    db_path.parent.mkdir(parents=True, exist_ok=True)
    lock = db_path.with_name("build.lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
                     | getattr(os, "O_CLOEXEC", 0), 0o644)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise OSError(errno.EINVAL, "not a plain file")
    except OSError as exc:  # a link, a pipe, a folder: not the lock feedpress makes
        raise FeedpressError(f"{relative(lock)}: cannot open the build lock: "
                             f"{exc.strerror}; remove it if it is not a plain file") from None
    try:
        _take(fd, lock, time.monotonic() + wait)
        yield
    finally:
        os.close(fd)


def _take(fd: int, lock: Path, deadline: float) -> None:
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise FeedpressError(f"{relative(lock)}: another build of this project is "
                                     "running; let it finish, then build again") from None
            time.sleep(0.05)


def reader(db_path: Path) -> Cache:
    """A read-only view of the cache at `db_path`, kept open for this process's life.

    Workers that write feeds read their items through it. A connection
    must not cross a fork, so each process opens its own.
    """
    return _reader(db_path, os.getpid())


@lru_cache(maxsize=2)
def _reader(db_path: Path, pid: int) -> Cache:
    try:
        connection = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True,
                                     timeout=LOCK_WAIT_SECONDS)
    except sqlite3.Error as exc:
        raise _failed(db_path, exc) from None
    return Cache(connection, time.time_ns())


def _connect(db_path: Path | None) -> sqlite3.Connection:
    if db_path is None:
        return sqlite3.connect(":memory:")
    try:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(db_path, timeout=LOCK_WAIT_SECONDS)
        # Pages big enough for a whole item: no overflow pages to chain (a new file only).
        connection.execute("PRAGMA page_size = 16384")
        # A rollback journal, not a write-ahead log: the cache is written and read in
        # turns, never at once, and a cold build stores 100 MB of items that a log
        # would write twice (once to the log, once when copied into the database).
        connection.execute("PRAGMA journal_mode = DELETE")
        connection.execute("PRAGMA synchronous = NORMAL")
    except OSError as exc:
        raise FeedpressError(f"{db_path}: cannot open the build cache: {exc}") from None
    except sqlite3.Error as exc:
        raise _failed(db_path, exc) from None
    return connection


def _failed(db_path: Path | None, exc: sqlite3.Error) -> FeedpressError:
    """`exc` as a message that says what to do about it."""
    name = getattr(exc, "sqlite_errorname", "")
    where = relative(db_path) if db_path else "the build cache"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        advice = ". If another build of this project is running, let it finish; if not, " \
                 "delete the file (it is only a cache) and build again"
    elif name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        advice = ". The file is damaged: delete it (it is only a cache) and build again"
    else:
        advice = ""
    return FeedpressError(f"{where}: the build cache failed: {exc}{advice}")


def pack_items(parts: dict[str, bytes]) -> bytes:
    """A post's items in every format, as one value: stored and read as one row."""
    return marshal.dumps(parts)


def unpack_items(blob: bytes) -> dict[str, bytes]:
    parts: dict[str, bytes] = marshal.loads(blob)  # the project's own cache file
    return parts


def pack_card(card: Card | None, problems: Iterable[Problem]) -> bytes:
    """A file's card and problems as plain tuples, in marshal's format.

    Every rebuild loads every post's card, so this is on its hot path: marshal
    loads plain tuples several times faster than pickle loads anything. The
    problems are all about the file itself, and are kept without its path,
    which `unpack_card` gives them back as it is now: a project (or a cache
    restored in CI) may be somewhere else next time.
    """
    row = None if card is None else tuple(card)
    return marshal.dumps((row, tuple(p.placeless_row() for p in problems)))


def unpack_card(blob: bytes, folder: Path, key: str) -> Checked:
    """The `Checked` that `pack_card` packed, for the file `key` under `folder`."""
    row, problem_rows = marshal.loads(blob)  # the project's own cache file
    card = None if row is None else Card._make(row)
    if not problem_rows:
        return Checked(card, ())
    path = folder / key
    return Checked(card, tuple(Problem.at(path, row) for row in problem_rows))


def pack_post(post: Post) -> bytes:
    """A whole post as nested tuples of plain values, in marshal's format (see
    `pack_card`), without its path: `unpack_post` gives it the file's path as it is now."""
    return marshal.dumps(_post_row(post))


def unpack_post(blob: bytes, path: Path) -> Post:
    """The post that `pack_post` packed, its file now at `path`."""
    return _post_from_row(marshal.loads(blob), path)  # the project's own cache file


def _post_row(p: Post) -> tuple[Any, ...]:
    image = None if p.image is None else (p.image.url, p.image.alt, p.image.caption)
    return (p.blog, p.slug, p.id, p.id_pinned, p.title, p.url, to_us(p.date),
            None if p.updated is None else to_us(p.updated),
            tuple((a.name, a.email, a.url) for a in p.authors),
            tuple((t.slug, t.name) for t in p.tags), p.breaking, p.summary, image, p.lang,
            p.draft, p.digest)


def _post_from_row(r: tuple[Any, ...], path: Path) -> Post:
    # Every post whose items are built is made here: a frozen dataclass's __init__ sets
    # each field through object.__setattr__, which costs twice filling __dict__.
    post: Post = object.__new__(Post)
    post.__dict__.update(
        path=path, blog=r[0], slug=r[1], id=r[2], id_pinned=r[3], title=r[4], url=r[5],
        date=from_us(r[6]), updated=None if r[7] is None else from_us(r[7]),
        authors=_authors(r[8]), tags=_tags(r[9]),
        breaking=r[10], summary=r[11], image=None if r[12] is None else _image(r[12]),
        lang=r[13], draft=r[14], digest=r[15],
    )
    return post


def _image(row: tuple[str, str, str | None]) -> Image:
    image: Image = object.__new__(Image)  # as for the post itself
    image.__dict__.update(url=row[0], alt=row[1], caption=row[2])
    return image


@lru_cache(maxsize=4096)  # bylines and tag lists repeat across thousands of posts: share them
def _authors(rows: tuple[tuple[str, str | None, str | None], ...]) -> tuple[Author, ...]:
    return tuple(Author(*row) for row in rows)


@lru_cache(maxsize=65536)
def _tags(rows: tuple[tuple[str, str], ...]) -> tuple[Tag, ...]:
    return tuple(_tag(*row) for row in rows)


@lru_cache(maxsize=16384)
def _tag(slug: str, name: str) -> Tag:
    return Tag(slug, name)
