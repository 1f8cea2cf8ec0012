"""The `feedpress` command: parses arguments, calls the library, prints.

Every `FeedpressError` becomes a message and an exit code here, in one
place (`main`); nothing below this module prints or exits.

Exit codes: 0 success, 1 invalid input (config or posts), 2 usage error.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import click
from click.exceptions import NoArgsIsHelpError

from feedpress.config import Config, find
from feedpress.config import load as load_config
from feedpress.errors import FeedpressError, InvalidPostsError, Problem, grouped, shown
from feedpress.text import printable

if TYPE_CHECKING:
    from feedpress.mail import Summary
from feedpress.version import __version__

F = TypeVar("F", bound=Callable[..., Any])


def _parse_now(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        message = f"{value!r} is not an ISO 8601 time, e.g. 2024-05-01T09:00Z"
        raise click.BadParameter(message) from None
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    if not 1971 <= moment.year <= 9000 or not 1971 <= moment.astimezone(UTC).year <= 9000:
        raise click.BadParameter(f"{value!r} is out of range: give a year from 1971 to 9000")
    return moment


def common(command: F) -> F:
    """`--config`, `--now`, `--quiet` and `--verbose`, accepted after the command name as
    well as before it."""
    with_config = click.option(
        "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
        help="The project's feedpress.yaml (default: the nearest one up from here).")
    return with_config(_voiced(command))


def _voiced(command: F) -> F:
    """`--now`, `--quiet` and `--verbose`: what every command takes, `init` included (it
    has no project to name with --config yet)."""

    @click.option("--now", callback=_parse_now, metavar="ISO-TIME",
                  help="Use this time as the clock, for tests and previews.")
    @click.option("--quiet", "-q", is_flag=True,
                  help="Print errors only, and what was asked for (a list, a JSON object): "
                       "no progress, summary or warnings.")
    @click.option("--verbose", "-v", is_flag=True,
                  help="Print each warning on its own line, not once per kind.")
    @click.pass_context
    @wraps(command)
    def wrapper(ctx: click.Context, *args: Any, **kwargs: Any) -> Any:
        now: datetime | None = kwargs.pop("now")
        quiet: bool = kwargs.pop("quiet")
        verbose: bool = kwargs.pop("verbose")
        config_path: Path | None = kwargs.pop("config_path", None)
        if quiet and verbose:
            raise click.UsageError("give --quiet or --verbose, not both")
        _VOICE.update(quiet=quiet, verbose=verbose)
        state: dict[str, Any] = ctx.ensure_object(dict)
        if config_path is not None:
            state["config_path"] = config_path
        if now is not None:
            state["now"] = now
        return ctx.invoke(command, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _config() -> Config:
    state = click.get_current_context().ensure_object(dict)
    return load_config(find(state.get("config_path")))


def _now() -> datetime:
    state = click.get_current_context().ensure_object(dict)
    now: datetime = state.get("now") or datetime.now(UTC)
    return now


def _problems(problems: list[Problem]) -> None:
    for problem in problems:
        if problem.is_error or not _VOICE["quiet"]:
            click.echo(str(problem), err=True)


def _folder(value: str | None) -> Path | None:
    """A folder given on the command line, `~` expanded (`--out=~/x`: no shell expands
    that ~); an empty one is a usage error, not the current folder."""
    if value is None:
        return None
    if not value.strip():
        raise click.BadParameter("is empty; give the folder to write the feeds into")
    return Path(value).expanduser()


def _warnings(problems: list[Problem]) -> None:
    """A run's warnings: one line per kind, each on its own with --verbose, none with
    --quiet."""
    if _VOICE["quiet"]:
        return
    for line in ([str(p) for p in problems] if _VOICE["verbose"]
                 else grouped(problems, more="-v lists them all")):
        click.echo(line, err=True)


# --quiet and --verbose, set by `common` for the command being run.
_VOICE: dict[str, bool] = {"quiet": False, "verbose": False}


# The command that asked for --json, if one did: its human text then goes to stderr, and
# stdout holds one JSON object (see `feedpress.results`), errors included.
_JSON: dict[str, str | None] = {"command": None}
_JSON_COMMANDS = ("build", "check", "digest", "alert", "ping")


def _json_option(name: str) -> Callable[[F], F]:
    def set_json(ctx: click.Context, param: click.Parameter, value: bool) -> None:
        if value:
            _JSON["command"] = name

    return click.option("--json", is_flag=True, expose_value=False, is_eager=True,
                        callback=set_json,
                        help="Print one JSON object on stdout (the README's schema); human "
                             "text goes to stderr.")


def _say(message: str, *, err: bool = False, nl: bool = True) -> None:
    """Human text: on stdout, unless it is an error or --json holds stdout; none with
    --quiet."""
    if not _VOICE["quiet"]:
        click.echo(message, err=err or _JSON["command"] is not None, nl=nl)


def _finish(result: Callable[[], dict[str, Any]], exit_code: int) -> None:
    """With --json, print the command's object, made only then (a build's may list 10,000
    warnings); then exit with `exit_code` (0: return)."""
    if _JSON["command"] is not None:
        click.echo(json.dumps(result(), ensure_ascii=False, indent=2))
    if exit_code:
        sys.exit(exit_code)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="feedpress")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              help="The project's feedpress.yaml (default: the nearest one up from here).")
@click.option("--now", callback=_parse_now, metavar="ISO-TIME",
              help="Use this time as the clock, for tests and previews.")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, now: datetime | None) -> None:
    """Publish RSS, Atom and JSON feeds from a folder of Markdown posts.

    \b
    Example:
        feedpress build
        feedpress --config site/feedpress.yaml build --out public
    """
    ctx.ensure_object(dict).update(config_path=config_path, now=now)


@cli.command()
@common
@_json_option("build")
@click.option("--out", metavar="DIR", callback=lambda ctx, param, value: _folder(value),
              help="Write feeds here instead of the config's output_dir.")
@click.option("--check", "dry_run", is_flag=True,
              help="Write nothing; list the files that would change and exit 1 if any would.")
@click.option("--keep-going", is_flag=True,
              help="Skip invalid posts (listed as warnings) instead of failing the build.")
@click.option("--no-cache", is_flag=True,
              help="Neither read nor write the build cache in .feedpress/.")
@click.option("--jobs", type=click.IntRange(min=1), metavar="N",
              help="Processes to use (default: one per CPU core).")
def build(out: Path | None, dry_run: bool, keep_going: bool, no_cache: bool,
          jobs: int | None) -> None:
    """Build every feed into the output folder.

    With any invalid post the build fails, lists every error and writes
    nothing, so the last good feeds stay published.

    \b
    Example:
        feedpress build --out public
        feedpress build --check      # in CI: fail if public/ is out of date
    """
    from feedpress import results
    from feedpress.feeds import build as run_build
    from feedpress.feeds import default_cache

    config = _config()
    bar = _BuildProgress()
    try:
        report = run_build(config, _now(), out_dir=out, dry_run=dry_run, keep_going=keep_going,
                           cache_path=None if no_cache else default_cache(config), jobs=jobs,
                           progress=bar if bar.shown else None)
    finally:
        bar.finish()
    _warnings(report.warnings)
    code = 1 if dry_run and report.outcome.changed else 0
    if dry_run:
        for path in report.outcome.changed:
            _say(f"would change: {path}")
        if not code:
            _say("up to date")
    else:
        _say(report.summary(_shown(out or config.output_dir)))
    _finish(lambda: results.build(report, out or config.output_dir, code, dry_run), code)


@cli.command(short_help="Validate the config and every post.")
@common
@_json_option("check")
def check() -> None:
    """Validate the config and every post; print each problem as path:line: field: message.

    \b
    Example:
        feedpress check
    """
    from feedpress import results
    from feedpress.feeds import check as run_check

    problems = run_check(_config(), _now())
    _problems(problems)
    errors = sum(p.is_error for p in problems)
    warnings = len(problems) - errors
    _say(f"{errors} error(s), {warnings} warning(s)")
    _finish(lambda: results.check(problems, 1 if errors else 0), 1 if errors else 0)


@cli.command(short_help="Tell the WebSub hubs which feeds changed.")
@common
@_json_option("ping")
def ping() -> None:
    """Tell the WebSub hubs (websub.hubs) which feeds the builds since the last ping changed.

    Run it after the feeds are deployed. A hub that is down or refuses is
    reported; its feeds stay due for the next ping, and the exit code is 0:
    a ping never fails a publish.

    \b
    Example:
        feedpress build && rsync -a public/ web:/srv/feeds/ && feedpress ping
    """
    from feedpress import results
    from feedpress.feeds import ping as run_ping

    config = _config()
    if not config.site.hubs:
        _say("No WebSub hubs in the config (websub.hubs): nothing to ping.")
    done = run_ping(config)
    for report in done.hubs:
        _say(f"{report.hub}: {len(report.sent)} feed(s) told")
        if report.failed:
            click.echo(f"warning: {report.hub}: {len(report.failed)} feed(s) not told, due "
                       f"again at the next ping: {report.error}", err=True)
    for warning in done.warnings:
        click.echo(f"warning: {warning}", err=True)
    _finish(lambda: results.ping(done), 0)


@cli.command("pin-ids", short_help="Write each post's current id into its file.")
@common
def pin_ids() -> None:
    """Write each post's current id into its file, so renames never change it.

    \b
    Example:
        feedpress pin-ids
    """
    from feedpress.feeds import load
    from feedpress.scaffold import pin_id

    _, posts, problems = load(_config(), _now())
    errors = [p for p in problems if p.is_error]
    _problems(errors)
    pinned = 0
    for post in posts:
        if not post.id_pinned:
            try:
                pin_id(post)
            except FeedpressError as exc:  # one file that cannot be pinned holds none back
                errors.append(Problem(post.path, None, "id", str(exc)))
                click.echo(printable(f"error: {exc}"), err=True)
                continue
            _say(f"pinned {post.id} in {_shown(post.path)}")
            pinned += 1
    _say(f"{pinned} id(s) pinned")
    if errors:
        click.echo(f"error: {len(errors)} post(s) invalid or not pinned: left as they were",
                   err=True)
        sys.exit(1)


@cli.command(short_help="Create a draft post, its id pinned.")
@common
@click.option("--blog", required=True, help="The blog id, as in feedpress.yaml.")
@click.option("--slug", help="The URL slug (default: from the title).")
@click.argument("title")
def new(blog: str, slug: str | None, title: str) -> None:
    """Create a draft post with its front matter filled in and its id pinned.

    \b
    Example:
        feedpress new --blog black-flag "Who funds the Kessa brigade?"
    """
    from feedpress.scaffold import new_post

    path = new_post(_config(), blog, title, _now(), slug)
    _say(f"created {_shown(path)} (a draft: remove `draft: true` to publish)")


@cli.command()
@_voiced
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--ci", type=click.Choice(["github"]),
              help="Also write the CI workflow that publishes the feeds and sends the mail "
              "(in an existing project: only the workflow).")
def init(folder: Path, ci: str | None) -> None:
    """Create a new project in FOLDER that builds as it is.

    \b
    Example:
        feedpress init my-newsroom && cd my-newsroom && feedpress build
        feedpress init . --ci github
    """
    from feedpress.scaffold import init_project, workflow_note

    for done in init_project(folder, _now(), ci):
        if done.note:
            click.echo(f"warning: {_shown(done.path)}: {done.what}", err=True)
        else:
            _say(f"{done.what} {_shown(done.path)}")
    note = workflow_note(folder) if ci else None
    if note and not _VOICE["quiet"]:
        click.echo(f"warning: {note}", err=True)
    here = _shown(folder)
    _say("next: feedpress build" if here == "." else f"next: cd {here} && feedpress build")


def _mail_command(stream: str, help_text: str) -> Callable[..., None]:
    @cli.command(stream, help=help_text)
    @common
    @_json_option(stream)
    @click.option("--preview", "preview_dir", type=click.Path(file_okay=False, path_type=Path),
                  help="Write the message for one subscriber into this folder; send nothing.")
    @click.option("--send", is_flag=True, help="Send to every eligible subscriber.")
    @click.option("--dry-run", "dry_run", type=click.Path(file_okay=False, path_type=Path),
                  help="Write every message into this folder as .eml; record nothing.")
    @click.option("--to", metavar="ADDRESS", help="Send one test message here; record nothing.")
    @click.option("--since", callback=_parse_now, metavar="ISO-TIME",
                  help="Preview: only posts published after this time.")
    @click.option("--until", callback=_parse_now, metavar="ISO-TIME",
                  help="Preview: only posts published up to this time (default: now).")
    @click.option("--new-ledger", is_flag=True,
                  help="With --send over SMTP: start a new ledger where there is none.")
    @click.option("--subscriber", metavar="EMAIL",
                  help="Preview this subscriber's message (default: the first subscriber "
                  "in the CSV who would get one).")
    def command(preview_dir: Path | None, send: bool, dry_run: Path | None, to: str | None,
                since: datetime | None, until: datetime | None, new_ledger: bool,
                subscriber: str | None) -> None:
        chosen = sum(x is not None for x in (preview_dir, dry_run, to)) + send
        if chosen != 1:
            raise click.UsageError("give exactly one of --preview DIR, --send, --dry-run DIR "
                                   "and --to ADDRESS")
        if preview_dir is None and (since is not None or until is not None):
            raise click.UsageError("--since and --until go with --preview only: a send, a dry "
                                   "run and a test message always take what is due now")
        if new_ledger and not send:
            raise click.UsageError("--new-ledger goes with --send only")
        kind = "digest" if stream == "digest" else "alerts"
        what = "posts" if stream == "digest" else "breaking posts"
        if preview_dir is not None:
            _preview(kind, preview_dir, since, until, subscriber, what)
        else:
            _send(kind, dry_run, to, what, new_ledger)

    return command


def _preview(kind: str, folder: Path, since: datetime | None, until: datetime | None,
             subscriber: str | None, what: str) -> None:
    from feedpress import results
    from feedpress.mail import preview

    done = preview(_config(), kind, folder, _now(),  # type: ignore[arg-type]
                   since=since, until=until, subscriber_email=subscriber)
    _problems(done.problems)
    for note in done.notes:
        click.echo(f"note: {note}", err=True)
    if not done.due:
        _say(f"Nothing new to send: no {what} in the window.")
    elif done.skipped is not None:
        _say(f"Nothing to preview: {done.skipped}.")
    for path in done.paths:
        _say(_shown(path))
    _finish(lambda: results.preview(_command(kind), done), 0)


def _send(kind: str, dry_run: Path | None, to: str | None, what: str,
          new_ledger: bool) -> None:
    from feedpress import results
    from feedpress.mail import SendOptions, send

    progress = _Progress()
    summary = send(_config(), kind, _now(),  # type: ignore[arg-type]
                   SendOptions(dry_run=dry_run, to=to, progress=progress,
                               on_start=progress.start, new_ledger=new_ledger))
    progress.finish()
    mode = "dry-run" if dry_run is not None else "to" if to is not None else "send"
    code = 0 if summary is None or mode != "send" else summary.exit_code
    if summary is None:
        _say(f"Nothing new to send: no {what} in the window.")
    else:
        _tell(summary, dry_run, to)
    _finish(lambda: results.send(_command(kind), mode, summary, code), code)


def _tell(summary: Summary, dry_run: Path | None, to: str | None) -> None:
    """What a send, a dry run or a test message did, as a person reads it."""
    for problem in summary.problems:
        click.echo(str(problem), err=True)
    for note in summary.notes:
        click.echo(f"note: {note}", err=True)
    if dry_run is not None:
        _say(f"{summary.sent} message(s) written to {_shown(dry_run)}; nothing recorded")
    elif to is not None:
        _say(f"test message sent to {to}; nothing recorded")
    else:
        if summary.stopped:
            click.echo(f"stopped early: {summary.stopped}", err=True)
        _say(summary.line())
        for reason in summary.why():
            _say(f"  {reason}")


def _bar(done: int, total: int, width: int = 30) -> str:
    """`[#####-----]`: `done` of `total`, for the progress of a build or a send."""
    filled = width * done // max(total, 1)
    return "[" + "#" * filled + "-" * (width - filled) + "]"


class _BuildProgress:
    """A bar on stderr for a build that takes over a second, on a terminal only: a
    10,000-post cold build says nothing for seconds otherwise. A log gets nothing."""

    AFTER_SECONDS = 1.0

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.shown = _terminal(sys.stderr) and not _VOICE["quiet"] and _JSON["command"] is None
        self.clock = clock
        self.started = clock()
        self.drawn = False

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.clock() - self.started < self.AFTER_SECONDS or not total:
            return
        if done != total and done % max(1, total // 200):
            return  # a few hundred redraws at most
        click.echo(f"\r{stage} {_bar(done, total)} {done:,}/{total:,}\033[K", err=True,
                   nl=False)
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            click.echo("\r\033[K", err=True, nl=False)


def _command(kind: str) -> str:
    return "digest" if kind == "digest" else "alert"


class _Progress:
    """A bar on a terminal; in a log, a plain line every 1,000 messages.

    It counts finished deliveries (sent, bounced, pending or ambiguous:
    one each, however many tries they took) over every campaign of the
    run, so it only ever goes forward.
    """

    def __init__(self) -> None:
        self.count = 0
        self.total = 0
        self.tty = _terminal(sys.stdout)

    def start(self, total: int, label: str) -> None:
        self.total += total
        if self.tty and self.count:
            _say("")  # the bar so far stays, above the next campaign's name
        _say(f"sending {total} message(s): {label}")

    def __call__(self, address: str, outcome: str) -> None:
        self.count += 1
        if self.tty:
            _say(f"\r{_bar(self.count, self.total)} {self.count}/{self.total} {outcome}\033[K",
                 nl=False)
        elif self.count % 1000 == 0:
            _say(f"{self.count}/{self.total} messages done")

    def finish(self) -> None:
        if self.tty and self.count:
            _say("")


_mail_command("digest", """Preview or send the subscriber email digest.

    \b
    Example:
        feedpress digest --preview preview/
        feedpress digest --preview preview/ --since 2026-11-20 --subscriber ana@example.org
        feedpress digest --send
    """)
_mail_command("alert", """Preview or send breaking-news alerts.

    \b
    Example:
        feedpress alert --preview preview/
        feedpress alert --send
    """)


@cli.group(short_help="The subscriber list, as the next send sees it.")
def subscribers() -> None:
    """The subscriber list (the CSV), with the ledger's unsubscribes and bounces.

    \b
    Example:
        feedpress subscribers list
        feedpress subscribers unsubscribe ana@example.org --stream alerts
    """


@subscribers.command("list")
@common
def subscribers_list() -> None:
    """Every valid subscriber and what they get.

    \b
    Example:
        feedpress subscribers list
    """
    from feedpress.mail import members

    found, problems = members(_config(), _now())
    _problems(problems)
    for m in found:
        gets = ", ".join(m.gets) or "nothing (suppressed)"
        click.echo(f"{m.subscriber.email}\t{m.subscriber.name}\t{gets}")
    click.echo(f"{len(found)} subscriber(s)")
    if any(p.is_error for p in problems):  # the list could not be read: not an empty one
        sys.exit(1)


@subscribers.command("check")
@common
def subscribers_check() -> None:
    """Check the CSV; exit 1 if any row has a problem.

    \b
    Example:
        feedpress subscribers check
    """
    from feedpress.mail import load_subscribers

    config = _config()
    rows, problems = load_subscribers(config.email.subscribers, (b.id for b in config.blogs))
    _problems(problems)
    click.echo(f"{len(rows)} valid row(s), {len(problems)} problem(s)")
    if not rows:
        click.echo("error: no valid subscriber: a send would refuse this list", err=True)
    if problems or not rows:
        sys.exit(1)


@subscribers.command("export")
@common
def subscribers_export() -> None:
    """Print the list as CSV, with what each subscriber gets.

    \b
    Example:
        feedpress subscribers export > subscribers-now.csv
    """
    from feedpress.mail import export, members

    found, problems = members(_config(), _now())
    _problems(problems)
    click.echo(export(found), nl=False)


def _suppression_command(name: str, suppressed: bool, help_text: str) -> None:
    @subscribers.command(name, help=help_text)
    @common
    @click.argument("email")
    @click.option("--stream", type=click.Choice(["digest", "alerts", "all"]), default="all",
                  show_default=True, help="Which stream.")
    @click.option("--force", is_flag=True, hidden=not suppressed,
                  help="Unsubscribe an address even if it is not in the CSV.")
    def command(email: str, stream: str, force: bool) -> None:
        from feedpress.mail import set_suppressed, streams_for

        address, changed = set_suppressed(_config(), _now(), email, streams_for(stream),
                                          suppressed=suppressed, force=force)
        verb = "unsubscribed from" if suppressed else "resubscribed to"
        already = "" if changed else "already "
        click.echo(f"{address} {already}{verb} {stream} ({changed} change(s))")


_suppression_command("unsubscribe", True, """Stop sending a stream to EMAIL (it wins over the CSV).

    \b
    Example:
        feedpress subscribers unsubscribe ana@example.org --stream alerts
    """)
_suppression_command("resubscribe", False, """Undo an unsubscribe or a bounce for EMAIL.

    \b
    Example:
        feedpress subscribers resubscribe ana@example.org
    """)


@cli.group(short_help="The send ledger: what was sent to whom.")
def state() -> None:
    """The send ledger: what was sent to whom, and who is suppressed.

    \b
    Example:
        FEEDPRESS_STATE_URL=postgresql://feedpress@db.example.org/feedpress \\
            feedpress state copy
    """


@state.command("copy")
@common
@click.option("--to", "to", metavar="URL",
              help="A postgresql:// URL of an empty database (default: the URL in the "
              "variable email.state_url_env names, FEEDPRESS_STATE_URL). A URL here is "
              "visible to other users of the machine: prefer the variable.")
def state_copy(to: str | None) -> None:
    """Copy the SQLite ledger (email.state) into an empty PostgreSQL database.

    Every row is copied as it is and read back; a target that holds a
    ledger already is refused. A send started meanwhile exits 4. The file
    is then renamed to <name>.moved, so that no send goes on using it.

    \b
    Example:
        FEEDPRESS_STATE_URL=postgresql://feedpress@db.example.org/feedpress \\
            feedpress state copy
    """
    import os

    from feedpress.mail import Place, copy_ledger, database_place

    config = _config()
    variable = config.email.state_url_env
    url = to if to is not None else os.environ.get(variable, "").strip()
    if not url:
        raise click.UsageError(f"give --to URL, or set {variable} to the database's URL")
    target = database_place(url, None if to is not None else variable)
    source = Place(path=config.email.state)
    counts = copy_ledger(source, target, _now())
    copied = ", ".join(f"{table}: {n}" for table, n in counts.items())
    click.echo(f"copied ({copied}) from {_shown(config.email.state)} to {target}")
    click.echo(f"sends use it while {variable} holds its URL", err=True)


@cli.command("serve-unsubscribe", short_help="Serve the unsubscribe links and pages.")
@common
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on (behind a reverse proxy: loopback).")
@click.option("--port", default=8025, show_default=True, type=click.IntRange(0, 65535))
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Requests handled at once.")
def serve_unsubscribe(host: str, port: int, threads: int) -> None:
    """Serve the unsubscribe links (GET shows a page, POST unsubscribes; RFC 8058).

    Runs on waitress; put it behind your web server, which handles TLS.
    Ctrl-C or SIGTERM stops it. One line is logged per request, naming
    its token by a short hash.

    \b
    Example:
        feedpress serve-unsubscribe --host 127.0.0.1 --port 8025
    """
    from feedpress.mail import UnsubscribeApp, ledger_exists, locate, serve, unsubscribe_keys

    config = _config()
    keys, notes = unsubscribe_keys(config)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    place = locate(config.email)
    click.echo(f"recording unsubscribes in the send ledger at {place}", err=True)
    if not ledger_exists(place):
        click.echo(f"warning: there is no ledger at {place} yet: unsubscribes get 503 until a "
                   "send makes it. If the sends keep it elsewhere, give this server the same "
                   f"email.state or {config.email.state_url_env}", err=True)
    lists = {config.email.list_id: "digest", config.email.alert_list_id: "alerts"}
    app = UnsubscribeApp(keys, place, lists,  # type: ignore[arg-type]
                         config.site.language, log=lambda line: click.echo(line, err=True))
    serve(app, host, port, threads,
          ready=lambda url: click.echo(f"serving unsubscribe links on {url}", err=True))
    click.echo("stopped", err=True)


def _shown(path: Path) -> str:
    """`path` for a person: from the current folder where that is shorter, and with any
    character that could forge or hide a line escaped (a file's name is anybody's)."""
    return printable(shown(path.absolute()))


def _terminal(stream: TextIO | None) -> bool:
    """Whether `stream` is a terminal: not when it is None (the command was started with
    that descriptor closed, `2>&-`), where Python gives no stream at all."""
    return stream is not None and stream.isatty()


def _one_line(exc: click.ClickException) -> str:
    """click's message for `exc` on one line (every line feedpress prints says what it
    is), and for a usage error, where the usage is."""
    message = " ".join(exc.format_message().split())
    ctx = exc.ctx if isinstance(exc, click.UsageError) else None
    return f"{message} (see: {ctx.command_path} --help)" if ctx is not None else message


def main(argv: list[str] | None = None) -> None:
    """The console script: turns feedpress's errors into messages and exit codes."""
    args = sys.argv[1:] if argv is None else argv
    _VOICE.update(quiet=False, verbose=False)  # until the command's options say otherwise
    # Asked for --json, a usage error gets its object too, though the option was not parsed.
    _JSON["command"] = next((a for a in args if a in _JSON_COMMANDS), None) \
        if "--json" in args else None
    try:
        cli.main(args=args, prog_name="feedpress", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        if isinstance(exc, NoArgsIsHelpError):  # `feedpress` alone: the help, as it is
            click.echo(exc.format_message())
        else:
            click.echo(printable(f"error: {_one_line(exc)}"), err=True)
        if _JSON["command"] is not None:
            from feedpress import results

            click.echo(json.dumps(results.usage(_JSON["command"], exc.format_message(),
                                                exc.exit_code), ensure_ascii=False, indent=2))
        sys.exit(exc.exit_code)
    except FeedpressError as exc:
        # A list of problems comes as lines that each say what they are.
        if isinstance(exc, InvalidPostsError):  # as --quiet and --verbose ask
            text = "\n".join(exc.lines(each=_VOICE["verbose"], warnings=not _VOICE["quiet"]))
        else:
            text = str(exc) if exc.listed else printable(f"error: {exc}")
        click.echo(text, err=True)
        if _JSON["command"] is not None:
            from feedpress import results

            click.echo(json.dumps(results.error(_JSON["command"], exc), ensure_ascii=False,
                                  indent=2))
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except OSError as exc:
        if exc.errno not in _FULL:  # only the disk behind `>` is not feedpress's to wrap
            raise
        with contextlib.suppress(OSError):
            click.echo(printable(f"error: cannot write the output: {exc.strerror}"), err=True)
        sys.exit(1)


# What writing the output (`feedpress check --json > file`) meets on a full or failing disk;
# any file feedpress writes itself says so in its own error.
_FULL = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO})


def run() -> None:
    """The `feedpress` command: `main`, then out without the interpreter's teardown.

    After a build the process holds the cards and report of every post; Python's
    teardown frees them one by one (40 ms at 10,000 posts), for a process that is
    about to end anyway. Everything feedpress writes is closed by then (files,
    caches, pools: each in a `with` block), so only the streams need flushing.
    Tests call `main`, which returns.
    """
    try:
        main()
        code = 0
    except SystemExit as exc:  # main exits with a number, or none for 0
        code = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:  # None: started with the descriptor closed (`>&-`)
                stream.flush()
        except (OSError, ValueError):  # a closed pipe: Python's own exit says 120
            code = code or 120
    os._exit(code)


if __name__ == "__main__":
    run()
