"""The build cache and incremental rebuilds: fast, and never stale.

These tests prove the cache is used (by planting a marker in it that only
a cache hit can put into a feed) and that every input that shapes the
output (a post's bytes, the config, feedpress's version and code) makes it
let go.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath

import pytest

from conftest import NOW, SAMPLE_CONFIG, Project
from feedpress.errors import InvalidPostsError
from feedpress.feeds import BuildReport, build, builder, default_cache, parallel
from feedpress.feeds import cache as cache_module
from feedpress.feeds.cache import open_cache


def cached_build(project: Project, now: datetime = NOW, **options: object) -> BuildReport:
    config = project.config()
    return build(config, now, cache_path=default_cache(config), **options)  # type: ignore[arg-type]


def plant(project: Project, old: str, new: str) -> int:
    """Rewrite every cached item fragment, so that only a cache hit shows `new`."""
    changed = 0
    with sqlite3.connect(default_cache(project.config())) as db:
        for path, blob in db.execute("SELECT path, parts FROM items").fetchall():
            parts = cache_module.unpack_items(blob)
            planted = {name: data.replace(old.encode(), new.encode())
                       for name, data in parts.items()}
            if planted != parts:
                db.execute("UPDATE items SET parts = ? WHERE path = ?",
                           (cache_module.pack_items(planted), path))
                changed += 1
    return changed


def age(path: Path, seconds: int = 3600) -> None:
    """Date a file an hour back, as a checkout long before the build would be."""
    past = time.time() - seconds
    os.utime(path, (past, past))


def site_rss(project: Project) -> str:
    return (project.out / "rss.xml").read_text("utf-8")


def test_a_rebuild_with_nothing_changed_writes_nothing(project: Project) -> None:
    for n in range(3):
        age(project.post("alpha", f"post-{n}", f"Body {n}.\n", tags=["x"]))
    first = cached_build(project)
    again = cached_build(project)
    assert first.outcome.written and not again.outcome.written
    assert again.outcome.unchanged == sorted(first.outcome.written)


def test_an_unchanged_post_is_served_from_the_cache(project: Project) -> None:
    age(project.post("alpha", "kept", "Original words.\n"))
    cached_build(project)
    assert plant(project, "Original words", "From the cache") > 0
    (project.out / "rss.xml").unlink()  # force the feed to be made again
    cached_build(project)
    assert "From the cache" in site_rss(project)


def test_an_edited_post_is_never_served_stale(project: Project) -> None:
    path = project.post("alpha", "edited", "Original words.\n")
    age(path)
    cached_build(project)
    plant(project, "Original words", "From the cache")
    path.write_text(path.read_text("utf-8").replace("Original", "Revised!"), "utf-8")
    age(path)
    report = cached_build(project)
    assert "Revised! words" in site_rss(project)
    assert "From the cache" not in site_rss(project)
    assert "rss.xml" in {p.as_posix() for p in report.outcome.written}


def test_an_edit_in_the_same_second_and_size_is_still_seen(project: Project) -> None:
    """The racy case of stat caching: a file changed right after a build, same size and mtime."""
    path = project.post("alpha", "racy", "Words AAAA.\n")
    cached_build(project)
    stat = path.stat()
    path.write_text(path.read_text("utf-8").replace("AAAA", "BBBB"), "utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    cached_build(project)
    assert "Words BBBB" in site_rss(project)


def test_a_config_change_empties_the_cache(project: Project) -> None:
    age(project.post("alpha", "post", "Original words.\n"))
    cached_build(project)
    plant(project, "Original words", "From the cache")
    config = project.config_path.read_text("utf-8")
    project.write_config(config.replace("title: Test Newsroom", "title: Renamed Newsroom"))
    cached_build(project)
    rss = site_rss(project)
    assert "Renamed Newsroom" in rss and "Original words" in rss
    assert "From the cache" not in rss


def test_the_salt_changes_with_version_code_and_config() -> None:
    base = cache_module.salt("config", version="1.0", code=b"code")
    assert cache_module.salt("config", version="1.0", code=b"code") == base
    assert cache_module.salt("config", version="1.1", code=b"code") != base
    assert cache_module.salt("config", version="1.0", code=b"other") != base
    assert cache_module.salt("other", version="1.0", code=b"code") != base
    assert cache_module.salt("config") != base  # the real version and code
    libs = cache_module.salt("config", version="1.0", code=b"code", libraries=b"lxml=6.0.0")
    assert libs != base
    assert cache_module.salt("config", version="1.0", code=b"code", libraries=b"lxml=6.0.1") != libs
    zone = cache_module.salt("config", version="1.0", code=b"code", zone=b"TZif rules")
    assert zone != base
    assert cache_module.salt("config", version="1.0", code=b"code", zone=b"TZif rulez") != zone


def test_the_salt_holds_the_rules_of_the_sites_time_zone() -> None:
    berlin, tokyo = cache_module.zone_rules("Europe/Berlin"), cache_module.zone_rules("Asia/Tokyo")
    assert berlin.startswith(b"TZif") and tokyo.startswith(b"TZif") and berlin != tokyo
    assert cache_module.zone_rules("UTC").startswith(b"TZif")
    assert cache_module.salt("c", "Europe/Berlin") != cache_module.salt("c", "Asia/Tokyo")
    assert cache_module.salt("c", "Europe/Berlin") == cache_module.salt("c", "Europe/Berlin")


def test_zone_rules_come_from_the_tzdata_package_without_system_files(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    import zoneinfo

    system = cache_module.zone_rules("America/Argentina/Buenos_Aires")
    monkeypatch.setattr(zoneinfo, "TZPATH", ())
    packaged = cache_module.zone_rules("America/Argentina/Buenos_Aires")
    assert packaged.startswith(b"TZif") and system.startswith(b"TZif")
    assert cache_module.zone_rules("Nowhere/Atlantis") == b""


def test_library_versions_are_what_importlib_metadata_says() -> None:
    from importlib import metadata

    said = cache_module.library_versions().decode().split("\0")
    assert said == [f"{dist}={metadata.version(dist)}"
                    for dist in ("feedgen", "cmarkgfm", "nh3", "lxml", "PyYAML")]


def test_a_library_without_a_dist_info_folder_is_asked_of_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lonely").mkdir()
    (tmp_path / "lonely" / "__init__.py").write_text("")
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "__init__.py").write_text("")
    (tmp_path / "Shared_Dist-2.5.dist-info").mkdir()
    (tmp_path / "shared_distant-9.0.dist-info").mkdir()  # another project, a longer name
    (tmp_path / "dotted").mkdir()
    (tmp_path / "dotted" / "__init__.py").write_text("")
    (tmp_path / "dotted.name-1.0.dist-info").mkdir()  # as older installers kept the dot
    monkeypatch.syspath_prepend(str(tmp_path))
    said = cache_module.library_versions({"lonely": "lonely-dist", "shared": "shared-dist",
                                          "dotted": "Dotted_Name"})
    assert said == b"lonely-dist=?\0shared-dist=2.5\0Dotted_Name=1.0"


def test_a_new_salt_empties_a_cache_file(project: Project) -> None:
    """What a new feedpress version does to the cache an older one left."""
    age(project.post("alpha", "post", "Original words.\n"))
    cached_build(project)
    plant(project, "Original words", "From the cache")
    db_path = default_cache(project.config())
    with open_cache(db_path, "an older version's salt"):
        pass
    (project.out / "rss.xml").unlink()
    cached_build(project)
    assert "Original words" in site_rss(project)
    with sqlite3.connect(db_path) as db:
        assert db.execute("SELECT count(*) FROM items").fetchone()[0] > 0


def test_a_deleted_post_leaves_the_feeds_and_the_cache(project: Project) -> None:
    age(project.post("alpha", "stays", tags=["kept"]))
    gone = project.post("alpha", "goes", "Soon gone.\n", tags=["ephemeral"])
    age(gone)
    cached_build(project)
    assert (project.out / "tags" / "ephemeral" / "rss.xml").exists()
    gone.unlink()
    report = cached_build(project)
    assert "Soon gone" not in site_rss(project)
    assert not (project.out / "tags" / "ephemeral").exists()
    assert any(p.as_posix() == "tags/ephemeral/rss.xml" for p in report.outcome.removed)
    with sqlite3.connect(default_cache(project.config())) as db:
        paths = {row[0] for row in db.execute("SELECT path FROM sources")}
    assert paths == {"alpha/stays.md"}


def test_a_hand_deleted_feed_is_written_again(project: Project) -> None:
    age(project.post("alpha", "post"))
    cached_build(project)
    original = (project.out / "alpha" / "atom.xml").read_bytes()
    (project.out / "alpha" / "atom.xml").unlink()
    report = cached_build(project)
    assert (project.out / "alpha" / "atom.xml").read_bytes() == original
    assert [p.as_posix() for p in report.outcome.written] == ["alpha/atom.xml"]


def test_cached_and_uncached_builds_are_byte_identical(project: Project, tmp_path: Path) -> None:
    for n in range(5):
        age(project.post("alpha", f"p{n}", f"Body *{n}*.\n", tags=[f"t{n % 2}"]))
    cached_build(project)
    cached_build(project, out_dir=tmp_path / "second")
    build(project.config(), NOW, out_dir=tmp_path / "plain")
    for folder in ("second", "plain"):
        for path in project.out.rglob("*.xml"):
            twin = tmp_path / folder / path.relative_to(project.out)
            assert twin.read_bytes() == path.read_bytes(), (folder, path)


def test_parallel_and_serial_builds_are_byte_identical(project: Project, tmp_path: Path) -> None:
    """Enough posts, and feeds, for workers to build the items and write the feeds.

    The output must not depend on them.
    """
    for n in range(260):
        project.post("alpha" if n % 3 else "beta", f"post-{n:03d}", f"Body {n} [link](../x/).\n",
                     date=f"2026-10-{1 + n % 28:02d}T{n % 24:02d}:00:00Z",
                     tags=[f"tag {n % 70}", f"topic {n % 7}"])
    build(project.config(), NOW, out_dir=tmp_path / "one", jobs=1)
    build(project.config(), NOW, out_dir=tmp_path / "two", jobs=2)
    one = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.*"))
    two = sorted(p.relative_to(tmp_path / "two") for p in (tmp_path / "two").rglob("*.*"))
    assert one == two and len(one) > parallel.PARALLEL_FROM
    for relpath in one:
        first, second = (tmp_path / run / relpath for run in ("one", "two"))
        assert first.read_bytes() == second.read_bytes(), relpath


def test_items_stored_over_many_transactions_make_the_same_feeds(
        project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A cold build commits the items it stores every `_COMMIT_EVERY` posts, so that the
    disk keeps up while the workers render: none may be lost or stored twice."""
    for n in range(260):
        project.post("alpha", f"post-{n:03d}", f"Body {n}.\n", tags=[f"tag {n % 9}"],
                     date=f"2026-10-{1 + n % 28:02d}T{n % 24:02d}:00:00Z")
    build(project.config(), NOW, out_dir=tmp_path / "plain", jobs=1)
    monkeypatch.setattr(builder, "_COMMIT_EVERY", 7)
    cached_build(project, jobs=2)
    with sqlite3.connect(default_cache(project.config())) as db:
        stored = db.execute("SELECT count(*), count(DISTINCT path) FROM items").fetchone()
    assert stored == (260, 260)
    for path in (tmp_path / "plain").rglob("*.*"):
        assert (project.out / path.relative_to(tmp_path / "plain")).read_bytes() == \
            path.read_bytes(), path


