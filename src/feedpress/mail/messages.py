"""Whole email messages, as bytes ready for SMTP or a Maildir.

Each message is `multipart/alternative` with the text part first and the
HTML second, both UTF-8 in quoted-printable. The parts and most headers
are the same for every subscriber of a body; only To, Message-ID, the
unsubscribe headers and the personalised parts are made per message, so a
list of 100,000 costs string work, not 100,000 runs of the email package.

Header injection is impossible by construction: every value that goes
into a header has CR and LF replaced by spaces, and non-ASCII text is
RFC 2047-encoded by the standard library. Bodies come in rendered
(`bodies`); nothing here renders a template or sends.
"""

from __future__ import annotations

import binascii
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from email.header import Header
from email.utils import format_datetime, formataddr
from html import escape
from urllib.parse import quote

from feedpress.mail import tokens
from feedpress.mail.bodies import PLACEHOLDER, Body, fill_line, values
from feedpress.mail.select import Stream
from feedpress.mailsettings import EmailSettings
from feedpress.words import primary

URGENT = ("X-Priority: 1", "Importance: High", "Priority: urgent")
_HOLES = re.compile(f"({PLACEHOLDER.pattern})")
_LINE_HOLES = re.compile(f"^(.*(?:{PLACEHOLDER.pattern}).*)$", re.MULTILINE)


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str


class MessageMaker:
    """Makes the messages of one body for any number of recipients."""

    def __init__(self, settings: EmailSettings, site_title: str, body: Body, stream: Stream,
                 now: datetime, secret: bytes, signer: Signer | None = None) -> None:
        self.signer = signer
        self.settings = settings
        self.body = body
        self.stream = stream
        self.secret = secret
        self.list_id = settings.list_id if stream == "digest" else settings.alert_list_id
        self._mailto_subject = quote(f"unsubscribe {self.list_id} ")
        self._text = _EncodedPart(body.text, html=False)
        self._html = _EncodedPart(body.html, html=True)
        label = site_title if stream == "digest" else f"{site_title} alerts"
        self._common = [
            f"From: {_address('From', settings.sender_name, settings.sender_address)}",
            f"Subject: {_encode('Subject', body.subject)}",
            f"Date: {format_datetime(now)}",
            f"List-Id: {_encode('List-Id', label)} <{self.list_id}>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
            *(URGENT if stream == "alerts" else ()),
            "MIME-Version: 1.0",
        ]

    def unsubscribe_url(self, email: str) -> str:
        """The subscriber's link, with `{lang}` (if the URL has it) the message's language,
        so that the page opens in it. A token is URL-safe base64 and a dot, a language
        tag letters: nothing needs quoting."""
        return self.settings.unsubscribe_url.replace(
            "{token}", tokens.make(self.secret, email, self.list_id)).replace(
            "{lang}", primary(self.body.language))

    def message_id(self, nonce: str, email: str) -> str:
        """The Message-ID of the campaign with `nonce` for `email`: the same every time the
        message is made, so that a copy sent again (after an ambiguous delivery, or a kill
        in mid-send) carries the Message-ID that receivers deduplicate by."""
        digest = hashlib.sha256(f"{nonce}\0{email.lower()}".encode()).hexdigest()[:32]
        return f"<{digest}@{self.settings.domain}>"

    def make(self, recipient: Recipient, message_id: str | None = None) -> tuple[str, bytes]:
        """The Message-ID and the bytes of the message for `recipient`.

        Joined once, as bytes: the parts' static text was encoded when the
        maker was made, and a message is mostly that text.
        """
        url = self.unsubscribe_url(recipient.email)
        found = values(recipient.name, recipient.email, url)
        if message_id is None:  # a message no campaign records: 128 random bits
            message_id = f"<{secrets.token_hex(16)}@{self.settings.domain}>"
        boundary = f"=_feedpress_{secrets.token_hex(12)}"
        head = "\r\n".join([
            *self._common,
            f"To: {_address('To', recipient.name, recipient.email)}",
            f"Message-ID: {message_id}",
            f"List-Unsubscribe: {self._list_unsubscribe(url, recipient.email)}",
            f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"',
            "", "This is a message in MIME format.", "",
        ])
        line = f"--{boundary}\r\n".encode("ascii")
        pieces = [head.encode("ascii"), line, _TEXT_HEAD]
        self._text.fill_into(pieces, found)
        pieces += (b"\r\n", line, _HTML_HEAD)
        self._html.fill_into(pieces, found)
        pieces.append(f"\r\n--{boundary}--\r\n".encode("ascii"))
        message = b"".join(pieces)
        return message_id, self.signer.sign(message) if self.signer else message

    def _list_unsubscribe(self, url: str, email: str) -> str:
        links = [f"<{url}>"]
        if self.settings.unsubscribe_mailto:
            subject = self._mailto_subject + quote(email, safe="@")
            links.append(f"<mailto:{self.settings.unsubscribe_mailto}?subject={subject}>")
        return ",\r\n ".join(links)  # folded between links: a URL itself cannot be


