"""Files feedpress writes for people to edit: new projects, new posts, pinned ids.

It stands beside the CLI, above both wings, and uses them only through
their public faces (`feedpress.feeds.default_id`, the mail wing's shipped
templates). It never overwrites a file a person may have edited, except
to pin an id.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import NamedTuple
from zoneinfo import ZoneInfo

from feedpress.config import CONFIG_NAME, Config, unknown_blog
from feedpress.errors import FeedpressError, UsageError, relative
from feedpress.feeds import default_id
from feedpress.files import read_regular, rewrite, write_atomic, write_under
from feedpress.model import Post
from feedpress.text import slugify
from feedpress.version import __version__

_CONFIG = """\
# feedpress project: every key is described in feedpress's README.
site:
  title: My Newsroom
  url: https://example.org/
  description: News and analysis.
  language: en
  timezone: UTC

feeds:
  formats: [rss, atom, json]
  items: 50

blogs:
  news:
    title: News
    description: About this blog.

# The email digest and breaking-news alerts (see "The email: block" in the README).
# As it is, `feedpress digest --send` writes messages into outbox/ to look at, once
# subscribers.csv has a row and FEEDPRESS_SECRET holds a long random text of your own
# (it signs the unsubscribe links; keep it out of this file).
# email:
#   from: "My Newsroom <newsletter@example.org>"
#   subscribers: subscribers.csv            # email,name,blogs,tags,alerts
#   unsubscribe_url: "https://example.org/unsubscribe?token={token}&lang={lang}"
#   transport: smtp                         # smtp to send for real (and in CI)
#   smtp: {host: smtp.example.org, port: 587, security: starttls}
"""
_SUBSCRIBERS = "email,name,blogs,tags,alerts\n"  # a header: a send refuses a list this empty
_IGNORED = ("/public/", "/.feedpress/", "/outbox/")

_FENCE = re.compile(r"^(?:---|\.\.\.)[ \t]*\r?$", re.MULTILINE)
_TOML_FENCE = re.compile(r"^\+\+\+[ \t]*\r?$", re.MULTILINE)
_PELICAN_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*:")


WORKFLOW = Path(".github") / "workflows" / "publish.yml"
_TEMPLATES = Path(__file__).resolve().parent / "templates"


class Done(NamedTuple):
    """One thing `init_project` did to one file, or left for a person to do."""

    path: Path
    what: str  # "created", "added 2 lines to", or why it was left alone
    note: bool = False  # True: a warning, the file left as it was


def init_project(folder: Path, now: datetime, ci: str | None = None) -> list[Done]:
    """A new project in `folder` that builds as it is; refuses to overwrite one.

    With `ci` ("github"), also the CI workflow that publishes it; in an
    existing project, only the workflow.
    """
    config_path = folder / CONFIG_NAME
    if config_path.exists():
        if ci is None:
            raise UsageError(f"{config_path} already exists; not overwriting a project")
        return [Done(write_workflow(folder, _pinned_install(), "public"), "created")]
    done = []
    now = now.replace(microsecond=0)  # a date a person reads and writes
    day = now.date().isoformat()
    text = _post_text("Welcome", now, f"tag:example.org,{day}:news/welcome", draft=False)
    done.append(_create(folder, Path("posts", "news", f"{day}-welcome.md"),
                        text + "This is the first post. Edit or delete it.\n"))
    from feedpress.mail import shipped_templates

    done += [_create(folder, Path("email_templates", source.name), source.read_text("utf-8"),
                     quiet=True) for source in shipped_templates()]
    done.append(_create(folder, Path("subscribers.csv"), _SUBSCRIBERS, quiet=True))
    if ci is not None:
        done.append(Done(write_workflow(folder, _pinned_install(), "public"), "created"))
    done.append(_ignore(folder / ".gitignore"))
    write_atomic(config_path, _CONFIG.encode("utf-8"))  # last: an init that failed is no project
    done.insert(0, Done(config_path, "created"))
    return [one for one in done if one.what]


def _create(folder: Path, relpath: Path, text: str, *, quiet: bool = False) -> Done:
    """`folder/relpath` made with `text`, unless it is there already (`quiet`: nothing to
    say, a file the user keeps) or a link stands on the way (it is not followed: the file
    would land outside the project)."""
    path = folder / relpath
    linked = next((folder / Path(*relpath.parts[:n]) for n in range(1, len(relpath.parts))
                   if (folder / Path(*relpath.parts[:n])).is_symlink()), None)
    if linked is not None:
        return Done(path, f"not written: {_shown_in(linked, folder)} is a link", note=True)
    if os.path.lexists(path):
        return Done(path, "" if quiet else "already there: left as it is", note=not quiet)
    write_atomic(path, text.encode("utf-8"))
    return Done(path, "created")


def _shown_in(path: Path, folder: Path) -> str:
    return str(path.relative_to(folder))


def github_workflow(install: str, output: str) -> str:
    """The GitHub Actions workflow that checks, builds, deploys, pings and sends; `install`
    is its shell command that installs feedpress, `output` the folder it deploys."""
    text = (_TEMPLATES / "github-publish.yml").read_text(encoding="utf-8")
    return text.replace("@INSTALL@", install).replace("@OUTPUT@", output)


def write_workflow(folder: Path, install: str, output: str) -> Path:
    """Write the workflow into `folder`; refuses to overwrite one (it may be edited)."""
    path = folder / WORKFLOW
    if os.path.lexists(path):
        raise UsageError(f"{path} already exists; not overwriting a workflow")
    write_under(folder, PurePosixPath(WORKFLOW.as_posix()),
                github_workflow(install, output).encode("utf-8"))
    return path


def workflow_note(folder: Path) -> str | None:
    """A warning when the workflow went into a folder inside a Git repository rather
    than at its root, where GitHub never looks for workflows."""
    here = folder.resolve()
    root = next((d for d in (here, *here.parents) if (d / ".git").exists()), None)
    if root is None or root == here:
        return None
    return (f"GitHub reads workflows only from {root / '.github' / 'workflows'}: move "
            f"{WORKFLOW.name} there and give its steps `working-directory: "
            f"{here.relative_to(root)}`")


def _pinned_install() -> str:
    """Install this very version, so that the CI builds what was tried here."""
    return f"python -m pip install 'feedpress[postgresql]=={__version__}'"


def _ignore(path: Path) -> Done:
    """Add to `.gitignore` what a project must not commit (the output, the ledger and
    cache, the outbox of subscriber mail), keeping what it says and its line endings; what
    was done ("" for nothing). A `.gitignore` that is not a plain file of this project's (a
    link, a folder, one made read-only) is left alone, with the lines to add."""
    if not os.path.lexists(path):
        write_atomic(path, "".join(f"{line}\n" for line in _IGNORED).encode("utf-8"))
        return Done(path, "created")
    left = Done(path, f"not a plain text file feedpress may change: add {', '.join(_IGNORED)} "
                "to it yourself", note=True)
    # Made read-only on purpose, even where the user (root, say) could write it anyway.
    if path.is_symlink() or not path.is_file() or not path.stat().st_mode & 0o200:
        return left
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return left
    said = {_pattern(line) for line in text.splitlines()}
    missing = [line for line in _IGNORED if _pattern(line) not in said]
    if not missing:
        return Done(path, "")
    newline = "\r\n" if "\r\n" in text else "\n"
    glue = "" if not text or text.endswith("\n") else newline
    write_atomic(path, (text + glue + "".join(f"{line}{newline}" for line in missing))
                 .encode("utf-8"))
    return Done(path, f"added {', '.join(missing)} to")


def _pattern(line: str) -> str:
    """A `.gitignore` line as the folder it names: `public`, `public/`, `/public` and
    `/public/` all keep the output folder out."""
    return line.strip().strip("/")


def new_post(config: Config, blog: str, title: str, now: datetime,
             slug: str | None = None) -> Path:
    """Write a draft post file with its id pinned; refuses to overwrite a file."""
    why = unknown_blog(config, blog)
    if why is not None:
        raise UsageError(why)
    if slug is not None and (not slug or slugify(slug) != slug):
        raise UsageError(f"{slug!r} is not a slug; try {slugify(slug)!r}")
    slug = slug or _short(slugify(title))
    if len(slug.encode("utf-8")) > _LONGEST_SLUG_BYTES:
        raise UsageError(f"the slug {slug!r} is too long for a file name; pass a shorter --slug")
    if not slug:
        raise UsageError(f"the title {title!r} gives no slug; pass --slug")
    local = now.astimezone(ZoneInfo(config.site.timezone)).replace(microsecond=0)
    relpath = PurePosixPath(blog, f"{local.date().isoformat()}-{slug}.md")
    path = config.posts_dir / relpath
    if os.path.lexists(path):
        raise UsageError(f"{path} already exists")
    post_id = default_id(config, blog, slug, local)
    write_under(config.posts_dir, relpath,
                (_post_text(title, local, post_id, draft=True) + "\n").encode("utf-8"))
    return path


_SLUG_WORDS = 60  # characters of a title's slug that `new` keeps, cut at a word
_LONGEST_SLUG_BYTES = 200  # with the date and ".md", under the 255 bytes of a file name


def _short(slug: str) -> str:
    """A slug made from a long title, cut after a whole word: a title of 125 Cyrillic
    letters is 250 bytes of file name, too many for most file systems."""
    if len(slug) <= _SLUG_WORDS:
        return slug
    cut = slug[:_SLUG_WORDS]
    return (cut[: cut.rindex("-")] if "-" in cut else cut).strip("-")


def _post_text(title: str, date: datetime, post_id: str, *, draft: bool) -> str:
    lines = [
        "---",
        f"title: {json.dumps(title, ensure_ascii=False)}",
        f"date: {date.isoformat()}",
        f"id: {json.dumps(post_id, ensure_ascii=False)}",
        "tags: []",
    ]
    if draft:
        lines.append("draft: true   # remove this line to publish")
    return "\n".join([*lines, "---", ""])


def pin_id(post: Post) -> None:
    """Write `post`'s current id into its front matter, changing nothing else in the file.

    The id line goes just before the front matter's end, in the file's own
    line ending and syntax: `id: "…"` before YAML's closing `---`, `id =
    "…"` before TOML's closing `+++`, `Id: …` at the end of Pelican's
    header. A byte-order mark, comments and field order all survive.
    """
    if post.path.is_symlink():  # its id is its own; the file it links to has another
        raise FeedpressError(f"{relative(post.path)}: a link to another post's file: its id is "
                             "not pinned (it would go into that file); give it a file of its "
                             "own")
    try:
        data, was = read_regular(post.path)
    except OSError as exc:
        raise FeedpressError(f"{relative(post.path)}: cannot read: {exc.strerror}") from None
    if hashlib.sha256(data).hexdigest() != post.digest:  # not the file that was checked
        raise FeedpressError(f"{relative(post.path)}: changed since it was read; run "
                             "pin-ids again")
    text = data.decode("utf-8")
    bom = "\ufeff" if text.startswith("\ufeff") else ""
    text = text.removeprefix(bom)
    newline = "\r\n" if text.split("\n", 1)[0].endswith("\r") else "\n"
    at, line = _id_line(text, json.dumps(post.id, ensure_ascii=False), newline, post)
    rewrite(post.path, (bom + text[:at] + line + text[at:]).encode("utf-8"), was)


def _id_line(text: str, quoted: str, newline: str, post: Post) -> tuple[int, str]:
    """Where the id line goes in `text`, and the line."""
    first = _FENCE.match(text) or _TOML_FENCE.match(text)
    if first is not None:
        fence = _FENCE if first.group().startswith(("-", ".")) else _TOML_FENCE
        closing = fence.search(text, first.end())
        if closing is not None:
            key = "id = " if fence is _TOML_FENCE else "id: "
            return closing.start(), f"{key}{quoted}{newline}"
    blank = re.search(r"^\r?$", text, re.MULTILINE)  # Pelican's header ends at a blank line
    if first is None and blank is not None and _PELICAN_KEY.match(text):
        return blank.start(), f"Id: {post.id}{newline}"
    raise FeedpressError(f"{relative(post.path)}: front matter not found; id not pinned")
