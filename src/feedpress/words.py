"""The fixed strings feedpress writes for people, in each language it speaks.

Feed titles ("Breaking News", "Posts tagged …"), the digest's and the
alert's words, and the unsubscribe pages all come from one catalogue:
`locales/<language>.yaml`, one file per language, which a translator
edits without reading code. A key a language lacks falls back to English,
and so does a language feedpress does not speak. This module also knows
which languages are written right to left, and picks a page's language
from a browser's Accept-Language header.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from importlib.resources import files
from types import MappingProxyType

import yaml

LANGUAGES = ("en", "ar", "fa", "ru", "uk", "uz", "fr", "de", "es")
RTL = frozenset({"ar", "fa", "he", "ur", "ps", "yi", "dv", "ckb", "sd", "ug"})


def primary(language: str) -> str:
    """The language without its region or script: "pt-BR" is "pt", "uz_Latn" is "uz"."""
    return language.replace("_", "-").split("-")[0].strip().lower()


def direction(language: str) -> str:
    return "rtl" if primary(language) in RTL else "ltr"


@lru_cache(maxsize=32)
def words(language: str) -> Mapping[str, str]:
    """Every fixed string in `language`, English where it has none."""
    english = _catalogue("en")
    chosen = primary(language)
    if chosen == "en" or chosen not in LANGUAGES:
        return english
    return MappingProxyType({**english, **_catalogue(chosen)})


def speaks(language: str) -> bool:
    return primary(language) in LANGUAGES


def negotiate(accept_language: str, default: str) -> str:
    """The first language of an Accept-Language header (by its q-values) that feedpress
    speaks, else `default`. A malformed header is read as far as it goes."""
    ranked: list[tuple[float, int, str]] = []
    for order, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if speaks(tag) and quality > 0:
            ranked.append((-quality, order, primary(tag)))
    return min(ranked)[2] if ranked else default


@lru_cache(maxsize=16)
def _catalogue(language: str) -> Mapping[str, str]:
    text = files("feedpress").joinpath("locales", f"{language}.yaml").read_text("utf-8")
    found = yaml.safe_load(text)
    return MappingProxyType({str(key): str(value) for key, value in found.items()})
