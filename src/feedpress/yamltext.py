"""YAML reading shared by the config and the post loader.

Timestamps are left as strings (feedpress parses dates itself, in the
site's timezone, and reports impossible dates as errors rather than letting
PyYAML raise). The C loader is used when PyYAML has it: it is about ten
times faster, which matters with thousands of posts.
"""

from __future__ import annotations

from typing import Any

import yaml

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
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.reader.ReaderError as exc:
        at = text.count("\n", 0, exc.position) + 1
        char = exc.character
        what = f"U+{ord(char):04X}" if isinstance(char, str) else f"U+{char:04X}"
        raise YamlSyntaxError(f"invalid YAML: the character {what} is not allowed", at) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or str(exc)
        raise YamlSyntaxError(f"invalid YAML: {problem}", line) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"invalid YAML: {exc}", None) from None


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Map each mapping key path, like ("site", "url"), to its 1-based line.

    Only called when there is an error to locate, so its cost (composing
    the node tree) is paid only on the error path.
    """
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return {}
    lines: dict[tuple[str, ...], int] = {}
    _walk(root, (), lines)
    return lines


def _walk(node: yaml.Node | None, path: tuple[str, ...], out: dict[tuple[str, ...], int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*path, str(key.value))
            out.setdefault(sub, key.start_mark.line + 1)
            _walk(value, sub, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            sub = (*path, str(index))
            out.setdefault(sub, item.start_mark.line + 1)
            _walk(item, sub, out)
