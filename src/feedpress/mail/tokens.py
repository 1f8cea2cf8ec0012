"""Unsubscribe tokens: the address and the list, signed with a secret.

A token is `<payload>.<signature>`, both URL-safe base64: the payload is
"list-id address", the signature its HMAC-SHA256 under the secret that the
config names by environment variable. The endpoint recovers the address
from the payload and checks the signature in constant time, so no token
database is needed and a tampered token is refused.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from hashlib import sha256


def make(secret: bytes, address: str, list_id: str) -> str:
    payload = f"{list_id} {address.lower()}".encode()
    return f"{_b64(payload)}.{_b64(_sign(secret, payload))}"


def verify(secret: bytes, token: str) -> tuple[str, str] | None:
    """(list id, address) when `token` was made with `secret`, else None."""
    encoded, _, signature = token.partition(".")
    try:
        payload = _unb64(encoded)
        given = _unb64(signature)
    except (binascii.Error, ValueError):
        return None
    if not hmac.compare_digest(given, _sign(secret, payload)):
        return None
    list_id, _, address = payload.decode("utf-8", "replace").partition(" ")
    return (list_id, address) if address else None


def _sign(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, payload, sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
