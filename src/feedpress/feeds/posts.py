"""Finding post files and turning each into a validated `Post`.

`parse` is a pure function of a file's bytes, its place under `posts/` and
the config: that is what lets a later stage cache and parallelise it.
Problems are collected per file, located by line and field, and returned
with the posts, so a run reports every bad file at once.

What is published, and where, is not decided here (that is `catalog`'s),
and nothing here reads or writes the build cache.
"""

from __future__ import annotations

import bisect
import difflib
import errno
import hashlib
import json
import os
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path, PurePosixPath
from stat import S_ISREG
from typing import Any, NamedTuple
from urllib.parse import SplitResult, quote, urljoin, urlsplit
from zoneinfo import ZoneInfo

from feedpress import yamltext
from feedpress.config import Config, author_refs, unknown_blog
from feedpress.errors import FeedpressError, Problem, Severity, relative
from feedpress.feeds import imported, markup
from feedpress.fields import Fields
from feedpress.model import Author, Image, Post, Tag
from feedpress.text import (
    decode,
    first_xml_forbidden,
    has_char_reference,
    has_xml_forbidden,
    is_plain_root_path,
    is_utf8,
    lf_lines,
    slugify,
    utf8_xml_safe,
    xml_safe,
)

MAX_POST_BYTES = 1_000_000
FIRST_YEAR, LAST_YEAR = 1000, 9000  # a post's date: Python's range is 1 to 9999, in UTC
POST_SUFFIXES = (".md", ".markdown", ".mdown", ".mkd")
# Files that sit beside posts in other tools' folders and are not posts: said nothing of.
ASSET_SUFFIXES = frozenset({
    ".png", ".jpg", ".jpeg", ".gif", ".webp", ".avif", ".svg", ".ico", ".bmp", ".tif",
    ".tiff", ".heic", ".pdf", ".mp3", ".mp4", ".m4a", ".webm", ".ogg", ".ogv", ".wav",
    ".mov", ".vtt", ".srt", ".zip", ".csv", ".json", ".geojson", ".kml", ".gpx",
})
# The closing fence: a line of its own. Looked for as a line break and a fence, which
# the regular expression engine finds by its first character, rather than as a fence at
# any line's start, which it tries at every position.
_FENCE = re.compile(r"((?:---|\.\.\.)[ \t]*)$", re.MULTILINE)
_LATER_FENCE = re.compile(r"\n((?:---|\.\.\.)[ \t]*)$", re.MULTILINE)
_TOML_FENCE = re.compile(r"^\+\+\+[ \t]*$", re.MULTILINE)
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_LEADING_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}[-_]?")
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-_~%!$&'()*+,;=:@]+(?=[/?#]|$)")  # scheme://host
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")


@dataclass(frozen=True)
class Source:
    """A post file as read from disk: where it is and what it holds."""

    path: Path
    relpath: PurePosixPath
    data: bytes
    size: int = -1  # as the open file's stat said before it was read
    mtime_ns: int = -1


@dataclass(frozen=True)
class FrontMatter:
    """A post file split into its header (YAML, or TOML as Hugo writes it) and its
    Markdown body."""

    yaml: str
    body: str
    yaml_first_line: int
    toml: bool = False
    pelican: bool = False  # Pelican's `Key: value` header, kept here as JSON
    body_line: int = 0  # where the body starts, when the header's own lines do not say
    key_lines: tuple[tuple[str, int], ...] = ()  # Pelican's: each key's line


class Stat(NamedTuple):
    """A post file's size and mtime, taken once per file per build."""

    size: int
    mtime_ns: int


def discover(config: Config) -> tuple[dict[str, Stat | None], list[Problem]]:
    """Every `.md` file under the posts folder, in path order, and the links that leave it.

    Each file is given by its path under the posts folder (always with
    "/"), not by a `Path`: a rebuild lists every file and reads only those
    that changed. Its stat (None if it vanished) is taken through the
    folder listing: about half the cost of a stat by path.
    """
    root = config.posts_dir
    if not root.is_dir():
        return {}, [Problem(_show(config, root), None, "posts_dir", "folder does not exist")]
    found: dict[str, Stat | None] = {}
    problems: list[Problem] = []
    unread: Counter[str] = Counter()
    _walk(config, root, "", root.resolve(), found, problems, unread)
    if unread:
        kinds = ", ".join(f"{'' if ' ' in suffix else '*'}{suffix} ({n})"
                          for suffix, n in sorted(unread.items()))
        total = sum(unread.values())
        problems.append(Problem(_show(config, root), None, None,
                                f"{total} file{'s' if total > 1 else ''} under it "
                                f"{'are' if total > 1 else 'is'} not read: {kinds}",
                                Severity.WARNING))
    return found, problems


