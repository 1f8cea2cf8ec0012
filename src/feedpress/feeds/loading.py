"""Every post of a project, validated and sorted into published or not, without a build.

For the commands that read posts but write no feeds: `check`, `pin-ids`
and the mail side's digests and alerts. Each file is read and parsed
once, in this process, and the catalog decides what is published, as
it does for a build; nothing touches the build cache, so these commands
never wait for a build and never change what it will find.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from feedpress.config import Config
from feedpress.errors import Problem, Severity, by_place
from feedpress.feeds import catalog, markup, posts
from feedpress.model import Card, Post


class Loaded(NamedTuple):
    """Every post `load` found, as the commands that read posts without building need them."""

    published: list[Post]  # newest first
    valid: list[Post]  # drafts and future posts too, in the order of their files
    problems: list[Problem]


def load(config: Config, now: datetime) -> Loaded:
    """The published posts, every valid post, and every problem found on the way."""
    files, problems = posts.discover(config)
    valid: dict[str, Post] = {}
    for key in files:
        source = posts.read(config, config.posts_dir / key)
        if isinstance(source, Problem):
            problems.append(source)
            continue
        post, found = posts.parse(source, config)
        problems.extend(found)
        if post is not None:
            valid[key] = post
    cards = (Card.of(post, key) for key, post in valid.items())
    cat, clashes = catalog.assemble(cards, now, config.posts_dir)
    problems.extend(posts.located(p) for p in clashes)
    return Loaded([valid[card.key] for card in cat.posts], list(valid.values()), problems)


def check(config: Config, now: datetime) -> list[Problem]:
    """Every problem with the config and posts, and a warning for each unpinned id."""
    _, valid, problems = load(config, now)
    for post in valid:
        if not post.id_pinned:
            problems.append(Problem(
                post.path, posts.locate(post.path, "id"), "id",
                f"not pinned; it would change with the file's blog or slug. "
                f"Run `feedpress pin-ids` to write id: {post.id}", Severity.WARNING))
    return sorted(problems, key=by_place)


def summary(post: Post) -> str:
    """The plain-text summary the feeds give `post`: its `summary:`, else its opening."""
    if post.summary:
        return post.summary
    return markup.render_all([post], [posts.read_body(post)], xml_safe_bodies=True)[0].summary
