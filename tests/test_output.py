"""Writing output files: whole or not at all, readable by a web server, nothing left behind."""

from __future__ import annotations

import itertools
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from feedpress import files
from feedpress.errors import FeedpressError
from feedpress.feeds import output


@pytest.fixture
def strict_umask() -> Iterator[None]:
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def test_a_written_file_is_world_readable_whatever_the_umask(
        tmp_path: Path, strict_umask: None) -> None:
    target = tmp_path / "rss.xml"
    files.write_atomic(target, b"<rss/>")
    assert target.read_bytes() == b"<rss/>"
    assert stat.S_IMODE(target.stat().st_mode) == 0o644


def test_a_rewrite_replaces_the_file_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "rss.xml"
    files.write_atomic(target, b"old")
    files.write_atomic(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rss.xml"]


def test_missing_folders_are_made(tmp_path: Path) -> None:
    target = tmp_path / "blog" / "tags" / "x" / "atom.xml"
    files.write_atomic(target, b"<feed/>")
    assert target.read_bytes() == b"<feed/>"


def test_a_temporary_file_left_by_a_killed_build_is_stepped_over(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(files, "_TEMP_COUNT", itertools.count(7))
    leftover = tmp_path / f".rss.xml.{os.getpid()}.7.tmp"
    leftover.write_bytes(b"half a feed")
    files.write_atomic(tmp_path / "rss.xml", b"<rss/>")
    assert (tmp_path / "rss.xml").read_bytes() == b"<rss/>"
    assert leftover.read_bytes() == b"half a feed"  # not ours to remove, nor to reuse


def test_a_file_where_its_folder_should_be_is_an_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "blog").write_bytes(b"")
    with pytest.raises(FeedpressError, match=r"blog/rss\.xml: cannot write: Not a directory"):
        files.write_atomic(tmp_path / "blog" / "rss.xml", b"<rss/>")


def test_the_manifest_reads_back_what_was_written_whatever_the_names(tmp_path: Path) -> None:
    from pathlib import PurePosixPath

    names = ['tags/война/rss.xml', 'tags/"quoted"\\back/atom.xml', "tags/حرب/feed.json",
             "rss.xml", "tags/tab\there/rss.xml"]
    sink = output.Output(tmp_path)
    for n, name in enumerate(names):
        sink.put(PurePosixPath(name), f"file {n}".encode(), recipe=f"recipe-{n}")
    sink.finish()
    assert output.read_manifest(tmp_path) == {
        PurePosixPath(name): output.Entry(f"recipe-{n}", len(f"file {n}"))
        for n, name in enumerate(names)}
    lines = (tmp_path / output.MANIFEST).read_text("utf-8").splitlines()
    assert len(lines) == len(names) + 2  # a line per file, between the braces