def _walk(config: Config, folder: Path, rel: str, real_root: Path,
          found: dict[str, Stat | None], problems: list[Problem], unread: Counter[str]) -> None:
    """`discover` in `folder`: entries in name order, each folder where it falls, so that
    the files come in the order of their paths' parts without sorting them. Files that
    are neither posts nor images or other assets are counted by suffix in `unread`."""
    try:
        entries = sorted(os.scandir(folder), key=_name)
    except OSError as exc:
        problems.append(Problem(folder, None, None, f"cannot list: {exc.strerror}"))
        return
    for entry in entries:  # scandir knows links and folders without a stat per file
        name = entry.name
        if name.startswith(".") or (name == "_drafts" and entry.is_dir()):
            continue  # hidden, or Jekyll's drafts: never published
        if not name.isascii() and not is_utf8(name):
            problems.append(Problem(_show(config, folder / name), None, "path", "the name is "
                                    "not valid UTF-8 (feedpress cannot make a URL of it); "
                                    "rename it"))
            continue
        if not name.endswith(POST_SUFFIXES) and not entry.is_dir():
            suffix = os.path.splitext(name)[1].lower()
            if suffix not in ASSET_SUFFIXES:
                unread[suffix or "(no suffix)"] += 1
            continue
        if entry.is_symlink() and not _inside(entry.path, real_root):
            problems.append(_outside(config, folder / name))
        elif entry.is_dir(follow_symlinks=False):
            _walk(config, folder / name, f"{rel}{name}/", real_root, found, problems, unread)
        elif entry.is_symlink() and not os.path.exists(entry.path):
            problems.append(Problem(_show(config, folder / name), None, "path",
                                    f"{_unfollowable(entry.path)}; not read"))
        elif entry.is_symlink() and entry.is_dir():
            problems.append(Problem(_show(config, folder / name), None, "path",
                                    "is a link to a folder, which is not followed (it could "
                                    "lead in circles); link the posts themselves"))
        elif not _regular(entry):  # reading a pipe would wait for ever
            problems.append(_special(config, folder / name))
        elif _section_page(name, rel):
            unread["section pages (_index.md, index.md)"] += 1
        else:
            found[rel + name] = _stat(entry)


def _unfollowable(link: str) -> str:
    """Why the link `link` leads to no file: a loop of links, or a target that is not there."""
    try:
        os.stat(link)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a loop of links"
    return f"is a link to nothing ({os.readlink(link)} does not exist)"


