"""YAML reading shared by the config and the post loader.

Timestamps are left as strings (feedpress parses dates itself, in the
site's timezone, and reports impossible dates as errors rather than letting
PyYAML raise). The C loader is used when PyYAML has it: it is about ten
times faster, which matters with thousands of posts.
"""

from __future__ import annotations

import re
from collections import deque
from functools import lru_cache
from typing import Any, NamedTuple

import yaml
from yaml.constructor import SafeConstructor

_Base: type[yaml.SafeLoader]
try:
    _Base = yaml.CSafeLoader  # type: ignore[assignment]
except AttributeError:  # PyYAML built without libyaml
    _Base = yaml.SafeLoader


class _Loader(_Base):  # type: ignore[valid-type, misc]
    pass


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class YamlSyntaxError(Exception):
    """YAML that does not parse; `line` is 1-based within the given text."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


def load(text: str) -> Any:
    """Parse one YAML document, raising `YamlSyntaxError` on bad syntax."""
    quick = _quick_load(text)
    if quick is not None:
        return dict(quick)  # the remembered reading stays as it was read
    try:
        return _pyyaml(text)
    except yaml.reader.ReaderError as exc:
        at = text.count("\n", 0, exc.position) + 1
        char = exc.character
        what = f"U+{ord(char):04X}" if isinstance(char, str) else f"U+{char:04X}"
        raise YamlSyntaxError(f"invalid YAML: the character {what} is not allowed", at) from None
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"invalid YAML: {exc}", None) from None


def _syntax_error(exc: yaml.MarkedYAMLError) -> YamlSyntaxError:
    """PyYAML's error at the line to fix: for a quote or bracket never closed, the line it
    opens on, not the end of the text where PyYAML noticed."""
    problem = exc.problem or str(exc)
    opened, found = exc.context_mark, exc.problem_mark
    if (opened is not None and found is not None and opened.line < found.line
            and (exc.context or "").startswith(_UNCLOSED)):
        return YamlSyntaxError(f"invalid YAML: {problem} {exc.context} opened on this line",
                               opened.line + 1)
    mark = found or opened
    return YamlSyntaxError(f"invalid YAML: {problem}", mark.line + 1 if mark else None)


_UNCLOSED = ("while scanning a quoted scalar", "while parsing a flow")


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Map each mapping key path, like ("site", "url"), to its 1-based line.

    Called when there is a problem to locate, after `load`, whose reading
    is used again: the quick reader's lines, or the tree PyYAML composed.
    Parsing again would cost as much as the first reading (a newsroom whose
    every post lacks a field would pay it on every post).
    """
    quick = _quick_lines(text)
    if quick is not None:
        return quick
    composed = _COMPOSED.get(text)
    if composed is not None:
        root = composed.root
    else:  # not read by `load` lately
        try:
            root = yaml.compose(text, Loader=_Loader)
        except yaml.YAMLError:
            return {}
    lines: dict[tuple[str, ...], int] = {}
    _walk(root, (), lines)
    return lines


class _Composed(NamedTuple):
    """What `load` keeps of a document PyYAML read: the tree it composed (for `key_lines`)
    and the keys given twice, found before constructing merged `<<` keys into the tree."""

    root: Any
    repeats: tuple[tuple[str, int, int], ...]


# The last few documents `load` left to PyYAML.
_COMPOSED: dict[str, _Composed] = {}
_COMPOSED_KEPT = 64


def _pyyaml(text: str) -> Any:
    """`yaml.load`, in its two steps, so that the composed tree can be kept."""
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            _expanded(root, 0, {})
        repeats = _repeats(root)  # before constructing, which merges `<<` keys in place
        try:
            data = None if root is None else loader.construct_document(root)
        except _UNMAKEABLE:  # a tag its value does not fit: "!!int abc", "!!bool maybe"
            raise YamlSyntaxError("invalid YAML: a value its type cannot hold (such as "
                                  "!!int abc)", _unmakeable_line(loader, root)) from None
    finally:
        loader.dispose()
    if len(_COMPOSED) >= _COMPOSED_KEPT:
        del _COMPOSED[next(iter(_COMPOSED))]  # the oldest
    _COMPOSED[text] = _Composed(root, repeats)
    return data