def test_cached_posts_round_trip_exactly() -> None:
    """Every field of every sample post survives the cache's encoding."""
    from feedpress.config import load as load_config
    from feedpress.feeds import load
    from feedpress.feeds.cache import pack_post, unpack_post

    _, valid, _ = load(load_config(SAMPLE_CONFIG), NOW)
    assert len(valid) >= 15
    for post in valid:
        assert unpack_post(pack_post(post), post.path) == post
        moved = unpack_post(pack_post(post), Path("/elsewhere/post.md"))
        assert moved == replace(post, path=Path("/elsewhere/post.md"))


def test_cards_round_trip_exactly_and_say_what_their_posts_say() -> None:
    from feedpress.config import load as load_config
    from feedpress.errors import Problem, Severity
    from feedpress.feeds import load
    from feedpress.feeds.cache import Checked, pack_card, unpack_card
    from feedpress.model import Card, from_us

    config = load_config(SAMPLE_CONFIG)
    _, valid, problems = load(config, NOW)
    for post in valid:
        key = post.path.relative_to(config.posts_dir).as_posix()
        card = Card.of(post, key)
        assert (card.key, card.blog, card.slug, card.id, card.breaking, card.draft,
                card.digest) == (key, post.blog, post.slug, post.id, post.breaking,
                                 post.draft, post.digest)
        assert from_us(card.date_us) == post.date and from_us(card.modified_us) == post.modified
        assert card.tags == tuple((tag.slug, tag.name) for tag in post.tags)
        mine = tuple(p for p in problems if p.path == post.path)
        assert unpack_card(pack_card(card, mine), config.posts_dir, key) == Checked(card, mine)
    assert any(post.updated for post in valid) and any(post.tags for post in valid)
    warning = Problem(Path("/old/place/posts/blog/a.md"), 3, "colour", "unknown field",
                      Severity.WARNING)
    moved = unpack_card(pack_card(None, [warning]), Path("/elsewhere/posts"), "blog/a.md")
    assert moved == Checked(None, (replace(warning, path=Path("/elsewhere/posts/blog/a.md")),))