def _regular(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()  # a symlink to a regular file inside posts/ counts
    except OSError:
        return True  # vanished or unreadable: reading it will say so


def _section_page(name: str, rel: str) -> bool:
    """Hugo's list pages, which are not posts: `_index.md` anywhere, and `index.md` in the
    posts folder or a blog's folder (deeper, `index.md` is a page bundle: a post)."""
    stem = name.rpartition(".")[0]
    return stem == "_index" or (stem == "index" and rel.count("/") < 2)


def _name(entry: os.DirEntry[str]) -> str:
    return entry.name


def _stat(entry: os.DirEntry[str]) -> Stat | None:
    try:
        stat = entry.stat()
    except OSError:  # vanished or unreadable: reading it will say so
        return None
    return Stat(stat.st_size, stat.st_mtime_ns)


def read(config: Config, path: Path) -> Source | Problem:
    """The file's bytes, or a problem when it is too big or unreadable.

    Its size and mtime come from the open file before it is read: if the
    file changes after that, the next build sees a newer mtime.
    """
    try:
        stat, data = read_capped(path, inside=_real_root(config.posts_dir))
    except _NotRegular:
        return _special(config, path)
    except _Outside:
        return _outside(config, path)
    except OSError as exc:
        return Problem(_show(config, path), None, None, f"cannot read: {exc.strerror}")
    if stat.st_size > MAX_POST_BYTES or len(data) > MAX_POST_BYTES:
        size = max(stat.st_size, len(data))  # the read stops one byte over, if it grew
        said = f"{size:,} bytes" if size < 1_100_000 else f"{size / 1_000_000:.1f} MB"
        return Problem(_show(config, path), None, None, f"file is {said}; a post may be "
                       f"at most 1 MB ({MAX_POST_BYTES:,} bytes)")
    return Source(path, _relpath(config, path), data, stat.st_size, stat.st_mtime_ns)


def key_of(config: Config, path: Path) -> str | None:
    """The path under the posts folder (as `discover` lists it) of a file there, else None.

    By its text where it starts with the folder's (a worker does this per post), else
    by pathlib.
    """
    folder = str(config.posts_dir)
    text = str(path)
    if text.startswith(folder + os.sep):
        return text[len(folder) + 1 :].replace(os.sep, "/")
    try:
        return path.relative_to(config.posts_dir).as_posix()
    except ValueError:
        return None


def _relpath(config: Config, path: Path) -> PurePosixPath:
    """`path` under the posts folder, which `discover` found it in."""
    key = key_of(config, path)
    if key is None:
        raise ValueError(f"{path} is not under {config.posts_dir}")
    return PurePosixPath(key)


class _NotRegular(OSError):
    """What was opened is a pipe, a socket or a device, not a file."""


class _Outside(OSError):
    """What was opened lies outside the posts folder."""


def read_capped(path: Path, *, inside: str | None = None) -> tuple[os.stat_result, bytes]:
    """The file's stat, then its bytes: none if the stat says it is too big, and no
    more than one byte over the limit if it grew since.

    What `discover` found may have been swapped since for a pipe (which would
    block the read for ever) or a link to elsewhere: the file is opened without
    waiting, and refused unless it is a regular file and, with `inside` (a real
    path), the file opened lies under it. With the descriptor's own calls:
    Python's buffered file objects cost several times the read of a post-sized file.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        stat = os.fstat(fd)
        if not S_ISREG(stat.st_mode):
            raise _NotRegular(errno.EINVAL, "not a regular file", str(path))
        if inside is not None and not _opened_under(fd, inside):
            raise _Outside(errno.EXDEV, "outside the posts folder", str(path))
        if stat.st_size > MAX_POST_BYTES:
            return stat, b""
        data = os.read(fd, stat.st_size + 1)
        while len(data) <= MAX_POST_BYTES and (more := os.read(fd, MAX_POST_BYTES + 1 - len(data))):
            data += more
        return stat, data
    finally:
        os.close(fd)


def parse(source: Source, config: Config) -> tuple[Post | None, list[Problem]]:
    """Validate one post file; on any error the post is None and every error is listed."""
    shown = _show(config, source.path)
    try:
        text = decode(source.data)
    except UnicodeDecodeError as exc:
        line = source.data.count(b"\n", 0, exc.start) + 1
        return None, [Problem(shown, line, None, f"not valid UTF-8 (byte {exc.start})")]
    split = split_front_matter(lf_lines(text))
    if isinstance(split, str):
        return None, [Problem(shown, 1, None, split)]
    clean = utf8_xml_safe(source.data)  # as most files are: no line to look for
    split, removed = (split, []) if clean else _without_controls(split, shown)
    loaded = _load(split, shown)
    if isinstance(loaded, Problem):
        return None, [*removed, loaded]
    if not split.toml and not split.pelican:
        removed += _repeated(split, shown)
    data, notes = imported.adopt(loaded, categories_as_tags=config.categories_as_tags)
    post, problems = _build(shown, source, split, data, config, notes, clean)
    return post, [*removed, *problems]


def _without_controls(split: FrontMatter, shown: Path) -> tuple[FrontMatter, list[Problem]]:
    """The front matter without the raw control characters XML forbids (YAML refuses
    them too), with a warning for each line of text that had one, and an error for any
    other line (see `_control_in`). A vertical tab or form feed (what a word processor
    pastes for a soft line break) becomes a space, so that the words on either side
    stay apart."""
    if not has_xml_forbidden(split.yaml, decoded=not split.pelican):
        return split, []
    text = xml_safe(split.yaml)  # the same lines: only characters within them go
    keys = _key_lines(text)
    aliased = not split.pelican and "*" in text  # a value may be another's, by an alias
    lines = text.split("\n")
    problems = [_control_in(shown, number + split.yaml_first_line,
                            _field_at(keys, number + 1), line,
                            text_only=not split.toml and not aliased
                            and _one_field_on(keys, lines, number + 1))
                for number, line in enumerate(split.yaml.split("\n"))
                if has_xml_forbidden(line)]
    return replace(split, yaml=text), problems


# Fields of text, whose control characters are removed with a warning; from any other
# (an id, a URL, a date, or a field another tool names otherwise, such as `image:` for
# its URL or `lastmod:`) one cannot be dropped without silently changing what it names.
_TEXT_FIELDS = frozenset({"title", "summary", "description", "excerpt", "tags", "categories",
                          "category", "keywords", "author", "authors"})
_TEXT_SUBFIELDS = frozenset({"image.alt", "image.caption"})


def _control_in(shown: Path, line: int, field: str | None, text: str, *,
                text_only: bool) -> Problem:
    """The problem of a raw control character on a line of front matter: removed with a
    warning where the line is surely a field of text alone (`text_only`: one field on
    the line, YAML without aliases), an error otherwise (as an escaped one is in an
    identifier, see `_PostFields.refuse_controls`)."""
    if text_only and field is not None and _is_text(field):
        return Problem(shown, line, field, _removed(text), Severity.WARNING)
    return Problem(shown, line, field, "contains a control character, which XML forbids")


def _is_text(field: str) -> bool:
    top, _, rest = field.partition(".")
    return top in _TEXT_FIELDS or ".".join([top, *rest.split(".")[:1]]) in _TEXT_SUBFIELDS


def _one_field_on(keys: list[tuple[int, str]], lines: list[str], line: int) -> bool:
    """Whether `line` (from 1) is surely part of one field alone: it starts one key, or
    holds items of one list, with its brackets closed on it; or it continues the value
    of such a line above (a folded or quoted value). Not several keys on a line ("{title:
    T, id: x}"), nor a flow mapping or list that spans lines, whose next line may hold
    another key's value joined to it by a backslash."""
    here = [field for at, field in keys if at == line]
    if not here:  # a continuation: of the nearest line above that starts something
        above = [at for at, _ in keys if at < line]
        return bool(above) and _one_field_on(keys, lines, max(above))
    text = lines[line - 1]
    named = {field for field in here if not field.rpartition(".")[2].isdigit()}
    lists = {field.rpartition(".")[0] for field in here} - {""}
    return (len(named) <= 1 and len(lists - named) <= 1 and "{" not in text
            and "}" not in text and text.count("[") == text.count("]"))


def _removed(text: str) -> str:
    """The warning for `text`'s characters that XML forbids, which says what became of
    a form feed or a vertical tab: a space, not nothing (see `text.xml_safe`)."""
    spaced = " (a form feed or vertical tab became a space)" if "\f" in text or "\v" in text \
        else ""
    return f"control characters that XML forbids were removed{spaced}"


def _repeated(split: FrontMatter, shown: Path) -> list[Problem]:
    """A warning for each key given twice: YAML keeps the last, as Jekyll and Hugo do,
    and the first is lost without a word."""
    offset = split.yaml_first_line - 1
    return [Problem(shown, line + offset, key, f"given twice (lines {first + offset} and "
                    f"{line + offset}): the last is used", Severity.WARNING)
            for key, first, line in yamltext.repeated_keys(split.yaml)]


def _key_lines(yaml_text: str) -> list[tuple[int, str]]:
    """Each key's line and its field ("image.alt"), in line order; read again, but only
    for a header that held control characters."""
    try:
        located = yamltext.key_lines(yaml_text)
    except (yamltext.YamlSyntaxError, RecursionError):
        return []
    return sorted((line, ".".join(path)) for path, line in located.items())


def _field_at(keys: list[tuple[int, str]], line: int) -> str | None:
    """The field that `line` is part of: the nearest key at or above it."""
    at = bisect.bisect_right(keys, (line, "\uffff")) - 1
    return keys[at][1] if at >= 0 else None


def _load(split: FrontMatter, shown: Path) -> dict[str, Any] | Problem:
    """The front matter as a mapping, or the problem that keeps it from being one."""
    if split.pelican:
        data: Any = json.loads(split.yaml)
    elif split.toml:
        try:
            data = tomllib.loads(split.yaml)
        except tomllib.TOMLDecodeError as exc:
            line = getattr(exc, "lineno", None)
            return Problem(shown, line + 1 if line else None, None, f"TOML: {exc}")
        except RecursionError:
            return Problem(shown, None, None, "TOML: nested too deeply")
        except ValueError:  # Python's limit on the digits of an int, which tomllib reads
            return Problem(shown, None, None, _TOML_LONG_NUMBER)
        refused = _beyond_yamls_limits(data)
        if refused is not None:
            return Problem(shown, None, None, refused)
    else:
        try:
            data = yamltext.load(split.yaml)
        except yamltext.YamlSyntaxError as exc:
            where = exc.line + split.yaml_first_line - 1 if exc.line else None
            return Problem(shown, where, None, str(exc))
    if not isinstance(data, dict):
        return Problem(shown, 1, None, "front matter must be a mapping of fields")
    return data


_TOML_LONG_NUMBER = f"TOML: a number of more than {yamltext.LONGEST_NUMBER} digits"


def _beyond_yamls_limits(value: Any) -> str | None:
    """Why TOML front matter is refused where YAML's would be: nested more than
    `yamltext.DEEPEST` deep (every reader recurses), or holding an int of more than
    `yamltext.LONGEST_NUMBER` digits (no message could even show one). Found without
    recursing: that is what the first guards against."""
    long_number = False
    waiting = [(value, 0)]
    while waiting:
        item, depth = waiting.pop()
        if depth > yamltext.DEEPEST:
            return f"TOML: nested more than {yamltext.DEEPEST} levels deep"
        if isinstance(item, dict):
            waiting.extend((inner, depth + 1) for inner in item.values())
        elif isinstance(item, list):
            waiting.extend((inner, depth + 1) for inner in item)
        elif isinstance(item, int) and abs(item) >= 10 ** yamltext.LONGEST_NUMBER:
            long_number = True
    return _TOML_LONG_NUMBER if long_number else None


def read_body(post: Post) -> str:
    """The Markdown body of `post`, read again from its file, without the characters XML
    forbids (see `text.xml_safe`; found quicker in the file's bytes than in its text).

    Raises `FeedpressError` if the file changed since it was parsed: its
    body and its front matter must come from one version of the file.
    """
    try:
        _, data = read_capped(post.path)
    except OSError as exc:
        raise FeedpressError(f"{relative(post.path)}: cannot read: {exc.strerror}") from None
    if hashlib.sha256(data).hexdigest() != post.digest:
        raise FeedpressError(f"{relative(post.path)}: changed during the build; build again")
    split = split_front_matter(lf_lines(decode(data)))
    assert not isinstance(split, str), "parsed before, so it splits"
    return split.body if utf8_xml_safe(data) else xml_safe(split.body)


def split_front_matter(text: str) -> FrontMatter | str:
    """Split a post's text at its `---` fences (YAML) or `+++` fences (TOML), or say why
    it cannot be."""
    if not text or text.isspace():
        return "empty file: a post starts with front matter between --- lines"
    first, _, rest = text.partition("\n")
    opener = first.rstrip()
    if opener not in ("---", "+++") and (pelican := imported.pelican_header(text)):
        data, body, body_line, where = pelican
        return FrontMatter(json.dumps(data, ensure_ascii=False), body, 1, pelican=True,
                           body_line=body_line, key_lines=tuple(where.items()))
    if opener == "+++":
        end = _TOML_FENCE.search(rest)
        if end is None:
            return "TOML front matter is not closed by a line '+++'"
        return FrontMatter(rest[: end.start()], rest[end.end():].removeprefix("\n"), 2,
                           toml=True)
    if opener != "---":
        if opener.startswith(("---", "+++", ";;;", "{")):
            return (f"front matter opened with {opener[:20]!r}, which feedpress does not read: "
                    "use YAML between '---' lines or TOML between '+++' lines")
        return "no front matter: the file must start with a line '---'"
    fence = _FENCE.match(rest) or _LATER_FENCE.search(rest)
    if fence is None:
        return "front matter is not closed by a line '---'"
    body = rest[fence.end():].removeprefix("\n")
    return FrontMatter(rest[: fence.start(1)], body, 2)


class _PostFields:
    """The reading of one post's front matter into the values of a `Post`."""

    def __init__(self, shown: Path, front: FrontMatter, data: dict[str, object], config: Config):
        self.config = config
        self.problems: list[Problem] = []
        # YAML refuses control characters in its text: only an escape in a
        # double-quoted string ("\x01") can put one in a value.
        self.escapes = "\\" in front.yaml
        self.tz = ZoneInfo(config.site.timezone)
        lines: dict[tuple[str, ...], int] | None = None
        offset = front.yaml_first_line - 1

        def locate(key: tuple[str, ...]) -> int | None:
            nonlocal lines
            if not key:
                return 1
            if lines is None:
                lines = ({(key,): line for key, line in front.key_lines} if front.pelican
                         else {} if front.toml else yamltext.key_lines(front.yaml))
            line = lines.get(key)
            return None if line is None else line + offset

        self.fields = Fields(
            data, path=shown, prefix=(), locate=locate, problems=self.problems
        )

    def time(self, key: str, *, required: bool = False) -> datetime | None:
        value = self.fields.text(key, required=required)
        if value is None:
            return None
        try:
            moment = parse_time(value, self.tz)
        except (ValueError, OverflowError) as exc:
            why = "" if "isoformat" in str(exc) else f" ({exc})"  # not Python's own words
            self.fields.problem(key, f"{value!r} is not a valid date{why}; "
                                "use ISO 8601, e.g. 2024-05-01 or 2024-05-01T09:30:00+02:00")
            return None
        year = value.strip()[:4]
        written = int(year) if year.isdigit() else moment.year
        if not FIRST_YEAR <= min(moment.year, written) <= max(moment.year, written) \
                <= LAST_YEAR:  # as written, and in UTC: then in any zone, no overflow
            self.fields.problem(key, f"{value!r} is out of range: a post's date must be in "
                                f"the years {FIRST_YEAR} to {LAST_YEAR}")
            return None
        return moment

    def refuse_controls(self, key: str, value: str | None) -> None:
        """An error for a control character in an identifier, which cannot be dropped
        as `clean` drops it from text: the id or URL would silently change."""
        if value is not None and self.escapes and has_xml_forbidden(value):
            self.fields.problem(key, "contains a control character, which XML forbids")

    def clean(self, key: str, value: str | None, within: Fields | None = None) -> str | None:
        """`value`, of `key` in the front matter or in its section `within`, without the
        characters XML forbids (with a warning at its line)."""
        if value is None or not self.escapes or not has_xml_forbidden(value):
            return value
        (within or self.fields).problem(key, _removed(value), Severity.WARNING)
        return " ".join(xml_safe(value).split())  # a soft line break leaves one space


def _build(
    shown: Path, source: Source, front: FrontMatter, data: dict[str, object], config: Config,
    notes: list[tuple[str, str]], clean: bool,
) -> tuple[Post | None, list[Problem]]:
    named = imported.from_file_name(source.relpath.stem)
    if named is not None:  # Jekyll's way: the date, and the title, from the file's name
        data = {"date": named[0], **({} if "title" in data else {"title": named[1]}),
                **data}
    r = _PostFields(shown, front, data, config)
    f = r.fields
    for key, note in notes:  # located where the file says it, under its own name
        r.problems.append(Problem(shown, f.locate(tuple(key.split("."))) or 1, key, note,
                                  Severity.WARNING))
    title = r.clean("title", f.text("title", required=True))
    date = r.time("date", required=True)
    updated = r.time("updated")
    if date and updated and updated < date:
        f.problem("updated", "is earlier than date")
    blog = _blog(f, source, config)
    slug = _slug(f, source)
    authors = _authors(f, config, r)
    tags = _tags(f, r)
    image = _image(f, r, config)
    summary = r.clean("summary", f.text("summary"))
    lang = f.language("lang")
    post_id = f.text("id")
    if data.get("id", "") is None or (post_id is not None and not post_id.strip()):
        f.problem("id", "is empty; remove the line or give the post's permanent id")
    elif post_id is not None and not _URI.match(post_id):
        f.problem("id", f"must be a URI such as tag:example.org,2024-05-01:blog/slug, "
                  f"not {post_id!r}")
    url = f.text("url")
    if url is not None and not _web_url(config.site.url, url):
        f.problem("url", f"must be an http(s) URL or a path on the site, not {url!r}")
    r.refuse_controls("id", post_id)
    r.refuse_controls("url", url)
    breaking = f.flag("breaking", False)
    draft = f.flag("draft", False)
    f.finish(Severity.WARNING)
    # As published: another tool's syntax may hide one ("&{% raw %}{% endraw %}#1;"). The
    # import keeps every line on its line, so a line in it is the body's.
    published = imported.markdown(front.body) if "&" in front.body else ""
    reference = next((found for found in _REFERENCE.finditer(published)
                      if _xml_forbids(found)), None) if has_char_reference(published) else None
    if reference is not None:
        line = _body_line(front) + published.count("\n", 0, reference.start())
        r.problems.append(Problem(shown, line, "body", f"{reference[0]} names a character "
                                  "that XML forbids; it is not published", Severity.WARNING))
    at = None if clean else first_xml_forbidden(front.body, decoded=True)
    if at is not None:
        r.problems.append(Problem(shown, _line_in_body(front, at), "body",
                                  _removed(front.body), Severity.WARNING))
    r.problems.extend(_templates(shown, front))
    deep = markup.nesting(front.body)
    if deep > markup.MOST_NESTED:
        r.problems.append(Problem(shown, _body_line(front), "body", f"nests {deep:,} levels "
                                  f"deep (quotes or HTML elements); at most "
                                  f"{markup.MOST_NESTED} are allowed"))
    # An upper bound: "[^" in code counts too. A lone "^" is looked for first (see lf_lines).
    marks = front.body.count("[^") if "^" in front.body else 0
    if marks > markup.MOST_FOOTNOTE_REFERENCES:
        r.problems.append(Problem(shown, _body_line(front), "body", f"holds {marks:,} "
                                  f"footnote marks ([^…], references and notes); at most "
                                  f"{markup.MOST_FOOTNOTE_REFERENCES:,} are allowed"))
    if any(p.is_error for p in r.problems):
        return None, r.problems
    assert title and date and blog and slug
    blog_conf = config.blog(blog)
    assert blog_conf is not None
    link = _link(url, config, blog, blog_conf.url, slug, date.astimezone(r.tz))
    post = Post(
        path=source.path,
        blog=blog,
        slug=slug,
        id=post_id or default_id(config, blog, slug, date),
        id_pinned=post_id is not None,
        title=" ".join(title.split()),  # one line: a CR or LF never reaches a feed or header
        url=link,
        date=date,
        updated=updated,
        authors=authors or blog_conf.authors,
        tags=tags,
        breaking=breaking,
        summary=summary.strip() if summary else None,
        image=_absolute_image(image, link, config.site.root),
        lang=lang or blog_conf.language,
        draft=draft,
        digest=hashlib.sha256(source.data).hexdigest(),
    )
    return post, r.problems


# A numeric character reference, which Markdown turns into the character it names.
_REFERENCE = re.compile(r"&#(?:[xX]0*([0-9A-Fa-f]{1,6})|0*([0-9]{1,7}));")


def _xml_forbids(reference: re.Match[str]) -> bool:
    """Whether the character a reference names is one XML forbids (not NUL, which
    Markdown turns into U+FFFD, nor a number past Unicode's, which it turns into that)."""
    code = int(reference[1], 16) if reference[1] else int(reference[2])
    return 0 < code <= 0x10FFFF and has_xml_forbidden(chr(code))


def _templates(shown: Path, front: FrontMatter) -> list[Problem]:
    """Another tool's template syntax in the body: a warning where it is published as
    written, an error where it sits in a URL (the link would go nowhere)."""
    first = _body_line(front)
    problems = []
    for line, text, in_url in imported.templates(front.body):
        if in_url:
            problems.append(Problem(shown, first + line - 1, "body", f"{text!r} is another "
                                    "tool's template syntax in a URL, which would go "
                                    "nowhere: write the URL out"))
        else:
            problems.append(Problem(shown, first + line - 1, "body", "another tool's "
                                    "template syntax is published as written",
                                    Severity.WARNING))
    return problems


def _body_line(front: FrontMatter) -> int:
    return front.body_line or front.yaml_first_line + front.yaml.count("\n") + 1


def _line_in_body(front: FrontMatter, at: int) -> int:
    """The file's line of the body's character `at`."""
    return _body_line(front) + front.body.count("\n", 0, at)


def locate(path: Path, field: str) -> int | None:
    """The line of `field` in a post's front matter, else of its closing `---`.

    For problems found after parsing (clashes between posts, unpinned ids):
    it reads the file again, which only the error path pays for.
    """
    try:
        text = lf_lines(decode(path.read_bytes()))
    except (OSError, UnicodeDecodeError):
        return None
    split = split_front_matter(text)
    if isinstance(split, str):
        return None
    line = yamltext.key_lines(split.yaml).get((field,))
    if line is not None:
        return line + split.yaml_first_line - 1
    return split.yaml.count("\n") + split.yaml_first_line


def located(problem: Problem) -> Problem:
    """`problem` with its line, where it names a field of a post but no line yet."""
    if problem.line is not None or problem.field is None:
        return problem
    line = locate(problem.path, problem.field)
    return Problem(problem.path, line, problem.field, problem.message, problem.severity)


def parse_time(value: str, tz: ZoneInfo) -> datetime:
    """An ISO 8601 date or date-time; without an offset it is read in `tz`. Returns UTC."""
    value = value.strip()
    if _DATE_ONLY.match(value):
        day = datetime.fromisoformat(value)
        return day.replace(tzinfo=tz).astimezone(UTC)
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz)
    return moment.astimezone(UTC)


