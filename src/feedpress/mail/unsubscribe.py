"""The unsubscribe endpoint: a small WSGI app behind the links in every message.

`GET /unsubscribe?token=…` shows a confirmation page with a button;
`POST` (a person pressing it, or a mail client's RFC 8058 one-click
request) records the suppression. A token that does not verify gets 400 on
both and changes nothing. A repeated POST answers 200 again: unsubscribing
twice is still unsubscribed. A ledger that stays locked gets 503 with
Retry-After rather than a hung request. The app only verifies and records:
it sends nothing and reads no subscriber list.

Everything a request brings is hostile: the token is checked before it is
used, a body is read only up to a small limit, and no page echoes anything
but the verified address. Every answer carries headers that keep it out of
frames, off other sites' referrers and out of content sniffing; HEAD gets
the headers alone. The log names a request by a short hash of its token,
never the token or the address. Pages are in the language of `?lang=`, of
the browser's Accept-Language, or the site's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import parse_qs, quote

from feedpress.errors import FeedpressError
from feedpress.mail import tokens
from feedpress.mail.engines import LedgerBusyError
from feedpress.mail.ledger import Place, open_ledger
from feedpress.mail.select import Stream
from feedpress.words import direction, negotiate, primary, speaks, words

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
MAX_TOKEN = 1_000  # characters: a real token is about a hundred
MAX_BODY = 10_000  # bytes of a POST body read, at most
LEDGER_WAIT_SECONDS = 2.0  # how long a request waits for a locked ledger before 503
RETRY_AFTER_SECONDS = 30
SECURITY_HEADERS = [
    ("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; "
                                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
]
_PAGE = """<!DOCTYPE html>
<html lang="{lang}" dir="{dir}"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 3em auto; padding: 0 1em">
<h1>{title}</h1>{body}</body></html>"""


@dataclass(frozen=True)
class _Answer:
    status: str
    title: str  # catalogue keys
    text: str | None = None
    address: str = ""
    form: bool = False
    extra: tuple[tuple[str, str], ...] = ()


class UnsubscribeApp:
    """Verifies tokens with `keys` (the current one first) and records suppressions in the
    ledger at `state`."""

    def __init__(self, keys: Sequence[bytes], state: Place, lists: dict[str, Stream],
                 language: str = "en", *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 log: Callable[[str], None] = lambda line: None) -> None:
        self.keys = list(keys)
        self.state = state
        self.lists = lists  # list id -> stream
        self.language = language
        self.clock = clock
        self.log = log

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = str(environ.get("REQUEST_METHOD", "GET")).upper()
        query = parse_qs(str(environ.get("QUERY_STRING", "")))  # its length waitress caps
        token = _token(environ, method, query)
        answer, key = self._answer(environ, method, token)
        language = _language(environ, query, self.language)
        data = _page(answer, language).encode("utf-8")
        start_response(answer.status, [("Content-Type", "text/html; charset=utf-8"),
                                       ("Content-Length", str(len(data))),
                                       *SECURITY_HEADERS, *answer.extra])
        previous = " (previous key)" if key else ""
        path = quote(str(environ.get("PATH_INFO", "/")), safe="/")  # no line can be forged
        self.log(f"{quote(method, safe='')} {path} {answer.status[:3]} "
                 f"token={_short(token)}{previous}")
        return [] if method == "HEAD" else [data]

    def _answer(self, environ: dict[str, Any], method: str, token: str | None
                ) -> tuple[_Answer, int]:
        if environ.get("PATH_INFO", "/") not in ("/unsubscribe", "/unsubscribe/"):
            return _Answer("404 Not Found", "page_not_found_title", "page_not_found"), 0
        if method not in ("GET", "HEAD", "POST"):
            return _Answer("405 Method Not Allowed", "page_method_title",
                           extra=(("Allow", "GET, HEAD, POST"),)), 0
        found = tokens.verify(self.keys, token) if token else None
        if found is None or found[0] not in self.lists:
            return _Answer("400 Bad Request", "page_invalid_title", "page_invalid"), 0
        list_id, address, key = found
        stream = self.lists[list_id]
        if method != "POST":
            return _Answer("200 OK", "page_confirm_title", f"page_confirm_{stream}", address,
                           form=True), key
        return self._record(address, stream), key

    def _record(self, address: str, stream: Stream) -> _Answer:
        """The suppression, in the ledger the sends use. A ledger that is not there is not
        made: this server would be keeping unsubscribes where no send reads them (a
        missing FEEDPRESS_STATE_URL, another folder), and a new file would pass the sends'
        guard for a ledger that was not kept."""
        try:
            with open_ledger(self.state, self.clock(), wait=LEDGER_WAIT_SECONDS,
                             create=False) as ledger:
                ledger.suppress(address, (stream,), "unsubscribed")
        except FeedpressError as exc:
            if not isinstance(exc, LedgerBusyError):  # busy is the usual: not worth a line
                self.log(f"error: {exc}")
            return _Answer("503 Service Unavailable", "page_busy_title", "page_busy",
                           extra=(("Retry-After", str(RETRY_AFTER_SECONDS)),))
        return _Answer("200 OK", "page_done_title", f"page_done_{stream}", address)


def _token(environ: dict[str, Any], method: str, query: Mapping[str, list[str]]
           ) -> str | None:
    """The request's token, from the query or (for a POST without one) the form body;
    None when there is none, or it is longer than any token feedpress makes."""
    token = (query.get("token") or [""])[0]
    if not token and method == "POST":
        try:
            length = max(0, int(environ.get("CONTENT_LENGTH") or 0))
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(min(length, MAX_BODY)).decode("utf-8", "replace")
        token = (parse_qs(body).get("token") or [""])[0]
    return token if token and len(token) <= MAX_TOKEN else None


def _language(environ: Mapping[str, Any], query: Mapping[str, list[str]], default: str
              ) -> str:
    asked = (query.get("lang") or [""])[0]
    if asked and speaks(asked):
        return primary(asked)
    return negotiate(str(environ.get("HTTP_ACCEPT_LANGUAGE", ""))[:500], default)


def _page(answer: _Answer, language: str) -> str:
    said = words(language)
    body = ""
    if answer.text is not None:  # the address kept left to right, whatever the page's
        address = f'<bdi dir="ltr">{escape(answer.address)}</bdi>'
        body = f"<p>{escape(said[answer.text]).replace('{address}', address)}</p>"
    if answer.form:  # posts back to this very URL, token and all
        body += (f'<form method="post"><button type="submit">'
                 f'{escape(said["page_button"])}</button></form>')
    return _PAGE.format(lang=escape(language), dir=direction(language),
                        title=escape(said[answer.title]), body=body)


def _short(token: str | None) -> str:
    """A token as the log names it: enough to match two lines, nothing to unsubscribe with
    or to read an address from."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()[:12] if token else "-"