# ---------------------------------------------------------------------------------------------
# The memo: a build with nothing to do does nothing, and never hides a change
# ---------------------------------------------------------------------------------------------


def spoil_parsed_posts(project: Project) -> None:
    """Make every cached parse unreadable: only a build that reads none of them survives."""
    with sqlite3.connect(default_cache(project.config())) as db:
        db.execute("UPDATE sources SET parsed = x'00'")


def settled_project(project: Project) -> Path:
    age(project.post("alpha", "first", "First words.\n", tags=["news"]), 7200)
    return project.post("alpha", "second", "Second words.\n", date="2026-11-02T10:00:00Z")


def test_a_rebuild_with_nothing_changed_reads_no_post(project: Project) -> None:
    age(settled_project(project))
    first = cached_build(project)
    spoil_parsed_posts(project)
    again = cached_build(project)
    assert again.outcome.written == [] and again.outcome.removed == []
    assert again.outcome.unchanged == sorted(first.outcome.written)
    assert (again.feeds, again.posts, again.skipped) == (first.feeds, first.posts, 0)


@pytest.mark.parametrize("change", ["edit", "add"])
def test_a_rebuild_reads_the_full_parse_only_of_the_changed_post(
    project: Project, change: str
) -> None:
    """The catalog is made from cards; a full post is loaded only to build its items."""
    edited = settled_project(project)
    age(edited)
    cached_build(project)
    spoil_parsed_posts(project)
    if change == "edit":
        edited.write_text(edited.read_text("utf-8").replace("Second", "Revised"), "utf-8")
    else:
        project.post("alpha", "third", "Third words.\n", date="2026-11-03T10:00:00Z")
    report = cached_build(project)
    assert ("Revised words" if change == "edit" else "Third words") in site_rss(project)
    assert "First words" in site_rss(project)  # its item, from the cache
    assert report.posts == (2 if change == "edit" else 3)


