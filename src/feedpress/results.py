"""What `--json` prints: one JSON object per command, for CI jobs and scripts to read.

The shapes are the README's schema ("Machine-readable results"), and the
tests hold the output to it. Each function turns what a command returned
into plain JSON values; nothing here runs a command or prints. It stands
beside the CLI, above both wings, and reads their public results only.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from feedpress.errors import FeedpressError, Problem, relative, shown
from feedpress.text import printable

if TYPE_CHECKING:
    from feedpress.feeds import BuildReport, PingReport
    from feedpress.mail import Preview, Summary

Json = dict[str, Any]


def problems(found: Iterable[Problem]) -> list[Json]:
    return [{"path": printable(shown(p.path)), "line": p.line, "field": p.field,
             "severity": p.severity.value, "message": p.message} for p in found]


def result(command: str, exit_code: int, found: Iterable[Problem] = (), **parts: Any) -> Json:
    """The object every command prints: what it was, how it ended, what was wrong."""
    return {"command": command, "ok": exit_code == 0, "exit_code": exit_code,
            "problems": problems(found), **parts}


def build(report: BuildReport, out_dir: Path, exit_code: int, dry_run: bool) -> Json:
    """`written` and `removed` are what a `--check` (`dry_run`) would write and remove."""
    outcome = report.outcome
    return result("build", exit_code, report.warnings, build={
        "output": str(relative(out_dir)), "dry_run": dry_run, "feeds": report.feeds,
        "posts": report.posts, "drafts": report.drafts, "scheduled": report.scheduled,
        "next_due": None if report.next_due is None else report.next_due.isoformat(),
        "skipped": report.skipped, "seconds": round(report.seconds, 3),
        "written": [str(p) for p in outcome.written],
        "unchanged": len(outcome.unchanged),
        "removed": [str(p) for p in outcome.removed],
    })


def check(found: list[Problem], exit_code: int) -> Json:
    errors = sum(p.is_error for p in found)
    return result("check", exit_code, found,
                  check={"errors": errors, "warnings": len(found) - errors})


def send(command: str, mode: str, summary: Summary | None, exit_code: int) -> Json:
    """A send, a dry run or a test message; `summary` None: nothing was due."""
    if summary is None:
        return result(command, exit_code, send={"mode": mode, "due": False})
    counts = {name: getattr(summary, name) for name in
              ("sent", "skipped", "retried", "bounced", "pending", "ambiguous", "unconfirmed")}
    reasons = [{"status": what, "reason": reason, "count": count}
               for (what, reason), count in sorted(summary.reasons.items())]
    return result(command, exit_code, summary.problems, send={
        "mode": mode, "due": True, **counts, "stopped": summary.stopped,
        "reasons": reasons, "notes": summary.notes})


def ping(done: PingReport) -> Json:
    return result("ping", 0, ping={"hubs": [
        {"hub": r.hub, "sent": r.sent, "failed": r.failed, "error": r.error}
        for r in done.hubs], "warnings": done.warnings})


def preview(command: str, done: Preview) -> Json:
    return result(command, 0, done.problems, preview={
        "due": done.due, "paths": [str(relative(p)) for p in done.paths],
        "skipped": done.skipped, "notes": done.notes})


def usage(command: str, message: str, exit_code: int) -> Json:
    """A command that was not run as asked (an unknown option, a bad value)."""
    return {**result(command, exit_code), "error": message}


def error(command: str | None, exc: FeedpressError) -> Json:
    """A command that failed: its message, and the problems behind it where there are."""
    found: list[Problem] = getattr(exc, "problems", [])  # config, posts, subscriber list
    message = str(exc).splitlines()[-1] if found else str(exc)  # after a list: its total
    return {**result(command or "", exc.exit_code, found),
            "error": message.removeprefix("error: ")}
