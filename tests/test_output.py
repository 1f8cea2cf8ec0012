"""Writing output files: whole or not at all, readable by a web server, nothing left behind."""

from __future__ import annotations

import itertools
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import pytest
from blake3 import blake3

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
    assert output.read_manifest(tmp_path)[0] == {
        PurePosixPath(name): output.Entry(f"recipe-{n}", len(f"file {n}"),
                                          blake3(f"file {n}".encode()).hexdigest())
        for n, name in enumerate(names)}
    lines = (tmp_path / output.MANIFEST).read_text("utf-8").splitlines()
    assert len(lines) == len(names) + 2  # a line per file, between the braces


def test_a_file_changed_to_the_same_size_is_left_and_reported(tmp_path: Path) -> None:
    from pathlib import PurePosixPath

    first = output.Output(tmp_path)
    for name in ("kept.xml", "same-size.xml", "gone.xml"):
        first.put(PurePosixPath(name), b"<feed>feedpress</feed>", recipe=name)
    first.finish()
    (tmp_path / "same-size.xml").write_bytes(b"<feed>their own!</feed>")  # 23 bytes too
    second = output.Output(tmp_path)
    second.put(PurePosixPath("kept.xml"), b"<feed>feedpress</feed>", recipe="kept.xml")
    outcome = second.finish()
    assert outcome.removed == [PurePosixPath("gone.xml")]
    assert second.left == [PurePosixPath("same-size.xml")]
    assert (tmp_path / "same-size.xml").read_bytes() == b"<feed>their own!</feed>"
    assert not (tmp_path / "gone.xml").exists()


def test_a_manifest_without_digests_removes_nothing_and_is_made_whole(tmp_path: Path) -> None:
    """A manifest of an older feedpress, or one edited by hand, recorded no digests: its
    files are never removed, and the next build writes them again with their digests."""
    from pathlib import PurePosixPath

    (tmp_path / "old.xml").write_bytes(b"<rss/>")
    (tmp_path / "kept.xml").write_bytes(b"<rss/>")
    (tmp_path / output.MANIFEST).write_text(json.dumps({"files": {
        "old.xml": {"recipe": "r1", "size": 6}, "kept.xml": {"recipe": "r2", "size": 6}}}))
    sink = output.Output(tmp_path)
    assert not sink.fresh(PurePosixPath("kept.xml"), "r2")  # made again: no digest known
    sink.put(PurePosixPath("kept.xml"), b"<rss/>", recipe="r2")
    outcome = sink.finish()
    assert outcome.removed == [] and sink.left == [PurePosixPath("old.xml")]
    assert (tmp_path / "old.xml").exists()
    recorded = json.loads((tmp_path / output.MANIFEST).read_text())["files"]
    assert recorded == {"kept.xml": {"recipe": "r2", "size": 6,
                                     "digest": blake3(b"<rss/>").hexdigest()}}


@pytest.mark.parametrize("entry", [
    '"big.xml": {"recipe": "r", "size": 1e400, "digest": "d"}',
    '"nul\\u0000.xml": {"recipe": "r", "size": 6, "digest": "d"}',
    '"half\\ud800.xml": {"recipe": "r", "size": 6, "digest": "d"}',
    f'"{"x" * 5000}.xml": {{"recipe": "r", "size": 6, "digest": "d"}}',
    f'"{"/".join(["d"] * 2100)}": {{"recipe": "r", "size": 6, "digest": "d"}}',
    '"": {"recipe": "r", "size": 6, "digest": "d"}',
    '"../../victim.txt": {"recipe": "r", "size": 6, "digest": "d"}',
    '"/etc/passwd": {"recipe": "r", "size": 6, "digest": "d"}',
    '"bool.xml": {"recipe": "r", "size": true, "digest": "d"}',
    '"list.xml": ["r", 6]',
])
def test_a_damaged_manifest_entry_is_left_out_and_said(tmp_path: Path, entry: str) -> None:
    from pathlib import PurePosixPath

    (tmp_path / "kept.xml").write_bytes(b"<rss/>")
    digest = blake3(b"<rss/>").hexdigest()
    (tmp_path / output.MANIFEST).write_text(
        '{"files": {' + entry + f', "kept.xml": {{"recipe": "r", "size": 6, "digest": '
        f'"{digest}"}}}}}}', encoding="utf-8")
    sink = output.Output(tmp_path)
    assert list(sink.previous) == [PurePosixPath("kept.xml")]
    assert sink.damaged == ("1 of its entries are not as feedpress writes them: those files "
                            "are not removed")
    outcome = sink.finish()  # kept.xml is no longer built: still removed, as recorded
    assert outcome.removed == [PurePosixPath("kept.xml")]


