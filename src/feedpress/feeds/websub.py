"""WebSub: telling hubs which feeds changed, so readers that follow them update at once.

Every feed names the site's hubs (`websub.hubs`); a build notes the URL of
each feed file it is about to write, for each hub, in
`.feedpress/websub.json` (before writing, so a build that fails half way
loses nothing); and `feedpress ping`, run after the deploy, sends each
hub `hub.mode=publish` with those URLs. A URL stays due for a hub until
that hub has taken it, so a hub that is down is told at the next ping. A
ping never fails the publish: what could not be told is reported, and
waits.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from feedpress.config import CACHE_FOLDER, Config
from feedpress.errors import FeedpressError
from feedpress.feeds.catalog import feed_url
from feedpress.files import write_atomic
from feedpress.model import FEED_FILE_NAMES, Format

if TYPE_CHECKING:
    from urllib.request import OpenerDirector

STATE_NAME = Path(CACHE_FOLDER) / "websub.json"
TRIES = 3  # per hub and URL
TIMEOUT = 10.0  # seconds, per blocking read or connect of a request
_FORMAT_OF: dict[str, Format] = {name: fmt for fmt, name in FEED_FILE_NAMES.items()}


@dataclass
class HubReport:
    """What one hub was told: the URLs it took, and why the rest wait."""

    hub: str
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class PingReport:
    hubs: list[HubReport]
    warnings: list[str] = field(default_factory=list)


def state_path(config: Config) -> Path:
    return config.path.parent / STATE_NAME


def feed_urls(config: Config, files: Iterable[PurePosixPath]) -> list[str]:
    """The public URLs of the feed files among `files` (not the OPML, not other files)."""
    return [feed_url(config.site.feeds_url, path.parent, _FORMAT_OF[path.name])
            for path in files if path.name in _FORMAT_OF]


Due = dict[str, list[str]]


def remember(config: Config, urls: list[str], before: Due | None = None) -> Due | None:
    """Make `urls` due for every hub of the site, beside what was due (`before`, else what
    the state file holds); return what was due before, or None without hubs.

    A build calls it twice: with the feeds it may write, before writing (so a build that
    fails half way loses none), and then, with what was due before, with the feeds it
    did write (so a feed found unchanged is not told).
    """
    if not config.site.hubs:
        return None
    due = _load(state_path(config))[0] if before is None else before
    now = {hub: list(dict.fromkeys([*due.get(hub, []), *urls])) for hub in config.site.hubs}
    if now != due:
        _save(state_path(config), now)
    return due


def ping(config: Config, *, sleep: Callable[[float], None] = time.sleep,
         timeout: float = TIMEOUT) -> PingReport:
    """Tell each hub the URLs due for it; keep what a hub did not take for the next ping."""
    path = state_path(config)
    due, damaged = _load(path)
    report = PingReport([_tell(hub, due.get(hub, []), sleep, timeout)
                         for hub in config.site.hubs])
    if damaged:
        report.warnings.append(f"{path}: {damaged}; what was due is lost (the next build "
                               "notes the feeds it writes again)")
    for hub, urls in due.items():
        if hub not in config.site.hubs and urls:
            report.warnings.append(f"{hub} is no longer in websub.hubs: the {len(urls)} "
                                   "feed(s) due for it were dropped")
    if due or config.site.hubs:
        _forget_sent(path, report, config.site.hubs)
    return report


def _forget_sent(path: Path, report: PingReport, hubs: tuple[str, ...]) -> None:
    """Take what the hubs took off the state as it is now: a build may have run meanwhile."""
    due, _ = _load(path)
    sent = {r.hub: set(r.sent) for r in report.hubs}
    left = {hub: [u for u in due.get(hub, []) if u not in sent.get(hub, ())] for hub in hubs}
    try:
        _save(path, {hub: urls for hub, urls in left.items() if urls})
    except FeedpressError as exc:  # the hubs were told; only the note of it is lost
        report.warnings.append(f"{exc}: the feeds told will be told again at the next ping")


def _tell(hub: str, urls: list[str], sleep: Callable[[float], None],
          timeout: float) -> HubReport:
    """Each URL in turn. A URL the hub refuses (4xx) waits alone; after a failure of the
    hub itself (down, 5xx, 429) the rest wait too, so a hub that is down does not cost
    every URL its tries."""
    report = HubReport(hub)
    for index, url in enumerate(urls):
        error, the_url_alone = _publish(hub, url, sleep, timeout)
        if error is None:
            report.sent.append(url)
            continue
        report.error = error if not the_url_alone else f"{error} (for {url})"
        if not the_url_alone:
            report.failed.extend(urls[index:])
            break
        report.failed.append(url)
    return report


@lru_cache(maxsize=1)
def _opener() -> OpenerDirector:
    """An opener that never follows a redirect: a redirected publish would arrive as a GET
    without its body. Made when a ping first needs it (urllib's HTTP and TLS code is a
    tenth of a build's start-up)."""
    import urllib.request

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    return urllib.request.build_opener(NoRedirects)


def _publish(hub: str, url: str, sleep: Callable[[float], None],
             timeout: float) -> tuple[str | None, bool]:
    """POST `hub.mode=publish` for `url`, trying up to `TRIES` times with a doubling wait.
    None when the hub took it (2xx); else the last reason, and whether it was about this
    URL alone (a 4xx other than 408 and 429, not worth another try)."""
    from urllib.error import HTTPError, URLError
    from urllib.request import Request

    data = urllib.parse.urlencode({"hub.mode": "publish", "hub.url": url}).encode("ascii")
    error = ""
    for attempt in range(TRIES):
        if attempt:
            sleep(2.0 ** (attempt - 1))
        request = Request(hub, data=data, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "feedpress WebSub publisher"})
        try:
            with _opener().open(request, timeout=timeout) as answer:
                if 200 <= answer.status < 300:
                    return None, False
                error = f"{hub} answered {answer.status}"
        except HTTPError as exc:
            error = f"{hub} answered {exc.code} {exc.reason}"
            if 300 <= exc.code < 400:
                return f"{error}: give the hub's own address in websub.hubs", False
            if 400 <= exc.code < 500 and exc.code not in (408, 429):
                return error, True
        except (URLError, OSError, ValueError) as exc:
            error = f"cannot reach {hub}: {getattr(exc, 'reason', exc)}"
    return error, False


def _load(path: Path) -> tuple[dict[str, list[str]], str | None]:
    """What is due for each hub, and why the file could not be read if it was damaged (a
    missing file is nothing due)."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}, None
    except (OSError, ValueError) as exc:
        return {}, f"cannot read: {exc}"
    due = data.get("due") if isinstance(data, dict) else None
    if not isinstance(due, dict):
        return {}, "not a record of due feeds"
    return {str(hub): [str(u) for u in urls] for hub, urls in due.items()
            if isinstance(urls, list)}, None


def _save(path: Path, due: dict[str, list[str]]) -> None:
    text = json.dumps({"due": due}, ensure_ascii=False, indent=2) + "\n"
    write_atomic(path, text.encode("utf-8"))
