"""feedpress's version, in the core so that every part can name it without importing upward."""

__version__ = "0.1.0"
