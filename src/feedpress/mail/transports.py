"""Where messages go: an SMTP server (over one or more connections) or a Maildir.

A transport only delivers and says what happened; retrying, recording and
deciding when to stop belong to `delivery`. Each outcome is one of:
accepted; `TemporaryFailure` (4xx, a connection not made or lost before
the message went: worth another try); `PermanentFailure` (this mailbox
will not take mail: it bounces); `RefusedFailure` (the server refuses us,
not one mailbox: the run stops and nobody is suppressed); or
`AmbiguousFailure` (the message went, and no reply came: it may have been
delivered). SMTP replies are told apart by their enhanced status code
(RFC 3463), not by their first digit alone: see `classify`.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import mailbox
import os
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from feedpress.errors import FeedpressError
from feedpress.mailsettings import SmtpSettings

Stage = Literal["sender", "recipient", "message"]


class TemporaryFailure(Exception):
    """Worth trying again: a 4xx reply, or a connection not made or lost before the message
    was sent. `now` False: not within this run (a full mailbox), only in a later one."""

    def __init__(self, message: str, *, now: bool = True) -> None:
        super().__init__(message)
        self.now = now


class PermanentFailure(Exception):
    """This mailbox will not take mail (5.1.x, 5.2.1, or a plain 550, 551, 553): it bounced."""


class RefusedFailure(Exception):
    """The server refuses us, not one mailbox: a policy, relay, authentication, spam, size
    or syntax refusal. Every other address would meet it too, unless it refused one
    message (`stage` "message") that others of the same run got through."""

    def __init__(self, message: str, stage: Stage) -> None:
        super().__init__(message)
        self.stage = stage


class AmbiguousFailure(Exception):
    """The message was sent but no reply came (the connection broke, or timed out): the
    server may have accepted it."""


# A class-5 enhanced code at the start of a reply line, or in qmail's "(#5.7.1)".
_ENHANCED = re.compile(r"(?:^|\n|\(#)\s*5\.(\d{1,3})\.(\d{1,3})(?![\d.])")
# The 5.1.x codes that say the recipient's address is bad (RFC 3463, and 5.1.10 null MX,
# RFC 7505). The others are about the sender or a limit: 5.1.0 (Postfix's "Sender address
# rejected"), 5.1.7 and 5.1.8 (the sender's address), Exchange's 5.1.90 (a daily limit).
_BAD_ADDRESS = frozenset({1, 2, 3, 4, 5, 6, 10})
_OTHER_CLASS = re.compile(r"(?:^|\n|\(#)\s*[24]\.\d{1,3}\.\d{1,3}(?![\d.])")
# A plain 550 that speaks of the sender, the relay or spam is not about the mailbox.
_NOT_THE_MAILBOX = re.compile(r"relay|polic|spam|block|auth|denied|blacklist|rcpthosts|"
                              r"quota|rate|limit|exceed|sender|too many", re.IGNORECASE)


def classify(code: int, text: str, stage: Stage) -> Exception:
    """What an SMTP refusal at `stage` (MAIL, RCPT, or the end of DATA) means for the run.

    A 4xx is temporary. A 5xx bounces the address only where it is about
    that mailbox and permanent: at RCPT, with an enhanced code that says the
    address is bad (5.1.1 to 5.1.6, 5.1.10) or 5.2.1 (mailbox disabled), or a
    plain 550, 551 or 553 with no enhanced code and no word of relaying,
    policy, spam, authentication, the sender, a quota or a rate. Other mailbox
    troubles (5.2.x: full, too big for it; 5.4.x: routing) are left for a
    later run. Everything else (5.7.x policy, relay and authentication,
    5.3.x system, 5.5.x protocol, 554 with no code, and any refusal of the
    sender or the message) refuses the run, not the address. Where a reply
    of several lines carries several codes (or qmail's "(#5.7.1)"), the one
    that spares the address wins.
    """
    reply = " ".join(f"{code} {text}".split())
    if 400 <= code < 500:
        return TemporaryFailure(reply)
    if stage != "recipient":
        return RefusedFailure(f"the mail server refused the {stage}: {reply}", stage)
    codes = [(int(s), int(d)) for s, d in _ENHANCED.findall(text)]
    if not codes and _OTHER_CLASS.search(text):  # "550 4.1.1": which to believe? Not a bounce
        return TemporaryFailure(reply, now=False)
    if any(subject not in (1, 2, 4) or (subject == 1 and detail not in _BAD_ADDRESS)
           for subject, detail in codes) or (
            not codes and (code not in (550, 551, 553) or _NOT_THE_MAILBOX.search(text))):
        return RefusedFailure(f"the mail server refused a recipient: {reply}", stage)
    if any(subject in (2, 4) and (subject, detail) != (2, 1) for subject, detail in codes):
        return TemporaryFailure(reply, now=False)
    return PermanentFailure(reply)


class Connection(Protocol):
    def deliver(self, sender: str, recipient: str, message: bytes) -> None: ...
    def close(self) -> None: ...


class Transport(Protocol):
    connections: int

    def connect(self) -> Connection: ...


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str


class MaildirTransport:
    """Writes each message into a Maildir folder (tmp/ then new/), which any mail client opens."""

    connections = 1

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def connect(self) -> Connection:
        try:
            return _MaildirConnection(mailbox.Maildir(self.folder, create=True))
        except OSError as exc:
            raise FeedpressError(f"{self.folder}: cannot open the Maildir: {exc}") from None


class _MaildirConnection:
    def __init__(self, box: mailbox.Maildir) -> None:
        self.box = box

    def deliver(self, sender: str, recipient: str, message: bytes) -> None:
        try:
            self.box.add(message)
        except OSError as exc:
            raise TemporaryFailure(f"cannot write to the Maildir: {exc}") from None

    def close(self) -> None:
        self.box.close()


class SmtpTransport:
    """An SMTP server, with TLS certificates always verified."""

    def __init__(self, settings: SmtpSettings, credentials: Credentials | None) -> None:
        self.settings = settings
        self.credentials = credentials
        self.connections = settings.connections
        self.context = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None)

    def connect(self) -> Connection:
        s = self.settings
        try:
            if s.security == "ssl":
                client: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout,
                                                        context=self.context)
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
                if s.security == "starttls":
                    client.starttls(context=self.context)
        except ssl.SSLCertVerificationError as exc:
            raise FeedpressError(f"{s.host}:{s.port}: the server's certificate does not "
                                 f"verify ({exc.verify_message}); set email.smtp.ca_file "
                                 "to trust its CA") from None
        except smtplib.SMTPNotSupportedError:
            raise FeedpressError(f"{s.host}:{s.port} does not offer STARTTLS; set "
                                 "email.smtp.security") from None
        except UnicodeError:
            raise FeedpressError(f"email.smtp.host: {s.host!r} is not a valid host "
                                 "name") from None
        except (OSError, smtplib.SMTPException) as exc:
            if isinstance(exc, TimeoutError) or str(exc).endswith("timed out"):
                raise TemporaryFailure(f"{s.host}:{s.port} did not answer within {s.timeout:g} s "
                                       "(email.smtp.timeout)") from None
            raise TemporaryFailure(f"cannot connect to {s.host}:{s.port}: {exc}") from None
        if self.credentials is not None:
            self._login(client)
        return _SmtpConnection(client)

    def _login(self, client: smtplib.SMTP) -> None:
        s, c = self.settings, self.credentials
        assert c is not None
        try:
            if (c.username + c.password).isascii():
                client.login(c.username, c.password)
            else:  # smtplib encodes AUTH as ASCII; RFC 4616 PLAIN is UTF-8
                client.ehlo_or_helo_if_needed()
                plain = b"\0" + c.username.encode() + b"\0" + c.password.encode()
                code, reply = client.docmd("AUTH", "PLAIN " + base64.b64encode(plain).decode())
                if code != 235:
                    raise smtplib.SMTPAuthenticationError(code, reply)
        except smtplib.SMTPAuthenticationError as exc:
            raise FeedpressError(f"{s.host}:{s.port}: login refused: "
                                 f"{exc.smtp_code} {_text(exc.smtp_error)}") from None
        except smtplib.SMTPNotSupportedError:
            raise FeedpressError(f"{s.host}:{s.port} offers no AUTH, but {s.username_env} "
                                 f"and {s.password_env} are set; unset them") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryFailure(f"cannot log in to {s.host}:{s.port}: {exc}") from None


class _SmtpConnection:
    def __init__(self, client: smtplib.SMTP) -> None:
        self.client = client

    def deliver(self, sender: str, recipient: str, message: bytes) -> None:
        """Only a refused recipient (RCPT) can bounce an address; a refused sender or message
        would refuse every address alike (see `classify`)."""
        try:
            _transaction(self.client, sender, recipient, message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise classify(code, _raw(text), "recipient") from None
        except smtplib.SMTPSenderRefused as exc:
            raise classify(exc.smtp_code, _raw(exc.smtp_error), "sender") from None
        except smtplib.SMTPResponseException as exc:
            raise classify(exc.smtp_code, _raw(exc.smtp_error), "message") from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TemporaryFailure(f"connection lost: {exc}") from None

    def close(self) -> None:
        try:
            self.client.quit()
        except (OSError, smtplib.SMTPException):
            self.client.close()


def _transaction(client: smtplib.SMTP, sender: str, recipient: str, message: bytes) -> None:
    """MAIL, RCPT and DATA for one recipient; raises what smtplib's `sendmail` raises.

    Unlike `sendmail`, it pipelines the three commands where the server
    offers PIPELINING (RFC 2920), which spares two round trips a message,
    and it prepares the data with two byte replacements instead of
    regular expressions over the whole message. `sender` and `recipient`
    are ASCII addresses, checked when the subscriber list was read.
    """
    client.ehlo_or_helo_if_needed()
    size = f" SIZE={len(message)}" if client.has_extn("size") else ""
    commands = [f"MAIL FROM:<{sender}>{size}", f"RCPT TO:<{recipient}>", "DATA"]
    if client.has_extn("pipelining"):
        client.send("".join(f"{command}\r\n" for command in commands))
        replies = [client.getreply() for _ in commands]
    else:
        replies = []
        for command, wanted in zip(commands, (250, 250, 354), strict=True):
            client.putcmd(command)
            replies.append(client.getreply())
            if replies[-1][0] != wanted and replies[-1][0] != 251:
                break
    _refused(client, sender, recipient, replies)
    client.send(_data(message))  # if this fails, the final dot never went: not delivered
    try:
        code, text = client.getreply()
    except (OSError, smtplib.SMTPException) as exc:
        raise AmbiguousFailure(f"no reply after the message was sent ({exc}): it may have "
                               "been delivered") from None
    if code != 250:
        _abandon(client, code)
        raise smtplib.SMTPDataError(code, text)


def _refused(client: smtplib.SMTP, sender: str, recipient: str,
             replies: list[tuple[int, bytes]]) -> None:
    """Raise, as `sendmail` would, if MAIL, RCPT or DATA was refused; clean up first."""
    codes = [code for code, _ in replies]
    if codes[:1] == [250] and codes[1:2] in ([250], [251]) and codes[2:] == [354]:
        return
    if 354 in codes:  # a pipelined DATA can be accepted after a refused RCPT: end it empty
        client.send(b".\r\n")
        client.getreply()
    _abandon(client, 421 if 421 in codes else 0)
    if codes[0] != 250:
        raise smtplib.SMTPSenderRefused(*replies[0], sender)
    if codes[1] not in (250, 251):
        raise smtplib.SMTPRecipientsRefused({recipient: replies[1]})
    raise smtplib.SMTPDataError(*replies[2])


def _abandon(client: smtplib.SMTP, code: int) -> None:
    """After a refusal: hang up if the server is closing (421), otherwise reset."""
    if code == 421:
        client.close()
        return
    with contextlib.suppress(smtplib.SMTPServerDisconnected):
        client.rset()


def _data(message: bytes) -> bytes:
    """`message` as DATA carries it: CRLF line ends, a leading dot doubled, the final dot."""
    if message.count(b"\n") != message.count(b"\r\n") or \
            message.count(b"\r") != message.count(b"\r\n"):
        lines = message.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        message = b"\r\n".join(lines)
    if not message.endswith(b"\r\n"):
        message += b"\r\n"
    if message.startswith(b"."):
        message = b"." + message
    return message.replace(b"\r\n.", b"\r\n..") + b".\r\n"


def _raw(text: bytes | str) -> str:
    """A reply's text as the server sent it, its lines kept."""
    return text.decode(errors="replace") if isinstance(text, bytes) else text


def _text(text: bytes | str) -> str:
    """A reply's text, on one line."""
    decoded = text.decode(errors="replace") if isinstance(text, bytes) else text
    return " ".join(decoded.split())


def credentials(settings: SmtpSettings) -> Credentials | None:
    """SMTP login from the environment variables the config names, or None for no AUTH."""
    username = os.environ.get(settings.username_env)
    password = os.environ.get(settings.password_env)
    if not username and not password:
        return None
    if not (username and password):
        raise FeedpressError(f"set both {settings.username_env} and {settings.password_env}, "
                             "or neither")
    if settings.security == "none" and not is_loopback(settings.host):
        raise FeedpressError(
            f"refusing to send the SMTP password unencrypted to {settings.host}; set "
            "email.smtp.security to starttls or ssl (plain is allowed only to loopback)")
    return Credentials(username, password)


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1, or a name that resolves only to those."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)