@pytest.mark.parametrize("text", ['{"files": [1, 2]}', "[]", "null", '{"files"', ""])
def test_a_manifest_that_does_not_read_is_none_and_said(tmp_path: Path, text: str) -> None:
    (tmp_path / output.MANIFEST).write_text(text, encoding="utf-8")
    sink = output.Output(tmp_path)
    assert sink.previous == {}
    assert sink.damaged is not None and sink.damaged.startswith("cannot be read")


def test_a_missing_manifest_is_said_only_where_files_are(tmp_path: Path) -> None:
    assert output.Output(tmp_path / "new").damaged is None
    assert output.Output(tmp_path).damaged is None  # there, and empty
    (tmp_path / "rss.xml").write_bytes(b"<rss/>")
    damaged = output.Output(tmp_path).damaged
    assert damaged is not None and damaged.startswith("missing, in a folder that already holds")


@pytest.mark.parametrize("kind", ["fifo", "zero", "link", "huge"])
def test_a_manifest_that_is_not_a_file_of_a_manifests_size_is_not_read(
        tmp_path: Path, kind: str) -> None:
    manifest = tmp_path / output.MANIFEST
    (tmp_path / "rss.xml").write_bytes(b"<rss/>")
    if kind == "fifo":
        os.mkfifo(manifest)  # opening it to read would wait for a writer for ever
    elif kind == "zero":
        manifest.symlink_to("/dev/zero")  # reading it would fill the memory
    elif kind == "link":
        (tmp_path / "elsewhere.json").write_text('{"files": {}}')
        manifest.symlink_to(tmp_path / "elsewhere.json")
    else:
        with manifest.open("wb") as stream:
            stream.truncate(65 * 1024 * 1024)  # sparse: no disk spent
    sink = output.Output(tmp_path)
    assert sink.previous == {}
    assert sink.damaged is not None and sink.damaged.startswith("cannot be read")


def test_a_killed_writers_temporary_files_are_swept_and_a_live_ones_kept(
        tmp_path: Path) -> None:
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead = int(gone.stdout)  # a process that has ended
    (tmp_path / "tags" / "x").mkdir(parents=True)
    left = tmp_path / "tags" / "x" / f".rss.xml.{dead}.7.tmp"
    left.write_bytes(b"half a fe")
    live = tmp_path / f".atom.xml.{os.getpid()}.3.tmp"  # this very writer's
    live.write_bytes(b"")
    theirs = tmp_path / "tags" / "notes.tmp"
    theirs.write_bytes(b"not ours")
    assert files.sweep_temporary(tmp_path) == 1
    assert not left.exists() and live.exists() and theirs.exists()


def test_a_folder_made_by_another_writer_meanwhile_is_written_into(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two builds making the same new folder: one finds it missing, the other makes it
    before the first's mkdir; the first must write into it, not fail."""
    real_mkdir = os.mkdir

    def raced(path: str, mode: int = 0o777, *, dir_fd: int | None = None) -> None:
        real_mkdir(path, mode, dir_fd=dir_fd)  # the other build's
        raise FileExistsError(17, "File exists", path)

    monkeypatch.setattr(files.os, "mkdir", raced)
    assert files.write_under(tmp_path / "out", PurePosixPath("tags/new/rss.xml"), b"<rss/>")
    assert (tmp_path / "out" / "tags" / "new" / "rss.xml").read_bytes() == b"<rss/>"


def test_a_zombie_writers_temporary_files_are_swept(tmp_path: Path) -> None:
    """A killed build's workers stay zombies until reaped; `kill(pid, 0)` still succeeds
    for them, and the build after must not take them for running (attacker trial)."""
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        stat = Path(f"/proc/{child.pid}/stat")
        while stat.read_bytes().rpartition(b")")[2].split()[0] != b"Z":
            pass  # ended, not yet reaped: a zombie
        left = tmp_path / f".feed.json.{child.pid}.24.tmp"
        left.write_bytes(b"{")
        assert files.sweep_temporary(tmp_path) == 1
        assert not left.exists()
    finally:
        child.wait()