def default_id(config: Config, blog: str, slug: str, date: datetime) -> str:
    """The RFC 4151 tag URI a post gets until its id is pinned in its file."""
    day = date.astimezone(ZoneInfo(config.site.timezone)).date().isoformat()
    return f"tag:{config.site.domain},{day}:{blog}/{quote(slug, safe='')}"


def _blog(f: Fields, source: Source, config: Config) -> str | None:
    explicit = f.text("blog")
    parts = source.relpath.parts
    blog = explicit or (parts[0] if len(parts) > 1 else None)
    if blog is None:
        f.problem("blog", "the post is in no blog folder; put it in posts/<blog>/ or set blog:")
        return None
    why = unknown_blog(config, blog)
    if why is not None:
        f.problem("blog", why)
        return None
    return blog


def _slug(f: Fields, source: Source) -> str | None:
    explicit = f.text("slug")
    if explicit is not None:
        if not explicit or slugify(explicit) != explicit:
            f.problem("slug", f"{explicit!r} is not a slug; try {slugify(explicit)!r}")
            return None
        return explicit
    name = source.relpath.stem
    if name == "index" and len(source.relpath.parts) > 2:  # a Hugo page bundle: its folder
        name = source.relpath.parent.name
    stem = _LEADING_DATE.sub("", name) or name
    slug = slugify(stem)
    if not slug:
        f.problem("slug", f"the file name {source.relpath.name!r} gives no slug; set slug:")
        return None
    return slug