# What a document may hold, counted with its aliases expanded: a 500-byte document whose
# aliases nest ten lists of ten (a "billion laughs") is a billion values to whoever walks
# it, and a document nested a thousand deep overflows any recursive reader's stack.
_MOST_VALUES = 10_000
DEEPEST = 50  # also what the post loader allows TOML front matter


# What PyYAML's constructors raise for a value its tag cannot make: the tag's own
# conversion failing (int("abc"), a day past the month's end, Python's limit on the digits
# of an int), a lookup of the value finding nothing ("!!bool maybe"), or an empty one
# ("!!int" alone).
_UNMAKEABLE = (ValueError, KeyError, IndexError, AttributeError, TypeError, OverflowError)
LONGEST_NUMBER = 100  # digits: far more than any field takes, far fewer than Python refuses


def _unmakeable_line(loader: _Loader, root: yaml.Node) -> int | None:
    """The line of the first value in `root` that its tag's constructor refuses."""
    waiting, seen = [root], set()
    while waiting:
        node = waiting.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.ScalarNode):
            make = loader.yaml_constructors.get(node.tag)
            try:
                if make is not None:
                    make(loader, node)
            except _UNMAKEABLE:
                return int(node.start_mark.line) + 1
        elif isinstance(node, yaml.SequenceNode):
            waiting.extend(reversed(node.value))
        elif isinstance(node, yaml.MappingNode):
            waiting.extend(part for pair in reversed(node.value) for part in reversed(pair))
    return None


def _expanded(node: yaml.Node, depth: int, sizes: dict[int, int]) -> int:
    """How many values `node` holds with its aliases expanded; raises `YamlSyntaxError`
    past `_MOST_VALUES`, past `DEEPEST` levels, for a value that holds itself, or for a
    number longer than `LONGEST_NUMBER` (Python refuses to read or write one of 4,300)."""
    line = node.start_mark.line + 1
    if depth > DEEPEST:
        raise YamlSyntaxError(f"invalid YAML: nested more than {DEEPEST} levels deep", line)
    if isinstance(node, yaml.ScalarNode) and node.tag in (_INT, _FLOAT) \
            and len(node.value) > LONGEST_NUMBER:
        raise YamlSyntaxError(f"invalid YAML: a number of more than {LONGEST_NUMBER} "
                              "digits", line)
    known = sizes.get(id(node))
    if known == -1:
        raise YamlSyntaxError("invalid YAML: an alias makes a value hold itself", line)
    if known is not None:
        return known
    sizes[id(node)] = -1  # being counted
    children: list[yaml.Node] = (
        node.value if isinstance(node, yaml.SequenceNode)
        else [part for pair in node.value for part in pair]
        if isinstance(node, yaml.MappingNode) else [])
    total = 1 + sum(_expanded(child, depth + 1, sizes) for child in children)
    if total > _MOST_VALUES:
        raise YamlSyntaxError(f"invalid YAML: more than {_MOST_VALUES:,} values with its "
                              "aliases (*name) expanded", line)
    sizes[id(node)] = total
    return total


def repeated_keys(text: str) -> list[tuple[str, int, int]]:
    """Each key given twice in one mapping of `text`, which `load` read: its path
    ("image.url"), the line of its first and of its last giving (PyYAML keeps the last).

    Found by `load` in the tree PyYAML composed, before merge keys (`<<`) were
    merged into it; the quick reader leaves any such text to PyYAML.
    """
    composed = _COMPOSED.get(text)
    return [] if composed is None else list(composed.repeats)