SIGNED_HEADERS = (b"From", b"To", b"Subject", b"Date", b"Message-ID", b"List-Id",
                  b"List-Unsubscribe", b"List-Unsubscribe-Post", b"MIME-Version",
                  b"Content-Type")


class Signer:
    """DKIM signatures (dkimpy) over the headers RFC 8058 needs signed for one-click."""

    def __init__(self, selector: str, domain: str, key: bytes) -> None:
        """Raises `ValueError` if `key` is not a private key dkimpy can sign with: found
        here, once, not in the middle of a send."""
        import dkim

        self._dkim = dkim
        self.selector = selector.encode()
        self.domain = domain.encode()
        self.key = key
        try:
            self.sign(b"From: a@example.org\r\nSubject: key check\r\n\r\nkey check\r\n")
        except dkim.DKIMException as exc:
            raise ValueError(str(exc).splitlines()[0]) from None

    def sign(self, message: bytes) -> bytes:
        signature: bytes = self._dkim.sign(message, self.selector, self.domain, self.key,
                                           include_headers=list(SIGNED_HEADERS))
        return signature + message


_PART_HEAD = ("Content-Type: {}; charset=utf-8\r\n"
              "Content-Transfer-Encoding: quoted-printable\r\n\r\n")
_TEXT_HEAD = _PART_HEAD.format("text/plain").encode("ascii")
_HTML_HEAD = _PART_HEAD.format("text/html").encode("ascii")
_SOFT_BREAK = "=\r\n"


class _EncodedPart:
    """A body part, quoted-printable encoded once, with holes for the subscriber's details.

    The static text is encoded when the maker is made; per message only the
    holes are. In the HTML a hole is a placeholder, set between soft line
    breaks (`=` at the end of a line, which decoders drop) so that no line
    grows past quoted-printable's 76 characters. In the text a hole is a
    whole line, wrapped again at 72 columns if the filled-in value made it
    long.
    """

    def __init__(self, content: str, *, html: bool) -> None:
        self.html = html
        content = content.replace("\r\n", "\n")
        pieces = (_HOLES if html else _LINE_HOLES).split(content)
        self.static = [_qp(p).encode("ascii") for p in pieces[0::2]]  # one more than holes
        self.holes = pieces[1::2]  # placeholders (HTML) or the lines holding them (text)

    def fill_into(self, pieces: list[bytes], found: dict[str, str]) -> None:
        """The encoded part with `found`'s values in its holes, appended to `pieces`."""
        pieces.append(self.static[0])
        for hole, static in zip(self.holes, self.static[1:], strict=True):
            pieces += (self._filled(hole, found), static)

    def _filled(self, hole: str, found: dict[str, str]) -> bytes:
        if self.html:
            return f"{_SOFT_BREAK}{_qp(escape(found[hole]))}{_SOFT_BREAK}".encode("ascii")
        return _qp(fill_line(hole, found)).encode("ascii")


def _qp(text: str) -> str:
    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii")
    head, newline, last = encoded.rpartition("\n")
    if len(last) >= 76:  # leave room for the soft break that may follow
        cut = 70
        while "=" in last[cut - 2 : cut]:
            cut -= 1
        last = last[:cut] + "=\n" + last[cut:]
    return (head + newline + last).replace("\n", "\r\n")


def one_line(text: str) -> str:
    """Header text on one line: CR and LF become spaces, so no header can be added."""
    return " ".join(text.replace("\r", " ").replace("\n", " ").split())


MAX_LINE = 78  # RFC 5322's recommended limit for a header line (998 is the hard one)


def _encode(field: str, text: str) -> str:
    """Header `field`'s unstructured value for `text`, folded to lines of 78 characters at
    most: printable ASCII at its spaces, anything else as RFC 2047 encoded words."""
    value = one_line(text)
    # Printable ASCII folds at its spaces; a word too long for a line must be encoded words,
    # which may be cut anywhere.
    plain = value.isascii() and value.isprintable() and max(map(len, value.split()),
                                                           default=0) < MAX_LINE - 20
    if plain and len(field) + 2 + len(value) <= MAX_LINE:
        return value
    return _words(field, value, "us-ascii" if plain else "utf-8")


def _address(field: str, name: str, address: str) -> str:
    """Header `field`'s value for `name <address>`, folded to lines of 78 characters at
    most: a name that does not fit on the line is RFC 2047 encoded words (which also keep
    its commas and quotes from splitting the address list). A name that cannot be encoded
    (not text) is left out: the address alone goes."""
    address, name = one_line(address), one_line(name)
    if not name:
        return address
    try:
        if name.isprintable():
            value = formataddr((name, address), charset="utf-8")
            if len(field) + 2 + len(value) <= MAX_LINE:
                return value
        words = _words(field, name, "utf-8")
    except UnicodeError:
        return address
    last = words.rpartition("\n")[2]
    glue = " " if len(last) + 3 + len(address) <= MAX_LINE else "\r\n "
    return f"{words}{glue}<{address}>"


def _words(field: str, text: str, charset: str) -> str:
    return Header(text, charset, maxlinelen=MAX_LINE - 2, header_name=field).encode(
        linesep="\r\n")
