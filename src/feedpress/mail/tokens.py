"""Unsubscribe tokens: the address and the list, signed with a secret.

A token is `<payload>.<signature>`, both URL-safe base64: the payload is
"list-id address", the signature its HMAC-SHA256 under the secret that the
config names by environment variable. The endpoint recovers the address
from the payload and checks the signature in constant time, so no token
database is needed and a tampered token is refused. Exactly one spelling
of a token verifies, the one `make` writes: Python's base64 decoder skips
characters outside its alphabet and accepts padding, so a token with a
character changed or added after the signature would otherwise still
verify.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Sequence
from hashlib import sha256


def make(secret: bytes, address: str, list_id: str) -> str:
    payload = f"{list_id} {address.lower()}".encode()
    return f"{_b64(payload)}.{_b64(_sign(secret, payload))}"


def verify(keys: Sequence[bytes], token: str) -> tuple[str, str, int] | None:
    """(list id, address, which key) when `token` was made with one of `keys` (the
    current first, then a previous one being rotated out), else None."""
    encoded, _, signature = token.partition(".")
    try:
        payload = _unb64(encoded)
        given = _unb64(signature)
        text = payload.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    if f"{_b64(payload)}.{_b64(given)}" != token:  # not the one spelling `make` writes
        return None
    for number, key in enumerate(keys):
        if hmac.compare_digest(given, _sign(key, payload)):
            list_id, _, address = text.partition(" ")
            return (list_id, address, number) if address else None
    return None


def _sign(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, payload, sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
