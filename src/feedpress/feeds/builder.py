"""The build: config and posts in, feed files out.

The stages run in order and each is a separate module: `posts` loads and
validates, `catalog` decides what is published where, `markup` renders,
`formats` serialises, `output` writes, `cache` remembers parsed posts and
built items between builds, and `memo` judges whether the last build
still stands. This module wires them together, spreads the per-post and
per-feed work over the machine's cores (`parallel`), and keeps score. It
decides nothing the stages decide (what is published is `catalog`'s, what
an item says is `formats`'), and knows nothing of the mail wing.

A rebuild does only what changed: if nothing did, it stops after a stat
of each post file; otherwise files whose size and mtime are as cached are
not read, posts whose bytes are as cached are not parsed, the catalog is
made from each post's card (`model.Card`) and a whole post is loaded only
to build its items, items are built only for posts that are new or
changed, and a feed whose recipe (its channel and the digests of its
items) is as the manifest says is not made again.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import itertools
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any, TypeVar

from feedpress.config import CACHE_FOLDER, Config, unsafe_output
from feedpress.errors import (
    FeedpressError,
    InvalidPostsError,
    Problem,
    Severity,
    UsageError,
    by_place,
)
from feedpress.feeds import cache as cache_module
from feedpress.feeds import (
    catalog,
    formats,
    markup,
    memo,
    output,
    pages,
    parallel,
    posts,
    websub,
)
from feedpress.feeds.cache import (
    Cache,
    Checked,
    Entry,
    open_cache,
    pack_card,
    pack_post,
    unpack_card,
)
from feedpress.feeds.posts import Stat
from feedpress.model import Card, Format, to_us
from feedpress.words import primary

CACHE_NAME = Path(CACHE_FOLDER) / "cache.sqlite"
_STORE_BATCH = 256  # parses stored at once: fewer calls into SQLite, little held
_RUN = 32  # posts whose items a worker makes in one task, stage by stage
_COMMIT_EVERY = 1024  # posts' items stored in one transaction (15 MB at 10,000 posts)



@dataclass(frozen=True)
class BuildReport:
    """What a build did: the files it touched, the posts it saw, what it warned about."""

    outcome: output.Outcome
    feeds: int
    posts: int
    skipped: int
    warnings: list[Problem] = field(default_factory=list)
    seconds: float = 0.0
    drafts: int = 0
    scheduled: int = 0  # dated after the build's clock: published by a later build
    next_due: datetime | None = None  # when the first of them is

    def summary(self, out: str) -> str:
        """One line for a person: what was published and what was not, where it went, and
        what that took. A forgotten `draft: true` shows here, not only in `check`."""
        o = self.outcome
        held = [_count(self.drafts, "draft"), _count(self.skipped, "invalid post", "skipped")]
        if self.scheduled:
            due = f" (next {self.next_due:%Y-%m-%d %H:%M %Z})" if self.next_due else ""
            held.insert(1, f"{self.scheduled:,} scheduled{due}")
        kept = "".join(f", {part}" for part in held if part)
        return (f"{_count(self.posts, 'post', 'published', always=True)}{kept}; "
                f"{_count(self.feeds, 'feed', always=True)} and feeds.opml in {out}: "
                f"{_count(len(o.written), 'file', 'written', always=True)}, "
                f"{len(o.unchanged):,} unchanged, {len(o.removed):,} removed; "
                f"{self.seconds:.2f}s")


def _count(n: int, noun: str, verb: str = "", *, always: bool = False) -> str:
    """"1 post published", "2 posts published"; "" for none unless `always`."""
    if not n and not always:
        return ""
    return f"{n:,} {noun}{'' if n == 1 else 's'}{' ' + verb if verb else ''}"


def default_cache(config: Config) -> Path:
    """Where a project keeps its build cache: `.feedpress/` beside its config."""
    return config.path.parent / CACHE_NAME


def _catalog(config: Config, now: datetime, cache: Cache, jobs: int,
             files: dict[str, Stat | None],
             problems: list[Problem]) -> tuple[catalog.Catalog, list[Card], list[Problem]]:
    """The catalog, the cards of every valid post, and every problem found on the way."""
    found = _check_all(config, files, cache, jobs, problems)
    valid = [checked.card for checked in found if checked.card is not None]
    for checked in found:
        problems.extend(checked.problems)
    cat, clashes = catalog.assemble(valid, now, config.posts_dir)
    return cat, valid, problems + [posts.located(p) for p in clashes]


def build(
    config: Config,
    now: datetime,
    *,
    out_dir: Path | None = None,
    dry_run: bool = False,
    keep_going: bool = False,
    cache_path: Path | None = None,
    jobs: int | None = None,
    clock: Callable[[], float] = time.perf_counter,
    progress: Progress | None = None,
) -> BuildReport:
    """Write every feed; with any invalid post, raise and write nothing (unless `keep_going`).

    `cache_path` None builds without a cache file (the CLI passes the
    project's); `jobs` is the number of processes (default: one per core);
    `progress` hears of each post parsed, item made and feed written.
    """
    started = clock()
    token = _PROGRESS.set(progress)
    if out_dir is not None:
        why = unsafe_output(out_dir, config.path.parent, config.posts_dir,
                            config.email.templates)
        if why:
            raise UsageError(f"--out: {why}")
    try:
        with _collector_paused():  # resumed once the build's own objects are gone
            report = _build(config, now, out_dir or config.output_dir, dry_run, keep_going,
                            cache_path, jobs or os.cpu_count() or 1)
    finally:
        _PROGRESS.reset(token)
    return replace(report, seconds=clock() - started)


def _build(config: Config, now: datetime, target: Path, dry_run: bool, keep_going: bool,
           cache_path: Path | None, workers: int) -> BuildReport:
    salt = cache_module.salt(config.fingerprint, config.site.timezone)
    with _cache_file(cache_path) as db_path, open_cache(db_path, salt) as store:
        files, problems = posts.discover(config)  # keyed by path under the posts folder
        inputs = _inputs(salt, target, keep_going, files, problems, store)
        kept = None if cache_path is None else _kept(store, inputs, now, target)
        if kept is not None:
            return kept
        unfinished = store.memo() is None  # the last build may have been killed half way
        if not dry_run:  # from here on, the last build's memo no longer describes the output
            store.remember(None)
            store.commit()
        cat, valid, problems = _catalog(config, now, store, workers, files, problems)
        cat, skipped = _usable(config, cat, problems, keep_going)
        sink = output.Output(target, dry_run=dry_run, trust=cache_path is not None,
                             sweep=unfinished, named=partial(catalog.named_as_built, config))
        specs = catalog.plan(config, cat)

        def own_files() -> list[Problem]:  # this process's, while the workers write feeds
            sink.put(catalog.OPML, formats.opml(config.site.title, specs,
                                                config.site.feeds_url,
                                                catalog.linked_format(config)))
            return _write_pages(config, cat, specs, sink)

        try:
            problems += _write_feeds(config, specs, store, db_path, sink, salt, workers,
                                     meanwhile=own_files)
        except FeedpressError:
            with contextlib.suppress(FeedpressError):  # the build's own error says why
                sink.keep_record()  # else the note of the files put in place stays
            raise
        outcome = sink.finish()
        problems += [Problem(target / path, None, None, "no longer built, but not removed: it "
                             "was changed since feedpress wrote it, or is not a plain file "
                             "in the output folder", Severity.WARNING) for path in sink.left]
        if sink.damaged:
            problems.append(Problem(target / output.MANIFEST, None, None, sink.damaged,
                                    Severity.WARNING))
        problems += [Problem(target / path, None, None, "written over a file that was not in "
                             "feedpress's manifest (changed by hand since, or another tool's)",
                             Severity.WARNING) for path in sink.replaced]
        window = memo.window(valid, now)
        later = to_us(now)
        report = BuildReport(outcome, len(specs), len(cat.posts), skipped,
                             sorted((_as_warning(p) for p in problems), key=by_place),
                             drafts=sum(card.draft for card in valid),
                             scheduled=sum(not card.draft and card.date_us > later
                                           for card in valid),
                             next_due=window[1])
        if cache_path is not None and not dry_run and inputs.settled and not sink.troubled:
            store.remember(_memo(inputs, window, sink.digest, report))
    return report


def _write_pages(config: Config, cat: catalog.Catalog, specs: list[catalog.FeedSpec],
                 sink: output.Output) -> list[Problem]:
    """The subscribe pages, and the stylesheet the RSS and Atom feeds point at, unless
    `feeds.pages` is off; a warning for each that a file of someone else's stands in the
    way of (it is left as it is)."""
    if not config.feeds.pages:
        return []
    languages = dict.fromkeys(primary(lang) for lang in
                              [config.site.language, *(b.language for b in config.blogs)])
    wanted = {catalog.stylesheet(config.site.language, lang): pages.stylesheet(config, lang)
              for lang in languages}
    wanted[PurePosixPath(catalog.PAGE)] = pages.site_page(config, cat, specs)
    for blog, page in pages.blog_pages(config, cat, specs).items():
        wanted[catalog.blog_folder(blog) / catalog.PAGE] = page
    return [Problem(sink.out_dir / path, None, None, "not written by feedpress, or "
                    "changed since: left as it is (remove it, or set feeds.pages: false)",
                    Severity.WARNING)
            for path, data in wanted.items() if not sink.put_own(path, data)]


def _usable(config: Config, cat: catalog.Catalog, problems: list[Problem],
            keep_going: bool) -> tuple[catalog.Catalog, int]:
    """The catalog without invalid posts, and how many were left out; or, unless
    `keep_going`, the error that lists every problem."""
    errors = {p.path for p in problems if p.is_error}
    if errors and not keep_going:
        raise InvalidPostsError(sorted(problems, key=by_place))
    bad = {key for path in errors if (key := posts.key_of(config, path)) is not None}
    return (_without(cat, bad) if errors else cat), len(errors)


def _memo(inputs: memo.Inputs, window: tuple[datetime | None, datetime | None], manifest: str,
          report: BuildReport) -> str:
    since, until = window
    return memo.Memo(inputs.digest, since, until, manifest, report.feeds, report.posts,
                     report.skipped, tuple(report.warnings), report.drafts,
                     report.scheduled).dumps()


def _inputs(salt: str, target: Path, keep_going: bool, files: dict[str, Stat | None],
            problems: list[Problem], store: Cache) -> memo.Inputs:
    """What a build reads, for `memo` to tell whether the last build still stands."""
    parts = [salt, str(target.resolve()), f"keep_going={keep_going}", *map(str, problems)]
    return memo.inputs(parts, files, store.settled_before_ns)


def _kept(store: Cache, inputs: memo.Inputs, now: datetime, target: Path) -> BuildReport | None:
    """The last build's report, if its inputs and output are as it left them."""
    last = memo.loads(store.memo())
    if last is None or not last.holds(inputs, now):
        return None
    files = output.intact(target, last.manifest)
    if files is None:
        return None
    return BuildReport(output.Outcome(unchanged=files), last.feeds, last.posts, last.skipped,
                       list(last.warnings), drafts=last.drafts, scheduled=last.scheduled,
                       next_due=last.until)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection for the length of a build.

    A build makes hundreds of thousands of objects that live until its end
    (a post is a dozen) and almost no reference cycles, so the collector's
    passes find nothing; at 100,000 posts they took a third of a rebuild.
    The collector resumes after they are freed: resumed while they lived,
    its first pass would walk them all (60 ms at 10,000 posts).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@contextmanager
def _cache_file(cache_path: Path | None) -> Iterator[Path]:
    """`cache_path`, or a throwaway cache file for a build that keeps none.

    A file rather than memory, because the workers that write feeds read
    their items from it.
    """
    if cache_path is not None:
        with cache_module.one_build(cache_path):
            yield cache_path
        return
    with tempfile.TemporaryDirectory(prefix="feedpress-") as folder:
        yield Path(folder) / "cache.sqlite"


def _check_all(config: Config, files: dict[str, Stat | None], cache: Cache, jobs: int,
               problems: list[Problem]) -> list[Checked]:
    """Parse what the cache cannot vouch for; reuse the rest. In the order of `files`."""
    found: dict[str, Checked] = {}
    misses: list[str] = []
    known = cache.entries()
    cache.forget(known.keys() - files.keys())
    for key, stat in files.items():
        hit = _cached(config, key, stat, known.get(key), cache)
        if hit is None:
            misses.append(key)  # parsed below by a worker, which reads the file itself
        else:
            found[key] = hit
    cache.commit()  # no lock or open transaction may be inherited by the workers forked below
    if not misses:
        return list(found.values())
    found.update(_parse_all(config, misses, cache, jobs, problems))
    return [found[key] for key in files if key in found]


def _parse_all(config: Config, keys: list[str], cache: Cache, jobs: int,
               problems: list[Problem]) -> dict[str, Checked]:
    """Parse the files `keys`, on `jobs` processes, storing each parse as it comes back."""
    found = {}
    batch: list[tuple[str, Stat, str, bytes, bytes]] = []
    results = parallel.pmap(partial(_parse_file, config), keys, jobs)
    for key, result in zip(keys, _counted(results, "parsing posts", len(keys)), strict=True):
        if isinstance(result, Problem):
            problems.append(result)
            continue
        batch.append((key, *result))
        if len(batch) == _STORE_BATCH:
            cache.store_packed(batch)
            batch.clear()
        found[key] = unpack_card(result[2], config.posts_dir, key)
    cache.store_packed(batch)
    return found


def _cached(config: Config, key: str, stat: Stat | None, known: Entry | None,
            cache: Cache) -> Checked | None:
    """The cached card of file `key` if its stat, or failing that its bytes, are unchanged."""
    if known is None or stat is None:
        return None
    if (known.size, known.mtime_ns) == stat:
        return unpack_card(known.card, config.posts_dir, key)
    try:
        _, data = posts.read_capped(config.posts_dir / key)
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != known.digest:
        return None
    cache.restat(key, stat)
    return unpack_card(known.card, config.posts_dir, key)


def _parse_file(config: Config, key: str) -> tuple[Stat, str, bytes, bytes] | Problem:
    """Read, hash and parse one post file: the per-post work a worker process does.

    The result travels back packed as the cache stores it, card and full
    post: cheaper to send between processes than pickled dataclasses, and
    stored as it comes.
    """
    source = posts.read(config, config.posts_dir / key)
    if isinstance(source, Problem):
        return source
    post, problems = posts.parse(source, config)
    digest = post.digest if post is not None else hashlib.sha256(source.data).hexdigest()
    card = None if post is None else Card.of(post, key)
    return (Stat(source.size, source.mtime_ns), digest, pack_card(card, problems),
            b"" if post is None else pack_post(post))


@dataclass(frozen=True)
class _Work:
    """What the feed-writing workers share: the items to build and the feeds to make."""

    config: Config
    missing: list[tuple[str, str, bytes]]  # (key, digest, `pack_post`): items to build
    stale: list[tuple[catalog.FeedSpec, tuple[Format, ...]]]
    cache_path: Path
    out_dir: Path
    dry_run: bool


def _write_feeds(config: Config, specs: list[catalog.FeedSpec], store: Cache, cache_path: Path,
                 sink: output.Output, salt: str, jobs: int, *,
                 meanwhile: Callable[[], T]) -> T:
    """Make every feed whose recipe changed, building only the items not cached yet; and
    `meanwhile`, in this process while the workers write the feeds. Its result.

    The items of new and changed posts are built by the workers and stored
    here; then the workers write the feeds, reading the items back from
    the cache, so that no process holds them all.
    """
    wanted = config.feeds.formats
    recipes = {(spec.folder, fmt): recipe for spec in specs
               for fmt, recipe in zip(wanted, _recipes(spec, wanted, salt), strict=True)}
    stale = [(spec, todo) for spec in specs
             if (todo := tuple(fmt for fmt in wanted
                               if not sink.fresh(spec.file(fmt), recipes[spec.folder, fmt])))]
    before = None
    if not sink.dry_run and sink.out_dir == config.output_dir:  # what is published
        # Due a WebSub ping before they are written: a build that fails half way loses none.
        before = websub.remember(config, websub.feed_urls(
            config, (spec.file(fmt) for spec, todo in stale for fmt in todo)))
    sink.expect(spec.file(fmt) for spec, todo in stale for fmt in todo)
    work = _Work(config, _missing_items(stale, store), stale, cache_path, sink.real,
                 sink.dry_run)
    store.commit()  # no lock or open transaction may be inherited by the workers forked below
    with parallel.Shared(work, jobs) as workers:
        runs = workers.map(_items_of, -(-len(work.missing) // _RUN), units=len(work.missing))
        made = _counted(itertools.chain.from_iterable(runs), "rendering posts",
                        len(work.missing))
        rows = ((key, digest, items)  # consumed as the workers deliver: no build holds them all
                for (key, digest, _), items in zip(work.missing, made, strict=True))
        while store.store_items(itertools.islice(rows, _COMMIT_EVERY)):
            store.commit()  # the disk catches up while the workers render, not after
        under_way = _counted(workers.map(_feeds_of, len(stale)), "writing feeds", len(stale))
        try:
            result = meanwhile()
        except FeedpressError:  # the feeds the workers write are recorded all the same, for
            _record(stale, under_way, recipes, sink)  # the manifest the build leaves
            raise
        _record(stale, under_way, recipes, sink)
    if before is not None:  # now only the feeds that were written, as they came out
        websub.remember(config, websub.feed_urls(config, sink.outcome.written), before)
    return result


def _record(stale: list[tuple[catalog.FeedSpec, tuple[Format, ...]]],
            written: Iterable[list[tuple[int, str, bool]]],
            recipes: dict[tuple[PurePosixPath, Format], str], sink: output.Output) -> None:
    """Account in `sink` for each feed file the workers wrote, as they deliver them."""
    for (spec, todo), files in zip(stale, written, strict=True):
        for fmt, (size, digest, was_written) in zip(todo, files, strict=True):
            sink.record(spec.file(fmt), output.Entry(recipes[spec.folder, fmt], size, digest),
                        was_written)


Progress = Callable[[str, int, int], None]  # a stage, how many done, of how many
_PROGRESS: ContextVar[Progress | None] = ContextVar("progress", default=None)
T = TypeVar("T")


def _counted(things: Iterable[T], stage: str, total: int) -> Iterator[T]:
    """`things` as they come, telling the build's `progress` (if any) of each."""
    told = _PROGRESS.get()
    if told is None:
        yield from things
        return
    for done, thing in enumerate(things, start=1):
        told(stage, done, total)
        yield thing


def _missing_items(stale: list[tuple[catalog.FeedSpec, tuple[Format, ...]]],
                   store: Cache) -> list[tuple[str, str, bytes]]:
    """The posts in `stale` feeds whose items the cache does not hold, each as (key, digest,
    the post as `pack_post` packed it).

    Read here rather than by the workers, which build these items while
    this process stores them: the cache's rollback journal keeps readers
    out while a writer commits.
    """
    needed = list({post.key: post.digest for spec, _ in stale for post in spec.posts}.items())
    have = store.has_items(needed)
    missing = [(key, digest) for key, digest in needed if key not in have]
    parsed = store.parsed(missing)
    return [(key, digest, parsed[key]) for key, digest in missing]


def _items_of(work: _Work, index: int) -> list[bytes]:
    """A worker's task: the items of a run of posts, each in every format (see
    `formats.item_fragments`) and packed as the cache stores it.

    Each stage runs over the whole run before the next (all bodies rendered,
    then all sanitised...): each library's code then stays in the processor's
    caches, which made items a fifth faster than post by post.
    """
    folder = work.config.posts_dir
    run = [cache_module.unpack_post(parsed, folder / key)
           for key, _, parsed in work.missing[index * _RUN : (index + 1) * _RUN]]
    rendered = markup.render_all(run, [posts.read_body(post) for post in run],
                                 work.config.site.root, xml_safe_bodies=True)
    return [cache_module.pack_items(formats.item_fragments(post, done, work.config.feeds))
            for post, done in zip(run, rendered, strict=True)]


def _feeds_of(work: _Work, index: int) -> list[tuple[int, str, bool]]:
    """A worker's task: one feed's files, put in place; each one's size and digest, and
    whether it was written. Its formats share their content, read once."""
    spec, todo = work.stale[index]
    keys = [(p.key, p.digest) for p in spec.posts]
    found = cache_module.reader(work.cache_path).items(keys)
    done = []
    for fmt in todo:
        data = formats.feed(work.config.site, spec, fmt, [found[key] for key, _ in keys],
                            stylesheet=work.config.feeds.pages)
        summed = output.digest(data)
        done.append((len(data), summed, output.place(work.out_dir, spec.file(fmt), data,
                                                     work.dry_run, noted=summed)))
    return done


def _recipes(spec: catalog.FeedSpec, formats: tuple[Format, ...], salt: str) -> list[str]:
    """A digest, per format, of everything a feed file is made from: same recipe, same bytes."""
    common = hashlib.sha256("\0".join([
        salt, spec.kind, str(spec.folder), spec.title, spec.description, spec.link,
        spec.language, repr(spec.authors),
        *(f"{post.key}\0{post.digest}" for post in spec.posts)]).encode("utf-8"))
    return [_with(common, fmt).hexdigest() for fmt in formats]


def _with(digest: Any, fmt: Format) -> Any:
    mine = digest.copy()
    mine.update(b"\0" + fmt.encode("ascii"))
    return mine


def _without(cat: catalog.Catalog, bad: set[str]) -> catalog.Catalog:
    return catalog.Catalog(tuple(p for p in cat.posts if p.key not in bad), cat.tags)


def _as_warning(problem: Problem) -> Problem:
    if problem.is_error:
        return Problem(problem.path, problem.line, problem.field,
                       f"{problem.message} (post skipped)", Severity.WARNING)
    return problem
