"""Fixtures shared by the tests: small throwaway projects written to real folders."""

from __future__ import annotations

import atexit
import contextlib
import io
import shutil
import tempfile
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from feedpress import config as config_module
from feedpress.config import Config
from feedpress.feeds import BuildReport, build

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"


def _sample_copy() -> Path:
    """The bundled sample project (config, posts, templates, subscribers), copied once per
    test run: a ledger, cache or output left in the repository by someone trying the
    sample must not change what the tests see."""
    folder = Path(tempfile.mkdtemp(prefix="feedpress-sample-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    for name in ("feedpress.yaml", "subscribers.csv"):
        shutil.copy(ROOT / name, folder / name)
    for name in ("posts", "email_templates"):
        shutil.copytree(ROOT / name, folder / name)
    return folder


SAMPLE = _sample_copy()
SAMPLE_CONFIG = SAMPLE / "feedpress.yaml"
NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

BASE_CONFIG: dict[str, Any] = {
    "site": {
        "title": "Test Newsroom",
        "url": "https://news.example.org/",
        "description": "Test site.",
        "language": "en",
        "timezone": "Europe/London",
        "author": "desk",
    },
    "blogs": {
        "alpha": {"title": "Alpha", "description": "About Alpha.", "language": "en"},
        "beta": {"title": "بيتا", "description": "عن بيتا", "language": "ar"},
    },
    "authors": {
        "desk": {"name": "News Desk", "email": "desk@news.example.org"},
        "ann": {"name": "Ann Writer", "url": "https://news.example.org/ann/"},
    },
}


class Project:
    """A feedpress project in a temporary folder, written file by file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.config_path = root / "feedpress.yaml"
        self.posts = root / "posts"
        self.out = root / "public"
        self.write_config(BASE_CONFIG)

    def write_config(self, data: dict[str, Any] | str) -> Path:
        text = data if isinstance(data, str) else yaml.safe_dump(data, allow_unicode=True)
        self.config_path.write_text(text, encoding="utf-8")
        return self.config_path

    def post(self, blog: str, name: str, body: str = "Body text.\n", **front: Any) -> Path:
        """Write posts/<blog>/<name>.md with `front` as its YAML front matter."""
        front.setdefault("title", name.replace("-", " ").title())
        front.setdefault("date", "2026-11-01T10:00:00Z")
        header = yaml.safe_dump(front, allow_unicode=True, sort_keys=False)
        return self.raw(f"{blog}/{name}.md", f"---\n{header}---\n{body}")

    def raw(self, relpath: str, content: str | bytes) -> Path:
        """Write a post file byte for byte, for inputs `post` cannot express."""
        path = self.posts / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_bytes(content.encode("utf-8"))
        else:
            path.write_bytes(content)
        return path

    def config(self) -> Config:
        return config_module.load(self.config_path)

    def build(self, now: datetime = NOW, **options: Any) -> BuildReport:
        return build(self.config(), now, **options)


def run_main(argv: list[str]) -> tuple[int, str, str]:
    """`feedpress ARGV` through the console script's `main`, as a user runs it.

    Returns the exit code, stdout and stderr; an exception that escapes
    `main` is printed as the traceback a user would see, with code 1.
    """
    from feedpress.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(argv)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        except Exception:  # noqa: BLE001 - shown as the user would see it
            traceback.print_exc()
            code = 1
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(autouse=True)
def _no_outside_ledger(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ledger URL in the developer's environment must never reach a test's sends, and
    a CI machine's CI variable must not turn the Maildir sends of tests into refusals."""
    monkeypatch.delenv("FEEDPRESS_STATE_URL", raising=False)
    monkeypatch.delenv("CI", raising=False)


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Any]:
    """One PostgreSQL server on loopback for the whole run (see postgres_server.py)."""
    from postgres_server import Cluster

    cluster = Cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test once with the ledger in SQLite and once in a new PostgreSQL database,
    named by FEEDPRESS_STATE_URL as a CI job names it."""
    if request.param == "postgresql":
        cluster = request.getfixturevalue("postgres_cluster")
        monkeypatch.setenv("FEEDPRESS_STATE_URL", cluster.database())
    return str(request.param)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    yield Project(tmp_path)
