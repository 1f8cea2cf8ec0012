"""The unsubscribe endpoint: a small WSGI app behind the links in every message.

`GET /unsubscribe?token=…` shows a confirmation page with a button;
`POST` (a person pressing it, or a mail client's RFC 8058 one-click
request) records the suppression. A token that does not verify gets 400 on
both and changes nothing. A repeated POST answers 200 again: unsubscribing
twice is still unsubscribed. The app only verifies and records: it sends
nothing and reads no subscriber list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from html import escape
from typing import Any
from urllib.parse import parse_qs

from feedpress.mail import tokens
from feedpress.mail.ledger import Place, open_ledger
from feedpress.mail.select import Stream

StartResponse = Callable[[str, list[tuple[str, str]]], Any]
_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 3em auto; padding: 0 1em">
<h1>{title}</h1>{body}</body></html>"""


class UnsubscribeApp:
    """Verifies tokens with `secret` and records suppressions in the ledger at `state`."""

    def __init__(self, secret: bytes, state: Place, lists: dict[str, Stream],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.secret = secret
        self.state = state
        self.lists = lists  # list id -> stream
        self.clock = clock

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if environ.get("PATH_INFO", "/") not in ("/unsubscribe", "/unsubscribe/"):
            return _reply(start_response, "404 Not Found", "Not found", "<p>No such page.</p>")
        token = self._token(environ, method)
        found = tokens.verify(self.secret, token) if token else None
        if found is None or found[0] not in self.lists:
            return _reply(start_response, "400 Bad Request", "This link is not valid",
                          "<p>The unsubscribe link is damaged or was not made by us. "
                          "Nothing was changed.</p>")
        list_id, address = found
        stream = self.lists[list_id]
        if method == "POST":
            with open_ledger(self.state, self.clock()) as ledger:
                ledger.suppress(address, (stream,), "unsubscribed")
            return _reply(start_response, "200 OK", "You are unsubscribed",
                          f"<p>{escape(address)} will get no more {_what(stream)}.</p>")
        if method not in ("GET", "HEAD"):
            return _reply(start_response, "405 Method Not Allowed", "Not allowed", "")
        form = (f'<p>Stop sending {_what(stream)} to {escape(address)}?</p>'
                f'<form method="post" action="/unsubscribe?token={escape(token)}">'
                f'<button type="submit">Unsubscribe</button></form>')
        return _reply(start_response, "200 OK", "Unsubscribe", form)

    @staticmethod
    def _token(environ: dict[str, Any], method: str) -> str:
        query = parse_qs(str(environ.get("QUERY_STRING", "")))
        token: str = (query.get("token") or [""])[0]
        if not token and method == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(min(length, 10_000)).decode("utf-8", "replace")
            token = (parse_qs(body).get("token") or [""])[0]
        return token


def _what(stream: Stream) -> str:
    return "email digests" if stream == "digest" else "breaking-news alerts"


def _reply(start_response: StartResponse, status: str, title: str, body: str) -> list[bytes]:
    data = _PAGE.format(title=escape(title), body=body).encode("utf-8")
    start_response(status, [("Content-Type", "text/html; charset=utf-8"),
                            ("Content-Length", str(len(data))),
                            ("Cache-Control", "no-store")])
    return [data]
