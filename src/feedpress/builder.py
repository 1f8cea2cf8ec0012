"""The build: config and posts in, feed files out.

The stages run in order and each is a separate module: `posts` loads and
validates, `catalog` decides what is published where, `feeds` serialises,
`output` writes. This module only wires them together and keeps score.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

from feedpress import catalog, markup, output, posts
from feedpress.config import Config
from feedpress.errors import InvalidPostsError, Problem, Severity
from feedpress.feeds import FeedWriter, opml
from feedpress.model import Post

OPML_NAME = PurePosixPath("feeds.opml")


@dataclass(frozen=True)
class BuildReport:
    """What a build did: the files it touched, the posts it saw, what it warned about."""

    outcome: output.Outcome
    feeds: int
    posts: int
    skipped: int
    warnings: list[Problem] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> str:
        o = self.outcome
        skipped = f", {self.skipped} skipped" if self.skipped else ""
        return (
            f"{self.feeds} feeds and feeds.opml: {len(o.written)} files written, "
            f"{len(o.unchanged)} unchanged, {len(o.removed)} removed; "
            f"{self.posts} posts published{skipped}; {self.seconds:.2f}s"
        )


def load(config: Config, now: datetime) -> tuple[catalog.Catalog, list[Post], list[Problem]]:
    """Every post, the published catalog, and every problem found on the way."""
    paths, problems = posts.discover(config)
    valid: list[Post] = []
    for path in paths:
        source = posts.read(config, path)
        if isinstance(source, Problem):
            problems.append(source)
            continue
        post, found = posts.parse(source, config)
        problems.extend(found)
        if post is not None:
            valid.append(post)
    cat, clashes = catalog.assemble(valid, now)
    return cat, valid, problems + [_located(p) for p in clashes]


def check(config: Config, now: datetime) -> list[Problem]:
    """Every problem with the config and posts, and a warning for each unpinned id."""
    _, valid, problems = load(config, now)
    for post in valid:
        if not post.id_pinned:
            problems.append(Problem(
                post.path, posts.locate(post.path, "id"), "id",
                f"not pinned; it would change with the file's blog or slug. "
                f"Run `feedpress pin-ids` to write id: {post.id}", Severity.WARNING))
    return sorted(problems, key=lambda p: (str(p.path), p.line or 0))


def build(
    config: Config,
    now: datetime,
    *,
    out_dir: Path | None = None,
    dry_run: bool = False,
    keep_going: bool = False,
    clock: Callable[[], float] = time.perf_counter,
) -> BuildReport:
    """Write every feed; with any invalid post, raise and write nothing (unless `keep_going`)."""
    started = clock()
    cat, _, problems = load(config, now)
    errors = [p for p in problems if p.is_error]
    if errors and not keep_going:
        raise InvalidPostsError(sorted(problems, key=lambda p: (str(p.path), p.line or 0)))
    if errors:
        cat = _without(cat, {p.path for p in errors})
    files = render_files(config, cat)
    outcome = output.sync(out_dir or config.output_dir, files, dry_run=dry_run)
    warnings = [_as_warning(p) for p in problems]
    feeds = (len(files) - 1) // len(config.feeds.formats)
    skipped = len({p.path for p in errors})
    return BuildReport(outcome, feeds, len(cat.posts), skipped, warnings, clock() - started)


def render_files(config: Config, cat: catalog.Catalog) -> dict[PurePosixPath, bytes]:
    """Every file of the output folder, by path, as bytes."""
    specs = catalog.plan(config, cat)
    names = {slug: tag.name for slug, tag in cat.tags.items()}
    writer = FeedWriter(config.site, config.feeds, _memo(markup.render), names)
    files = {spec.file(fmt): writer.write(spec, fmt) for spec in specs
             for fmt in config.feeds.formats}
    files[OPML_NAME] = opml(config.site.title, specs, config.site.feeds_url,
                            config.feeds.formats[0])
    return files


def _memo(render: Callable[[Post], markup.Rendered]) -> Callable[[Post], markup.Rendered]:
    done: dict[str, markup.Rendered] = {}

    def once(post: Post) -> markup.Rendered:
        found = done.get(post.id)
        if found is None:
            found = done[post.id] = render(post)
        return found

    return once


def _without(cat: catalog.Catalog, bad: set[Path]) -> catalog.Catalog:
    return catalog.Catalog(tuple(p for p in cat.posts if p.path not in bad), cat.tags)


def _located(problem: Problem) -> Problem:
    if problem.line is not None or problem.field is None:
        return problem
    line = posts.locate(problem.path, problem.field)
    return Problem(problem.path, line, problem.field, problem.message, problem.severity)


def _as_warning(problem: Problem) -> Problem:
    if problem.is_error:
        return Problem(problem.path, problem.line, problem.field,
                       f"{problem.message} (post skipped)", Severity.WARNING)
    return problem
