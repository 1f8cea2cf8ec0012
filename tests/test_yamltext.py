"""The quick front-matter reader gives what PyYAML gives, or steps aside.

`yamltext.load` first tries a reader for the plain subset of YAML that
front matter is made of, and leaves everything else to PyYAML. The
reference is PyYAML itself (with the same loader settings): on any input,
the quick reader either declines or returns exactly PyYAML's result, with
the same types (True is not 1, None is not "null").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import ROOT
from feedpress import yamltext
from feedpress.feeds import posts
from feedpress.text import decode

ERROR = object()
GOOD_KEYS = ["title", "date", "tags", "image", "url", "alt", "lang", "a-b", "_x", "Key1"]
ODD_KEYS = ["yes", "No", "on", "OFF", "null", "True", "y", "n", "1a", "a b", "é", "<<", "="]
GOOD = ["T", "A title", "2026-11-25T10:00:00+03:00", "/x.jpg", "http://x/y", "ar", "مدونة عن",
        "it's", "a, b", "say \"hi\" now", "true", "off"]
TRICKY = ["True", "TRUE", "yes", "no", "on", "y", "~", "null", "Null", "", "12:30", "0x1F",
          "0o17", "017", "1_000", "1e3", "1.5", ".inf", "-.inf", ".nan", "-1", "+1", "0",
          "2026-11-25", "2026-11-25 10:00", "a: b", "a:b", "a:", "C#", "x #c", "[a]", "a]", "é",
          " lead", "trail ", "a\tb", "- a", "? a", "%x", "@x", "`x", "!x", "&a", "*a", "|", ">",
          "\\n", "a\\", "<<", "=", "-", "a\u2028b", "a\x85b", "a\ufeffb", "a\rb"]
ALPHABET = st.sampled_from(list("ab Z09:#-\"'\\[]{},/.!&*|>%@`?~\té\u0628\u2028\x85\ufeff"))


@st.composite
def odd(draw: st.DrawFn, good: list[str], tricky: list[str]) -> str:
    """Mostly a good piece, sometimes one to trip on: documents are then mostly
    readable but for one piece, which decides the outcome."""
    if draw(st.integers(0, 7)):
        return draw(st.sampled_from(good))
    return draw(st.one_of(st.sampled_from(tricky), st.text(ALPHABET, max_size=6)))


@st.composite
def values(draw: st.DrawFn) -> str:
    text = draw(odd(GOOD, TRICKY))
    form = draw(st.sampled_from(["plain", "plain", "double", "single", "flow"]))
    if form == "double":
        return f'"{text}"'
    if form == "single":
        return f"'{text}'"
    if form == "flow":
        item = odd(GOOD, TRICKY)
        items = draw(st.lists(st.one_of(item, item.map(lambda s: f'"{s}"')), max_size=3))
        separator = draw(st.sampled_from([", ", ", ", ",", " , "]))
        return "[" + separator.join(items) + "]"
    return text


@st.composite
def entries(draw: st.DrawFn) -> list[str]:
    key = draw(odd(GOOD_KEYS, ODD_KEYS))
    if draw(st.booleans()):
        return [f"{key}: {draw(values())}"]
    indent = draw(st.sampled_from([" ", "  ", "    "]))
    if draw(st.booleans()):
        lines = [f"{indent}- {draw(values())}" for _ in range(draw(st.integers(1, 3)))]
    else:
        lines = [f"{indent}{draw(odd(GOOD_KEYS, ODD_KEYS))}: {draw(values())}"
                 for _ in range(draw(st.integers(1, 3)))]
    stray = draw(odd([""], [" ", "# note", f"{indent} x: 1", "- stray", f"{indent}-", "x"]))
    return [f"{key}:", *lines, *([stray] if stray else [])]


@st.composite
def documents(draw: st.DrawFn) -> str:
    lines = [line for entry in draw(st.lists(entries(), min_size=1, max_size=4)) for line in entry]
    return "\n".join(lines) + draw(st.sampled_from(["\n", ""]))


def typed(value: Any) -> Any:
    if isinstance(value, dict):
        return ("dict", [(typed(k), typed(v)) for k, v in value.items()])
    if isinstance(value, list):
        return ("list", [typed(v) for v in value])
    return (type(value).__name__, value)


def pyyaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=yamltext._Loader)
    except yaml.YAMLError:
        return ERROR


@settings(max_examples=500, derandomize=True, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(documents())
def test_the_quick_reader_agrees_with_pyyaml_or_declines(text: str) -> None:
    quick = yamltext._quick_load(text)
    if quick is not None:
        reference = pyyaml(text)
        assert reference is not ERROR, text
        assert typed(quick) == typed(reference), text
        # and it locates every key where PyYAML's composed tree does, without composing it
        assert yamltext._quick_lines(text) == composed_lines(text), text


def composed_lines(text: str) -> dict[tuple[str, ...], int]:
    lines: dict[tuple[str, ...], int] = {}
    yamltext._walk(yaml.compose(text, Loader=yamltext._Loader), (), lines)
    return lines


PLACES = [
    "title: T\nx: {}\nlang: ar\n",
    "title: T\nimage:\n  url: /i.jpg\n  x: {}\n",
    "tags:\n  - a\n  - {}\nlang: ar\n",
    "tags: [a, {}]\n",
    "tags: [{}, \"b\"]\n",
]


@pytest.mark.parametrize("place", PLACES)
def test_each_tricky_piece_in_each_place_agrees_with_pyyaml_or_is_declined(place: str) -> None:
    pieces = [*GOOD, *TRICKY]
    texts = [place.replace("{}", form.format(piece)) for piece in pieces
             for form in ("{}", '"{}"', "'{}'", "[{}]")]
    texts += [place.replace("x:", f"{key}:") for key in ODD_KEYS if "x:" in place]
    wrong = []
    for text in texts:
        quick = yamltext._quick_load(text)
        if quick is not None and typed(quick) != typed(pyyaml(text)):
            wrong.append(text)
    assert wrong == []
    assert sum(yamltext._quick_load(text) is not None for text in texts) > len(texts) // 4


def front_matters() -> list[tuple[str, str]]:
    found = sorted((ROOT / "posts").rglob("*.md"))
    return [(str(p.relative_to(ROOT)), posts.split_front_matter(decode(p.read_bytes())).yaml)
            for p in found]


@pytest.mark.parametrize(("name", "text"), front_matters())
def test_every_sample_post_takes_the_quick_road_to_pyyamls_result(name: str, text: str) -> None:
    quick = yamltext._quick_load(text)
    assert quick is not None
    assert typed(quick) == typed(pyyaml(text))
    assert yamltext.key_lines(text) == composed_lines(text)


@pytest.mark.parametrize(("text", "expected"), [
    ("title: T\ndraft: true\nbreaking: Off\n", {"title": "T", "draft": True, "breaking": False}),
    ("summary: null\nlang: ar\n", {"summary": None, "lang": "ar"}),
    ('tags: ["a", b c, \'d\']\n', {"tags": ["a", "b c", "d"]}),
    ("image:\n  url: /i.jpg\n  alt: \"An 'alt'\"\n",
     {"image": {"url": "/i.jpg", "alt": "An 'alt'"}}),
    ("tags:\n  - one\n  - \"two\"\n", {"tags": ["one", "two"]}),
    ("date: 2026-11-25T10:00:00+03:00\n", {"date": "2026-11-25T10:00:00+03:00"}),
])
def test_the_quick_reader_reads_plain_front_matter(text: str, expected: Any) -> None:
    assert typed(yamltext._quick_load(text)) == typed(expected)


@pytest.mark.parametrize("text", [
    "count: 12\n", "time: 12:30\n", "title: a # comment\n", "title: \"a\\tb\"\n", "\ntitle: T\n",
    "title: T\ntitle: U\n", "yes: T\n", "tags:\n- a\n", "image:\n  url: x\n    deeper: y\n",
    "title: T\r\n", "title:\tT\n", "title:  T\n", "anchor: &a x\n", "",
])
def test_the_quick_reader_leaves_the_rest_to_pyyaml(text: str) -> None:
    assert yamltext._quick_load(text) is None


def test_load_still_reports_bad_yaml_with_its_line() -> None:
    with pytest.raises(yamltext.YamlSyntaxError) as caught:
        yamltext.load("title: T\ntags: [a, b\n")
    assert caught.value.line is not None


def test_the_quick_reader_handles_the_sample_config_file_or_declines() -> None:
    text = Path(ROOT / "feedpress.yaml").read_text(encoding="utf-8")
    quick = yamltext._quick_load(text)
    assert quick is None or typed(quick) == typed(pyyaml(text))


def test_a_document_pyyaml_read_is_located_from_that_reading(
        monkeypatch: pytest.MonkeyPatch) -> None:
    text = "# a comment: PyYAML's to read\ntitle: |\n  Two\n  lines\nimage:\n  url: /i.jpg\n"
    assert yamltext._quick_load(text) is None
    expected = composed_lines(text)
    assert yamltext.load(text) == {"title": "Two\nlines\n", "image": {"url": "/i.jpg"}}
    composed = []
    monkeypatch.setattr(yaml, "compose", lambda *a, **k: composed.append(a))
    assert yamltext.key_lines(text) == expected == {("title",): 2, ("image",): 5,
                                                    ("image", "url"): 6}
    assert composed == []  # not parsed a second time


def laughs(levels: int) -> str:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels)]
    return "title: T\n" + "\n".join(lines) + "\n"


@pytest.mark.parametrize(("text", "why", "line"), [
    (laughs(9), "more than 10,000 values with its aliases (*name) expanded", 5),  # a3: 11,111
    ("title: T\nx: &x [1, *x]\n", "an alias makes a value hold itself", 2),
    ("title: T\nx: " + "[" * 40 + "]" * 40 + "\n" + "y: " + "[" * 60 + "]" * 60 + "\n",
     "nested more than 50 levels deep", 3),  # within PyYAML's own limit, past ours
    ("title: T\nx:\n" + "".join(f"{'  ' * i}k{i}:\n" for i in range(1, 60)) + "  " * 60 + "v\n",
     "nested more than 50 levels deep", 52),  # k50's key, 51 below the top
])
def test_a_document_too_big_to_walk_is_an_error_at_its_line(text: str, why: str,
                                                            line: int) -> None:
    with pytest.raises(yamltext.YamlSyntaxError) as raised:
        yamltext.load(text)
    assert str(raised.value) == f"invalid YAML: {why}"
    assert raised.value.line == line


def test_a_document_past_pyyamls_own_nesting_limit_is_an_error_too() -> None:
    """PyYAML 6.0.2 and later refuse flow nesting deeper than their own limit: either way an
    error at its line, never a RecursionError."""
    with pytest.raises(yamltext.YamlSyntaxError) as raised:
        yamltext.load("title: T\nx: " + "[" * 1000 + "]" * 1000 + "\n")
    assert raised.value.line == 2
    assert re.fullmatch(r"invalid YAML: (nested more than 50 levels deep|exceeded maximum "
                        r"nesting depth.*)", str(raised.value)), str(raised.value)


def test_aliases_within_bounds_still_read() -> None:
    assert yamltext.load(laughs(3))["a2"][9] == [["lol"] * 10] * 10  # 1,111 values


@pytest.mark.parametrize(("text", "line", "what"), [
    ('title: "Broken: a post\ndate: 2026-01-01\ntags: [a]\n', 1, "quoted scalar"),
    ("title: ok\ndate: 2026-01-01\ntags: [a, b\nsummary: s\n", 3, "flow sequence"),
    ("title: ok\nimage: {url: /x.jpg\nsummary: s\n", 2, "flow mapping"),
])
def test_a_quote_or_bracket_never_closed_is_an_error_where_it_opens(text: str, line: int,
                                                                    what: str) -> None:
    """PyYAML notices at the end of the text: the error named the closing '---' (trial)."""
    with pytest.raises(yamltext.YamlSyntaxError) as raised:
        yamltext.load(text)
    assert raised.value.line == line
    assert what in str(raised.value) and "opened on this line" in str(raised.value)


def test_any_other_syntax_error_is_where_pyyaml_found_it() -> None:
    with pytest.raises(yamltext.YamlSyntaxError) as raised:
        yamltext.load("title: T\ndate: 2026\n  bad: indent\n")
    assert raised.value.line == 3


@pytest.mark.parametrize(("text", "repeats"), [
    ("title: a\ndate: 2026-01-01\ntitle: b\n", [("title", 1, 3)]),
    ("# read by PyYAML\nimage:\n  url: /a\n  url: /b\n", [("image.url", 3, 4)]),
    ("base: &b {url: /x, alt: base}\nimage: {<<: *b, alt: local}\n", []),  # a merge is no repeat
    ("title: t\n<<: {title: m}\n", []),
    ("a: &m {k: 1, k: 2}\nb: *m\nc: *m\n", [("a.k", 1, 1)]),  # once, however many aliases
    ('1: one\n"1": other\n', []),  # two keys to YAML: an int and a string
    ("items:\n  - {k: 1, k: 2}\n", [("items.0.k", 2, 2)]),
])
def test_repeated_keys_are_those_yaml_keeps_one_of(text: str,
                                                    repeats: list[tuple[str, int, int]]) -> None:
    """Merge keys, aliases and keys of other types gave wrong warnings (second attacker
    round): repeats are found in the tree as PyYAML composed it, before merging."""
    yamltext.load(text)
    assert yamltext.repeated_keys(text) == repeats
