"""WebSub: hubs named in every feed, and `feedpress ping` telling a real hub on loopback.

The hub is a real HTTP server on 127.0.0.1 that records each request it
gets, and can answer 500 or be shut; the feeds are parsed with feedparser.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import feedparser
import pytest
from lxml import etree

from conftest import BASE_CONFIG, Project
from test_feeds import atom_schema, json_feed_validator
from test_json import parsed
from test_send import feedpress


class Hub:
    """Records every publish request it takes; answers `status` (202 by default). It can
    refuse one URL with 400 (`refuse`), or redirect every publish with 302 (`redirect`),
    taking none of them."""

    def __init__(self, refuse: str = "", redirect: bool = False) -> None:
        self.requests: list[dict[str, list[str]]] = []
        self.status = 202
        self.refuse, self.redirect = refuse, redirect

    @contextmanager
    def serve(self) -> Iterator[str]:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = urllib.parse.parse_qs(self.rfile.read(length).decode("ascii"))
                refused = form.get("hub.url") == [hub.refuse] or hub.redirect
                if not refused:
                    hub.requests.append(form)
                self.send_response(302 if hub.redirect else 400 if refused else hub.status)
                if hub.redirect:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:  # where a followed redirect would land
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/"
        finally:
            server.shutdown()
            server.server_close()

    def told(self) -> list[str]:
        return [url for form in self.requests if form.get("hub.mode") == ["publish"]
                for url in form["hub.url"]]


def with_hubs(project: Project, *hubs: str) -> None:
    project.write_config({**BASE_CONFIG, "websub": {"hubs": list(hubs)}})


def test_every_feed_names_the_hubs(project: Project) -> None:
    with_hubs(project, "https://hub.example.org/", "https://other.example.org/hub")
    project.post("alpha", "one", tags=["Sahel"])
    project.build()
    for name in ("rss.xml", "atom.xml"):
        feed = feedparser.parse((project.out / "alpha" / name).read_bytes())
        hubs = [link["href"] for link in feed.feed.links if link.get("rel") == "hub"]
        assert hubs == ["https://hub.example.org/", "https://other.example.org/hub"], name
    atom = etree.parse(str(project.out / "alpha" / "atom.xml"))
    assert atom_schema().validate(atom), atom_schema().error_log
    data = json.loads((project.out / "tags" / "sahel" / "feed.json").read_text("utf-8"))
    json_feed_validator().validate(data)
    assert data["hubs"] == [{"type": "WebSub", "url": "https://hub.example.org/"},
                            {"type": "WebSub", "url": "https://other.example.org/hub"}]


def test_without_hubs_no_feed_names_one(project: Project) -> None:
    project.post("alpha", "one")
    project.build()
    assert b'rel="hub"' not in (project.out / "rss.xml").read_bytes()
    assert "hubs" not in json.loads((project.out / "feed.json").read_text("utf-8"))


def test_ping_tells_the_hub_the_feeds_that_changed_and_only_once(project: Project) -> None:
    hub = Hub()
    with hub.serve() as url:
        with_hubs(project, url)
        project.post("alpha", "one")
        project.build()
        first = parsed(feedpress(project, "ping", "--json"))
        told_first = hub.told()
        again = feedpress(project, "ping")
        project.post("beta", "two")
        project.build()
        second = parsed(feedpress(project, "ping", "--json"))
    feeds = "https://news.example.org/"
    every = {f"{feeds}{folder}{name}" for folder in ("", "alpha/", "beta/", "breaking/")
             for name in ("rss.xml", "atom.xml", "feed.json")}  # a cold build writes them all
    assert set(first["ping"]["hubs"][0]["sent"]) == every
    assert sorted(told_first) == sorted(every)
    assert again.code == 0 and "0 feed(s) told" in again.out
    second_sent = set(second["ping"]["hubs"][0]["sent"])
    assert f"{feeds}beta/rss.xml" in second_sent and f"{feeds}alpha/rss.xml" not in second_sent, \
        sorted(second_sent)
    assert all(h["failed"] == [] for h in second["ping"]["hubs"])


@pytest.mark.parametrize("trouble", ["500", "down"])
def test_a_hub_in_trouble_is_a_warning_and_its_feeds_stay_due(project: Project,
                                                                trouble: str) -> None:
    hub = Hub()
    sleeps: list[float] = []
    with hub.serve() as url:
        with_hubs(project, url)
        project.post("alpha", "one")
        project.build()
        hub.status = 500
        if trouble == "down":
            import socket

            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                dead = f"http://127.0.0.1:{probe.getsockname()[1]}/"
            with_hubs(project, dead)
            project.build()  # the config changed: every feed is written again, due for it
        from feedpress.feeds import ping

        (report,) = ping(project.config(), sleep=sleeps.append, timeout=2).hubs
        failed = report.failed
        assert failed and report.sent == [] and report.error
        assert sleeps[:2] == [1.0, 2.0]  # three tries, waiting 1 s then 2 s
        run = feedpress(project, "ping")  # still failing: a warning, exit 0
        assert run.code == 0 and "not told, due again at the next ping" in run.err
        if trouble == "500":
            assert "answered 500" in run.err
            hub.status = 202
            before = len(hub.told())
            fixed = parsed(feedpress(project, "ping", "--json"))
            assert sorted(fixed["ping"]["hubs"][0]["sent"]) == sorted(failed)
            assert sorted(hub.told()[before:]) == sorted(failed)
        else:
            assert "cannot reach" in run.err


def test_a_hub_that_is_not_https_is_a_config_error(project: Project) -> None:
    project.write_config({**BASE_CONFIG, "websub": {"hubs": ["http://hub.example.org/"]}})
    run = feedpress(project, "build")
    assert run.code == 1 and "websub.hubs" in run.err and "https" in run.err


@pytest.mark.parametrize("hub", ["https://[::1/", 'https://h.example/"><x>',
                                 "https://user:pw@h.example/", "https://h.example:99999/",
                                 "https://h.example:abc/", "ftp://h.example/"])
def test_a_hub_that_cannot_be_one_is_a_config_error(project: Project, hub: str) -> None:
    project.write_config({**BASE_CONFIG, "websub": {"hubs": [hub]}})
    run = feedpress(project, "check")
    assert run.code == 1 and "websub.hubs" in run.err and "Traceback" not in run.err


def test_hubs_are_spelled_one_way(project: Project) -> None:
    with_hubs(project, "HTTPS://Hub.Example.org:443/h", "https://hub.example.org/h")
    assert project.config().site.hubs == ("https://hub.example.org/h",)


def test_a_redirecting_hub_is_told_nothing_and_its_feeds_stay_due(project: Project) -> None:
    hub = Hub(redirect=True)
    with hub.serve() as url:
        with_hubs(project, url)
        project.post("alpha", "one")
        project.build()
        run = feedpress(project, "ping", "--json")
    result = parsed(run)
    (told,) = result["ping"]["hubs"]
    assert told["sent"] == [] and told["failed"] and "302" in told["error"]
    assert hub.requests == []


def test_one_refused_url_does_not_hold_back_the_others(project: Project) -> None:
    refused = "https://news.example.org/alpha/atom.xml"
    hub = Hub(refuse=refused)
    with hub.serve() as url:
        with_hubs(project, url)
        project.post("alpha", "one")
        project.build()
        result = parsed(feedpress(project, "ping", "--json"))
    (told,) = result["ping"]["hubs"]
    assert told["failed"] == [refused] and len(told["sent"]) == 11
    assert refused in told["error"]


def test_a_build_that_fails_half_way_leaves_its_feeds_due(project: Project) -> None:
    with_hubs(project, "https://hub.example.org/")
    project.post("alpha", "one")
    (project.out / "alpha" / "rss.xml").mkdir(parents=True)  # cannot be written
    failed = feedpress(project, "build")
    assert failed.code == 1
    due = json.loads((project.root / ".feedpress" / "websub.json").read_text("utf-8"))["due"]
    assert "https://news.example.org/alpha/rss.xml" in due["https://hub.example.org/"]


def test_builds_elsewhere_or_checking_note_nothing(project: Project, tmp_path: Any) -> None:
    with_hubs(project, "https://hub.example.org/")
    project.post("alpha", "one")
    assert feedpress(project, "build", "--out", str(tmp_path / "scratch")).code == 0
    assert feedpress(project, "build", "--check").code == 1
    assert not (project.root / ".feedpress" / "websub.json").exists()


def test_a_damaged_or_unwritable_state_is_a_warning_and_ping_exits_0(project: Project) -> None:
    with_hubs(project, "https://hub.example.org/")
    state = project.root / ".feedpress" / "websub.json"
    state.parent.mkdir()
    state.write_text("garbage{", encoding="utf-8")
    damaged = feedpress(project, "ping")
    assert damaged.code == 0 and "what was due is lost" in damaged.err
    state.unlink()
    state.mkdir()  # neither readable as a file nor writable
    stuck = parsed(feedpress(project, "ping", "--json"))
    assert stuck["ok"] is True and stuck["ping"]["warnings"]