def test_a_touched_post_is_read_once_and_then_known_by_its_new_mtime(project: Project) -> None:
    path = settled_project(project)
    age(path)
    cached_build(project)
    age(path, 60)  # same bytes, a new mtime: read and hashed once, found unchanged
    spoil_parsed_posts(project)
    report = cached_build(project)
    assert report.outcome.written == []
    with sqlite3.connect(default_cache(project.config())) as db:
        [(mtime_ns,)] = db.execute("SELECT mtime_ns FROM sources WHERE path = ?",
                                   ("alpha/" + path.name,)).fetchall()
    assert mtime_ns == path.stat().st_mtime_ns


def test_a_post_touched_just_now_is_recorded_to_be_read_again(project: Project) -> None:
    """Touched within the racy window: its new mtime may yet hide an edit, so none is kept."""
    path = settled_project(project)
    age(path)
    cached_build(project)
    os.utime(path)  # same bytes, mtime now
    cached_build(project)
    with sqlite3.connect(default_cache(project.config())) as db:
        [(mtime_ns,)] = db.execute("SELECT mtime_ns FROM sources WHERE path = ?",
                                   ("alpha/" + path.name,)).fetchall()
    assert mtime_ns == -1


def test_warnings_come_in_the_same_order_from_the_cache_as_cold(project: Project) -> None:
    """Cached files are checked before changed ones; the report must not show it."""
    for name in ["a", "b", "c", "d"]:
        age(project.post("alpha", name, colour="blue", size="large"))
    cold = build(project.config(), NOW)
    cached_build(project)
    path = project.posts / "alpha" / "a.md"  # changed: parsed after the cached b, c, d
    path.write_text(path.read_text("utf-8").replace("Body", "Changed body"), "utf-8")
    again = cached_build(project)
    assert [(w.path, w.line, w.message) for w in again.warnings] == [
        (w.path, w.line, w.message) for w in cold.warnings]
    assert [w.path.name for w in again.warnings] == ["a.md", "a.md", "b.md", "b.md", "c.md",
                                                     "c.md", "d.md", "d.md"]


def test_a_moved_project_reports_its_warnings_where_the_files_are_now(
    project: Project, tmp_path: Path
) -> None:
    """As when CI restores `.feedpress/` into a checkout at another path."""
    import shutil

    from feedpress.config import load as load_config

    age(project.post("alpha", "odd", colour="blue"))
    first = cached_build(project)
    moved = tmp_path / "moved"
    shutil.copytree(project.root, moved)  # copy2: the same mtimes, so cache hits
    spoil_parsed_posts(project)  # and the copy's cache too: nothing is parsed again
    shutil.copy2(default_cache(project.config()), moved / ".feedpress" / "cache.sqlite")
    config = load_config(moved / "feedpress.yaml")
    again = build(config, NOW, cache_path=default_cache(config))
    assert [w.path for w in first.warnings] == [project.posts / "alpha" / "odd.md"]
    assert [w.path for w in again.warnings] == [moved / "posts" / "alpha" / "odd.md"]
    assert [w.message for w in again.warnings] == [w.message for w in first.warnings]


def test_the_memo_keeps_reporting_warnings(project: Project) -> None:
    age(settled_project(project))
    age(project.post("alpha", "odd", colour="blue"))
    first = cached_build(project)
    again = cached_build(project)
    assert [str(w) for w in first.warnings] == [str(w) for w in again.warnings]
    assert any("colour" in str(w) for w in again.warnings)


