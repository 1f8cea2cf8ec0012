"""DKIM signatures verify, cover the one-click unsubscribe headers, and break when tampered."""

from __future__ import annotations

import base64
from pathlib import Path

import dkim
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from conftest import NOW, SAMPLE_CONFIG
from feedpress.config import load
from feedpress.feeds import load as load_posts
from feedpress.mail import Subscriber, select
from feedpress.mail.bodies import Renderer, digest_body
from feedpress.mail.campaign import signer
from feedpress.mail.messages import MessageMaker, Recipient, Signer


def key_pair() -> tuple[bytes, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}"


@pytest.fixture(scope="module")
def signed() -> tuple[bytes, str]:
    private, record = key_pair()
    config = load(SAMPLE_CONFIG)
    window = select.Window(NOW - config.email.digest.first_window, NOW)
    posts = select.in_window(load_posts(config, NOW).published, window)
    body = digest_body(config, Renderer(config), posts, Subscriber("a@example.org", "A").choice)
    assert body is not None
    maker = MessageMaker(config.email, config.site.title, body, "digest", NOW, b"key",
                         Signer("mail2026", "news.example.org", private))
    return maker.make(Recipient("reader@example.org", "Reader"))[1], record


def verify(message: bytes, record: str) -> bool:
    def dns(name: bytes, timeout: int = 5) -> bytes:
        assert name == b"mail2026._domainkey.news.example.org."
        return record.encode()

    return bool(dkim.verify(message, dnsfunc=dns))


def test_a_signed_message_verifies(signed: tuple[bytes, str]) -> None:
    message, record = signed
    assert message.startswith(b"DKIM-Signature:")
    assert verify(message, record)


def test_the_unsubscribe_headers_are_signed(signed: tuple[bytes, str]) -> None:
    message, _ = signed
    header = message.split(b"\r\n\r\n", 1)[0].replace(b"\r\n ", b" ").replace(b"\r\n\t", b" ")
    signed_names = header.split(b" h=", 1)[1].split(b";", 1)[0].replace(b" ", b"").lower()
    for name in (b"list-unsubscribe", b"list-unsubscribe-post", b"from", b"subject"):
        assert name in signed_names.split(b":"), name


@pytest.mark.parametrize(("old", "new"), [
    (b"List-Unsubscribe-Post: List-Unsubscribe=One-Click", b"List-Unsubscribe-Post: nothing"),
    (b"Subject: ", b"Subject: Re: "),
    (b"Hello Reader", b"Hello Mallory"),
])
def test_tampering_breaks_the_signature(signed: tuple[bytes, str], old: bytes,
                                        new: bytes) -> None:
    message, record = signed
    assert old in message
    assert not verify(message.replace(old, new, 1), record)


def test_the_key_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    from conftest import BASE_CONFIG, Project

    project = Project(tmp_path)
    project.write_config({**BASE_CONFIG, "email": {
        "dkim": {"selector": "mail2026", "key_env": "TEST_DKIM_KEY"}}})
    config = project.config()
    monkeypatch.delenv("TEST_DKIM_KEY", raising=False)
    from feedpress.errors import FeedpressError

    with pytest.raises(FeedpressError, match="TEST_DKIM_KEY"):
        signer(config)
    private, _ = key_pair()
    monkeypatch.setenv("TEST_DKIM_KEY", private.decode())
    found = signer(config)
    assert found is not None and found.domain == b"news.example.org"