def _authors(f: Fields, config: Config, r: _PostFields) -> tuple[Author, ...] | None:
    one = f.text_list("author")
    many = f.text_list("authors")
    if one is not None and many is not None:
        f.problem("authors", "give author or authors, not both")
        return None
    key = "author" if one is not None else "authors"
    refs = [r.clean(key, ref) or "" for ref in (one if one is not None else many) or []]
    for ref in refs:
        near = _near_author(ref.strip(), config.authors)
        if near is not None:
            f.problem(key, f"{ref.strip()!r} is not a key of the config's authors (did you "
                      f"mean {near!r}?); it is published as a name", Severity.WARNING)
    return author_refs(refs, config.authors) if refs else None


def _near_author(ref: str, authors: dict[str, Author]) -> str | None:
    """The config's author key that `ref`, one word that is none of them, looks like a
    typo of; None for a name of several words (a byline, not a key) or a key."""
    if ref in authors or not ref or len(ref.split()) > 1:
        return None
    near = difflib.get_close_matches(ref, authors, n=1, cutoff=0.75)
    return near[0] if near else None


def _tags(f: Fields, r: _PostFields) -> tuple[Tag, ...]:
    lone = f.data.get("tags")
    if isinstance(lone, str) and "," in lone:
        f.get("tags", str, "")
        f.problem("tags", f"{lone!r} is one string; write a list: "
                  f"[{', '.join(t.strip() for t in lone.split(',') if t.strip())}]")
        return ()
    names = f.text_list("tags")  # a lone string is one tag
    tags: dict[str, Tag] = {}
    for name in (r.clean("tags", n) or "" for n in names or []):
        slug = slugify(name)
        if not slug:
            f.problem("tags", f"tag {name!r} has no letters or digits to make a feed URL from")
        else:
            tags.setdefault(slug, Tag(slug, " ".join(name.split())))
    return tuple(tags.values())


