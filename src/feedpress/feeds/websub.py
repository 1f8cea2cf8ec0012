"""WebSub: telling hubs which feeds changed, so readers that follow them update at once.

Every feed names the site's hubs (`websub.hubs`); a build notes the URL of
each feed file it wrote, for each hub, in `.feedpress/websub.json`; and
`feedpress ping`, run after the deploy, sends each hub `hub.mode=publish`
with those URLs. A URL stays due for a hub until that hub has taken it, so
a hub that is down is told on the next ping. A ping never fails the
publish: what could not be told is reported, and waits.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from feedpress.config import Config
from feedpress.feeds.catalog import feed_url
from feedpress.files import write_atomic
from feedpress.model import FEED_FILE_NAMES, Format

STATE_NAME = Path(".feedpress") / "websub.json"
TRIES = 3  # per hub and URL
TIMEOUT = 10.0  # seconds, per request
_FORMAT_OF: dict[str, Format] = {name: fmt for fmt, name in FEED_FILE_NAMES.items()}


@dataclass
class HubReport:
    """What one hub was told: the URLs it took, and why the rest wait."""

    hub: str
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    error: str | None = None


def state_path(config: Config) -> Path:
    return config.path.parent / STATE_NAME


def changed_urls(config: Config, written: Iterable[PurePosixPath]) -> list[str]:
    """The public URLs of the feed files among `written` (not the OPML, not other files)."""
    return [feed_url(config.site.feeds_url, path.parent, _FORMAT_OF[path.name])
            for path in written if path.name in _FORMAT_OF]


def remember(config: Config, urls: list[str]) -> None:
    """Make `urls` due for every hub of the site, beside what is due already."""
    if not config.site.hubs or not urls:
        return
    due = _load(state_path(config))
    for hub in config.site.hubs:
        due[hub] = list(dict.fromkeys([*due.get(hub, []), *urls]))
    _save(state_path(config), due)


def ping(config: Config, *, sleep: Callable[[float], None] = time.sleep,
         timeout: float = TIMEOUT) -> list[HubReport]:
    """Tell each hub the URLs due for it; keep what a hub did not take for the next ping."""
    path = state_path(config)
    due = _load(path)
    reports = []
    for hub in config.site.hubs:
        report = _tell(hub, due.get(hub, []), sleep, timeout)
        due[hub] = report.failed
        reports.append(report)
    _save(path, {hub: urls for hub, urls in due.items()
                 if urls and hub in config.site.hubs})
    return reports


def _tell(hub: str, urls: list[str], sleep: Callable[[float], None],
          timeout: float) -> HubReport:
    """Each URL in turn; after one that the hub did not take in all its tries, the rest
    wait too: a hub that is down must not cost every URL its tries."""
    report = HubReport(hub)
    for index, url in enumerate(urls):
        error = _publish(hub, url, sleep, timeout)
        if error is not None:
            report.failed = urls[index:]
            report.error = error
            break
        report.sent.append(url)
    return report


def _publish(hub: str, url: str, sleep: Callable[[float], None], timeout: float) -> str | None:
    """POST `hub.mode=publish` for `url`, trying up to `TRIES` times with a doubling wait;
    None when the hub took it (2xx), else the last reason it did not."""
    data = urllib.parse.urlencode({"hub.mode": "publish", "hub.url": url}).encode("ascii")
    error = ""
    for attempt in range(TRIES):
        if attempt:
            sleep(2.0 ** (attempt - 1))
        request = urllib.request.Request(hub, data=data, method="POST", headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": "feedpress WebSub publisher"})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                if 200 <= answer.status < 300:
                    return None
                error = f"{hub} answered {answer.status}"
        except urllib.error.HTTPError as exc:
            error = f"{hub} answered {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            error = f"cannot reach {hub}: {reason}"
    return error


def _load(path: Path) -> dict[str, list[str]]:
    """What is due for each hub; a missing or damaged file is nothing due."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    due = data.get("due") if isinstance(data, dict) else None
    if not isinstance(due, dict):
        return {}
    return {str(hub): [str(u) for u in urls] for hub, urls in due.items()
            if isinstance(urls, list)}


def _save(path: Path, due: dict[str, list[str]]) -> None:
    text = json.dumps({"due": due}, ensure_ascii=False, indent=2) + "\n"
    write_atomic(path, text.encode("utf-8"))
