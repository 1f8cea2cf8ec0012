"""feedpress: RSS, Atom and JSON feeds and an email digest from a folder of posts.

The public API is what this module re-exports; everything else is an
implementation detail that may change between releases.
"""

from __future__ import annotations

__version__ = "0.1.0"

from feedpress.builder import BuildReport, build, check
from feedpress.config import Config
from feedpress.config import load as load_config
from feedpress.errors import (
    ConfigError,
    FeedpressError,
    InvalidPostsError,
    Problem,
    Severity,
)
from feedpress.model import Author, Blog, Image, Post, Site, Tag

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
