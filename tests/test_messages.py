"""Messages made by substitution decode to exactly the personalised bodies."""

from __future__ import annotations

import binascii
import email
import email.policy
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import NOW, SAMPLE_CONFIG
from feedpress.config import load
from feedpress.feeds import load as load_posts
from feedpress.mail import Subscriber, select
from feedpress.mail.bodies import Body, Renderer, alert_body, digest_body, personalise
from feedpress.mail.messages import MessageMaker, Recipient, Stream

NAMES = ["Ana", "عمر حداد " * 12, "O'Brien & <Sons>", "", "x" * 200, "é" * 100]


def sample_bodies() -> list[tuple[Body, Stream]]:
    config = load(SAMPLE_CONFIG)
    posts = load_posts(config, NOW).published
    window = select.Window(NOW - config.email.digest.first_window, NOW)
    renderer = Renderer(config)
    digest = digest_body(config, renderer, select.in_window(posts, window),
                         Subscriber("a@example.org", "A").choice)
    assert digest is not None
    alert = alert_body(config, renderer, next(p for p in posts if p.breaking))
    return [(digest, "digest"), (alert, "alerts")]


@pytest.mark.parametrize("name", NAMES)
def test_parts_decode_to_the_personalised_bodies(name: str) -> None:
    config = load(SAMPLE_CONFIG)
    for body, stream in sample_bodies():
        maker = MessageMaker(config.email, config.site.title, body, stream, NOW, b"key")
        recipient = Recipient("reader.with.a.long.address@example.org", name.strip())
        _, raw = maker.make(recipient)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        text = message.get_body(("plain",)).get_content().replace("\r\n", "\n")
        html = message.get_body(("html",)).get_content().replace("\r\n", "\n")
        expected = personalise(body, recipient.name, recipient.email,
                               maker.unsubscribe_url(recipient.email))
        assert (text, html) == expected, stream


def test_no_encoded_line_is_longer_than_quoted_printable_allows() -> None:
    config = load(SAMPLE_CONFIG)
    for body, stream in sample_bodies():
        maker = MessageMaker(config.email, config.site.title, body, stream, NOW, b"key")
        for name in NAMES:
            _, raw = maker.make(Recipient("r@example.org", name.strip()))
            lines = raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n")
            assert max(len(line) for line in lines) <= 76, (stream, name)
            assert b"\n" not in raw.replace(b"\r\n", b""), "bare LF in a message"


def test_sample_previews_are_written_for_the_cli(tmp_path: Path) -> None:
    """The .eml of a preview parses, and its HTML part is the .html file, byte for byte."""
    from feedpress.mail import preview

    config = load(SAMPLE_CONFIG)
    done = preview(config, "digest", tmp_path / "a" / "b", NOW)
    assert done is not None
    eml = email.message_from_bytes((tmp_path / "a/b/digest.eml").read_bytes(),
                                   policy=email.policy.default)
    html = eml.get_body(("html",)).get_content().replace("\r\n", "\n")
    assert html == (tmp_path / "a/b/digest.html").read_text("utf-8")


# Quoted-printable: a value is left as it is only where binascii would leave it so.
_QP_ALPHABET = "".join(map(chr, range(32, 127))) + "\t=. éж"


@given(st.text(alphabet=_QP_ALPHABET, max_size=90))
@settings(max_examples=600, deadline=None)
def test_a_value_left_unencoded_is_one_binascii_leaves_unencoded(text: str) -> None:
    from feedpress.mail.messages import _qp

    encoded = _qp(text)
    if encoded == text:
        assert binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii") == text
    decoded = binascii.a2b_qp(encoded.replace("\r\n", "\n").encode("ascii")).decode("utf-8")
    assert decoded == text
    assert all(len(line) <= 76 for line in encoded.split("\r\n"))


@pytest.mark.parametrize("text", ["", "Reader Number 1", "reader1@example.org",
                                  "https://news.example.org/unsubscribe/abc.def", "x" * 69])
def test_plain_values_are_left_as_they_are(text: str) -> None:
    from feedpress.mail.messages import _qp

    assert _qp(text) == text


@pytest.mark.parametrize("text", [".", "a=b", "trailing ", "tab\there", "x" * 70, "x" * 80,
                                  "café"])
def test_other_values_are_encoded_as_binascii_encodes_them(text: str) -> None:
    from feedpress.mail.messages import _qp

    encoded = binascii.b2a_qp(text.encode("utf-8"), istext=True).decode("ascii")
    assert _qp(text) == encoded.replace("\n", "\r\n")
