"""feedpress: RSS, Atom and JSON feeds and an email digest from a folder of posts.

The public API is what this module re-exports; everything else is an
implementation detail that may change between releases. The build's heavy
imports (feedgen, lxml, the Markdown renderer) load on first use, so that
`feedpress --help` and an up-to-date check start quickly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from feedpress.errors import (
    ConfigError,
    FeedpressError,
    InvalidPostsError,
    Problem,
    Severity,
)
from feedpress.model import Author, Blog, Image, Post, Site, Tag
from feedpress.version import __version__

if TYPE_CHECKING:
    from feedpress.config import Config
    from feedpress.config import load as load_config
    from feedpress.feeds import BuildReport, build, check

_LAZY = {
    "BuildReport": ("feedpress.feeds", "BuildReport"),
    "build": ("feedpress.feeds", "build"),
    "check": ("feedpress.feeds", "check"),
    "Config": ("feedpress.config", "Config"),
    "load_config": ("feedpress.config", "load"),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'feedpress' has no attribute {name!r}")
    from importlib import import_module

    module, attribute = _LAZY[name]
    return getattr(import_module(module), attribute)


__all__ = [
    "Author",
    "Blog",
    "BuildReport",
    "Config",
    "ConfigError",
    "FeedpressError",
    "Image",
    "InvalidPostsError",
    "Post",
    "Problem",
    "Severity",
    "Site",
    "Tag",
    "__version__",
    "build",
    "check",
    "load_config",
]
