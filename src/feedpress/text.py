"""Small text rules every stage agrees on: slugs, XML-safe characters and plain root paths.

Pure functions of strings, for both wings; nothing here knows a post or a config.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Characters XML 1.0 does not allow anywhere, even escaped.
_XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_NOT_WORD = re.compile(r"[\W_]+")
# A path from the site's root that any URL joiner (Python's urljoin, the URL standard's)
# puts after the base's scheme and host unchanged: no "//" (another host), no dot
# segment (even spelled %2e), no query, fragment or ";" parameters, and no character a
# joiner would percent-encode or drop.
_ROOT_PATH = re.compile(r"/(?!/)[A-Za-z0-9\-_~!$&'()*+,=:@/%.]*")
_DOT_SEGMENT = re.compile(r"/(?:\.|%2e)", re.IGNORECASE)
_ASCII_ALLOWED = b"\t\n\r" + bytes(range(0x20, 0x80))
_ASCII_FORBIDDEN = tuple(chr(c) for c in range(0x20) if chr(c) not in "\t\n\r")
_UTF8_ALLOWED = _ASCII_ALLOWED + bytes(range(0x80, 0x100))  # no C0 control is part of another
# What a terminal line must not carry from a file name or a post: control characters (a
# newline would start a forged `error:` line, an escape sequence restyle or clear the
# screen), line and paragraph separators, and the bidirectional overrides and isolates
# that reorder what is shown ("Trojan Source"). Joiners and marks that Persian or Arabic
# text needs are kept. Lone surrogates are escaped too: Python keeps a file name's bytes
# that are not UTF-8 as them, and they cannot be written to a terminal at all.
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


@lru_cache(maxsize=8192)  # tags repeat across thousands of posts
def slugify(text: str) -> str:
    """A readable, stable URL segment: letters of any script kept, case folded.

    "Côte d’Ivoire" becomes "côte-d-ivoire" and "Северный Кавказ" becomes
    "северный-кавказ": non-Latin tags keep their own feed instead of
    collapsing to an empty or transliterated slug. Combining marks (Arabic
    vowel signs, say) are dropped so that a word spelled with or without
    them gets one slug.
    """
    if text.isascii():  # NFKC leaves ASCII as it is, and ASCII has no combining marks
        return _NOT_WORD.sub("-", text.casefold()).strip("-")
    folded = unicodedata.normalize("NFKC", text).casefold()
    kept = "".join(ch for ch in folded if unicodedata.category(ch) != "Mn")
    return _NOT_WORD.sub("-", kept).strip("-")


def has_xml_forbidden(text: str, *, decoded: bool = False) -> bool:
    """Whether `text` holds a character XML 1.0 forbids. `decoded` says that it was
    decoded from UTF-8 as it is (not unescaped from JSON or YAML): Python's decoder
    makes no lone surrogate, and none is looked for.

    Each way is the fastest found for a post's body, all in C: ASCII text with its
    allowed bytes deleted (what is left is forbidden); other text searched for each
    control character in turn, then for U+FFFE and U+FFFF, then for a lone surrogate
    by encoding it, which takes longer than the rest (a third of the time a regular
    expression took).
    """
    if text.isascii():
        return bool(text.encode("ascii").translate(None, _ASCII_ALLOWED))
    if any(control in text for control in _ASCII_FORBIDDEN) or "\ufffe" in text \
            or "\uffff" in text:
        return True
    return not decoded and not is_utf8(text)


def has_char_reference(text: str) -> bool:
    """Whether `text` holds "&#", which opens a numeric character reference ("&#1;"):
    looked for by its "&" first (see `lf_lines`), which most bodies have none of."""
    return "&" in text and "&#" in text


def utf8_xml_safe(data: bytes) -> bool:
    """Whether UTF-8 `data`, decoded, holds no character XML 1.0 forbids: a quicker
    answer than `has_xml_forbidden` gives for its text (whose checks of each control
    character in turn cost several times more where the text is not ASCII). Of the
    forbidden characters, the controls are single bytes in UTF-8, and U+FFFE and U+FFFF
    start with byte EF, looked for first; a lone surrogate is not valid UTF-8."""
    if data.translate(None, _UTF8_ALLOWED):
        return False
    return b"\xef" not in data or (b"\xef\xbf\xbe" not in data and b"\xef\xbf\xbf" not in data)


def printable(text: str) -> str:
    """`text` for a terminal: each character that could forge or hide a line (see
    `_UNPRINTABLE`) written as its escape, as Python writes it (`\\n`, `\\x1b`, `\\u202e`)."""
    if text.isprintable():  # the common case, in C: no control or format character at all
        return text
    return _UNPRINTABLE.sub(_escaped, text)


def _escaped(found: re.Match[str]) -> str:
    return repr(found[0])[1:-1]


def is_utf8(text: str) -> bool:
    """Whether `text` can be written as UTF-8: not when it holds a lone surrogate, as Python
    keeps a file name's bytes that are not UTF-8, and as JSON can spell one."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def is_plain_root_path(url: str) -> bool:
    """Whether `url` joins any base as its scheme and host followed by `url` itself."""
    return _ROOT_PATH.fullmatch(url) is not None and _DOT_SEGMENT.search(url) is None


def decode(data: bytes) -> str:
    """UTF-8 `data` as text, without a byte order mark; raises UnicodeDecodeError.

    The same as the "utf-8-sig" codec, which is a Python-level wrapper and
    several times slower on a file's worth of text.
    """
    return data.decode("utf-8").removeprefix("\ufeff")


def lf_lines(text: str) -> str:
    """`text` with Windows line ends ("\\r\\n") made "\\n".

    Looked for by its "\\r" first: CPython finds one character in a string with
    `memchr`, but two a character at a time, several times slower, and most
    files have no "\\r" at all.
    """
    return text.replace("\r\n", "\n") if "\r" in text else text


def strip_xml_forbidden(text: str) -> str:
    """`text` without the characters XML 1.0 forbids (NUL, most C0 controls, U+FFFE/F)."""
    return _XML_FORBIDDEN.sub("", text) if has_xml_forbidden(text) else text


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 forbids, a vertical tab or form feed (what a
    word processor pastes for a soft line break) becoming a space, so that the words on
    either side stay apart."""
    if not has_xml_forbidden(text):
        return text
    return _XML_FORBIDDEN.sub("", text.replace("\v", " ").replace("\f", " "))


def first_xml_forbidden(text: str, *, decoded: bool = False) -> int | None:
    """Where in `text` the first character XML 1.0 forbids is, if it holds one."""
    found = _XML_FORBIDDEN.search(text) if has_xml_forbidden(text, decoded=decoded) else None
    return None if found is None else found.start()
