"""`python -m feedpress`: the same as the `feedpress` command."""

from feedpress.cli import run

run()