@pytest.mark.parametrize("change", ["edit", "add", "delete", "config"])
def test_the_memo_never_hides_a_change(project: Project, change: str) -> None:
    second = settled_project(project)
    age(second)
    cached_build(project)
    if change == "edit":
        second.write_text(second.read_text("utf-8").replace("Second", "Revised"), "utf-8")
        age(second, 3000)
    elif change == "add":
        age(project.post("alpha", "third", "Revised words.\n", date="2026-11-03T10:00:00Z"))
    elif change == "delete":
        second.unlink()
    else:
        project.write_config(project.config_path.read_text("utf-8").replace(
            "title: Test Newsroom", "title: Revised Newsroom"))
    report = cached_build(project)
    assert "rss.xml" in {p.as_posix() for p in report.outcome.written}
    assert ("Revised" in site_rss(project)) != (change == "delete")
    assert ("Second words" in site_rss(project)) == (change not in ("edit", "delete"))


def test_the_memo_holds_only_until_a_scheduled_post_is_due(project: Project) -> None:
    age(settled_project(project))
    age(project.post("alpha", "scheduled", "Scheduled words.\n", date="2026-12-01T09:00:00Z"))
    before = datetime(2026, 11, 20, tzinfo=UTC)
    cached_build(project, now=before)
    assert "Scheduled words" not in site_rss(project)
    assert cached_build(project, now=before + timedelta(days=5)).outcome.written == []
    due = cached_build(project, now=datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    assert "rss.xml" in {p.as_posix() for p in due.outcome.written}
    assert "Scheduled words" in site_rss(project)


def test_the_memo_does_not_hold_for_an_earlier_clock(project: Project) -> None:
    age(settled_project(project))
    cached_build(project, now=datetime(2026, 11, 20, tzinfo=UTC))
    cached_build(project, now=datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
    assert "Second words" not in site_rss(project) and "First words" in site_rss(project)


def test_the_memo_does_not_hold_when_the_output_changed(project: Project) -> None:
    age(settled_project(project))
    cached_build(project)
    feed = project.out / "alpha" / "rss.xml"
    original = feed.read_bytes()
    feed.write_bytes(original + b"<!-- hand edit -->")
    (project.out / "atom.xml").unlink()
    report = cached_build(project)
    assert feed.read_bytes() == original and (project.out / "atom.xml").exists()
    assert {p.as_posix() for p in report.outcome.written} == {"alpha/rss.xml", "atom.xml"}


def test_a_dry_run_or_a_fresh_file_leaves_no_memo(project: Project) -> None:
    age(settled_project(project))
    cached_build(project, dry_run=True)
    assert memo_of(project) is None
    cached_build(project)
    assert memo_of(project) is not None
    project.post("alpha", "just-written")  # within the racy window: may change unseen
    cached_build(project)
    assert memo_of(project) is None


def memo_of(project: Project) -> str | None:
    with sqlite3.connect(default_cache(project.config())) as db:
        row = db.execute("SELECT value FROM meta WHERE key = 'memo'").fetchone()
    return None if row is None else str(row[0])


@pytest.mark.parametrize("enabled", [True, False])
def test_a_build_leaves_the_garbage_collector_as_it_found_it(
        project: Project, enabled: bool) -> None:
    import gc

    project.post("alpha", "post")
    was = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        cached_build(project)
        assert gc.isenabled() is enabled
    finally:
        (gc.enable if was else gc.disable)()


def test_the_memo_keeps_skipped_posts_skipped_and_reported(project: Project) -> None:
    age(settled_project(project))
    bad = project.raw("alpha/broken.md", "---\ntitle: Broken\ndate: not a date\n---\nBody.\n")
    age(bad)
    first = cached_build(project, keep_going=True)
    spoil_parsed_posts(project)
    again = cached_build(project, keep_going=True)
    assert (first.skipped, again.skipped) == (1, 1)
    assert [str(w) for w in again.warnings] == [str(w) for w in first.warnings]
    assert any("broken.md" in str(w) and "post skipped" in str(w) for w in again.warnings)


def test_a_build_without_keep_going_does_not_stand_on_one_with_it(project: Project) -> None:
    age(settled_project(project))
    age(project.raw("alpha/broken.md", "---\ntitle: Broken\ndate: not a date\n---\nBody.\n"))
    assert cached_build(project, keep_going=True).skipped == 1
    assert memo_of(project) is not None
    with pytest.raises(InvalidPostsError):
        cached_build(project)


def test_the_memo_of_one_output_folder_does_not_stand_for_another(
        project: Project, tmp_path: Path) -> None:
    age(settled_project(project))
    cached_build(project)
    elsewhere = tmp_path / "elsewhere"
    report = cached_build(project, out_dir=elsewhere)
    assert (elsewhere / "rss.xml").exists()
    assert "rss.xml" in {p.as_posix() for p in report.outcome.written}


def test_the_salt_reads_every_source_file_of_the_package_wings_included() -> None:
    """An edit anywhere in the package (not only beside the cache) empties the cache."""
    package = Path(cache_module.__file__).resolve().parent.parent
    on_disk = sorted(Path(folder, name).relative_to(package).as_posix()
                     for folder, _, names in os.walk(package)
                     for name in names if name.endswith(".py"))
    listed = [p.relative_to(package).as_posix() for p in cache_module.source_files()]
    assert sorted(listed) == on_disk
    assert {"cli.py", "feeds/formats.py", "mail/ledger.py", "model.py"} <= set(listed)
    code = cache_module._source_code()
    for relpath in ("feeds/formats.py", "feeds/markup.py", "model.py", "mail/bodies.py"):
        assert relpath.encode() + b"\0" + (package / relpath).read_bytes() in code


def test_a_build_that_left_files_alone_leaves_no_memo(project: Project) -> None:
    """The memo vouches for the output as the build left it; a page of someone else's it
    met may be removed, as its warning advises, and the next build must then write it."""
    age(settled_project(project))
    cached_build(project)
    page = project.out / "index.html"
    page.write_text("<p>mine</p>\n")
    met = cached_build(project)
    assert [p.path.name for p in met.warnings] == ["index.html"]
    assert memo_of(project) is None
    page.unlink()
    assert [p.as_posix() for p in cached_build(project, dry_run=True).outcome.written] == [
        "index.html"]
    again = cached_build(project)
    assert again.warnings == [] and page.is_file()
    assert memo_of(project) is not None


def test_workers_end_with_a_build_killed_outright(tmp_path: Path) -> None:
    """`kill -9` gives a build no chance to stop its workers: they must end with it."""
    import signal
    import subprocess
    import sys

    script = ("import time\nfrom feedpress.feeds import parallel\n"
              "list(parallel.pmap(time.sleep, [30.0] * 400, 2))\n")
    build_process = subprocess.Popen([sys.executable, "-c", script])
    children = Path(f"/proc/{build_process.pid}/task/{build_process.pid}/children")
    workers: list[int] = []
    for _ in range(200):  # until both workers run (and the pool's own threads are up)
        workers = [int(pid) for pid in children.read_text().split()]
        if len(workers) >= 2:
            break
        time.sleep(0.05)
    assert len(workers) >= 2, "the workers did not start"
    time.sleep(0.3)
    build_process.send_signal(signal.SIGKILL)
    build_process.wait()
    for _ in range(100):
        alive = [pid for pid in workers if Path(f"/proc/{pid}").exists()
                 and "Z" not in Path(f"/proc/{pid}/stat").read_text().split(")")[-1][:3]]
        if not alive:
            break
        time.sleep(0.05)
    assert alive == [], "workers outlived their build"


def test_a_manifest_damaged_since_the_memo_is_looked_at_again(project: Project) -> None:
    age(settled_project(project))
    cached_build(project)
    manifest = project.out / ".feedpress-manifest.json"
    manifest.write_text(manifest.read_text().replace(
        '{"files": {\n', '{"files": {\n"../../victim.txt": {"recipe": "r", "size": 1, '
        '"digest": "d"},\n', 1))
    report = cached_build(project)
    assert [p.path.name for p in report.warnings] == [".feedpress-manifest.json"]
    assert "1 of its entries are not as feedpress writes them" in report.warnings[0].message


def test_one_build_of_a_project_at_a_time(project: Project) -> None:
    """A second build waits for the first, then stops with an error saying so: two at
    once wrote the same output folder, each its own manifest (attacker trial)."""
    import fcntl
    import threading

    from feedpress.errors import FeedpressError

    project.post("alpha", "one")
    db = default_cache(project.config())
    with (cache_module.one_build(db),
          pytest.raises(FeedpressError, match="another build of this project is running"),
          cache_module.one_build(db, wait=0.2)):
        pass
    lock = os.open(db.with_name("build.lock"), os.O_RDWR)
    fcntl.flock(lock, fcntl.LOCK_EX)
    threading.Timer(0.5, os.close, (lock,)).start()  # the first build ends
    report = cached_build(project)  # waits, then builds
    assert report.outcome.written


class Killed(BaseException):
    """What `kill -9` does to a build, as far as its files go: it stops where it is, with
    no chance to save anything."""


def test_files_a_killed_build_wrote_are_known_to_the_next_one(
        project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A build killed after writing a new tag's feeds but before saving its manifest; the
    tag is then taken off again: its feeds must go, as after a build that finished
    (attacker trial: they stayed published for good)."""
    from feedpress.feeds import output

    posts = [project.post("alpha", f"p{n}", f"Body {n}.\n", tags=["keep"]) for n in range(3)]
    for path in posts:
        age(path)
    cached_build(project)
    for n in range(len(posts)):
        age(project.post("alpha", f"p{n}", f"Body {n}.\n", tags=["keep", "passing"]))

    def killed(self: output.Output) -> output.Outcome:
        raise Killed

    with monkeypatch.context() as patched:
        patched.setattr(output.Output, "finish", killed)
        with pytest.raises(Killed):
            cached_build(project)
    stale = project.out / "tags" / "passing" / "rss.xml"
    assert stale.is_file() and (project.out / output.PENDING).is_file()
    assert "tags/passing" not in (project.out / output.MANIFEST).read_text()
    for n in range(len(posts)):
        age(project.post("alpha", f"p{n}", f"Body {n}.\n", tags=["keep"]))
    report = cached_build(project)
    assert not stale.exists() and not stale.parent.exists()
    assert PurePosixPath("tags/passing/rss.xml") in report.outcome.removed
    assert not (project.out / output.PENDING).exists()
    build(project.config(), NOW, out_dir=tmp_path / "clean")
    ours = sorted(p.relative_to(project.out) for p in project.out.rglob("*") if p.is_file())
    clean = sorted(p.relative_to(tmp_path / "clean") for p in (tmp_path / "clean").rglob("*")
                   if p.is_file())
    assert ours == clean


def test_a_pending_note_never_claims_a_file_someone_changed_since(project: Project) -> None:
    from feedpress.feeds import output

    age(project.post("alpha", "p", "Body.\n", tags=["keep"]))
    cached_build(project)
    theirs = project.out / "tags" / "theirs" / "rss.xml"
    theirs.parent.mkdir(parents=True)
    theirs.write_bytes(b"<rss>someone's</rss>")
    (project.out / output.PENDING).write_text(
        '["tags/theirs/rss.xml", 21, "' + "0" * 64 + '"]\n["../../etc/passwd", 1, "x"]\n'
        '["tags/theirs/rss.xml", 2')  # the digest of other bytes; a path out; a cut line
    cached_build(project)
    assert theirs.read_bytes() == b"<rss>someone's</rss>"


def test_a_pending_note_after_a_build_that_finished_is_no_builds(project: Project) -> None:
    """Whoever can write into the output folder could forge a note naming their own files
    with their digests; only after a build that did not finish is a note a build's
    (second attacker round: a forged note removed robots.txt)."""
    from blake3 import blake3

    from feedpress.feeds import output

    age(project.post("alpha", "p", "Body.\n"))
    cached_build(project)
    mine = project.out / "robots.txt"
    mine.write_bytes(b"User-agent: *\nDisallow:\n")
    (project.out / output.PENDING).write_text(
        f'["robots.txt", {mine.stat().st_size}, "{blake3(mine.read_bytes()).hexdigest()}"]\n')
    age(project.post("alpha", "q", "Another.\n"))
    cached_build(project)
    assert mine.read_bytes() == b"User-agent: *\nDisallow:\n"
    assert not (project.out / output.PENDING).exists()


def test_a_note_left_by_a_killed_build_without_the_cache_is_taken_up(project: Project) -> None:
    """`build --no-cache` leaves the cache no word of itself: killed, its note said the
    only thing that its files are feedpress's (attacker's trial: a tag's feeds stayed
    published for good). Only files named as a build names its own are taken."""
    from blake3 import blake3

    from feedpress.feeds import output

    age(project.post("alpha", "p", "Body.\n"))
    cached_build(project)
    orphan = project.out / "tags" / "zap" / "rss.xml"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"<rss>a tag gone since</rss>")
    mine = project.out / "robots.txt"
    mine.write_bytes(b"User-agent: *\n")
    (project.out / output.PENDING).write_text("".join(
        f'["{path.relative_to(project.out)}", {path.stat().st_size}, '
        f'"{blake3(path.read_bytes()).hexdigest()}"]\n' for path in (orphan, mine)))
    age(project.post("alpha", "q", "Another.\n"))
    report = cached_build(project)
    assert PurePosixPath("tags/zap/rss.xml") in report.outcome.removed
    assert not orphan.exists() and mine.read_bytes() == b"User-agent: *\n"
    assert not (project.out / output.PENDING).exists()


def test_a_killed_first_build_says_which_files_it_takes_for_its_own(project: Project) -> None:
    """Its manifest is missing, and the warning said feedpress took none of the folder's
    files for its own, while it took those the note named (attacker's trial)."""
    from blake3 import blake3

    from feedpress.feeds import output

    age(project.post("alpha", "p", "Body.\n"))
    cached_build(project)
    (project.out / output.MANIFEST).unlink()
    feed = project.out / "rss.xml"
    (project.out / output.PENDING).write_text(
        f'["rss.xml", {feed.stat().st_size}, "{blake3(feed.read_bytes()).hexdigest()}"]\n')
    age(project.post("alpha", "q", "Another.\n"))
    report = cached_build(project)
    [said] = [w.message for w in report.warnings if w.path.name == output.MANIFEST]
    assert said.startswith("missing: feedpress takes for its own only the 1 file its last")


def _note(project: Project, *paths: Path) -> None:
    """A note as a build writes it, naming `paths` (in the output folder) as they are."""
    from blake3 import blake3

    from feedpress.feeds import output

    (project.out / output.PENDING).write_text("".join(
        f'["{path.relative_to(project.out)}", {path.stat().st_size}, '
        f'"{blake3(path.read_bytes()).hexdigest()}"]\n' for path in paths))


def test_a_note_names_only_files_named_as_a_build_names_its_own(project: Project) -> None:
    """After a build the cache does not vouch for (it left no memo), a forged note
    took every file it named (second attacker round: .htaccess and an image went)."""
    age(project.post("alpha", "p", "Body.\n"))
    cached_build(project)
    with sqlite3.connect(project.root / ".feedpress" / "cache.sqlite") as cache:
        cache.execute("DELETE FROM meta WHERE key = 'memo'")  # as after a troubled build
    theirs = [project.out / ".htaccess", project.out / "images" / "logo.png",
              project.out / "about" / "index.html", project.out / "uploads" / "feed.min.xsl",
              project.out / "alpha" / "x" / "feeds.opml"]  # names a build writes, elsewhere
    for path in theirs:
        path.parent.mkdir(parents=True, exist_ok=True)
    for path in theirs:
        path.write_bytes(b"someone's")
    _note(project, *theirs)
    age(project.post("alpha", "q", "Another.\n"))
    cached_build(project)
    assert all(path.read_bytes() == b"someone's" for path in theirs)


def test_a_note_naming_a_file_through_a_linked_folder_is_not_taken(project: Project,
                                                                     tmp_path: Path) -> None:
    """It was taken, then left at its removal with a warning (and no memo): a build writes
    through no link, so such a file is no build's (third check)."""
    age(project.post("alpha", "p", "Body.\n"))
    cached_build(project)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "rss.xml").write_bytes(b"<rss>elsewhere</rss>")
    (project.out / "linked").symlink_to(elsewhere)
    _note(project, project.out / "linked" / "rss.xml")
    age(project.post("alpha", "q", "Another.\n"))
    report = cached_build(project)
    assert not [w for w in report.warnings if "not removed" in w.message]
    assert (elsewhere / "rss.xml").read_bytes() == b"<rss>elsewhere</rss>"


def test_a_note_left_since_the_last_build_is_read_however_little_changed(
        project: Project) -> None:
    """A killed `--no-cache` build whose inputs were then put back: the next build took
    the shortcut for nothing changed, and never read the note (second attacker round)."""
    age(project.post("alpha", "p", "Body.\n"))
    cached_build(project)
    orphan = project.out / "tags" / "zzz" / "rss.xml"
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"<rss>from a killed build</rss>")
    _note(project, orphan)
    report = cached_build(project)
    assert PurePosixPath("tags/zzz/rss.xml") in report.outcome.removed


def test_feeds_written_while_a_page_fails_are_known_to_the_next_build(project: Project) -> None:
    """The pages and the OPML file are written while the workers write the feeds: when
    they fail, the feeds written meanwhile must be in the manifest the build leaves, or
    no later build removes them (attacker's trial)."""
    from feedpress.errors import FeedpressError
    from feedpress.feeds import output

    age(project.post("alpha", "p", "Body.\n"))
    cached_build(project)
    (project.out / "feeds.opml").unlink()
    (project.out / "feeds.opml" / "x").mkdir(parents=True)  # a folder where the file goes
    age(project.post("alpha", "zap", "Zap.\n", tags=["zap"]))
    with pytest.raises(FeedpressError, match=r"feeds\.opml: cannot write"):
        cached_build(project)  # an error, not a traceback
    assert (project.out / "tags" / "zap" / "rss.xml").exists()
    # Kept: workers may have written files that one worker's error kept from the record.
    assert (project.out / output.PENDING).exists()
    (project.out / "feeds.opml" / "x").rmdir()
    (project.out / "feeds.opml").rmdir()
    (project.posts / "alpha" / "zap.md").unlink()
    report = cached_build(project)
    assert PurePosixPath("tags/zap/rss.xml") in report.outcome.removed
    assert not (project.out / "tags" / "zap").exists()


def test_a_pipe_or_a_link_where_feedpress_keeps_notes_or_its_lock_is_an_error(
        project: Project, tmp_path: Path) -> None:
    from feedpress.errors import FeedpressError
    from feedpress.feeds import output

    age(project.post("alpha", "p", "Body.\n"))
    cached_build(project)
    os.mkfifo(project.out / output.PENDING)
    age(project.post("alpha", "q", "Body.\n"))
    with pytest.raises(FeedpressError, match="remove it"):
        build(project.config(), NOW)  # no cache: it would hang on the pipe
    (project.out / output.PENDING).unlink()
    lock = default_cache(project.config()).with_name("build.lock")
    lock.unlink()
    lock.symlink_to(tmp_path / "made-by-the-lock")
    with pytest.raises(FeedpressError, match="remove it if it is not a plain file"):
        cached_build(project)
    assert not (tmp_path / "made-by-the-lock").exists()