def _repeats(root: yaml.Node | None) -> tuple[tuple[str, int, int], ...]:
    """`repeated_keys` of a composed tree: keys alike in tag and value, each mapping once
    however many aliases name it."""
    found: list[tuple[str, int, int]] = []
    seen: set[int] = set()
    waiting = deque([(root, "")])  # in the document's order: an anchor before its aliases
    while waiting:
        node, path = waiting.popleft()
        if not isinstance(node, yaml.CollectionNode) or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.SequenceNode):
            waiting.extend((item, f"{path}{index}.") for index, item in enumerate(node.value))
            continue
        first: dict[tuple[str, str], int] = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == _MERGE:
                continue
            line = key.start_mark.line + 1
            if (key.tag, key.value) in first:
                found.append((f"{path}{key.value}", first[key.tag, key.value], line))
            first.setdefault((key.tag, key.value), line)
            waiting.append((value, f"{path}{key.value}."))
    return tuple(sorted(found, key=lambda repeat: repeat[2]))


_MERGE = "tag:yaml.org,2002:merge"


def _walk(node: yaml.Node | None, path: tuple[str, ...], out: dict[tuple[str, ...], int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*path, str(key.value))
            out[sub] = key.start_mark.line + 1  # of a key given twice, the one YAML keeps
            _walk(value, sub, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            sub = (*path, str(index))
            out.setdefault(sub, item.start_mark.line + 1)
            _walk(item, sub, out)


# Front matter is mostly `key: value` lines. PyYAML spends about half a post's
# parsing time on them (each event and node is a Python object), so a reader
# for that plain subset takes them first: lines of `key: value` or `key:` over
# an indented block of the same, values quoted without escapes, plain without
# anything YAML would read specially, or flow lists of either. Anything else,
# however valid, is left to PyYAML, as is any doubt: a plain value that YAML
# would read as a number, a blank line, a comment, a tab, a repeated key.
# tests/test_yamltext.py holds the two to the same result on generated input.
_NOT = object()  # what the quick reader returns for what it leaves to PyYAML
# What PyYAML refuses, and also tabs, carriage returns, byte order marks and the line
# breaks YAML 1.1 adds to ASCII's (U+0085, U+2028, U+2029): all are left to PyYAML.
# (PyYAML's own pattern is reused: compiling one like it costs 8 ms at every start.)
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE
_AWKWARD = ("\t", "\r", "\x85", "\u2028", "\u2029", "\ufeff")
_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_-]*):(?: (.*))?")
_ITEM = re.compile(r"- (.*)")
_DOUBLE = re.compile(r'"([^"\\]*)"')
_SINGLE = re.compile(r"'([^']*)'")
_PLAIN = re.compile(r"[A-Za-z0-9/][^#\[\]{}]*")
_FLOW_ITEM = re.compile(r' *(?:"([^"\\]*)"|\'([^\']*)\'|([A-Za-z0-9/][^#,:\[\]{}"\']*?)) *([,\]])')
_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"
_NULL = "tag:yaml.org,2002:null"


class _Reading(NamedTuple):
    """What the quick reader read: the mapping, and the line of each key and item."""

    data: dict[str, Any]
    lines: dict[tuple[str, ...], int]


def _quick_load(text: str) -> dict[str, Any] | None:
    """`text` read as PyYAML reads it, if it is in the plain subset; else None."""
    reading = _quick_read(text)
    return None if reading is None else reading.data


def _quick_lines(text: str) -> dict[tuple[str, ...], int] | None:
    """`key_lines` for text the quick reader reads, as it noted them; None for other text."""
    reading = _quick_read(text)
    return None if reading is None else dict(reading.lines)


@lru_cache(maxsize=64)
def _quick_read(text: str) -> _Reading | None:
    """`text` read as PyYAML reads it, with each key's line noted on the way, if it is
    in the plain subset; else None.

    Remembered for a few documents: a post with a warning is read, then located
    (`key_lines`), and locating must not cost a second reading.
    """
    if _NON_PRINTABLE.search(text) or any(char in text for char in _AWKWARD):
        return None
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    found: dict[str, Any] = {}
    where: dict[tuple[str, ...], int] = {}
    at = 0
    while at < len(lines):
        key, value, at = _entry(lines, at, (), where)
        if key is None or key in found or value is _NOT:
            return None
        found[key] = value
    return _Reading(found, where) if found else None


