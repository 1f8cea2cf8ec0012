"""The catalog's decisions, made from posts' cards alone: a pure function of its arguments.

Cards are written out by hand here, so each expectation is read off the
test's own data, not off what the code under test produced.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from feedpress.feeds.catalog import assemble
from feedpress.model import Card, Tag, from_us, to_us

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
FOLDER = Path("/news/posts")


def card(key: str, day: int, *, id: str | None = None, tags: tuple[tuple[str, str], ...] = (),
         draft: bool = False, slug: str | None = None) -> Card:
    blog, name = key.split("/", 1)
    return Card(key, blog, slug or name.removesuffix(".md"), id or f"urn:{key}",
                to_us(datetime(2026, 11, day, tzinfo=UTC)), None, tags, False, draft, "d" + key)


def test_microseconds_round_trip_exactly() -> None:
    for moment in [datetime(1970, 1, 1, tzinfo=UTC), datetime(1969, 7, 20, 20, 17, tzinfo=UTC),
                   datetime(2026, 11, 25, 23, 59, 59, 999999, tzinfo=UTC)]:
        assert from_us(to_us(moment)) == moment
    assert to_us(datetime(1970, 1, 1, 0, 0, 1, tzinfo=UTC)) == 1_000_000


def test_published_posts_are_newest_first_without_drafts_or_future_posts() -> None:
    cards = [card("a/old.md", 1), card("a/draft.md", 20, draft=True), card("b/new.md", 24),
             card("a/due.md", 25), card("a/later.md", 26)]
    catalog, problems = assemble(cards, NOW, FOLDER)
    assert [c.key for c in catalog.posts] == ["a/due.md", "b/new.md", "a/old.md"]
    assert problems == []


def test_posts_of_one_moment_are_ordered_by_id() -> None:
    cards = [card("a/x.md", 3, id="urn:b"), card("a/y.md", 3, id="urn:c"),
             card("a/z.md", 3, id="urn:a")]
    catalog, _ = assemble(cards, NOW, FOLDER)
    assert [c.id for c in catalog.posts] == ["urn:c", "urn:b", "urn:a"]


def test_a_clash_is_reported_on_the_later_path_part_by_part() -> None:
    """`a-b/x.md` sorts before `a/x.md` as text ("-" < "/"), after it part by part."""
    first, second = card("a/x.md", 1, id="urn:same"), card("a-b/x.md", 2, id="urn:same")
    for given in ([first, second], [second, first]):
        _, problems = assemble(given, NOW, FOLDER)
        [problem] = problems
        assert problem.path == FOLDER / "a-b" / "x.md"
        assert (problem.field, problem.message) == ("id", f"'urn:same' is also used by "
                                                          f"{FOLDER / 'a' / 'x.md'}")


def test_two_posts_with_one_slug_in_one_blog_clash() -> None:
    cards = [card("a/2026-one.md", 1, slug="one"), card("a/2027-one.md", 2, slug="one"),
             card("b/one.md", 3, slug="one")]
    _, problems = assemble(cards, NOW, FOLDER)
    assert [(p.path, p.field) for p in problems] == [(FOLDER / "a" / "2027-one.md", "slug")]


def test_a_tag_is_named_as_its_earliest_published_post_spells_it() -> None:
    cards = [card("a/one.md", 2, tags=(("war", "War"),)),
             card("a/two.md", 5, tags=(("war", "WAR"), ("peace", "Peace"))),
             card("a/zero.md", 1, tags=(("war", "war"),), draft=True)]
    catalog, _ = assemble(cards, NOW, FOLDER)
    assert catalog.tags == {"war": Tag("war", "War"), "peace": Tag("peace", "Peace")}