def _image(f: Fields, r: _PostFields, config: Config) -> Image | None:
    section = f.section("image")
    if section is None:
        return None
    url = section.text("url", required=True)
    alt = r.clean("alt", section.text("alt"), section)
    caption = r.clean("caption", section.text("caption"), section)
    section.finish(Severity.WARNING)
    if not url:
        return None
    if not _web_url(config.site.url, url):
        section.problem("url", f"must be an http(s) URL or a path on the site, not {url!r}")
        return None
    if has_xml_forbidden(url):
        section.problem("url", "contains a control character, which XML forbids")
        return None
    if alt is None:
        gets = "the caption" if caption else "nothing"
        section.problem("alt", f"is missing; readers who cannot see the image get {gets}",
                        Severity.WARNING)
    return Image(url.strip(), (alt if alt is not None else caption or "").strip(),
                 caption.strip() if caption else None)


def _web_url(site_url: str, url: str) -> bool:
    """Whether `url`, from a post, is a web address: http(s), or a path on the site. Any
    other scheme (javascript:, data:, file:) could run or read something in a reader."""
    if "{{" in url or "{%" in url:  # another tool's template: a link to nowhere
        return False
    url = url.strip()
    if is_plain_root_path(url):  # the usual image: a path on the site, whose URL is http(s)
        return True
    try:
        parts = urlsplit(urljoin(site_url, url))
        return parts.scheme in ("http", "https") and _web_host(parts)
    except ValueError:  # a port that is no number, "http://[": no URL at all
        return False