def _entry(lines: list[str], at: int, parent: tuple[str, ...],
           where: dict[tuple[str, ...], int], indent: int = 0) -> tuple[str | None, Any, int]:
    """The `key: value` at line `at` (a value over the lines below it when there is
    none after the colon), and the line after it; `where` notes the lines of the key
    (under `parent`) and of what is in its value."""
    match = _KEY.fullmatch(lines[at], indent)
    if match is None or _plain(match[1]) != match[1]:
        return None, _NOT, at
    path = (*parent, match[1])
    where[path] = at + 1
    if match[2] is not None:
        return match[1], _noted(_value(match[2]), path, at + 1, where), at + 1
    if parent:  # a block within a block: left to PyYAML
        return None, _NOT, at
    block, after = _block(lines, at + 1, path, where)
    return match[1], block, after


def _noted(value: Any, path: tuple[str, ...], line: int,
           where: dict[tuple[str, ...], int]) -> Any:
    """`value`, a flow list's items noted as on `line`, the line of its key or dash."""
    if isinstance(value, list):
        where.update({(*path, str(i)): line for i in range(len(value))})
    return value


def _block(lines: list[str], at: int, path: tuple[str, ...],
           where: dict[tuple[str, ...], int]) -> tuple[Any, int]:
    """The indented lines from `at`: all `key: value` or all `- value`, one indent."""
    first = lines[at] if at < len(lines) else ""
    indent = first[: len(first) - len(first.lstrip(" "))]
    if not indent:
        return _NOT, at
    end = at
    while end < len(lines) and lines[end].startswith(indent) and lines[end][len(indent):][:1] \
            not in ("", " "):
        end += 1
    if end < len(lines) and lines[end].startswith(" "):
        return _NOT, at  # deeper or shallower, but still indented
    if first.startswith("- ", len(indent)):
        items = [_ITEM.fullmatch(line, len(indent)) for line in lines[at:end]]
        values = [_NOT if m is None else _noted(_value(m[1]), (*path, str(i)), at + i + 1,
                                                 where)
                  for i, m in enumerate(items)]
        where.update({(*path, str(i)): at + i + 1 for i in range(len(values))})
        return (_NOT if _NOT in values else values), end
    mapping: dict[str, Any] = {}
    for number in range(at, end):
        key, value, _ = _entry(lines, number, path, where, len(indent))
        if key is None or key in mapping:
            return _NOT, end
        mapping[key] = value
    return (_NOT if _NOT in mapping.values() else mapping), end


def _value(text: str) -> Any:
    """A value after `key: ` or `- `: quoted, plain, or a flow list."""
    first = text[:1]
    if first == '"':
        match = _DOUBLE.fullmatch(text)
    elif first == "'":
        match = _SINGLE.fullmatch(text)
    elif first == "[":
        return _flow(text)
    elif _PLAIN.fullmatch(text) and ": " not in text and text[-1] not in ": ":
        return _plain(text)
    else:
        return _NOT
    return _NOT if match is None else match[1]


def _flow(text: str) -> Any:
    if text == "[]":
        return []
    items: list[Any] = []
    at = 1
    while True:
        match = _FLOW_ITEM.match(text, at)
        if match is None:
            return _NOT
        double, single, plain, end = match.groups()
        items.append(double if double is not None else single if single is not None
                     else _plain(plain))
        at = match.end()
        if end == "]":
            return items if at == len(text) and _NOT not in items else _NOT


def _plain(text: str) -> Any:
    """A plain scalar as PyYAML resolves it: text, or true/false/null; else `_NOT`."""
    for tag, pattern in _Loader.yaml_implicit_resolvers.get(text[0], ()):
        if pattern.match(text):
            if tag == _BOOL:
                return SafeConstructor.bool_values[text.lower()]
            return None if tag == _NULL else _NOT
    return text
