"""Real SMTP servers on loopback for the sending tests, built on aiosmtpd.

`Mailbox` is an aiosmtpd handler that keeps every accepted message and can
misbehave on purpose: answer 451 or 550 to chosen recipients, drop the
connection after some messages, or take its time over each one. `serve`
runs it on 127.0.0.1 on a free port (optionally with STARTTLS, implicit
TLS and AUTH) for the length of a `with` block. `make_certificates`
writes a throwaway CA and a server certificate for 127.0.0.1 and localhost,
made at test time: no key is ever committed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

USERNAME = "feedpress-user"
PASSWORD = "s3cret-password"


@dataclass(frozen=True)
class Received:
    """One message the server accepted, with how it came in."""

    mail_from: str
    recipient: str
    data: bytes
    tls: bool
    login: str | None

    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


@dataclass
class Mailbox:
    """An aiosmtpd handler: accepts mail, or fails the ways a real relay fails.

    `temporary` recipients get 451 on RCPT (forever, or for their first
    `temporary_times` tries); `permanent` ones get 550. With `drop_after`,
    each connection is cut, without an answer, when the client sends the
    data of its (drop_after + 1)th message, which is therefore not accepted.
    With `lose_reply_every`, every Nth message (counted over all connections) is
    accepted and kept, and then the connection is cut before the reply: the client cannot
    know it was delivered. `refuse_all` answers every RCPT with that reply; `refuse_data`
    answers the end of DATA for a message to one of its recipients with its reply.
    `delay` is slept before each message is accepted; `hide_auth` leaves AUTH out of the
    EHLO reply; `pipelining` offers PIPELINING (RFC 2920), which aiosmtpd serves as it
    reads commands one line at a time anyway. `on_accept` is called
    after each acceptance, from the server's thread.
    """

    temporary: set[str] = field(default_factory=set)
    temporary_times: int | None = None
    permanent: set[str] = field(default_factory=set)
    drop_after: int | None = None
    lose_reply_every: int | None = None
    refuse_all: str | None = None
    refuse_data: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    hide_auth: bool = False
    pipelining: bool = False
    on_accept: Callable[[int], None] | None = None
    received: list[Received] = field(default_factory=list)
    rcpt_tries: Counter[str] = field(default_factory=Counter)
    drops: int = 0
    connections: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _per_session: dict[int, int] = field(default_factory=dict)

    async def handle_EHLO(self, server: Any, session: Any, envelope: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        session.host_name = hostname
        with self._lock:
            if id(session) not in self._per_session:
                self._per_session[id(session)] = 0
                self.connections += 1
        if self.hide_auth:
            responses = [r for r in responses if not r.startswith("250-AUTH")]
        if self.pipelining:
            responses = [*responses[:-1], "250-PIPELINING", responses[-1]]
        return responses

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        key = address.lower()
        with self._lock:
            self.rcpt_tries[key] += 1
            tries = self.rcpt_tries[key]
        if self.refuse_all is not None:
            return self.refuse_all
        if key in self.permanent:
            return f"550 5.1.1 <{address}>: no such user here"
        if key in self.temporary and (self.temporary_times is None
                                      or tries <= self.temporary_times):
            return "451 4.3.0 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            done = self._per_session.get(id(session), 0)
            if self.drop_after is not None and done >= self.drop_after:
                self.drops += 1
                drop = True
            else:
                drop = False
        if drop:
            server.transport.abort()
            return "421 4.4.2 connection dropped"  # never reaches the client
        for recipient in envelope.rcpt_tos:
            if recipient.lower() in self.refuse_data:
                return self.refuse_data[recipient.lower()]
        if self.delay:
            await asyncio.sleep(self.delay)
        tls = server.transport.get_extra_info("ssl_object") is not None
        login = session.auth_data.login.decode() if session.authenticated else None
        with self._lock:
            self._per_session[id(session)] = done + 1
            for recipient in envelope.rcpt_tos:
                self.received.append(Received(envelope.mail_from, recipient.lower(),
                                              bytes(envelope.content), tls, login))
            count = len(self.received)
            lose = bool(self.lose_reply_every) and count % self.lose_reply_every == 0
            if lose:
                self.drops += 1
        if self.on_accept is not None:
            self.on_accept(count)
        if lose:  # kept, but the client never hears so
            server.transport.abort()
        return "250 2.0.0 accepted"

    # -- reading what came in ----------------------------------------------------------------

    def copies(self) -> Counter[str]:
        with self._lock:
            return Counter(r.recipient for r in self.received)

    def snapshot(self) -> list[Received]:
        with self._lock:
            return list(self.received)


class _LoopbackController(Controller):
    """A Controller that binds port 0 and learns the port the kernel chose."""

    def _trigger_server(self) -> None:
        server: Any = self.server  # an asyncio.Server, which has sockets
        self.port = server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


def _authenticator(password: str) -> Callable[..., AuthResult]:
    def check(server: Any, session: Any, envelope: Any, mechanism: str,
              auth_data: Any) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USERNAME.encode()
              and auth_data.password == password.encode())
        return AuthResult(success=ok, auth_data=auth_data if ok else None)

    return check


@contextmanager
def serve(handler: Mailbox, *, tls: ssl.SSLContext | None = None, implicit_tls: bool = False,
          auth: bool = False, require_tls: bool = True,
          password: str = PASSWORD) -> Iterator[int]:
    """Run `handler` on 127.0.0.1; yields the port.

    With `tls`: STARTTLS (required when `require_tls`), or TLS from the first
    byte when `implicit_tls` (aiosmtpd only sees STARTTLS as TLS, so then AUTH is
    offered without its TLS check). With `auth`: AUTH PLAIN/LOGIN with USERNAME and
    `password` (UTF-8), and no mail accepted without it.
    """
    options: dict[str, Any] = {"server_hostname": "mx.test", "ready_timeout": 5.0}
    if tls is not None and implicit_tls:
        options["ssl_context"] = tls
    elif tls is not None:
        options.update(tls_context=tls, require_starttls=require_tls)
    if auth:
        options.update(authenticator=_authenticator(password), auth_required=True,
                       auth_require_tls=tls is not None and not implicit_tls)
    controller = _LoopbackController(handler, hostname="127.0.0.1", port=0, **options)
    controller.start()
    try:
        yield controller.port
    finally:
        controller.stop()


# -- certificates ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificates:
    ca_file: Path  # the CA's certificate, for email.smtp.ca_file
    server_cert: Path
    server_key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.server_cert, self.server_key)
        return context


def make_certificates(folder: Path, name: str = "Feedpress Test CA") -> Certificates:
    """A fresh CA and a server certificate for 127.0.0.1 and localhost, signed by it."""
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name).issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
                       critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    found = Certificates(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    found.ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    found.server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    found.server_key.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    found.server_key.chmod(0o600)
    return found