def _web_host(parts: SplitResult) -> bool:
    """Whether the URL's host and port are ones a browser (and the sanitiser, which takes a
    post's URL as the base of its links) would take: a port that is a number, and a host
    name without spaces, zone ids or labels DNS refuses."""
    parts.port  # noqa: B018 -- raises ValueError for "example.org:abc"
    host = parts.hostname or ""
    if not host or "%" in host or any(character.isspace() for character in host):
        return False
    try:
        host.encode("idna")
    except UnicodeError:  # an empty label, or one over 63 characters
        return False
    return True


def _link(url: str | None, config: Config, blog: str, blog_url: str, slug: str,
          local: datetime) -> str:
    if url:
        return as_uri(urljoin(config.site.url, url.strip()))
    return config.site.permalink.format(
        site_url=config.site.url,
        blog_url=blog_url,
        blog=blog,
        slug=quote(slug, safe=""),
        year=f"{local.year:04d}",
        month=f"{local.month:02d}",
        day=f"{local.day:02d}",
    )


def _absolute_image(image: Image | None, base: str, root: str) -> Image | None:
    """The image with its URL absolute: against the post's link, and a "/path" under
    `root` (see `Site.root`)."""
    if image is None:
        return None
    url = image.url
    if root != "/" and url.startswith("/") and not url.startswith("//"):
        url = root + url[1:]
    return Image(as_uri(absolute_url(base, url)), image.alt, image.caption)


