"""The `email:` block of `feedpress.yaml`: who sends, to whom, how, and how often.

Read and validated with the rest of the config; secrets are never in it,
only the names of the environment variables that hold them. It is in the
core beside `config`, as plain values: what the mail wing does with them
is the mail wing's, and nothing here sends or opens anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parseaddr
from pathlib import Path
from typing import Literal

from feedpress.fields import Fields, bounds

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_LONGEST = timedelta(days=3660)  # a longer window or age is a typo, and overflows dates
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LIST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z0-9-]+$")

Security = Literal["starttls", "ssl", "none"]


@dataclass(frozen=True)
class SmtpSettings:
    host: str = "127.0.0.1"
    port: int = 587
    security: Security = "starttls"
    username_env: str = "FEEDPRESS_SMTP_USERNAME"
    password_env: str = "FEEDPRESS_SMTP_PASSWORD"
    timeout: float = 30.0
    connections: int = 4
    rate: float = 0.0
    max_errors: int = 50
    breaker: int = 20  # refusals at a run's start that stop it, suppressing nobody
    retries: int = 3
    retry_backoff: float = 2.0
    ca_file: Path | None = None


@dataclass(frozen=True)
class DigestSettings:
    subject: str | None = None  # None: "{site} — {count} new posts", "1 new post" for one
    max_items: int = 30
    first_window: timedelta = timedelta(days=7)


@dataclass(frozen=True)
class AlertSettings:
    subject_prefix: str | None = None  # None: the catalogue's, in the post's language
    max_age: timedelta = timedelta(hours=24)


@dataclass(frozen=True)
class DkimSettings:
    """DKIM signing: the private key comes from an environment variable or a file."""

    selector: str
    domain: str
    key_env: str | None
    key_file: Path | None


@dataclass(frozen=True)
class EmailSettings:
    """Everything the digest, the alerts and their sending need."""

    sender: str
    sender_name: str
    sender_address: str
    list_id: str
    subscribers: Path
    state: Path
    state_url_env: str  # names the variable that may hold a PostgreSQL URL for the ledger
    secret_env: str
    previous_secret_env: str  # a key being rotated out: its links still verify
    unsubscribe_url: str
    unsubscribe_mailto: str | None
    subscribe_url: str | None  # where people sign up; the subscribe pages link to it
    transport: Literal["maildir", "smtp"]
    maildir: Path
    smtp: SmtpSettings
    digest: DigestSettings
    alert: AlertSettings
    templates: Path
    dkim: DkimSettings | None = None
    min_subscribers: int = 1  # a send to fewer valid rows is refused: the file is wrong

    @property
    def domain(self) -> str:
        return self.sender_address.rpartition("@")[2]

    @property
    def alert_list_id(self) -> str:
        return f"alerts.{self.list_id}"


def read_email(fields: Fields | None, root: Path, site_domain: str) -> EmailSettings:
    """The `email:` block, or its defaults (a sample sender on the site's domain)."""
    f = fields or Fields({}, path=Path(), prefix=("email",), locate=lambda _: None,
                         problems=[])
    sender = f.text("from") or f"Newsletter <newsletter@{site_domain}>"
    name, address = parseaddr(sender)
    if "@" not in address or "\n" in sender or "\r" in sender or not address.isascii():
        f.problem("from", f"must be an ASCII address such as 'News <news@example.org>' (a "
                  f"domain in punycode), not {sender!r}")
        address = f"newsletter@{site_domain}"
    list_id = f.text("list_id") or f"newsletter.{site_domain}"
    if not _LIST_ID.match(list_id):
        f.problem("list_id", f"must be a domain-like name such as blogs.example.org, "
                  f"not {list_id!r}")
    settings = EmailSettings(
        sender=sender,
        sender_name=name,
        sender_address=address,
        list_id=list_id,
        subscribers=root / (f.text("subscribers") or "subscribers.csv"),
        state=root / (f.text("state") or ".feedpress/state.db"),
        state_url_env=_env_name(f, "state_url_env", "FEEDPRESS_STATE_URL"),
        secret_env=_env_name(f, "secret_env", "FEEDPRESS_SECRET"),
        previous_secret_env=_env_name(f, "previous_secret_env", "FEEDPRESS_PREVIOUS_SECRET"),
        unsubscribe_url=_unsubscribe_url(f, site_domain),
        unsubscribe_mailto=_mailto(f),
        subscribe_url=_subscribe_url(f),
        transport=f.choice("transport", ("maildir", "smtp"), "maildir"),  # type: ignore[arg-type]
        maildir=root / (f.text("maildir") or "outbox"),
        smtp=_read_smtp(f.section("smtp"), root),
        digest=_read_digest(f.section("digest")),
        alert=_read_alert(f.section("alert")),
        templates=root / (f.text("templates") or "email_templates"),
        dkim=_read_dkim(f.section("dkim"), root, address.rpartition("@")[2]),
        min_subscribers=f.integer("min_subscribers", 1, minimum=1),
    )
    f.finish()
    return settings


def _read_smtp(f: Fields | None, root: Path) -> SmtpSettings:
    d = SmtpSettings()
    if f is None:
        return d
    ca_file = f.text("ca_file")
    smtp = SmtpSettings(
        host=f.text("host") or d.host,
        port=f.integer("port", d.port, minimum=1, maximum=65535),
        security=f.choice("security", ("starttls", "ssl", "none"), d.security),  # type: ignore[arg-type]
        username_env=_env_name(f, "username_env", d.username_env),
        password_env=_env_name(f, "password_env", d.password_env),
        timeout=_number(f, "timeout", d.timeout, minimum=0.1, maximum=3600),
        connections=f.integer("connections", d.connections, minimum=1, maximum=64),
        rate=_rate(f, d.rate),
        max_errors=f.integer("max_errors", d.max_errors, minimum=1),
        breaker=f.integer("breaker", d.breaker, minimum=1),
        retries=f.integer("retries", d.retries, minimum=0, maximum=100),
        retry_backoff=_number(f, "retry_backoff", d.retry_backoff, minimum=0, maximum=3600),
        ca_file=root / ca_file if ca_file else None,
    )
    f.finish()
    return smtp


def _read_dkim(f: Fields | None, root: Path, domain: str) -> DkimSettings | None:
    if f is None:
        return None
    selector = f.text("selector", required=True) or "feedpress"
    key_env = f.text("key_env")
    key_file = f.text("key_file")
    if (key_env is None) == (key_file is None):
        f.problem("key_env", "give key_env (a variable holding the PEM key) or key_file")
    if key_env is not None:
        key_env = _env_name(f, "key_env", "FEEDPRESS_DKIM_KEY")
    settings = DkimSettings(selector, f.text("domain") or domain, key_env,
                            root / key_file if key_file else None)
    f.finish()
    return settings


def _read_digest(f: Fields | None) -> DigestSettings:
    d = DigestSettings()
    if f is None:
        return d
    digest = DigestSettings(
        subject=f.text("subject") or d.subject,
        max_items=f.integer("max_items", d.max_items, minimum=1),
        first_window=_duration(f, "first_window", d.first_window),
    )
    f.finish()
    return digest


def _read_alert(f: Fields | None) -> AlertSettings:
    d = AlertSettings()
    if f is None:
        return d
    alert = AlertSettings(
        subject_prefix=f.text("subject_prefix") or d.subject_prefix,
        max_age=_duration(f, "max_age", d.max_age),
    )
    f.finish()
    return alert


def parse_duration(text: str) -> timedelta:
    """`7d`, `24h`, `30m`, `90s` or `2w` as a timedelta; ValueError otherwise."""
    match = _DURATION.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a duration such as 7d, 24h or 30m")
    try:
        found = timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    except OverflowError:
        found = _LONGEST * 2
    if found > _LONGEST:
        raise ValueError(f"{text!r} is longer than ten years")
    return found


def _duration(f: Fields, key: str, default: timedelta) -> timedelta:
    value = f.text(key)
    if value is None:
        return default
    try:
        return parse_duration(value)
    except ValueError as exc:
        f.problem(key, str(exc))
        return default


def _number(f: Fields, key: str, default: float, minimum: float,
            maximum: float = 1e9) -> float:
    """A number from `minimum` to `maximum` (not NaN or infinite, which YAML reads)."""
    value = f.get(key, int | float, "a number")  # type: ignore[arg-type]
    if value is not None and not minimum <= value <= maximum:
        f.problem(key, bounds(value, minimum, maximum))
        return default
    return default if value is None else float(value)


def _rate(f: Fields, default: float) -> float:
    """Messages a second: 0 for no limit, else at least one a minute (a rate of 1e-7 waited
    months between two messages)."""
    rate = _number(f, "rate", default, minimum=0, maximum=100_000)
    if 0 < rate < _SLOWEST_RATE:
        f.problem("rate", f"must be 0 (no limit) or at least {_SLOWEST_RATE:g} (one message "
                  f"a minute), not {rate:g}")
        return default
    return rate


_SLOWEST_RATE = 1 / 60


def _env_name(f: Fields, key: str, default: str) -> str:
    value = f.text(key) or default
    if not _ENV_NAME.match(value):
        f.problem(key, f"must name an environment variable, such as {default}, not {value!r}")
        return default
    return value


def _subscribe_url(f: Fields) -> str | None:
    value = f.text("subscribe_url")
    if value is not None and (not value.startswith(("https://", "http://")) or
                              not _plain(value)):
        f.problem("subscribe_url", "must be an http(s) URL in ASCII (a domain in punycode, "
                  "other characters %-encoded) without spaces")
        return None
    return value


def _unsubscribe_url(f: Fields, site_domain: str) -> str:
    value = (f.text("unsubscribe_url")
             or f"https://{site_domain}/unsubscribe?token={{token}}&lang={{lang}}")
    if "{token}" not in value or not value.startswith("https://") or not _plain(value):
        f.problem("unsubscribe_url", "must be an https URL containing {token}, in ASCII "
                  "(a domain in punycode, other characters %-encoded) and without spaces")
    return value


def _plain(value: str) -> bool:
    """ASCII with no white space or control character: fit for a header as it is."""
    return value.isascii() and value.isprintable() and not any(c.isspace() for c in value)


def _mailto(f: Fields) -> str | None:
    value = f.text("unsubscribe_mailto")
    if value is not None and ("@" not in value or not _plain(value)):
        f.problem("unsubscribe_mailto", f"must be an ASCII address such as "
                  f"unsubscribe@example.org, not {value!r}")
    return value