def as_uri(url: str) -> str:
    """`url` as a URI: each character a URI may not hold (a space, a quote, `<`, a bidi
    control, any non-ASCII letter) written as %XX of its UTF-8, as a browser sends it, and
    a "%" that starts no such escape as "%25". Feeds, and JSON Feed's schema, want URIs;
    a post's front matter may give anything."""
    if _URI_CHARS.fullmatch(url) and not _LONE_PERCENT.search(url):
        return url
    return quote(_LONE_PERCENT.sub("%25", url), safe=_URI_SAFE)


_URI_SAFE = "!#$%&'()*+,/:;=?@[]~"  # with letters, digits and -._, what RFC 3986 allows as is
_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~!#$%&'()*+,/:;=?@\[\]]*")
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def absolute_url(base: str, url: str) -> str:
    """`urljoin(base, url)`, without most of its cost for the usual image URL.

    A plain path from the root (no dot segment, query, fragment, parameters
    or character that a URL parser would drop) takes only the scheme and
    host of an http(s) base, as `urljoin` would.
    """
    if is_plain_root_path(url) and (origin := _ORIGIN.match(base)):
        return origin[0] + url
    return urljoin(base, url)


def _inside(path: str, real_root: Path) -> bool:
    return Path(os.path.realpath(path)).is_relative_to(real_root)


@lru_cache(maxsize=8)
def _real_root(posts_dir: Path) -> str:
    return os.path.realpath(posts_dir)


def _opened_under(fd: int, real_root: str) -> bool:
    """Whether the file open as `fd` is under `real_root`, by where the kernel says it
    opened it (Linux's /proc), whatever links the path went through; where there is no
    /proc, by the check `discover` made."""
    try:
        where = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return True
    return where.startswith(real_root.rstrip(os.sep) + os.sep)


def _special(config: Config, path: Path) -> Problem:
    return Problem(_show(config, path), None, "path",
                   "is not a regular file (a pipe, socket or device); not read")


def _outside(config: Config, path: Path) -> Problem:
    return Problem(_show(config, path), None, None,
                   "is a symbolic link to outside the posts folder; it was not read")


def _show(config: Config, path: Path) -> Path:
    """Problems carry absolute paths; the CLI shows them relative to where it runs."""
    return path.absolute()
